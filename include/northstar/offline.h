/*
 * northstar/offline.h — layer 5: the offline jobs of the recommendation
 * service: a catalogue and event log in memory, the bundle of models its
 * recall channels and scorer load, and the evaluation protocol they are
 * judged by.
 *
 *   ns_dataset    users, items and events in memory (from a store or
 *                 built by hand), with the logs and states made from it.
 *   ns_bundle     `northstar train`: every model of a pipeline (i2i, item
 *                 vectors + HNSW, keyword index, Wide & Deep scorer) written
 *                 to one directory with the pipeline config that uses them.
 *   evaluation    the Microsoft Recommenders protocol: a per-user stratified
 *                 random split and Precision/Recall/nDCG/MAP at k.
 *
 * Threads: training uses ns_threads() (OpenMP, BLAS).
 */
#ifndef NORTHSTAR_OFFLINE_H
#define NORTHSTAR_OFFLINE_H

#include "northstar/base.h"
#include "northstar/i2i.h"
#include "northstar/ilog.h"
#include "northstar/state.h"
#include "northstar/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Datasets: a catalogue and an event log in memory                       */
/* ===================================================================== */

typedef struct ns_devent {
    uint32_t u, i; /* indexes into the dataset's uids / iids */
    int type;      /* ns_event_type */
    float value;
    double ts;
} ns_devent;

typedef struct ns_dataset {
    ns_arena a;               /* the records' strings */
    ns_user_rec *users;       /* catalogue records (users with attributes) */
    uint32_t nusers, capu;
    ns_item_rec *items;       /* catalogue records */
    uint32_t nitems, capi;
    ns_strmap *uids, *iids;   /* every user / item id, records' and events' */
    ns_devent *ev;            /* in time order (stable) after ns_dataset_sort */
    size_t nev, capev;
    int implicit_ratings;     /* every rating counts as positive feedback */
} ns_dataset;

int ns_dataset_init(ns_dataset *d);
void ns_dataset_release(ns_dataset *d);
/* Copies of the records' strings are kept. */
int ns_dataset_add_user(ns_dataset *d, const ns_user_rec *u);
int ns_dataset_add_item(ns_dataset *d, const ns_item_rec *it);
int ns_dataset_add_event(ns_dataset *d, const char *user, const char *item, int type, double value, double ts);
int ns_dataset_sort(ns_dataset *d);
int ns_dataset_from_store(ns_dataset *d, ns_store *st);
int ns_dataset_positive(const ns_dataset *d, const ns_devent *e);
/* The event as a record (ids valid while no id is added). */
ns_event_rec ns_dataset_event(const ns_dataset *d, const ns_devent *e);
/* The positive events of the subset keep[k] != 0 (NULL = all) as a log
 * over every catalogue item, indexed. */
int ns_dataset_to_ilog(const ns_dataset *d, const uint8_t *keep, ns_ilog *l);
/* A state holding d's catalogue and its events keep[k] != 0 (NULL = all),
 * with d's implicit_ratings. */
int ns_dataset_to_state(const ns_dataset *d, const uint8_t *keep, ns_state **out);

/* ===================================================================== */
/* Model bundles (northstar train)                                        */
/* ===================================================================== */

/*
 * A bundle is a directory holding every model a pipeline loads and the
 * pipeline config that names them (relative paths, so it moves as a whole):
 *   pipeline.json       channels + ranker (serve --models DIR, or --config)
 *   i2i.safetensors     EASE or cosine item-item model (channel "i2i")
 *   items.vec, items.hnsw   item vectors (word2vec over time-ordered
 *                       histories) and their HNSW index (channel "vector")
 *   keyword.bm25, keyword.terms   BM25 over title + text and each item's
 *                       most distinctive words (channel "keyword")
 *   ranker.safetensors  Wide & Deep on the pipeline's features (rank "wide_deep")
 *   examples.tsv        the ranker's training rows (kept for inspection)
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
    uint64_t seed;        /* 1 */
} ns_bundle_opts;

ns_bundle_opts ns_bundle_defaults(void);

typedef struct ns_bundle_stats {
    double secs_i2i, secs_vectors, secs_keyword, secs_examples, secs_ranker, secs_total;
    int ranker_mode;      /* 0 none, 1 ratings, 2 impressions */
    long examples, positives;
    double val_auc;
    uint32_t i2i_items, vec_items;
} ns_bundle_stats;

