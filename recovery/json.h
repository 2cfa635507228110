/* SPDX-License-Identifier: GPL-2.0-or-later */
/* --json output: shared/json-out.h's writer on a FILE. */
#ifndef UL_JSON_H
#define UL_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../shared/json-out.h"

struct json {
    FILE *f;
    struct ul_json w;
};

void json_init(struct json *j, FILE *f);
void json_object_begin(struct json *j, const char *key); /* key NULL at top level / in arrays */
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);
void json_str(struct json *j, const char *key, const char *val); /* val NULL -> null */
/* val is UTF-8 (e.g. from an untrusted file): written losslessly as \u escapes,
 * so the output stays ASCII; an invalid byte becomes U+FFFD.  NULL -> null. */
void json_str_utf8(struct json *j, const char *key, const char *val);
void json_int(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
