/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * printf family for third-party code.  shared/string-util.c's ul_vsnprintf
 * covers what the core needs, but libntfs-3g also uses %p, %hhx/%hhu, %m,
 * %o and flags ('+', ' ', '#'), so this is a complete C99 integer/string
 * vsnprintf (no floating point: libntfs-3g prints none).
 *
 * stdout and stderr are text sinks that go to the application's write hook
 * (ul_libc_init); there are no files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libc-internal.h"

struct ul_file {
    int is_err;
};
static struct ul_file file_out = { 0 }, file_err = { 1 };
FILE *stdout = &file_out, *stderr = &file_err, *stdin = NULL;

struct sink {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static void put_n(struct sink *s, char c, int n)
{
    for (; n > 0; n--)
        put(s, c);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct sink s = { buf, size, 0 };
    int saved_errno = errno;

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&s, *p);
            continue;
        }
        p++;
        bool left = false, plus = false, space = false, alt = false, zero = false;
        for (;; p++) {
            if (*p == '-') left = true;
            else if (*p == '+') plus = true;
            else if (*p == ' ') space = true;
            else if (*p == '#') alt = true;
            else if (*p == '0') zero = true;
            else break;
        }
        int width = 0;
        if (*p == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                left = true;
                width = -width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                width = width * 10 + (*p++ - '0');
        }
        int prec = -1;
        if (*p == '.') {
            p++;
            if (*p == '*') {
                prec = va_arg(ap, int);
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9')
                    prec = prec * 10 + (*p++ - '0');
            }
        }
        /* length: 0 int, 1 char (hh), 2 short (h), 3 long, 4 long long,
         * 5 size_t/ptrdiff_t/intmax_t */
        int len = 0;
        for (;; p++) {
            if (*p == 'h') len = len == 2 ? 1 : 2;
            else if (*p == 'l') len = len == 3 ? 4 : 3;
            else if (*p == 'q' || *p == 'L') len = 4;
            else if (*p == 'z' || *p == 't' || *p == 'j') len = 5;
            else break;
        }

        const char *str = NULL;
        size_t slen = 0;
        char c;
        switch (*p) {
        case 0:
            p--;
            continue;
        case '%':
            put(&s, '%');
            continue;
        case 'm':
            str = strerror(saved_errno);
            slen = strlen(str);
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            slen = prec >= 0 ? strnlen(str, (size_t)prec) : strlen(str);
            break;
        case 'c':
            c = (char)va_arg(ap, int);
            str = &c;
            slen = 1;
            break;
        case 'd': case 'i': case 'u': case 'o': case 'x': case 'X': case 'p': {
            uint64_t u;
            bool neg = false;
            unsigned base = *p == 'o' ? 8 : (*p == 'x' || *p == 'X' || *p == 'p') ? 16 : 10;
            if (*p == 'p') {
                u = (uintptr_t)va_arg(ap, void *);
                alt = true;
            } else if (*p == 'd' || *p == 'i') {
                int64_t v;
                switch (len) {
                case 1: v = (signed char)va_arg(ap, int); break;
                case 2: v = (short)va_arg(ap, int); break;
                case 3: v = va_arg(ap, long); break;
                case 4: v = va_arg(ap, long long); break;
                case 5: v = (int64_t)va_arg(ap, long); break;
                default: v = va_arg(ap, int); break;
                }
                neg = v < 0;
                u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            } else {
                switch (len) {
                case 1: u = (unsigned char)va_arg(ap, unsigned); break;
                case 2: u = (unsigned short)va_arg(ap, unsigned); break;
                case 3: u = va_arg(ap, unsigned long); break;
                case 4: u = va_arg(ap, unsigned long long); break;
                case 5: u = va_arg(ap, size_t); break;
                default: u = va_arg(ap, unsigned); break;
                }
            }
            char digits[24];
            int nd = 0;
            const char *xd = *p == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            for (uint64_t v = u; v; v /= base)
                digits[nd++] = xd[v % base];
            if (prec < 0 && nd == 0)
                digits[nd++] = '0';
            const char *prefix = neg ? "-" : plus ? "+" : space ? " " : "";
            if (alt && base == 16 && u)
                prefix = *p == 'X' ? "0X" : "0x";
            if (alt && base == 8 && (prec <= nd))
                prec = nd + 1;
            int zeros = prec > nd ? prec - nd : 0;
            int total = (int)strlen(prefix) + zeros + nd;
            if (zero && !left && prec < 0 && width > total) {
                zeros += width - total;
                total = width;
            }
            if (!left)
                put_n(&s, ' ', width - total);
            for (const char *q = prefix; *q; q++)
                put(&s, *q);
            put_n(&s, '0', zeros);
            while (nd)
                put(&s, digits[--nd]);
            if (left)
                put_n(&s, ' ', width - total);
            continue;
        }
        default:
            /* unknown conversion: print it as is */
            put(&s, '%');
            put(&s, *p);
            continue;
        }
        if (!left)
            put_n(&s, ' ', width - (int)slen);
        for (size_t i = 0; i < slen; i++)
            put(&s, str[i]);
        if (left)
            put_n(&s, ' ', width - (int)slen);
    }
    if (size)
        buf[s.len < size ? s.len : size - 1] = 0;
    return s.len > INT32_MAX ? INT32_MAX : (int)s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
    return vsnprintf(buf, SIZE_MAX / 2, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsprintf(buf, fmt, ap);
    va_end(ap);
    return n;
}

static int emit(FILE *f, const char *text, size_t len)
{
    if (!f) {
        errno = EBADF;
        return EOF;
    }
    if (ul_libc.write && len)
        ul_libc.write(f->is_err, text, len);
    return (int)len;
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
    char buf[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    if ((size_t)n < sizeof(buf)) {
        va_end(ap2);
        return emit(f, buf, (size_t)n);
    }
    /* Long line: format it again into the heap. */
    char *big = malloc((size_t)n + 1);
    if (!big) {
        va_end(ap2);
        return emit(f, buf, sizeof(buf) - 1);
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    n = emit(f, big, (size_t)n);
    free(big);
    return n;
}

int fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char *fmt, va_list ap) { return vfprintf(stdout, fmt, ap); }

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int fputs(const char *str, FILE *f) { return emit(f, str, strlen(str)) < 0 ? EOF : 0; }

int puts(const char *str)
{
    if (fputs(str, stdout) == EOF)
        return EOF;
    return emit(stdout, "\n", 1) < 0 ? EOF : 0;
}

int fputc(int c, FILE *f)
{
    char ch = (char)c;
    return emit(f, &ch, 1) < 0 ? EOF : (unsigned char)c;
}

int putchar(int c) { return fputc(c, stdout); }
int fflush(FILE *f) { return 0; }

void perror(const char *str)
{
    fprintf(stderr, "%s%s%s\n", str && *str ? str : "", str && *str ? ": " : "",
            strerror(errno));
}

/* No files before the OS runs (realpath.c reads /proc/mounts with these). */
FILE *fopen(const char *path, const char *mode)
{
    errno = ENOENT;
    return NULL;
}

int fclose(FILE *f) { return 0; }

char *fgets(char *buf, int size, FILE *f)
{
    return NULL;
}

/* There is nothing to read either. */
size_t fread(void *buf, size_t size, size_t n, FILE *f)
{
    errno = EBADF;
    return 0;
}

int fseek(FILE *f, long offset, int whence)
{
    errno = ESPIPE;
    return -1;
}

long ftell(FILE *f)
{
    errno = ESPIPE;
    return -1;
}
