/*
 * northstar/state.h — layer 5: what the recommendation service knows, in
 * memory: the catalogue (users with attributes and segment, items with
 * categories) and what the events taught it (seen sets, recent items,
 * all-time and per-segment popularity, item-item co-clicks, the real-time
 * windows), with the cached top lists the recall channels read.
 * Long-lived; updated by every event; shared by successive pipelines
 * (pipeline.h). Thread-safe: a rwlock, events write, readers share.
 *
 * Memory per user: the seen set is a sorted array of 4-byte item indexes
 * with a 1-byte mask of event types per entry, and pos/neg hold each seen
 * item at most once between them (4 bytes): 9 bytes per consumed item,
 * and up to twice that in array capacity (growth by doubling). At 10,000
 * users x 2,000 items each that is 180 MB, at most 360 MB.
 *
 * Workload: 10^4..10^6 users, 10^4..10^5 items, a few thousand events per
 * second, a few hundred recommendations per second. Top lists cost
 * O(items) to build, so they are cached, and a refresher thread rebuilds a
 * stale one while readers go on with the previous list.
 */
#ifndef NORTHSTAR_STATE_H
#define NORTHSTAR_STATE_H

#include "northstar/attr.h"
#include "northstar/base.h"
#include "northstar/event.h"
#include "northstar/index.h"
#include "northstar/rt.h"
#include "northstar/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_MAX_ITEM_CATS 8
#define NS_NO_SEGMENT UINT32_MAX

typedef struct ns_state ns_state;

/* What describes the data: which events are positive or negative feedback
 * and how much each counts. Recorded once, in a bundle's pipeline.json
 * ("data": northstar train writes it, serve --models reads it), so the
 * models and the state that serves them read events the same way.
 * Zeroes mean the defaults. */
typedef struct ns_state_data {
    int implicit_ratings;      /* 1: every rating is positive feedback (MovieLens as
                                  implicit data); 0 (default): ratings >=
                                  positive_threshold are positive, lower ones negative */
    double positive_threshold; /* default 3.5 (ratings on 1..5) */
    double weights[NS_EV__COUNT]; /* what one event of a type adds to popularity,
                                  segment counts and co-clicks (default 1 each;
                                  impressions and negatives add nothing) */
} ns_state_data;

ns_state_data ns_state_data_defaults(void);
/* Fill the zero fields of d with the defaults. */
void ns_state_data_complete(ns_state_data *d);
/* 1 positive, -1 negative, 0 neither (an impression; never a dislike or
 * a low rating as positive). */
int ns_state_data_polarity(const ns_state_data *d, int type, double value);

typedef struct ns_state_opts {
    int recent_len;      /* recent positive items kept per user (default 32) */
    int cooc_neighbours; /* co-click neighbours kept per item (default 64) */
    int cooc_history;    /* recent items paired with each new click (default 20) */
    ns_state_data data;  /* zeroes: the defaults */
} ns_state_opts;

ns_state *ns_state_new(const ns_state_opts *opts);
void ns_state_free(ns_state *s);
/* Rebuild from a store: users, items, then every event in order. */
int ns_state_load(ns_state *s, ns_store *st);

/* Catalogue writes (insert or update by external id). *idx may be NULL. */
int ns_state_put_user(ns_state *s, const ns_user_rec *u, uint32_t *idx);
int ns_state_put_item(ns_state *s, const ns_item_rec *it, uint32_t *idx);
/* Index of an external id: 1 found, 0 not. */
int ns_state_find_user(ns_state *s, const char *ext, uint32_t *idx);
int ns_state_find_item(ns_state *s, const char *ext, uint32_t *idx);
/* Id of a category name: 1 found, 0 not. */
int ns_state_find_category(ns_state *s, const char *name, uint32_t *id);
/* An event by external ids: an unknown user is added (no attributes), an
 * unknown item is NS_ENOTFOUND. Updates windows, the seen / positive /
 * negative sets, recent items, popularity, segment counts and co-clicks
 * (the last three from positive events only, by the type's weight). */
int ns_state_event(ns_state *s, const ns_event_rec *ev);

uint32_t ns_state_users(ns_state *s);
uint32_t ns_state_items(ns_state *s);
uint64_t ns_state_events(ns_state *s);
ns_rt *ns_state_rt(ns_state *s);
/* Stream time: the newest event time seen (0 before any event). */
double ns_state_now(ns_state *s);
/* Global event counts per type over a window: "1h", "1d" or "total". */
uint64_t ns_state_type_count(ns_state *s, int type, const char *window, double now);

