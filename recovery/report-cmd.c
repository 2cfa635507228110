/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop report summarize DIR [--csv]: a folder of the reports unloop.efi
 * writes (docs/report-format.md, issue #6) as one row per machine, for a
 * technician (a table) or a fleet script (--csv, --json).
 *
 * Reports come from sticks that went round machines nobody trusts, so a
 * report is untrusted input: its size is capped, the JSON reader is strict
 * and bounded (json-read.c), every key read is type-checked, and anything
 * wrong makes the row "unreadable" with the file and the reason, never a
 * crash.  Strings are printed to a terminal only after control and
 * bidirectional-override characters are replaced.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json-read.h"
#include "json.h"

static const char *const outcome_names[REPORT__MAX] = {
    "fixed", "safe-mode", "needs-key", "nothing-to-do", "no-windows", "failed", "unreadable",
};
static const char *const outcome_texts[REPORT__MAX] = {
    "fixed", "Safe Mode set", "needs a key", "nothing to do", "no Windows", "failed", "unreadable",
};

const char *report_outcome_name(enum report_outcome o)
{
    return (unsigned)o < REPORT__MAX ? outcome_names[o] : "?";
}

const char *report_outcome_text(enum report_outcome o)
{
    return (unsigned)o < REPORT__MAX ? outcome_texts[o] : "?";
}

/* ---- strings ---- */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_FAIL);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    return memcpy(xrealloc(NULL, n), s, n);
}

/* A growing string; parts joined with "; ", each part once, at most
 * SB_MAX_PARTS of them (a report with 100,000 errors must not take
 * quadratic time, nor make a reason nobody reads). */
struct sb {
    char *s;
    size_t len, size;
    size_t parts, dropped;
};
#define SB_MAX_PARTS 16

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->size) {
        b->size = (b->len + (size_t)n + 1) * 2;
        b->s = xrealloc(b->s, b->size);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_part(struct sb *b, const char *part)
{
    if (!part || !*part)
        return;
    if (b->parts >= SB_MAX_PARTS) {
        b->dropped++;
        return;
    }
    /* Already there as a whole part? */
    size_t pl = strlen(part);
    for (const char *p = b->s; p && (p = strstr(p, part)); p++) {
        bool starts = p == b->s || (p - b->s >= 2 && p[-2] == ';' && p[-1] == ' ');
        bool ends = p[pl] == 0 || (p[pl] == ';' && p[pl + 1] == ' ');
        if (starts && ends)
            return;
    }
    sb_printf(b, "%s%s", b->len ? "; " : "", part);
    b->parts++;
}

/* Ends a list of parts: how many more there were. */
static void sb_end_parts(struct sb *b)
{
    if (b->dropped)
        sb_printf(b, "; and %zu more", b->dropped);
    b->dropped = 0;
}

/* The string ("" when nothing was added), now the caller's. */
static char *sb_take(struct sb *b)
{
    char *s = b->s ? b->s : xstrdup("");
    *b = (struct sb){ 0 };
    return s;
}

/* The next code point of s and its length in bytes; an invalid byte gives
 * cp = -1 and length 1. */
static size_t next_cp(const unsigned char *s, int32_t *cp)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
             : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n == 1) {
        *cp = c;
        return 1;
    }
    uint32_t v = n ? c & (0x7fu >> n) : 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            n = 0;
            break;
        }
        v = v << 6 | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (!n || v < min[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = -1;
        return 1;
    }
    *cp = (int32_t)v;
    return n;
}

