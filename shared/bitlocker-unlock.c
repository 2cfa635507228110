/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bitlocker-unlock.h"

#include "bitlocker-keys.h"
#include "bitlocker.h"
#include "string-util.h"
#include "ul-errno.h"

/* Key files larger than this are not key files (an AD export of 10,000
 * machines is about 2 MiB; sites split them per OU). */
#define KEY_FILE_MAX (4u * 1024 * 1024)
#define BEK_MAX 4096
#define DIR_MAX_FILES 64
#define NAME_MAX_LEN 128

#define PATH_MAX_LEN 320

static void wipe(void *p, size_t n)
{
    ul_explicit_bzero(p, n);
}

static void short_id(const struct ul_guid *g, char out[9])
{
    char s[UL_GUID_STR_LEN + 1];
    ul_guid_format(g, s);
    for (int i = 0; i < 8; i++)
        out[i] = s[i] >= 'a' && s[i] <= 'f' ? (char)(s[i] - 'a' + 'A') : s[i];
    out[8] = 0;
}

void ul_bitlocker_describe_protectors(const struct ul_bitlocker *bl, char *out, size_t size)
{
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    size_t n = 0;

    if (size)
        out[0] = 0;
    for (uint32_t i = 0; i < in->n_protectors && n + 1 < size; i++) {
        const struct ul_bitlocker_protector *p = &in->protectors[i];
        char id[9];
        short_id(&p->guid, id);
        n += ul_snprintf(out + n, size - n, "%s%s %s", i ? ", " : "",
                                 ul_bitlocker_protector_name(p->type), id);
    }
    if (size && !in->n_protectors)
        ul_strlcpy(out, "none", size);
}

static bool has_protector(const struct ul_bitlocker *bl, uint16_t type)
{
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    for (uint32_t i = 0; i < in->n_protectors; i++)
        if (in->protectors[i].type == type)
            return true;
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = ul_strlen(s), b = ul_strlen(suffix);
    return a >= b && ul_strcasecmp(s + a - b, suffix) == 0;
}

/* The files to try, as full paths on dir_vol. */
struct names {
    const char *dir;
    uint32_t n;
    char name[DIR_MAX_FILES + 1][PATH_MAX_LEN];
};

static int collect(void *arg, const char *name, const struct ul_stat *st)
{
    struct names *nm = arg;
    if (st->is_dir || ul_strlen(name) >= NAME_MAX_LEN || nm->n == DIR_MAX_FILES + 1)
        return 0;
    ul_snprintf(nm->name[nm->n++], PATH_MAX_LEN, "%s\\%s", nm->dir, name);
    return 0;
}

/* Reads a whole file of the key folder into memory from mem; the caller
 * wipes and frees it.  0, -UL_E2BIG past max, or the volume's error. */
static int read_whole(const struct ul_bitlocker_keysrc *src, const char *path, size_t max,
                      uint8_t **ret, size_t *ret_len)
{
    struct ul_stat st;
    size_t got = 0;
    int r = src->dir_vol->ops->stat(src->dir_vol->ctx, path, &st);

    *ret = NULL;
    if (r < 0)
        return r;
    if (st.size > max)
        return -UL_E2BIG;
    uint8_t *buf = src->mem->ops->alloc(src->mem->ctx, (size_t)st.size + 1);
    if (!buf)
        return -UL_ENOMEM;
    r = src->dir_vol->ops->read(src->dir_vol->ctx, path, 0, buf, (size_t)st.size, &got);
    if (r < 0) {
        wipe(buf, (size_t)st.size);
        src->mem->ops->free(src->mem->ctx, buf);
        return r;
    }
    *ret = buf;
    *ret_len = got;
    return 0;
}

static void free_secret(const struct ul_bitlocker_keysrc *src, uint8_t *buf, size_t len)
{
    if (!buf)
        return;
    wipe(buf, len);
    src->mem->ops->free(src->mem->ctx, buf);
}

struct tries {
    bool found_any;             /* a key for this volume was found (right or wrong) */
    int last_err;
};

/* Note a failed unlock: say why in the log (no key material in it). */
static void note_failure(const struct ul_bitlocker_keysrc *src, struct tries *t, const char *volume,
                         const char *what, int r, const char *why)
{
    if (r == -UL_ENOENT)
        return;         /* not a key for this volume */
    t->found_any = true;
    t->last_err = r;
    ul_logf(src->log, UL_LOG_WARNING, "%s: %s: %s", volume, what,
            r == -UL_EACCES ? "the key does not unlock this volume (wrong key)"
                            : why ? why : ul_strerror(r));
}

