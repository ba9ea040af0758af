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
#include "llm_fast.h"

#include "northstar/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* parameter table                                                           */
/* ======================================================================= */

static void set_t(ns__llm_tensor *t, const char *name, int present, int decay, int ndim, int64_t d0,
                  int64_t d1, int64_t d2)
{
    t->name = name;
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
    set_t(&t[P_WTE], "wte", 1, 1, 2, V, C, 0);
    set_t(&t[P_WPE], "wpe", gpt, 1, 2, c->max_seq, C, 0);
    set_t(&t[P_LN1W], "ln1.w", 1, 0, 2, L, C, 0);
    set_t(&t[P_LN1B], "ln1.b", bias, 0, 2, L, C, 0);
    set_t(&t[P_QKVW], "qkv.w", 1, 1, 3, L, Q, C);
    set_t(&t[P_QKVB], "qkv.b", bias, 0, 2, L, Q, 0);
    set_t(&t[P_PROJW], "attn.proj.w", 1, 1, 3, L, C, C);
    set_t(&t[P_PROJB], "attn.proj.b", bias, 0, 2, L, C, 0);
    set_t(&t[P_LN2W], "ln2.w", 1, 0, 2, L, C, 0);
    set_t(&t[P_LN2B], "ln2.b", bias, 0, 2, L, C, 0);
    set_t(&t[P_FCW], "fc.w", 1, 1, 3, L, m->f1, C);
    set_t(&t[P_FCB], "fc.b", bias, 0, 2, L, F, 0);
    set_t(&t[P_FCPW], "fc.proj.w", 1, 1, 3, L, C, F);
    set_t(&t[P_FCPB], "fc.proj.b", bias, 0, 2, L, C, 0);
    set_t(&t[P_LNFW], "lnf.w", 1, 0, 1, C, 0, 0);
    set_t(&t[P_LNFB], "lnf.b", bias, 0, 1, C, 0, 0);
    set_t(&t[P_LMHEAD], "lm_head", !c->tied, 1, 2, V, C, 0);
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
    *out = m;
    return NS_OK;
}

void ns_llm_free(ns_llm *m)
{
    if (!m) return;
    ns_free_aligned(m->params);
    ns_free_aligned(m->grads);
    ns_free_aligned(m->act_mem);
    free(m->rope_cos);
    free(m->rope_sin);
    free(m->idx);
    free(m->targets);
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
float *ns_llm_grads_flat(ns_llm *m) { return m->grads; }

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

static int forward_body(ns_llm *m, const int32_t *idx, int B, int T)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, F = c->d_ff, F1 = m->f1, Q = m->qkv_dim;
    int H = c->n_head, KVH = c->n_kv_head, hd = m->hd, N = B * T;
    int gpt = c->arch == NS_LLM_GPT2;
    int rc = carve_acts(m, B, T);
    if (rc < 0) return rc;
    memcpy(m->idx, idx, sizeof(int32_t) * (size_t)N);
    ns__llm_acts *a = &m->a;

    /* embeddings */
    const float *wte = ns__llm_p(m, P_WTE), *wpe = ns__llm_p(m, P_WPE);
#pragma omp parallel for if (PAR_ROWS(N, C))
    for (int n = 0; n < N; n++) {
        float *o = a->resid + (size_t)n * C;
        const float *e = wte + (size_t)idx[n] * C;
        if (gpt) {
            const float *p = wpe + (size_t)(n % T) * C;
#pragma omp simd
            for (int i = 0; i < C; i++) o[i] = e[i] + p[i];
        } else {
            memcpy(o, e, sizeof(float) * (size_t)C);
        }
    }

    for (int l = 0; l < L; l++) {
        size_t lNC = (size_t)l * N * C;
        float *x = a->resid + lNC, *xo = a->resid + lNC + (size_t)N * C;
        float *ln1 = a->ln1 + lNC, *ln2 = a->ln2 + lNC, *res2 = a->res2 + lNC, *atty = a->atty + lNC;
        float *qkv = a->qkv + (size_t)l * N * Q;
        float *att = a->att + (size_t)l * B * H * T * T;
        float *fch = a->fch + (size_t)l * N * F1, *fcg = a->fcg + (size_t)l * N * F;
        const float *ln1w = ns__llm_p(m, P_LN1W) + (size_t)l * C;
        const float *ln1b = m->t[P_LN1B].numel ? ns__llm_p(m, P_LN1B) + (size_t)l * C : NULL;
        const float *ln2w = ns__llm_p(m, P_LN2W) + (size_t)l * C;
        const float *ln2b = m->t[P_LN2B].numel ? ns__llm_p(m, P_LN2B) + (size_t)l * C : NULL;
        const float *qkvw = ns__llm_p(m, P_QKVW) + (size_t)l * Q * C;
        const float *qkvb = m->t[P_QKVB].numel ? ns__llm_p(m, P_QKVB) + (size_t)l * Q : NULL;
        const float *projw = ns__llm_p(m, P_PROJW) + (size_t)l * C * C;
        const float *projb = m->t[P_PROJB].numel ? ns__llm_p(m, P_PROJB) + (size_t)l * C : NULL;
        const float *fcw = ns__llm_p(m, P_FCW) + (size_t)l * F1 * C;
        const float *fcb = m->t[P_FCB].numel ? ns__llm_p(m, P_FCB) + (size_t)l * F : NULL;
        const float *fcpw = ns__llm_p(m, P_FCPW) + (size_t)l * C * F;
        const float *fcpb = m->t[P_FCPB].numel ? ns__llm_p(m, P_FCPB) + (size_t)l * C : NULL;

        norm_forward(m, ln1, a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, x, ln1w, ln1b, N);
        ns_matmul_forward(qkv, ln1, qkvw, qkvb, N, C, Q);
        if (!gpt) {
            ns_rope_forward(qkv, m->rope_cos, m->rope_sin, NULL, B, T, H, hd, Q);
            ns_rope_forward(qkv + C, m->rope_cos, m->rope_sin, NULL, B, T, KVH, hd, Q);
        }
        ns_attention_forward(atty, att, qkv, qkv + C, qkv + C + KVH * hd, B, T, H, KVH, hd, Q, Q, Q, C);
        linear_residual(res2, x, atty, projw, projb, N, C, C);
        norm_forward(m, ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, res2, ln2w, ln2b, N);
        ns_matmul_forward(fch, ln2, fcw, fcb, N, C, F1);
#pragma omp parallel for if (PAR_ROWS(N, F))
        for (int n = 0; n < N; n++) {
            if (gpt) ns__gelu_fwd(fcg + (size_t)n * F, fch + (size_t)n * F, (size_t)F);
            else ns__swiglu_fwd(fcg + (size_t)n * F, fch + (size_t)n * F1, fch + (size_t)n * F1 + F, (size_t)F);
        }
        linear_residual(xo, res2, fcg, fcpw, fcpb, N, F, C);
    }
    norm_forward(m, a->lnf, a->lnf_mean, a->lnf_rstd, a->resid + (size_t)L * N * C,
                 ns__llm_p(m, P_LNFW), ns__llm_p(m, P_LNFB), N);
    return NS_OK;
}

