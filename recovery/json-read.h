/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A small, strict JSON reader (RFC 8259) for untrusted input such as the
 * recovery reports unloop.efi writes (docs/report-format.md).  The whole
 * document is parsed into a tree held by one json_doc; nothing is
 * accepted that RFC 8259 does not allow (no comments, trailing commas,
 * NaN, single quotes, leading zeros, lone surrogates, invalid UTF-8, a
 * byte order mark).  Two stricter rules than the RFC, because every
 * string ends up in a C string and an object must mean one thing:
 * U+0000 in a string is refused, and so is a key repeated in an object.
 * Nesting deeper than JSON_READ_MAX_DEPTH is refused (no recursion past
 * it).  The caller caps the input size.
 */
#ifndef UL_JSON_READ_H
#define UL_JSON_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_READ_MAX_DEPTH 64

enum json_type {
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    const char *key;            /* member of an object: its name (UTF-8, NUL-terminated) */
    struct json_value *next;    /* the next element or member */
    /* JSON_ARRAY, JSON_OBJECT: the first element or member, and how many */
    struct json_value *child;
    size_t n;
    /* JSON_STRING: valid UTF-8 without NUL bytes; len excludes the NUL */
    const char *str;
    size_t len;
    /* JSON_NUMBER: its value; is_int when it is an integer that fits */
    double num;
    bool is_int;
    int64_t i;
    size_t offset;              /* where it starts in the text (a member: its key) */
};

struct json_doc;

struct json_read_error {
    size_t line, column;        /* 1-based; column counts bytes */
    char msg[96];               /* printable ASCII */
};

/* Parses text[0..len); NULL on error with *err filled in (err may be NULL). */
struct json_doc *json_parse(const char *text, size_t len, struct json_read_error *err);
const struct json_value *json_doc_root(const struct json_doc *d);
void json_doc_free(struct json_doc *d);

/* The member of obj named key; NULL if obj is NULL, not an object, or has none. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
const char *json_type_name(enum json_type t);

#endif
