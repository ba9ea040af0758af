/*
 * northstar/eval.h — layer 5: the offline evaluation protocol of the
 * recommendation service: Microsoft Recommenders' per-user stratified
 * random split and Precision/Recall/nDCG/MAP at k. The evaluation that
 * uses them, through the running service, is evaluate.h (layer 6).
 */
#ifndef NORTHSTAR_EVAL_H
#define NORTHSTAR_EVAL_H

#include "northstar/base.h"

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

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_EVAL_H */
