/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "quarantine.h"
#include "string-util.h"
#include "ul-errno.h"

#define MAX_DEPTH 24
#define ZERO_CHECK_MAX (16u << 20)

/* ---- scanning ---- */

struct walk {
    const struct ul_volume *vol;
    const struct ul_rules *rules;
    const struct ul_rule *rule;
    uint8_t rule_index;
    char comps[MAX_DEPTH][UL_JPATH_MAX / 2];
    uint32_t ncomps;
    char path[UL_JPATH_MAX];
    struct ul_scan *out;
    bool count;                     /* count matches and find the newest */
    bool collect;                   /* keep the recent ones */
    uint64_t cutoff;
    struct ul_log *log;
};

static bool has_wild(const char *s)
{
    for (; *s; s++)
        if (*s == '*' || *s == '?')
            return true;
    return false;
}

static uint64_t newest_time(const struct ul_times *t)
{
    return t->creation > t->modification ? t->creation : t->modification;
}

static void check_content(struct walk *w, struct ul_candidate *c)
{
    uint8_t buf[4096];
    size_t got = 0;
    const struct ul_rule *r = w->rule;
    bool whole = c->size > 0 && c->size <= ZERO_CHECK_MAX;

    c->all_zero = whole;
    for (uint64_t off = 0; off < (whole ? c->size : 1); off += got) {
        if (w->vol->ops->read(w->vol->ctx, c->path, off, buf, sizeof(buf), &got) < 0 || !got) {
            c->all_zero = false;
            break;
        }
        if (off == 0) {
            c->head_len = (uint8_t)(got < sizeof(c->head) ? got : sizeof(c->head));
            ul_memcpy(c->head, buf, c->head_len);
        }
        for (size_t i = 0; i < got && c->all_zero; i++)
            c->all_zero = buf[i] == 0;
        if (!c->all_zero)
            break;
    }
    c->magic_ok = r->magic_len && c->head_len >= r->magic_len &&
                  ul_memcmp(c->head, r->magic, r->magic_len) == 0;
}

static void insert_sorted(struct ul_scan *s, const struct ul_candidate *c)
{
    uint64_t t = newest_time(&c->times);
    uint32_t pos = s->n;
    while (pos > 0 && newest_time(&s->c[pos - 1].times) < t)
        pos--;
    if (s->n == UL_SCAN_MAX) {
        s->dropped++;
        if (pos == UL_SCAN_MAX)
            return;
        s->n--;
    }
    ul_memmove(&s->c[pos + 1], &s->c[pos], (s->n - pos) * sizeof(s->c[0]));
    s->c[pos] = *c;
    s->n++;
}

static void found_file(struct walk *w, const struct ul_stat *st)
{
    if (!ul_rule_match_path(w->rule, w->path))
        return;
    uint64_t t = newest_time(&st->times);
    if (w->count) {
        w->out->matched++;
        if (t > w->out->newest)
            w->out->newest = t;
    }
    if (!w->collect || t <= w->cutoff)
        return;
    struct ul_candidate c = { .size = st->size, .times = st->times, .file_id = st->file_id,
                              .rule = w->rule_index };
    if (ul_strlcpy(c.path, w->path, sizeof(c.path)) >= sizeof(c.path)) {
        ul_logf(w->log, UL_LOG_WARNING, "path too long for quarantine, skipped: %s", w->path);
        return;
    }
    check_content(w, &c);
    if (!ul_rule_content_ok(w->rule, c.head, c.head_len, c.all_zero))
        return;
    /* One file matched by two rules is one candidate. */
    for (uint32_t i = 0; i < w->out->n; i++)
        if (ul_strcasecmp(w->out->c[i].path, c.path) == 0)
            return;
    insert_sorted(w->out, &c);
}

static int walk_dir(struct walk *w, uint32_t level);

struct list_arg {
    struct walk *w;
    uint32_t level;
    int err;
};

