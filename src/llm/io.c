/*
 * io.c — model files: our safetensors form (the tables of llm.h, checked by
 * ns_st_load; then every parameter read with its exact shape) and
 * llama2.c's legacy checkpoint format (read and export), so models trained
 * with llama2.c run here and ours run under its run.c.
 */
#include "llm_int.h"

#include "northstar/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ns__llm_add_tensors(const ns_llm *m, ns_st_writer *w, const ns_bpe *tok)
{
    int rc = NS_OK;
    for (int k = 0; k < P__COUNT && rc >= 0; k++) {
        const ns__llm_tensor *t = &m->t[k];
        if (!t->numel) continue;
        rc = ns_st_writer_add(w, t->name, NS_DT_F32, t->ndim, t->shape, m->params + t->offset);
    }
    if (rc < 0) return rc;
    char *cj = ns_llm_config_json(&m->cfg);
    if (!cj) return NS_ENOMEM;
    rc = ns_st_writer_meta(w, "config", cj);
    free(cj);
    char tag[64];
    snprintf(tag, sizeof tag, "%s-%d", NS_LLM_FORMAT, NS_LLM_VERSION);
    if (rc >= 0) rc = ns_st_writer_meta(w, "format", tag);
    if (rc >= 0 && tok) {
        char *tj = NULL;
        rc = ns_bpe_to_json(tok, &tj);
        if (rc >= 0) rc = ns_st_writer_meta(w, "tokenizer", tj);
        free(tj);
    }
    return rc;
}

int ns_llm_save(const ns_llm *m, const ns_bpe *tok, const char *path)
{
    if (m->infer_only)
        return ns_err_set(NS_EUNSUPPORTED, "this model's matrices are %s (a quantised GGUF file): it cannot be saved as "
                          "safetensors", ns_llm_wtype_name(m->iw.wtype));
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return NS_ENOMEM;
    int rc = ns__llm_add_tensors(m, w, tok);
    if (rc >= 0) rc = ns_st_writer_write(w, path);
    ns_st_writer_free(w);
    return rc;
}

/* Parameter k of m from tensor t (NULL: absent), which the model must have
 * exactly when the file does, in its exact shape. */
static int read_param(const ns_st_file *f, ns_llm *m, int k, const ns_st_tensor *t)
{
    const ns__llm_tensor *p = &m->t[k];
    if (!p->numel && t)
        return ns_st_bad(f, &ns__llm_schema, p->name, "tensor \"%s\" does not belong to a %s model with this config",
                         p->name, ns_llm_arch_name(m->cfg.arch));
    if (!p->numel) return NS_OK;
    if (!t) return ns_st_bad(f, &ns__llm_schema, p->name, "tensor \"%s\" is missing", p->name);
    return ns_st_read_f32_shape(f, p->name, m->params + p->offset, p->ndim, p->shape);
}

/* The embedded tokenizer, when there is one and tok is wanted. */
static int read_tokenizer(const ns_st_file *f, const ns_llm_config *c, ns_bpe **tok)
{
    const char *tj = ns_st_meta(f, "tokenizer");
    if (!tj || !tok) return NS_OK;
    int rc = ns_bpe_from_json(tok, tj, strlen(tj), ns_st_path(f));
    if (rc < 0) return rc;
    if (ns_bpe_vocab_size(*tok) > c->vocab_size) {
        rc = ns_st_bad(f, &ns__llm_schema, "tokenizer", "tokenizer has %d ids, model vocab_size %d",
                       ns_bpe_vocab_size(*tok), c->vocab_size);
        ns_bpe_free(*tok);
        *tok = NULL;
    }
    return rc;
}

int ns__llm_from_st(ns_llm **out, ns_bpe **tok, ns_st_file *f, const char *path)
{
    *out = NULL;
    if (tok) *tok = NULL;
    ns_st_value v[LK__COUNT];
    const ns_st_tensor *t[NS__LLM_ROWS];
    ns_llm_config c;
    ns_llm *m = NULL;
    int rc = ns_st_check(f, &ns__llm_schema, v, t);
    if (rc >= 0) rc = ns__llm_config_from_values(&c, v, path);
    if (rc >= 0) rc = ns_llm_new(&m, &c);
    for (int k = 0; k < P__COUNT && rc >= 0; k++) rc = read_param(f, m, k, t[k]);
    if (rc >= 0) rc = read_tokenizer(f, &c, tok);
    if (rc < 0) {
        ns_llm_free(m);
        return rc;
    }
    *out = m;
    return NS_OK;
}

/* ======================================================================= */
/* llama2.c                                                                  */
/* ======================================================================= */

typedef struct { int dim, hidden, L, H, KVH, V, seq; } l2c_hdr;

