/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * malloc and friends over the pool allocator the application hands in
 * (ul_libc_init: BS->AllocatePool/FreePool in the UEFI build).  A 16-byte
 * header keeps the size for realloc and keeps the 16-byte alignment
 * libntfs-3g's structures may assume (the pool gives 8).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ulibc.h>

#include "libc-internal.h"

struct header {
    size_t size;
    size_t magic;
};
#define MAGIC ((size_t)0x756c6d616c6c6f63ULL)   /* "ulmalloc" */

void *malloc(size_t size)
{
    if (!ul_libc.alloc || size > SIZE_MAX - 2 * sizeof(struct header)) {
        errno = ENOMEM;
        return NULL;
    }
    /* Over-allocate so the user pointer can be 16-aligned. */
    uint8_t *raw = ul_libc.alloc(size + 2 * sizeof(struct header));
    if (!raw) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *user = (uint8_t *)(((uintptr_t)raw + 2 * sizeof(struct header)) & ~(uintptr_t)15);
    struct header *h = (struct header *)user - 1;
    h->size = size;
    h->magic = MAGIC ^ (size_t)(user - raw);
    return user;
}

static struct header *header_of(void *p, uint8_t **ret_raw)
{
    struct header *h = (struct header *)p - 1;
    size_t off = h->magic ^ MAGIC;
    if (off < sizeof(struct header) || off > 2 * sizeof(struct header))
        return NULL;    /* not ours: leak rather than corrupt the pool */
    *ret_raw = (uint8_t *)p - off;
    return h;
}

void free(void *p)
{
    uint8_t *raw;

    if (!p)
        return;
    struct header *h = header_of(p, &raw);
    if (!h)
        return;
    h->magic = 0;
    ul_libc.free(raw);
}

void *calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *realloc(void *p, size_t size)
{
    uint8_t *raw;

    if (!p)
        return malloc(size);
    if (!size) {
        free(p);
        return NULL;
    }
    struct header *h = header_of(p, &raw);
    if (!h) {
        errno = EINVAL;
        return NULL;
    }
    if (size <= h->size) {
        h->size = size;
        return p;
    }
    void *n = malloc(size);
    if (!n)
        return NULL;
    memcpy(n, p, h->size);
    free(p);
    return n;
}
