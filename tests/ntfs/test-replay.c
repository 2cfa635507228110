/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * shared/ntfs/ntfs-replay.c ($LogFile replay through ntfsrecover) on real
 * volumes, over a plain file-backed struct ntfs_device_operations, with
 * Debian's own /usr/bin/ntfsrecover, libntfs-3g and ntfsfix as oracles.
 *
 * Volumes, made under build/tests/ntfs/replay/ at test time (run from the top
 * directory):
 *   dfvfs      ../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz, formatted
 *              by Windows, $LogFile wiped (no restart page)
 *   small      made by mkntfs (log wiped too)
 *   Windows logs: NTFS partitions whose $LogFile Windows wrote and left clean,
 *              with hundreds of log records (file creation, index updates,
 *              bitmaps): every file ending in .part.xz in tests/data/ntfs-samples/
 *              (two partitions of msuhanov/ntfs-samples, CC0, Windows 10: see
 *              the README there) and ../shared/testdata/ntfs/, and every
 *              file named in UL_REPLAY_IMAGES (colon-separated; raw, .xz or
 *              .gz).  E.g. the partitions of msuhanov/ntfs-samples (CC0,
 *              Windows 10): ntfs-lastaccess.raw, ntfs-2m.raw (at sector 128).
 *
 * A Windows log is made "crashed" the way Windows leaves it when it dies
 * with the volume mounted: in both restart pages, client 0 in use
 * (client_in_use_list 0, client_free_list none) and the clean flag 0x0002 of
 * the restart area cleared.  Optionally the client's oldest LSN (where the
 * replay starts) is moved back by a number of LSN units, which makes the
 * replay cover more of the log, as after a crash long after a checkpoint.
 * Then the same image goes through ul_ntfs_replay_log() and through Debian's
 * ntfsrecover; when ntfsrecover succeeds both results must be byte-identical
 * and mount read-write without NTFS_MNT_RECOVER; when it fails, ours must
 * fail too and leave the image byte-identical to what it was.
 *
 * Synthetic logs (on dfvfs, always available): Windows-style restart pages
 * written by restart_pages() below, clean (a no-op), unclean with no records
 * (cannot be replayed), version 2.0 (refused), garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/mst.h>
#include <ntfs-3g/volume.h>

#include "ntfs-replay.h"

#define DIR_ "build/tests/ntfs/replay"
#define DFVFS DIR_ "/dfvfs.raw"
#define SMALL DIR_ "/small.raw"
#define A DIR_ "/a.img"     /* ours */
#define B DIR_ "/b.img"     /* Debian's ntfsrecover */
#define A0 DIR_ "/a0.img"   /* the input, to compare */
#define C DIR_ "/c.img"     /* scratch for a read-write mount */
#define MAX_WIN 16

static char *win[MAX_WIN];  /* Windows-log volumes, decompressed */
static int nwin;
static bool have_dfvfs;

/* ---- helpers ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void copy(const char *from, const char *to)
{
    assert_int_equal(sh("cp --sparse=always '%s' '%s'", from, to), 0);
}

static bool same(const char *a, const char *b)
{
    return sh("cmp -s '%s' '%s'", a, b) == 0;
}

static const char *base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* libntfs-3g's messages, kept quiet (the tests look at results). */
static int quiet_log(const char *function, const char *file, int line, u32 level, void *data,
                     const char *format, va_list args)
{
    return 0;
}

/* ---- a file as a libntfs-3g device ---- */

struct fdev {
    const char *path;
    int fd;
    s64 pos;
    unsigned rw_opens;      /* opens for writing */
    unsigned writes;        /* pwrite/write calls */
    unsigned cut_after;     /* 0, or the power fails at this write: it and
                               every later one fail */
};

static int f_open(struct ntfs_device *dev, int flags)
{
    struct fdev *f = dev->d_private;
    bool rw = (flags & O_ACCMODE) != O_RDONLY;
    if (NDevOpen(dev)) {
        errno = EBUSY;
        return -1;
    }
    f->fd = open(f->path, rw ? O_RDWR : O_RDONLY);
    if (f->fd < 0)
        return -1;
    f->pos = 0;
    f->rw_opens += rw;
    if (!rw)
        NDevSetReadOnly(dev);
    NDevSetOpen(dev);
    return 0;
}