static size_t l2c_floats(const l2c_hdr *h, int shared)
{
    size_t dim = (size_t)h->dim, hd = dim / (size_t)h->H, kv = hd * (size_t)h->KVH, L = (size_t)h->L;
    size_t V = (size_t)h->V, F = (size_t)h->hidden;
    size_t n = V * dim + L * dim + L * dim * dim + 2 * L * dim * kv + L * dim * dim + L * dim + 3 * L * dim * F + dim +
               (size_t)h->seq * hd; /* freq_cis_real + imag: 2 * seq * hd/2 */
    if (!shared) n += V * dim;
    return n;
}

/* The weights of a llama2.c file in file order, as (pointer into our
 * parameters, count) segments: the reader and the writer walk the same
 * list. The freq_cis tables (seq * hd/2 twice) are not ours: NULL. */
typedef struct { float *p; size_t n; } l2c_seg;

static int l2c_segments(const ns_llm *m, l2c_seg *sg)
{
    const ns_llm_config *c = &m->cfg;
    size_t C = (size_t)c->d_model, hd = (size_t)m->hd, kv = hd * (size_t)c->n_kv_head, L = (size_t)c->n_layer;
    size_t F = (size_t)c->d_ff, Q = (size_t)m->qkv_dim, V = (size_t)c->vocab_size;
    float *qkv = ns__llm_p(m, P_QKVW), *fc = ns__llm_p(m, P_FCW);
    int k = 0;
    sg[k++] = (l2c_seg){ns__llm_p(m, P_WTE), V * C};
    sg[k++] = (l2c_seg){ns__llm_p(m, P_LN1W), L * C};
    for (size_t l = 0; l < L; l++) sg[k++] = (l2c_seg){qkv + l * Q * C, C * C};                 /* wq */
    for (size_t l = 0; l < L; l++) sg[k++] = (l2c_seg){qkv + l * Q * C + C * C, kv * C};        /* wk */
    for (size_t l = 0; l < L; l++) sg[k++] = (l2c_seg){qkv + l * Q * C + C * C + kv * C, kv * C}; /* wv */
    sg[k++] = (l2c_seg){ns__llm_p(m, P_PROJW), L * C * C};                                      /* wo */
    sg[k++] = (l2c_seg){ns__llm_p(m, P_LN2W), L * C};
    for (size_t l = 0; l < L; l++) sg[k++] = (l2c_seg){fc + l * 2 * F * C, F * C};              /* w1: gate */
    sg[k++] = (l2c_seg){ns__llm_p(m, P_FCPW), L * C * F};                                       /* w2: down */
    for (size_t l = 0; l < L; l++) sg[k++] = (l2c_seg){fc + l * 2 * F * C + F * C, F * C};      /* w3: up */
    sg[k++] = (l2c_seg){ns__llm_p(m, P_LNFW), C};
    sg[k++] = (l2c_seg){NULL, (size_t)c->max_seq * hd}; /* freq_cis_real + freq_cis_imag */
    if (!c->tied) sg[k++] = (l2c_seg){ns__llm_p(m, P_LMHEAD), V * C};
    return k;
}

/* Every parameter finite (the safetensors form gets this from its schema). */
static int check_finite(const ns_llm *m, const char *path)
{
    for (int k = 0; k < P__COUNT; k++) {
        const ns__llm_tensor *t = &m->t[k];
        const float *x = m->params + t->offset;
        int64_t i = t->numel ? ns_dtype_find_nonfinite(NS_DT_F32, x, t->numel) : -1;
        if (i >= 0) {
            char val[16];
            snprintf(val, sizeof val, "%g", (double)x[i]);
            return ns_err_set_at(NS_EFORMAT, path, 0, t->name, val,
                                 "llama2.c checkpoint: parameter %s element %lld (of %lld) is %s: model numbers "
                                 "must be finite", t->name, (long long)i, (long long)t->numel, val);
        }
    }
    return NS_OK;
}

