/*
 * model.c — the transformer itself: parameter table, allocation, init, and
 * the training forward and backward, written out kernel by kernel (llm.c
 * style) for both families.
 *
 * Workload: small-to-medium models on CPU (C 64..1024, B*T up to a few
 * thousand rows). Parameters, gradients and activations are each one
 * allocation; activations are re-carved only when B*T grows. GEMMs go to
 * BLAS through ns_gemm; element-wise work is fused into the passes around
 * them where that saves a sweep over memory.
 */
#include "llm_int.h"
#include "northstar/fastmath.h"

#include "northstar/tensor.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* parameter table                                                           */
/* ======================================================================= */

/* Names as the rows of NS_LLM_FILE_TENSORS (llm.h) spell them. */
static const char *const param_names[P__COUNT] = {
#define NAME(id, name, ...) name,
    NS_LLM_FILE_TENSORS(NAME)
#undef NAME
};

static void set_t(ns__llm_tensor *tab, int k, int present, int decay, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    ns__llm_tensor *t = &tab[k];
    t->name = param_names[k];
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->shape[2] = d2;
    t->decay = decay;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)t->shape[i];
    t->numel = present ? n : 0;
}

static void fill_table(ns_llm *m)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, V = c->vocab_size, F = c->d_ff;
    int gpt = c->arch == NS_LLM_GPT2, bias = gpt && c->bias;
    m->hd = C / c->n_head;
    m->qkv_dim = (c->n_head + 2 * c->n_kv_head) * m->hd;
    m->f1 = gpt ? F : 2 * F;
    int Q = m->qkv_dim;
    ns__llm_tensor *t = m->t;
    set_t(t, P_WTE, 1, 1, 2, V, C, 0);
    set_t(t, P_WPE, gpt, 1, 2, c->max_seq, C, 0);
    set_t(t, P_LN1W, 1, 0, 2, L, C, 0);
    set_t(t, P_LN1B, bias, 0, 2, L, C, 0);
    set_t(t, P_QKVW, 1, 1, 3, L, Q, C);
    set_t(t, P_QKVB, bias, 0, 2, L, Q, 0);
    set_t(t, P_PROJW, 1, 1, 3, L, C, C);
    set_t(t, P_PROJB, bias, 0, 2, L, C, 0);
    set_t(t, P_LN2W, 1, 0, 2, L, C, 0);
    set_t(t, P_LN2B, bias, 0, 2, L, C, 0);
    set_t(t, P_FCW, 1, 1, 3, L, m->f1, C);
    set_t(t, P_FCB, bias, 0, 2, L, F, 0);
    set_t(t, P_FCPW, 1, 1, 3, L, C, F);
    set_t(t, P_FCPB, bias, 0, 2, L, C, 0);
    set_t(t, P_LNFW, 1, 0, 1, C, 0, 0);
    set_t(t, P_LNFB, bias, 0, 1, C, 0, 0);
    set_t(t, P_LMHEAD, !c->tied, 1, 2, V, C, 0);
    size_t off = 0;
    for (int k = 0; k < P__COUNT; k++) {
        t[k].offset = off;
        off += t[k].numel;
    }
    m->n_params = off;
}

int ns_llm_new(ns_llm **out, const ns_llm_config *c)
{
    *out = NULL;
    if (ns_llm_config_validate(c) < 0) return ns_err_last()->code;
    ns_llm *m = ns_calloc(1, sizeof *m);
    if (!m) return NS_ENOMEM;
    m->cfg = *c;
    fill_table(m);
    m->params = ns_malloc_aligned(sizeof(float) * (m->n_params ? m->n_params : 1));
    if (!m->params) {
        free(m);
        return NS_ENOMEM;
    }
    memset(m->params, 0, sizeof(float) * m->n_params);
    if (c->arch == NS_LLM_LLAMA) {
        size_t n = (size_t)c->max_seq * (m->hd / 2);
        m->rope_cos = ns_malloc(sizeof(float) * n);
        m->rope_sin = ns_malloc(sizeof(float) * n);
        if (!m->rope_cos || !m->rope_sin) {
            ns_llm_free(m);
            return NS_ENOMEM;
        }
        ns_rope_tables(m->rope_cos, m->rope_sin, c->max_seq, m->hd, c->rope_theta);
    }
    if (ns__llm_iw_from_params(&m->iw, m) < 0) {
        ns_llm_free(m);
        return NS_ENOMEM;
    }
    *out = m;
    return NS_OK;
}

