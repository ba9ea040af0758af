/*
 * eval.c — the offline evaluation protocol of the recommendation service:
 * Microsoft Recommenders' per-user stratified random split and their top-k
 * ranking metrics (recommenders.evaluation.python_evaluation), so our
 * figures sit beside the ones they publish for MovieLens.
 *
 * Workload: one split of ~10^5 events, then one ns_eval_topk_add per test user
 * (~10^3) per method evaluated; all of it is negligible next to training.
 * bench/service/ml_reference.py re-implements both (numpy) and checks them
 * on the same files.
 */
#include "northstar/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- split ------------------------------------------------------------------------- */

typedef struct { uint32_t user, item; uint32_t idx; } ui_t;

static int by_user_item(const void *a, const void *b)
{
    const ui_t *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int ns_eval_split(const uint32_t *user, const uint32_t *item, size_t n, double ratio, uint64_t seed,
                        uint8_t *test)
{
    if (!(ratio > 0 && ratio < 1)) return ns_err_set_at(NS_EINVAL, NULL, 0, "ratio", NULL, "must be in (0, 1)");
    if (n > UINT32_MAX) return ns_err_set(NS_ERANGE, "split: too many events");
    ui_t *v = ns_malloc(sizeof *v * (n ? n : 1));
    uint32_t *perm = ns_malloc(sizeof *perm * (n ? n : 1));
    if (!v || !perm) {
        free(v);
        free(perm);
        return NS_ENOMEM;
    }
    for (size_t k = 0; k < n; k++) v[k] = (ui_t){user[k], item[k], (uint32_t)k};
    qsort(v, n, sizeof *v, by_user_item);
    for (size_t a = 0; a < n;) {
        size_t b = a;
        while (b < n && v[b].user == v[a].user) b++;
        size_t m = b - a;
        for (size_t k = 0; k < m; k++) perm[k] = (uint32_t)k;
        ns_rng r;
        ns_rng_seed(&r, seed, v[a].user);
        ns_rng_shuffle_u32(&r, perm, m);
        size_t ntrain = (size_t)rint(ratio * (double)m); /* round half to even, as Python's round() */
        for (size_t k = 0; k < m; k++) test[v[a + perm[k]].idx] = k >= ntrain;
        a = b;
    }
    free(v);
    free(perm);
    return 0;
}

/* ---- metrics ------------------------------------------------------------------------- */

void ns_eval_topk_init(ns_eval_topk *a, int k)
{
    memset(a, 0, sizeof *a);
    a->k = k;
}

static int in_sorted(const uint32_t *v, int n, uint32_t x)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == x;
}

void ns_eval_topk_add(ns_eval_topk *a, const uint32_t *pred, int npred, const uint32_t *truth, int ntruth)
{
    if (ntruth <= 0 || npred <= 0) return; /* only users in both (common users) count */
    int k = a->k, m = npred < k ? npred : k, hits = 0;
    double dcg = 0, rr = 0, idcg = 0;
    for (int r = 0; r < m; r++)
        if (in_sorted(truth, ntruth, pred[r])) {
            hits++;
            dcg += 1.0 / log(2.0 + r);
            rr += (double)hits / (double)(r + 1);
        }
    int ideal = ntruth < k ? ntruth : k;
    for (int r = 0; r < ideal; r++) idcg += 1.0 / log(2.0 + r);
    a->users++;
    a->precision += (double)hits / k;
    a->recall += (double)hits / ntruth;
    a->ndcg += dcg / idcg;
    a->map += rr / ntruth;
    a->map_at_k += rr / ideal;
}

ns_eval_topk ns_eval_topk_result(const ns_eval_topk *a)
{
    ns_eval_topk r = *a;
    if (a->users) {
        double u = (double)a->users;
        r.precision /= u;
        r.recall /= u;
        r.ndcg /= u;
        r.map /= u;
        r.map_at_k /= u;
    }
    return r;
}
