/*
 * infer.c — inference: a per-sequence context with a KV cache, and the
 * forward of a set of token rows through the inference weight table
 * (llm_int.h): one row is single-sequence decode, several rows of one
 * context are a prefill chunk (matrix-matrix, causal within the chunk),
 * one row from each of several contexts is a continuous-batching step. The
 * matrices may be F32, F16, Q8_0 or Q4_0 (wmat_mm.c); each weight row is
 * read once for all rows of the call.
 *
 * Workload: decoding models of 0.2M-100M+ parameters, where each step
 * streams every weight once (memory bound when large, overhead bound when
 * tiny): one parallel region per call, threads own contiguous output rows
 * of each matrix and meet at a spinning barrier only where the next step
 * needs whole vectors (5 per layer); the norms of the inputs are recomputed
 * by each thread instead of costing a barrier; nothing is allocated per
 * token.
 */
#include "llm_int.h"
#include "northstar/fastmath.h"

#include "northstar/tensor.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_MAX 64      /* rows of one forward call: longer prefills are cut in chunks */
#define BARRIER_SLOTS 64 /* threads whose spin budget is kept between calls */

struct ns_llm_ctx {
    const ns_llm *m;
    const ns__llm_iw *w;          /* the model's table, or qw */
    ns__llm_iw qw;                /* this context's int8 copy (ns_llm_ctx_quantize_int8) */
    int pos;
    float *kc, *vc;               /* [L, Tmax, KVD] */
    float *logits;                /* [V] */
    int needq;                    /* some matrix is quantised: inputs get Q8 copies */
    /* workspace of a call (a batch uses its first context's) */
    int nt_max;                   /* threads the private buffers are sized for */
    float *x, *qkv, *atty;        /* [ROWS, C], [ROWS, QKV], [ROWS, C] */
    float *hb, *hb2;              /* [ROWS, F1], [ROWS, F] */
    float *lg;                    /* [ROWS, V] logits of a batch */
    float *xbt;                   /* [nt, ROWS, MX] private normalised inputs, MX = max(C, F) */
    int8_t *xq;                   /* [nt, ROWS, MX] their Q8 */
    float *xd;                    /* [nt, ROWS, MX / 32] */
    int32_t *xs;                  /* [nt, ROWS, MX / 32] */
    float *att;                   /* [nt, Tmax] attention scores */
    ns_barrier bar;
    int spin[BARRIER_SLOTS];
};

static int table_needq(const ns__llm_iw *w, int L)
{
    int q = w->head.type == NS_LLM_Q8_0 || w->head.type == NS_LLM_Q4_0;
    for (int l = 0; l < L && !q; l++) {
        const ns__llm_lw *y = &w->layer[l];
        const ns__wmat *ms[] = {&y->qkv.p[0], &y->qkv.p[1], &y->qkv.p[2], &y->proj, &y->fc.p[0], &y->fc.p[1], &y->fcp};
        for (int k = 0; k < 7; k++) q |= ms[k]->data && (ms[k]->type == NS_LLM_Q8_0 || ms[k]->type == NS_LLM_Q4_0);
    }
    return q;
}

int ns_llm_ctx_new(ns_llm_ctx **out, const ns_llm *m)
{
    *out = NULL;
    const ns_llm_config *c = &m->cfg;
    ns_llm_ctx *x = ns_calloc(1, sizeof *x);
    if (!x) return NS_ENOMEM;
    x->m = m;
    x->w = &m->iw;
    x->needq = table_needq(&m->iw, c->n_layer);
    size_t kvd = (size_t)c->n_kv_head * m->hd, L = (size_t)c->n_layer, T = (size_t)c->max_seq;
    size_t C = (size_t)c->d_model, F = (size_t)c->d_ff, mx = C > F ? C : F, R = ROWS_MAX;
    x->nt_max = ns_threads();
    size_t nt = (size_t)x->nt_max;
    x->kc = ns_malloc_aligned(sizeof(float) * L * T * kvd);
    x->vc = ns_malloc_aligned(sizeof(float) * L * T * kvd);
    x->logits = ns_malloc_aligned(sizeof(float) * (size_t)c->vocab_size);
    x->x = ns_malloc_aligned(sizeof(float) * R * C);
    x->qkv = ns_malloc_aligned(sizeof(float) * R * (size_t)m->qkv_dim);
    x->atty = ns_malloc_aligned(sizeof(float) * R * C);
    x->hb = ns_malloc_aligned(sizeof(float) * R * (size_t)m->f1);
    x->hb2 = ns_malloc_aligned(sizeof(float) * R * F);
    x->xbt = ns_malloc_aligned(sizeof(float) * nt * R * mx);
    x->xq = ns_malloc_aligned(nt * R * mx + 64);
    x->xd = ns_malloc_aligned(sizeof(float) * nt * R * (mx / 32 + 1));
    x->xs = ns_malloc_aligned(sizeof(int32_t) * nt * R * (mx / 32 + 1));
    x->att = ns_malloc_aligned(sizeof(float) * nt * T);
    if (!x->kc || !x->vc || !x->logits || !x->x || !x->qkv || !x->atty || !x->hb || !x->hb2 || !x->xbt || !x->xq ||
        !x->xd || !x->xs || !x->att) {
        ns_llm_ctx_free(x);
        return NS_ENOMEM;
    }
    *out = x;
    return NS_OK;
}

