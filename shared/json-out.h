/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small streaming JSON writer for the core (reports, issue #6) and the
 * CLI's --json output: text goes to a sink callback, so it works on a
 * buffer in unloop.efi and on a FILE in the CLI.  Strings are UTF-8;
 * invalid bytes are written as U+FFFD so the output is always valid JSON.
 */
#ifndef UL_JSON_OUT_H
#define UL_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UL_JSON_MAX_DEPTH 15

struct ul_json {
    void (*write)(void *ctx, const char *s, size_t n);
    void *ctx;
    int depth;
    bool need_comma[UL_JSON_MAX_DEPTH + 1];
    bool pretty;                /* a newline and indent before each member */
    bool ascii;                 /* non-ASCII as \u escapes (UTF-16 pairs past U+FFFF) */
};

void ul_json_init(struct ul_json *j, void (*write)(void *ctx, const char *s, size_t n),
                  void *ctx, bool pretty);
/* key NULL at the top level and inside arrays. */
void ul_json_object_begin(struct ul_json *j, const char *key);
void ul_json_object_end(struct ul_json *j);
void ul_json_array_begin(struct ul_json *j, const char *key);
void ul_json_array_end(struct ul_json *j);
void ul_json_str(struct ul_json *j, const char *key, const char *val); /* NULL -> null */
void ul_json_int(struct ul_json *j, const char *key, int64_t val);
void ul_json_bool(struct ul_json *j, const char *key, bool val);
void ul_json_null(struct ul_json *j, const char *key);

/* A sink into a fixed buffer: always NUL-terminated; overflow is counted. */
struct ul_json_buf {
    char *buf;
    size_t size, len;
    bool overflow;
};
void ul_json_buf_write(void *ctx, const char *s, size_t n);

#endif