static bool is_control(int32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Characters that reorder what a terminal shows (Trojan Source, CVE-2021-42574). */
static bool is_bidi(int32_t cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Columns a code point takes on a terminal: enough of Unicode's East Asian
 * Width and combining marks for names of products and places. */
static int cp_width(int32_t cp)
{
    if ((cp >= 0x0300 && cp <= 0x036f) || (cp >= 0x200b && cp <= 0x200d) ||
        (cp >= 0xfe00 && cp <= 0xfe0f))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp != 0x303f) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
        (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

/* ---- one report ---- */

struct reader {
    struct sb why;              /* what makes the report unusable */
};

__attribute__((format(printf, 2, 3)))
static bool bad(struct reader *rd, const char *fmt, ...)
{
    if (rd->why.len)
        return false;
    va_list ap;
    va_start(ap, fmt);
    char buf[256];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sb_printf(&rd->why, "%s", buf);
    return false;
}

/* The member key of obj if it has type t; NULL if absent (or of another
 * type, which makes the report unreadable).  path names it in messages. */
static const struct json_value *member(struct reader *rd, const struct json_value *obj,
                                       const char *key, enum json_type t, const char *path)
{
    const struct json_value *v = json_get(obj, key);
    if (!v)
        return NULL;
    bool ok = v->type == t || (t == JSON_TRUE && v->type == JSON_FALSE);
    if (!ok) {
        bad(rd, "\"%s\" is %s, not %s", path, json_type_name(v->type),
            json_type_name(t == JSON_TRUE ? JSON_FALSE : t));
        return NULL;
    }
    return v;
}

static const char *str_member(struct reader *rd, const struct json_value *obj, const char *key,
                              const char *path)
{
    const struct json_value *v = member(rd, obj, key, JSON_STRING, path);
    return v ? v->str : NULL;
}

/* A string value for a message: at most 40 bytes, whole characters. */
static void quote_short(const char *s, char out[48])
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int32_t cp;
        size_t l = next_cp(p, &cp);
        if (n + l > 40) {
            memcpy(out + n, "...", 4);
            return;
        }
        memcpy(out + n, p, l);
        n += l;
        p += l;
    }
    out[n] = 0;
}

/* Recovery key IDs as Windows shows them on its recovery screen (and AD
 * and Entra list them): the first 8 hex digits of the protector GUID. */
static void key_id(const char *id, char out[48])
{
    size_t i = 0;
    while (i < 8 && id[i] && strchr("0123456789abcdefABCDEF", id[i])) {
        out[i] = (char)(id[i] >= 'a' && id[i] <= 'f' ? id[i] - 32 : id[i]);
        i++;
    }
    if (i == 8) {
        out[8] = 0;
        return;
    }
    quote_short(id, out);
}

/* "BitLocker locked: no key for recovery-password protector 64311DEA". */
static bool locked_reason(struct reader *rd, const struct json_value *inst, bool name_it,
                          size_t position, struct sb *reason)
{
    struct sb t = { 0 }, ids = { 0 }, others = { 0 };
    size_t nids = 0, nothers = 0;
    const struct json_value *prot = member(rd, inst, "protectors", JSON_ARRAY,
                                           "installations[].protectors");
    for (const struct json_value *p = prot ? prot->child : NULL; p; p = p->next) {
        if (p->type != JSON_OBJECT) {
            bad(rd, "\"installations[].protectors[]\" holds %s, not an object",
                json_type_name(p->type));
            break;
        }
        const char *id = str_member(rd, p, "id", "installations[].protectors[].id");
        const char *type = str_member(rd, p, "type", "installations[].protectors[].type");
        char buf[48];
        if (nids + nothers >= 8) {
            /* Windows allows a handful of protectors; more is not a real volume. */
            continue;
        } else if (type && id && strcmp(type, "recovery-password") == 0) {
            key_id(id, buf);
            sb_printf(&ids, "%s%s", nids++ ? ", " : "", buf);
        } else if (type) {
            nothers++;
            quote_short(type, buf);
            sb_printf(&others, "%s%s", others.len ? ", " : "", buf);
        }
    }
    if (name_it) {
        /* Which one, as the screen listed it: disk and partition, else its index. */
        const char *disk = str_member(rd, inst, "disk", "installations[].disk");
        const struct json_value *part = member(rd, inst, "windows_partition", JSON_NUMBER,
                                               "installations[].windows_partition");
        const struct json_value *index = member(rd, inst, "index", JSON_NUMBER,
                                                "installations[].index");
        char d[48];
        quote_short(disk ? disk : "", d);
        if (disk && part && part->is_int)
            sb_printf(&t, "%s partition %lld: ", d, (long long)part->i);
        else if (disk)
            sb_printf(&t, "%s: ", d);
        else if (index && index->is_int)
            sb_printf(&t, "installation %lld: ", (long long)index->i);
        else
            sb_printf(&t, "installation %zu: ", position);
    }
    if (nids)
        sb_printf(&t, "BitLocker locked: no key for recovery-password protector%s %s",
                  nids > 1 ? "s" : "", ids.s);
    else if (others.len)
        sb_printf(&t, "BitLocker locked: no key (protectors: %s)", others.s);
    else
        sb_printf(&t, "BitLocker locked: no key");
    sb_part(reason, t.s);
    free(t.s);
    free(ids.s);
    free(others.s);
    return !rd->why.len;
}

static bool read_installations(struct reader *rd, const struct json_value *root,
                               struct sb *reason, size_t *ret_n)
{
    const struct json_value *inst = member(rd, root, "installations", JSON_ARRAY, "installations");
    size_t selected = 0;
    *ret_n = inst ? inst->n : 0;
    for (int pass = 0; pass < 2 && inst; pass++) {
        size_t position = 0;
        for (const struct json_value *i = inst->child; i; i = i->next) {
            position++;
            if (i->type != JSON_OBJECT)
                return bad(rd, "\"installations[]\" holds %s, not an object",
                           json_type_name(i->type));
            const struct json_value *sel = member(rd, i, "selected", JSON_TRUE,
                                                  "installations[].selected");
            bool is_sel = sel && sel->type == JSON_TRUE;
            const char *bl = str_member(rd, i, "bitlocker", "installations[].bitlocker");
            if (rd->why.len)
                return false;
            if (pass == 0) {
                selected += is_sel;
                continue;
            }
            /* The selected installation tells; without one, every locked one. */
            if (bl && strcmp(bl, "locked") == 0 && (is_sel || !selected) &&
                !locked_reason(rd, i, inst->n > 1, position, reason))
                return false;
        }
    }
    return true;
}

static bool read_actions(struct reader *rd, const struct json_value *root, struct sb *done,
                         struct sb *reason)
{
    const struct json_value *acts = member(rd, root, "actions", JSON_ARRAY, "actions");
    for (const struct json_value *a = acts ? acts->child : NULL; a; a = a->next) {
        if (a->type != JSON_OBJECT)
            return bad(rd, "\"actions[]\" holds %s, not an object", json_type_name(a->type));
        const char *action = str_member(rd, a, "action", "actions[].action");
        const char *result = str_member(rd, a, "result", "actions[].result");
        const char *why = str_member(rd, a, "reason", "actions[].reason");
        const struct json_value *files = member(rd, a, "files", JSON_ARRAY, "actions[].files");
        if (rd->why.len)
            return false;
        if (!action || !result)
            return bad(rd, "an action without \"%s\"", action ? "result" : "action");
        char name[48], text[160];
        quote_short(action, name);
        size_t nf = files ? files->n : 0;
        if (strcmp(result, "done") == 0) {
            if (strcmp(action, "quarantine") == 0 || strcmp(action, "quarantine-wide") == 0)
                snprintf(text, sizeof(text), "quarantined %zu file%s", nf, nf == 1 ? "" : "s");
            else if (strcmp(action, "restore") == 0)
                snprintf(text, sizeof(text), "restored %zu file%s", nf, nf == 1 ? "" : "s");
            else if (strcmp(action, "safe-mode") == 0)
                snprintf(text, sizeof(text), "Safe Mode set");
            else if (strcmp(action, "safe-mode-network") == 0)
                snprintf(text, sizeof(text), "Safe Mode with networking set");
            else
                snprintf(text, sizeof(text), "%s done", name);
            sb_part(done, text);
            continue;
        }
        /* Why an action did not do it: what the technician needs. */
        struct sb t = { 0 };
        if (strcmp(result, "failed") == 0)
            sb_printf(&t, "%s failed", name);
        else if (strcmp(result, "skipped") == 0)
            sb_printf(&t, "%s skipped", name);
        else if (strcmp(result, "nothing-to-do") == 0)
            sb_printf(&t, "%s: %s", name, why ? "" : "nothing to do");
        else {
            char r[48];
            quote_short(result, r);
            sb_printf(&t, "%s %s", name, r);
        }
        if (why)
            sb_printf(&t, "%s%s", t.s[t.len - 1] == ' ' ? "" : ": ", why);
        sb_part(reason, t.s);
        free(t.s);
    }
    return true;
}

static bool read_report(struct reader *rd, const struct json_value *root, struct report_row *r)
{
    char buf[48];
    if (root->type != JSON_OBJECT)
        return bad(rd, "not an unloop report: the top level is %s, not an object",
                   json_type_name(root->type));
    const struct json_value *fmt = json_get(root, "unloop_report");
    if (!fmt)
        return bad(rd, "not an unloop report: no \"unloop_report\" key");
    if (fmt->type != JSON_NUMBER)
        return bad(rd, "not an unloop report: \"unloop_report\" is %s, not a number",
                   json_type_name(fmt->type));
    if (fmt->num != 1)
        return bad(rd, "report format %.10g; this unloop reads format 1", fmt->num);

    const struct json_value *machine = member(rd, root, "machine", JSON_OBJECT, "machine");
    const char *id = str_member(rd, machine, "id", "machine.id");
    r->serial = xstrdup(str_member(rd, machine, "serial", "machine.serial"));
    r->manufacturer = xstrdup(str_member(rd, machine, "manufacturer", "machine.manufacturer"));
    r->product = xstrdup(str_member(rd, machine, "product", "machine.product"));
    r->summary = xstrdup(str_member(rd, root, "summary", "summary"));
    const char *outcome = str_member(rd, root, "outcome", "outcome");
    const char *time = str_member(rd, root, "time", "time");
    const struct json_value *tz = json_get(root, "time_utc_offset_min");
    if (rd->why.len)
        return false;
    if (!machine || !id || !*id)
        return bad(rd, "no \"machine.id\"");
    if (!outcome)
        return bad(rd, "no \"outcome\"");
    int o;
    for (o = 0; o < REPORT_UNREADABLE; o++)
        if (strcmp(outcome, outcome_names[o]) == 0)
            break;
    if (o == REPORT_UNREADABLE) {
        quote_short(outcome, buf);
        return bad(rd, "unknown outcome \"%s\"", buf);
    }
    free(r->machine);
    r->machine = xstrdup(id);

    /* The firmware clock, with its zone when the firmware knew it (UEFI
     * EFI_TIME.TimeZone: minutes, -1440..1440). */
    if (tz && tz->type != JSON_NULL &&
        (tz->type != JSON_NUMBER || !tz->is_int || tz->i < -1440 || tz->i > 1440))
        return bad(rd, "\"time_utc_offset_min\" is not null or a number of minutes "
                       "from -1440 to 1440");
    if (time) {
        struct sb t = { 0 };
        sb_printf(&t, "%s", time);
        if (tz && tz->type == JSON_NUMBER) {
            int64_t m = tz->i < 0 ? -tz->i : tz->i;
            sb_printf(&t, "%c%02lld:%02lld", tz->i < 0 ? '-' : '+', (long long)(m / 60),
                      (long long)(m % 60));
        }
        r->time = sb_take(&t);
    }

    struct sb done = { 0 }, reason = { 0 };
    size_t ninst = 0;
    bool ok = read_installations(rd, root, &reason, &ninst) && read_actions(rd, root, &done, &reason);
    const struct json_value *errors = ok ? member(rd, root, "errors", JSON_ARRAY, "errors") : NULL;
    for (const struct json_value *e = errors ? errors->child : NULL; e; e = e->next) {
        if (e->type != JSON_STRING) {
            bad(rd, "\"errors[]\" holds %s, not a string", json_type_name(e->type));
            break;
        }
        sb_part(&reason, e->str);
    }
    if (rd->why.len) {
        free(done.s);
        free(reason.s);
        return false;
    }
    if (!reason.len && o == REPORT_NO_WINDOWS && !r->summary)
        sb_part(&reason, ninst ? "no installation matched the selector"
                               : "no Windows installation found");
    if (!reason.len && o != REPORT_FIXED)
        sb_part(&reason, r->summary);
    sb_end_parts(&done);
    sb_end_parts(&reason);
    r->done = sb_take(&done);
    r->reason = sb_take(&reason);
    r->outcome = (enum report_outcome)o;
    return true;
}

/* The file name without ".json": the machine id by the format's rule. */
static char *stem(const char *file)
{
    char *s = xstrdup(file);
    size_t n = strlen(s);
    if (n > 5 && strcasecmp(s + n - 5, ".json") == 0)
        s[n - 5] = 0;
    return s;
}

__attribute__((format(printf, 2, 3)))
static void unreadable(struct report_row *r, const char *fmt, ...)
{
    struct sb t = { 0 };
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    sb_printf(&t, "%s: %s", r->file, buf);
    /* Only what is sure: the file, its name as the machine id, the reason. */
    char *file = r->file;
    r->file = NULL;
    report_row_free(r);
    *r = (struct report_row){ .outcome = REPORT_UNREADABLE, .file = file, .machine = stem(file),
                              .reason = sb_take(&t) };
}

void report_row_parse(struct report_row *r, const char *file, const char *data, size_t len)
{
    *r = (struct report_row){ .file = xstrdup(file), .machine = stem(file) };
    if (len > REPORT_MAX_SIZE) {
        unreadable(r, "larger than %u KiB (%zu bytes)", REPORT_MAX_SIZE / 1024, len);
        return;
    }
    struct json_read_error e;
    struct json_doc *d = json_parse(data, len, &e);
    if (!d) {
        unreadable(r, "not valid JSON: line %zu, column %zu: %s", e.line, e.column, e.msg);
        return;
    }
    struct reader rd = { 0 };
    if (!read_report(&rd, json_doc_root(d), r))
        unreadable(r, "%s", rd.why.s);
    free(rd.why.s);
    json_doc_free(d);
}

void report_row_free(struct report_row *r)
{
    char **f[] = { &r->file, &r->machine, &r->serial, &r->manufacturer, &r->product,
                   &r->time, &r->done, &r->reason, &r->summary };
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        free(*f[i]);
        *f[i] = NULL;
    }
}

