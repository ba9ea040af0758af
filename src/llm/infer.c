/*
 * infer.c — inference: a per-sequence context with a KV cache, one-token
 * forward (matrix-vector products threaded over output rows), optional int8
 * weights (groups of 32 with a float scale, as llama2.c's runq), sampling
 * (greedy, temperature, top-k, top-p, repetition penalty) and generation
 * with stop sequences and UTF-8-safe streaming.
 *
 * Workload: single-sequence decoding of models of 1M-100M parameters, where
 * each token streams every weight once: the matvecs are memory bound, so
 * the int8 path moves 4x fewer bytes; everything else is kept out of the way
 * (no allocation per token, one pass per operation).
 */
#include "llm_int.h"
#include "northstar/fastmath.h"

#include "northstar/tensor.h"
#include "northstar/tokenizer.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define QG 32 /* int8 group size */

#define BARRIER_SLOTS 64 /* threads whose spin budget is kept between tokens */

typedef struct {
    int8_t *q;      /* [rows, cols] */
    float *s;       /* [rows, cols / QG] */
    int rows, cols;
} qmat;

struct ns_llm_ctx {
    const ns_llm *m;
    int pos;
    float *kc, *vc;               /* [L, Tmax, KVD] */
    float *x, *xb, *atty, *qkv;   /* [C], [C], [C], [QKV] */
    float *hb, *hb2;              /* [F1], [F] */
    float *att;                   /* [H, Tmax] */
    float *logits;                /* [V] */
    int nt;                       /* threads per token */
    float *xbt;                   /* [nt, max(C, F)] private normalised inputs */
    int8_t *xq;                   /* [nt, max(C, F) + 64] private quantised inputs */
    float *xs;                    /* [nt, max(C, F) / 32 + 2] their scales */
    int quant;
    qmat *qqkv, *qproj, *qfc, *qfcp, qhead; /* per layer */
    ns_barrier bar;               /* the token's threads meet here (5 times a layer) */
    int spin[BARRIER_SLOTS];      /* each thread's spin budget, kept between tokens */
};

static void qmat_release(qmat *q)
{
    if (!q) return;
    free(q->q);
    free(q->s);
}

int ns_llm_ctx_new(ns_llm_ctx **out, const ns_llm *m)
{
    *out = NULL;
    const ns_llm_config *c = &m->cfg;
    ns_llm_ctx *x = ns_calloc(1, sizeof *x);
    if (!x) return NS_ENOMEM;
    x->m = m;
    size_t kvd = (size_t)c->n_kv_head * m->hd, L = (size_t)c->n_layer, T = (size_t)c->max_seq;
    size_t C = (size_t)c->d_model, mx = C > (size_t)c->d_ff ? C : (size_t)c->d_ff;
    x->kc = ns_malloc_aligned(sizeof(float) * L * T * kvd);
    x->vc = ns_malloc_aligned(sizeof(float) * L * T * kvd);
    x->x = ns_malloc_aligned(sizeof(float) * C);
    x->xb = ns_malloc_aligned(sizeof(float) * C);
    x->atty = ns_malloc_aligned(sizeof(float) * C);
    x->qkv = ns_malloc_aligned(sizeof(float) * (size_t)m->qkv_dim);
    x->hb = ns_malloc_aligned(sizeof(float) * (size_t)m->f1);
    x->hb2 = ns_malloc_aligned(sizeof(float) * (size_t)c->d_ff);
    x->att = ns_malloc_aligned(sizeof(float) * (size_t)c->n_head * T);
    x->logits = ns_malloc_aligned(sizeof(float) * (size_t)c->vocab_size);
    /* small models decode faster on one thread than with a barrier per op */
    x->nt = ns_threads();
    if ((size_t)c->d_model * c->d_ff * 3 < 200000) x->nt = 1;
    x->xbt = ns_malloc_aligned(sizeof(float) * mx * (size_t)x->nt);
    x->xq = ns_malloc_aligned((mx + 64) * (size_t)x->nt);
    x->xs = ns_malloc_aligned(sizeof(float) * (mx / QG + 2) * (size_t)x->nt);
    if (!x->kc || !x->vc || !x->x || !x->xb || !x->atty || !x->qkv || !x->hb || !x->hb2 || !x->att ||
        !x->logits || !x->xq || !x->xs || !x->xbt) {
        ns_llm_ctx_free(x);
        return NS_ENOMEM;
    }
    *out = x;
    return NS_OK;
}

