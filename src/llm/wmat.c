/*
 * wmat.c — the typed weight matrices inference computes with (llm_int.h):
 * row sizes of F32, F16, Q8_0 and Q4_0 in ggml's block layout, row
 * dequantisation (embedding lookups), quantisation of float rows into each
 * type, and the inference table of a model (its F32 params, or a quantised
 * copy of their matrices).
 */
#include "llm_int.h"

#include "northstar/dtype.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ns_llm_wtype_name(int t)
{
    switch (t) {
    case NS_LLM_F32: return "f32";
    case NS_LLM_F16: return "f16";
    case NS_LLM_Q8_0: return "q8_0";
    case NS_LLM_Q4_0: return "q4_0";
    default: return NULL;
    }
}

size_t ns__wt_row_bytes(int t, int cols)
{
    if (cols <= 0) return 0;
    switch (t) {
    case NS_LLM_F32: return (size_t)cols * 4;
    case NS_LLM_F16: return (size_t)cols * 2;
    case NS_LLM_Q8_0: return cols % 32 ? 0 : (size_t)cols / 32 * 34;
    case NS_LLM_Q4_0: return cols % 32 ? 0 : (size_t)cols / 32 * 18;
    default: return 0;
    }
}

int ns__wmat_set(ns__wmat *w, int type, const void *data, int rows, int cols, const char *what)
{
    memset(w, 0, sizeof *w);
    if (!ns_llm_wtype_name(type))
        return ns_err_set(NS_EUNSUPPORTED, "%s: tensor type %d is not supported (f32, f16, q8_0, q4_0)", what, type);
    size_t rb = ns__wt_row_bytes(type, cols);
    if (!rb)
        return ns_err_set(NS_EFORMAT, "%s: a row of %d values is not a whole number of %s blocks", what, cols,
                          ns_llm_wtype_name(type));
    w->type = type;
    w->data = data;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = rb;
    return NS_OK;
}

static inline float half(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return ns_f16_to_f32(h);
}

void ns__wmat_row(const ns__wmat *w, int r, float *out)
{
    const uint8_t *p = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    int n = w->cols;
    switch (w->type) {
    case NS_LLM_F32: memcpy(out, p, sizeof(float) * (size_t)n); break;
    case NS_LLM_F16:
        for (int i = 0; i < n; i++) out[i] = half(p + 2 * i);
        break;
    case NS_LLM_Q8_0:
        for (int b = 0; b < n / 32; b++, p += 34) {
            float d = half(p);
            for (int i = 0; i < 32; i++) out[b * 32 + i] = d * (float)(int8_t)p[2 + i];
        }
        break;
    case NS_LLM_Q4_0:
        for (int b = 0; b < n / 32; b++, p += 18) {
            float d = half(p);
            for (int i = 0; i < 16; i++) {
                out[b * 32 + i] = d * (float)((p[2 + i] & 15) - 8);
                out[b * 32 + 16 + i] = d * (float)((p[2 + i] >> 4) - 8);
            }
        }
        break;
    }
}

/* One float row into type t (dst has ns__wt_row_bytes(t, n) bytes). Q8_0
 * and Q4_0 as ggml rounds them: d = amax / 127 (Q8_0), or d = max / -8
 * with max the signed value of largest magnitude (Q4_0). */
