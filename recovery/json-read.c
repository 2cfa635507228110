/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A strict JSON reader (RFC 8259) for untrusted files; see json-read.h.
 * Every node and string lives in an arena owned by the json_doc, so one
 * json_doc_free() releases everything and no error path leaks.  Recursion
 * is bounded by JSON_READ_MAX_DEPTH.
 */
#include "json-read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../shared/string-util.h"

/* ---- arena ---- */

struct chunk {
    struct chunk *next;
    size_t used, size;
    max_align_t data[];
};

struct json_doc {
    struct chunk *chunks;
    struct json_value *root;
};

/* Chunks grow from 4 KiB to 64 KiB: a small report costs one small malloc. */
#define CHUNK_MIN (4u * 1024u)
#define CHUNK_MAX (64u * 1024u)

static void *arena_alloc(struct json_doc *d, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct chunk *c = d->chunks;
    if (!c || c->size - c->used < size) {
        size_t want = c ? (c->size < CHUNK_MAX ? c->size * 2 : CHUNK_MAX) : CHUNK_MIN;
        if (want < size)
            want = size;
        c = malloc(sizeof(*c) + want);
        if (!c)
            return NULL;
        c->size = want;
        c->used = 0;
        c->next = d->chunks;
        d->chunks = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

void json_doc_free(struct json_doc *d)
{
    if (!d)
        return;
    for (struct chunk *c = d->chunks, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(d);
}

const struct json_value *json_doc_root(const struct json_doc *d)
{
    return d ? d->root : NULL;
}

/* ---- parser ---- */

struct parser {
    const unsigned char *start, *p, *end;
    struct json_doc *doc;
    int depth;
    bool failed;
    struct json_read_error *err;
};

__attribute__((format(printf, 3, 4)))
static bool fail(struct parser *ps, const unsigned char *at, const char *fmt, ...)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    if (!ps->err)
        return false;
    size_t line = 1, col = 1;
    for (const unsigned char *q = ps->start; q < at && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    ps->err->line = line;
    ps->err->column = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
    return false;
}

/* What is at p, for messages: printable ASCII quoted, anything else in hex. */
static const char *describe(const struct parser *ps, const unsigned char *p, char buf[16])
{
    if (p >= ps->end)
        return "the end of the file";
    if (*p >= 0x20 && *p < 0x7f)
        snprintf(buf, 16, "'%c'", *p);
    else
        snprintf(buf, 16, "byte 0x%02x", *p);
    return buf;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static struct json_value *new_value(struct parser *ps, enum json_type t)
{
    struct json_value *v = arena_alloc(ps->doc, sizeof(*v));
    if (!v) {
        fail(ps, ps->p, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

static bool read_hex4(struct parser *ps, const unsigned char *p, uint32_t *ret)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = p + i < ps->end ? ul_hexval((char)p[i]) : -1;
        if (h < 0)
            return fail(ps, p + i, "\\u needs four hex digits");
        v = v << 4 | (uint32_t)h;
    }
    *ret = v;
    return true;
}

/* The length of the valid UTF-8 sequence at p (Unicode 15, table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

static size_t put_utf8(unsigned char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A string at ps->p (the opening quote): decoded into the arena.  The
 * decoded form is never longer than the source, which sizes the buffer. */
static bool parse_string(struct parser *ps, const char **ret, size_t *ret_len)
{
    const unsigned char *open = ps->p, *q = ps->p + 1;
    while (q < ps->end && *q != '"')
        q += *q == '\\' ? 2 : 1;
    if (q >= ps->end)
        return fail(ps, open, "string not closed");
    unsigned char *out = arena_alloc(ps->doc, (size_t)(q - open));
    if (!out)
        return fail(ps, open, "out of memory");
    size_t n = 0;
    const unsigned char *p = open + 1;
    while (*p != '"') {
        if (*p < 0x20)
            return fail(ps, p, "control character 0x%02x in a string (must be escaped)", *p);
        if (*p != '\\') {
            size_t l = utf8_len(p, q);
            if (!l)
                return fail(ps, p, "invalid UTF-8 in a string");
            memcpy(out + n, p, l);
            n += l;
            p += l;
            continue;
        }
        unsigned char e = p[1];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char map[] = "\"\\/\b\f\n\r\t";
            out[n++] = (unsigned char)map[simple - "\"\\/bfnrt"];
            p += 2;
            continue;
        }
        if (e != 'u')
            return fail(ps, p, "invalid escape in a string");
        uint32_t cp;
        if (!read_hex4(ps, p + 2, &cp))
            return false;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(ps, p, "\\u%04X is a low surrogate without a high one", (unsigned)cp);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            uint32_t lo;
            if (ps->end - (p + 6) < 6 || p[6] != '\\' || p[7] != 'u')
                return fail(ps, p, "\\u%04X is a high surrogate without a low one", (unsigned)cp);
            if (!read_hex4(ps, p + 8, &lo))
                return false;
            if (lo < 0xdc00 || lo > 0xdfff)
                return fail(ps, p, "\\u%04X is a high surrogate without a low one", (unsigned)cp);
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p += 6;
        }
        if (cp == 0)
            return fail(ps, p, "\\u0000 in a string is not accepted");
        n += put_utf8(out + n, cp);
        p += 6;
    }
    out[n] = 0;
    *ret = (const char *)out;
    *ret_len = n;
    ps->p = q + 1;
    return true;
}

static bool is_digit(const struct parser *ps, const unsigned char *p)
{
    return p < ps->end && *p >= '0' && *p <= '9';
}

static struct json_value *parse_number(struct parser *ps)
{
    const unsigned char *s = ps->p, *p = s;
    bool neg = false, integral = true;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!is_digit(ps, p)) {
        fail(ps, p, "a number needs a digit here");
        return NULL;
    }
    if (*p == '0' && is_digit(ps, p + 1)) {
        fail(ps, p, "a number cannot have a leading zero");
        return NULL;
    }
    /* The integer part, also as an int64 while it fits. */
    uint64_t mag = 0;
    bool fits = true;
    while (is_digit(ps, p)) {
        unsigned d = (unsigned)(*p++ - '0');
        if (mag > (UINT64_MAX - d) / 10)
            fits = false;
        else
            mag = mag * 10 + d;
    }
    if (p < ps->end && *p == '.') {
        integral = false;
        p++;
        if (!is_digit(ps, p)) {
            fail(ps, p, "a number needs a digit after '.'");
            return NULL;
        }
        while (is_digit(ps, p))
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        integral = false;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(ps, p)) {
            fail(ps, p, "a number needs a digit in its exponent");
            return NULL;
        }
        while (is_digit(ps, p))
            p++;
    }
    struct json_value *v = new_value(ps, JSON_NUMBER);
    char *copy = v ? arena_alloc(ps->doc, (size_t)(p - s) + 1) : NULL;
    if (!copy) {
        fail(ps, s, "out of memory");
        return NULL;
    }
    memcpy(copy, s, (size_t)(p - s));
    copy[p - s] = 0;
    errno = 0;
    v->num = strtod(copy, NULL);
    if (isinf(v->num)) {
        fail(ps, s, "number out of range");
        return NULL;
    }
    if (integral && fits && mag <= (uint64_t)INT64_MAX + neg) {
        v->is_int = true;
        v->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    }
    ps->p = p;
    return v;
}

static struct json_value *parse_value(struct parser *ps);

static int cmp_key(const void *a, const void *b)
{
    const struct json_value *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

/* A repeated key: found by sorting the members (a quadratic scan would let
 * a crafted object with 100,000 keys take minutes). */
static bool check_duplicates(struct parser *ps, const struct json_value *obj,
                             const unsigned char *at)
{
    if (obj->n < 2)
        return true;
    const struct json_value **v = malloc(obj->n * sizeof(*v));
    if (!v)
        return fail(ps, at, "out of memory");
    size_t i = 0;
    for (const struct json_value *m = obj->child; m; m = m->next)
        v[i++] = m;
    qsort(v, obj->n, sizeof(*v), cmp_key);
    for (i = 1; i < obj->n; i++)
        if (strcmp(v[i - 1]->key, v[i]->key) == 0)
            break;
    bool dup = i < obj->n;
    char name[40] = "";
    if (dup) {
        /* Point at the later of the two. */
        size_t off = v[i - 1]->offset > v[i]->offset ? v[i - 1]->offset : v[i]->offset;
        at = ps->start + off;
        /* The key, shortened and printable, for the message. */
        size_t k = 0;
        for (const unsigned char *s = (const unsigned char *)v[i]->key; *s && k < 32; s++)
            name[k++] = *s >= 0x20 && *s < 0x7f ? (char)*s : '?';
        name[k] = 0;
    }
    free(v);
    return dup ? fail(ps, at, "key \"%s\" appears a second time in an object", name) : true;
}

static struct json_value *parse_container(struct parser *ps, bool object)
{
    const unsigned char *open = ps->p;
    char buf[16];
    if (++ps->depth > JSON_READ_MAX_DEPTH) {
        fail(ps, open, "nested deeper than %d levels", JSON_READ_MAX_DEPTH);
        return NULL;
    }
    struct json_value *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY);
    if (!v)
        return NULL;
    struct json_value **tail = &v->child;
    char close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen;
        skip_ws(ps);
        size_t offset = (size_t)(ps->p - ps->start);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') {
                fail(ps, ps->p, "expected a key (a string) in an object, found %s",
                     describe(ps, ps->p, buf));
                return NULL;
            }
            if (!parse_string(ps, &key, &klen))
                return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail(ps, ps->p, "expected ':' after a key, found %s", describe(ps, ps->p, buf));
                return NULL;
            }
            ps->p++;
        }
        struct json_value *e = parse_value(ps);
        if (!e)
            return NULL;
        e->key = key;
        e->offset = offset;
        *tail = e;
        tail = &e->next;
        v->n++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        fail(ps, ps->p, "expected ',' or '%c' %s, found %s", close,
             object ? "after an object member" : "after an array element",
             describe(ps, ps->p, buf));
        return NULL;
    }
    if (object && !check_duplicates(ps, v, open))
        return NULL;
    ps->depth--;
    return v;
}