/* The float vectors of an inference-only model, packed at the start of
 * params; the matrices (numel kept for their shapes) have no storage. */
static int is_vector(int k)
{
    return k == P_WPE || k == P_LN1W || k == P_LN1B || k == P_QKVB || k == P_PROJB || k == P_LN2W ||
           k == P_LN2B || k == P_FCB || k == P_FCPB || k == P_LNFW || k == P_LNFB;
}

int ns__llm_new_infer(ns_llm **out, const ns_llm_config *c)
{
    *out = NULL;
    if (ns_llm_config_validate(c) < 0) return ns_err_last()->code;
    ns_llm *m = ns_calloc(1, sizeof *m);
    if (!m) return NS_ENOMEM;
    m->cfg = *c;
    fill_table(m);
    size_t off = 0;
    for (int k = 0; k < P__COUNT; k++) {
        m->t[k].offset = is_vector(k) ? off : 0;
        if (is_vector(k)) off += m->t[k].numel;
    }
    m->infer_only = 1;
    m->params = ns_malloc_aligned(sizeof(float) * (off ? off : 1));
    m->iw.layer = ns_calloc((size_t)c->n_layer, sizeof *m->iw.layer);
    if (!m->params || !m->iw.layer) {
        ns_llm_free(m);
        return NS_ENOMEM;
    }
    memset(m->params, 0, sizeof(float) * off);
    if (c->arch == NS_LLM_LLAMA) {
        size_t n = (size_t)c->max_seq * (m->hd / 2);
        m->rope_cos = ns_malloc(sizeof(float) * n);
        m->rope_sin = ns_malloc(sizeof(float) * n);
        if (!m->rope_cos || !m->rope_sin) {
            ns_llm_free(m);
            return NS_ENOMEM;
        }
        ns_rope_tables(m->rope_cos, m->rope_sin, c->max_seq, m->hd, c->rope_theta);
    }
    *out = m;
    return NS_OK;
}

const char *ns_llm_chat_template(const ns_llm *m) { return m->chat_template; }
const char *ns_llm_name(const ns_llm *m) { return m->name; }
ns_llm_wtype ns_llm_weight_type(const ns_llm *m) { return (ns_llm_wtype)m->iw.wtype; }

void ns_llm_free(ns_llm *m)
{
    if (!m) return;
    ns_free_aligned(m->params);
    ns_free_aligned(m->grads);
    ns_free_aligned(m->act_mem);
    ns_free_aligned(m->tgrads);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->idx);
    free(m->targets);
    ns__llm_iw_release(&m->iw);
    ns_free_aligned(m->blob);
    free(m->chat_template);
    free(m->name);
    free(m);
}

const ns_llm_config *ns_llm_cfg(const ns_llm *m) { return &m->cfg; }
size_t ns_llm_num_params(const ns_llm *m) { return m->n_params; }
int ns_llm_tensor_count(const ns_llm *m)
{
    int n = 0;
    for (int k = 0; k < P__COUNT; k++) n += m->t[k].numel > 0;
    return n;
}

const char *ns_llm_tensor_name(const ns_llm *m, int i)
{
    for (int k = 0; k < P__COUNT; k++)
        if (m->t[k].numel && i-- == 0) return m->t[k].name;
    return NULL;
}

static int find_tensor(const ns_llm *m, const char *name)
{
    for (int k = 0; k < P__COUNT; k++)
        if (m->t[k].numel && !strcmp(m->t[k].name, name)) return k;
    return -1;
}