static int on_entry(void *arg, const char *name, const struct ul_stat *st)
{
    struct list_arg *a = arg;
    struct walk *w = a->w;
    size_t len = ul_strlen(w->path);
    bool last = a->level + 1 == w->ncomps;

    if (!ul_glob_match(w->comps[a->level], name))
        return 0;
    if (last == st->is_dir)
        return 0;
    if (len + 1 + ul_strlen(name) + 1 > sizeof(w->path))
        return 0;
    w->path[len] = '\\';
    ul_strlcpy(w->path + len + 1, name, sizeof(w->path) - len - 1);
    if (last)
        found_file(w, st);
    else
        a->err = walk_dir(w, a->level + 1);
    w->path[len] = 0;
    return 0;
}

/* w->path is the directory matched by comps[0..level-1]. */
static int walk_dir(struct walk *w, uint32_t level)
{
    const char *comp = w->comps[level];
    bool last = level + 1 == w->ncomps;
    size_t len = ul_strlen(w->path);

    if (!has_wild(comp)) {
        struct ul_stat st;
        if (len + 1 + ul_strlen(comp) + 1 > sizeof(w->path))
            return 0;
        w->path[len] = '\\';
        ul_strlcpy(w->path + len + 1, comp, sizeof(w->path) - len - 1);
        int r = w->vol->ops->stat(w->vol->ctx, w->path, &st);
        if (r == 0 && st.is_dir != last) {
            if (last)
                found_file(w, &st);
            else
                r = walk_dir(w, level + 1);
        }
        w->path[len] = 0;
        return r == -UL_ENOENT ? 0 : r;
    }
    struct list_arg a = { w, level, 0 };
    int r = w->vol->ops->list(w->vol->ctx, len ? w->path : "\\", on_entry, &a);
    if (r == -UL_ENOENT)
        return 0;
    return r < 0 ? r : a.err;
}

static int split_glob(struct walk *w, const char *glob)
{
    const char *p = glob;
    w->ncomps = 0;
    while (*p) {
        while (*p == '\\')
            p++;
        if (!*p)
            break;
        const char *s = p;
        while (*p && *p != '\\')
            p++;
        size_t n = (size_t)(p - s);
        if (w->ncomps >= MAX_DEPTH || n >= sizeof(w->comps[0]))
            return -UL_ENAMETOOLONG;
        ul_memcpy(w->comps[w->ncomps], s, n);
        w->comps[w->ncomps][n] = 0;
        w->ncomps++;
    }
    return w->ncomps ? 0 : -UL_EINVAL;
}

static int walk_rules(struct walk *w)
{
    for (uint32_t i = 0; i < w->rules->n; i++) {
        const struct ul_rule *r = &w->rules->r[i];
        if (!r->enabled)
            continue;
        w->rule = r;
        w->rule_index = (uint8_t)i;
        if (split_glob(w, r->path) < 0) {
            ul_logf(w->log, UL_LOG_WARNING, "rule %s: unusable path %s", r->name, r->path);
            continue;
        }
        w->path[0] = 0;
        int e = walk_dir(w, 0);
        if (e < 0)
            return ul_log_err(w->log, e, "rule %s: cannot walk %s", r->name, r->path);
    }
    return 0;
}

