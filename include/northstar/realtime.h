/*
 * northstar/realtime.h — layer 3 features: real-time sliding-window
 * counters for the recommendation service.
 *
 * Windows. A ns_window counts events per key (a dense id: item or user
 * index) over the last `span` seconds, in `nbuckets` ring buckets of
 * span / nbuckets seconds each. Memory is bounded: per key nbuckets
 * (count, bucket-stamp) pairs, whatever the event rate; keys are dense ids
 * below a capacity that grows as the catalogue grows. A bucket whose stamp
 * is stale is reset on the next write, and ignored on reads, so an idle key
 * costs nothing to age. Counts are exact up to the bucket granularity: an
 * event is in the window while its bucket is among the last nbuckets.
 *
 * Time is the event stream's time (Unix seconds carried by the events),
 * not the wall clock, so replayed and simulated histories behave like live
 * traffic. ns_rt_now() is the stream's watermark: the newest event time
 * seen. Events older than a window's span (late arrivals) are not counted
 * in that window.
 *
 * Threads: any number of threads may add and read at once, lock-free: a
 * bucket is one 64-bit atomic word (stamp, count) updated by
 * compare-and-swap; keys live in chunks of 1,024 that are added, never
 * moved, as the catalogue grows (at most 2^26 keys).
 *
 * The service's feature set (ns_rt):
 *   user clicks in the last 30 min        (30 x 1 min buckets)
 *   item impressions, clicks, last hour   (12 x 5 min buckets)
 *   item impressions, clicks, last day    (24 x 1 h buckets)
 *     (an item's impressions and clicks of a bucket share one word, counts
 *     saturating at 2^20 - 1 per 5-min or 1-h bucket)
 *   global impressions and clicks, hour and day (the north-star metric)
 *   smoothed item CTR = (clicks + a * p) / (impressions + a) over the day,
 *     p the global CTR of the day and a the prior strength (default 50)
 *
 */
#ifndef NORTHSTAR_REALTIME_H
#define NORTHSTAR_REALTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- one sliding-window counter family ---------------------------------- */

typedef struct ns_window ns_window;

/* span_s > 0 seconds in nbuckets (1..1024) buckets; initial key capacity. */
ns_window *ns_window_new(double span_s, int nbuckets, uint32_t capacity);
void ns_window_free(ns_window *w);
/* Count n events for key at time ts. Returns 0, or NS_ENOMEM when the key
 * table could not grow (the event is then not counted). */
int ns_window_add(ns_window *w, uint32_t key, double ts, uint32_t n);
/* Events for key in (now - span, now], at bucket granularity. */
uint64_t ns_window_get(ns_window *w, uint32_t key, double now);
uint32_t ns_window_capacity(ns_window *w);
/* Bytes held (for /metrics and the bounded-memory test). */
size_t ns_window_bytes(const ns_window *w);

/* ---- the service's real-time features ------------------------------------- */

typedef struct ns_rt ns_rt;

typedef struct ns_rt_item {
    uint64_t imp_1h, clk_1h, imp_1d, clk_1d;
    double ctr; /* smoothed CTR over the day */
} ns_rt_item;

typedef struct ns_rt_global {
    uint64_t imp_1h, clk_1h, imp_1d, clk_1d;
    uint64_t imp_total, clk_total; /* since the process started */
} ns_rt_global;

ns_rt *ns_rt_new(uint32_t users, uint32_t items);
void ns_rt_free(ns_rt *rt);
/* One event (type: ns_event_type, event.h) at time ts. */
int ns_rt_event(ns_rt *rt, uint32_t user, uint32_t item, int type, double ts);
double ns_rt_now(const ns_rt *rt);
uint64_t ns_rt_user_clicks_30m(ns_rt *rt, uint32_t user, double now);
void ns_rt_item_stats(ns_rt *rt, uint32_t item, double now, ns_rt_item *out);
/* The same for many items: the global CTR prior is read once. */
void ns_rt_items_stats(ns_rt *rt, const uint32_t *items, size_t stride_bytes, size_t n, double now, ns_rt_item *out);
/* Impressions and clicks of one item in the hour (day = 0) or day (1). */
void ns_rt_item_counts(ns_rt *rt, uint32_t item, double now, int day, uint64_t *imp, uint64_t *clk);
void ns_rt_global_stats(ns_rt *rt, double now, ns_rt_global *out);
size_t ns_rt_bytes(const ns_rt *rt);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_REALTIME_H */