float *ns_llm_param(ns_llm *m, const char *name, size_t *numel)
{
    int k = find_tensor(m, name);
    if (k < 0) return NULL;
    if (numel) *numel = m->t[k].numel;
    return ns__llm_p(m, k);
}

float *ns_llm_grad(ns_llm *m, const char *name, size_t *numel)
{
    int k = find_tensor(m, name);
    if (k < 0 || !m->grads) return NULL;
    if (numel) *numel = m->t[k].numel;
    return ns__llm_g(m, k);
}

float *ns_llm_params_flat(ns_llm *m) { return m->params; }
int ns__llm_alloc_grads(ns_llm *m)
{
    if (m->grads) return NS_OK;
    m->grads = ns_malloc_aligned(sizeof(float) * (m->n_params ? m->n_params : 1));
    if (!m->grads) return NS_ENOMEM;
    memset(m->grads, 0, sizeof(float) * m->n_params);
    return NS_OK;
}

void ns_llm_zero_grad(ns_llm *m)
{
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
}

void ns_llm_init(ns_llm *m, uint64_t seed)
{
    float std = 0.02f, pstd = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int k = 0; k < P__COUNT; k++) {
        ns__llm_tensor *t = &m->t[k];
        if (!t->numel) continue;
        float *p = ns__llm_p(m, k);
        ns_rng r;
        ns_rng_seed(&r, seed, (uint64_t)k);
        switch (k) {
        case P_LN1W: case P_LN2W: case P_LNFW:
            for (size_t i = 0; i < t->numel; i++) p[i] = 1.0f;
            break;
        case P_LN1B: case P_LN2B: case P_LNFB: case P_QKVB: case P_PROJB: case P_FCB: case P_FCPB:
            memset(p, 0, sizeof(float) * t->numel);
            break;
        case P_PROJW: case P_FCPW:
            ns_rng_fill_normal(&r, p, t->numel, 0, pstd);
            break;
        default:
            ns_rng_fill_normal(&r, p, t->numel, 0, std);
        }
    }
}

/* ======================================================================= */
/* activations                                                               */
/* ======================================================================= */

static int carve_acts(ns_llm *m, int B, int T)
{
    const ns_llm_config *c = &m->cfg;
    size_t L = (size_t)c->n_layer, C = (size_t)c->d_model, V = (size_t)c->vocab_size;
    size_t F = (size_t)c->d_ff, F1 = (size_t)m->f1, Q = (size_t)m->qkv_dim, H = (size_t)c->n_head;
    size_t N = (size_t)B * T, TT = (size_t)T * T;
    struct { float **p; size_t n; } plan[] = {
        {&m->a.resid, (L + 1) * N * C}, {&m->a.ln1, L * N * C}, {&m->a.ln1_mean, L * N},
        {&m->a.ln1_rstd, L * N}, {&m->a.qkv, L * N * Q}, {&m->a.atty, L * N * C},
        {&m->a.att, L * B * H * TT}, {&m->a.res2, L * N * C}, {&m->a.ln2, L * N * C},
        {&m->a.ln2_mean, L * N}, {&m->a.ln2_rstd, L * N}, {&m->a.fch, L * N * F1},
        {&m->a.fcg, L * N * F}, {&m->a.lnf, N * C}, {&m->a.lnf_mean, N}, {&m->a.lnf_rstd, N},
        {&m->a.logits, N * V}, {&m->a.losses, N}, {&m->a.dres, N * C}, {&m->a.dln, N * C},
        {&m->a.datty, N * C}, {&m->a.dqkv, N * Q}, {&m->a.dfcg, N * F}, {&m->a.dfch, N * F1},
        {&m->a.datt, B * H * TT}, {&m->a.dlogits, N * V},
    };
    int np = (int)(sizeof plan / sizeof plan[0]);
    size_t total = 0;
    for (int i = 0; i < np; i++) total += (plan[i].n + 15) & ~(size_t)15; /* 64-byte aligned */
    if (total > m->act_cap) {
        ns_free_aligned(m->act_mem);
        m->act_cap = 0;
        m->act_mem = ns_malloc_aligned(sizeof(float) * total);
        if (!m->act_mem)
            return ns_err_set(NS_ENOMEM, "activations for B=%d T=%d (%zu MiB)", B, T, total * 4 >> 20);
        m->act_cap = total;
    }
    if (N > m->idx_cap) {
        free(m->idx);
        free(m->targets);
        m->idx_cap = 0;
        m->idx = ns_malloc(sizeof(int32_t) * N);
        m->targets = ns_malloc(sizeof(int32_t) * N);
        if (!m->idx || !m->targets) return NS_ENOMEM;
        m->idx_cap = N;
    }
    float *p = m->act_mem;
    for (int i = 0; i < np; i++) {
        *plan[i].p = p;
        p += (plan[i].n + 15) & ~(size_t)15;
    }
    m->B = B;
    m->T = T;
    return NS_OK;
}