/* ---- output ---- */

static int cmp_rows(const void *a, const void *b)
{
    const struct report_row *x = a, *y = b;
    if (x->outcome != y->outcome)
        return x->outcome < y->outcome ? -1 : 1;
    int c = strcmp(x->machine, y->machine);
    return c ? c : strcmp(x->file, y->file);
}

/* A table cell: controls shown as '?' (white space as ' '), at most max
 * columns ("..." when cut), padded to width when pad.  Returns the width. */
static size_t put_cell(FILE *f, const char *s, size_t width, size_t max, bool pad)
{
    if (!s || !*s)
        s = "-";
    size_t total = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int32_t cp;
        p += next_cp(p, &cp);
        total += cp < 0 || is_control(cp) || is_bidi(cp) ? 1 : (size_t)cp_width(cp);
    }
    size_t limit = total > max ? max - 3 : max, w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int32_t cp;
        size_t l = next_cp(p, &cp);
        bool shown = cp >= 0 && !is_control(cp) && !is_bidi(cp);
        size_t cw = shown ? (size_t)cp_width(cp) : 1;
        if (w + cw > limit)
            break;
        if (f) {
            if (shown)
                fwrite(p, 1, l, f);
            else
                fputc(cp == '\t' || cp == '\n' || cp == '\r' ? ' ' : '?', f);
        }
        w += cw;
        p += l;
    }
    if (total > max) {
        if (f)
            fputs("...", f);
        w += 3;
    }
    for (; f && pad && w < width; w++)
        fputc(' ', f);
    return w;
}

