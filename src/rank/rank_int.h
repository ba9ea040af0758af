/*
 * rank_int.h — the rankers' private structures: the model (one parameter
 * allocation carved into embedding tables and MLP layers, plus the FTRL
 * wide vectors) and the per-thread workspace that forward and backward use
 * for a range of rows of a batch.
 */
#ifndef NS_RANK_INT_H
#define NS_RANK_INT_H

#include "northstar/base.h"
#include "northstar/rank.h"

#define NS__RANK_MAXL (NS_RANK_MAX_HIDDEN + 1)

struct ns_ranker {
    ns_rank_cfg cfg;
    ns_feature_spec *spec;
    ns_flayout lay;
    int use_wide, use_deep;
    /* wide: FTRL weights w and state z, n over wide_dim indexes */
    int wide_dim;
    float *wide_w, *wide_z, *wide_n;
    /* deep: x = [emb field 0 | emb field 1 | ... | dense] */
    int in_dim, emb_width, max_emb_dim;
    int *emb_col;              /* [n_emb] first column of an unfolded field in x */
    int n_layers;              /* hidden layers + the output layer */
    int dims[NS__RANK_MAXL + 1]; /* dims[0] = in_dim, ..., dims[n_layers] = 1 */
    int max_width;
    size_t n_params, mlp_off;  /* params[0, mlp_off) are the embedding tables */
    float *params;
    size_t *emb_off;           /* [n_emb] offset of each table */
    size_t W_off[NS__RANK_MAXL], b_off[NS__RANK_MAXL];
    /* Folding (model.c): a field with fold[f] = 1 enters layer 0 through
     * T_f = E_f W0_f^T [card_f, H0] instead of through the GEMM; the rest
     * of the input is the compact x = [unfolded fields | dense]. T and W0c
     * are derived from the parameters by ns__rank_refresh. */
    int *fold;                 /* [n_emb] */
    int *w0col;                /* [n_emb] first column of each field in W0 */
    int xdim;                  /* columns of the compact x */
    int *xmap;                 /* [xdim] W0 column of each x column */
    float *W0c;                /* [H0, xdim] */
    float *T;                  /* folded tables, field f at T_off[f] */
    size_t *T_off, T_size;
    int any_fold, any_unfolded;
};

/*
 * Rows packed for the model: one contiguous record per row, so reading a
 * training row at a random position costs one or two cache misses instead
 * of one per field (the per-field CSR arrays of ns_fdata cost ~30 misses a
 * row, which dominated training). Record, in 32-bit words:
 *   for each embedded field: count, ids[count]
 *   wide count, wide ids[count], wide values[count] (float bits)
 *   dense[dense_dim] (float), label (float), weight (float)
 */
typedef struct ns__packed {
    int n, cap;
    int64_t *start;            /* [n+1] word offset of each record */
    uint32_t *pool;
    size_t used, pool_cap;
} ns__packed;

int ns__rank_pack(ns__packed *p, const ns_fdata *d); /* replaces p's rows with d's */
void ns__packed_release(ns__packed *p);

/* Workspace for up to `cap` rows on one thread. */
typedef struct ns__rank_ws {
    int cap;
    float *x;                  /* [cap, xdim] */
    float *h[NS__RANK_MAXL];   /* [cap, dims[l+1]]; h[n_layers-1] holds the deep logit */
    float *da, *db;            /* [cap, max(in_dim, max_width)] gradient scratch */
    float *eout;               /* [cap, max_emb_dim] */
    int32_t *off;              /* [cap+1] rebased bag offsets */
    float *logit, *dlogit, *yw, *ylab; /* [cap] */
    float *grad;               /* [n_params] this thread's dense gradient */
    float *G;                  /* [T_size] gradient of the folded tables */
    float *dW0c;               /* [H0, xdim] */
    /* wide gradient occurrences (index, dlogit * value) */
    int32_t *wid;
    float *wg;
    int nw, wcap;
    /* Adagrad: embedding gradient occurrences per field */
    int32_t **eid;
    float **erow;
    int *ne, *ecap;
    double loss;               /* sum of weighted losses of the last backward */
    const uint32_t **rec;      /* [cap] records of the rows of the last forward */
} ns__rank_ws;

int ns__rank_ws_init(ns__rank_ws *ws, const ns_ranker *m, int cap, int with_grad);
void ns__rank_ws_release(ns__rank_ws *ws, const ns_ranker *m);
/* Logits of rows idx[lo..hi) of d (rows lo..hi when idx is NULL) into
 * ws->logit[0, hi - lo). */
void ns__rank_forward(const ns_ranker *m, ns__rank_ws *ws, const ns__packed *d, const int *idx, int lo, int hi);
/* After ns__rank_forward on nb rows: gradients of
 * sum_i cw[y_i] w_i BCE(logit_i, y_i) / B into ws (grad, wide and, for
 * Adagrad, embedding occurrences). */
int ns__rank_backward(const ns_ranker *m, ns__rank_ws *ws, int nb, int B);
/* Recompute the derived state (W0c, folded tables) after the parameters
 * changed: every training step, after loading, after a test edits them. */
void ns__rank_refresh(ns_ranker *m);
/* Parameter setup from cfg + spec layout (no values). */
int ns__rank_alloc(ns_ranker *m);
void ns__rank_init_params(ns_ranker *m);

#endif