static int f_close(struct ntfs_device *dev)
{
    struct fdev *f = dev->d_private;
    NDevClearOpen(dev);
    int r = close(f->fd);
    f->fd = -1;
    return r;
}

static s64 f_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct fdev *f = dev->d_private;
    return pread(f->fd, buf, (size_t)count, offset);
}

static s64 f_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct fdev *f = dev->d_private;
    if (f->cut_after && ++f->writes >= f->cut_after) {
        errno = EIO;
        return -1;
    }
    if (!f->cut_after)
        f->writes++;
    NDevSetDirty(dev);
    return pwrite(f->fd, buf, (size_t)count, offset);
}

static s64 f_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct fdev *f = dev->d_private;
    off_t r = lseek(f->fd, offset, whence);
    if (r >= 0)
        f->pos = r;
    return r;
}

static s64 f_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct fdev *f = dev->d_private;
    s64 n = f_pread(dev, buf, count, f->pos);
    if (n > 0)
        f->pos += n;
    return n;
}

static s64 f_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct fdev *f = dev->d_private;
    s64 n = f_pwrite(dev, buf, count, f->pos);
    if (n > 0)
        f->pos += n;
    return n;
}

static int f_sync(struct ntfs_device *dev)
{
    struct fdev *f = dev->d_private;
    return fsync(f->fd);
}

static int f_stat(struct ntfs_device *dev, struct stat *st)
{
    struct fdev *f = dev->d_private;
    return fstat(f->fd, st);
}

static int f_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct fdev *f = dev->d_private;
    struct stat st;
    switch (request) {
    case BLKGETSIZE64:
        if (fstat(f->fd, &st) < 0)
            return -1;
        *(u64 *)argp = (u64)st.st_size;
        return 0;
    case BLKSSZGET:
        *(int *)argp = 512;
        return 0;
    default:
        errno = EOPNOTSUPP;
        return -1;
    }
}

static struct ntfs_device_operations fdev_ops = {
    .open = f_open, .close = f_close, .seek = f_seek, .read = f_read, .write = f_write,
    .pread = f_pread, .pwrite = f_pwrite, .sync = f_sync, .stat = f_stat, .ioctl = f_ioctl,
};

/* ul_ntfs_replay_log() on an image, the power failing at write cut_after
 * (0: never); stdout and stderr must stay silent. */
static int replay_cut(const char *img, unsigned *n, char *msg, size_t msglen, struct fdev *f,
                      unsigned cut_after)
{
    struct ul_ntfs_dev d = { .name = img, .ops = &fdev_ops, .priv = f };
    *f = (struct fdev){ .path = img, .fd = -1, .cut_after = cut_after };

    char out[] = DIR_ "/out.XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    fflush(stdout);
    fflush(stderr);
    int o1 = dup(1), o2 = dup(2);
    dup2(fd, 1);
    dup2(fd, 2);
    int r = ul_ntfs_replay_log(&d, n, msg, msglen);
    fflush(stdout);
    fflush(stderr);
    dup2(o1, 1);
    dup2(o2, 2);
    close(o1);
    close(o2);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    close(fd);
    unlink(out);
    if (st.st_size)
        fail_msg("ul_ntfs_replay_log() printed %lld bytes", (long long)st.st_size);
    return r;
}

static int replay(const char *img, unsigned *n, char *msg, size_t msglen, struct fdev *f)
{
    return replay_cut(img, n, msg, msglen, f, 0);
}

/* ---- $LogFile on an image ---- */

struct logmap {
    s64 size;
    s64 dev_off[2];     /* device offsets of log pages 0 and 1 (4096 bytes each) */
    s64 dev_rec[2];     /* of pages 2 and 3: the records Windows wrote last */
    bool empty;
    bool clean;
};

