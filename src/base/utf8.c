/*
 * utf8.c — UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates,
 * nothing past U+10FFFF), for every byte that comes from outside: validate,
 * repair, tell text from binary, convert Latin-1, and the JSON writer's
 * guarantee that what it emits parses (base.h).
 */
#include "northstar/base.h"

#include <string.h>

size_t ns_utf8_seq(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0) return 0;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }               /* no overlong 3-byte forms */
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) { len = 3; hi = 0x9F; }               /* no surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }               /* no overlong 4-byte forms */
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }               /* nothing past U+10FFFF */
    else return 0;                                            /* C0, C1, F5..FF, continuation */
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return len;
}

int ns_utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = ns_utf8_seq(s + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

size_t ns_utf8_sanitize(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = ns_utf8_seq(s + i, n - i);
        if (!k) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        }
    }
    out[o] = 0;
    return o;
}

size_t ns_utf8_from_latin1(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) out[k++] = (char)c;
        else {
            out[k++] = (char)(0xC0 | (c >> 6));
            out[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[k] = 0;
    return k;
}

int ns_utf8_check_text(const char *buf, size_t len, const char *name)
{
    size_t n = len < (1u << 20) ? len : (1u << 20), ctrl = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == 0)
            return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL,
                                 "binary file (NUL byte at offset %zu); expected UTF-8 text", i);
        if (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t' && ch != '\f' && ch != '\v') ctrl++;
    }
    for (size_t i = 0; i < n;) {
        size_t k = ns_utf8_seq(buf + i, n - i);
        if (!k) {
            /* a sequence cut by the 1 MiB window is not an error */
            if (n < len && n - i < 4) break;
            bad++;
            i++;
        } else i += k;
    }
    if (ctrl * 20 > n || bad * 5 > n)
        return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL,
                             "does not look like text (%zu control bytes, %zu invalid UTF-8 "
                             "bytes in the first %zu); expected UTF-8 text",
                             ctrl, bad, n);
    return 0;
}
