/*
 * northstar/rt.h — layer 3 features: the recommendation service's real-time
 * features, counted in sliding windows (window.h) over the event stream's
 * time. ns_rt_now() is the stream's watermark: the newest event time seen.
 *
 * The service's feature set (ns_rt):
 *   user clicks in the last 30 min        (30 x 1 min buckets)
 *   item impressions, clicks, last hour   (12 x 5 min buckets)
 *   item impressions, clicks, last day    (24 x 1 h buckets)
 *     (an item's impressions and clicks of a bucket share one word, counts
 *     saturating at 2^20 - 1 per 5-min or 1-h bucket)
 *   global impressions and clicks, hour and day (the north-star metric)
 *   smoothed item CTR = (clicks + a * p) / (impressions + a) over the day,
 *     p the global CTR of the day and a the prior strength (50)
 */
#ifndef NORTHSTAR_RT_H
#define NORTHSTAR_RT_H

#include "northstar/window.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
#endif /* NORTHSTAR_RT_H */