/* Where $LogFile's first pages are, and what libntfs-3g thinks of the log. */
static void map_log(const char *img, struct logmap *m)
{
    ntfs_volume *vol = ntfs_mount(img, NTFS_MNT_RDONLY);
    assert_non_null(vol);
    ntfs_inode *ni = ntfs_inode_open(vol, FILE_LogFile);
    assert_non_null(ni);
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    assert_non_null(na);
    m->size = na->data_size;
    for (int i = 0; i < 4; i++) {
        s64 off = (s64)i * 4096;
        LCN lcn = ntfs_attr_vcn_to_lcn(na, off >> vol->cluster_size_bits);
        assert_true(lcn >= 0);
        s64 dev = (lcn << vol->cluster_size_bits) + (off & (vol->cluster_size - 1));
        if (i < 2)
            m->dev_off[i] = dev;
        else
            m->dev_rec[i - 2] = dev;
    }
    RESTART_PAGE_HEADER *rp = NULL;
    bool ok = ntfs_check_logfile(na, &rp);
    m->empty = ok && NVolLogFileEmpty(vol);
    m->clean = ok && ntfs_is_logfile_clean(na, rp);
    free(rp);
    ntfs_attr_close(na);
    ntfs_inode_close(ni);
    ntfs_umount(vol, FALSE);
}

