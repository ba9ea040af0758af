/*
 * realtime.c — sliding-window counters (ring buckets per dense key) and the
 * service's real-time feature set built from them. See realtime.h for the
 * semantics; this file is about keeping them cheap under concurrency.
 *
 * Workload: every ingested event touches 2-5 windows; every recommendation
 * reads item windows for a few hundred candidates. An add is one
 * compare-and-swap, a read nbuckets atomic loads of adjacent words (12
 * buckets: 1.5 cache lines); no lock is taken anywhere.
 */
#include "northstar/realtime.h"

#include "northstar/base.h"
#include "northstar/event.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Keys live in chunks of CHUNK keys, found through a fixed directory of
 * DIR chunk pointers (calloc'd: untouched pages cost nothing), so the table
 * grows without ever moving: readers and writers take no lock. A bucket is
 * one 64-bit word, (stamp << 32) | count, read with one atomic load and
 * updated with a compare-and-swap, so a reader never sees a stamp with
 * another bucket's count. stamp = bucket number + 1 (0 = never written). */
enum { CHUNK = 1024, DIR = 65536 };

struct ns_window {
    double width, span;
    int nb;
    int paired; /* item windows: (stamp 24 | impressions 20 | clicks 20) per word */
    _Atomic(_Atomic uint64_t *) *dir; /* DIR chunk pointers */
    _Atomic uint32_t nchunks;
};

static _Atomic uint64_t *chunk_of(ns_window *w, uint32_t key, int create)
{
    uint32_t c = key / CHUNK;
    if (c >= DIR) return NULL;
    _Atomic uint64_t *ch = atomic_load_explicit(&w->dir[c], memory_order_acquire);
    if (ch || !create) return ch;
    _Atomic uint64_t *fresh = ns_calloc((size_t)CHUNK * (size_t)w->nb, sizeof(uint64_t));
    if (!fresh) return NULL;
    _Atomic uint64_t *expect = NULL;
    if (atomic_compare_exchange_strong_explicit(&w->dir[c], &expect, fresh, memory_order_acq_rel,
                                                memory_order_acquire)) {
        atomic_fetch_add(&w->nchunks, 1);
        return fresh;
    }
    free(fresh); /* another thread won */
    return expect;
}

ns_window *ns_window_new(double span_s, int nbuckets, uint32_t capacity)
{
    if (!(span_s > 0) || nbuckets < 1 || nbuckets > 1024) {
        ns_err_set(NS_EINVAL, "window: span %g s and %d buckets (1..1024) are not valid", span_s, nbuckets);
        return NULL;
    }
    ns_window *w = ns_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->span = span_s;
    w->nb = nbuckets;
    w->width = span_s / nbuckets;
    if (!(w->dir = ns_calloc(DIR, sizeof *w->dir))) {
        free(w);
        return NULL;
    }
    for (uint32_t k = 0; k < (capacity ? capacity : 1); k += CHUNK)
        if (!chunk_of(w, k, 1)) {
            ns_window_free(w);
            return NULL;
        }
    return w;
}

void ns_window_free(ns_window *w)
{
    if (!w) return;
    if (w->dir)
        for (int c = 0; c < DIR; c++) free((void *)atomic_load(&w->dir[c]));
    free(w->dir);
    free(w);
}

uint32_t ns_window_capacity(ns_window *w)
{
    /* Keys below the first missing chunk. */
    uint32_t c = 0;
    while (c < DIR && atomic_load_explicit(&w->dir[c], memory_order_acquire)) c++;
    return c * CHUNK;
}

size_t ns_window_bytes(const ns_window *w)
{
    return sizeof *w + DIR * sizeof(void *) +
           (size_t)atomic_load(&((ns_window *)w)->nchunks) * CHUNK * (size_t)w->nb * sizeof(uint64_t);
}

/* Bucket number of a time (+1, so 0 means empty). Times before the epoch
 * and absurdly far ones are clamped. */
static uint32_t bucket_of(const ns_window *w, double ts)
{
    double b = floor(ts / w->width);
    if (!(b >= 0)) b = 0;
    if (b > 4.0e9) b = 4.0e9;
    return (uint32_t)b + 1;
}

int ns_window_add(ns_window *w, uint32_t key, double ts, uint32_t n)
{
    uint32_t bn = bucket_of(w, ts);
    _Atomic uint64_t *ch = chunk_of(w, key, 1);
    if (!ch) return key / CHUNK >= DIR ? ns_err_set(NS_ERANGE, "window: key %u beyond the table", key) : NS_ENOMEM;
    _Atomic uint64_t *b = &ch[(size_t)(key % CHUNK) * (size_t)w->nb + bn % (uint32_t)w->nb];
    uint64_t old = atomic_load_explicit(b, memory_order_relaxed), nw;
    do {
        uint32_t stamp = (uint32_t)(old >> 32), count = (uint32_t)old;
        if (stamp > bn) return 0; /* the slot holds a newer bucket: older than the window, not counted */
        if (stamp < bn) count = 0; /* recycle an older bucket */
        count = count + n < count ? UINT32_MAX : count + n;
        nw = (uint64_t)bn << 32 | count;
    } while (!atomic_compare_exchange_weak_explicit(b, &old, nw, memory_order_relaxed, memory_order_relaxed));
    return 0;
}

uint64_t ns_window_get(ns_window *w, uint32_t key, double now)
{
    uint32_t nowb = bucket_of(w, now);
    _Atomic uint64_t *ch = chunk_of(w, key, 0);
    if (!ch) return 0;
    const _Atomic uint64_t *b = &ch[(size_t)(key % CHUNK) * (size_t)w->nb];
    uint64_t sum = 0;
    for (int i = 0; i < w->nb; i++) {
        uint64_t v = atomic_load_explicit(&b[i], memory_order_relaxed);
        uint32_t stamp = (uint32_t)(v >> 32);
        if (stamp && stamp <= nowb && stamp + (uint32_t)w->nb > nowb) sum += (uint32_t)v;
    }
    return sum;
}

/* Paired item windows: impressions and clicks of a bucket share one word,
 * (stamp << 40) | (impressions << 20) | clicks, so a candidate's hour and
 * day features cost half the cache lines (reads here are memory-bound).
 * Stamps fit 24 bits for buckets of 5 min and more until 2129; counts
 * saturate at 2^20 - 1 per item and bucket. */
#define P_STAMP(v) ((uint32_t)((v) >> 40))
#define P_IMP(v) ((uint32_t)((v) >> 20) & 0xFFFFFu)
#define P_CLK(v) ((uint32_t)(v)&0xFFFFFu)

static ns_window *pair_new(double span, int nb, uint32_t cap)
{
    ns_window *w = ns_window_new(span, nb, cap);
    if (w) w->paired = 1;
    return w;
}

static uint32_t sat20(uint32_t a, uint32_t b) { return a + b > 0xFFFFFu ? 0xFFFFFu : a + b; }

static int pair_add(ns_window *w, uint32_t key, double ts, uint32_t dimp, uint32_t dclk)
{
    uint32_t bn = bucket_of(w, ts);
    if (bn > 0xFFFFFFu) bn = 0xFFFFFFu;
    _Atomic uint64_t *ch = chunk_of(w, key, 1);
    if (!ch) return key / CHUNK >= DIR ? ns_err_set(NS_ERANGE, "window: key %u beyond the table", key) : NS_ENOMEM;
    _Atomic uint64_t *b = &ch[(size_t)(key % CHUNK) * (size_t)w->nb + bn % (uint32_t)w->nb];
    uint64_t old = atomic_load_explicit(b, memory_order_relaxed), nw;
    do {
        uint32_t stamp = P_STAMP(old), imp = P_IMP(old), clk = P_CLK(old);
        if (stamp > bn) return 0;
        if (stamp < bn) imp = clk = 0;
        nw = (uint64_t)bn << 40 | (uint64_t)sat20(imp, dimp) << 20 | sat20(clk, dclk);
    } while (!atomic_compare_exchange_weak_explicit(b, &old, nw, memory_order_relaxed, memory_order_relaxed));
    return 0;
}

static void pair_get(ns_window *w, uint32_t key, double now, uint64_t *imp, uint64_t *clk)
{
    uint32_t nowb = bucket_of(w, now);
    if (nowb > 0xFFFFFFu) nowb = 0xFFFFFFu;
    *imp = *clk = 0;
    _Atomic uint64_t *ch = chunk_of(w, key, 0);
    if (!ch) return;
    const _Atomic uint64_t *b = &ch[(size_t)(key % CHUNK) * (size_t)w->nb];
    for (int i = 0; i < w->nb; i++) {
        uint64_t v = atomic_load_explicit(&b[i], memory_order_relaxed);
        uint32_t stamp = P_STAMP(v);
        if (stamp && stamp <= nowb && stamp + (uint32_t)w->nb > nowb) {
            *imp += P_IMP(v);
            *clk += P_CLK(v);
        }
    }
}

/* ---- the service's feature set ----------------------------------------------- */

enum { W_USER_CLK30, W_ITEM_1H, W_ITEM_1D, W_G_IMP1H, W_G_CLK1H, W_G_IMP1D, W_G_CLK1D, W__COUNT };

struct ns_rt {
    ns_window *w[W__COUNT];
    _Atomic uint64_t watermark; /* bits of the newest event time */
    _Atomic uint64_t imp_total, clk_total;
    double prior;
};

ns_rt *ns_rt_new(uint32_t users, uint32_t items)
{
    ns_rt *rt = ns_calloc(1, sizeof *rt);
    if (!rt) return NULL;
    rt->prior = 50;
    static const struct { double span; int nb; int per_user, global, paired; } spec[W__COUNT] = {
        {1800, 30, 1, 0, 0},  {3600, 12, 0, 0, 1},  {86400, 24, 0, 0, 1}, {3600, 12, 0, 1, 0},
        {3600, 12, 0, 1, 0},  {86400, 24, 0, 1, 0}, {86400, 24, 0, 1, 0},
    };
    for (int i = 0; i < W__COUNT; i++) {
        uint32_t cap = spec[i].global ? 1 : spec[i].per_user ? users : items;
        if (!cap) cap = 16;
        rt->w[i] = spec[i].paired ? pair_new(spec[i].span, spec[i].nb, cap) : ns_window_new(spec[i].span, spec[i].nb, cap);
        if (!rt->w[i]) {
            ns_rt_free(rt);
            return NULL;
        }
    }
    return rt;
}

void ns_rt_free(ns_rt *rt)
{
    if (!rt) return;
    for (int i = 0; i < W__COUNT; i++) ns_window_free(rt->w[i]);
    free(rt);
}

static double bits_to_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

double ns_rt_now(const ns_rt *rt) { return bits_to_double(atomic_load(&((ns_rt *)rt)->watermark)); }

int ns_rt_event(ns_rt *rt, uint32_t user, uint32_t item, int type, double ts)
{
    /* Advance the watermark (monotone max over a double's bits: ts >= 0). */
    if (ts > 0) {
        uint64_t nu, old = atomic_load(&rt->watermark);
        memcpy(&nu, &ts, sizeof nu);
        while (bits_to_double(old) < ts && !atomic_compare_exchange_weak(&rt->watermark, &old, nu)) {}
    }
    int rc = 0;
    if (type == NS_EV_IMPRESSION) {
        atomic_fetch_add(&rt->imp_total, 1);
        if ((rc = pair_add(rt->w[W_ITEM_1H], item, ts, 1, 0)) < 0) return rc;
        if ((rc = pair_add(rt->w[W_ITEM_1D], item, ts, 1, 0)) < 0) return rc;
        ns_window_add(rt->w[W_G_IMP1H], 0, ts, 1);
        ns_window_add(rt->w[W_G_IMP1D], 0, ts, 1);
    } else if (type == NS_EV_CLICK) {
        atomic_fetch_add(&rt->clk_total, 1);
        if ((rc = ns_window_add(rt->w[W_USER_CLK30], user, ts, 1)) < 0) return rc;
        if ((rc = pair_add(rt->w[W_ITEM_1H], item, ts, 0, 1)) < 0) return rc;
        if ((rc = pair_add(rt->w[W_ITEM_1D], item, ts, 0, 1)) < 0) return rc;
        ns_window_add(rt->w[W_G_CLK1H], 0, ts, 1);
        ns_window_add(rt->w[W_G_CLK1D], 0, ts, 1);
    }
    return 0;
}

uint64_t ns_rt_user_clicks_30m(ns_rt *rt, uint32_t user, double now)
{
    return ns_window_get(rt->w[W_USER_CLK30], user, now);
}

void ns_rt_global_stats(ns_rt *rt, double now, ns_rt_global *g)
{
    g->imp_1h = ns_window_get(rt->w[W_G_IMP1H], 0, now);
    g->clk_1h = ns_window_get(rt->w[W_G_CLK1H], 0, now);
    g->imp_1d = ns_window_get(rt->w[W_G_IMP1D], 0, now);
    g->clk_1d = ns_window_get(rt->w[W_G_CLK1D], 0, now);
    g->imp_total = atomic_load(&rt->imp_total);
    g->clk_total = atomic_load(&rt->clk_total);
}

/* Global CTR of the day, the prior of the smoothed item CTR. */
static double global_ctr(ns_rt *rt, double now)
{
    uint64_t gi = ns_window_get(rt->w[W_G_IMP1D], 0, now), gc = ns_window_get(rt->w[W_G_CLK1D], 0, now);
    double p = gi ? (double)gc / (double)gi : 0.05;
    return p > 1 ? 1 : p;
}

static void item_stats(ns_rt *rt, uint32_t item, double now, double p, ns_rt_item *o)
{
    pair_get(rt->w[W_ITEM_1H], item, now, &o->imp_1h, &o->clk_1h);
    pair_get(rt->w[W_ITEM_1D], item, now, &o->imp_1d, &o->clk_1d);
    o->ctr = ((double)o->clk_1d + rt->prior * p) / ((double)o->imp_1d + rt->prior + 1e-12);
}

void ns_rt_item_stats(ns_rt *rt, uint32_t item, double now, ns_rt_item *o)
{
    item_stats(rt, item, now, global_ctr(rt, now), o);
}

/* Start loading an item's bucket words (they are read a few items later). */
static void prefetch_item(ns_window *w, uint32_t key)
{
    _Atomic uint64_t *ch = chunk_of(w, key, 0);
    if (!ch) return;
    const char *b = (const char *)&ch[(size_t)(key % CHUNK) * (size_t)w->nb];
    for (size_t off = 0; off < (size_t)w->nb * sizeof(uint64_t); off += 64) __builtin_prefetch(b + off, 0, 1);
}

/* Candidates are random items: each one's hour and day buckets are ~4.5
 * cache lines that miss. Prefetching them PREFETCH_AHEAD items early keeps
 * that many misses in flight instead of one at a time. */
enum { PREFETCH_AHEAD = 8 };

void ns_rt_items_stats(ns_rt *rt, const uint32_t *items, size_t stride_bytes, size_t n, double now, ns_rt_item *out)
{
    double p = global_ctr(rt, now);
#define ITEM_AT(i) (*(const uint32_t *)((const char *)items + (i) * stride_bytes))
    for (size_t i = 0; i < n && i < PREFETCH_AHEAD; i++) {
        prefetch_item(rt->w[W_ITEM_1H], ITEM_AT(i));
        prefetch_item(rt->w[W_ITEM_1D], ITEM_AT(i));
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            prefetch_item(rt->w[W_ITEM_1H], ITEM_AT(i + PREFETCH_AHEAD));
            prefetch_item(rt->w[W_ITEM_1D], ITEM_AT(i + PREFETCH_AHEAD));
        }
        item_stats(rt, ITEM_AT(i), now, p, &out[i]);
    }
#undef ITEM_AT
}

void ns_rt_item_counts(ns_rt *rt, uint32_t item, double now, int day, uint64_t *imp, uint64_t *clk)
{
    pair_get(rt->w[day ? W_ITEM_1D : W_ITEM_1H], item, now, imp, clk);
}

size_t ns_rt_bytes(const ns_rt *rt)
{
    size_t n = sizeof *rt;
    for (int i = 0; i < W__COUNT; i++) n += ns_window_bytes(rt->w[i]);
    return n;
}