/* An RFC 4180 field: quoted when it holds a comma, quote, CR or LF; other
 * control characters and invalid UTF-8 become U+FFFD, so that printing
 * the file cannot send escapes to a terminal. */
static void put_csv(FILE *f, const char *s)
{
    if (!s)
        s = "";
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int32_t cp;
        size_t l = next_cp(p, &cp);
        if (cp == '"')
            fputs("\"\"", f);
        else if (cp < 0 || (is_control(cp) && cp != '\t' && cp != '\r' && cp != '\n'))
            fputs("\xef\xbf\xbd", f);
        else
            fwrite(p, 1, l, f);
        p += l;
    }
    if (quote)
        fputc('"', f);
}

#define CELL_MAX 40
#define REASON_MAX 200

void report_print(FILE *f, enum report_style style, struct report_row *rows, size_t n)
{
    size_t totals[REPORT__MAX] = { 0 };
    if (n)
        qsort(rows, n, sizeof(*rows), cmp_rows);
    for (size_t i = 0; i < n; i++)
        totals[rows[i].outcome < REPORT__MAX ? rows[i].outcome : REPORT_UNREADABLE]++;

    if (style == REPORT_CSV) {
        fputs("machine,serial,manufacturer,product,time,outcome,outcome_text,done,reason,"
              "summary,file\r\n", f);
        for (size_t i = 0; i < n; i++) {
            const struct report_row *r = &rows[i];
            const char *cells[] = { r->machine, r->serial, r->manufacturer, r->product,
                                    r->time, report_outcome_name(r->outcome),
                                    report_outcome_text(r->outcome), r->done, r->reason,
                                    r->summary, r->file };
            for (size_t c = 0; c < sizeof(cells) / sizeof(cells[0]); c++) {
                if (c)
                    fputc(',', f);
                put_csv(f, cells[c]);
            }
            fputs("\r\n", f);
        }
        return;
    }

    if (style == REPORT_JSON) {
        struct json j;
        json_init(&j, f);
        json_object_begin(&j, NULL);
        json_array_begin(&j, "rows");
        for (size_t i = 0; i < n; i++) {
            const struct report_row *r = &rows[i];
            json_object_begin(&j, NULL);
            json_str_utf8(&j, "machine", r->machine);
            json_str_utf8(&j, "serial", r->serial);
            json_str_utf8(&j, "manufacturer", r->manufacturer);
            json_str_utf8(&j, "product", r->product);
            json_str_utf8(&j, "time", r->time);
            json_str(&j, "outcome", report_outcome_name(r->outcome));
            json_str(&j, "outcome_text", report_outcome_text(r->outcome));
            json_str_utf8(&j, "done", r->done ? r->done : "");
            json_str_utf8(&j, "reason", r->reason ? r->reason : "");
            json_str_utf8(&j, "summary", r->summary);
            json_str_utf8(&j, "file", r->file);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_begin(&j, "totals");
        for (int o = 0; o < REPORT__MAX; o++)
            json_int(&j, outcome_names[o], (int64_t)totals[o]);
        json_int(&j, "total", (int64_t)n);
        json_object_end(&j);
        json_object_end(&j);
        json_finish(&j);
        return;
    }

    static const char *const heads[] = { "MACHINE", "SERIAL", "PRODUCT", "TIME", "OUTCOME",
                                         "DONE", "REASON" };
    enum { NCOL = sizeof(heads) / sizeof(heads[0]) };
    size_t width[NCOL];
    for (size_t c = 0; c < NCOL; c++)
        width[c] = strlen(heads[c]);
    for (size_t i = 0; i < n; i++) {
        const struct report_row *r = &rows[i];
        const char *cells[NCOL - 1] = { r->machine, r->serial, r->product, r->time,
                                        report_outcome_text(r->outcome), r->done };
        for (size_t c = 0; c < NCOL - 1; c++) {
            size_t w = put_cell(NULL, cells[c], 0, CELL_MAX, false);
            if (w > width[c])
                width[c] = w;
        }
    }
    if (n) {
        for (size_t c = 0; c < NCOL; c++)
            fprintf(f, "%-*s%s", c + 1 < NCOL ? (int)width[c] : 0, heads[c],
                    c + 1 < NCOL ? "  " : "\n");
        for (size_t i = 0; i < n; i++) {
            const struct report_row *r = &rows[i];
            const char *cells[NCOL] = { r->machine, r->serial, r->product, r->time,
                                        report_outcome_text(r->outcome), r->done, r->reason };
            for (size_t c = 0; c < NCOL - 1; c++) {
                put_cell(f, cells[c], width[c], CELL_MAX, true);
                fputs("  ", f);
            }
            put_cell(f, cells[NCOL - 1], 0, REASON_MAX, false);
            fputc('\n', f);
        }
        fputc('\n', f);
    }
    for (int o = 0; o < REPORT__MAX; o++)
        fprintf(f, "%-15s%5zu\n", outcome_texts[o], totals[o]);
    fprintf(f, "%-15s%5zu\n", "total", n);
}

/* ---- the folder ---- */

static bool is_report_name(const char *name)
{
    size_t n = strlen(name);
    /* Dot files are skipped: macOS leaves "._NAME.json" beside every file
     * it copies to a FAT stick. */
    return name[0] != '.' && n > 5 && strcasecmp(name + n - 5, ".json") == 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads one file into buf (REPORT_MAX_SIZE + 1 bytes); fills the row. */
static void read_one(int dfd, const char *name, char *buf, struct report_row *r)
{
    /* O_NONBLOCK: a FIFO named *.json must not hang the command. */
    int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    size_t len = 0;
    const char *what = NULL;
    int err = 0;
    if (fd < 0) {
        err = errno;
        what = "cannot open";
    } else if (fstat(fd, &st) < 0) {
        err = errno;
        what = "cannot read";
    } else if (!S_ISREG(st.st_mode)) {
        what = "not a regular file";
    } else if ((uint64_t)st.st_size > REPORT_MAX_SIZE) {
        len = (size_t)REPORT_MAX_SIZE + 1;
    } else {
        while (len <= REPORT_MAX_SIZE) {
            ssize_t got = read(fd, buf + len, REPORT_MAX_SIZE + 1 - len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                err = errno;
                what = "cannot read";
                break;
            }
            if (got == 0)
                break;
            len += (size_t)got;
        }
    }
    if (fd >= 0)
        close(fd);
    if (what) {
        *r = (struct report_row){ .file = xstrdup(name), .machine = stem(name) };
        if (err)
            unreadable(r, "%s: %s", what, strerror(err));
        else
            unreadable(r, "%s", what);
        return;
    }
    if (len > REPORT_MAX_SIZE) {
        *r = (struct report_row){ .file = xstrdup(name), .machine = stem(name) };
        unreadable(r, "larger than %u KiB", REPORT_MAX_SIZE / 1024);
        return;
    }
    report_row_parse(r, name, buf, len);
}

int cmd_report_summarize(const struct cli_opts *o, const char *dir)
{
    if (o->csv && o->json)
        return usage_error("%s", "--csv and --json do not go together");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot read the folder %s: %s\n", prog, dir, strerror(errno));
        return EXIT_FAIL;
    }
    char **names = NULL;
    size_t n = 0;
    int rc = EXIT_OK;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                fprintf(stderr, "%s: cannot read the folder %s: %s\n", prog, dir,
                        strerror(errno));
                rc = EXIT_FAIL;
            }
            break;
        }
        if (!is_report_name(e->d_name))
            continue;
        names = xrealloc(names, (n + 1) * sizeof(*names));
        names[n++] = xstrdup(e->d_name);
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);

    struct report_row *rows = xrealloc(NULL, n * sizeof(*rows));
    char *buf = xrealloc(NULL, (size_t)REPORT_MAX_SIZE + 1);
    for (size_t i = 0; i < n; i++) {
        read_one(dirfd(d), names[i], buf, &rows[i]);
        if (rows[i].outcome == REPORT_UNREADABLE)
            rc = EXIT_FAIL;
    }
    free(buf);
    closedir(d);

    enum report_style style = o->json ? REPORT_JSON : o->csv ? REPORT_CSV : REPORT_TABLE;
    if (!n && style == REPORT_TABLE)
        printf("No reports (*.json) in %s.\n\n", dir);
    report_print(stdout, style, rows, n);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the summary: %s\n", prog, strerror(errno));
        rc = EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        report_row_free(&rows[i]);
        free(names[i]);
    }
    free(rows);
    free(names);
    return rc;
}