void ns_llm_ctx_free(ns_llm_ctx *c)
{
    if (!c) return;
    ns_free_aligned(c->kc);
    ns_free_aligned(c->vc);
    ns_free_aligned(c->x);
    ns_free_aligned(c->xb);
    ns_free_aligned(c->atty);
    ns_free_aligned(c->qkv);
    ns_free_aligned(c->hb);
    ns_free_aligned(c->hb2);
    ns_free_aligned(c->att);
    ns_free_aligned(c->logits);
    ns_free_aligned(c->xq);
    ns_free_aligned(c->xs);
    ns_free_aligned(c->xbt);
    if (c->qqkv) {
        for (int l = 0; l < c->m->cfg.n_layer; l++) {
            qmat_release(&c->qqkv[l]);
            qmat_release(&c->qproj[l]);
            qmat_release(&c->qfc[l]);
            qmat_release(&c->qfcp[l]);
        }
    }
    free(c->qqkv);
    free(c->qproj);
    free(c->qfc);
    free(c->qfcp);
    qmat_release(&c->qhead);
    free(c);
}

void ns_llm_ctx_reset(ns_llm_ctx *c) { c->pos = 0; }
int ns_llm_ctx_pos(const ns_llm_ctx *c) { return c->pos; }
const ns_llm *ns__llm_ctx_model(const ns_llm_ctx *c) { return c->m; }

/* ======================================================================= */
/* kernels                                                                   */
/* ======================================================================= */

static int qmat_make(qmat *q, const float *W, int rows, int cols)
{
    q->rows = rows;
    q->cols = cols;
    q->q = ns_malloc((size_t)rows * cols);
    q->s = ns_malloc(sizeof(float) * (size_t)rows * (cols / QG));
    if (!q->q || !q->s) return NS_ENOMEM;
    size_t ng = (size_t)rows * (cols / QG);
#pragma omp parallel for if (ng > 4096)
    for (size_t g = 0; g < ng; g++) {
        const float *w = W + g * QG;
        float mx = 0;
        for (int i = 0; i < QG; i++) mx = fmaxf(mx, fabsf(w[i]));
        float s = mx / 127.0f, inv = s > 0 ? 1.0f / s : 0;
        q->s[g] = s;
        for (int i = 0; i < QG; i++) q->q[g * QG + i] = (int8_t)lrintf(w[i] * inv);
    }
    return NS_OK;
}

static void quantize_x(int8_t *xq, float *xs, const float *x, int n)
{
    for (int g = 0; g < n / QG; g++) {
        const float *v = x + g * QG;
        float mx = 0;
        for (int i = 0; i < QG; i++) mx = fmaxf(mx, fabsf(v[i]));
        float s = mx / 127.0f, inv = s > 0 ? 1.0f / s : 0;
        xs[g] = s;
        for (int i = 0; i < QG; i++) xq[g * QG + i] = (int8_t)lrintf(v[i] * inv);
    }
}

int ns_llm_ctx_quantize_int8(ns_llm_ctx *c)
{
    if (c->quant) return NS_OK;
    const ns_llm *m = c->m;
    const ns_llm_config *cf = &m->cfg;
    int L = cf->n_layer, C = cf->d_model, F = cf->d_ff, Q = m->qkv_dim, F1 = m->f1;
    if (C % QG || F % QG)
        return ns_err_set(NS_EUNSUPPORTED, "int8 needs d_model (%d) and d_ff (%d) divisible by %d", C, F, QG);
    c->qqkv = ns_calloc((size_t)L, sizeof(qmat));
    c->qproj = ns_calloc((size_t)L, sizeof(qmat));
    c->qfc = ns_calloc((size_t)L, sizeof(qmat));
    c->qfcp = ns_calloc((size_t)L, sizeof(qmat));
    if (!c->qqkv || !c->qproj || !c->qfc || !c->qfcp) return NS_ENOMEM;
    int rc = NS_OK;
    for (int l = 0; l < L && rc >= 0; l++) {
        rc = qmat_make(&c->qqkv[l], ns__llm_p(m, P_QKVW) + (size_t)l * Q * C, Q, C);
        if (rc >= 0) rc = qmat_make(&c->qproj[l], ns__llm_p(m, P_PROJW) + (size_t)l * C * C, C, C);
        if (rc >= 0) rc = qmat_make(&c->qfc[l], ns__llm_p(m, P_FCW) + (size_t)l * F1 * C, F1, C);
        if (rc >= 0) rc = qmat_make(&c->qfcp[l], ns__llm_p(m, P_FCPW) + (size_t)l * C * F, C, F);
    }
    if (rc >= 0) rc = qmat_make(&c->qhead, ns__llm_head(m), cf->vocab_size, C);
    if (rc < 0) return rc;
    c->quant = 1;
    return NS_OK;
}

