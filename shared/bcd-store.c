/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bcd-store.h"
#include "regf-log.h"
#include "string-util.h"
#include "ul-errno.h"

static void path_with(char *out, size_t size, const char *path, const char *suffix)
{
    ul_snprintf(out, size, "%s%s", path, suffix);
}

/* Read a whole file into a fresh buffer with slack bytes of room after it. */
static int read_file(const struct ul_volume *vol, const struct ul_mem *mem, const char *path,
                     size_t slack, uint8_t **ret, size_t *ret_len, size_t *ret_size)
{
    struct ul_stat stt;
    size_t got = 0;
    int r = vol->ops->stat(vol->ctx, path, &stt);
    if (r < 0)
        return r;
    if (stt.is_dir)
        return -UL_EISDIR;
    if (stt.size > UL_BCD_MAX_SIZE)
        return -UL_E2BIG;
    size_t size = (size_t)stt.size + slack + 1;
    uint8_t *buf = mem->ops->alloc(mem->ctx, size);
    if (!buf)
        return -UL_ENOMEM;
    r = vol->ops->read(vol->ctx, path, 0, buf, (size_t)stt.size, &got);
    if (r < 0) {
        mem->ops->free(mem->ctx, buf);
        return r;
    }
    *ret = buf;
    *ret_len = got;
    if (ret_size)
        *ret_size = size;
    return 0;
}

int ul_bcd_store_load(const struct ul_volume *vol, const struct ul_mem *mem, const char *path,
                      struct ul_bcd_store *st, struct ul_log *log)
{
    size_t len;
    int r;

    ul_memset(st, 0, sizeof(*st));
    st->mem = mem;
    ul_strlcpy(st->path, path, sizeof(st->path));
    r = read_file(vol, mem, path, UL_BCD_SLACK, &st->buf, &len, &st->size);
    if (r < 0)
        return ul_log_err(log, r, "cannot read the BCD store %s", path);

    r = ul_regf_open(&st->h, st->buf, len, st->size - 1);
    if (r == -UL_ESTALE) {
        /* Dirty after a crash: replay the logs as Windows would (DESIGN §5). */
        struct ul_regf_log_file logs[2] = { { 0 } };
        uint8_t *lbuf[2] = { NULL, NULL };
        struct ul_regf_replay_info info;
        for (int i = 0; i < 2; i++) {
            char lp[160];
            size_t llen = 0;
            path_with(lp, sizeof(lp), path, i == 0 ? ".LOG1" : ".LOG2");
            if (read_file(vol, mem, lp, 0, &lbuf[i], &llen, NULL) == 0) {
                logs[i].data = lbuf[i];
                logs[i].len = llen;
            }
        }
        r = ul_regf_replay(st->buf, &len, st->size - 1, logs, &info);
        for (int i = 0; i < 2; i++)
            if (lbuf[i])
                mem->ops->free(mem->ctx, lbuf[i]);
        if (r < 0) {
            ul_logf(log, UL_LOG_ERROR,
                    "the BCD store %s is dirty and its logs cannot be replayed (%s): not "
                    "editing it", path, info.error ? info.error : ul_strerror(r));
            ul_bcd_store_free(st);
            return -UL_ESTALE;
        }
        ul_logf(log, UL_LOG_NOTICE, "BCD store was dirty: replayed %u log entries (%u pages)",
                info.entries_applied, info.pages_applied);
        st->replayed = true;
        r = ul_regf_open(&st->h, st->buf, len, st->size - 1);
    }
    if (r < 0) {
        ul_logf(log, UL_LOG_ERROR, "the BCD store %s is not a valid hive: %s", path,
                st->h.error ? st->h.error : ul_strerror(r));
        ul_bcd_store_free(st);
        return r;
    }
    return 0;
}

void ul_bcd_store_free(struct ul_bcd_store *st)
{
    if (st->buf && st->mem)
        st->mem->ops->free(st->mem->ctx, st->buf);
    st->buf = NULL;
}

/* Renames stay within one directory: the volume ops promise no more (FAT). */
static int rename_in_dir(const struct ul_volume *vol, const char *from, const char *to)
{
    return vol->ops->rename(vol->ctx, from, to);
}

/*
 * Copy through to.unloop-new and a rename, so that a power cut never leaves
 * a torn file at to: it is the complete copy, the previous one, or absent
 * (a leftover to.unloop-new is removed by the next copy).
 */
static int copy_file(const struct ul_volume *vol, const struct ul_mem *mem, const char *from,
                     const char *to)
{
    char tmp[160];
    uint8_t *buf;
    size_t len;
    int r = read_file(vol, mem, from, 0, &buf, &len, NULL);
    if (r < 0)
        return r;
    path_with(tmp, sizeof(tmp), to, ".unloop-new");
    r = vol->ops->remove(vol->ctx, tmp);
    if (r == 0 || r == -UL_ENOENT)
        r = vol->ops->write(vol->ctx, tmp, 0, buf, len);
    mem->ops->free(mem->ctx, buf);
    if (r == 0) {
        r = vol->ops->remove(vol->ctx, to);
        if (r == 0 || r == -UL_ENOENT)
            r = rename_in_dir(vol, tmp, to);
    }
    if (r < 0)
        vol->ops->remove(vol->ctx, tmp);
    return r;
}

