/*
 * northstar/pipeline.h — layer 5: the recommendation pipeline, a
 * configuration made runnable over a state (state.h):
 *
 *   request -> context -> recall channels (each with a quota) -> merge and
 *   de-duplicate, keeping every candidate's channels -> filters (seen,
 *   blocked, not yet published) -> real-time + context features -> scorer
 *   -> diversity rule (at most k per category) -> response
 *
 * An ns_pipeline holds the channels, the filters, the scorer, the
 * diversity rule and the north-star metric. It is immutable once built, so
 * the server swaps a new one in atomically on reload while requests finish
 * on the old.
 *
 * Extension points, registered by type name:
 *   ns_channel_type  {type name, create(params, state), recall(...), free}
 *   ns_scorer_type   {type name, create(params, state), score(...), free}
 * Built-in channel types: "trending", "segment", "popular", "fresh", "cooc",
 * "i2i" (an i2i.h model), "profile" (attribute bitmaps), "keyword" (BM25),
 * "vector" (HNSW over item vectors); scorer types: "blend" (a weighted sum
 * of channel evidence and CTR) and "wide_deep" (a rank.h model over the
 * features below). ns_channel_register / ns_scorer_register add more.
 *
 * Model files. A channel or scorer backed by a model file loads it when the
 * pipeline is built, and a file that does not load (truncated, another
 * format, NaN weights, ...) fails the build with an error naming the
 * setting, the file and what was wrong: a server's reload then keeps the
 * pipeline in force. The one exception is a scorer whose model is optional
 * ("wide_deep" with "required": false) and whose file does not exist (a
 * service not trained yet): it ranks with its fallback rule, and
 * ns_pipeline_scorer_name / ns_pipeline_scorer_fallback say so. Loaded
 * models are copies in memory: their files may be rewritten meanwhile.
 *
 * Scores. A candidate the scorer gives a NaN or infinite score is dropped
 * from the list and counted (ns_rec_result.nonfinite,
 * ns_pipeline_nonfinite_scores), so every score handed out is finite.
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

#include "northstar/base.h"
#include "northstar/context.h"
#include "northstar/feature.h"
#include "northstar/index.h"
#include "northstar/rt.h"
#include "northstar/state.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_MAX_CHANNELS 16

/* ===================================================================== */
/* Channels and scorers                                                   */
/* ===================================================================== */

typedef struct ns_recall_req {
    ns_state *state;
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
    int (*create)(const json_t *params, const char *path, ns_state *st, void **self);
    /* Up to quota candidates, best first, with scores comparable within the
     * channel. Called under the state's read lock. Returns the count. */
    int (*recall)(void *self, const ns_recall_req *req, int quota, ns_scored *out);
    void (*free)(void *self);
} ns_channel_type;

/* A merged candidate: where it came from and what the scorer gave it. */
typedef struct ns_candidate {
    uint32_t item;
    uint32_t channels;                /* bit c: channel c produced it */
    float chan_score[NS_MAX_CHANNELS]; /* 1 - rank/quota in channel c, 0 if absent */
    float chan_raw[NS_MAX_CHANNELS];   /* the channel's own score, 0 if absent */
    float score;                      /* scorer output */
} ns_candidate;

typedef struct ns_scorer_input {
    ns_state *state;
    const ns_recall_req *req;
    const ns_candidate *cands;
    int n;
    const ns_rt_item *rt;     /* per-candidate real-time item features */
    uint64_t user_clicks_30m; /* 0 for unknown users */
    const char *const *channel_names; /* nchannels names, index = bit */
    int nchannels;
} ns_scorer_input;

typedef struct ns_scorer_type {
    const char *type;
    int (*create)(const json_t *params, const char *path, ns_state *st, const char *const *channel_names,
                  int nchannels, void **self);
    /* scores[i] for cands[i]; higher is better (NaN and infinities drop the
     * candidate: see "Scores" above). */
    int (*score)(void *self, const ns_scorer_input *in, float *scores);
    void (*free)(void *self);
    /* Optional (NULL: the type always scores itself). When self ranks with
     * another rule instead of its own (a model scorer without its model),
     * the name of that rule, with *why saying why (both owned by self);
     * NULL when self scores itself. */
    const char *(*fallback)(const void *self, const char **why);
} ns_scorer_type;