static void page_io(const char *img, s64 off, void *page, bool wr)
{
    int fd = open(img, wr ? O_RDWR : O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = wr ? pwrite(fd, page, 4096, off) : pread(fd, page, 4096, off);
    assert_int_equal(n, 4096);
    close(fd);
}

/* Windows-style restart page (version major.minor): one client "NTFS",
 * in use unless clean; restart area flag 0x0002 = clean. */
static void restart_page(uint8_t *page, s64 log_size, int major, int minor, bool clean)
{
    memset(page, 0, 4096);
    RESTART_PAGE_HEADER *rp = (RESTART_PAGE_HEADER *)page;
    rp->magic = magic_RSTR;
    rp->usa_ofs = cpu_to_le16(0x1e);
    rp->usa_count = cpu_to_le16(4096 / NTFS_BLOCK_SIZE + 1);
    rp->system_page_size = cpu_to_le32(4096);
    rp->log_page_size = cpu_to_le32(4096);
    rp->restart_area_offset = cpu_to_le16(0x30);
    rp->major_ver = cpu_to_sle16(major);
    rp->minor_ver = cpu_to_sle16(minor);
    RESTART_AREA *ra = (RESTART_AREA *)(page + 0x30);
    ra->current_lsn = cpu_to_sle64(0x200000);
    ra->log_clients = cpu_to_le16(1);
    ra->client_free_list = LOGFILE_NO_CLIENT;
    ra->client_in_use_list = clean ? LOGFILE_NO_CLIENT : cpu_to_le16(0);
    ra->flags = clean ? RESTART_VOLUME_IS_CLEAN : cpu_to_le16(0);
    int bits = 0;
    for (u64 s = (u64)log_size; s; s >>= 1)
        bits++;
    ra->seq_number_bits = cpu_to_le32(67 - bits);
    ra->restart_area_length = cpu_to_le16(0x40 + sizeof(LOG_CLIENT_RECORD));
    ra->client_array_offset = cpu_to_le16(0x40);
    ra->file_size = cpu_to_sle64(log_size);
    ra->log_record_header_length = cpu_to_le16(0x30);
    ra->log_page_data_offset = cpu_to_le16(0x40);
    ra->restart_log_open_count = cpu_to_le32(3);
    LOG_CLIENT_RECORD *cr = (LOG_CLIENT_RECORD *)(page + 0x70);
    cr->oldest_lsn = cpu_to_sle64(0x1fff00);
    cr->client_restart_lsn = cpu_to_sle64(0x1fff00);
    cr->prev_client = LOGFILE_NO_CLIENT;
    cr->next_client = LOGFILE_NO_CLIENT;
    cr->client_name_length = cpu_to_le32(8);
    const char *name = "NTFS";
    for (int i = 0; i < 4; i++)
        cr->client_name[i] = cpu_to_le16(name[i]);
    assert_int_equal(ntfs_mst_pre_write_fixup((NTFS_RECORD *)page, 4096), 0);
}

static void write_restart_pages(const char *img, int major, int minor, bool clean)
{
    struct logmap m;
    uint8_t page[4096];
    map_log(img, &m);
    for (int i = 0; i < 2; i++) {
        restart_page(page, m.size, major, minor, clean);
        page_io(img, m.dev_off[i], page, true);
    }
}

/*
 * Windows' restart pages as Windows leaves them after a crash: client 0 in
 * use, the clean flag cleared; oldest LSN moved back by back (0: as is);
 * version set to major.minor if major.
 */
static void crash_log(const char *img, s64 back, int major, int minor)
{
    struct logmap m;
    uint8_t page[4096];
    map_log(img, &m);
    for (int i = 0; i < 2; i++) {
        page_io(img, m.dev_off[i], page, false);
        RESTART_PAGE_HEADER *rp = (RESTART_PAGE_HEADER *)page;
        assert_true(ntfs_is_rstr_record(rp->magic));
        assert_int_equal(ntfs_mst_post_read_fixup((NTFS_RECORD *)page, 4096), 0);
        RESTART_AREA *ra = (RESTART_AREA *)(page + le16_to_cpu(rp->restart_area_offset));
        LOG_CLIENT_RECORD *cr =
            (LOG_CLIENT_RECORD *)((uint8_t *)ra + le16_to_cpu(ra->client_array_offset));
        ra->client_free_list = LOGFILE_NO_CLIENT;
        ra->client_in_use_list = cpu_to_le16(0);
        ra->flags &= ~RESTART_VOLUME_IS_CLEAN;
        cr->oldest_lsn = cpu_to_sle64(sle64_to_cpu(cr->oldest_lsn) - back);
        if (major) {
            rp->major_ver = cpu_to_sle16(major);
            rp->minor_ver = cpu_to_sle16(minor);
        }
        assert_int_equal(ntfs_mst_pre_write_fixup((NTFS_RECORD *)page, 4096), 0);
        page_io(img, m.dev_off[i], page, true);
    }
}

/* Debian's ntfsrecover on img: its exit status; *played from its last line. */
static int oracle(const char *img, unsigned *played, char *last, size_t lastlen)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ntfsrecover '%s' 2>&1", img);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    *played = 0;
    last[0] = 0;
    while (fgets(line, sizeof(line), p)) {
        const char *s = strstr(line, "after playing ");
        if (s)
            *played = (unsigned)strtoul(s + 14, NULL, 10);
        line[strcspn(line, "\n")] = 0;
        if (line[0])
            snprintf(last, lastlen, "%s", line);
    }
    int r = pclose(p);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* libntfs-3g's own verdict: mounts read-write without NTFS_MNT_RECOVER (on a
 * copy: a read-write mount may write). */
static void assert_mounts_rw(const char *img)
{
    struct logmap m;
    map_log(img, &m);
    assert_true(m.clean);
    copy(img, C);
    ntfs_volume *vol = ntfs_mount(C, 0);
    if (!vol)
        fail_msg("%s: libntfs-3g refuses a read-write mount: %s", img, strerror(errno));
    assert_int_equal(ntfs_umount(vol, FALSE), 0);
    assert_int_equal(sh("ntfsfix -n '%s' >/dev/null 2>&1", img), 0);
}

/* ---- setup ---- */

