/*
 * offline_int.h — private to src/offline: the held-out items of the
 * ranker stage (ratings mode) and the choice of the served order on
 * validation users (rank_select.c).
 */
#ifndef NS_OFFLINE_INT_H
#define NS_OFFLINE_INT_H

#include "northstar/dataset.h"
#include "northstar/state.h"

#include <jansson.h>
#include <stdint.h>

/* Per dataset user: the held-out positives as sorted state item indexes
 * (items[off[u] .. off[u] + n[u])), and whether the user is kept out of
 * the ranker's rows to judge it (val[u]). */
typedef struct ns__heldout {
    uint32_t nu;
    int64_t *off;
    uint32_t *n;
    uint32_t *items;
    uint8_t *val;
    uint32_t nval;
} ns__heldout;

/* From the events keep[k] && label[k] of d, in state s; about val_share of
 * the users with held-out items are validation users (seeded). */
int ns__heldout_build(ns__heldout *h, const ns_dataset *d, const uint8_t *keep, const uint8_t *label, ns_state *s,
                      double val_share, uint64_t seed);
void ns__heldout_release(ns__heldout *h);

/*
 * Score on the validation users, through ns_pipeline_recommend on state s
 * (the models of the stage that did not see the held-out items): the full
 * config `cfg` (recall -> ranker) and each of its recall channels alone in
 * its own order, nDCG@k against the held-out items. *rank is the "rank"
 * object the served config should use (a copy of cfg's when the ranker is
 * best, else a blend that orders by the best channel alone); *report says
 * what was measured and why that choice ({"metric", "users", "ndcg":
 * {name: value}, "chosen", "why"}). `origin` is the path relative model
 * files are resolved against.
 */
int ns__rank_select(const ns__heldout *h, const ns_dataset *d, ns_state *s, const json_t *cfg, const char *origin,
                    int k, json_t **rank, json_t **report);

#endif