void ns_llm_ctx_free(ns_llm_ctx *c)
{
    if (!c) return;
    float *f[] = {c->kc, c->vc, c->logits, c->x, c->qkv, c->atty, c->hb, c->hb2, c->lg, c->xbt, c->xd, c->att};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) ns_free_aligned(f[i]);
    ns_free_aligned(c->xq);
    ns_free_aligned(c->xs);
    ns__llm_iw_release(&c->qw);
    free(c);
}

void ns_llm_ctx_reset(ns_llm_ctx *c) { c->pos = 0; }
int ns_llm_ctx_pos(const ns_llm_ctx *c) { return c->pos; }
const ns_llm *ns__llm_ctx_model(const ns_llm_ctx *c) { return c->m; }

int ns_llm_ctx_quantize_int8(ns_llm_ctx *c)
{
    if (c->w != &c->m->iw || c->m->iw.wtype != NS_LLM_F32) return NS_OK; /* already quantised */
    int rc = ns__llm_iw_quantize(&c->qw, &c->m->iw, c->m, NS_LLM_Q8_0);
    if (rc < 0) return rc;
    c->w = &c->qw;
    c->needq = 1;
    return NS_OK;
}

int ns_llm_quantize(ns_llm *m, ns_llm_wtype t)
{
    if (t == NS_LLM_F32) return ns_err_set(NS_EINVAL, "quantise: f32 is the type of the params already");
    if (!ns_llm_wtype_name(t)) return ns_err_set(NS_EUNSUPPORTED, "quantise: unknown type %d", (int)t);
    ns__llm_iw q;
    int rc = ns__llm_iw_quantize(&q, &m->iw, m, t);
    if (rc < 0) return rc;
    ns__llm_iw_release(&m->iw);
    m->iw = q;
    return NS_OK;
}

/* ======================================================================= */
/* the forward of a set of rows                                             */
/* ======================================================================= */

/* What a call computes after the last layer. */
enum { HEAD_NONE = 0, HEAD_LAST = 1, HEAD_ALL = 2 };

typedef struct {
    ns_llm_ctx *ws;               /* workspace */
    ns_llm_ctx *const *cx;        /* [n] the context of each row */
    const int32_t *tok;           /* [n] */
    const int *pos;               /* [n] */
    int n, head;
    float *hsum;                  /* [C] or NULL: sum of the final normalised rows */
} fwd_job;

static void range_of(int n, int tid, int nth, int align, int *lo, int *hi)
{
    int units = n / align;
    *lo = units * tid / nth * align;
    *hi = tid + 1 == nth ? n : units * (tid + 1) / nth * align;
}

/* Rows [lo, hi) of a stacked matrix: each part's share, in its own type. */
static void cat_mm(const ns__wcat *c, int lo, int hi, const ns__xin *in, float *out, int ldo, const float *bias)
{
    int s = 0;
    for (int p = 0; p < c->n; s += c->p[p].rows, p++) {
        int a = lo > s ? lo : s, b = hi < s + c->p[p].rows ? hi : s + c->p[p].rows;
        if (a < b) ns__wmat_mm(&c->p[p], a - s, b - s, in, out + s, ldo, bias ? bias + s : NULL, 0);
    }
}

/* Normalise rows [0, n) of x into xb (private), and their Q8 copies. */
static void norm_rows(const ns_llm *m, float *xb, const float *x, int n, const float *w, const float *b)
{
    int C = m->cfg.d_model;
    for (int i = 0; i < n; i++) {
        float mean, rstd;
        if (m->cfg.arch == NS_LLM_GPT2)
            ns_layernorm_forward(xb + (size_t)i * C, &mean, &rstd, x + (size_t)i * C, w, b, 1, C, m->cfg.norm_eps);
        else
            ns_rmsnorm_forward(xb + (size_t)i * C, &rstd, x + (size_t)i * C, w, 1, C, m->cfg.norm_eps);
    }
}

