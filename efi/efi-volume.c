/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Volume ops over EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (the FAT driver of the firmware). */
#include "efi-util.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID sfs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
static EFI_GUID file_info_guid = EFI_FILE_INFO_ID;

#define PATH16_MAX 260

int ul_efi_volume_open(EFI_HANDLE device, struct ul_efi_volume *vol)
{
    EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *sfs = NULL;
    EFI_STATUS st;

    vol->root = NULL;
    st = BS->HandleProtocol(device, &sfs_guid, (void **)&sfs);
    if (EFI_ERROR(st))
        return ul_efi_err(st);
    st = sfs->OpenVolume(sfs, &vol->root);
    return EFI_ERROR(st) ? ul_efi_err(st) : 0;
}

void ul_efi_volume_close(struct ul_efi_volume *vol)
{
    if (vol->root)
        vol->root->Close(vol->root);
    vol->root = NULL;
}

static int open_path(struct ul_efi_volume *vol, const char *path, UINT64 mode, UINT64 attrs,
                     EFI_FILE_PROTOCOL **ret)
{
    CHAR16 p16[PATH16_MAX];
    if (ul_strlen(path) >= PATH16_MAX)
        return -UL_ENAMETOOLONG;
    ul_ascii_to_16(path, p16, PATH16_MAX);
    EFI_STATUS st = vol->root->Open(vol->root, ret, p16, mode, attrs);
    return EFI_ERROR(st) ? ul_efi_err(st) : 0;
}

/* EFI_FILE_INFO with room for a long name. */
union file_info_buf {
    EFI_FILE_INFO info;
    UINT8 raw[sizeof(EFI_FILE_INFO) + PATH16_MAX * sizeof(CHAR16)];
};

static int get_info(EFI_FILE_PROTOCOL *f, union file_info_buf *buf)
{
    UINTN size = sizeof(*buf);
    EFI_STATUS st = f->GetInfo(f, &file_info_guid, &size, buf);
    return EFI_ERROR(st) ? ul_efi_err(st) : 0;
}

static int v_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    EFI_FILE_PROTOCOL *f;
    union file_info_buf info;
    int r;

    *ret_read = 0;
    r = open_path(ctx, path, EFI_FILE_MODE_READ, 0, &f);
    if (r < 0)
        return r;
    r = get_info(f, &info);
    if (r == 0 && (info.info.Attribute & EFI_FILE_DIRECTORY))
        r = -UL_EISDIR;
    if (r == 0 && off < info.info.FileSize) {
        EFI_STATUS st = f->SetPosition(f, off);
        UINTN n = len;
        if (!EFI_ERROR(st))
            st = f->Read(f, &n, buf);
        if (EFI_ERROR(st))
            r = ul_efi_err(st);
        else
            *ret_read = n;
    }
    f->Close(f);
    return r;
}

static int v_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    static const UINT8 zeros[512];
    EFI_FILE_PROTOCOL *f;
    union file_info_buf info;
    EFI_STATUS st = EFI_SUCCESS;
    int r;

    r = open_path(ctx, path, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE, 0,
                  &f);
    if (r < 0)
        return r;
    r = get_info(f, &info);
    if (r == 0 && (info.info.Attribute & EFI_FILE_DIRECTORY))
        r = -UL_EISDIR;
    if (r == 0) {
        /* Fill a gap past the end with zeros: the spec leaves its content open. */
        UINT64 size = info.info.FileSize;
        st = f->SetPosition(f, size < off ? size : off);
        while (!EFI_ERROR(st) && size < off) {
            UINTN n = off - size < sizeof(zeros) ? (UINTN)(off - size) : sizeof(zeros);
            st = f->Write(f, &n, (void *)zeros);
            size += n;
        }
        if (!EFI_ERROR(st)) {
            UINTN n = len;
            st = f->Write(f, &n, (void *)buf);
            if (!EFI_ERROR(st) && n != len)
                st = EFI_VOLUME_FULL;
        }
        if (!EFI_ERROR(st))
            st = f->Flush(f);
        if (EFI_ERROR(st))
            r = ul_efi_err(st);
    }
    EFI_STATUS cst = f->Close(f);
    if (r == 0 && EFI_ERROR(cst))
        r = ul_efi_err(cst);
    return r;
}

static int v_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    EFI_FILE_PROTOCOL *f;
    union file_info_buf info;
    int r = open_path(ctx, path, EFI_FILE_MODE_READ, 0, &f);
    if (r < 0)
        return r;
    r = get_info(f, &info);
    if (r == 0) {
        ret->size = info.info.FileSize;
        ret->is_dir = (info.info.Attribute & EFI_FILE_DIRECTORY) != 0;
    }
    f->Close(f);
    return r;
}

