/*
 * rank_select.c — does the ranker earn its place? `northstar train` (ratings
 * mode) keeps a share of the users out of the ranker's rows; on them it
 * asks the stage-1 pipeline (models that never saw the held-out items) for
 * top-k lists through ns_pipeline_recommend, the serving code, once with
 * the trained ranker and once per recall channel alone in its own order,
 * and scores each with nDCG@k against the held-out items (eval.h). The
 * served config keeps the ranker only when it beats every channel by more
 * than twice the standard error of the paired per-user difference;
 * otherwise it ranks by the best channel, and pipeline.json says so and
 * why ("selection").
 */
#include "northstar/eval.h"
#include "northstar/pipeline.h"
#include "offline_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns__heldout_release(ns__heldout *h)
{
    free(h->off);
    free(h->n);
    free(h->items);
    free(h->val);
    memset(h, 0, sizeof *h);
}

int ns__heldout_build(ns__heldout *h, const ns_dataset *d, const uint8_t *keep, const uint8_t *label, ns_state *s,
                      double val_share, uint64_t seed)
{
    memset(h, 0, sizeof *h);
    uint32_t nu = h->nu = (uint32_t)ns_strmap_count(d->uids);
    size_t nlab = 0;
    h->off = ns_calloc((size_t)nu + 1, sizeof *h->off);
    h->n = ns_calloc((size_t)nu + 1, sizeof *h->n);
    h->val = ns_calloc((size_t)nu + 1, 1);
    if (!h->off || !h->n || !h->val) goto oom;
    for (size_t k = 0; k < d->nev; k++)
        if ((!keep || keep[k]) && label[k]) h->off[d->ev[k].u + 1]++, nlab++;
    for (uint32_t u = 0; u < nu; u++) h->off[u + 1] += h->off[u];
    if (!(h->items = ns_malloc(sizeof *h->items * (nlab ? nlab : 1)))) goto oom;
    for (size_t k = 0; k < d->nev; k++) {
        uint32_t it, u = d->ev[k].u;
        if ((keep && !keep[k]) || !label[k]) continue;
        if (ns_state_find_item(s, ns_strmap_key(d->iids, d->ev[k].i, NULL), &it)) h->items[h->off[u] + h->n[u]++] = it;
    }
    ns_rng r;
    ns_rng_seed(&r, seed, 55);
    for (uint32_t u = 0; u < nu; u++) {
        qsort(h->items + h->off[u], h->n[u], sizeof *h->items, ns_cmp_u32);
        if (h->n[u] && ns_rng_uniform(&r) < val_share) h->val[u] = 1, h->nval++;
    }
    return 0;
oom:
    ns__heldout_release(h);
    return ns_err_set(NS_ENOMEM, "train: out of memory for the held-out items");
}

/* nDCG@k of one config for each validation user (u[0..nval)). */
static int score_config(const ns__heldout *h, const ns_dataset *d, ns_state *s, const json_t *cfg, const char *origin,
                        int k, double *u_ndcg)
{
    char *text = json_dumps(cfg, 0);
    ns_pipeline *p = NULL;
    int rc = text ? ns_pipeline_new(&p, text, origin, s) : NS_ENOMEM;
    free(text);
    if (rc < 0) return rc;
    ns_context ctx;
    double now = ns_state_now(s);
    ns_context_make(&ctx, now > 0 ? now : ns_wall_time(), 0, NULL, NULL);
    ns_arena a;
    ns_arena_init(&a, 0);
    uint32_t pred[100];
    for (uint32_t u = 0, v = 0; rc >= 0 && u < h->nu; u++) {
        if (!h->val[u]) continue;
        ns_rec_request rq = {ns_strmap_key(d->uids, u, NULL), k, &ctx};
        ns_rec_result res;
        if ((rc = ns_pipeline_recommend(p, &rq, &res, &a)) < 0) break;
        int np = res.n < 100 ? res.n : 100;
        for (int j = 0; j < np; j++) pred[j] = res.items[j].item;
        ns_eval_topk one;
        ns_eval_topk_init(&one, k);
        ns_eval_topk_add(&one, pred, np, h->items + h->off[u], (int)h->n[u]);
        u_ndcg[v++] = ns_eval_topk_result(&one).ndcg;
        ns_arena_reset(&a);
    }
    ns_arena_release(&a);
    ns_pipeline_free(p);
    return rc;
}

static double mean(const double *x, uint32_t n)
{
    double s = 0;
    for (uint32_t i = 0; i < n; i++) s += x[i];
    return n ? s / n : 0;
}

