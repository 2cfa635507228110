/* SPDX-License-Identifier: GPL-2.0-or-later */
/* No files: stdout/stderr are text sinks routed to the log hook (ulibc.h). */
#ifndef UL_LIBC_STDIO_H
#define UL_LIBC_STDIO_H
#include <stdarg.h>
#include <stddef.h>
typedef struct ul_file FILE;
extern FILE *stdout, *stderr, *stdin;
#define EOF (-1)
#define BUFSIZ 512
#ifndef SEEK_SET
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#endif
/* __printf__: third-party code may be built with -Dprintf=... */
#define printf_like(f, a) __attribute__((format(__printf__, f, a)))
int printf(const char *fmt, ...) printf_like(1, 2);
int fprintf(FILE *f, const char *fmt, ...) printf_like(2, 3);
int sprintf(char *buf, const char *fmt, ...) printf_like(2, 3);
int snprintf(char *buf, size_t size, const char *fmt, ...) printf_like(3, 4);
int vprintf(const char *fmt, va_list ap);
int vfprintf(FILE *f, const char *fmt, va_list ap);
int vsprintf(char *buf, const char *fmt, va_list ap);
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int puts(const char *s);
int fputs(const char *s, FILE *f);
int fputc(int c, FILE *f);
int putchar(int c);
int fflush(FILE *f);
FILE *fopen(const char *path, const char *mode);
int fclose(FILE *f);
char *fgets(char *buf, int size, FILE *f);
size_t fread(void *buf, size_t size, size_t n, FILE *f);
int fseek(FILE *f, long offset, int whence);
long ftell(FILE *f);
void perror(const char *s);
#undef printf_like
#endif