/* Add a type (the pointer must stay valid). NS_EEXISTS if the name is taken. */
int ns_channel_register(const ns_channel_type *t);
int ns_scorer_register(const ns_scorer_type *t);
const ns_channel_type *ns_channel_find(const char *type);
const ns_scorer_type *ns_scorer_find(const char *type);

/* ===================================================================== */
/* Pipeline                                                               */
/* ===================================================================== */

typedef struct ns_pipeline ns_pipeline;

const char *ns_pipeline_default_config(void);
/* Build from JSON text (`origin` names it in errors: a path or "default"). */
int ns_pipeline_new(ns_pipeline **out, const char *json_text, const char *origin, ns_state *st);
void ns_pipeline_free(ns_pipeline *p);
/* The "data" object of a config (JSON text): what describes the data
 * (implicit_ratings, positive_threshold, weights per event type; see
 * docs/RANKING.md). *present is 0 when the config has none (out then holds
 * the defaults). A service builds its state with it. */
int ns_pipeline_config_data(const char *json_text, const char *origin, ns_state_data *out, int *present);

typedef struct ns_rec_request {
    const char *user;       /* external id */
    int n;                  /* 0 = config default; > max_n is NS_ERANGE naming "n" */
    const ns_context *ctx;  /* required */
} ns_rec_request;

/* A request's own filters (GET /v1/recommend?exclude=&category=). */
typedef struct ns_rec_filters {
    const uint32_t *exclude;/* item indexes left out of this list, sorted ascending */
    int nexclude;
    const uint32_t *cats;   /* when ncats > 0: only items in one of these categories */
    int ncats;              /* (state category ids); the list may then be shorter than n */
} ns_rec_filters;

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
    int nonfinite;       /* candidates dropped: the scorer gave them NaN or an infinity */
    double recall_ms, rank_ms;
} ns_rec_result;

int ns_pipeline_recommend(ns_pipeline *p, const ns_rec_request *req, ns_rec_result *out, ns_arena *a);
/* The same with the request's filters (NULL: none), applied with the
 * config's (seen, unpublished, blocked) before ranking. */
int ns_pipeline_recommend_filtered(ns_pipeline *p, const ns_rec_request *req, const ns_rec_filters *f,
                                   ns_rec_result *out, ns_arena *a);

int ns_pipeline_channels(const ns_pipeline *p);
const char *ns_pipeline_channel_name(const ns_pipeline *p, int c);
int ns_pipeline_max_n(const ns_pipeline *p);
int ns_pipeline_default_n(const ns_pipeline *p);
/* What ranks: the configured scorer type ("wide_deep"), or the rule it
 * fell back to ("blend") when its optional model file does not exist. */
const char *ns_pipeline_scorer_name(const ns_pipeline *p);
/* NULL when the configured scorer ranks itself; else why it does not:
 * "wide_deep has no model: /m/ranker.safetensors does not exist; blend
 * ranks". Owned by the pipeline. */
const char *ns_pipeline_scorer_fallback(const ns_pipeline *p);
/* Candidates dropped since the pipeline was built because the scorer gave
 * them a NaN or infinite score. */
uint64_t ns_pipeline_nonfinite_scores(const ns_pipeline *p);

/* The north-star metric: name, and its value numerator/denominator over the
 * configured window at stream time `now` (0 when the denominator is 0). */
const char *ns_pipeline_north_star_name(const ns_pipeline *p);
const char *ns_pipeline_north_star_window(const ns_pipeline *p);
double ns_pipeline_north_star(ns_pipeline *p, double now, uint64_t *num, uint64_t *den);

/* Cumulative per-channel counts since the pipeline was built: candidates
 * produced and items served (in final lists). */
void ns_pipeline_channel_counts(const ns_pipeline *p, int c, uint64_t *produced, uint64_t *served);

/* ---- training examples for the Wide & Deep scorer (northstar train) ---------- */

/* The scorer input columns this pipeline can compute (rank_features.c):
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
 * features the scorer sees; nothing is ranked or counted as served. */
int ns_pipeline_examples(ns_pipeline *p, const ns_example_req *r, ns_example_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_PIPELINE_H */
