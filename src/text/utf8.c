/*
 * utf8.c — UTF-8 checks for text from outside: validate, repair, and tell
 * text from binary before a tokenizer or parser spends time on it (text.h).
 */
#include "northstar/text.h"
#include "northstar/base.h"

#include <string.h>
#include <utf8proc.h>

int ns_utf8_valid(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) { i++; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

size_t ns_utf8_sanitize(const char *s, size_t n, char *out)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    size_t i = 0, o = 0;
    while (i < n) {
        if (p[i] < 0x80) { out[o++] = (char)p[i++]; continue; }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, p + i, (size_t)k);
            o += (size_t)k;
            i += (size_t)k;
        }
    }
    out[o] = 0;
    return o;
}

int ns_utf8_check_text(const char *buf, size_t len, const char *name)
{
    size_t n = len < (1u << 20) ? len : (1u << 20), ctrl = 0, bad = 0, high = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch == 0)
            return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL,
                                 "binary file (NUL byte at offset %zu); expected UTF-8 text", i);
        if (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t' && ch != '\f' && ch != '\v') ctrl++;
        if (ch >= 0x80) high++;
    }
    if (high) {
        for (size_t i = 0; i < n;) {
            unsigned char ch = (unsigned char)buf[i];
            if (ch < 0x80) { i++; continue; }
            size_t k = ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : ch >= 0xC0 ? 2 : 1;
            if (k == 1 || i + k > n || !ns_utf8_valid(buf + i, k)) { bad++; i++; }
            else i += k;
        }
    }
    if (ctrl * 20 > n || bad * 5 > n)
        return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL,
                             "does not look like text (%zu control bytes, %zu invalid UTF-8 "
                             "bytes in the first %zu); expected UTF-8 text",
                             ctrl, bad, n);
    return 0;
}