int ns_llm_forward(ns_llm *m, const int32_t *idx, const int32_t *targets, int B, int T, float *loss)
{
    int rc = check_ids(m, idx, targets, B, T);
    if (rc < 0) return rc;
    rc = forward_body(m, idx, B, T);
    if (rc < 0) return rc;
    int N = B * T, V = m->cfg.vocab_size, C = m->cfg.d_model;
    ns_gemm(0, 1, N, V, C, 1.0f, m->a.lnf, C, ns__llm_head(m), C, 0.0f, m->a.logits, V);
    m->hidden_only = 0;
    m->have_targets = targets != NULL;
    if (targets) {
        memcpy(m->targets, targets, sizeof(int32_t) * (size_t)N);
        double l = ns_cross_entropy_forward(m->a.losses, m->a.logits, targets, NULL, -1, N, V);
        if (loss) *loss = (float)l;
    } else if (loss) {
        *loss = 0;
    }
    return NS_OK;
}

int ns_llm_forward_hidden(ns_llm *m, const int32_t *idx, int B, int T)
{
    int rc = check_ids(m, idx, NULL, B, T);
    if (rc < 0) return rc;
    rc = forward_body(m, idx, B, T);
    m->hidden_only = 1;
    m->have_targets = 0;
    return rc;
}

const float *ns_llm_logits(const ns_llm *m) { return m->a.logits; }
const float *ns_llm_hidden(const ns_llm *m) { return m->a.lnf; }

/* ======================================================================= */
/* backward                                                                  */
/* ======================================================================= */

