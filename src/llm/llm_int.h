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

#endif