static void quantize_row(int t, const float *x, int n, uint8_t *dst)
{
    switch (t) {
    case NS_LLM_F32: memcpy(dst, x, sizeof(float) * (size_t)n); break;
    case NS_LLM_F16:
        for (int i = 0; i < n; i++) {
            uint16_t h = ns_f32_to_f16(x[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
        break;
    case NS_LLM_Q8_0:
        for (int b = 0; b < n / 32; b++, dst += 34) {
            const float *v = x + b * 32;
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(v[i]));
            float d = amax / 127.0f, id = d > 0 ? 1.0f / d : 0;
            uint16_t h = ns_f32_to_f16(d);
            memcpy(dst, &h, 2);
            for (int i = 0; i < 32; i++) dst[2 + i] = (uint8_t)(int8_t)lrintf(v[i] * id);
        }
        break;
    case NS_LLM_Q4_0:
        for (int b = 0; b < n / 32; b++, dst += 18) {
            const float *v = x + b * 32;
            float amax = 0, mx = 0;
            for (int i = 0; i < 32; i++)
                if (fabsf(v[i]) > amax) amax = fabsf(v[i]), mx = v[i];
            float d = mx / -8.0f, id = d != 0 ? 1.0f / d : 0;
            uint16_t h = ns_f32_to_f16(d);
            memcpy(dst, &h, 2);
            for (int i = 0; i < 16; i++) {
                int a = (int)(v[i] * id + 8.5f), c = (int)(v[16 + i] * id + 8.5f);
                a = a < 0 ? 0 : a > 15 ? 15 : a;
                c = c < 0 ? 0 : c > 15 ? 15 : c;
                dst[2 + i] = (uint8_t)(a | c << 4);
            }
        }
        break;
    }
}

/* ---- inference tables ---------------------------------------------------- */

#define WSET(w, data, rows, cols) ns__wmat_set(w, NS_LLM_F32, data, rows, cols, "matrix")

int ns__llm_iw_from_params(ns__llm_iw *iw, const ns_llm *m)
{
    const ns_llm_config *c = &m->cfg;
    int L = c->n_layer, C = c->d_model, F = c->d_ff, Q = m->qkv_dim, F1 = m->f1, kvd = c->n_kv_head * m->hd;
    memset(iw, 0, sizeof *iw);
    iw->layer = ns_calloc((size_t)L, sizeof *iw->layer);
    if (!iw->layer) return NS_ENOMEM;
    iw->wtype = NS_LLM_F32;
    WSET(&iw->emb, ns__llm_p(m, P_WTE), c->vocab_size, C);
    WSET(&iw->head, ns__llm_head(m), c->vocab_size, C);
    iw->wpe = ns__llm_p(m, P_WPE);
    iw->lnfw = ns__llm_p(m, P_LNFW);
    iw->lnfb = ns__llm_p(m, P_LNFB);
    for (int l = 0; l < L; l++) {
        ns__llm_lw *w = &iw->layer[l];
#define LP(k, stride) (m->t[k].numel ? ns__llm_p(m, k) + (size_t)l * (stride) : NULL)
        w->ln1w = LP(P_LN1W, C);
        w->ln1b = LP(P_LN1B, C);
        w->ln2w = LP(P_LN2W, C);
        w->ln2b = LP(P_LN2B, C);
        const float *qkv = LP(P_QKVW, (size_t)Q * C);
        w->qkv.n = 3;
        w->qkv.rows = Q;
        WSET(&w->qkv.p[0], qkv, C, C);
        WSET(&w->qkv.p[1], qkv + (size_t)C * C, kvd, C);
        WSET(&w->qkv.p[2], qkv + (size_t)(C + kvd) * C, kvd, C);
        w->qkvb = LP(P_QKVB, Q);
        WSET(&w->proj, LP(P_PROJW, (size_t)C * C), C, C);
        w->projb = LP(P_PROJB, C);
        const float *fc = LP(P_FCW, (size_t)F1 * C);
        w->fc.rows = F1;
        w->fc.n = F1 == F ? 1 : 2;
        WSET(&w->fc.p[0], fc, F, C);
        if (F1 != F) WSET(&w->fc.p[1], fc + (size_t)F * C, F, C);
        w->fcb = LP(P_FCB, F);
        WSET(&w->fcp, LP(P_FCPW, (size_t)C * F), C, F);
        w->fcpb = LP(P_FCPB, C);
#undef LP
    }
    return NS_OK;
}

void ns__llm_iw_release(ns__llm_iw *iw)
{
    if (!iw) return;
    free(iw->layer);
    ns_free_aligned(iw->own);
    memset(iw, 0, sizeof *iw);
}

/* Every matrix of the table, in a fixed order (callback per matrix). */
typedef void (*wmat_fn)(ns__wmat *w, void *ctx);
static void each_matrix(ns__llm_iw *iw, int L, wmat_fn fn, void *ctx)
{
    for (int l = 0; l < L; l++) {
        ns__llm_lw *w = &iw->layer[l];
        for (int i = 0; i < w->qkv.n; i++) fn(&w->qkv.p[i], ctx);
        fn(&w->proj, ctx);
        for (int i = 0; i < w->fc.n; i++) fn(&w->fc.p[i], ctx);
        fn(&w->fcp, ctx);
    }
    fn(&iw->head, ctx);
}

typedef struct {
    int t;
    size_t bytes;
    uint8_t *mem;
    int bad;
} qplan;

static void plan_size(ns__wmat *w, void *ctx)
{
    qplan *p = ctx;
    size_t rb = ns__wt_row_bytes(p->t, w->cols);
    if (!rb) p->bad = w->cols;
    p->bytes += ((rb * (size_t)w->rows + 63) & ~(size_t)63);
}

static void plan_fill(ns__wmat *w, void *ctx)
{
    qplan *p = ctx;
    size_t rb = ns__wt_row_bytes(p->t, w->cols);
    float *row = ns_malloc(sizeof(float) * (size_t)w->cols);
    if (!row) {
        p->bad = -1;
        return;
    }
    uint8_t *dst = p->mem;
#pragma omp parallel for if ((size_t)w->rows * w->cols > 1 << 20)
    for (int r = 0; r < w->rows; r++) {
        float tmp[4096];
        float *x = w->cols <= 4096 ? tmp : NULL;
        if (!x) continue;
        ns__wmat_row(w, r, x);
        quantize_row(p->t, x, w->cols, dst + (size_t)r * rb);
    }
    if (w->cols > 4096) /* wide rows: one by one with a heap row */
        for (int r = 0; r < w->rows; r++) {
            ns__wmat_row(w, r, row);
            quantize_row(p->t, row, w->cols, dst + (size_t)r * rb);
        }
    free(row);
    int rows = w->rows, cols = w->cols;
    ns__wmat_set(w, p->t, dst, rows, cols, "matrix");
    p->mem += ((rb * (size_t)rows + 63) & ~(size_t)63);
}

int ns__llm_iw_quantize(ns__llm_iw *dst, const ns__llm_iw *src, const ns_llm *m, int t)
{
    int L = m->cfg.n_layer;
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->own = NULL;
    dst->layer = ns_malloc(sizeof *dst->layer * (size_t)L);
    if (!dst->layer) return NS_ENOMEM;
    memcpy(dst->layer, src->layer, sizeof *dst->layer * (size_t)L);
    qplan p = {t, 0, NULL, 0};
    each_matrix(dst, L, plan_size, &p);
    if (p.bad) {
        free(dst->layer);
        dst->layer = NULL;
        return ns_err_set(NS_EUNSUPPORTED, "%s needs every matrix width divisible by 32 (one is %d wide)",
                          ns_llm_wtype_name(t), p.bad);
    }
    dst->own = ns_malloc_aligned(p.bytes ? p.bytes : 64);
    if (!dst->own) {
        free(dst->layer);
        dst->layer = NULL;
        return NS_ENOMEM;
    }
    p.mem = dst->own;
    each_matrix(dst, L, plan_fill, &p);
    if (p.bad) {
        ns__llm_iw_release(dst);
        return NS_ENOMEM;
    }
    dst->wtype = t;
    return NS_OK;
}