static struct json_value *parse_literal(struct parser *ps, const char *word, enum json_type t)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
        fail(ps, ps->p, "unexpected '%c' (not true, false or null)", *ps->p);
        return NULL;
    }
    struct json_value *v = new_value(ps, t);
    if (v)
        ps->p += n;
    return v;
}

static struct json_value *parse_value(struct parser *ps)
{
    char buf[16];
    skip_ws(ps);
    if (ps->p >= ps->end) {
        fail(ps, ps->p, "expected a value, found the end of the file");
        return NULL;
    }
    switch (*ps->p) {
    case '{': return parse_container(ps, true);
    case '[': return parse_container(ps, false);
    case '"': {
        struct json_value *v = new_value(ps, JSON_STRING);
        if (v && !parse_string(ps, &v->str, &v->len))
            return NULL;
        return v;
    }
    case 't': return parse_literal(ps, "true", JSON_TRUE);
    case 'f': return parse_literal(ps, "false", JSON_FALSE);
    case 'n': return parse_literal(ps, "null", JSON_NULL);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return parse_number(ps);
        fail(ps, ps->p, "expected a value, found %s", describe(ps, ps->p, buf));
        return NULL;
    }
}

struct json_doc *json_parse(const char *text, size_t len, struct json_read_error *err)
{
    struct parser ps = {
        .start = (const unsigned char *)text,
        .p = (const unsigned char *)text,
        .end = (const unsigned char *)text + len,
        .err = err,
    };
    char buf[16];
    if (err)
        *err = (struct json_read_error){ 0 };
    ps.doc = calloc(1, sizeof(*ps.doc));
    if (!ps.doc) {
        fail(&ps, ps.p, "out of memory");
        return NULL;
    }
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        fail(&ps, ps.p, "starts with a byte order mark (JSON is UTF-8 without one)");
        goto err;
    }
    skip_ws(&ps);
    if (ps.p >= ps.end) {
        fail(&ps, ps.p, "no JSON value (the file is empty or only white space)");
        goto err;
    }
    size_t offset = (size_t)(ps.p - ps.start);
    ps.doc->root = parse_value(&ps);
    if (ps.doc->root)
        ps.doc->root->offset = offset;
    if (!ps.doc->root)
        goto err;
    skip_ws(&ps);
    if (ps.p < ps.end) {
        fail(&ps, ps.p, "unexpected %s after the JSON value", describe(&ps, ps.p, buf));
        goto err;
    }
    return ps.doc;
err:
    json_doc_free(ps.doc);
    return NULL;
}

const struct json_value *json_get(const struct json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (const struct json_value *m = obj->child; m; m = m->next)
        if (strcmp(m->key, key) == 0)
            return m;
    return NULL;
}

const char *json_type_name(enum json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}
