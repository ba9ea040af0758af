/*
 * northstar/pipeline.h — layer 5: the recommendation pipeline.
 *
 *   request -> context -> recall channels (each with a quota) -> merge and
 *   de-duplicate, keeping every candidate's channels -> filters (seen,
 *   blocked, not yet published) -> real-time + context features -> ranker
 *   -> diversity rule (at most k per category) -> response
 *
 * Two objects:
 *   ns_rec_state  what the service knows: the catalogue (users with
 *                 attributes and segment, items with categories), and what
 *                 the events taught it (seen sets, recent items, all-time
 *                 and per-segment popularity, item-item co-clicks, the
 *                 real-time windows). Long-lived; updated by every event;
 *                 shared by successive pipelines. Thread-safe (rwlock).
 *   ns_pipeline   a configuration made runnable: the channels, the filters,
 *                 the ranker, the diversity rule, the north-star metric.
 *                 Immutable once built, so the server swaps a new one in
 *                 atomically on reload while requests finish on the old.
 *
 * Extension points (phase 2 adds keyword/BM25, vector/HNSW and profile
 * bitmap channels and the Wide & Deep ranker through them, no other change):
 *   ns_channel_type  {type name, create(params, state), recall(...), free}
 *   ns_ranker_type   {type name, create(params, state), score(...), free}
 * Built-in channel types: "trending", "segment", "popular", "fresh", "cooc"; ranker
 * types: "blend". ns_channel_register / ns_ranker_register add more.
 *
 * Config (JSON; ns_pipeline_default_config() is the built-in one):
 *   {
 *     "north_star": {"name": "ctr", "numerator": "click",
 *                    "denominator": "impression", "window": "1h"},
 *     "recall": [ {"name": "trending", "type": "trending", "quota": 100,
 *                  "params": {"window": "1h"}}, ... ],
 *     "filters": {"seen": true, "unpublished": true, "blocked": ["id", ...]},
 *     "rank": {"type": "blend", "params": {"weights": {"trending": 1.0},
 *              "ctr_weight": 0.5}},
 *     "diversity": {"max_per_category": 3},
 *     "limits": {"default_n": 10, "max_n": 100}
 *   }
 * Errors name the JSON path ("recall[2].quota").
 */
#ifndef NORTHSTAR_PIPELINE_H
#define NORTHSTAR_PIPELINE_H

#include "northstar/attr.h"
#include "northstar/base.h"
#include "northstar/feature.h"
#include "northstar/realtime.h"
#include "northstar/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_MAX_CHANNELS 16
#define NS_MAX_ITEM_CATS 8
#define NS_NO_SEGMENT UINT32_MAX

/* ===================================================================== */
/* State                                                                  */
/* ===================================================================== */

typedef struct ns_rec_state ns_rec_state;

typedef struct ns_state_opts {
    int recent_len;      /* recent positive items kept per user (default 32) */
    int cooc_neighbours; /* co-click neighbours kept per item (default 64) */
    int cooc_history;    /* recent items paired with each new click (default 20) */
    int implicit_ratings;/* 1: every rating is positive feedback (MovieLens as
                            implicit data); 0: ratings >= 3.5 only (default) */
} ns_state_opts;

ns_rec_state *ns_rec_state_new(const ns_state_opts *opts);
void ns_rec_state_free(ns_rec_state *s);
/* Rebuild from a store: users, items, then every event in order. */
int ns_rec_state_load(ns_rec_state *s, ns_store *st);

/* Catalogue writes (insert or update by external id). *idx may be NULL. */
int ns_rec_state_put_user(ns_rec_state *s, const ns_user_rec *u, uint32_t *idx);
int ns_rec_state_put_item(ns_rec_state *s, const ns_item_rec *it, uint32_t *idx);
/* Index of an external id: 1 found, 0 not. */
int ns_rec_state_find_user(ns_rec_state *s, const char *ext, uint32_t *idx);
int ns_rec_state_find_item(ns_rec_state *s, const char *ext, uint32_t *idx);
/* An event by external ids: an unknown user is added (no attributes), an
 * unknown item is NS_ENOTFOUND. Updates windows, seen set, recent items,
 * popularity, segment counts and co-clicks. */
int ns_rec_state_event(ns_rec_state *s, const ns_event_rec *ev);

uint32_t ns_rec_state_users(ns_rec_state *s);
uint32_t ns_rec_state_items(ns_rec_state *s);
uint64_t ns_rec_state_events(ns_rec_state *s);
ns_rt *ns_rec_state_rt(ns_rec_state *s);
/* Stream time: the newest event time seen (0 before any event). */
double ns_rec_state_now(ns_rec_state *s);
/* Global event counts per type over a window: "1h", "1d" or "total". */
uint64_t ns_rec_state_type_count(ns_rec_state *s, int type, const char *window, double now);