/* From dln = gradient on the final normalised hidden states. */
static void backward_body(ns_llm *m)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, F = c->d_ff, F1 = m->f1, Q = m->qkv_dim;
    int H = c->n_head, KVH = c->n_kv_head, hd = m->hd, B = m->B, T = m->T, N = B * T;
    int gpt = c->arch == NS_LLM_GPT2;
    ns__llm_acts *a = &m->a;
    float *dres = a->dres, *dln = a->dln;

    memset(dres, 0, sizeof(float) * (size_t)N * C);
    norm_backward(m, dres, ns__llm_g(m, P_LNFW), ns__llm_g(m, P_LNFB), dln, a->resid + (size_t)L * N * C,
                  ns__llm_p(m, P_LNFW), a->lnf_mean, a->lnf_rstd, N);

    for (int l = L - 1; l >= 0; l--) {
        size_t lNC = (size_t)l * N * C;
        float *x = a->resid + lNC;
        float *ln1 = a->ln1 + lNC, *ln2 = a->ln2 + lNC, *res2 = a->res2 + lNC, *atty = a->atty + lNC;
        float *qkv = a->qkv + (size_t)l * N * Q;
        float *att = a->att + (size_t)l * B * H * T * T;
        float *fch = a->fch + (size_t)l * N * F1, *fcg = a->fcg + (size_t)l * N * F;
#define LP(k, stride) (m->t[k].numel ? ns__llm_p(m, k) + (size_t)l * (stride) : NULL)
#define LG(k, stride) (m->t[k].numel ? ns__llm_g(m, k) + (size_t)l * (stride) : NULL)
        /* MLP: xo = res2 + fcg @ fcpw^T + fcpb */
        linear_backward(a->dfcg, LG(P_FCPW, (size_t)C * F), LG(P_FCPB, C), dres, fcg, LP(P_FCPW, (size_t)C * F), N, F, C);
#pragma omp parallel for if (PAR_ROWS(N, F))
        for (int n = 0; n < N; n++) {
            size_t o1 = (size_t)n * F1;
            if (gpt) ns__gelu_bwd(a->dfch + o1, a->dfcg + (size_t)n * F, fch + o1, (size_t)F);
            else ns__swiglu_bwd(a->dfch + o1, a->dfch + o1 + F, a->dfcg + (size_t)n * F, fch + o1, fch + o1 + F, (size_t)F);
        }
        linear_backward(dln, LG(P_FCW, (size_t)F1 * C), LG(P_FCB, F), a->dfch, ln2, LP(P_FCW, (size_t)F1 * C), N, C, F1);
        norm_backward(m, dres, LG(P_LN2W, C), LG(P_LN2B, C), dln, res2, LP(P_LN2W, C),
                      a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N);
        /* attention: res2 = x + atty @ projw^T + projb */
        linear_backward(a->datty, LG(P_PROJW, (size_t)C * C), LG(P_PROJB, C), dres, atty, LP(P_PROJW, (size_t)C * C), N, C, C);
        memset(a->dqkv, 0, sizeof(float) * (size_t)N * Q);
        ns_attention_backward(a->dqkv, a->dqkv + C, a->dqkv + C + KVH * hd, a->datt, a->datty, qkv, qkv + C,
                              qkv + C + KVH * hd, att, B, T, H, KVH, hd, Q, Q, Q, C);
        if (!gpt) {
            ns_rope_backward(a->dqkv, m->rope_cos, m->rope_sin, NULL, B, T, H, hd, Q);
            ns_rope_backward(a->dqkv + C, m->rope_cos, m->rope_sin, NULL, B, T, KVH, hd, Q);
        }
        linear_backward(dln, LG(P_QKVW, (size_t)Q * C), LG(P_QKVB, Q), a->dqkv, ln1, LP(P_QKVW, (size_t)Q * C), N, C, Q);
        norm_backward(m, dres, LG(P_LN1W, C), LG(P_LN1B, C), dln, x, LP(P_LN1W, C),
                      a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N);
#undef LP
#undef LG
    }
    /* embeddings */
    ns_embedding_backward(ns__llm_g(m, P_WTE), dres, m->idx, N, c->vocab_size, C);
    if (gpt) {
        float *dwpe = ns__llm_g(m, P_WPE);
        for (int n = 0; n < N; n++) {
            float *d = dwpe + (size_t)(n % T) * C;
            const float *s = dres + (size_t)n * C;
#pragma omp simd
            for (int i = 0; i < C; i++) d[i] += s[i];
        }
    }
}

int ns_llm_backward(ns_llm *m, float scale)
{
    if (!m->B || m->hidden_only || !m->have_targets)
        return ns_err_set(NS_EINVAL, "backward needs a forward with targets first");
    int rc = ns__llm_alloc_grads(m);
    if (rc < 0) return rc;
    int N = m->B * m->T, V = m->cfg.vocab_size, C = m->cfg.d_model;
    float *dlogits = m->a.dlogits;
    memset(dlogits, 0, sizeof(float) * (size_t)N * V);
    ns_cross_entropy_backward(dlogits, m->a.logits, m->targets, NULL, -1, scale, N, V);
    float *dhead = m->cfg.tied ? ns__llm_g(m, P_WTE) : ns__llm_g(m, P_LMHEAD);
    linear_backward(m->a.dln, dhead, NULL, dlogits, m->a.lnf, ns__llm_head(m), N, C, V);
    backward_body(m);
    return NS_OK;
}

int ns_llm_backward_hidden(ns_llm *m, const float *dhidden)
{
    if (!m->B) return ns_err_set(NS_EINVAL, "backward needs a forward first");
    int rc = ns__llm_alloc_grads(m);
    if (rc < 0) return rc;
    memcpy(m->a.dln, dhidden, sizeof(float) * (size_t)m->B * m->T * m->cfg.d_model);
    backward_body(m);
    return NS_OK;
}