typedef struct {
    float *xb;
    int8_t *q;
    float *d;
    int32_t *s;
} priv;

static ns__xin xin_of(const ns_llm_ctx *ws, priv *p, const float *x, int n, int cols)
{
    if (ws->needq) ns__xin_quantize(p->q, p->d, p->s, x, n, cols);
    return (ns__xin){n, cols, x, p->q, p->d, p->s};
}

/* One head's attention for row i over positions 0..pos of its context. */
static void attend(const ns_llm *m, const float *q, const float *kc, const float *vc, int pos, float *a, float *o,
                   size_t ko)
{
    int hd = m->hd, kvd = m->cfg.n_kv_head * hd;
    float scale = 1.0f / sqrtf((float)hd), amax = -INFINITY;
    for (int t = 0; t <= pos; t++) {
        const float *k = kc + (size_t)t * kvd + ko;
        float sc = 0;
#pragma omp simd reduction(+ : sc)
        for (int d = 0; d < hd; d++) sc += k[d] * q[d];
        a[t] = sc * scale;
        amax = a[t] > amax ? a[t] : amax;
    }
    float sum = 0;
    for (int t = 0; t <= pos; t++) {
        a[t] = expf(a[t] - amax);
        sum += a[t];
    }
    float inv = 1.0f / sum;
    memset(o, 0, sizeof(float) * (size_t)hd);
    for (int t = 0; t <= pos; t++) {
        const float *v = vc + (size_t)t * kvd + ko;
        float wt = a[t] * inv;
#pragma omp simd
        for (int d = 0; d < hd; d++) o[d] += wt * v[d];
    }
}

/* RoPE on rows [lo, hi) of each row's q|k, then k and v into its cache. */
static void rope_store(const fwd_job *j, int l, int lo, int hi)
{
    const ns_llm *m = j->ws->m;
    int C = m->cfg.d_model, hd = m->hd, kvd = m->cfg.n_kv_head * hd, Q = m->qkv_dim, Tm = m->cfg.max_seq;
    int half = hd / 2, llama = m->cfg.arch == NS_LLM_LLAMA;
    for (int i = 0; i < j->n; i++) {
        float *qkv = j->ws->qkv + (size_t)i * Q;
        int pos = j->pos[i];
        float *kc = j->cx[i]->kc + ((size_t)l * Tm + pos) * kvd, *vc = j->cx[i]->vc + ((size_t)l * Tm + pos) * kvd;
        if (llama) {
            const float *cs = m->rope_cos + (size_t)pos * half, *sn = m->rope_sin + (size_t)pos * half;
            for (int r = lo & ~1; r < hi && r < C + kvd; r += 2) {
                int k = (r < C ? r : r - C) % hd / 2;
                float x0 = qkv[r], x1 = qkv[r + 1];
                qkv[r] = x0 * cs[k] - x1 * sn[k];
                qkv[r + 1] = x0 * sn[k] + x1 * cs[k];
            }
        }
        for (int r = lo; r < hi; r++) {
            if (r >= C && r < C + kvd) kc[r - C] = qkv[r];
            else if (r >= C + kvd) vc[r - C - kvd] = qkv[r];
        }
    }
}