/* ======================================================================= */
/* building blocks                                                           */
/* ======================================================================= */

#define PAR_ROWS(N, W) ((size_t)(N) * (size_t)(W) > 32768)

/* out[N,OC] = res[N,OC] + inp[N,IC] @ w[OC,IC]^T + b[OC]: the residual add
 * and the bias ride on the GEMM's beta = 1. */
static void linear_residual(float *out, const float *res, const float *inp, const float *w,
                            const float *b, int N, int IC, int OC)
{
#pragma omp parallel for if (PAR_ROWS(N, OC))
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * OC;
        const float *r = res + (size_t)n * OC;
        if (b) {
#pragma omp simd
            for (int j = 0; j < OC; j++) o[j] = r[j] + b[j];
        } else {
            memcpy(o, r, sizeof(float) * (size_t)OC);
        }
    }
    ns_gemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
}

/* dinp[N,IC] = dout @ w (overwritten); dw += dout^T @ inp; db += colsum(dout). */
static void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, int N, int IC, int OC)
{
    if (dinp) ns_gemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC);
    if (dw) ns_gemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (db) ns_matmul_backward(NULL, NULL, db, dout, inp, w, N, IC, OC);
}

static void norm_forward(const ns_llm *m, float *out, float *mean, float *rstd, const float *x,
                         const float *w, const float *b, int N)
{
    int C = m->cfg.d_model;
    if (m->cfg.arch == NS_LLM_GPT2)
        ns_layernorm_forward(out, mean, rstd, x, w, b, N, C, m->cfg.norm_eps);
    else
        ns_rmsnorm_forward(out, rstd, x, w, N, C, m->cfg.norm_eps);
}

/* dx += norm backward; dw, db += parameter gradients. */
static void norm_backward(const ns_llm *m, float *dx, float *dw, float *db, const float *dout,
                          const float *x, const float *w, const float *mean, const float *rstd, int N)
{
    int C = m->cfg.d_model;
    if (m->cfg.arch == NS_LLM_GPT2)
        ns_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
    else
        ns_rmsnorm_backward(dx, dw, dout, x, w, rstd, N, C);
}

static int check_ids(const ns_llm *m, const int32_t *idx, const int32_t *targets, int B, int T)
{
    if (B < 1 || T < 1) return ns_err_set(NS_EINVAL, "batch %d x %d is empty", B, T);
    if (T > m->cfg.max_seq)
        return ns_err_set(NS_ERANGE, "sequence length %d exceeds the model's context %d", T, m->cfg.max_seq);
    int V = m->cfg.vocab_size;
    size_t N = (size_t)B * T;
    for (size_t i = 0; i < N; i++) {
        if (idx[i] < 0 || idx[i] >= V)
            return ns_err_set(NS_ERANGE, "token id %d at position %zu is outside the vocabulary [0, %d)", idx[i], i, V);
        if (targets && (targets[i] < -1 || targets[i] >= V))
            return ns_err_set(NS_ERANGE, "target id %d at position %zu is outside [-1, %d)", targets[i], i, V);
    }
    return NS_OK;
}