static int try_bek_files(struct ul_bitlocker *bl, const struct ul_bitlocker_keysrc *src,
                         const struct names *nm, const char *volume,
                         struct ul_bitlocker_unlocked *ret, struct tries *t)
{
    for (uint32_t i = 0; i < nm->n; i++) {
        const char *path = nm->name[i];
        if (!ends_with(path, ".BEK"))
            continue;
        uint8_t *buf;
        size_t len = 0;
        int r = read_whole(src, path, BEK_MAX, &buf, &len);
        if (r < 0) {
            ul_logf(src->log, UL_LOG_WARNING, "cannot read %s: %s", path, ul_strerror(r));
            continue;
        }
        const char *why = NULL;
        int prot = -1;
        r = ul_bitlocker_unlock_bek(bl, buf, len, &prot, &why);
        free_secret(src, buf, len);
        if (r == 0) {
            ret->protector = prot;
            ul_strlcpy(ret->source, path, sizeof(ret->source));
            return 0;
        }
        if (r == -UL_EINVAL) {
            ul_logf(src->log, UL_LOG_WARNING, "%s is not a BitLocker startup key: %s", path,
                    why ? why : "malformed");
            continue;
        }
        note_failure(src, t, volume, path, r, why);
    }
    return -UL_ENOENT;
}

static int try_key_files(struct ul_bitlocker *bl, const struct ul_bitlocker_keysrc *src,
                         const struct names *nm, const char *volume,
                         struct ul_bitlocker_unlocked *ret, struct tries *t)
{
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    struct ul_guid ids[UL_BITLOCKER_MAX_PROTECTORS];
    size_t n_ids = 0;

    for (uint32_t i = 0; i < in->n_protectors; i++)
        if (in->protectors[i].type == UL_BITLOCKER_PROT_RECOVERY_PASSWORD)
            ids[n_ids++] = in->protectors[i].guid;
    if (!n_ids)
        return -UL_ENOENT;
    for (uint32_t i = 0; i < nm->n; i++) {
        const char *path = nm->name[i];
        if (ends_with(path, ".BEK"))
            continue;
        uint8_t *buf;
        size_t len = 0;
        int r = read_whole(src, path, KEY_FILE_MAX, &buf, &len);
        if (r < 0) {
            ul_logf(src->log, UL_LOG_WARNING, "cannot read %s: %s", path,
                    r == -UL_E2BIG ? "larger than 4 MiB, not a key file" : ul_strerror(r));
            continue;
        }
        char pw[UL_BITLOCKER_RP_SIZE];
        size_t which = 0;
        struct ul_bitlocker_keys_diag diag;
        r = ul_bitlocker_keys_find(buf, len, ids, n_ids, pw, &which, &diag);
        free_secret(src, buf, len);
        if (r == -UL_EINVAL) {
            ul_logf(src->log, UL_LOG_INFO, "%s is not a key file (ignored)", path);
            continue;
        }
        if (r < 0) {
            /* No usable key for this volume in it; a mistyped one is worth
             * saying (the note names the line and group, never digits). */
            if (diag.have_refused_match) {
                char note[200];
                ul_bitlocker_keys_note_format(&diag.refused_match, note, sizeof(note));
                ul_logf(src->log, UL_LOG_WARNING, "%s: %s", path, note);
                t->found_any = true;
                t->last_err = -UL_EACCES;
            }
            continue;
        }
        const char *why = NULL;
        int prot = -1;
        r = ul_bitlocker_unlock_recovery_password(bl, pw, &prot, &why);
        wipe(pw, sizeof(pw));
        if (r == 0) {
            ret->protector = prot;
            ul_strlcpy(ret->source, path, sizeof(ret->source));
            return 0;
        }
        char what[PATH_MAX_LEN + 64], id[9];
        short_id(&ids[which], id);
        ul_snprintf(what, sizeof(what), "%s, recovery password for protector %s", path, id);
        note_failure(src, t, volume, what, r == -UL_ENOENT ? -UL_EACCES : r, why);
    }
    return -UL_ENOENT;
}

