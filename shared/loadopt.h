/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Firmware boot entries, read from untrusted bytes: an EFI_LOAD_OPTION
 * (the data of a Boot#### variable, UEFI 2.10 spec 3.1.3 "Load Options"),
 * the device path nodes of its FilePathList (spec 10.3), and BootOrder
 * (an array of UINT16, spec 3.3).  Freestanding: no allocation; the parsed
 * option points into the caller's buffer.  unloop.efi uses it to find the
 * Windows Boot Manager's Boot#### for the bootnext hand-off (DESIGN §6).
 */
#ifndef UL_LOADOPT_H
#define UL_LOADOPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* EFI_LOAD_OPTION Attributes (spec 3.1.3). */
#define UL_LOAD_OPTION_ACTIVE          0x00000001u
#define UL_LOAD_OPTION_FORCE_RECONNECT 0x00000002u
#define UL_LOAD_OPTION_HIDDEN          0x00000008u

/* Device path node types and subtypes unloop reads (spec 10.3.1, 10.3.5). */
#define UL_DP_TYPE_MEDIA       0x04
#define UL_DP_MEDIA_HD         0x01   /* HARDDRIVE_DEVICE_PATH, 42 bytes */
#define UL_DP_MEDIA_FILE_PATH  0x04   /* FILEPATH_DEVICE_PATH, UCS-2 */
#define UL_DP_TYPE_END         0x7f
#define UL_DP_END_INSTANCE     0x01
#define UL_DP_END_ENTIRE       0xff
#define UL_DP_HD_NODE_LEN      42

/* HD node MBRType / SignatureType (spec 10.3.5.1). */
#define UL_HD_FORMAT_MBR       0x01
#define UL_HD_FORMAT_GPT       0x02
#define UL_HD_SIG_NONE         0x00
#define UL_HD_SIG_MBR          0x01
#define UL_HD_SIG_GUID         0x02

/* Longest file path kept, in UCS-2 code units (MAX_PATH is 260). */
#define UL_LOADOPT_PATH_MAX    512

/* The partition a device path names: its HD node. */
struct ul_hd_node {
    uint32_t part_number;      /* 1-based; 0 = the whole disk */
    uint64_t start, size;      /* in logical blocks */
    uint8_t signature[16];     /* GPT: the partition's unique GUID, on-disk byte order */
    uint8_t format;            /* UL_HD_FORMAT_* */
    uint8_t sig_type;          /* UL_HD_SIG_* */
};

struct ul_load_option {
    uint32_t attributes;
    uint16_t file_path_list_length;
    const uint8_t *description;    /* UCS-2LE inside the buffer, NUL excluded */
    size_t description_chars;
    const uint8_t *file_path_list; /* file_path_list_length bytes */
    const uint8_t *optional_data;  /* may be NULL when optional_data_size is 0 */
    size_t optional_data_size;
    /* From the first device path instance of FilePathList: */
    bool has_hd;
    struct ul_hd_node hd;
    uint32_t n_file_nodes;         /* media file-path nodes, joined into path */
    uint16_t path[UL_LOADOPT_PATH_MAX]; /* UCS-2, NUL-terminated; "" when none */
    size_t path_len;
};

/*
 * Parses one EFI_LOAD_OPTION of size bytes.  Every length is checked
 * against the buffer: Description must be NUL-terminated UCS-2 before
 * FilePathList; every device path node at least 4 bytes and inside
 * FilePathListLength; the list must reach an End Entire node; a file-path
 * node an even length with a NUL-terminated string; an HD node exactly 42
 * bytes.  Returns 0, or:
 *   -UL_EINVAL        NULL arguments;
 *   -UL_EBADMSG       malformed (*why, when given, says what; static text);
 *   -UL_ENAMETOOLONG  the joined file path is longer than UL_LOADOPT_PATH_MAX - 1.
 */
int ul_loadopt_parse(const void *buf, size_t size, struct ul_load_option *out, const char **why);

/*
 * The partition and file path of a device path alone (the first instance,
 * as for a load option's FilePathList): fills out's has_hd, hd,
 * n_file_nodes, path and path_len; the other fields are zeroed.  Same
 * checks and errors as ul_loadopt_parse.
 */
int ul_dp_parse_path(const void *dp, size_t size, struct ul_load_option *out, const char **why);

/*
 * Walks a device path (a FilePathList) of size bytes, calling fn for every
 * node up to and including the End Entire node; fn returns non-zero to
 * stop the walk (returned as is).  0 after End Entire, -UL_EBADMSG with
 * *why when a node is shorter than 4 bytes, runs past size, or size ends
 * before an End Entire node.
 */
typedef int (*ul_dp_node_fn)(void *ctx, uint8_t type, uint8_t subtype, const uint8_t *data,
                             size_t data_len);
int ul_dp_walk(const void *dp, size_t size, ul_dp_node_fn fn, void *ctx, const char **why);

/* The first HD node of a device path (any instance); 0, -UL_ENOENT when
 * there is none, -UL_EBADMSG when the path is malformed. */
int ul_dp_find_hd(const void *dp, size_t size, struct ul_hd_node *out);

/*
 * Does a UCS-2 path equal an ASCII ESP path?  Case-insensitive for ASCII
 * letters (FAT is), '/' read as '\' on both sides, and a missing leading
 * backslash on either side is ignored.  A character outside ASCII never
 * matches.
 */
bool ul_loadopt_path_equal(const uint16_t *path, const char *ascii);

/* The path in ASCII for a log ('?' for anything else), always terminated. */
void ul_loadopt_path_ascii(const uint16_t *path, char *out, size_t out_size);

/* The description in ASCII for a log ('?' for anything else). */
void ul_loadopt_desc_ascii(const struct ul_load_option *o, char *out, size_t out_size);

/* Same partition?  GPT: the signature GUIDs equal and neither is zero
 * (partition number, start and size must then agree too); MBR: signature,
 * partition number and start. */
bool ul_hd_same_partition(const struct ul_hd_node *a, const struct ul_hd_node *b);

/*
 * BootOrder: size bytes of UINT16 little-endian option numbers.  Copies at
 * most max of them to out and sets *ret_n.  0, or -UL_EBADMSG when size is
 * odd, -UL_E2BIG when there are more than max (the first max are copied).
 */
int ul_boot_order_parse(const void *buf, size_t size, uint16_t *out, size_t max, size_t *ret_n);

/*
 * The bootnext choice (DESIGN §6): which Boot#### the firmware should start
 * instead of unloop chain-loading loader.  The first active entry in
 * BootOrder whose file path is loader, on the ESP unloop runs from if one
 * is (UL_PICK_OUR_ESP), else the first on any partition
 * (UL_PICK_OTHER_PARTITION).  Never an entry that starts unloop itself
 * (self->path on our ESP, or with no partition node).  Unreadable and
 * malformed entries are logged and skipped.
 */
struct ul_log;
struct ul_boot_self {
    bool have_hd;
    struct ul_hd_node hd;      /* the ESP unloop runs from */
    const char *path;          /* unloop's own file path; NULL or "" unknown */
};
enum ul_boot_pick { UL_PICK_NONE, UL_PICK_OTHER_PARTITION, UL_PICK_OUR_ESP };
/* Reads Boot#### num: 0 with *buf, *size (valid until the next call), or < 0. */
typedef int (*ul_boot_var_reader)(void *ctx, uint16_t num, const void **buf, size_t *size);
enum ul_boot_pick ul_boot_pick(const uint16_t *order, size_t n, ul_boot_var_reader read,
                               void *ctx, const struct ul_boot_self *self, const char *loader,
                               struct ul_log *log, uint16_t *ret_num);

/* "Boot0001": the variable name of an option number, upper-case hex as the
 * spec requires (3.3), NUL-terminated (9 bytes). */
void ul_boot_var_name(uint16_t num, char out[9]);

#endif