/* Train every model on the events keep[k] != 0 of d (NULL = all) and write
 * the bundle to o->out_dir (created). Progress is logged unless quiet. */
int ns_bundle_train(const ns_dataset *d, const uint8_t *keep, const ns_bundle_opts *o, ns_bundle_stats *st);


/* ===================================================================== */
/* Evaluation (Microsoft Recommenders' protocol and definitions)           */
/* ===================================================================== */

/*
 * Split: for each user (key u), its events in increasing item-key order are
 * shuffled by ns_rng_shuffle_u32 with ns_rng(seed, stream = u); the first
 * round_half_even(ratio * n) go to training, the rest to test
 * (python_stratified_split keeps round(ratio * n) per user the same way).
 * test[k] = 1 for test events. bench/service/ml_reference.py reproduces it.
 */
int ns_split_stratified(const uint32_t *user, const uint32_t *item, size_t n, double ratio, uint64_t seed,
                        uint8_t *test);

/*
 * Top-k metrics over users, as recommenders.evaluation.python_evaluation
 * defines them (binary relevance, relevant = in the user's test set):
 *   precision  hits / k                               precision_at_k
 *   recall     hits / |test|                          recall_at_k
 *   ndcg       sum_hits 1/log(1+rank) / sum_{r<=min(|test|,k)} 1/log(1+r)   ndcg_at_k
 *   map        sum_hits (hits so far / rank) / |test|       map (= map_at_k before 1.2)
 *   map_at_k   the same sum / min(|test|, k)                  map_at_k (1.2+)
 * each averaged over the users that have both a test set and predictions.
 */
typedef struct ns_topk_acc {
    int k;
    long users;
    double precision, recall, ndcg, map, map_at_k; /* sums, then means */
} ns_topk_acc;

void ns_topk_init(ns_topk_acc *a, int k);
/* pred: the ranked list (only the first k count); truth: sorted distinct. */
void ns_topk_add(ns_topk_acc *a, const uint32_t *pred, int npred, const uint32_t *truth, int ntruth);
/* Means over the users added. */
ns_topk_acc ns_topk_result(const ns_topk_acc *a);

/*
 * MovieLens-100K end to end (northstar eval movielens): import, split the
 * ratings (all of them positive: implicit feedback), train a bundle on the
 * training part, then recommend k unseen items to every user with test
 * items and score each configuration:
 *   "popularity"   the popular channel alone (the baseline)
 *   each channel   alone, in its own order
 *   "recall"       every channel merged, blend-ranked (and the share of the
 *                  test items among the merged candidates: cand_recall)
 *   "pipeline"     the full pipeline: recall -> Wide & Deep ranker, without
 *                  the diversity rule, and "pipeline+div" with it
 * dump_dir (optional) receives train.tsv, test.tsv and one <row>.tsv of
 * predictions (user, item, rank) per configuration for
 * bench/service/ml_reference.py.
 */
typedef struct ns_ml_eval_opts {
    const char *data_dir;  /* the MovieLens-100K directory */
    const char *work_dir;  /* store and bundle (default: a fresh temp dir, removed) */
    const char *dump_dir;  /* NULL: no dump */
    int k;                 /* 10 */
    double ratio;          /* 0.75 */
    uint64_t seed;         /* 42 */
    int div_k;             /* max per category for "pipeline+div" (3) */
    ns_bundle_opts bundle; /* out_dir is set inside */
} ns_ml_eval_opts;

ns_ml_eval_opts ns_ml_eval_defaults(void);

typedef struct ns_eval_row {
    char name[48];
    ns_topk_acc m;       /* means */
    double cand_recall;  /* "recall" row: test items among all candidates / |test|, mean over users */
    double cands;        /* mean candidates per user ("recall" row) */
    double secs;         /* time to recommend for every user */
} ns_eval_row;

/* rows[] needs room for 16. *nrows is set. st (may be NULL) gets the bundle's stats. */
int ns_eval_movielens(const ns_ml_eval_opts *o, ns_eval_row *rows, int *nrows, ns_bundle_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_OFFLINE_H */