/* Read access for channels and scorers: call between lock and unlock
 * (shared lock; many readers at once, events wait). */
void ns_state_rdlock(ns_state *s);
void ns_state_unlock(ns_state *s);
/* Lookups and sizes for code that already holds the read lock. */
int ns_state_find_user_locked(ns_state *s, const char *ext, uint32_t *idx);
uint32_t ns_state_nitems_locked(ns_state *s);
uint64_t ns_state_nevents_locked(ns_state *s);
uint32_t ns_state_ncats_locked(ns_state *s);

typedef struct ns_user_view {
    const char *id;
    int age, age_bucket; /* bucket: 0 unknown, 1 <18, 2 18-24, 3 25-34, 4 35-44, 5 45-49, 6 50-55, 7 56+ */
    const char *gender, *occupation;
    uint32_t segment;        /* NS_NO_SEGMENT when attributes are unknown */
    const uint32_t *recent;  /* recent positive items, newest first */
    int nrecent;
    /* Every item the user consumed: any event but an impression, whatever
     * its value (a 1-star rating, a dislike). The seen filter reads it. */
    const uint32_t *seen;    /* sorted item indexes */
    uint32_t nseen;
    /* Items whose latest feedback is positive / negative (a rating under
     * the threshold, a dislike): disjoint, sorted, each a subset of seen.
     * pos is the full positive history (recent is its newest part). */
    const uint32_t *pos, *neg;
    uint32_t npos, nneg;
    uint64_t nevents;
} ns_user_view;

typedef struct ns_item_view {
    const char *id, *title, *creator;
    const uint32_t *cats; /* category ids */
    int ncats;
    double created;
    uint64_t positives; /* all-time positive events */
    double weight;      /* the same, each by its type's weight (popularity) */
} ns_item_view;

void ns_state_user(ns_state *s, uint32_t u, ns_user_view *out);
void ns_state_item(ns_state *s, uint32_t i, ns_item_view *out);
const char *ns_state_category_name(ns_state *s, uint32_t cat);
/* 1 when the user consumed the item by an event type of the seen filter
 * (ns_state_set_seen_filter: by default any type but impression). */
int ns_state_has_seen(ns_state *s, uint32_t user, uint32_t item);
/* The event types (mask of 1u << type) that make an item seen for
 * ns_state_has_seen; 0: none (the config's filters.seen: false). Set by
 * the pipeline in force. */
void ns_state_set_seen_filter(ns_state *s, unsigned mask);
/* The event types the user has sent about the item, as bits 1u << type
 * (0: none; impressions are not kept). Under the read lock. */
unsigned ns_state_seen_types(ns_state *s, uint32_t user, uint32_t item);
/* The data settings in force. */
const ns_state_data *ns_state_data_of(const ns_state *s);

/* Attribute bitmaps (attr.h) of the users, kept in step with the
 * catalogue: by "age" (bucket name, ns_state_age_name), "gender" and
 * "occupation". Ids are the state's dense indexes. Read them under the
 * read lock; the bitmaps belong to the state. */
const ns_attr *ns_state_user_attrs(ns_state *s);
const char *ns_state_age_name(int bucket); /* "under18", "18-24", ..., "56+"; 0 "unknown" */

/* Top items (highest first) into out[0..max), returns the count.
 * popular: all-time positive events. segment: positives from users of that
 * segment. trending: clicks in the window ("1h" or "1d"), ties by
 * impressions. similar: co-clicked items, cosine-normalised. Lists are
 * cached and refreshed at most every `refresh_s` seconds of wall time
 * (ns_state_set_refresh, default 1 s). Call under the read lock. */
int ns_state_top_popular(ns_state *s, ns_scored *out, int max);
int ns_state_top_segment(ns_state *s, uint32_t segment, ns_scored *out, int max);
/* fresh: newest items published at or before `now` (cold-start exposure). */
int ns_state_top_fresh(ns_state *s, double now, ns_scored *out, int max);
int ns_state_top_trending(ns_state *s, const char *window, double now, ns_scored *out, int max);
int ns_state_similar(ns_state *s, uint32_t item, ns_scored *out, int max);
void ns_state_set_refresh(ns_state *s, double seconds);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_STATE_H */
