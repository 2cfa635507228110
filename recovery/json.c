/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The CLI's --json output: the core's writer (shared/json-out.c) on a FILE. */
#include "json.h"

static void file_write(void *ctx, const char *s, size_t n)
{
    fwrite(s, 1, n, ctx);
}

void json_init(struct json *j, FILE *f)
{
    j->f = f;
    ul_json_init(&j->w, file_write, f, false);
    j->w.ascii = true;      /* any terminal and parser takes it */
}

void json_object_begin(struct json *j, const char *key) { ul_json_object_begin(&j->w, key); }
void json_object_end(struct json *j) { ul_json_object_end(&j->w); }
void json_array_begin(struct json *j, const char *key) { ul_json_array_begin(&j->w, key); }
void json_array_end(struct json *j) { ul_json_array_end(&j->w); }
void json_str(struct json *j, const char *key, const char *val) { ul_json_str(&j->w, key, val); }
/* The same: strings are UTF-8 everywhere (invalid bytes become U+FFFD). */
void json_str_utf8(struct json *j, const char *key, const char *val) { ul_json_str(&j->w, key, val); }
void json_int(struct json *j, const char *key, int64_t val) { ul_json_int(&j->w, key, val); }
void json_bool(struct json *j, const char *key, bool val) { ul_json_bool(&j->w, key, val); }
void json_null(struct json *j, const char *key) { ul_json_null(&j->w, key); }

void json_finish(struct json *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}