/* ======================================================================= */
/* forward                                                                   */
/* ======================================================================= */
/*
 * Threads: a pass is ONE parallel region. Thread t owns batch rows
 * [b0, b1) and runs every layer on them with single-threaded kernels and
 * BLAS (nested regions are inactive), so a forward has no barrier at all
 * and a backward one (before the gradient reduction). Per-thread weight
 * gradients go to private buffers that are summed at the end. With fewer
 * rows than threads (B = 1) the single thread's kernels thread themselves.
 */

static int n_threads_for(int B)
{
    int nt = ns_threads();
    return nt < B ? nt : B;
}

/* Rows of [L, B*T, W] arrays for layer l, starting at row r0. */
#define LROW(base, l, W) ((base) + ((size_t)(l) * N + r0) * (size_t)(W))

static void forward_slice(ns_llm *m, const int32_t *idx, int b0, int nb)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, F = c->d_ff, F1 = m->f1, Q = m->qkv_dim;
    int H = c->n_head, KVH = c->n_kv_head, hd = m->hd, B = m->B, T = m->T, N = B * T;
    int gpt = c->arch == NS_LLM_GPT2;
    size_t r0 = (size_t)b0 * T;
    int n = nb * T;
    ns__llm_acts *a = &m->a;

    const float *wte = ns__llm_p(m, P_WTE), *wpe = ns__llm_p(m, P_WPE);
    for (int i = 0; i < n; i++) {
        float *o = a->resid + (r0 + (size_t)i) * C;
        const float *e = wte + (size_t)idx[r0 + (size_t)i] * C;
        if (gpt) {
            const float *p = wpe + (size_t)(i % T) * C;
#pragma omp simd
            for (int k = 0; k < C; k++) o[k] = e[k] + p[k];
        } else {
            memcpy(o, e, sizeof(float) * (size_t)C);
        }
    }
    for (int l = 0; l < L; l++) {
        float *x = LROW(a->resid, l, C), *xo = LROW(a->resid, l + 1, C);
        float *ln1 = LROW(a->ln1, l, C), *ln2 = LROW(a->ln2, l, C), *res2 = LROW(a->res2, l, C);
        float *atty = LROW(a->atty, l, C), *qkv = LROW(a->qkv, l, Q);
        float *att = a->att + ((size_t)l * B + b0) * H * T * T;
        float *fch = LROW(a->fch, l, F1), *fcg = LROW(a->fcg, l, F);
#define LP(k, stride) (m->t[k].numel ? ns__llm_p(m, k) + (size_t)l * (stride) : NULL)
        norm_forward(m, ln1, LROW(a->ln1_mean, l, 1), LROW(a->ln1_rstd, l, 1), x, LP(P_LN1W, C), LP(P_LN1B, C), n);
        ns_matmul_forward(qkv, ln1, LP(P_QKVW, (size_t)Q * C), LP(P_QKVB, Q), n, C, Q);
        if (!gpt) {
            ns_rope_forward(qkv, m->rope_cos, m->rope_sin, NULL, nb, T, H, hd, Q);
            ns_rope_forward(qkv + C, m->rope_cos, m->rope_sin, NULL, nb, T, KVH, hd, Q);
        }
        ns_attention_forward(atty, att, qkv, qkv + C, qkv + C + KVH * hd, nb, T, H, KVH, hd, Q, Q, Q, C);
        linear_residual(res2, x, atty, LP(P_PROJW, (size_t)C * C), LP(P_PROJB, C), n, C, C);
        norm_forward(m, ln2, LROW(a->ln2_mean, l, 1), LROW(a->ln2_rstd, l, 1), res2, LP(P_LN2W, C), LP(P_LN2B, C), n);
        ns_matmul_forward(fch, ln2, LP(P_FCW, (size_t)F1 * C), LP(P_FCB, F), n, C, F1);
        for (int i = 0; i < n; i++) {
            if (gpt) ns_gelu_fast_forward(fcg + (size_t)i * F, fch + (size_t)i * F, (size_t)F);
            else ns_swiglu_fast_forward(fcg + (size_t)i * F, fch + (size_t)i * F1, fch + (size_t)i * F1 + F, (size_t)F);
        }
        linear_residual(xo, res2, fcg, LP(P_FCPW, (size_t)C * F), LP(P_FCPB, C), n, F, C);
#undef LP
    }
    norm_forward(m, a->lnf + r0 * C, a->lnf_mean + r0, a->lnf_rstd + r0, LROW(a->resid, L, C), ns__llm_p(m, P_LNFW),
                 ns__llm_p(m, P_LNFB), n);
}

