/*
 * rt.c — the recommendation service's real-time features (rt.h), counted
 * in the sliding windows of window.c: a user's clicks in the last 30
 * minutes, each item's impressions and clicks in the last hour and day
 * (paired windows), the global counts behind the north-star metric, and
 * the smoothed item CTR.
 */
#include "northstar/rt.h"

#include "northstar/base.h"
#include "northstar/event.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CTR_PRIOR 50.0 /* strength a of the smoothed CTR's prior */

enum { W_USER_CLK30, W_ITEM_1H, W_ITEM_1D, W_G_IMP1H, W_G_CLK1H, W_G_IMP1D, W_G_CLK1D, W__COUNT };

struct ns_rt {
    ns_window *w[W__COUNT];
    _Atomic uint64_t watermark; /* bits of the newest event time */
    _Atomic uint64_t imp_total, clk_total;
};

ns_rt *ns_rt_new(uint32_t users, uint32_t items)
{
    ns_rt *rt = ns_calloc(1, sizeof *rt);
    if (!rt) return NULL;
    static const struct { double span; int nb; int per_user, global, paired; } spec[W__COUNT] = {
        {1800, 30, 1, 0, 0},  {3600, 12, 0, 0, 1},  {86400, 24, 0, 0, 1}, {3600, 12, 0, 1, 0},
        {3600, 12, 0, 1, 0},  {86400, 24, 0, 1, 0}, {86400, 24, 0, 1, 0},
    };
    for (int i = 0; i < W__COUNT; i++) {
        uint32_t cap = spec[i].global ? 1 : spec[i].per_user ? users : items;
        if (!cap) cap = 16;
        rt->w[i] = spec[i].paired ? ns_window_new_pair(spec[i].span, spec[i].nb, cap) : ns_window_new(spec[i].span, spec[i].nb, cap);
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
        if ((rc = ns_window_add_pair(rt->w[W_ITEM_1H], item, ts, 1, 0)) < 0) return rc;
        if ((rc = ns_window_add_pair(rt->w[W_ITEM_1D], item, ts, 1, 0)) < 0) return rc;
        ns_window_add(rt->w[W_G_IMP1H], 0, ts, 1);
        ns_window_add(rt->w[W_G_IMP1D], 0, ts, 1);
    } else if (type == NS_EV_CLICK) {
        atomic_fetch_add(&rt->clk_total, 1);
        if ((rc = ns_window_add(rt->w[W_USER_CLK30], user, ts, 1)) < 0) return rc;
        if ((rc = ns_window_add_pair(rt->w[W_ITEM_1H], item, ts, 0, 1)) < 0) return rc;
        if ((rc = ns_window_add_pair(rt->w[W_ITEM_1D], item, ts, 0, 1)) < 0) return rc;
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
    ns_window_get_pair(rt->w[W_ITEM_1H], item, now, &o->imp_1h, &o->clk_1h);
    ns_window_get_pair(rt->w[W_ITEM_1D], item, now, &o->imp_1d, &o->clk_1d);
    o->ctr = ((double)o->clk_1d + CTR_PRIOR * p) / ((double)o->imp_1d + CTR_PRIOR + 1e-12);
}

void ns_rt_item_stats(ns_rt *rt, uint32_t item, double now, ns_rt_item *o)
{
    item_stats(rt, item, now, global_ctr(rt, now), o);
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
        ns_window_prefetch(rt->w[W_ITEM_1H], ITEM_AT(i));
        ns_window_prefetch(rt->w[W_ITEM_1D], ITEM_AT(i));
    }
    for (size_t i = 0; i < n; i++) {
        if (i + PREFETCH_AHEAD < n) {
            ns_window_prefetch(rt->w[W_ITEM_1H], ITEM_AT(i + PREFETCH_AHEAD));
            ns_window_prefetch(rt->w[W_ITEM_1D], ITEM_AT(i + PREFETCH_AHEAD));
        }
        item_stats(rt, ITEM_AT(i), now, p, &out[i]);
    }
#undef ITEM_AT
}

void ns_rt_item_counts(ns_rt *rt, uint32_t item, double now, int day, uint64_t *imp, uint64_t *clk)
{
    ns_window_get_pair(rt->w[day ? W_ITEM_1D : W_ITEM_1H], item, now, imp, clk);
}

size_t ns_rt_bytes(const ns_rt *rt)
{
    size_t n = sizeof *rt;
    for (int i = 0; i < W__COUNT; i++) n += ns_window_bytes(rt->w[i]);
    return n;
}
