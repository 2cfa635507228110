/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * printf family for third-party code (libntfs-3g uses %p, %hhx/%hhu, %m, %o
 * and the '+', ' ', '#' flags): the formatter is the core's ul_vformat
 * (shared/string-util.c), complete C99 for integers and strings (no
 * floating point: libntfs-3g prints none).
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
#include "../../shared/string-util.h"

struct ul_file {
    int is_err;
};
static struct ul_file file_out = { 0 }, file_err = { 1 };
FILE *stdout = &file_out, *stderr = &file_err, *stdin = NULL;

/* The formatter is shared/string-util.c's, with %m = strerror(errno). */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    size_t n = ul_vformat(buf, size, fmt, ap, strerror(errno));
    return n > INT32_MAX ? INT32_MAX : (int)n;
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