static int counted(const int32_t *t, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) k += t[i] != -1;
    return k;
}

static int forward_all(ns_llm *m, const int32_t *idx, const int32_t *targets, int B, int T, int logits, float *loss)
{
    if (m->infer_only)
        return ns_err_set(NS_EUNSUPPORTED, "this model's matrices are %s (a quantised GGUF file): it runs inference only",
                          ns_llm_wtype_name(m->iw.wtype));
    int rc = carve_acts(m, B, T);
    if (rc < 0) return rc;
    size_t N = (size_t)B * T;
    memcpy(m->idx, idx, sizeof(int32_t) * N);
    if (targets) memcpy(m->targets, targets, sizeof(int32_t) * N);
    int V = m->cfg.vocab_size, C = m->cfg.d_model, nt = n_threads_for(B);
    double lsum = 0;
#pragma omp parallel num_threads(nt) reduction(+ : lsum)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        int b0 = B * tid / nth, b1 = B * (tid + 1) / nth;
        if (b1 > b0) {
            forward_slice(m, idx, b0, b1 - b0);
            size_t r0 = (size_t)b0 * T, n = (size_t)(b1 - b0) * T;
            if (logits) {
                ns_gemm(0, 1, (int)n, V, C, 1.0f, m->a.lnf + r0 * C, C, ns__llm_head(m), C, 0.0f,
                        m->a.logits + r0 * V, V);
                if (targets) {
                    double mean = ns_cross_entropy_forward(m->a.losses + r0, m->a.logits + r0 * V, targets + r0, NULL,
                                                           -1, (int)n, V);
                    lsum += mean * counted(targets + r0, n);
                }
            }
        }
    }
    if (loss) {
        int k = targets ? counted(targets, N) : 0;
        *loss = k ? (float)(lsum / k) : 0.0f;
    }
    return NS_OK;
}

int ns_llm_forward(ns_llm *m, const int32_t *idx, const int32_t *targets, int B, int T, float *loss)
{
    int rc = check_ids(m, idx, targets, B, T);
    if (rc < 0) return rc;
    rc = forward_all(m, idx, targets, B, T, 1, loss);
    m->hidden_only = 0;
    m->have_targets = targets != NULL;
    return rc;
}

int ns_llm_forward_hidden(ns_llm *m, const int32_t *idx, int B, int T)
{
    int rc = check_ids(m, idx, NULL, B, T);
    if (rc < 0) return rc;
    rc = forward_all(m, idx, NULL, B, T, 0, NULL);
    m->hidden_only = 1;
    m->have_targets = 0;
    return rc;
}

const float *ns_llm_logits(const ns_llm *m) { return m->a.logits; }
const float *ns_llm_hidden(const ns_llm *m) { return m->a.lnf; }

/* ======================================================================= */
/* backward                                                                  */
/* ======================================================================= */

/* Gradient tensor k inside the gradient set g (NULL if absent). */
#define GT(g, k) (m->t[k].numel ? (g) + m->t[k].offset : NULL)