/* Mean and standard error of the per-user difference a - b. */
static void paired(const double *a, const double *b, uint32_t n, double *diff, double *se)
{
    double m = 0, q = 0;
    for (uint32_t i = 0; i < n; i++) m += a[i] - b[i];
    m = n ? m / n : 0;
    for (uint32_t i = 0; i < n; i++) q += (a[i] - b[i] - m) * (a[i] - b[i] - m);
    *diff = m;
    *se = n > 1 ? sqrt(q / (n - 1) / n) : INFINITY;
}

/* cfg with only recall channel c, ranked by that channel's order. */
static json_t *channel_alone(const json_t *cfg, size_t c, const char **name)
{
    json_t *one = json_deep_copy(cfg), *rec = json_array();
    json_t *ch = json_array_get(json_object_get(cfg, "recall"), c);
    *name = json_string_value(json_object_get(ch, "name"));
    json_array_append_new(rec, json_deep_copy(ch));
    json_object_set_new(one, "recall", rec);
    json_object_set_new(one, "rank", json_pack("{s:s, s:{s:{s:f}, s:f, s:f}}", "type", "blend", "params", "weights",
                                               *name, 1.0, "default_weight", 0.0, "ctr_weight", 0.0));
    return one;
}

/* The ranker is served when it beats every channel by more than twice the
 * standard error of the paired per-user difference (a margin the noise of
 * a few hundred users cannot make); else the best channel alone. */
int ns__rank_select(const ns__heldout *h, const ns_dataset *d, ns_state *s, const json_t *cfg, const char *origin,
                    int k, json_t **rank, json_t **report)
{
    *rank = *report = NULL;
    size_t nc = json_array_size(json_object_get(cfg, "recall"));
    uint32_t nv = h->nval;
    double *rk = ns_malloc(sizeof *rk * (nv ? nv : 1)), *ch = ns_malloc(sizeof *ch * (nv ? nv : 1) * (nc + 1));
    json_t *base = json_deep_copy(cfg), *scores = json_object();
    json_object_set_new(base, "diversity", json_pack("{s:i}", "max_per_category", 0));
    int rc = rk && ch ? score_config(h, d, s, base, origin, k, rk) : NS_ENOMEM;
    if (rc >= 0) json_object_set_new(scores, "ranker", json_real(mean(rk, nv)));
    int best = -1, ranker_wins = 1;
    double bv = -1, margin = 0, worst_z = INFINITY;
    json_t *best_rank = NULL;
    for (size_t c = 0; rc >= 0 && c < nc; c++) {
        const char *name;
        json_t *one = channel_alone(base, c, &name);
        double *x = ch + c * nv;
        if ((rc = score_config(h, d, s, one, origin, k, x)) >= 0) {
            double m = mean(x, nv), diff, se;
            json_object_set_new(scores, name, json_real(m));
            paired(rk, x, nv, &diff, &se);
            if (diff <= 2 * se) ranker_wins = 0;
            if (se > 0 && diff / se < worst_z) worst_z = diff / se, margin = diff;
            if (m > bv) {
                bv = m;
                best = (int)c;
                json_decref(best_rank);
                best_rank = json_deep_copy(json_object_get(one, "rank"));
            }
        }
        json_decref(one);
    }
    json_decref(base);
    free(rk);
    free(ch);
    if (rc < 0 || best < 0) {
        json_decref(scores);
        json_decref(best_rank);
        return rc < 0 ? rc : ns_err_set(NS_EINVAL, "train: no recall channel to compare the ranker with");
    }
    const char *bname = json_string_value(json_object_get(json_array_get(json_object_get(cfg, "recall"), best), "name"));
    double rv = json_real_value(json_object_get(scores, "ranker"));
    char why[320];
    if (ranker_wins) {
        snprintf(why, sizeof why, "the ranker (nDCG@%d %.4f) beats every channel alone by more than twice the standard "
                 "error of the per-user difference (closest: +%.4f, %.1f SE)", k, rv, margin, worst_z);
        json_decref(best_rank);
        best_rank = json_deep_copy(json_object_get(cfg, "rank"));
        bname = "ranker";
    } else
        snprintf(why, sizeof why, "the ranker (nDCG@%d %.4f) does not beat every channel by twice the standard error of "
                 "the per-user difference; served: channel %s alone (%.4f)", k, rv, bname, bv);
    *rank = best_rank;
    *report = json_pack("{s:s, s:i, s:o, s:s, s:s}", "metric", k == 10 ? "ndcg@10" : "ndcg@k", "users", (int)nv,
                        "ndcg", scores, "chosen", bname, "why", why);
    return 0;
}
