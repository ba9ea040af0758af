/*
 * northstar/eval.h — layer 5: the offline evaluation of the recommendation
 * service: the Microsoft Recommenders protocol (a per-user stratified random
 * split and Precision/Recall/nDCG/MAP at k) and MovieLens-100K end to end.
 */
#ifndef NORTHSTAR_EVAL_H
#define NORTHSTAR_EVAL_H

#include "northstar/bundle.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Split: for each user (key u), its events in increasing item-key order are
 * shuffled by ns_rng_shuffle_u32 with ns_rng(seed, stream = u); the first
 * round_half_even(ratio * n) go to training, the rest to test
 * (python_stratified_split keeps round(ratio * n) per user the same way).
 * test[k] = 1 for test events. bench/service/ml_reference.py reproduces it.
 */
int ns_eval_split(const uint32_t *user, const uint32_t *item, size_t n, double ratio, uint64_t seed,
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
typedef struct ns_eval_topk {
    int k;
    long users;
    double precision, recall, ndcg, map, map_at_k; /* sums, then means */
} ns_eval_topk;

void ns_eval_topk_init(ns_eval_topk *a, int k);
/* pred: the ranked list (only the first k count); truth: sorted distinct. */
void ns_eval_topk_add(ns_eval_topk *a, const uint32_t *pred, int npred, const uint32_t *truth, int ntruth);
/* Means over the users added. */
ns_eval_topk ns_eval_topk_result(const ns_eval_topk *a);

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
typedef struct ns_eval_movielens_opts {
    const char *data_dir;  /* the MovieLens-100K directory */
    const char *work_dir;  /* store and bundle (default: a fresh temp dir, removed) */
    const char *dump_dir;  /* NULL: no dump */
    int k;                 /* 10 */
    double ratio;          /* 0.75 */
    uint64_t seed;         /* 42 */
    int div_k;             /* max per category for "pipeline+div" (3) */
    ns_bundle_opts bundle; /* out_dir is set inside */
} ns_eval_movielens_opts;

ns_eval_movielens_opts ns_eval_movielens_defaults(void);

typedef struct ns_eval_row {
    char name[48];
    ns_eval_topk m;       /* means */
    double cand_recall;  /* "recall" row: test items among all candidates / |test|, mean over users */
    double cands;        /* mean candidates per user ("recall" row) */
    double secs;         /* time to recommend for every user */
} ns_eval_row;

/* rows[] needs room for 16. *nrows is set. st (may be NULL) gets the bundle's stats. */
int ns_eval_movielens(const ns_eval_movielens_opts *o, ns_eval_row *rows, int *nrows, ns_bundle_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_EVAL_H */