int ul_scan(const struct ul_volume *vol, const struct ul_rules *rules,
            const struct ul_recency_in *rin, struct ul_scan *out, struct ul_log *log)
{
    static struct walk w;
    struct ul_recency_in in = *rin;
    int r;

    ul_memset(out, 0, sizeof(*out));
    if (!vol->ops->list)
        return -UL_EOPNOTSUPP;
    ul_memset(&w, 0, sizeof(w));
    w.vol = vol;
    w.rules = rules;
    w.out = out;
    w.log = log;

    /* Does the cutoff depend on the newest match (a bare volume: no unloop
     * state)?  Then a first pass finds that, and a second collects.  Else
     * one pass counts and collects (each pass opens every matching file). */
    in.newest_match_ft = 0;
    uint64_t c0 = ul_recency_cutoff(rules, &in, &out->cutoff_reason);
    in.newest_match_ft = UINT64_MAX / 2;
    bool needs_newest = ul_recency_cutoff(rules, &in, &out->cutoff_reason) != c0;
    w.count = true;
    if (needs_newest) {
        /* Pass 1: what matches at all, and the newest of it. */
        r = walk_rules(&w);
        if (r < 0)
            return r;
        w.count = false;
    }
    in.newest_match_ft = out->newest;
    out->cutoff = ul_recency_cutoff(rules, &in, &out->cutoff_reason);

    /* The recent ones that pass the content checks. */
    w.collect = true;
    w.cutoff = out->cutoff;
    return walk_rules(&w);
}

/* ---- moving ---- */

static int mkdir_parents(const struct ul_volume *vol, const char *path)
{
    char p[UL_JPATH_MAX];
    ul_strlcpy(p, path, sizeof(p));
    for (size_t i = 1; p[i]; i++) {
        if (p[i] != '\\')
            continue;
        p[i] = 0;
        int r = vol->ops->mkdir(vol->ctx, p);
        p[i] = '\\';
        if (r < 0 && r != -UL_EEXIST)
            return r;
    }
    return 0;
}

/* One file's outcome; other is where it went (or came from), "" if nowhere. */
static void report(struct ul_qreport *rep, const char *path, const char *other, uint64_t size,
                   int result)
{
    if (result == 0)
        rep->moved++;
    else
        rep->failed++;
    if (rep->n < UL_QREPORT_MAX) {
        struct ul_qitem *it = &rep->items[rep->n++];
        ul_strlcpy(it->path, path, UL_JPATH_MAX);
        ul_strlcpy(it->other, other, UL_JPATH_MAX);
        it->size = size;
        it->result = result;
    }
}

static int quarantine_path(uint64_t run_id, const char *src, char *out, size_t size)
{
    char id[16];
    ul_run_id_format(run_id, id);
    if (ul_snprintf(out, size, "%s\\%s%s", UL_QUARANTINE_DIR, id, src) >= size)
        return -UL_ENAMETOOLONG;
    return 0;
}

int ul_quarantine(const struct ul_volume *vol, const struct ul_scan *scan, enum ul_qmode mode,
                  uint32_t max_files, uint64_t run_id, struct ul_journal *j,
                  struct ul_qreport *rep, struct ul_log *log)
{
    uint32_t count = mode == UL_Q_NEWEST ? (scan->n ? 1 : 0) : scan->n;
    int r;

    ul_memset(rep, 0, sizeof(*rep));
    rep->run_id = run_id;
    if (!vol->ops->move || !vol->ops->set_times)
        return -UL_EOPNOTSUPP;
    if (max_files && count > max_files)
        count = max_files;

