/*
 * score.c — inference: probabilities for encoded rows, and the serving
 * entry point that encodes candidate rows given as values and scores them.
 * The model is only read; each thread brings its own ns_rank_ctx (scratch
 * for up to SCORE_CHUNK rows and an encoded-row buffer), so any number of
 * threads may score with one loaded model at once.
 *
 * Workload: a recommendation request scores ~500 candidates on one thread
 * (target <= 1 ms median); evaluation scores whole files on all threads.
 */
#include "rank_int.h"

#include "northstar/tensor.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define SCORE_CHUNK 512

struct ns_rank_ctx {
    ns__rank_ws ws;
    ns_fdata rows;
    ns__packed packed;
    const ns_ranker *m;
};

ns_rank_ctx *ns_rank_ctx_new(const ns_ranker *m)
{
    ns_rank_ctx *c = ns_calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    if (ns__rank_ws_init(&c->ws, m, SCORE_CHUNK, 0) < 0 || ns_fdata_init(&c->rows, m->spec) < 0) {
        ns_rank_ctx_free(c);
        return NULL;
    }
    return c;
}

void ns_rank_ctx_free(ns_rank_ctx *c)
{
    if (!c) return;
    ns__rank_ws_release(&c->ws, c->m);
    ns_fdata_release(&c->rows);
    ns__packed_release(&c->packed);
    free(c);
}

static float sigmoidf_(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

int ns_ranker_predict(const ns_ranker *m, ns_rank_ctx *c, const ns_fdata *d, float *prob)
{
    if (c->m != m) return ns_err_set(NS_EINVAL, "scoring context belongs to another model");
    int rc = ns__rank_pack(&c->packed, d);
    if (rc < 0) return rc;
    /* Scoring runs on the calling thread, BLAS included: OpenBLAS (OpenMP
     * build) takes its team size from this thread's OpenMP setting. */
    int icv = omp_get_max_threads();
    if (icv != 1) omp_set_num_threads(1);
    for (int lo = 0; lo < d->n; lo += SCORE_CHUNK) {
        int hi = d->n - lo < SCORE_CHUNK ? d->n : lo + SCORE_CHUNK;
        ns__rank_forward(m, &c->ws, &c->packed, NULL, lo, hi);
        for (int i = 0; i < hi - lo; i++) prob[lo + i] = sigmoidf_(c->ws.logit[i]);
    }
    if (icv != 1) omp_set_num_threads(icv);
    return NS_OK;
}

int ns_ranker_predict_all(const ns_ranker *m, const ns_fdata *d, float *prob)
{
    int T = ns_threads(), err = 0;
    int chunks = (d->n + SCORE_CHUNK - 1) / SCORE_CHUNK;
    if (T > chunks) T = chunks;
    if (T < 1) T = 1;
    ns__packed pk = {0};
    if (ns__rank_pack(&pk, d) < 0) return NS_ENOMEM;
#pragma omp parallel num_threads(T) reduction(| : err)
    {
        ns__rank_ws ws;
        if (ns__rank_ws_init(&ws, m, SCORE_CHUNK, 0) < 0) err = 1;
        else {
#pragma omp for schedule(static)
            for (int k = 0; k < chunks; k++) {
                int lo = k * SCORE_CHUNK, hi = lo + SCORE_CHUNK < d->n ? lo + SCORE_CHUNK : d->n;
                ns__rank_forward(m, &ws, &pk, NULL, lo, hi);
                for (int i = 0; i < hi - lo; i++) prob[lo + i] = sigmoidf_(ws.logit[i]);
            }
        }
        ns__rank_ws_release(&ws, m);
    }
    ns__packed_release(&pk);
    return err ? ns_err_set(NS_ENOMEM, "scoring workspace") : NS_OK;
}

int ns_ranker_score(const ns_ranker *m, ns_rank_ctx *c, const ns_fvalue *rows, int n, float *prob)
{
    int nc = ns_fspec_input_count(m->spec);
    ns_fdata_clear(&c->rows);
    for (int i = 0; i < n; i++) {
        int rc = ns_fspec_encode(m->spec, rows + (size_t)i * nc, NAN, 1.0f, &c->rows);
        if (rc < 0) return ns_err_wrap("candidate %d", i);
    }
    return ns_ranker_predict(m, c, &c->rows, prob);
}

int ns_ranker_top_wide(const ns_ranker *m, int k, int *idx, float *w)
{
    if (!m->use_wide) return 0;
    int cnt = 0;
    for (int i = 0; i < m->wide_dim; i++) {
        float a = fabsf(m->wide_w[i]);
        if (a == 0) continue;
        if (cnt < k) cnt++;
        else if (a <= fabsf(w[cnt - 1])) continue;
        int j = cnt - 1;
        while (j > 0 && fabsf(w[j - 1]) < a) {
            idx[j] = idx[j - 1];
            w[j] = w[j - 1];
            j--;
        }
        idx[j] = i;
        w[j] = m->wide_w[i];
    }
    return cnt;
}