/* From dln (rows of this slice) = gradient on the final hidden states. */
static void backward_slice(ns_llm *m, float *g, int b0, int nb)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, F = c->d_ff, F1 = m->f1, Q = m->qkv_dim;
    int H = c->n_head, KVH = c->n_kv_head, hd = m->hd, B = m->B, T = m->T, N = B * T;
    int gpt = c->arch == NS_LLM_GPT2;
    size_t r0 = (size_t)b0 * T;
    int n = nb * T;
    ns__llm_acts *a = &m->a;
    float *dres = a->dres + r0 * C, *dln = a->dln + r0 * C, *datty = a->datty + r0 * C;
    float *dqkv = a->dqkv + r0 * Q, *dfcg = a->dfcg + r0 * F, *dfch = a->dfch + r0 * F1;
    float *datt = a->datt + (size_t)b0 * H * T * T;

    memset(dres, 0, sizeof(float) * (size_t)n * C);
    norm_backward(m, dres, GT(g, P_LNFW), GT(g, P_LNFB), dln, LROW(a->resid, L, C), ns__llm_p(m, P_LNFW),
                  a->lnf_mean + r0, a->lnf_rstd + r0, n);
    for (int l = L - 1; l >= 0; l--) {
        float *x = LROW(a->resid, l, C);
        float *ln1 = LROW(a->ln1, l, C), *ln2 = LROW(a->ln2, l, C), *res2 = LROW(a->res2, l, C);
        float *atty = LROW(a->atty, l, C), *qkv = LROW(a->qkv, l, Q);
        float *att = a->att + ((size_t)l * B + b0) * H * T * T;
        float *fch = LROW(a->fch, l, F1), *fcg = LROW(a->fcg, l, F);
#define LP(k, stride) (m->t[k].numel ? ns__llm_p(m, k) + (size_t)l * (stride) : NULL)
#define LG(k, stride) (m->t[k].numel ? g + m->t[k].offset + (size_t)l * (stride) : NULL)
        /* MLP: xo = res2 + fcg @ fcpw^T + fcpb */
        linear_backward(dfcg, LG(P_FCPW, (size_t)C * F), LG(P_FCPB, C), dres, fcg, LP(P_FCPW, (size_t)C * F), n, F, C);
        for (int i = 0; i < n; i++) {
            size_t o1 = (size_t)i * F1;
            if (gpt) ns_gelu_fast_backward(dfch + o1, dfcg + (size_t)i * F, fch + o1, (size_t)F);
            else ns_swiglu_fast_backward(dfch + o1, dfch + o1 + F, dfcg + (size_t)i * F, fch + o1, fch + o1 + F, (size_t)F);
        }
        linear_backward(dln, LG(P_FCW, (size_t)F1 * C), LG(P_FCB, F), dfch, ln2, LP(P_FCW, (size_t)F1 * C), n, C, F1);
        norm_backward(m, dres, LG(P_LN2W, C), LG(P_LN2B, C), dln, res2, LP(P_LN2W, C), LROW(a->ln2_mean, l, 1),
                      LROW(a->ln2_rstd, l, 1), n);
        /* attention: res2 = x + atty @ projw^T + projb */
        linear_backward(datty, LG(P_PROJW, (size_t)C * C), LG(P_PROJB, C), dres, atty, LP(P_PROJW, (size_t)C * C), n, C, C);
        memset(dqkv, 0, sizeof(float) * (size_t)n * Q);
        ns_attention_backward(dqkv, dqkv + C, dqkv + C + KVH * hd, datt, datty, qkv, qkv + C, qkv + C + KVH * hd, att,
                              nb, T, H, KVH, hd, Q, Q, Q, C);
        if (!gpt) {
            ns_rope_backward(dqkv, m->rope_cos, m->rope_sin, NULL, nb, T, H, hd, Q);
            ns_rope_backward(dqkv + C, m->rope_cos, m->rope_sin, NULL, nb, T, KVH, hd, Q);
        }
        linear_backward(dln, LG(P_QKVW, (size_t)Q * C), LG(P_QKVB, Q), dqkv, ln1, LP(P_QKVW, (size_t)Q * C), n, C, Q);
        norm_backward(m, dres, LG(P_LN1W, C), LG(P_LN1B, C), dln, x, LP(P_LN1W, C), LROW(a->ln1_mean, l, 1),
                      LROW(a->ln1_rstd, l, 1), n);
#undef LP
#undef LG
    }
    ns_embedding_backward(GT(g, P_WTE), dres, m->idx + r0, n, c->vocab_size, C);
    if (gpt) {
        float *dwpe = GT(g, P_WPE);
        for (int i = 0; i < n; i++) {
            float *d = dwpe + (size_t)(i % T) * C;
            const float *s = dres + (size_t)i * C;
#pragma omp simd
            for (int k = 0; k < C; k++) d[k] += s[k];
        }
    }
}