/* Read access for channels and rankers: call between lock and unlock
 * (shared lock; many readers at once, events wait). */
void ns_rec_state_rdlock(ns_rec_state *s);
void ns_rec_state_unlock(ns_rec_state *s);

typedef struct ns_user_view {
    const char *id;
    int age, age_bucket; /* bucket: 0 unknown, 1 <18, 2 18-24, 3 25-34, 4 35-44, 5 45-49, 6 50-55, 7 56+ */
    const char *gender, *occupation;
    uint32_t segment;        /* NS_NO_SEGMENT when attributes are unknown */
    const uint32_t *recent;  /* recent positive items, newest first */
    int nrecent;
    const uint32_t *seen;    /* sorted item indexes with positive feedback */
    uint32_t nseen;
    uint64_t nevents;
} ns_user_view;

typedef struct ns_item_view {
    const char *id, *title, *creator;
    const uint32_t *cats; /* category ids */
    int ncats;
    double created;
    uint64_t positives; /* all-time positive events */
} ns_item_view;

void ns_rec_state_user(ns_rec_state *s, uint32_t u, ns_user_view *out);
void ns_rec_state_item(ns_rec_state *s, uint32_t i, ns_item_view *out);
const char *ns_rec_state_category_name(ns_rec_state *s, uint32_t cat);
int ns_rec_state_has_seen(ns_rec_state *s, uint32_t user, uint32_t item);

/* Attribute bitmaps (attr.h) kept in step with the catalogue: users by
 * "age" (bucket name, ns_rec_state_age_name), "gender" and "occupation";
 * items by "category". Ids are the state's dense indexes. Read them under
 * the read lock; the bitmaps belong to the state. */
const ns_attr *ns_rec_state_user_attrs(ns_rec_state *s);
const ns_attr *ns_rec_state_item_attrs(ns_rec_state *s);
const char *ns_rec_state_age_name(int bucket); /* "under18", "18-24", ..., "56+"; 0 "unknown" */

typedef struct ns_scored {
    uint32_t item;
    float score;
} ns_scored;

/* Top items (highest first) into out[0..max), returns the count.
 * popular: all-time positive events. segment: positives from users of that
 * segment. trending: clicks in the window ("1h" or "1d"), ties by
 * impressions. similar: co-clicked items, cosine-normalised. Lists are
 * cached and refreshed at most every `refresh_s` seconds of wall time
 * (ns_rec_state_set_refresh, default 1 s). Call under the read lock. */
int ns_rec_state_top_popular(ns_rec_state *s, ns_scored *out, int max);
int ns_rec_state_top_segment(ns_rec_state *s, uint32_t segment, ns_scored *out, int max);
/* fresh: newest items published at or before `now` (cold-start exposure). */
int ns_rec_state_top_fresh(ns_rec_state *s, double now, ns_scored *out, int max);
int ns_rec_state_top_trending(ns_rec_state *s, const char *window, double now, ns_scored *out, int max);
int ns_rec_state_similar(ns_rec_state *s, uint32_t item, ns_scored *out, int max);
void ns_rec_state_set_refresh(ns_rec_state *s, double seconds);

/* ===================================================================== */
/* Channels and rankers                                                   */
/* ===================================================================== */

typedef struct ns_recall_req {
    ns_rec_state *state;
    uint32_t user;   /* valid when user_known */
    int user_known;
    const ns_user_view *uv; /* NULL when the user is unknown */
    const ns_context *ctx;
    double now;      /* stream time */
} ns_recall_req;

typedef struct ns_channel_type {
    const char *type;
    /* Build from the channel's "params" object (may be NULL). Errors name
     * the field under `path` (e.g. "recall[1].params"). */
    int (*create)(const json_t *params, const char *path, ns_rec_state *st, void **self);
    /* Up to quota candidates, best first, with scores comparable within the
     * channel. Called under the state's read lock. Returns the count. */
    int (*recall)(void *self, const ns_recall_req *req, int quota, ns_scored *out);
    void (*free)(void *self);
} ns_channel_type;

/* A merged candidate: where it came from and what the ranker gave it. */
typedef struct ns_candidate {
    uint32_t item;
    uint32_t channels;                /* bit c: channel c produced it */
    float chan_score[NS_MAX_CHANNELS]; /* 1 - rank/quota in channel c, 0 if absent */
    float chan_raw[NS_MAX_CHANNELS];   /* the channel's own score, 0 if absent */
    float score;                      /* ranker output */
} ns_candidate;

