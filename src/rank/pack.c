/*
 * pack.c — encoded rows re-laid row-major for the model (ns__packed, see
 * rank_int.h): training reads rows in shuffled order, and one contiguous
 * record per row turns ~30 cache misses a row into one or two. Packing is a
 * sequential pass over the CSR arrays of an ns_fdata.
 */
#include "rank_int.h"

#include <stdlib.h>
#include <string.h>

void ns__packed_release(ns__packed *p)
{
    if (!p) return;
    free(p->start);
    free(p->pool);
    memset(p, 0, sizeof *p);
}

int ns__rank_pack(ns__packed *p, const ns_fdata *d)
{
    size_t words = 0;
    int ne = d->n_emb, DD = d->dense_dim;
    for (int f = 0; f < ne; f++) words += (size_t)d->emb_off[f][d->n] - (size_t)d->emb_off[f][0];
    words += 2 * ((size_t)d->wide_off[d->n] - (size_t)d->wide_off[0]);
    words += (size_t)d->n * (size_t)(ne + 1 + DD + 2);
    if (words > p->pool_cap) {
        uint32_t *q = ns_realloc(p->pool, sizeof(uint32_t) * words);
        if (!q) return NS_ENOMEM;
        p->pool = q;
        p->pool_cap = words;
    }
    if (d->n + 1 > p->cap) {
        int64_t *s = ns_realloc(p->start, sizeof(int64_t) * ((size_t)d->n + 1));
        if (!s) return NS_ENOMEM;
        p->start = s;
        p->cap = d->n + 1;
    }
    uint32_t *w = p->pool;
    for (int r = 0; r < d->n; r++) {
        p->start[r] = w - p->pool;
        for (int f = 0; f < ne; f++) {
            int a = d->emb_off[f][r], b = d->emb_off[f][r + 1];
            *w++ = (uint32_t)(b - a);
            memcpy(w, d->emb_ids[f] + a, sizeof(uint32_t) * (size_t)(b - a));
            w += b - a;
        }
        int a = d->wide_off[r], b = d->wide_off[r + 1];
        *w++ = (uint32_t)(b - a);
        memcpy(w, d->wide_ids + a, sizeof(uint32_t) * (size_t)(b - a));
        w += b - a;
        memcpy(w, d->wide_vals + a, sizeof(float) * (size_t)(b - a));
        w += b - a;
        memcpy(w, d->dense + (size_t)r * DD, sizeof(float) * (size_t)DD);
        w += DD;
        memcpy(w++, &d->label[r], sizeof(float));
        memcpy(w++, &d->weight[r], sizeof(float));
    }
    p->start[d->n] = w - p->pool;
    p->n = d->n;
    p->used = (size_t)(w - p->pool);
    return NS_OK;
}
