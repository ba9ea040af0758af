/*
 * idset.c — compact sorted sets of item indexes (idset_int.h).
 */
#include "idset_int.h"

#include "northstar/base.h"

#include <stdlib.h>
#include <string.h>

uint32_t ns__idset_find(const ns__idset *s, uint32_t x, int *found)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < s->n && s->v[lo] == x;
    return lo;
}

int ns__idset_has(const ns__idset *s, uint32_t x)
{
    int found;
    ns__idset_find(s, x, &found);
    return found;
}

static int grow(ns__idset *s, int with_flags)
{
    uint32_t nc = s->cap ? s->cap * 2 : 8;
    if (nc < s->cap) return ns_err_set(NS_ERANGE, "item set over 2^32 entries");
    uint32_t *v = ns_realloc(s->v, sizeof(uint32_t) * nc);
    if (!v) return NS_ENOMEM;
    s->v = v;
    if (with_flags) {
        uint8_t *f = ns_realloc(s->flags, nc);
        if (!f) return NS_ENOMEM; /* v grew; cap stays, so the next add retries */
        s->flags = f;
    }
    s->cap = nc;
    return 0;
}

int ns__idset_add(ns__idset *s, uint32_t x, int with_flags, uint8_t flags)
{
    int found, rc;
    uint32_t at = ns__idset_find(s, x, &found);
    if (!found) {
        if (s->n == s->cap && (rc = grow(s, with_flags)) < 0) return rc;
        memmove(s->v + at + 1, s->v + at, sizeof(uint32_t) * (s->n - at));
        s->v[at] = x;
        if (with_flags) {
            memmove(s->flags + at + 1, s->flags + at, s->n - at);
            s->flags[at] = 0;
        }
        s->n++;
    }
    if (with_flags) s->flags[at] |= flags;
    return 0;
}

void ns__idset_remove(ns__idset *s, uint32_t x)
{
    int found;
    uint32_t at = ns__idset_find(s, x, &found);
    if (!found) return;
    memmove(s->v + at, s->v + at + 1, sizeof(uint32_t) * (s->n - at - 1));
    if (s->flags) memmove(s->flags + at, s->flags + at + 1, s->n - at - 1);
    s->n--;
}

void ns__idset_free(ns__idset *s)
{
    free(s->v);
    free(s->flags);
    memset(s, 0, sizeof *s);
}