/* ---- one token -------------------------------------------------------- */
/*
 * One parallel region per token. Every thread keeps private copies of the
 * normalised input (and its int8 quantisation), computes a contiguous range
 * of output rows of each matrix, and meets the others at a barrier only
 * where the next step needs a whole vector: after QKV (RoPE and the cache
 * store are done on the thread's own rows), after attention (heads split),
 * after the output projection, after the gate/up rows (SwiGLU fused), after
 * the down projection. The norms are recomputed by each thread (C floats)
 * instead of costing a barrier.
 */

static inline float dot_f(const float *w, const float *x, int n)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += w[i] * x[i];
    return s;
}

static inline float dot_q(const qmat *W, int r, const int8_t *xq, const float *xs)
{
    int cols = W->cols, ng = cols / QG;
    const int8_t *w = W->q + (size_t)r * cols;
    const float *ws = W->s + (size_t)r * ng;
    float s = 0;
    for (int g = 0; g < ng; g++) {
        int32_t iv = 0;
#pragma omp simd reduction(+ : iv)
        for (int i = 0; i < QG; i++) iv += (int32_t)w[g * QG + i] * (int32_t)xq[g * QG + i];
        s += (float)iv * ws[g] * xs[g];
    }
    return s;
}

/* Row r of W (float or int8) times the current input vector. */
typedef struct {
    const float *x;
    const int8_t *xq;
    const float *xs;
} vin;

static inline float rowdot(const float *W, const qmat *qw, int r, int cols, const vin *v)
{
    return qw ? dot_q(qw, r, v->xq, v->xs) : dot_f(W + (size_t)r * cols, v->x, cols);
}

/* out[r] = W[r] . x (+ add[r]) for r in [lo, hi): float rows four at a time
 * (four independent FMA chains sharing each load of x), int8 rows one by one. */
static void rows(float *out, const float *W, const qmat *qw, int lo, int hi, int cols, const vin *v,
                 const float *bias, int acc)
{
    int r = lo;
    if (!qw) {
        const float *x = v->x;
        for (; r + 4 <= hi; r += 4) {
            const float *w0 = W + (size_t)r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (int i = 0; i < cols; i++) {
                s0 += w0[i] * x[i];
                s1 += w1[i] * x[i];
                s2 += w2[i] * x[i];
                s3 += w3[i] * x[i];
            }
            float s[4] = {s0, s1, s2, s3};
            for (int k = 0; k < 4; k++) {
                float y = s[k] + (bias ? bias[r + k] : 0);
                out[r + k] = acc ? out[r + k] + y : y;
            }
        }
    }
    for (; r < hi; r++) {
        float y = rowdot(W, qw, r, cols, v) + (bias ? bias[r] : 0);
        out[r] = acc ? out[r] + y : y;
    }
}

static void norm_private(const ns_llm *m, float *out, const float *x, const float *w, const float *b)
{
    float mean, rstd;
    if (m->cfg.arch == NS_LLM_GPT2)
        ns_layernorm_forward(out, &mean, &rstd, x, w, b, 1, m->cfg.d_model, m->cfg.norm_eps);
    else
        ns_rmsnorm_forward(out, &rstd, x, w, 1, m->cfg.d_model, m->cfg.norm_eps);
}

static void range_of(int n, int tid, int nth, int align, int *lo, int *hi)
{
    int units = n / align;
    *lo = units * tid / nth * align;
    *hi = tid + 1 == nth ? n : units * (tid + 1) / nth * align;
}