/* Per-thread gradient buffers for threads 1..nt-1. */
static int ensure_tgrads(ns_llm *m, int nt)
{
    int rc = ns__llm_alloc_grads(m);
    if (rc < 0) return rc;
    if (nt - 1 <= m->n_tgrads) return NS_OK;
    ns_free_aligned(m->tgrads);
    m->n_tgrads = 0;
    m->tgrads = ns_malloc_aligned(sizeof(float) * m->n_params * (size_t)(nt - 1));
    if (!m->tgrads) return NS_ENOMEM;
    m->n_tgrads = nt - 1;
    return NS_OK;
}

/* mode 0: from the loss (scale); mode 1: from dhidden. */
static int backward_all(ns_llm *m, float scale, const float *dhidden)
{
    int B = m->B, T = m->T, nt = n_threads_for(B);
    int V = m->cfg.vocab_size, C = m->cfg.d_model;
    int rc = ensure_tgrads(m, nt);
    if (rc < 0) return rc;
    size_t N = (size_t)B * T, np = m->n_params;
    int total = dhidden ? 0 : counted(m->targets, N);
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        int b0 = B * tid / nth, b1 = B * (tid + 1) / nth;
        float *g = tid == 0 ? m->grads : m->tgrads + (size_t)(tid - 1) * np;
        if (tid > 0) memset(g, 0, sizeof(float) * np);
        if (b1 > b0) {
            size_t r0 = (size_t)b0 * T, n = (size_t)(b1 - b0) * T;
            if (dhidden) {
                memcpy(m->a.dln + r0 * C, dhidden + r0 * C, sizeof(float) * n * C);
            } else {
                float *dlogits = m->a.dlogits + r0 * V;
                memset(dlogits, 0, sizeof(float) * n * V);
                int k = counted(m->targets + r0, n);
                /* the kernel averages over this slice's k rows; rescale to
                 * the whole batch's count */
                if (k > 0)
                    ns_cross_entropy_backward(dlogits, m->a.logits + r0 * V, m->targets + r0, NULL, -1,
                                              scale * (float)k / (float)total, (int)n, V);
                float *dhead = m->cfg.tied ? GT(g, P_WTE) : GT(g, P_LMHEAD);
                linear_backward(m->a.dln + r0 * C, dhead, NULL, dlogits, m->a.lnf + r0 * C, ns__llm_head(m), (int)n, C, V);
            }
            backward_slice(m, g, b0, b1 - b0);
        }
        if (nth > 1) {
#pragma omp barrier
            size_t lo = np * (size_t)tid / (size_t)nth, hi = np * (size_t)(tid + 1) / (size_t)nth;
            for (int t = 1; t < nth; t++) {
                const float *src = m->tgrads + (size_t)(t - 1) * np;
#pragma omp simd
                for (size_t i = lo; i < hi; i++) m->grads[i] += src[i];
            }
        }
    }
    return NS_OK;
}

int ns_llm_backward(ns_llm *m, float scale)
{
    if (!m->B || m->hidden_only || !m->have_targets)
        return ns_err_set(NS_EINVAL, "backward needs a forward with targets first");
    return backward_all(m, scale, NULL);
}

int ns_llm_backward_hidden(ns_llm *m, const float *dhidden)
{
    if (!m->B) return ns_err_set(NS_EINVAL, "backward needs a forward first");
    return backward_all(m, 1.0f, dhidden);
}