static void add_image(const char *src)
{
    char dst[512];
    const char *b = base(src);
    size_t len = strlen(b);
    int r;

    if (nwin == MAX_WIN)
        return;
    snprintf(dst, sizeof(dst), DIR_ "/win%d-%.*s", nwin, (int)(len > 40 ? 40 : len), b);
    if (len > 3 && !strcmp(b + len - 3, ".xz"))
        r = sh("xz -dc '%s' | cp --sparse=always /dev/stdin '%s'", src, dst);
    else if (len > 3 && !strcmp(b + len - 3, ".gz"))
        r = sh("gzip -dc '%s' | cp --sparse=always /dev/stdin '%s'", src, dst);
    else
        r = sh("cp --sparse=always '%s' '%s'", src, dst);
    if (r != 0) {
        fprintf(stderr, "test-replay: cannot read %s, skipped\n", src);
        return;
    }
    struct logmap m;
    ntfs_volume *vol = ntfs_mount(dst, NTFS_MNT_RDONLY);
    if (!vol) {
        fprintf(stderr, "test-replay: %s is not NTFS, skipped\n", src);
        return;
    }
    ntfs_umount(vol, FALSE);
    map_log(dst, &m);
    if (m.empty || !m.clean) {
        fprintf(stderr, "test-replay: %s: $LogFile %s, skipped (a clean Windows log is "
                        "needed)\n", src, m.empty ? "empty" : "unclean");
        return;
    }
    win[nwin++] = strdup(dst);
}

static int setup(void **state)
{
    (void)state;
    ntfs_log_set_handler(quiet_log);
    assert_int_equal(sh("rm -rf " DIR_ " && mkdir -p " DIR_), 0);
    have_dfvfs = sh("xz -dc ../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz > " DFVFS) == 0;
    if (!have_dfvfs)
        fprintf(stderr, "test-replay: ../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz "
                        "missing\n");
    assert_int_equal(sh("truncate -s 16M " SMALL " && mkntfs -F -Q -q -L small " SMALL
                        " >/dev/null 2>&1"), 0);

    static const char *const globs[] = { "tests/data/ntfs-samples/*.part.xz",
                                         "../shared/testdata/ntfs/*.part.xz" };
    for (size_t k = 0; k < sizeof(globs) / sizeof(globs[0]); k++) {
        glob_t g;
        if (glob(globs[k], 0, NULL, &g) == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++)
                add_image(g.gl_pathv[i]);
            globfree(&g);
        }
    }
    const char *env = getenv("UL_REPLAY_IMAGES");
    if (env) {
        char *list = strdup(env), *save = NULL;
        for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save))
            add_image(p);
        free(list);
    }
    if (!nwin)
        fprintf(stderr, "test-replay: no volume with a Windows-written $LogFile (put "
                        "*.part.xz in tests/data/ntfs-samples/ or name images in "
                        "UL_REPLAY_IMAGES): the replay-of-real-records tests are skipped\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < nwin; i++)
        free(win[i]);
    return 0;
}

/* ---- tests ---- */

/* Nothing to replay: nothing written, not even opened for writing. */
static void assert_noop(const char *img)
{
    struct fdev f;
    char msg[512];
    unsigned n = 99;

    copy(img, A0);
    int r = replay(img, &n, msg, sizeof(msg), &f);
    if (r)
        fail_msg("%s: %d %s", img, r, msg);
    assert_int_equal(n, 0);
    assert_int_equal(f.rw_opens, 0);
    assert_int_equal(f.writes, 0);
    assert_true(same(img, A0));
}

static void test_wiped_log_noop(void **state)
{
    (void)state;
    if (have_dfvfs)
        assert_noop(DFVFS);
    assert_noop(SMALL);
}

static void test_clean_log_noop(void **state)
{
    (void)state;
    for (int i = 0; i < nwin; i++)
        assert_noop(win[i]);
    if (!have_dfvfs)
        skip();
    copy(DFVFS, A);
    write_restart_pages(A, 1, 1, true);
    assert_noop(A);
}

/* One crashed Windows log through both implementations.  Returns true when
 * ntfsrecover succeeded. */
