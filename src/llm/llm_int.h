/*
 * llm_int.h — internals of the GPT engine shared by the files of src/llm:
 * the parameter table, the activation layout and the model struct.
 */
#ifndef NS_LLM_INT_H
#define NS_LLM_INT_H

#include "northstar/llm.h"
#include "northstar/safetensors.h"

#include <stddef.h>
#include <stdint.h>

/* Parameter tensors, in file order: the rows of NS_LLM_FILE_TENSORS. */
enum {
#define NS__LLM_P(id, ...) P_##id,
    NS_LLM_FILE_TENSORS(NS__LLM_P)
#undef NS__LLM_P
    P__COUNT
};
/* Config keys: the rows of NS_LLM_FILE_CONFIG. */
enum {
#define NS__LLM_K(name, ...) LK_##name,
    NS_LLM_FILE_CONFIG(NS__LLM_K)
#undef NS__LLM_K
    LK__COUNT
};
/* The schema of model files and checkpoints (config.c): the config keys;
 * the tensors are the P__COUNT parameters, then NS_LLM_CHECKPOINT_TENSORS. */
#define NS__LLM_ROWS (P__COUNT + 2)
extern const ns_st_schema ns__llm_schema;
/* The config of checked values (ns_st_check, ns_st_config_parse) over the
 * defaults of its family, validated; errors are NS_EFORMAT naming the key. */
int ns__llm_config_from_values(ns_llm_config *c, const ns_st_value *v, const char *src);

typedef struct ns__llm_tensor {
    const char *name;
    size_t offset, numel; /* into the flat array; numel 0 = absent */
    int ndim;
    int64_t shape[3];
    int decay;            /* AdamW weight decay applies (matrices, embeddings) */
} ns__llm_tensor;

/* Activations kept for backward (one allocation, sized for B x T). */
typedef struct ns__llm_acts {
    float *resid;   /* [L+1, B,T,C] residual stream: input of each layer, output */
    float *ln1;     /* [L, B,T,C] */
    float *ln1_mean, *ln1_rstd; /* [L, B,T] */
    float *qkv;     /* [L, B,T,QKV] (q, k after RoPE) */
    float *atty;    /* [L, B,T,C] */
    float *att;     /* [L, B,H,T,T] */
    float *res2;    /* [L, B,T,C] */
    float *ln2;     /* [L, B,T,C] */
    float *ln2_mean, *ln2_rstd;
    float *fch;     /* [L, B,T,F1]  F1 = F (GPT-2) or 2F (Llama) */
    float *fcg;     /* [L, B,T,F]   gelu(fch) or swiglu(gate, up) */
    float *lnf;     /* [B,T,C] */
    float *lnf_mean, *lnf_rstd; /* [B,T] */
    float *logits;  /* [B,T,V] */
    float *losses;  /* [B,T] */
    /* backward scratch */
    float *dres;    /* [B,T,C] gradient of the residual stream */
    float *dln;     /* [B,T,C] */
    float *datty;   /* [B,T,C] */
    float *dqkv;    /* [B,T,QKV] */
    float *dfcg;    /* [B,T,F] */
    float *dfch;    /* [B,T,F1] */
    float *datt;    /* [B,H,T,T] */
    float *dlogits; /* [B,T,V] */
} ns__llm_acts;

/* ---- inference weights ---------------------------------------------------
 * Inference reads the model only through this table, so a matrix may be in
 * any ns_llm_wtype: rows are contiguous, each row ns__wt_row_bytes(type,
 * cols) bytes in ggml's block layout (F16: IEEE half; Q8_0: blocks of 32 as
 * {half d; int8 q[32]} = 34 bytes, x = d q; Q4_0: {half d; uint8 q[16]} =
 * 18 bytes, element j < 16 the low nibble of q[j] minus 8, j >= 16 the high
 * nibble of q[j - 16] minus 8, times d). For our own models every matrix
 * points into params (F32); a GGUF model points into its blob. */
typedef struct ns__wmat {
    int type;          /* ns_llm_wtype */
    const void *data;  /* rows x row_bytes */
    int rows, cols;
    size_t row_bytes;
} ns__wmat;
/* A matrix that is several matrices stacked by rows (q|k|v, gate|up), each
 * part in its own type: row r of the whole is row r - start of its part. */
typedef struct ns__wcat {
    int n;
    ns__wmat p[3];
    int rows;
} ns__wcat;
typedef struct ns__llm_lw {
    const float *ln1w, *ln1b, *ln2w, *ln2b; /* [C]; biases NULL when absent */
    ns__wcat qkv;                           /* [QKV, C]: q rows, k rows, v rows */
    const float *qkvb;                      /* [QKV] */
    ns__wmat proj;                          /* [C, C] */
    const float *projb;
    ns__wcat fc;                            /* [F1, C]: GPT-2 F rows; Llama gate F rows then up F rows */
    const float *fcb;                       /* [F] (GPT-2) */
    ns__wmat fcp;                           /* [C, F] */
    const float *fcpb;
} ns__llm_lw;
typedef struct ns__llm_iw {
    ns__wmat emb;            /* [V, C] token embeddings */
    const float *wpe;        /* [Tmax, C] GPT-2 positions */
    ns__llm_lw *layer;       /* [L] */
    const float *lnfw, *lnfb;
    ns__wmat head;           /* [V, C] output projection */
    int wtype;               /* type of the big matrices (ns_llm_weight_type) */
    void *own;               /* memory this table owns (ns_free_aligned), or NULL */
} ns__llm_iw;

