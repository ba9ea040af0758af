/*
 * score.c — one row of `northstar eval` from the service's answers: the
 * top-k metrics against each user's test items (eval.h), coverage of the
 * catalogue, served items the user had consumed in training, ids the
 * catalogue does not have, failures, latency percentiles; and, with a dump
 * directory, the predictions as <row>.tsv (user, item, rank) and the
 * figures appended to metrics.tsv for bench/service/ml_reference.py.
 */
#include "evaluate_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of v[0..n), sorted in place. */
static double quantile(double *v, size_t n, double q)
{
    if (!n) return 0;
    qsort(v, n, sizeof *v, by_double);
    size_t r = (size_t)ceil(q * (double)n);
    return v[r ? r - 1 : 0];
}

static int has(const uint32_t *v, int64_t n, uint32_t x)
{
    return n > 0 && bsearch(&x, v, (size_t)n, sizeof x, ns_cmp_u32) != NULL;
}

static void count_user(const ns__ev_data *x, const uint32_t *pred, int n, uint32_t u, uint8_t *served,
                       ns_evaluate_row *row)
{
    const uint32_t *seen = x->sitems + x->soff[u];
    int64_t nseen = x->soff[u + 1] - x->soff[u];
    for (int r = 0; r < n; r++) {
        row->slots++;
        if (pred[r] == UINT32_MAX) {
            row->unknown++;
            continue;
        }
        if (!served[pred[r]]) row->distinct++;
        served[pred[r]] = 1;
        row->consumed += has(seen, nseen, pred[r]);
    }
}

static int dump_rows(const ns__ev_data *x, const ns__ev_answers *a, const char *dir, const ns_evaluate_row *row)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.tsv", dir, row->name);
    FILE *f = fopen(path, "w");
    if (!f) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
    for (uint32_t j = 0; j < x->nusers; j++)
        for (int r = 0; r < a->n[j]; r++) {
            uint32_t it = a->items[(size_t)j * (size_t)a->k + (size_t)r];
            fprintf(f, "%s\t%s\t%d\n", ns_strmap_key(x->d.uids, x->users[j], NULL),
                    it == UINT32_MAX ? "?" : ns_strmap_key(x->d.iids, it, NULL), r + 1);
        }
    if (fclose(f) != 0) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed");
    snprintf(path, sizeof path, "%s/metrics.tsv", dir);
    if (!(f = fopen(path, "a"))) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
    const ns_eval_topk *m = &row->m;
    fprintf(f, "%s\t%d\t%ld\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\n", row->name, m->k, m->users, m->precision, m->recall,
            m->ndcg, m->map, m->map_at_k);
    if (fclose(f) != 0) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed");
    return 0;
}

int ns__ev_score(const ns__ev_data *x, const ns__ev_answers *a, const char *dump_dir, ns_evaluate_row *row)
{
    size_t ni = ns_strmap_count(x->d.iids);
    uint8_t *served = ns_calloc(ni + 1, 1);
    double *ms = ns_malloc(sizeof *ms * ((size_t)x->nusers + 1));
    if (!served || !ms) {
        free(served);
        free(ms);
        return NS_ENOMEM;
    }
    ns_eval_topk_init(&row->m, a->k);
    size_t nms = 0;
    double cands = 0;
    for (uint32_t j = 0; j < x->nusers; j++) {
        uint32_t u = x->users[j];
        row->asked++;
        if (a->n[j] < 0) {
            row->failed++;
            continue;
        }
        ms[nms++] = a->ms[j];
        cands += a->cands[j];
        const uint32_t *pred = a->items + (size_t)j * (size_t)a->k;
        ns_eval_topk_add(&row->m, pred, a->n[j], x->titems + x->toff[u], (int)(x->toff[u + 1] - x->toff[u]));
        count_user(x, pred, a->n[j], u, served, row);
    }
    row->m = ns_eval_topk_result(&row->m);
    row->coverage = x->d.nitems ? (double)row->distinct / (double)x->d.nitems : 0;
    row->cands = nms ? cands / (double)nms : 0;
    row->p50_ms = quantile(ms, nms, 0.50);
    row->p99_ms = quantile(ms, nms, 0.99);
    row->secs = a->secs;
    free(served);
    free(ms);
    return dump_dir ? dump_rows(x, a, dump_dir, row) : 0;
}
