/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for recovery reports (docs/report-format.md) as
 * `unloop report summarize` reads them: reports come off sticks that went
 * round untrusted machines.  Three properties:
 *  1. the JSON reader never faults; what it accepts, written back out
 *     canonically, reads back as the same tree (and the same bytes again);
 *  2. any input becomes exactly one row, never a crash; an unreadable row
 *     always says why;
 *  3. the table, CSV and JSON outputs of that row stay safe: the table holds
 *     no control or bidi-override characters, and the --json output is
 *     JSON the strict reader itself accepts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../recovery/cli.h"
#include "../../recovery/json-read.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

/* report-cmd.c's links to the rest of the CLI. */
const char *prog = "fuzz-report";
int usage_error(const char *fmt, const char *arg)
{
    return EXIT_USAGE;
}

/* ---- 1: the reader, by round trip ---- */

static void put_string(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void put_value(FILE *f, const struct json_value *v)
{
    switch (v->type) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_FALSE: fputs("false", f); break;
    case JSON_TRUE: fputs("true", f); break;
    case JSON_NUMBER:
        if (v->is_int)
            fprintf(f, "%lld", (long long)v->i);
        else /* with a fraction and an exponent, so it reads back as no integer (-0 too) */
            fprintf(f, "%.17e", v->num);
        break;
    case JSON_STRING: put_string(f, v->str, v->len); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        fputc(v->type == JSON_ARRAY ? '[' : '{', f);
        for (const struct json_value *c = v->child; c; c = c->next) {
            if (c != v->child)
                fputc(',', f);
            if (v->type == JSON_OBJECT) {
                put_string(f, c->key, strlen(c->key));
                fputc(':', f);
            }
            put_value(f, c);
        }
        fputc(v->type == JSON_ARRAY ? ']' : '}', f);
        break;
    }
}

static void check_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        CHECK(p[i] != 0);
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
        CHECK(p[i] >= 0xc2 && p[i] <= 0xf4 && i + n <= len);
        for (size_t k = 1; k < n; k++)
            CHECK((p[i + k] & 0xc0) == 0x80);
        i += n;
    }
    CHECK(p[len] == 0);
}

static void same(const struct json_value *a, const struct json_value *b, int depth)
{
    CHECK(depth <= JSON_READ_MAX_DEPTH);
    CHECK(a->type == b->type);
    CHECK((a->key == NULL) == (b->key == NULL));
    if (a->key)
        CHECK(strcmp(a->key, b->key) == 0);
    switch (a->type) {
    case JSON_NUMBER:
        CHECK(a->is_int == b->is_int || !a->is_int);
        if (a->is_int)
            CHECK(b->i == a->i);
        else
            CHECK(memcmp(&a->num, &b->num, sizeof(a->num)) == 0);
        break;
    case JSON_STRING:
        check_utf8(a->str, a->len);
        CHECK(a->len == b->len && memcmp(a->str, b->str, a->len) == 0);
        break;
    case JSON_ARRAY:
    case JSON_OBJECT: {
        CHECK(a->n == b->n);
        size_t n = 0;
        const struct json_value *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next, n++)
            same(x, y, depth + 1);
        CHECK(!x && !y && n == a->n);
        break;
    }
    default: break;
    }
}

static char *dump(const struct json_value *v, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    CHECK(f);
    put_value(f, v);
    CHECK(fclose(f) == 0);
    return buf;
}

static void check_reader(const uint8_t *data, size_t size)
{
    struct json_read_error err;
    struct json_doc *d = json_parse((const char *)data, size, &err);
    if (!d) {
        CHECK(err.line >= 1 && err.column >= 1 && err.msg[0]);
        for (const char *p = err.msg; *p; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
        return;
    }
    size_t len1, len2;
    char *out1 = dump(json_doc_root(d), &len1);
    struct json_doc *d2 = json_parse(out1, len1, &err);
    CHECK(d2);
    same(json_doc_root(d), json_doc_root(d2), 0);
    char *out2 = dump(json_doc_root(d2), &len2);
    CHECK(len1 == len2 && memcmp(out1, out2, len1) == 0);
    free(out1);
    free(out2);
    json_doc_free(d2);
    json_doc_free(d);
}

/* ---- 2 and 3: the rows and what is printed of them ---- */

static char *print(enum report_style style, struct report_row *rows, size_t n, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    CHECK(f);
    report_print(f, style, rows, n);
    CHECK(fclose(f) == 0);
    return buf;
}

static void check_row(const struct report_row *r)
{
    CHECK((unsigned)r->outcome < REPORT__MAX);
    CHECK(r->file && r->machine && r->machine[0]);
    if (r->outcome == REPORT_UNREADABLE) {
        CHECK(r->reason && strncmp(r->reason, r->file, strlen(r->file)) == 0);
        CHECK(!r->serial && !r->product && !r->time && !r->done);
    } else {
        CHECK(r->done && r->reason);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan catches any read past the end. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    check_reader((const uint8_t *)text, size);

    struct report_row rows[2];
    report_row_parse(&rows[0], "b.json", text, size);
    report_row_parse(&rows[1], "a.json", text, size);
    check_row(&rows[0]);
    check_row(&rows[1]);
    CHECK(rows[0].outcome == rows[1].outcome);

    size_t len;
    char *table = print(REPORT_TABLE, rows, 2, &len);
    /* Same outcome; then "a" < "b" as the machine id (unreadable: the file
     * stem) or, for one machine id, as the file name. */
    CHECK(strcmp(rows[0].file, "a.json") == 0);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)table[i];
        CHECK(c >= 0x20 || c == '\n');
        CHECK(c != 0x7f);
        /* U+202A..U+202E, U+2066..U+2069: E2 80 AA..AE, E2 81 A6..A9 */
        if (c == 0xe2 && i + 2 < len) {
            unsigned char c1 = (unsigned char)table[i + 1], c2 = (unsigned char)table[i + 2];
            CHECK(!(c1 == 0x80 && c2 >= 0xaa && c2 <= 0xae));
            CHECK(!(c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9));
        }
    }
    free(table);

    char *csv = print(REPORT_CSV, rows, 2, &len);
    for (size_t i = 0; i < len; i++)
        CHECK((unsigned char)csv[i] >= 0x20 || csv[i] == '\n' || csv[i] == '\r' || csv[i] == '\t');
    free(csv);

    char *json = print(REPORT_JSON, rows, 2, &len);
    struct json_read_error err;
    struct json_doc *d = json_parse(json, len, &err);
    CHECK(d);
    const struct json_value *list = json_get(json_doc_root(d), "rows");
    CHECK(list && list->type == JSON_ARRAY && list->n == 2);
    const struct json_value *prod = json_get(list->child, "product");
    CHECK(prod);
    if (rows[0].product)
        CHECK(prod->type == JSON_STRING && strcmp(prod->str, rows[0].product) == 0);
    json_doc_free(d);
    free(json);

    report_row_free(&rows[0]);
    report_row_free(&rows[1]);
    free(text);
    return 0;
}