/* Bytes of a row of cols values in type t; 0 when t is unknown or cols is
 * not a whole number of its blocks (32 for Q8_0 and Q4_0). */
size_t ns__wt_row_bytes(int t, int cols);
/* A matrix descriptor; fails (NS_EUNSUPPORTED / NS_EFORMAT) naming `what`
 * when the type is unknown or the row does not fit its blocks. */
int ns__wmat_set(ns__wmat *w, int type, const void *data, int rows, int cols, const char *what);
/* Row r dequantised to float: out[cols]. */
void ns__wmat_row(const ns__wmat *w, int r, float *out);
/* The table of a model whose matrices are its F32 params. */
int ns__llm_iw_from_params(ns__llm_iw *iw, const ns_llm *m);
/* The same matrices quantised into type t (the table owns them); norms,
 * biases, positions and the embedding rows stay where they were. */
int ns__llm_iw_quantize(ns__llm_iw *dst, const ns__llm_iw *src, const ns_llm *m, int t);
void ns__llm_iw_release(ns__llm_iw *iw);

/* n input rows of `cols` floats for ns__wmat_mm, with their Q8 quantisation
 * (blocks of 32: int8 q, float scale d, int32 sum s) when a quantised
 * matrix reads them; row i at x + i cols, q + i cols, d/s + i cols/32. */
typedef struct ns__xin {
    int n, cols;
    const float *x;
    const int8_t *q;
    const float *d;
    const int32_t *s;
} ns__xin;
void ns__xin_quantize(int8_t *q, float *d, int32_t *s, const float *x, int n, int cols);
/* out[i ldo + r] (+)= W[r] . x_i (+ bias[r]) for r in [r0, r1), i < n. */
void ns__wmat_mm(const ns__wmat *w, int r0, int r1, const ns__xin *in, float *out, int ldo, const float *bias,
                 int acc);

struct ns_llm {
    ns_llm_config cfg;
    int hd, qkv_dim, f1;           /* head dim, fused qkv width, fc output width */
    ns__llm_tensor t[P__COUNT];
    size_t n_params;
    float *params;                 /* [n_params] */
    float *grads;                  /* [n_params] or NULL */
    float *tgrads;                 /* [n_tgrads, n_params]: threads 1.. of a backward */
    int n_tgrads;
    float *rope_cos, *rope_sin;    /* [Tmax, hd/2] (Llama) */
    /* activations */
    float *act_mem;
    size_t act_cap;                /* floats allocated */
    int B, T;                      /* shape of the last forward */
    ns__llm_acts a;
    int32_t *idx, *targets;        /* copies of the last batch [B*T] */
    size_t idx_cap;
    int have_targets, hidden_only;
    /* inference */
    ns__llm_iw iw;                 /* what contexts compute with */
    int infer_only;                /* params hold no matrices (quantised GGUF): no training, no save */
    void *blob;                    /* a GGUF file's tensor data (ns_free_aligned), or NULL */
    char *chat_template, *name;    /* GGUF metadata, or NULL */
};

/* Pointer to parameter (or gradient when g = 1) tensor k, NULL if absent. */
static inline float *ns__llm_p(const ns_llm *m, int k)
{
    return m->t[k].numel ? m->params + m->t[k].offset : NULL;
}
static inline float *ns__llm_g(const ns_llm *m, int k)
{
    return m->t[k].numel && m->grads ? m->grads + m->t[k].offset : NULL;
}
/* The output projection (lm_head or wte when tied). */
static inline const float *ns__llm_head(const ns_llm *m)
{
    return m->cfg.tied ? ns__llm_p(m, P_WTE) : ns__llm_p(m, P_LMHEAD);
}

/* Allocate gradients (zeroed) if not yet there. */
int ns__llm_alloc_grads(ns_llm *m);

/* Safetensors helpers shared by model files and checkpoints. */
int ns__llm_add_tensors(const ns_llm *m, ns_st_writer *w, const ns_bpe *tok);
int ns__llm_from_st(ns_llm **out, ns_bpe **tok, ns_st_file *f, const char *path);

/* A model of config c whose parameters are only the float vectors (norms,
 * biases, positions) — for GGUF files with quantised matrices: the caller
 * fills m->iw (pointing into m->blob / params) and sets infer_only. */
int ns__llm_new_infer(ns_llm **out, const ns_llm_config *c);
/* GGUF (gguf.c): load a file already known to start with "GGUF". */
int ns__llm_load_gguf(ns_llm **out, ns_bpe **tok, const char *path);
/* The model a context computes with. */
const ns_llm *ns__llm_ctx_model(const ns_llm_ctx *c);

#endif
