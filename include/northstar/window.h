/*
 * northstar/window.h — layer 3 features: real-time sliding-window counters
 * (the building block of rt.h and of rate rules).
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
 * traffic (the caller passes each event's time and the query time).
 * Events older than a window's span (late arrivals) are not counted in
 * that window.
 *
 * Threads: any number of threads may add and read at once, lock-free: a
 * bucket is one 64-bit atomic word (stamp, count) updated by
 * compare-and-swap; keys live in chunks of 1,024 that are added, never
 * moved, as the catalogue grows (at most 2^26 keys).
 */
#ifndef NORTHSTAR_WINDOW_H
#define NORTHSTAR_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* A paired window counts two quantities per key and bucket in one word
 * (an item's impressions and clicks: half the cache lines two windows would
 * read). Counts saturate at 2^20 - 1 per key and bucket, and buckets must be
 * at least 5 minutes wide (24-bit stamps then last until 2129). A window is
 * single or paired for life: the other calls assert. */
ns_window *ns_window_new_pair(double span_s, int nbuckets, uint32_t capacity);
int ns_window_add_pair(ns_window *w, uint32_t key, double ts, uint32_t a, uint32_t b);
void ns_window_get_pair(ns_window *w, uint32_t key, double now, uint64_t *a, uint64_t *b);
/* Start loading a key's buckets into the cache (for a read a few keys later). */
void ns_window_prefetch(ns_window *w, uint32_t key);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_WINDOW_H */
