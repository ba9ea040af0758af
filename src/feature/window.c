/*
 * window.c — sliding-window counters: ring buckets per dense key, single or
 * paired (two counts in one word). See window.h for the semantics; this
 * file is about keeping them cheap under concurrency.
 *
 * Workload: every ingested event touches 2-5 windows; every recommendation
 * reads item windows for a few hundred candidates. An add is one
 * compare-and-swap, a read nbuckets atomic loads of adjacent words (12
 * buckets: 1.5 cache lines); no lock is taken anywhere.
 */
#include "northstar/window.h"

#include "northstar/base.h"

#include <assert.h>

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
    assert(!w->paired);
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
    assert(!w->paired);
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

ns_window *ns_window_new_pair(double span_s, int nbuckets, uint32_t capacity)
{
    ns_window *w = ns_window_new(span_s, nbuckets, capacity);
    if (w) w->paired = 1;
    return w;
}

static uint32_t sat20(uint32_t a, uint32_t b) { return a + b > 0xFFFFFu ? 0xFFFFFu : a + b; }

int ns_window_add_pair(ns_window *w, uint32_t key, double ts, uint32_t dimp, uint32_t dclk)
{
    assert(w->paired);
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

void ns_window_get_pair(ns_window *w, uint32_t key, double now, uint64_t *imp, uint64_t *clk)
{
    assert(w->paired);
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

void ns_window_prefetch(ns_window *w, uint32_t key)
{
    _Atomic uint64_t *ch = chunk_of(w, key, 0);
    if (!ch) return;
    const char *b = (const char *)&ch[(size_t)(key % CHUNK) * (size_t)w->nb];
    for (size_t off = 0; off < (size_t)w->nb * sizeof(uint64_t); off += 64) __builtin_prefetch(b + off, 0, 1);
}
