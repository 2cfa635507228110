/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "string-util.h"
#include "ul-errno.h"

size_t ul_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t ul_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int ul_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

char ul_tolower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool ul_isspace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int ul_strncasecmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        int d = (unsigned char)ul_tolower(*a) - (unsigned char)ul_tolower(*b);
        if (d != 0 || !*a)
            return d;
    }
    return 0;
}

int ul_strcasecmp(const char *a, const char *b)
{
    return ul_strncasecmp(a, b, (size_t)-1);
}

size_t ul_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = ul_strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        ul_memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}

void *ul_memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *ul_memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *ul_memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

int ul_memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n > 0; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

void ul_explicit_bzero(void *dst, size_t n)
{
    volatile uint8_t *d = dst;
    while (n--)
        *d++ = 0;
    __asm__ __volatile__("" : : "r"(dst) : "memory");
}

int ul_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int ul_parse_u32(const char *s, size_t len, uint32_t *ret)
{
    uint64_t v = 0;
    if (len == 0)
        return -UL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -UL_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -UL_ERANGE;
    }
    *ret = (uint32_t)v;
    return 0;
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_n(struct out *o, char c, int n)
{
    for (; n > 0; n--)
        put(o, c);
}

/* The digits of an integer conversion with its prefix, zeros and padding. */
static void put_integer(struct out *o, char conv, uint64_t u, bool neg, int width, int prec,
                        bool left, bool plus, bool space, bool alt, bool zero)
{
    unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : 10;
    const char *xd = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    char digits[24];
    int nd = 0;
    bool has_prec = prec >= 0; /* a precision turns the '0' flag off (C11 7.21.6.1) */

    for (uint64_t v = u; v; v /= base)
        digits[nd++] = xd[v % base];
    if (prec < 0 && nd == 0)
        digits[nd++] = '0';
    const char *prefix = neg ? "-" : plus ? "+" : space ? " " : "";
    if (alt && base == 16 && u)
        prefix = conv == 'X' ? "0X" : "0x";
    if (alt && base == 8 && prec <= nd && (nd == 0 || digits[nd - 1] != '0'))
        prec = nd + 1; /* '#o': the first digit is a 0 */
    int zeros = prec > nd ? prec - nd : 0;
    int total = (int)ul_strlen(prefix) + zeros + nd;
    if (zero && !left && !has_prec && width > total) {
        zeros += width - total;
        total = width;
    }
    if (!left)
        put_n(o, ' ', width - total);
    for (const char *q = prefix; *q; q++)
        put(o, *q);
    put_n(o, '0', zeros);
    while (nd)
        put(o, digits[--nd]);
    if (left)
        put_n(o, ' ', width - total);
}

size_t ul_vformat(char *buf, size_t size, const char *fmt, va_list ap, const char *m_text)
{
    struct out o = { buf, size, 0 };

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
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
            else if (*p == 'z' || *p == 't' || *p == 'j') len = 5;
            else break;
        }

        const char *str = NULL;
        size_t slen = 0;
        char c;
        switch (*p) {
        case 0:
            p--; /* a lone '%' at the end */
            continue;
        case '%':
            put(&o, '%');
            continue;
        case 'm':
            if (!m_text) {
                put(&o, '%');
                put(&o, 'm');
                continue;
            }
            str = m_text;
            slen = ul_strlen(str);
            break;
        case 's':
            str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            slen = prec >= 0 ? ul_strnlen(str, (size_t)prec) : ul_strlen(str);
            break;
        case 'c':
            c = (char)va_arg(ap, int);
            str = &c;
            slen = 1;
            break;
        case 'd': case 'i': {
            int64_t v;
            switch (len) {
            case 1: v = (signed char)va_arg(ap, int); break;
            case 2: v = (short)va_arg(ap, int); break;
            case 3: v = va_arg(ap, long); break;
            case 4: v = va_arg(ap, long long); break;
            case 5: v = (int64_t)va_arg(ap, long); break;
            default: v = va_arg(ap, int); break;
            }
            put_integer(&o, *p, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0, width,
                        prec, left, plus, space, alt, zero);
            continue;
        }
        case 'u': case 'o': case 'x': case 'X': case 'p': {
            uint64_t u;
            if (*p == 'p') {
                u = (uintptr_t)va_arg(ap, void *);
                alt = true;
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
            put_integer(&o, *p, u, false, width, prec, left, false, false, alt, zero);
            continue;
        }
        default:
            /* unknown conversion: print it as is, consuming no argument */
            put(&o, '%');
            put(&o, *p);
            continue;
        }
        if (!left)
            put_n(&o, ' ', width - (int)slen);
        for (size_t i = 0; i < slen; i++)
            put(&o, str[i]);
        if (left)
            put_n(&o, ' ', width - (int)slen);
    }
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}

size_t ul_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return ul_vformat(buf, size, fmt, ap, NULL);
}

size_t ul_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ul_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

const char *ul_strerror(int err)
{
    if (err < 0)
        err = err == INT32_MIN ? 0x7fffffff : -err;
    switch (err) {
    case 0: return "success";
    case UL_EPERM: return "EPERM";
    case UL_ENOENT: return "ENOENT (not found)";
    case UL_EIO: return "EIO (I/O error)";
    case UL_E2BIG: return "E2BIG (too big)";
    case UL_ENOMEM: return "ENOMEM (out of memory)";
    case UL_EACCES: return "EACCES (access denied)";
    case UL_EBUSY: return "EBUSY (busy)";
    case UL_EEXIST: return "EEXIST (exists)";
    case UL_ENODEV: return "ENODEV (no device)";
    case UL_EISDIR: return "EISDIR (is a directory)";
    case UL_EINVAL: return "EINVAL (invalid)";
    case UL_ENOSPC: return "ENOSPC (volume full)";
    case UL_EROFS: return "EROFS (read-only)";
    case UL_ERANGE: return "ERANGE (out of range)";
    case UL_ENAMETOOLONG: return "ENAMETOOLONG (name too long)";
    case UL_ENOTEMPTY: return "ENOTEMPTY (not empty)";
    case UL_ELOOP: return "ELOOP (cycle)";
    case UL_ENODATA: return "ENODATA (no data)";
    case UL_ESTALE: return "ESTALE (dirty: logs not replayed)";
    case UL_EBADMSG: return "EBADMSG (corrupt data)";
    case UL_EOPNOTSUPP: return "EOPNOTSUPP (not supported)";
    case UL_ECANCELED: return "ECANCELED (cancelled)";
    default: return "unknown error";
    }
}