static bool crashed(const char *img, s64 back)
{
    struct fdev f;
    char msg[512], last[512];
    unsigned n = 99, played;

    copy(img, A);
    crash_log(A, back, 0, 0);
    copy(A, A0);
    copy(A, B);

    int r = replay(A, &n, msg, sizeof(msg), &f);
    int rc = oracle(B, &played, last, sizeof(last));
    if (rc == 0) {
        if (r)
            fail_msg("%s -%#llx: ntfsrecover succeeds, ul_ntfs_replay_log() %d: %s", img,
                     (long long)back, r, msg);
        assert_int_equal(n, played);
        if (!same(A, B))
            fail_msg("%s -%#llx: result differs from ntfsrecover's", img, (long long)back);
        assert_false(same(A, A0));
        assert_mounts_rw(A);
        printf("  %s, oldest LSN -%#llx: %u actions played, identical to ntfsrecover's "
               "result, mounts read-write\n", base(img), (long long)back, n);
    } else {
        assert_int_equal(r, -EIO);
        assert_true(msg[0]);
        assert_int_equal(f.rw_opens, 0);
        assert_true(same(A, A0));
        printf("  %s, oldest LSN -%#llx: ntfsrecover fails (\"%s\") and %s the volume; "
               "ul_ntfs_replay_log() %d, nothing written: %s\n", base(img),
               (long long)back, last, same(B, A0) ? "did not change" : "half-replayed",
               r, msg);
    }
    return rc == 0;
}

static void test_crashed_windows_log(void **state)
{
    (void)state;
    if (!nwin)
        skip();
    for (int i = 0; i < nwin; i++) {
        /* As Windows leaves it: must replay. */
        assert_true(crashed(win[i], 0));
        crashed(win[i], 0x1000);
        crashed(win[i], 0x2000);
    }
}

/* The same volume replayed twice in one process, and a second replay of a
 * replayed volume is a no-op. */
static void test_twice(void **state)
{
    (void)state;
    struct fdev f;
    char msg[512];
    unsigned n;

    if (!nwin)
        skip();
    /* an image whose log replays from 0x1000 back (ntfs-2m's does not) */
    int w = -1;
    for (int i = 0; i < nwin && w < 0; i++) {
        copy(win[i], A);
        crash_log(A, 0x1000, 0, 0);
        if (replay(A, &n, msg, sizeof(msg), &f) == 0)
            w = i;
    }
    if (w < 0)
        skip();
    for (int k = 0; k < 2; k++) {
        copy(win[w], A);
        crash_log(A, 0x1000, 0, 0);
        assert_int_equal(replay(A, &n, msg, sizeof(msg), &f), 0);
        assert_true(n > 0);
        if (k == 0)
            copy(A, B);
        else
            assert_true(same(A, B));
    }
    assert_noop(A);
}

/*
 * The power fails at each write the replay makes to the volume in turn; the
 * replay run again afterwards must give the same volume as one that was
 * never cut (the metadata goes first, the $LogFile restart pages last, and
 * redo skips what is already there).
 */
static void test_power_cut(void **state)
{
    (void)state;
    struct fdev f;
    char msg[512];
    unsigned n, writes;

    if (!nwin)
        skip();
    for (int i = 0; i < nwin; i++) {
        copy(win[i], A0);
        crash_log(A0, 0x1000, 0, 0);
        copy(A0, B);
        if (replay(B, &n, msg, sizeof(msg), &f) != 0)
            continue;   /* cannot be replayed (see test_crashed_windows_log) */
        writes = f.writes;
        for (unsigned cut = 1; cut <= writes; cut++) {
            copy(A0, A);
            int r = replay_cut(A, &n, msg, sizeof(msg), &f, cut);
            assert_int_equal(r, -EIO);
            assert_non_null(strstr(msg, "failed after"));
            int r2 = replay(A, &n, msg, sizeof(msg), &f);
            if (r2)
                fail_msg("%s, cut at write %u of %u: the replay run again fails: %s",
                         win[i], cut, writes, msg);
            if (!same(A, B)) {
                copy(A, DIR_ "/cut-then-replayed.img");
                copy(B, DIR_ "/not-cut.img");
                fail_msg("%s, cut at write %u of %u: the replay run again gives another "
                         "volume (" DIR_ "/cut-then-replayed.img, not-cut.img)",
                         win[i], cut, writes);
            }
        }
        printf("  %s: power cut at each of the %u writes, then replayed again: the same "
               "volume each time\n", base(win[i]), writes);
    }
}