    for (uint32_t i = 0; i < count; i++) {
        const struct ul_candidate *c = &scan->c[i];
        struct ul_jrec rec = { .type = UL_J_INTENT_MOVE, .rule = c->rule, .run_id = run_id,
                               .file_id = c->file_id, .size = c->size, .times = c->times };
        ul_strlcpy(rec.src, c->path, sizeof(rec.src));
        r = quarantine_path(run_id, c->path, rec.dst, sizeof(rec.dst));
        if (r == 0)
            r = mkdir_parents(vol, rec.dst);
        /* The intent is on disk before the file moves (DESIGN §4). */
        if (r == 0)
            r = ul_journal_append(j, &rec);
        if (r < 0) {
            ul_log_err(log, r, "cannot prepare the quarantine of %s; not moving it", c->path);
            report(rep, c->path, "", c->size, r);
            continue;
        }
        r = vol->ops->move(vol->ctx, rec.src, rec.dst);
        if (r < 0) {
            ul_log_err(log, r, "cannot move %s to quarantine", rec.src);
            rec.type = UL_J_ABORTED;
            ul_journal_append(j, &rec);
            report(rep, c->path, "", c->size, r);
            continue;
        }
        /* A move stamps the file's change time: put the original times back,
         * so a restore is exact. */
        int tr = vol->ops->set_times(vol->ctx, rec.dst, &c->times);
        if (tr < 0)
            ul_log_err(log, tr, "cannot keep the times of %s", rec.dst);
        rec.type = UL_J_DONE_MOVE;
        r = ul_journal_append(j, &rec);
        if (r < 0)
            ul_log_err(log, r, "moved %s but cannot journal it (replay will)", rec.src);
        ul_logf(log, UL_LOG_WARNING, "quarantined %s -> %s", rec.src, rec.dst);
        report(rep, c->path, rec.dst, c->size, 0);
    }
    return rep->failed ? -UL_EIO : 0;
}

/* ---- the journal's view of each file ---- */

#define MAX_FILES 1024u

int ul_journal_files(const struct ul_journal *j, const struct ul_mem *mem, struct ul_jfile **out,
                     uint32_t *ret_n)
{
    struct ul_jfile *f = mem->ops->alloc(mem->ctx, MAX_FILES * sizeof(*f));
    uint32_t n = 0;
    struct ul_jrec rec;
    int r;

    *out = NULL;
    *ret_n = 0;
    if (!f)
        return -UL_ENOMEM;
    for (uint32_t i = 0; i < j->n; i++) {
        r = ul_journal_get(j, i, &rec);
        if (r < 0) {
            mem->ops->free(mem->ctx, f);
            return r;
        }
        uint32_t k = 0;
        while (k < n && !(f[k].run_id == rec.run_id && ul_strcmp(f[k].rec.src, rec.src) == 0))
            k++;
        if (k == n) {
            if (n == MAX_FILES)
                continue;
            f[n].state = 0;
            n++;
        }
        /* ABORTED undoes the intent before it: a quarantine that did not
         * happen, or a restore that did not (the file is still quarantined). */
        if (rec.type == UL_J_ABORTED)
            f[k].state = f[k].state == UL_J_INTENT_RESTORE ? UL_J_DONE_MOVE : UL_J_ABORTED;
        else
            f[k].state = rec.type;
        f[k].run_id = rec.run_id;
        f[k].last_seq = rec.seq;
        f[k].rec = rec;
    }
    *out = f;
    *ret_n = n;
    return 0;
}

static bool exists(const struct ul_volume *vol, const char *path, struct ul_stat *st)
{
    return vol->ops->stat(vol->ctx, path, st) == 0 && !st->is_dir;
}

/* Resolve one dangling intent by looking at where the file is. */
static int resolve(const struct ul_volume *vol, struct ul_journal *j, struct ul_jrec rec,
                   struct ul_log *log)
{
    bool restoring = rec.type == UL_J_INTENT_RESTORE;
    const char *from = restoring ? rec.dst : rec.src, *to = restoring ? rec.src : rec.dst;
    struct ul_stat fs, ts;
    bool have_from = exists(vol, from, &fs), have_to = exists(vol, to, &ts);