static int try_prompt(struct ul_bitlocker *bl, const struct ul_bitlocker_keysrc *src,
                      const char *volume, struct ul_bitlocker_unlocked *ret, struct tries *t)
{
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    struct ul_rp_prompt p = { .volume = volume, .timeout_s = src->prompt_timeout };
    uint32_t tries = src->prompt_tries ? src->prompt_tries : 3;
    bool any = false;

    for (uint32_t i = 0; i < in->n_protectors && !any; i++)
        if (in->protectors[i].type == UL_BITLOCKER_PROT_RECOVERY_PASSWORD) {
            p.protector = in->protectors[i].guid;
            any = true;
        }
    if (!any || !src->prompt)
        return -UL_ENOENT;
    for (uint32_t n = 0; n < tries; n++) {
        char pw[UL_BITLOCKER_RP_SIZE];
        int r = src->prompt(src->prompt_ctx, &p, pw);
        if (r < 0) {
            wipe(pw, sizeof(pw));
            ul_logf(src->log, UL_LOG_NOTICE, "%s: %s", volume,
                    r == -UL_ECANCELED ? "no recovery password typed (skipped or timed out)"
                                       : "the recovery password prompt failed");
            return -UL_ENOENT;
        }
        const char *why = NULL;
        int prot = -1;
        r = ul_bitlocker_unlock_recovery_password(bl, pw, &prot, &why);
        wipe(pw, sizeof(pw));
        if (r == 0) {
            ret->protector = prot;
            ul_strlcpy(ret->source, "recovery password typed at the prompt",
                       sizeof(ret->source));
            return 0;
        }
        note_failure(src, t, volume, "typed recovery password", r == -UL_ENOENT ? -UL_EACCES : r,
                     why);
        p.retry = r == -UL_EACCES || r == -UL_ENOENT
                      ? "That recovery password does not unlock this drive."
                      : "That recovery password could not be used (see the log).";
    }
    return -UL_EACCES;
}

int ul_bitlocker_unlock_auto(struct ul_bitlocker *bl, const struct ul_bitlocker_keysrc *src,
                             const char *volume, struct ul_bitlocker_unlocked *ret,
                             char *whybuf, size_t whylen, const char **ret_why)
{
    struct ul_bitlocker_unlocked local;
    struct tries t = { 0 };
    struct names *nm = NULL;
    const char *why = NULL;
    int r;

    if (!ret)
        ret = &local;
    ul_memset(ret, 0, sizeof(*ret));
    ret->protector = -1;

    /* 1. Protection suspended: the VMK is stored in the clear. */
    if (has_protector(bl, UL_BITLOCKER_PROT_CLEAR_KEY)) {
        r = ul_bitlocker_unlock_clear_key(bl, &ret->protector, &why);
        if (r == 0) {
            ul_strlcpy(ret->source, "clear key (BitLocker protection is suspended)",
                       sizeof(ret->source));
            return 0;
        }
        note_failure(src, &t, volume, "clear key", r, why);
    }

    /* 2. and 3. The key file named, then the key folder. */
    bool have_dir = src->key_dir && src->key_dir[0];
    if (src->dir_vol && (have_dir || (src->key_file && src->key_file[0]))) {
        nm = src->mem->ops->alloc(src->mem->ctx, sizeof(*nm));
        if (!nm)
            return -UL_ENOMEM;
        if (src->key_file && src->key_file[0])
            ul_strlcpy(nm->name[nm->n++], src->key_file, PATH_MAX_LEN);
        nm->dir = src->key_dir;
        r = !have_dir                ? 0
            : src->dir_vol->ops->list ? src->dir_vol->ops->list(src->dir_vol->ctx, src->key_dir,
                                                                collect, nm)
                                      : -UL_EOPNOTSUPP;
        if (r < 0 && r != -UL_ENOENT)
            ul_logf(src->log, UL_LOG_WARNING, "cannot list the key folder %s: %s", src->key_dir,
                    ul_strerror(r));
        r = try_bek_files(bl, src, nm, volume, ret, &t);
        if (r != 0)
            r = try_key_files(bl, src, nm, volume, ret, &t);
        src->mem->ops->free(src->mem->ctx, nm);
        if (r == 0)
            return 0;
    }

    /* 4. A person. */
    r = try_prompt(bl, src, volume, ret, &t);
    if (r == 0)
        return 0;

    char prots[160];
    ul_bitlocker_describe_protectors(bl, prots, sizeof(prots));
    if (t.found_any) {
        ul_snprintf(whybuf, whylen, "BitLocker: the keys found do not unlock it (protectors: %s)",
                    prots);
        *ret_why = whybuf;
        return t.last_err == -UL_EACCES || t.last_err == 0 ? -UL_EACCES : t.last_err;
    }
    ul_snprintf(whybuf, whylen, "BitLocker-encrypted and no key for it in %s (protectors: %s)",
                src->key_dir && src->key_dir[0] ? src->key_dir : "the key folder", prots);
    *ret_why = whybuf;
    return -UL_ENOENT;
}