static int v_mkdir(void *ctx, const char *path)
{
    EFI_FILE_PROTOCOL *f;
    int r = open_path(ctx, path, EFI_FILE_MODE_READ, 0, &f);
    if (r == 0) {
        f->Close(f);
        return -UL_EEXIST;
    }
    r = open_path(ctx, path, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE | EFI_FILE_MODE_CREATE,
                  EFI_FILE_DIRECTORY, &f);
    if (r == 0)
        f->Close(f);
    return r;
}

static int v_rename(void *ctx, const char *from, const char *to)
{
    EFI_FILE_PROTOCOL *f;
    union file_info_buf info;
    const char *base = to;
    int r;

    r = open_path(ctx, to, EFI_FILE_MODE_READ, 0, &f);
    if (r == 0) {
        f->Close(f);
        return -UL_EEXIST;
    }
    for (const char *p = to; *p; p++)
        if (*p == '\\')
            base = p + 1;
    if (ul_strlen(base) >= PATH16_MAX)
        return -UL_ENAMETOOLONG;
    r = open_path(ctx, from, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE, 0, &f);
    if (r < 0)
        return r;
    r = get_info(f, &info);
    if (r == 0) {
        /* A bare name renames within the file's directory (UEFI spec,
         * EFI_FILE_PROTOCOL.SetInfo; the core only renames in place). */
        ul_ascii_to_16(base, info.info.FileName, PATH16_MAX);
        info.info.Size = sizeof(EFI_FILE_INFO) + (ul_strlen(base) + 1) * sizeof(CHAR16);
        EFI_STATUS st = f->SetInfo(f, &file_info_guid, info.info.Size, &info.info);
        if (!EFI_ERROR(st))
            st = f->Flush(f);
        if (EFI_ERROR(st))
            r = ul_efi_err(st);
    }
    f->Close(f);
    return r;
}

static int v_remove(void *ctx, const char *path)
{
    EFI_FILE_PROTOCOL *f;
    int r = open_path(ctx, path, EFI_FILE_MODE_READ | EFI_FILE_MODE_WRITE, 0, &f);
    if (r < 0)
        return r;
    /* Delete closes the handle, whatever it returns. */
    EFI_STATUS st = f->Delete(f);
    return st == EFI_SUCCESS ? 0 : -UL_EIO;
}

/* Entries of a directory: names as UTF-8 (UCS-2 from the FAT driver). */
static int v_list(void *ctx, const char *dir, ul_list_cb cb, void *arg)
{
    EFI_FILE_PROTOCOL *f;
    union file_info_buf info;
    char name[PATH16_MAX * 3];
    int r = open_path(ctx, dir, EFI_FILE_MODE_READ, 0, &f);
    if (r < 0)
        return r;
    r = get_info(f, &info);
    if (r == 0 && !(info.info.Attribute & EFI_FILE_DIRECTORY))
        r = -UL_EINVAL;
    while (r == 0) {
        UINTN size = sizeof(info);
        EFI_STATUS st = f->Read(f, &size, &info);
        if (EFI_ERROR(st)) {
            r = ul_efi_err(st);
            break;
        }
        if (size == 0)
            break;      /* the end of the directory */
        size_t n = 0;
        for (const CHAR16 *c = info.info.FileName; *c && n + 4 < sizeof(name); c++) {
            uint32_t u = *c;
            if (u < 0x80) {
                name[n++] = (char)u;
            } else if (u < 0x800) {
                name[n++] = (char)(0xC0 | u >> 6);
                name[n++] = (char)(0x80 | (u & 0x3F));
            } else {
                name[n++] = (char)(0xE0 | u >> 12);
                name[n++] = (char)(0x80 | ((u >> 6) & 0x3F));
                name[n++] = (char)(0x80 | (u & 0x3F));
            }
        }
        name[n] = 0;
        if (!ul_strcmp(name, ".") || !ul_strcmp(name, ".."))
            continue;
        struct ul_stat st8 = { .size = info.info.FileSize,
                               .is_dir = (info.info.Attribute & EFI_FILE_DIRECTORY) != 0 };
        r = cb(arg, name, &st8);
    }
    f->Close(f);
    return r;
}

const struct ul_volume_ops ul_efi_volume_ops = {
    .list = v_list,
    .read = v_read,
    .write = v_write,
    .stat = v_stat,
    .mkdir = v_mkdir,
    .rename = v_rename,
    .remove = v_remove,
};
