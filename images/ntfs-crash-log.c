/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ntfs-crash-log - make an NTFS volume image look like Windows died with it
 * mounted (a blue screen): its $LogFile restart area says "in use, not
 * clean", so Windows (and unloop) must replay the log before writing.
 *
 *   ntfs-crash-log NTFS.img [BACK]
 *
 * In both restart pages of $LogFile: client 0 in use (client_in_use_list 0,
 * client_free_list none) and the restart area's clean flag (0x0002) cleared,
 * each page's update sequence array re-applied.  BACK (a number of LSN
 * units, default 0) moves the client's oldest LSN back, so that the replay
 * covers more of the records Windows wrote, as after a crash long after a
 * checkpoint.
 *
 * The volume must have restart pages, i.e. a log Windows wrote (mkntfs and
 * ntfs-3g leave it wiped): otherwise exit 1 with a message.  Nothing but the
 * two restart pages is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/mst.h>
#include <ntfs-3g/volume.h>

static int fail(const char *img, const char *what)
{
    fprintf(stderr, "ntfs-crash-log: %s: %s\n", img, what);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: ntfs-crash-log NTFS.img [BACK]\n");
        return 2;
    }
    const char *img = argv[1];
    long long back = argc == 3 ? strtoll(argv[2], NULL, 0) : 0;

    ntfs_log_set_handler(ntfs_log_handler_null);
    /* FORENSIC: read-write without libntfs-3g's own $LogFile checks */
    ntfs_volume *vol = ntfs_mount(img, NTFS_MNT_FORENSIC);
    if (!vol)
        return fail(img, strerror(errno));
    ntfs_inode *ni = ntfs_inode_open(vol, FILE_LogFile);
    ntfs_attr *na = ni ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    int rc = 0;
    if (!na) {
        rc = fail(img, "cannot open $LogFile");
        goto out;
    }
    for (s64 off = 0; off < 2 * 4096 && rc == 0; off += 4096) {
        static u8 page[4096];
        if (ntfs_attr_pread(na, off, sizeof(page), page) != (s64)sizeof(page)) {
            rc = fail(img, "cannot read a restart page");
            break;
        }
        RESTART_PAGE_HEADER *rp = (RESTART_PAGE_HEADER *)page;
        if (!ntfs_is_rstr_record(rp->magic) || le32_to_cpu(rp->system_page_size) != 4096 ||
            ntfs_mst_post_read_fixup((NTFS_RECORD *)page, sizeof(page))) {
            rc = fail(img, "no valid restart page (a wiped log: mkntfs or ntfs-3g made it)");
            break;
        }
        RESTART_AREA *ra = (RESTART_AREA *)(page + le16_to_cpu(rp->restart_area_offset));
        LOG_CLIENT_RECORD *cr =
            (LOG_CLIENT_RECORD *)((u8 *)ra + le16_to_cpu(ra->client_array_offset));
        ra->client_free_list = LOGFILE_NO_CLIENT;
        ra->client_in_use_list = cpu_to_le16(0);
        ra->flags &= ~RESTART_VOLUME_IS_CLEAN;
        cr->oldest_lsn = cpu_to_sle64(sle64_to_cpu(cr->oldest_lsn) - back);
        if (ntfs_mst_pre_write_fixup((NTFS_RECORD *)page, sizeof(page)) ||
            ntfs_attr_pwrite(na, off, sizeof(page), page) != (s64)sizeof(page))
            rc = fail(img, "cannot write a restart page");
    }
out:
    if (na)
        ntfs_attr_close(na);
    if (ni)
        ntfs_inode_close(ni);
    if (ntfs_umount(vol, FALSE) && rc == 0)
        rc = fail(img, strerror(errno));
    return rc;
}
