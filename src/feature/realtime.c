/*
 * realtime.c — sliding-window counters (ring buckets per dense key) and the
 * service's real-time feature set built from them. See realtime.h for the
 * semantics; this file is about keeping them cheap under concurrency.
 *
 * Workload: every ingested event touches 2-5 windows; every recommendation
 * reads item windows for a few hundred candidates. An add or a read of one
 * key is a striped mutex plus a read lock, O(nbuckets) for reads. Counts and
 * stamps of a key are adjacent in memory (one cache line for 12 buckets).
 */
#include "northstar/realtime.h"

#include "northstar/base.h"
#include "northstar/store.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { NSTRIPES = 256 };

typedef struct {
    uint32_t stamp; /* bucket number + 1 (0 = never written) */
    uint32_t count;
} bucket;

struct ns_window {
    double width, span;
    int nb;
    uint32_t cap;
    bucket *b; /* cap * nb */
    pthread_rwlock_t grow;
    pthread_mutex_t stripe[NSTRIPES];
};

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
    w->cap = capacity ? capacity : 1;
    w->b = ns_calloc((size_t)w->cap * (size_t)nbuckets, sizeof(bucket));
    if (!w->b) {
        free(w);
        return NULL;
    }
    pthread_rwlock_init(&w->grow, NULL);
    for (int i = 0; i < NSTRIPES; i++) pthread_mutex_init(&w->stripe[i], NULL);
    return w;
}

void ns_window_free(ns_window *w)
{
    if (!w) return;
    pthread_rwlock_destroy(&w->grow);
    for (int i = 0; i < NSTRIPES; i++) pthread_mutex_destroy(&w->stripe[i]);
    free(w->b);
    free(w);
}

uint32_t ns_window_capacity(ns_window *w)
{
    pthread_rwlock_rdlock(&w->grow);
    uint32_t c = w->cap;
    pthread_rwlock_unlock(&w->grow);
    return c;
}

double ns_window_span(const ns_window *w) { return w->span; }

