/*
 * mem.c — allocation helpers that record NS_ENOMEM, and arenas.
 *
 * An arena is a chain of blocks handed out by bumping a pointer. It suits
 * request- and batch-lifetime data: parse a request into it, answer, reset.
 */
#include "northstar/base.h"

#include <stdlib.h>
#include <string.h>

void *ns_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) ns_err_set(NS_ENOMEM, "cannot allocate %zu bytes", n);
    return p;
}

void *ns_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) ns_err_set(NS_ENOMEM, "cannot allocate %zu x %zu bytes", count, size);
    return p;
}

void *ns_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) ns_err_set(NS_ENOMEM, "cannot reallocate to %zu bytes", n);
    return q;
}

void *ns_malloc_aligned(size_t n)
{
    void *p = NULL;
    size_t sz = (n + 63) & ~(size_t)63;
    if (n > SIZE_MAX - 63 || posix_memalign(&p, 64, sz ? sz : 64) != 0) {
        ns_err_set(NS_ENOMEM, "cannot allocate %zu aligned bytes", n);
        return NULL;
    }
    return p;
}

void ns_free_aligned(void *p) { free(p); }

char *ns_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = ns_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* ---- arena ---------------------------------------------------------- */

struct ns_arena_block {
    ns_arena_block *prev;
    size_t cap;   /* usable bytes in data[] */
    size_t used;
    _Alignas(16) unsigned char data[];
};

void ns_arena_init(ns_arena *a, size_t block_size)
{
    a->head = NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->used_total = 0;
}

static ns_arena_block *new_block(ns_arena *a, size_t need)
{
    size_t cap = a->block_size;
    if (need > cap) cap = need;
    if (cap > SIZE_MAX - sizeof(ns_arena_block)) {
        ns_err_set(NS_ENOMEM, "arena block of %zu bytes is too large", need);
        return NULL;
    }
    ns_arena_block *b = ns_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->prev = a->head;
    b->cap = cap;
    b->used = 0;
    a->head = b;
    return b;
}

void *ns_arena_alloc(ns_arena *a, size_t size, size_t align)
{
    if (align == 0) align = 16;
    /* align must be a power of two */
    if (align & (align - 1) || align > 4096) {
        ns_err_set(NS_EINVAL, "arena alignment %zu is not a power of two <= 4096", align);
        return NULL;
    }
    ns_arena_block *b = a->head;
    size_t off = 0;
    if (b) {
        uintptr_t base = (uintptr_t)b->data + b->used;
        off = ((base + align - 1) & ~(uintptr_t)(align - 1)) - (uintptr_t)b->data;
    }
    if (!b || off > b->cap || size > b->cap - off) {
        if (size > SIZE_MAX / 2) {
            ns_err_set(NS_ENOMEM, "arena allocation of %zu bytes is too large", size);
            return NULL;
        }
        b = new_block(a, size + align);
        if (!b) return NULL;
        uintptr_t base = (uintptr_t)b->data;
        off = ((base + align - 1) & ~(uintptr_t)(align - 1)) - base;
    }
    b->used = off + size;
    a->used_total += size;
    return b->data + off;
}

void *ns_arena_calloc(ns_arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size) { ns_err_set(NS_ENOMEM, "arena allocation overflows"); return NULL; }
    void *p = ns_arena_alloc(a, count * size, 16);
    if (p) memset(p, 0, count * size);
    return p;
}

char *ns_arena_strndup(ns_arena *a, const char *s, size_t n)
{
    char *d = ns_arena_alloc(a, n + 1, 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *ns_arena_strdup(ns_arena *a, const char *s) { return ns_arena_strndup(a, s, strlen(s)); }

char *ns_arena_sprintf(ns_arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = n >= 0 ? ns_arena_alloc(a, (size_t)n + 1, 1) : NULL;
    if (d) vsnprintf(d, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

ns_arena_mark ns_arena_save(const ns_arena *a)
{
    ns_arena_mark m = {a->head, a->head ? a->head->used : 0, a->used_total};
    return m;
}

void ns_arena_rewind(ns_arena *a, ns_arena_mark m)
{
    while (a->head && a->head != m.block) {
        ns_arena_block *p = a->head->prev;
        free(a->head);
        a->head = p;
    }
    if (a->head) a->head->used = m.used;
    a->used_total = m.used_total;
}

void ns_arena_reset(ns_arena *a)
{
    while (a->head && a->head->prev) {
        ns_arena_block *p = a->head->prev;
        free(a->head);
        a->head = p;
    }
    if (a->head) a->head->used = 0;
    a->used_total = 0;
}

void ns_arena_release(ns_arena *a)
{
    if (!a) return;
    while (a->head) {
        ns_arena_block *p = a->head->prev;
        free(a->head);
        a->head = p;
    }
    a->used_total = 0;
}
