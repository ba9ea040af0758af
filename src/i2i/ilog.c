/*
 * ilog.c — the implicit-feedback log the offline jobs train on: positive
 * (user, item, time) triples with dense ids, indexed as per-user histories
 * in time order and per-item user lists (CSR both ways).
 *
 * Workload: built once per training job from the store (10^5..10^7
 * events); the CSR build is two counting passes after a stable sort by
 * time.
 */
#include "northstar/ilog.h"

#include <stdlib.h>
#include <string.h>

int ns_ilog_init(ns_ilog *l)
{
    memset(l, 0, sizeof *l);
    l->users = ns_strmap_new(1024);
    l->items = ns_strmap_new(1024);
    if (!l->users || !l->items) {
        ns_ilog_release(l);
        return NS_ENOMEM;
    }
    return 0;
}

void ns_ilog_release(ns_ilog *l)
{
    if (!l) return;
    ns_strmap_free(l->users);
    ns_strmap_free(l->items);
    free(l->u);
    free(l->i);
    free(l->ts);
    free(l->uoff);
    free(l->uitems);
    free(l->ioff);
    free(l->iusers);
    memset(l, 0, sizeof *l);
}

int ns_ilog_item(ns_ilog *l, const char *item)
{
    int64_t id = ns_strmap_intern(l->items, item, strlen(item));
    return id < 0 ? (int)id : 0;
}

int ns_ilog_add(ns_ilog *l, const char *user, const char *item, double ts)
{
    int64_t u = ns_strmap_intern(l->users, user, strlen(user));
    int64_t i = ns_strmap_intern(l->items, item, strlen(item));
    if (u < 0 || i < 0) return NS_ENOMEM;
    if (l->n == l->cap) {
        int64_t nc = l->cap ? l->cap * 2 : 4096;
        uint32_t *nu = ns_realloc(l->u, sizeof(uint32_t) * (size_t)nc);
        if (nu) l->u = nu;
        uint32_t *ni = ns_realloc(l->i, sizeof(uint32_t) * (size_t)nc);
        if (ni) l->i = ni;
        double *nt = ns_realloc(l->ts, sizeof(double) * (size_t)nc);
        if (nt) l->ts = nt;
        if (!nu || !ni || !nt) return NS_ENOMEM;
        l->cap = nc;
    }
    l->u[l->n] = (uint32_t)u;
    l->i[l->n] = (uint32_t)i;
    l->ts[l->n] = ts;
    l->n++;
    return 0;
}

typedef struct { double ts; int64_t k; } order_t;

static int by_time(const void *a, const void *b)
{
    const order_t *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* CSR of distinct values per key: keys[k] -> vals[k], in the order given. */
static int build_csr(const uint32_t *keys, const uint32_t *vals, const int64_t *order, int64_t n, uint32_t nkeys,
                     uint32_t nvals, int64_t **off_out, uint32_t **val_out)
{
    int64_t *off = ns_calloc((size_t)nkeys + 1, sizeof *off);
    uint32_t *val = ns_malloc(sizeof *val * (size_t)(n ? n : 1));
    uint64_t *seen = ns_calloc(((size_t)nvals + 63) / 64 + 1, sizeof *seen);
    int64_t *fill = ns_calloc((size_t)nkeys + 1, sizeof *fill);
    if (!off || !val || !seen || !fill) {
        free(off);
        free(val);
        free(seen);
        free(fill);
        return NS_ENOMEM;
    }
    for (int64_t k = 0; k < n; k++) off[keys[k] + 1]++;
    for (uint32_t k = 0; k < nkeys; k++) off[k + 1] += off[k];
    for (int64_t j = 0; j < n; j++) {
        int64_t k = order ? order[j] : j;
        uint32_t key = keys[k];
        val[off[key] + fill[key]++] = vals[k];
    }
    /* Drop repeats within each row (keep the first), compacting in place. */
    int64_t w = 0;
    for (uint32_t key = 0; key < nkeys; key++) {
        int64_t a = off[key], b = off[key] + fill[key];
        off[key] = w;
        for (int64_t j = a; j < b; j++) {
            uint32_t v = val[j];
            if (seen[v / 64] >> (v % 64) & 1) continue;
            seen[v / 64] |= 1ull << (v % 64);
            val[w++] = v;
        }
        for (int64_t j = off[key]; j < w; j++) seen[val[j] / 64] &= ~(1ull << (val[j] % 64));
    }
    off[nkeys] = w;
    free(seen);
    free(fill);
    *off_out = off;
    *val_out = val;
    return 0;
}

int ns_ilog_index(ns_ilog *l)
{
    free(l->uoff);
    free(l->uitems);
    free(l->ioff);
    free(l->iusers);
    l->uoff = l->ioff = NULL;
    l->uitems = l->iusers = NULL;
    uint32_t nu = ns_ilog_nusers(l), ni = ns_ilog_nitems(l);
    order_t *o = ns_malloc(sizeof *o * (size_t)(l->n ? l->n : 1));
    int64_t *ord = ns_malloc(sizeof *ord * (size_t)(l->n ? l->n : 1));
    if (!o || !ord) {
        free(o);
        free(ord);
        return NS_ENOMEM;
    }
    for (int64_t k = 0; k < l->n; k++) o[k] = (order_t){l->ts[k], k};
    qsort(o, (size_t)l->n, sizeof *o, by_time);
    for (int64_t k = 0; k < l->n; k++) ord[k] = o[k].k;
    free(o);
    int rc = build_csr(l->u, l->i, ord, l->n, nu, ni, &l->uoff, &l->uitems);
    free(ord);
    if (rc < 0) return rc;
    /* Item -> users from the (distinct) histories: rows come out ascending. */
    int64_t nnz = l->uoff[nu];
    l->ioff = ns_calloc((size_t)ni + 1, sizeof *l->ioff);
    l->iusers = ns_malloc(sizeof *l->iusers * (size_t)(nnz ? nnz : 1));
    int64_t *fill = ns_calloc((size_t)ni + 1, sizeof *fill);
    if (!l->ioff || !l->iusers || !fill) {
        free(fill);
        return NS_ENOMEM;
    }
    for (int64_t k = 0; k < nnz; k++) l->ioff[l->uitems[k] + 1]++;
    for (uint32_t i = 0; i < ni; i++) l->ioff[i + 1] += l->ioff[i];
    for (uint32_t u = 0; u < nu; u++)
        for (int64_t k = l->uoff[u]; k < l->uoff[u + 1]; k++) {
            uint32_t i = l->uitems[k];
            l->iusers[l->ioff[i] + fill[i]++] = u;
        }
    free(fill);
    return 0;
}
