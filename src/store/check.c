/*
 * check.c — the byte check of every string field on its way into the store
 * (store_int.h): the store runs it on each put_* record and the importers on
 * each field they read, so bad bytes are refused on every path at the cost
 * of one pass over the bytes (ASCII takes one compare per byte).
 */
#include "store_int.h"

#include "northstar/base.h"

#include <stdio.h>

int ns__text_check(const char *s, size_t n, size_t max, char *why, size_t cap)
{
    if (n > max) {
        snprintf(why, cap, "is %zu bytes, over the limit of %zu", n, max);
        return -1;
    }
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        if (p[i] && p[i] < 0x80) {
            i++;
            continue;
        }
        if (!p[i]) {
            snprintf(why, cap, "contains a NUL byte at offset %zu", i);
            return -1;
        }
        size_t k = ns_utf8_seq(s + i, n - i);
        if (!k) {
            snprintf(why, cap, "is not valid UTF-8 (byte 0x%02X at offset %zu)", p[i], i);
            return -1;
        }
        i += k;
    }
    return 0;
}

void ns__text_excerpt(const char *s, size_t n, char *out, size_t cap)
{
    if (!cap) return;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c >= 0x20 && c != 0x7F ? ns_utf8_seq(s + i, n - i) : 0;
        size_t need = k ? k : 4;
        if (o + need + 4 > cap) { /* room for this piece and "..." */
            snprintf(out + o, cap - o, "...");
            return;
        }
        if (k) {
            for (size_t j = 0; j < k; j++) out[o++] = s[i + j];
            i += k;
        } else {
            snprintf(out + o, cap - o, "\\x%02X", c);
            o += 4;
            i++;
        }
    }
    out[o] = 0;
}