typedef struct ns_rank_input {
    ns_rec_state *state;
    const ns_recall_req *req;
    const ns_candidate *cands;
    int n;
    const ns_rt_item *rt;     /* per-candidate real-time item features */
    uint64_t user_clicks_30m; /* 0 for unknown users */
    const char *const *channel_names; /* nchannels names, index = bit */
    int nchannels;
} ns_rank_input;

typedef struct ns_ranker_type {
    const char *type;
    int (*create)(const json_t *params, const char *path, ns_rec_state *st, const char *const *channel_names,
                  int nchannels, void **self);
    /* scores[i] for cands[i]; higher is better. */
    int (*score)(void *self, const ns_rank_input *in, float *scores);
    void (*free)(void *self);
} ns_ranker_type;

/* Add a type (the pointer must stay valid). NS_EEXISTS if the name is taken. */
int ns_channel_register(const ns_channel_type *t);
int ns_ranker_register(const ns_ranker_type *t);
const ns_channel_type *ns_channel_find(const char *type);
const ns_ranker_type *ns_ranker_find(const char *type);

/* ===================================================================== */
/* Pipeline                                                               */
/* ===================================================================== */

typedef struct ns_pipeline ns_pipeline;

const char *ns_pipeline_default_config(void);
/* Build from JSON text (`origin` names it in errors: a path or "default"). */
int ns_pipeline_new(ns_pipeline **out, const char *json_text, const char *origin, ns_rec_state *st);
int ns_pipeline_load(ns_pipeline **out, const char *path, ns_rec_state *st);
void ns_pipeline_free(ns_pipeline *p);

typedef struct ns_rec_request {
    const char *user;       /* external id */
    int n;                  /* 0 = config default; > max_n is NS_ERANGE naming "n" */
    const ns_context *ctx;  /* required */
} ns_rec_request;

typedef struct ns_rec_entry {
    uint32_t item;
    float score;
    uint32_t channels;
} ns_rec_entry;

typedef struct ns_rec_result {
    ns_rec_entry *items; /* in the caller's arena */
    int n;
    int cold_start;      /* unknown user */
    int candidates;      /* after merge, before filters */
    int filtered;        /* removed by filters */
    int per_channel[NS_MAX_CHANNELS]; /* candidates produced */
    double recall_ms, rank_ms;
} ns_rec_result;

int ns_pipeline_recommend(ns_pipeline *p, const ns_rec_request *req, ns_rec_result *out, ns_arena *a);

int ns_pipeline_channels(const ns_pipeline *p);
const char *ns_pipeline_channel_name(const ns_pipeline *p, int c);
int ns_pipeline_max_n(const ns_pipeline *p);
int ns_pipeline_default_n(const ns_pipeline *p);
const char *ns_pipeline_ranker_name(const ns_pipeline *p);

/* The north-star metric: name, and its value numerator/denominator over the
 * configured window at stream time `now` (0 when the denominator is 0). */
const char *ns_pipeline_north_star_name(const ns_pipeline *p);
const char *ns_pipeline_north_star_window(const ns_pipeline *p);
double ns_pipeline_north_star(ns_pipeline *p, double now, uint64_t *num, uint64_t *den);

/* Cumulative per-channel counts since the pipeline was built: candidates
 * produced and items served (in final lists). */
void ns_pipeline_channel_counts(const ns_pipeline *p, int c, uint64_t *produced, uint64_t *served);

/* ---- training examples for the ranker (northstar train) ---------------------- */

/* The ranker input columns this pipeline can compute (rank_features.c):
 * user_*, item_*, rt_*, ctx_*, channels, nchannels, cat_affinity, and
 * ch:<channel> / raw:<channel> for each of its channels. Malloc'd strings
 * in a malloc'd array (the caller frees both). */
int ns_pipeline_feature_columns(const ns_pipeline *p, char ***names, int *n);

typedef struct ns_example_req {
    const char *user;       /* external id */
    const ns_context *ctx;
    const uint32_t *extra;  /* items to describe besides the candidates (e.g. a */
    int nextra;             /* shown slate), with their recall evidence if any */
    int candidates;         /* 1: also every recall candidate passing the filters */
} ns_example_req;

/* fn(item, is_candidate, row, ncols, ctx) for each item described, with
 * row[j] the value of column j of ns_pipeline_feature_columns (strings
 * valid during the call). A nonzero return stops (negative: an error). */
typedef int (*ns_example_fn)(uint32_t item, int is_candidate, const ns_fvalue *row, int ncols, void *ctx);
/* The same recall, merge and filters as ns_pipeline_recommend, and the
 * features the ranker sees; nothing is ranked or counted as served. */
int ns_pipeline_examples(ns_pipeline *p, const ns_example_req *r, ns_example_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_PIPELINE_H */
