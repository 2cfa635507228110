/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The rest of what libntfs-3g and ntfsrecover ask of a libc (DESIGN.md §1):
 * errno, ctype, qsort, time, random, and stubs for what does not exist
 * before the OS runs (users, processes, file descriptors, locales, syslog).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <locale.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "libc-internal.h"
#include "../../shared/time-util.h"

int errno;
struct ul_libc_hooks ul_libc;

void ul_libc_init(const struct ul_libc_hooks *hooks)
{
    ul_libc = *hooks;
}

/* ---- ctype: the "C" locale */
int isdigit(int c) { return c >= '0' && c <= '9'; }
int islower(int c) { return c >= 'a' && c <= 'z'; }
int isupper(int c) { return c >= 'A' && c <= 'Z'; }
int isalpha(int c) { return islower(c) || isupper(c); }
int isalnum(int c) { return isalpha(c) || isdigit(c); }
int isxdigit(int c) { return isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int isspace(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
int isprint(int c) { return c >= 0x20 && c < 0x7f; }
int isgraph(int c) { return c > 0x20 && c < 0x7f; }
int iscntrl(int c) { return (c >= 0 && c < 0x20) || c == 0x7f; }
int ispunct(int c) { return isgraph(c) && !isalnum(c); }
int tolower(int c) { return isupper(c) ? c - 'A' + 'a' : c; }
int toupper(int c) { return islower(c) ? c - 'a' + 'A' : c; }

/* ---- numbers */
unsigned long long strtoull(const char *str, char **end, int base)
{
    const char *p = str;
    unsigned long long v = 0;
    while (isspace(*p))
        p++;
    if (*p == '+')
        p++;
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = *p == '0' ? 8 : 10;
    }
    const char *start = p;
    for (;; p++) {
        int d = isdigit(*p) ? *p - '0' : isalpha(*p) ? tolower(*p) - 'a' + 10 : 99;
        if (d >= base)
            break;
        v = v * (unsigned)base + (unsigned)d;
    }
    if (end)
        *end = (char *)(p == start ? str : p);
    return v;
}

long long strtoll(const char *str, char **end, int base)
{
    const char *p = str;
    while (isspace(*p))
        p++;
    int neg = *p == '-';
    if (neg)
        p++;
    char *e;
    unsigned long long v = strtoull(p, &e, base);
    if (end)
        *end = e == p ? (char *)str : e;
    return neg ? -(long long)v : (long long)v;
}

unsigned long strtoul(const char *str, char **end, int base) { return strtoull(str, end, base); }
long strtol(const char *str, char **end, int base) { return strtoll(str, end, base); }
int atoi(const char *str) { return (int)strtol(str, NULL, 10); }

/* ---- sorting: heapsort, O(n log n) whatever the input, no extra memory */
static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
    while (size--) {
        unsigned char t = *a;
        *a++ = *b;
        *b++ = t;
    }
}

static void sift_down(unsigned char *base, size_t root, size_t n, size_t size,
                      int (*cmp)(const void *, const void *))
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
            child++;
        if (cmp(base + root * size, base + child * size) >= 0)
            return;
        swap_bytes(base + root * size, base + child * size, size);
        root = child;
    }
}

void qsort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    unsigned char *b = base;
    if (n < 2 || !size)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(b, i, n, size, cmp);
    for (size_t end = n - 1; end > 0; end--) {
        swap_bytes(b, b + end * size, size);
        sift_down(b, 0, end, size, cmp);
    }
}

/* ---- time */
time_t time(time_t *t)
{
    time_t now = ul_libc.clock ? ul_libc.clock() : -1;
    if (now < 0)
        now = 0;
    if (t)
        *t = now;
    return now;
}

/* Times before 1970 read as 1970 (ul_time_to_fields()). */
struct tm *gmtime(const time_t *t)
{
    static struct tm tm;
    int64_t secs = *t > 0 ? *t : 0;
    int64_t days = secs / 86400;

    ul_time_to_fields(secs, &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                      &tm.tm_sec);
    tm.tm_yday = (int)(days - ul_time_from_fields(tm.tm_year, 1, 1, 0, 0, 0) / 86400);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_wday = (int)((days + 4) % 7);     /* 1970-01-01 was a Thursday */
    tm.tm_isdst = 0;
    return &tm;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    if (tv) {
        tv->tv_sec = time(NULL);
        tv->tv_usec = 0;
    }
    return 0;
}

/* ---- random: used for security descriptor ids and such, not for secrets */
static uint64_t rand_state = 0x853c49e6748fea9bULL;

void srandom(unsigned int seed)
{
    rand_state = seed ? seed : 0x853c49e6748fea9bULL;
}

long random(void)
{
    /* xorshift64* */
    rand_state ^= rand_state >> 12;
    rand_state ^= rand_state << 25;
    rand_state ^= rand_state >> 27;
    return (long)((rand_state * 0x2545f4914f6cdd1dULL) >> 33);
}

/* ---- environment, locale, wide characters: nothing but "C" and UTF-8 */
char *getenv(const char *name) { return NULL; }

char *setlocale(int category, const char *locale)
{
    static char c_locale[] = "C";
    if (!locale || !strcmp(locale, "C") || !strcmp(locale, "POSIX"))
        return c_locale;
    return NULL;    /* libntfs-3g then keeps its own UTF-8 conversion */
}

int mbtowc(wchar_t *wc, const char *s, size_t n)
{
    if (!s)
        return 0;
    if (!n) {
        errno = EILSEQ;
        return -1;
    }
    if ((unsigned char)*s >= 0x80) {
        errno = EILSEQ;
        return -1;
    }
    if (wc)
        *wc = (wchar_t)*s;
    return *s != 0;
}

int wctomb(char *s, wchar_t wc)
{
    if (!s)
        return 0;
    if ((unsigned)wc >= 0x80) {
        errno = EILSEQ;
        return -1;
    }
    *s = (char)wc;
    return 1;
}

size_t mbstowcs(wchar_t *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src[i]; i++) {
        if ((unsigned char)src[i] >= 0x80) {
            errno = EILSEQ;
            return (size_t)-1;
        }
        if (dst) {
            if (i >= n)
                return i;
            dst[i] = (wchar_t)src[i];
        }
    }
    if (dst && i < n)
        dst[i] = 0;
    return i;
}

/* ---- syslog: libntfs-3g's syslog handler is never installed; route anyway */
void vsyslog(int prio, const char *fmt, va_list ap)
{
    vfprintf(prio <= LOG_WARNING ? stderr : stdout, fmt, ap);
}

void syslog(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsyslog(prio, fmt, ap);
    va_end(ap);
}

void openlog(const char *ident, int option, int facility) {}

/* ---- users and processes: there are none; everything is root */
uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
pid_t getpid(void) { return 1; }
struct passwd *getpwuid(uid_t uid) { return NULL; }
struct passwd *getpwnam(const char *name) { return NULL; }
struct group *getgrgid(gid_t gid) { return NULL; }
struct group *getgrnam(const char *name) { return NULL; }

/* ---- file descriptors: none (security.c's user mapping file, realpath.c) */
int open(const char *path, int flags, ...)
{
    errno = ENOENT;
    return -1;
}

ssize_t read(int fd, void *buf, size_t n)
{
    errno = EBADF;
    return -1;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    errno = EBADF;
    return -1;
}

int close(int fd)
{
    errno = EBADF;
    return -1;
}