static void assert_refused(const char *img, int err)
{
    struct fdev f;
    char msg[512];
    unsigned n = 99;

    copy(img, A0);
    int r = replay(img, &n, msg, sizeof(msg), &f);
    if (r != err)
        fail_msg("%s: expected %d, got %d (%s)", img, err, r, msg);
    assert_true(msg[0]);
    assert_int_equal(f.rw_opens, 0);
    assert_int_equal(f.writes, 0);
    assert_true(same(img, A0));
    printf("  %s: %s\n", base(img), msg);
}

/* Unclean restart pages but no log record at all: cannot be replayed. */
static void test_unclean_no_records(void **state)
{
    (void)state;
    unsigned played;
    char last[512];

    if (!have_dfvfs)
        skip();
    copy(DFVFS, A);
    write_restart_pages(A, 1, 1, false);
    copy(A, B);
    assert_int_not_equal(oracle(B, &played, last, sizeof(last)), 0);
    assert_refused(A, -EIO);
}

/* Version 2.0 (Windows kept metadata cached): refused, as ntfsrecover does. */
static void test_fast_restart_refused(void **state)
{
    (void)state;
    unsigned played;
    char last[512];

    if (have_dfvfs) {
        copy(DFVFS, A);
        write_restart_pages(A, 2, 0, false);
        assert_refused(A, -EPERM);
    }
    for (int i = 0; i < nwin; i++) {
        copy(win[i], A);
        crash_log(A, 0, 2, 0);
        copy(A, B);
        assert_int_not_equal(oracle(B, &played, last, sizeof(last)), 0);
        assert_refused(A, -EPERM);
    }
}

/* Restart pages that are garbage: refused. */
static void test_corrupt_restart_pages(void **state)
{
    (void)state;
    struct logmap m;
    uint8_t page[4096];

    const char *img = have_dfvfs ? DFVFS : nwin ? win[0] : NULL;
    if (!img)
        skip();
    copy(img, A);
    if (have_dfvfs)
        write_restart_pages(A, 1, 1, false);
    else
        crash_log(A, 0, 0, 0);
    map_log(A, &m);
    for (int i = 0; i < 2; i++) {
        page_io(A, m.dev_off[i], page, false);
        for (int k = 8; k < 4096; k += 7)
            page[k] ^= 0x5a;
        page_io(A, m.dev_off[i], page, true);
    }
    assert_refused(A, -EIO);
}

/* A crashed Windows log whose latest record pages are garbage. */
static void test_garbage_records(void **state)
{
    (void)state;
    struct logmap m;
    uint8_t page[4096];
    unsigned played;
    char last[512];

    if (!nwin)
        skip();
    for (int i = 0; i < nwin; i++) {
        copy(win[i], A);
        crash_log(A, 0, 0, 0);
        map_log(A, &m);
        for (int k = 0; k < 2; k++) {
            page_io(A, m.dev_rec[k], page, false);
            for (int j = 64; j < 4096; j += 3)
                page[j] = (uint8_t)(j * 37);
            page_io(A, m.dev_rec[k], page, true);
        }
        copy(A, B);
        int rc = oracle(B, &played, last, sizeof(last));
        if (rc == 0) {
            /* ntfsrecover found the records elsewhere: same result expected */
            struct fdev f;
            char msg[512];
            unsigned n;
            assert_int_equal(replay(A, &n, msg, sizeof(msg), &f), 0);
            assert_true(same(A, B));
            printf("  %s, garbage in log pages 2-3: ntfsrecover still replays (%u), "
                   "identical\n", base(win[i]), n);
        } else {
            assert_refused(A, -EIO);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wiped_log_noop),
        cmocka_unit_test(test_clean_log_noop),
        cmocka_unit_test(test_crashed_windows_log),
        cmocka_unit_test(test_twice),
        cmocka_unit_test(test_power_cut),
        cmocka_unit_test(test_unclean_no_records),
        cmocka_unit_test(test_fast_restart_refused),
        cmocka_unit_test(test_corrupt_restart_pages),
        cmocka_unit_test(test_garbage_records),
    };
    return cmocka_run_group_tests_name("ntfs-replay", tests, setup, teardown);
}