size_t ns_window_bytes(const ns_window *w)
{
    return sizeof *w + (size_t)ns_window_capacity((ns_window *)w) * (size_t)w->nb * sizeof(bucket);
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

static int grow(ns_window *w, uint32_t key)
{
    pthread_rwlock_wrlock(&w->grow);
    int rc = 0;
    if (key >= w->cap) {
        uint64_t ncap = (uint64_t)w->cap * 2;
        if (ncap <= key) ncap = (uint64_t)key + 1;
        if (ncap > UINT32_MAX) ncap = UINT32_MAX;
        bucket *nb = ns_realloc(w->b, (size_t)ncap * (size_t)w->nb * sizeof(bucket));
        if (!nb) rc = NS_ENOMEM;
        else {
            memset(nb + (size_t)w->cap * (size_t)w->nb, 0, (size_t)(ncap - w->cap) * (size_t)w->nb * sizeof(bucket));
            w->b = nb;
            w->cap = (uint32_t)ncap;
        }
    }
    pthread_rwlock_unlock(&w->grow);
    return rc;
}

int ns_window_add(ns_window *w, uint32_t key, double ts, uint32_t n)
{
    uint32_t bn = bucket_of(w, ts);
    for (;;) {
        pthread_rwlock_rdlock(&w->grow);
        if (key < w->cap) break;
        pthread_rwlock_unlock(&w->grow);
        int rc = grow(w, key);
        if (rc < 0) return rc;
    }
    pthread_mutex_t *m = &w->stripe[key % NSTRIPES];
    pthread_mutex_lock(m);
    bucket *b = &w->b[(size_t)key * (size_t)w->nb + bn % (uint32_t)w->nb];
    if (b->stamp < bn) { /* the slot held an older bucket: recycle it */
        b->stamp = bn;
        b->count = 0;
    }
    if (b->stamp == bn) b->count = b->count + n < b->count ? UINT32_MAX : b->count + n;
    /* else: the slot already holds a newer bucket, the event is older than
     * the window: not counted. */
    pthread_mutex_unlock(m);
    pthread_rwlock_unlock(&w->grow);
    return 0;
}

uint64_t ns_window_get(ns_window *w, uint32_t key, double now)
{
    uint32_t nowb = bucket_of(w, now);
    uint64_t sum = 0;
    pthread_rwlock_rdlock(&w->grow);
    if (key < w->cap) {
        pthread_mutex_t *m = &w->stripe[key % NSTRIPES];
        pthread_mutex_lock(m);
        const bucket *b = &w->b[(size_t)key * (size_t)w->nb];
        for (int i = 0; i < w->nb; i++)
            if (b[i].stamp && b[i].stamp <= nowb && b[i].stamp + (uint32_t)w->nb > nowb) sum += b[i].count;
        pthread_mutex_unlock(m);
    }
    pthread_rwlock_unlock(&w->grow);
    return sum;
}

/* ---- the service's feature set ----------------------------------------------- */

enum { W_USER_CLK30, W_ITEM_IMP1H, W_ITEM_CLK1H, W_ITEM_IMP1D, W_ITEM_CLK1D, W_G_IMP1H, W_G_CLK1H, W_G_IMP1D,
       W_G_CLK1D, W__COUNT };

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
    static const struct { double span; int nb; int per_user; int global; } spec[W__COUNT] = {
        {1800, 30, 1, 0}, {3600, 12, 0, 0}, {3600, 12, 0, 0}, {86400, 24, 0, 0}, {86400, 24, 0, 0},
        {3600, 12, 0, 1}, {3600, 12, 0, 1}, {86400, 24, 0, 1}, {86400, 24, 0, 1},
    };
    for (int i = 0; i < W__COUNT; i++) {
        uint32_t cap = spec[i].global ? 1 : spec[i].per_user ? users : items;
        if (!(rt->w[i] = ns_window_new(spec[i].span, spec[i].nb, cap ? cap : 16))) {
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

void ns_rt_set_prior(ns_rt *rt, double a) { rt->prior = a >= 0 ? a : 0; }

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
        if ((rc = ns_window_add(rt->w[W_ITEM_IMP1H], item, ts, 1)) < 0) return rc;
        if ((rc = ns_window_add(rt->w[W_ITEM_IMP1D], item, ts, 1)) < 0) return rc;
        ns_window_add(rt->w[W_G_IMP1H], 0, ts, 1);
        ns_window_add(rt->w[W_G_IMP1D], 0, ts, 1);
    } else if (type == NS_EV_CLICK) {
        atomic_fetch_add(&rt->clk_total, 1);
        if ((rc = ns_window_add(rt->w[W_USER_CLK30], user, ts, 1)) < 0) return rc;
        if ((rc = ns_window_add(rt->w[W_ITEM_CLK1H], item, ts, 1)) < 0) return rc;
        if ((rc = ns_window_add(rt->w[W_ITEM_CLK1D], item, ts, 1)) < 0) return rc;
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

void ns_rt_item_stats(ns_rt *rt, uint32_t item, double now, ns_rt_item *o)
{
    o->imp_1h = ns_window_get(rt->w[W_ITEM_IMP1H], item, now);
    o->clk_1h = ns_window_get(rt->w[W_ITEM_CLK1H], item, now);
    o->imp_1d = ns_window_get(rt->w[W_ITEM_IMP1D], item, now);
    o->clk_1d = ns_window_get(rt->w[W_ITEM_CLK1D], item, now);
    uint64_t gi = ns_window_get(rt->w[W_G_IMP1D], 0, now), gc = ns_window_get(rt->w[W_G_CLK1D], 0, now);
    double p = gi ? (double)gc / (double)gi : 0.05;
    if (p > 1) p = 1;
    o->ctr = ((double)o->clk_1d + rt->prior * p) / ((double)o->imp_1d + rt->prior + 1e-12);
}

size_t ns_rt_bytes(const ns_rt *rt)
{
    size_t n = sizeof *rt;
    for (int i = 0; i < W__COUNT; i++) n += ns_window_bytes(rt->w[i]);
    return n;
}