static void step_token(ns_llm_ctx *c, int32_t tok, int want_logits)
{
    const ns_llm *m = c->m;
    const ns_llm_config *cf = &m->cfg;
    int L = cf->n_layer, C = cf->d_model, F = cf->d_ff, F1 = m->f1, Q = m->qkv_dim, H = cf->n_head;
    int KVH = cf->n_kv_head, hd = m->hd, Tm = cf->max_seq, G = H / KVH, pos = c->pos, V = cf->vocab_size;
    int gpt = cf->arch == NS_LLM_GPT2, kvd = KVH * hd, half = hd / 2;
    float *x = c->x;
    memcpy(x, ns__llm_p(m, P_WTE) + (size_t)tok * C, sizeof(float) * (size_t)C);
    if (gpt) {
        const float *p = ns__llm_p(m, P_WPE) + (size_t)pos * C;
        for (int i = 0; i < C; i++) x[i] += p[i];
    }
    float scale = 1.0f / sqrtf((float)hd);
    const float *cs = m->rope_cos ? m->rope_cos + (size_t)pos * half : NULL;
    const float *sn = m->rope_sin ? m->rope_sin + (size_t)pos * half : NULL;
    int nt = c->nt;
    int mx = C > F ? C : F;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        ns_barrier_seat seat = ns_barrier_join(&c->bar, c->spin[tid < BARRIER_SLOTS ? tid : 0]);
#define BARRIER() ns_barrier_wait(&c->bar, nth, &seat)
        float *xb = c->xbt + (size_t)tid * mx;
        int8_t *xq = c->xq + (size_t)tid * (mx + 64);
        float *xs = c->xs + (size_t)tid * (mx / QG + 2);
        vin v = {xb, xq, xs};
        int lo, hi;
        for (int l = 0; l < L; l++) {
#define LP(k, stride) (m->t[k].numel ? ns__llm_p(m, k) + (size_t)l * (stride) : NULL)
            /* QKV rows (pairs kept together for RoPE), cache store */
            norm_private(m, xb, x, LP(P_LN1W, C), LP(P_LN1B, C));
            if (c->quant) quantize_x(xq, xs, xb, C);
            const float *W = LP(P_QKVW, (size_t)Q * C), *bq = LP(P_QKVB, Q);
            const qmat *qw = c->quant ? &c->qqkv[l] : NULL;
            float *kc = c->kc + (size_t)l * Tm * kvd, *vc = c->vc + (size_t)l * Tm * kvd;
            range_of(Q, tid, nth, 2, &lo, &hi);
            rows(c->qkv, W, qw, lo, hi, C, &v, bq, 0);
            for (int r = lo; r < hi; r += 2) {
                if (!gpt && r < C + kvd) {
                    int i = (r < C ? r : r - C) % hd / 2;
                    float x0 = c->qkv[r], x1 = c->qkv[r + 1];
                    c->qkv[r] = x0 * cs[i] - x1 * sn[i];
                    c->qkv[r + 1] = x0 * sn[i] + x1 * cs[i];
                }
                for (int k = 0; k < 2 && r + k < hi; k++) {
                    int rr = r + k;
                    if (rr >= C && rr < C + kvd) kc[(size_t)pos * kvd + (rr - C)] = c->qkv[rr];
                    else if (rr >= C + kvd) vc[(size_t)pos * kvd + (rr - C - kvd)] = c->qkv[rr];
                }
            }
            BARRIER();
            /* attention, heads split across threads */
            int n = pos + 1;
            range_of(H, tid, nth, 1, &lo, &hi);
            for (int h = lo; h < hi; h++) {
                const float *q = c->qkv + (size_t)h * hd;
                float *a = c->att + (size_t)h * Tm;
                size_t ko = (size_t)(h / G) * hd;
                float amax = -INFINITY;
                for (int t = 0; t < n; t++) {
                    float sc = dot_f(kc + (size_t)t * kvd + ko, q, hd) * scale;
                    a[t] = sc;
                    amax = sc > amax ? sc : amax;
                }
                float sum = 0;
                for (int t = 0; t < n; t++) {
                    a[t] = expf(a[t] - amax);
                    sum += a[t];
                }
                float inv = 1.0f / sum, *o = c->atty + (size_t)h * hd;
                memset(o, 0, sizeof(float) * (size_t)hd);
                for (int t = 0; t < n; t++) {
                    const float *vv = vc + (size_t)t * kvd + ko;
                    float w = a[t] * inv;
#pragma omp simd
                    for (int i = 0; i < hd; i++) o[i] += w * vv[i];
                }
            }
            BARRIER();
            /* output projection into the residual, own rows */
            vin va = {c->atty, xq, xs};
            if (c->quant) quantize_x(xq, xs, c->atty, C);
            W = LP(P_PROJW, (size_t)C * C);
            const float *bo = LP(P_PROJB, C);
            qw = c->quant ? &c->qproj[l] : NULL;
            range_of(C, tid, nth, 1, &lo, &hi);
            rows(x, W, qw, lo, hi, C, &va, bo, 1);
            BARRIER();
            /* MLP: gate/up rows with the activation fused, then down rows */
            norm_private(m, xb, x, LP(P_LN2W, C), LP(P_LN2B, C));
            if (c->quant) quantize_x(xq, xs, xb, C);
            W = LP(P_FCW, (size_t)F1 * C);
            const float *bf = LP(P_FCB, F);
            qw = c->quant ? &c->qfc[l] : NULL;
            range_of(F, tid, nth, 1, &lo, &hi);
            if (gpt) {
                rows(c->hb, W, qw, lo, hi, C, &v, bf, 0);
                ns_gelu_fast_forward(c->hb2 + lo, c->hb + lo, (size_t)(hi - lo));
            } else {
                rows(c->hb, W, qw, lo, hi, C, &v, NULL, 0);
                rows(c->hb, W, qw, F + lo, F + hi, C, &v, NULL, 0);
                ns_swiglu_fast_forward(c->hb2 + lo, c->hb + lo, c->hb + F + lo, (size_t)(hi - lo));
            }
            BARRIER();
            vin vh = {c->hb2, xq, xs};
            if (c->quant) quantize_x(xq, xs, c->hb2, F);
            W = LP(P_FCPW, (size_t)C * F);
            const float *bp = LP(P_FCPB, C);
            qw = c->quant ? &c->qfcp[l] : NULL;
            range_of(C, tid, nth, 1, &lo, &hi);
            rows(x, W, qw, lo, hi, F, &vh, bp, 1);
            BARRIER();
#undef LP
        }
        if (want_logits) {
            norm_private(m, xb, x, ns__llm_p(m, P_LNFW), ns__llm_p(m, P_LNFB));
            if (c->quant) quantize_x(xq, xs, xb, C);
            const float *W = ns__llm_head(m);
            const qmat *qw = c->quant ? &c->qhead : NULL;
            range_of(V, tid, nth, 1, &lo, &hi);
            rows(c->logits, W, qw, lo, hi, C, &v, NULL, 0);
        }
        if (tid < BARRIER_SLOTS) c->spin[tid] = seat.spin;
#undef BARRIER
    }
    c->pos++;
}