static void forward_team(const fwd_job *j, int tid, int nth, ns_barrier_seat *seat)
{
    ns_llm_ctx *ws = j->ws;
    const ns_llm *m = ws->m;
    const ns__llm_iw *w = ws->w;
    const ns_llm_config *cf = &m->cfg;
    int L = cf->n_layer, C = cf->d_model, F = cf->d_ff, F1 = m->f1, Q = m->qkv_dim, H = cf->n_head;
    int G = H / cf->n_kv_head, hd = m->hd, Tm = cf->max_seq, n = j->n, V = cf->vocab_size;
    int gpt = cf->arch == NS_LLM_GPT2, mx = C > F ? C : F, nb = mx / 32 + 1;
    size_t R = ROWS_MAX;
    priv p = {ws->xbt + (size_t)tid * R * mx, ws->xq + (size_t)tid * R * mx, ws->xd + (size_t)tid * R * nb,
              ws->xs + (size_t)tid * R * nb};
    float *att = ws->att + (size_t)tid * Tm;
    int lo, hi;
#define BARRIER() ns_barrier_wait(&ws->bar, nth, seat)
    for (int l = 0; l < L; l++) {
        const ns__llm_lw *y = &w->layer[l];
        /* q|k|v rows, RoPE, cache store */
        norm_rows(m, p.xb, ws->x, n, y->ln1w, y->ln1b);
        ns__xin in = xin_of(ws, &p, p.xb, n, C);
        range_of(Q, tid, nth, 4, &lo, &hi);
        cat_mm(&y->qkv, lo, hi, &in, ws->qkv, Q, y->qkvb);
        rope_store(j, l, lo, hi);
        BARRIER();
        /* attention: (row, head) items split across threads */
        range_of(n * H, tid, nth, 1, &lo, &hi);
        for (int it = lo; it < hi; it++) {
            int i = it / H, h = it % H;
            const ns_llm_ctx *c = j->cx[i];
            size_t lay = (size_t)l * Tm * (size_t)(cf->n_kv_head * hd);
            attend(m, ws->qkv + (size_t)i * Q + (size_t)h * hd, c->kc + lay, c->vc + lay, j->pos[i], att,
                   ws->atty + (size_t)i * C + (size_t)h * hd, (size_t)(h / G) * hd);
        }
        BARRIER();
        /* output projection into the residual */
        in = xin_of(ws, &p, ws->atty, n, C);
        range_of(C, tid, nth, 4, &lo, &hi);
        ns__wmat_mm(&y->proj, lo, hi, &in, ws->x, C, y->projb, 1);
        BARRIER();
        /* MLP: gate/up (or fc) rows with the activation fused, then down */
        norm_rows(m, p.xb, ws->x, n, y->ln2w, y->ln2b);
        in = xin_of(ws, &p, p.xb, n, C);
        range_of(F, tid, nth, 4, &lo, &hi);
        cat_mm(&y->fc, lo, hi, &in, ws->hb, F1, y->fcb);
        if (!gpt) cat_mm(&y->fc, F + lo, F + hi, &in, ws->hb, F1, NULL);
        for (int i = 0; i < n; i++) {
            float *h1 = ws->hb + (size_t)i * F1, *h2 = ws->hb2 + (size_t)i * F;
            if (gpt) ns_gelu_fast_forward(h2 + lo, h1 + lo, (size_t)(hi - lo));
            else ns_swiglu_fast_forward(h2 + lo, h1 + lo, h1 + F + lo, (size_t)(hi - lo));
        }
        BARRIER();
        in = xin_of(ws, &p, ws->hb2, n, F);
        range_of(C, tid, nth, 4, &lo, &hi);
        ns__wmat_mm(&y->fcp, lo, hi, &in, ws->x, C, y->fcpb, 1);
        BARRIER();
    }
    if (j->head == HEAD_NONE && !j->hsum) return;
    int first = j->head == HEAD_LAST ? n - 1 : 0, nr = n - first;
    norm_rows(m, p.xb, ws->x + (size_t)first * C, nr, w->lnfw, w->lnfb);
    if (j->hsum && tid == 0)
        for (int i = 0; i < nr; i++)
            for (int k = 0; k < C; k++) j->hsum[k] += p.xb[(size_t)i * C + k];
    if (j->head == HEAD_NONE) return;
    ns__xin in = xin_of(ws, &p, p.xb, nr, C);
    range_of(V, tid, nth, 4, &lo, &hi);
    float *out = j->head == HEAD_LAST ? j->cx[n - 1]->logits : ws->lg;
    ns__wmat_mm(&w->head, lo, hi, &in, out, V, NULL, 0);
#undef BARRIER
}

/* Threads for a call: tiny work is faster on one thread than with 5
 * barriers a layer. */
static int threads_for(const ns_llm_ctx *ws, int n)
{
    const ns_llm_config *c = &ws->m->cfg;
    double work = (double)n * c->d_model * (double)c->d_ff * 3;
    return work < 200000 ? 1 : ws->nt_max;
}

static void forward_rows(const fwd_job *j)
{
    ns_llm_ctx *ws = j->ws;
    const ns_llm *m = ws->m;
    int C = m->cfg.d_model;
    for (int i = 0; i < j->n; i++) {
        float *x = ws->x + (size_t)i * C;
        ns__wmat_row(&ws->w->emb, j->tok[i], x);
        if (ws->w->wpe) {
            const float *pe = ws->w->wpe + (size_t)j->pos[i] * C;
            for (int k = 0; k < C; k++) x[k] += pe[k];
        }
    }
    int nt = threads_for(ws, j->n);
    if (nt == 1) {
        ns_barrier_seat seat = {0, 0};
        forward_team(j, 0, 1, &seat);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        ns_barrier_seat seat = ns_barrier_join(&ws->bar, ws->spin[tid < BARRIER_SLOTS ? tid : 0]);
        forward_team(j, tid, nth, &seat);
        if (tid < BARRIER_SLOTS) ws->spin[tid] = seat.spin;
    }
}

