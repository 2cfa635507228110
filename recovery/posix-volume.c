/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "posix-volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ul_posix_volume_open(struct ul_posix_volume *vol, const char *dir)
{
    struct stat st;
    if (strlen(dir) >= sizeof(vol->root) - 1)
        return -ENAMETOOLONG;
    if (stat(dir, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    snprintf(vol->root, sizeof(vol->root), "%s", dir);
    size_t n = strlen(vol->root);
    while (n > 1 && vol->root[n - 1] == '/')
        vol->root[--n] = 0;
    return 0;
}

/* Append one component, using the spelling that exists in the directory. */
static int append_component(char *out, size_t size, const char *comp, size_t len)
{
    size_t n = strlen(out);
    char name[NAME_MAX + 1];
    struct stat st;

    if (len == 0 || len > NAME_MAX)
        return len ? -ENAMETOOLONG : -EINVAL;
    if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
        return -EINVAL; /* never leave the volume */
    memcpy(name, comp, len);
    name[len] = 0;
    if (n + 1 + len + 1 > size)
        return -ENAMETOOLONG;
    snprintf(out + n, size - n, "/%s", name);
    if (lstat(out, &st) == 0 || errno != ENOENT)
        return 0;
    out[n] = 0;
    DIR *d = opendir(n ? out : "/");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcasecmp(e->d_name, name) == 0) {
                snprintf(name, sizeof(name), "%s", e->d_name);
                break;
            }
        }
        closedir(d);
    }
    snprintf(out + n, size - n, "/%s", name);
    return 0;
}

int ul_posix_volume_resolve(struct ul_posix_volume *vol, const char *path, char *out, size_t size)
{
    if (strlen(vol->root) >= size)
        return -ENAMETOOLONG;
    strcpy(out, vol->root);
    if (strcmp(out, "/") == 0)
        out[0] = 0;
    const char *p = path;
    while (*p) {
        while (*p == '\\' || *p == '/')
            p++;
        const char *s = p;
        while (*p && *p != '\\' && *p != '/')
            p++;
        if (p > s) {
            int r = append_component(out, size, s, (size_t)(p - s));
            if (r < 0)
                return r;
        }
    }
    if (!out[0])
        strcpy(out, "/");
    return 0;
}

static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *(slash == dir ? slash + 1 : slash) = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
    close(fd);
    return r;
}

static int v_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    char p[PATH_MAX];
    int r = ul_posix_volume_resolve(ctx, path, p, sizeof(p));
    *ret_read = 0;
    if (r < 0)
        return r;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    *ret_read = got;
    return r;
}

static int v_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    char p[PATH_MAX];
    struct stat st;
    int r = ul_posix_volume_resolve(ctx, path, p, sizeof(p));
    if (r < 0)
        return r;
    bool created = lstat(p, &st) < 0;
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        done += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && created)
        r = fsync_parent(p);
    return r;
}

static int v_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    char p[PATH_MAX];
    struct stat st;
    int r = ul_posix_volume_resolve(ctx, path, p, sizeof(p));
    if (r < 0)
        return r;
    if (stat(p, &st) < 0)
        return -errno;
    ret->size = (uint64_t)st.st_size;
    ret->is_dir = S_ISDIR(st.st_mode);
    return 0;
}

static int v_mkdir(void *ctx, const char *path)
{
    char p[PATH_MAX];
    int r = ul_posix_volume_resolve(ctx, path, p, sizeof(p));
    if (r < 0)
        return r;
    if (mkdir(p, 0755) < 0)
        return -errno;
    return fsync_parent(p);
}

static int v_rename(void *ctx, const char *from, const char *to)
{
    char a[PATH_MAX], b[PATH_MAX];
    struct stat st;
    int r = ul_posix_volume_resolve(ctx, from, a, sizeof(a));
    if (r == 0)
        r = ul_posix_volume_resolve(ctx, to, b, sizeof(b));
    if (r < 0)
        return r;
    if (lstat(b, &st) == 0)
        return -EEXIST;
    if (rename(a, b) < 0)
        return -errno;
    return fsync_parent(b);
}

static int v_remove(void *ctx, const char *path)
{
    char p[PATH_MAX];
    int r = ul_posix_volume_resolve(ctx, path, p, sizeof(p));
    if (r < 0)
        return r;
    if (unlink(p) < 0)
        return -errno;
    return fsync_parent(p);
}

const struct ul_volume_ops ul_posix_volume_ops = {
    .read = v_read,
    .write = v_write,
    .stat = v_stat,
    .mkdir = v_mkdir,
    .rename = v_rename,
    .remove = v_remove,
};

/* The OS clock is UTC, unlike the firmware's RTC (DESIGN §2). */
static int clock_now(void *ctx, struct ul_time *ret)
{
    struct timespec ts;
    (void)ctx;
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
        return -errno;
    ret->secs = ts.tv_sec;
    ret->tz = 0;
    ret->valid = true;
    return 0;
}

const struct ul_clock_ops ul_posix_clock_ops = { .now = clock_now };

/* The ESP's mount point: given, else $UNLOOP_ESP, else the first of /boot/efi,
 * /efi and /boot that holds an EFI directory; NULL if none does. */
const char *ul_posix_find_esp(const char *given)
{
    static const char *const candidates[] = { "/boot/efi", "/efi", "/boot" };
    char buf[64];
    struct stat st;

    if (given)
        return given;
    const char *env = getenv("UNLOOP_ESP");
    if (env && *env)
        return env;
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        snprintf(buf, sizeof(buf), "%s/EFI", candidates[i]);
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
            return candidates[i];
    }
    return NULL;
}
