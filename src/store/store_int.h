/*
 * store_int.h — what store.c and import.c share: the byte check every
 * string field passes before it is stored (no NUL, valid UTF-8, within its
 * limit: store.h's NS_STORE_*_MAX), and the printable excerpt of a refused
 * value that error records carry.
 */
#ifndef NS_STORE_INT_H
#define NS_STORE_INT_H

#include <stddef.h>

/* 0 when s[0..n) may be stored in a field of at most max bytes; else -1
 * with the reason in why[cap] ("is not valid UTF-8 (byte 0xFF at offset 2)",
 * "contains a NUL byte at offset 2", "is 70000 bytes, over the limit of
 * 65536"). */
int ns__text_check(const char *s, size_t n, size_t max, char *why, size_t cap);

/* s[0..n) for an error record's value: valid UTF-8 with control bytes and
 * bytes that start no valid sequence written as \xHH, cut (ending in "...")
 * to fit out[cap]. */
void ns__text_excerpt(const char *s, size_t n, char *out, size_t cap);

#endif /* NS_STORE_INT_H */