static int check_ids(const ns_llm *m, const int32_t *ids, int n)
{
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size)
            return ns_err_set(NS_ERANGE, "token id %d outside the vocabulary [0, %d)", ids[i], m->cfg.vocab_size);
    return NS_OK;
}

/* Feed ids[0..n) to one context in chunks of ROWS_MAX rows. */
static int feed(ns_llm_ctx *c, const int32_t *ids, int n, int head, float *hsum)
{
    const ns_llm_config *cf = &c->m->cfg;
    if (n < 1) return ns_err_set(NS_EINVAL, "nothing to feed");
    if (c->pos + n > cf->max_seq)
        return ns_err_set(NS_ERANGE, "context full: position %d + %d tokens exceeds the model's context %d", c->pos, n,
                          cf->max_seq);
    int rc = check_ids(c->m, ids, n);
    if (rc < 0) return rc;
    int pos[ROWS_MAX];
    ns_llm_ctx *cx[ROWS_MAX];
    for (int i = 0; i < ROWS_MAX; i++) cx[i] = c;
    for (int done = 0; done < n;) {
        int k = n - done < ROWS_MAX ? n - done : ROWS_MAX;
        for (int i = 0; i < k; i++) pos[i] = c->pos + i;
        fwd_job j = {c, cx, ids + done, pos, k, done + k == n ? head : HEAD_NONE, hsum};
        forward_rows(&j);
        c->pos += k;
        done += k;
    }
    return NS_OK;
}

int ns_llm_ctx_feed(ns_llm_ctx *c, const int32_t *ids, int n, const float **logits)
{
    int rc = feed(c, ids, n, HEAD_LAST, NULL);
    if (rc >= 0 && logits) *logits = c->logits;
    return rc;
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
    if (n < 1) return ns_err_set(NS_EINVAL, "an empty batch");
    ns_llm_ctx *ws = ctxs[0];
    const ns_llm *m = ws->m;
    int V = m->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        if (ctxs[i]->m != m || ctxs[i]->w->wtype != ws->w->wtype)
            return ns_err_set(NS_EINVAL, "batch: context %d is of another model or weight type", i);
        if (ctxs[i]->pos + 1 > m->cfg.max_seq)
            return ns_err_set(NS_ERANGE, "batch: context %d is full (%d positions)", i, m->cfg.max_seq);
        for (int k = 0; k < i; k++)
            if (ctxs[k] == ctxs[i]) return ns_err_set(NS_EINVAL, "batch: context %d appears twice", i);
    }
    int rc = check_ids(m, ids, n);
    if (rc < 0) return rc;
    if (n == 1) return ns_llm_ctx_feed(ctxs[0], ids, 1, logits);
    if (!ws->lg && !(ws->lg = ns_malloc_aligned(sizeof(float) * ROWS_MAX * (size_t)V))) return NS_ENOMEM;
    for (int done = 0; done < n;) {
        int k = n - done < ROWS_MAX ? n - done : ROWS_MAX, pos[ROWS_MAX];
        for (int i = 0; i < k; i++) pos[i] = ctxs[done + i]->pos;
        fwd_job j = {ws, ctxs + done, ids + done, pos, k, HEAD_ALL, NULL};
        forward_rows(&j);
        for (int i = 0; i < k; i++) {
            ns_llm_ctx *c = ctxs[done + i];
            memcpy(c->logits, ws->lg + (size_t)i * V, sizeof(float) * (size_t)V);
            c->pos++;
            logits[done + i] = c->logits;
        }
        done += k;
    }
    return NS_OK;
}

int ns_llm_ctx_embed(ns_llm_ctx *c, const int32_t *ids, int n, float *out)
{
    int C = c->m->cfg.d_model;
    ns_llm_ctx_reset(c);
    memset(out, 0, sizeof(float) * (size_t)C);
    int rc = feed(c, ids, n, HEAD_NONE, out);
    if (rc < 0) return rc;
    for (int k = 0; k < C; k++) out[k] /= (float)n;
    return NS_OK;
}