int ns_llm_ctx_feed(ns_llm_ctx *c, const int32_t *ids, int n, const float **logits)
{
    const ns_llm_config *cf = &c->m->cfg;
    if (n < 1) return ns_err_set(NS_EINVAL, "nothing to feed");
    if (c->pos + n > cf->max_seq)
        return ns_err_set(NS_ERANGE, "context full: position %d + %d tokens exceeds the model's context %d", c->pos, n,
                          cf->max_seq);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= cf->vocab_size)
            return ns_err_set(NS_ERANGE, "token id %d outside the vocabulary [0, %d)", ids[i], cf->vocab_size);
    for (int i = 0; i < n; i++) step_token(c, ids[i], i == n - 1);
    if (logits) *logits = c->logits;
    return NS_OK;
}

/* ======================================================================= */
/* serving primitives                                                        */
/* ======================================================================= */

int ns_llm_ctx_rewind(ns_llm_ctx *c, int pos)
{
    if (pos < 0 || pos > c->pos)
        return ns_err_set(NS_ERANGE, "cannot rewind a context at position %d to %d", c->pos, pos);
    c->pos = pos;
    return NS_OK;
}

int ns_llm_step_batch(ns_llm_ctx *const *ctxs, const int32_t *ids, int n, const float **logits)
{
    for (int i = 0; i < n; i++) {
        int rc = ns_llm_ctx_feed(ctxs[i], ids + i, 1, logits + i);
        if (rc < 0) return rc;
    }
    return NS_OK;
}

int ns_llm_ctx_embed(ns_llm_ctx *c, const int32_t *ids, int n, float *out)
{
    (void)c, (void)ids, (void)n, (void)out;
    return ns_err_set(NS_EUNSUPPORTED, "embeddings are not computed yet");
}