static int load_llama2c(ns_llm **out, const char *path)
{
    char *img;
    size_t len;
    int rc = ns_file_read_regular(path, &img, &len);
    if (rc < 0) return rc;
    const unsigned char *p = (const unsigned char *)img;
    if (len < 28) {
        rc = ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "llama2.c checkpoint shorter than its 28-byte header");
        goto done;
    }
    int32_t hv[7];
    memcpy(hv, p, sizeof hv);
    if ((uint32_t)hv[0] == 0x616b3432u) {
        rc = ns_err_set_at(NS_EUNSUPPORTED, path, 0, NULL, NULL,
                           "llama2.c version-1+ file (magic 'ak42'): export it with version 0 (legacy)");
        goto done;
    }
    l2c_hdr h = {hv[0], hv[1], hv[2], hv[3], hv[4], hv[5] < 0 ? -hv[5] : hv[5], hv[6]};
    int shared = hv[5] > 0;
    if (h.dim <= 0 || h.hidden <= 0 || h.L <= 0 || h.H <= 0 || h.KVH <= 0 || h.V <= 0 || h.seq <= 0 ||
        h.dim % h.H || h.H % h.KVH || h.dim > 65536 || h.L > 1024 || h.seq > (1 << 20) || h.V > (1 << 24)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "header", NULL,
                           "implausible llama2.c header dim=%d hidden=%d layers=%d heads=%d kv_heads=%d vocab=%d seq=%d",
                           hv[0], hv[1], hv[2], hv[3], hv[4], hv[5], hv[6]);
        goto done;
    }
    size_t want = 28 + 4 * l2c_floats(&h, shared);
    if (len != want) {
        rc = ns_err_set_at(len < want ? NS_ETRUNCATED : NS_EFORMAT, path, 0, NULL, NULL,
                           "llama2.c checkpoint is %zu bytes, its header implies %zu (%s classifier)", len, want,
                           shared ? "shared" : "separate");
        goto done;
    }
    ns_llm_config c = ns_llm_config_default(NS_LLM_LLAMA);
    c.vocab_size = h.V;
    c.max_seq = h.seq;
    c.n_layer = h.L;
    c.n_head = h.H;
    c.n_kv_head = h.KVH;
    c.d_model = h.dim;
    c.d_ff = h.hidden;
    c.tied = shared;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    ns_llm *m;
    rc = ns_llm_new(&m, &c);
    if (rc < 0) {
        ns_err_wrap("%s", path);
        goto done;
    }
    const float *w = (const float *)(p + 28); /* malloc'd: aligned; 28 is 4-aligned */
    l2c_seg *sg = ns_malloc(sizeof(l2c_seg) * (8 + 5 * (size_t)h.L));
    if (!sg) {
        ns_llm_free(m);
        rc = NS_ENOMEM;
        goto done;
    }
    int ns = l2c_segments(m, sg);
    for (int i = 0; i < ns; w += sg[i].n, i++)
        if (sg[i].p) memcpy(sg[i].p, w, sizeof(float) * sg[i].n);
    free(sg);
    if ((rc = check_finite(m, path)) < 0) {
        ns_llm_free(m);
        goto done;
    }
    *out = m;
done:
    free(img);
    return rc;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int ns_llm_load(ns_llm **out, ns_bpe **tok, const char *path)
{
    *out = NULL;
    if (tok) *tok = NULL;
    if (ends_with(path, ".bin")) return load_llama2c(out, path);
    char magic[4] = {0};
    FILE *fp = fopen(path, "rb");
    if (fp) {
        size_t got = fread(magic, 1, 4, fp);
        fclose(fp);
        if (got == 4 && !memcmp(magic, "GGUF", 4)) return ns__llm_load_gguf(out, tok, path);
    }
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    rc = ns__llm_from_st(out, tok, f, path);
    ns_st_close(f);
    return rc;
}

int ns_llm_export_llama2c(const ns_llm *m, const char *path)
{
    const ns_llm_config *c = &m->cfg;
    if (m->infer_only)
        return ns_err_set(NS_EUNSUPPORTED, "this model's matrices are %s (a quantised GGUF file): llama2.c files are fp32",
                          ns_llm_wtype_name(m->iw.wtype));
    if (c->arch != NS_LLM_LLAMA)
        return ns_err_set(NS_EUNSUPPORTED, "llama2.c export needs a Llama-family model (this one is %s)",
                          ns_llm_arch_name(c->arch));
    l2c_hdr h = {c->d_model, c->d_ff, c->n_layer, c->n_head, c->n_kv_head, c->vocab_size, c->max_seq};
    size_t nf = l2c_floats(&h, c->tied), bytes = 28 + 4 * nf;
    unsigned char *buf = ns_malloc(bytes);
    if (!buf) return NS_ENOMEM;
    int32_t hv[7] = {h.dim, h.hidden, h.L, h.H, h.KVH, c->tied ? h.V : -h.V, h.seq};
    memcpy(buf, hv, sizeof hv);
    float *w = (float *)(buf + 28);
    l2c_seg *sg = ns_malloc(sizeof(l2c_seg) * (8 + 5 * (size_t)h.L));
    if (!sg) {
        free(buf);
        return NS_ENOMEM;
    }
    int ns = l2c_segments(m, sg);
    size_t half = (size_t)m->hd / 2, tab = (size_t)h.seq * half;
    for (int i = 0; i < ns; w += sg[i].n, i++) {
        if (sg[i].p) {
            memcpy(w, sg[i].p, sizeof(float) * sg[i].n);
        } else { /* freq_cis tables: unused by run.c, kept for the format */
            memcpy(w, m->rope_cos, sizeof(float) * tab);
            memcpy(w + tab, m->rope_sin, sizeof(float) * tab);
        }
    }
    free(sg);
    int rc = ns_file_write_atomic(path, buf, bytes);
    free(buf);
    return rc;
}