    if (have_to && !have_from) {
        vol->ops->set_times(vol->ctx, to, &rec.times);
        rec.type = restoring ? UL_J_DONE_RESTORE : UL_J_DONE_MOVE;
        ul_logf(log, UL_LOG_NOTICE, "journal: finished the interrupted move of %s", from);
    } else if (have_to && have_from) {
        if (!fs.file_id || fs.file_id != ts.file_id)
            return ul_log_err(log, -UL_EEXIST,
                              "journal: both %s and %s exist and are different files; left "
                              "as they are", from, to);
        /* Two names of one file (link done, unlink not): drop the old name,
         * the data stays under the new one. */
        int r = vol->ops->remove(vol->ctx, from);
        if (r < 0)
            return ul_log_err(log, r, "journal: cannot finish the move of %s", from);
        vol->ops->set_times(vol->ctx, to, &rec.times);
        rec.type = restoring ? UL_J_DONE_RESTORE : UL_J_DONE_MOVE;
        ul_logf(log, UL_LOG_NOTICE, "journal: finished the interrupted move of %s", from);
    } else if (have_from) {
        rec.type = UL_J_ABORTED;
        ul_logf(log, UL_LOG_NOTICE, "journal: %s had not moved yet; rolled back", from);
    } else {
        return ul_log_err(log, -UL_ENOENT, "journal: %s is neither at %s nor at %s", rec.src,
                          from, to);
    }
    return ul_journal_append(j, &rec);
}

int ul_journal_replay(const struct ul_volume *vol, struct ul_journal *j,
                      const struct ul_mem *mem, struct ul_log *log)
{
    struct ul_jfile *f;
    uint32_t n;
    int resolved = 0;
    int r = ul_journal_files(j, mem, &f, &n);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        if (f[i].state != UL_J_INTENT_MOVE && f[i].state != UL_J_INTENT_RESTORE)
            continue;
        if (resolve(vol, j, f[i].rec, log) == 0)
            resolved++;
    }
    mem->ops->free(mem->ctx, f);
    return resolved;
}

int ul_restore(const struct ul_volume *vol, struct ul_journal *j, const struct ul_mem *mem,
               uint64_t run_id, struct ul_qreport *rep, struct ul_log *log)
{
    struct ul_jfile *f;
    uint32_t n;
    int r;

    ul_memset(rep, 0, sizeof(*rep));
    if (!vol->ops->move || !vol->ops->set_times)
        return -UL_EOPNOTSUPP;
    r = ul_journal_replay(vol, j, mem, log);
    if (r < 0)
        return r;
    r = ul_journal_files(j, mem, &f, &n);
    if (r < 0)
        return r;
    if (run_id == 0)
        for (uint32_t i = 0; i < n; i++)
            if (f[i].state == UL_J_DONE_MOVE && f[i].run_id > run_id)
                run_id = f[i].run_id;
    rep->run_id = run_id;

    for (uint32_t i = 0; i < n; i++) {
        if (f[i].run_id != run_id || f[i].state != UL_J_DONE_MOVE)
            continue;
        struct ul_jrec rec = f[i].rec;
        struct ul_stat st;
        if (exists(vol, rec.src, &st)) {
            /* Something new sits at the original place: never overwrite. */
            ul_logf(log, UL_LOG_WARNING, "not restoring %s: a file of that name exists again",
                    rec.src);
            rep->skipped++;
            report(rep, rec.src, "", rec.size, -UL_EEXIST);
            rep->failed--;
            continue;
        }
        rec.type = UL_J_INTENT_RESTORE;
        r = mkdir_parents(vol, rec.src);
        if (r == 0)
            r = ul_journal_append(j, &rec);
        if (r == 0)
            r = vol->ops->move(vol->ctx, rec.dst, rec.src);
        if (r < 0) {
            ul_log_err(log, r, "cannot restore %s", rec.src);
            if (rec.type == UL_J_INTENT_RESTORE) {
                rec.type = UL_J_ABORTED;
                ul_journal_append(j, &rec);
            }
            report(rep, rec.src, "", rec.size, r);
            continue;
        }
        vol->ops->set_times(vol->ctx, rec.src, &rec.times);
        rec.type = UL_J_DONE_RESTORE;
        ul_journal_append(j, &rec);
        ul_logf(log, UL_LOG_NOTICE, "restored %s", rec.src);
        report(rep, rec.src, rec.dst, rec.size, 0);
    }
    mem->ops->free(mem->ctx, f);
    return rep->failed ? -UL_EIO : 0;
}
