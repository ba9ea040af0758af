/*
 * northstar/bundle.h — layer 5: `northstar train`: every model of a pipeline
 * (i2i, item vectors + HNSW, keyword index, Wide & Deep scorer) trained from
 * a dataset and written to one directory with the pipeline config that
 * loads them. Training uses ns_threads() (OpenMP, BLAS).
 */
#ifndef NORTHSTAR_BUNDLE_H
#define NORTHSTAR_BUNDLE_H

#include "northstar/dataset.h"
#include "northstar/i2i.h"
#include "northstar/als.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A bundle is a directory holding every model a pipeline loads and the
 * pipeline config that names them (relative paths, so it moves as a whole):
 *   pipeline.json       channels + ranker (serve --models DIR, or --config)
 *   i2i.safetensors     EASE or cosine item-item model (channel "i2i")
 *   mf.safetensors      implicit ALS user and item factors (channel "mf"; when quota_mf > 0)
 *   items.vec, items.hnsw   item vectors (word2vec over time-ordered
 *                       histories) and their HNSW index (channel "vector")
 *   keyword.bm25, keyword.terms   BM25 over title + text and each item's
 *                       most distinctive words (channel "keyword")
 *   ranker.safetensors  Wide & Deep on the pipeline's features (rank "wide_deep")
 *   examples.tsv        the ranker's training rows (kept for inspection; the
 *                       stage-1 models they came from are removed)
 *
 * The ranker learns from what the recall would have proposed, with labels
 * from data the recall did not see:
 *   ratings mode (no impressions in the data, e.g. MovieLens): each user's
 *     positives are split (label_ratio kept as history, the rest as
 *     labels); models trained on the history propose candidates; a
 *     candidate is positive when it is among the user's held-out items.
 *   impressions mode (impressions and clicks, e.g. the simulator): models
 *     and state from the events before the last (1 - label_ratio) of the
 *     period; the events after it are replayed in time order, and every
 *     shown item becomes a row (label: clicked within 30 minutes) with the
 *     features and recall evidence of that moment.
 * The served models are then retrained on all the data.
 */
#define NS_BUNDLE_MIN_AUC 0.55 /* a ranker below it is weak (see strict) */

typedef struct ns_bundle_opts {
    const char *out_dir;
    ns_i2i_opts i2i;
    int quota_i2i, quota_vector, quota_keyword, quota_profile, quota_trending, quota_popular, quota_fresh;
    int vectors;          /* train item vectors + HNSW (default 1) */
    int vec_dim, vec_epochs, vec_window; /* 64, 20, 50 (item2vec: most of a history is context) */
    int vec_history;      /* the vector channel's history (32) */
    const char *vec_query;/* its query mode: "mean" (default) or "each" */
    int keyword;          /* build the keyword index (default 1) */
    int terms_per_item;   /* 8 */
    int ranker;           /* train the Wide & Deep ranker (default 1) */
    int rank_epochs;      /* 10 (early stopping on a 10% validation split) */
    double label_ratio;   /* 0.8 */
    int max_examples;     /* cap on the ranker's training rows (default 600000) */
    int diversity;        /* max_per_category in the config (default 3; 0 = off) */
    const char *rank_drop;/* ranker columns left out, comma-separated ("raw:" = a
                             family; for ablations), NULL = none */
    int strict;           /* fail (no pipeline.json written) when the ranker is weak:
                             validation AUC < NS_BUNDLE_MIN_AUC or turned down by the
                             selection; else a warning (default 0) */
    int rank_select;      /* ratings mode: keep 15% of the users out of the ranker's
                             rows and serve the ranker only if it beats every channel
                             alone on them (nDCG@10), else the best channel's order;
                             pipeline.json "selection" says which and why (default 1) */
    uint64_t seed;        /* 1 */
    int quota_mf;         /* the "mf" channel (implicit ALS, als.h): 0 = not trained (default) */
    ns_als_opts mf;       /* its options (ns_als_defaults) */
} ns_bundle_opts;

ns_bundle_opts ns_bundle_defaults(void);

typedef struct ns_bundle_stats {
    double secs_i2i, secs_vectors, secs_keyword, secs_examples, secs_ranker, secs_total;
    int ranker_mode;      /* 0 none, 1 ratings, 2 impressions */
    long examples, positives;
    double val_auc;
    double secs_select;
    char chosen[64];      /* the served order: "ranker" or a channel ("" = not compared) */
    double val_ndcg_ranker, val_ndcg_chosen; /* nDCG@10 on the validation users */
    uint32_t i2i_items, vec_items;
    double secs_mf;       /* ALS training (the served model) */
    uint32_t mf_users, mf_items;
} ns_bundle_stats;

/* Train every model on the events keep[k] != 0 of d (NULL = all) and write
 * the bundle to o->out_dir (created). Progress is logged unless quiet. */
int ns_bundle_train(const ns_dataset *d, const uint8_t *keep, const ns_bundle_opts *o, ns_bundle_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_BUNDLE_H */