int ul_bcd_store_save(const struct ul_volume *vol, struct ul_bcd_store *st,
                      const char *backup_path, struct ul_log *log)
{
    char newp[160], oldp[160];
    int r;

    path_with(newp, sizeof(newp), st->path, ".unloop-new");
    path_with(oldp, sizeof(oldp), st->path, ".unloop-old");

    if (backup_path) {
        r = copy_file(vol, st->mem, st->path, backup_path);
        if (r < 0)
            return ul_log_err(log, r, "cannot back up %s to %s; BCD not changed", st->path,
                              backup_path);
    }
    ul_regf_commit(&st->h);

    /* 2: the new file, complete and flushed, beside the old one. */
    r = vol->ops->remove(vol->ctx, newp);
    if (r < 0 && r != -UL_ENOENT)
        return ul_log_err(log, r, "cannot remove a stale %s", newp);
    r = vol->ops->write(vol->ctx, newp, 0, st->h.buf, st->h.len);
    if (r < 0) {
        vol->ops->remove(vol->ctx, newp);
        return ul_log_err(log, r, "cannot write %s; BCD not changed", newp);
    }
    /* 3, 4, 5 */
    r = vol->ops->remove(vol->ctx, oldp);
    if (r < 0 && r != -UL_ENOENT)
        return ul_log_err(log, r, "cannot remove a stale %s", oldp);
    r = rename_in_dir(vol, st->path, oldp);
    if (r < 0) {
        vol->ops->remove(vol->ctx, newp);
        return ul_log_err(log, r, "cannot rename %s; BCD not changed", st->path);
    }
    r = rename_in_dir(vol, newp, st->path);
    if (r < 0) {
        /* Put the old one back; if even that fails, the next run's
         * recovery will. */
        int r2 = rename_in_dir(vol, oldp, st->path);
        if (r2 < 0)
            ul_log_err(log, r2, "cannot restore %s (the next run will)", st->path);
        return ul_log_err(log, r, "cannot rename %s into place; BCD not changed", newp);
    }
    r = vol->ops->remove(vol->ctx, oldp);
    if (r < 0)
        ul_log_err(log, r, "cannot remove %s (harmless; the next run will)", oldp);
    return 0;
}

static bool exists(const struct ul_volume *vol, const char *path)
{
    struct ul_stat stt;
    return vol->ops->stat(vol->ctx, path, &stt) == 0 && !stt.is_dir;
}

static bool valid_hive_file(const struct ul_volume *vol, const struct ul_mem *mem,
                            const char *path)
{
    uint8_t *buf;
    size_t len, size;
    struct ul_regf h;
    if (read_file(vol, mem, path, 0, &buf, &len, &size) < 0)
        return false;
    bool ok = ul_regf_open(&h, buf, len, len) == 0;
    mem->ops->free(mem->ctx, buf);
    return ok;
}

int ul_bcd_store_recover(const struct ul_volume *vol, const struct ul_mem *mem,
                         const char *path, struct ul_log *log)
{
    char newp[160], oldp[160];
    path_with(newp, sizeof(newp), path, ".unloop-new");
    path_with(oldp, sizeof(oldp), path, ".unloop-old");

    bool have_new = exists(vol, newp), have_old = exists(vol, oldp);
    if (!have_new && !have_old)
        return 0;
    bool have_cur = exists(vol, path);
    int r;

    if (have_cur) {
        /* Interrupted before step 3 (new may be partial) or after step 4
         * (old is garbage): the current file stands. */
        if (have_new)
            vol->ops->remove(vol->ctx, newp);
        if (have_old)
            vol->ops->remove(vol->ctx, oldp);
        ul_logf(log, UL_LOG_NOTICE, "finished an interrupted BCD update (%s kept)", path);
        return 1;
    }
    /* No BCD: interrupted between steps 3 and 4.  The new file was complete
     * before step 3 began; check it anyway and fall back to the old one. */
    if (have_new && valid_hive_file(vol, mem, newp)) {
        r = rename_in_dir(vol, newp, path);
        if (r == 0) {
            if (have_old)
                vol->ops->remove(vol->ctx, oldp);
            ul_logf(log, UL_LOG_NOTICE, "completed an interrupted BCD update");
            return 1;
        }
    }
    if (have_old) {
        r = rename_in_dir(vol, oldp, path);
        if (r == 0) {
            if (have_new)
                vol->ops->remove(vol->ctx, newp);
            ul_logf(log, UL_LOG_NOTICE, "rolled back an interrupted BCD update");
            return 1;
        }
        return ul_log_err(log, r, "cannot restore %s from %s", path, oldp);
    }
    return ul_log_err(log, -UL_ENOENT, "%s is missing and no complete copy was found", path);
}
