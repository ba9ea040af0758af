/*
 * northstar/rank.h — layer 3 rankers: logistic regression with FTRL-proximal
 * (wide), embeddings + MLP (deep), and Wide & Deep trained jointly (Cheng et
 * al., "Wide & Deep Learning for Recommender Systems", DLRS 2016: FTRL with
 * L1 on the wide part, Adam or Adagrad on the deep part), on the features a
 * fitted ns_feature_spec produces.
 *
 *   logit = [wide] sum_i w[i] * v[i]                       (index 0 = bias)
 *         + [deep] MLP(concat(mean-bag embeddings, dense inputs))
 *   p = sigmoid(logit), loss = mean_i cw[y_i] * w_i * BCE(logit_i, y_i)
 *
 * A model file is safetensors (safetensors.h). The two lists below ARE its
 * format: io.c expands them into the schema its loader checks with
 * ns_st_load.
 *   metadata "format" = "northstar-rank/1" (NS_RANK_FORMAT, '/', NS_RANK_VERSION);
 *   metadata "config": the ns_rank_cfg as a JSON object with the keys of
 *     NS_RANK_FILE_CONFIG, each row X(key, kind, REQ | OPT, min, max,
 *     meaning); an absent optional key takes its ns_rank_defaults() value;
 *   metadata "feature_spec": the FITTED spec (vocabularies, statistics,
 *     quantiles), so serving applies exactly the training transform;
 *   tensors: the rows of NS_RANK_FILE_TENSORS, X(id, name, dtype, REQ | OPT,
 *     shape, meaning). Their sizes follow from the config and the spec, so
 *     the loader rebuilds the model and reads each with its exact shape; a
 *     tensor the model does not have is an error.
 *
 * Serving (the recommendation service scores candidates in-process):
 *   ns_ranker *m;  ns_ranker_load(&m, "model.safetensors");     // once
 *   ns_rank_ctx *cx = ns_rank_ctx_new(m);                       // one per thread
 *   ns_fvalue v[500 * ncols];  ... one value per input column (ns_fspec_input_*)
 *   ns_ranker_score(m, cx, v, 500, probs);                       // read-only on m
 * The model is never written by scoring; each thread uses its own ctx.
 */
#ifndef NORTHSTAR_RANK_H
#define NORTHSTAR_RANK_H

#include "northstar/feature.h"
#include "northstar/optim.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_RANK_WIDE = 0, NS_RANK_DEEP = 1, NS_RANK_WIDE_DEEP = 2 } ns_rank_kind;
typedef enum { NS_RANK_ADAM = 0, NS_RANK_ADAGRAD = 1 } ns_rank_opt;

#define NS_RANK_MAX_HIDDEN 8

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_RANK_FORMAT "northstar-rank"
#define NS_RANK_VERSION 1
#define NS_RANK_FILE_CONFIG(X)                                                                   \
    X(model, STR, REQ, 1, 15, "\"wide\", \"deep\" or \"wide_deep\"")                               \
    X(hidden, ARR, OPT, 0, NS_RANK_MAX_HIDDEN, "MLP widths (ReLU), integers 1..65536")           \
    X(batch, INT, OPT, 1, INT32_MAX, "mini-batch size")                                          \
    X(epochs, INT, OPT, 0, INT32_MAX, "maximum epochs")                                          \
    X(deep_optimizer, STR, OPT, 4, 7, "\"adam\" or \"adagrad\"")                                 \
    X(lr, NUM, OPT, 0, 1e6, "deep learning rate")                                                \
    X(ftrl, OBJ, OPT, 0, 0, "the wide part's FTRL: {\"alpha\", \"beta\", \"l1\", \"l2\"}, numbers")  \
    X(emb_init_std, NUM, OPT, 0, 1e6, "embeddings ~ N(0, std) at init")                          \
    X(val_fraction, NUM, OPT, 0, 1, "training rows held out for early stopping")                 \
    X(patience, INT, OPT, 0, INT32_MAX, "epochs without a better validation AUC before stopping") \
    X(class_weight, ARR, OPT, 2, 2, "[loss weight of label 0, of label 1], numbers")             \
    X(balanced, INT, OPT, 0, 1, "class weights from the class counts (true / false)")            \
    X(seed, INT, OPT, INT64_MIN, INT64_MAX, "seed (a u64 stored as i64)")                        \
    X(trained_epochs, INT, OPT, 0, INT32_MAX, "epochs trained")                                  \
    X(best_val_auc, NUM, OPT, 0, 1, "best validation AUC (absent without validation)")
#define NS_RANK_FILE_TENSORS(X)                                                                  \
    X(wide_w, "wide.w", F32, OPT, "[*]", "FTRL weights [wide_dim] (wide and wide_deep models)")  \
    X(wide_z, "wide.z", F32, OPT, "[*]", "FTRL state z [wide_dim]")                              \
    X(wide_n, "wide.n", F32, OPT, "[*]", "FTRL state n [wide_dim]")                              \
    X(emb, "emb.*", F32, OPT, "[*, *]", "emb.<feature> [card, dim]: one table per embedded feature") \
    X(mlp_w, "mlp.*.weight", F32, OPT, "[*, *]",                                                 \
      "mlp.<l>.weight [out, in], l = 0..hidden layers (the last is the output)")                 \
    X(mlp_b, "mlp.*.bias", F32, OPT, "[*]", "mlp.<l>.bias [out]")

typedef struct ns_rank_cfg {
    ns_rank_kind kind;
    int hidden[NS_RANK_MAX_HIDDEN]; /* MLP widths (ReLU), default 100, 50 */
    int n_hidden;
    int batch;            /* mini-batch size, default 256 */
    int epochs;           /* maximum epochs, default 10 */
    ns_rank_opt deep_opt; /* default Adam (dense); Adagrad updates embedding rows sparsely */
    float lr;             /* deep learning rate: Adam 1e-3, Adagrad 0.05 */
    ns_ftrl_cfg ftrl;     /* wide: alpha 1, beta 1, l1 0.1, l2 0.5 (per mean-batch gradient) */
    float emb_init_std;   /* embeddings ~ N(0, std), default 0.05 */
    float val_fraction;   /* held out of the training rows for early stopping (0 = none) */
    int patience;         /* epochs without a better validation AUC before stopping */
    float class_weight[2];/* loss weight of label 0 and label 1 */
    int balanced;         /* class weights n / (2 n_c) from the training rows */
    uint64_t seed;
    int threads;          /* training threads; 0 = auto: ns_threads() when a batch
                             is worth splitting (>= 32 MFLOP), else 1 */
    /* filled by training */
    int trained_epochs;
    double best_val_auc;
} ns_rank_cfg;

ns_rank_cfg ns_rank_defaults(void);
const char *ns_rank_kind_name(ns_rank_kind k);
int ns_rank_kind_from_name(const char *s, ns_rank_kind *out);

typedef struct ns_ranker ns_ranker;

/* A fresh model for a fitted spec (the model takes ownership of spec). */
int ns_ranker_new(ns_ranker **out, const ns_rank_cfg *cfg, ns_feature_spec *spec);
void ns_ranker_free(ns_ranker *m);
const ns_feature_spec *ns_ranker_spec(const ns_ranker *m);
const ns_rank_cfg *ns_ranker_cfg(const ns_ranker *m);

typedef struct ns_rank_train_stats {
    int epochs;            /* epochs run */
    double train_seconds;  /* time in the training loop (no validation passes) */
    double examples_per_s; /* epochs * rows / train_seconds */
    double last_loss;      /* mean training loss of the last epoch */
    double best_val_auc;   /* NaN without validation */
    int best_epoch;
    int threads;           /* threads the batches were split across */
} ns_rank_train_stats;

/* Train on `train` (labels required); `val` (may be NULL) drives early
 * stopping, and the best epoch's parameters are kept. Uses ns_threads()
 * threads; results are reproducible for a seed and thread count. */
int ns_ranker_train(ns_ranker *m, const ns_fdata *train, const ns_fdata *val, ns_rank_train_stats *st);

/* Save is atomic (temp + rename). Load checks the file against the tables
 * above, every weight finite (a NaN is an error naming the tensor and its
 * first bad element), and reads the model into its own memory: it no
 * longer depends on the file, which may be rewritten or truncated. */
int ns_ranker_save(const ns_ranker *m, const char *path);
int ns_ranker_load(ns_ranker **out, const char *path);

/* Per-thread scoring context (scratch buffers). */
typedef struct ns_rank_ctx ns_rank_ctx;
ns_rank_ctx *ns_rank_ctx_new(const ns_ranker *m);
void ns_rank_ctx_free(ns_rank_ctx *c);

/* Probabilities for rows [0, d->n) of encoded data, on the calling thread. */
int ns_ranker_predict(const ns_ranker *m, ns_rank_ctx *c, const ns_fdata *d, float *prob);
/* The same over all rows with ns_threads() threads (evaluation). */
int ns_ranker_predict_all(const ns_ranker *m, const ns_fdata *d, float *prob);
/* Encode and score n rows given as values: rows[i * ncols + j] is input
 * column j (ns_fspec_input_name) of candidate i. Unseen categories take the
 * out-of-vocabulary id, missing numbers the fitted fill value. */
int ns_ranker_score(const ns_ranker *m, ns_rank_ctx *c, const ns_fvalue *rows, int n, float *prob);

/* Heaviest wide weights: the k indexes with the largest |w| (k <= wide_dim),
 * written to idx[] with their weights; returns the count. */
int ns_ranker_top_wide(const ns_ranker *m, int k, int *idx, float *w);

/* ---- metrics ----------------------------------------------------------- */

#define NS_RANK_CAL_BINS 10
typedef struct ns_rank_metrics {
    long n;
    double auc;       /* ties get half credit; NaN when one class is absent */
    double logloss;   /* mean, probabilities clipped to [1e-7, 1 - 1e-7] */
    double accuracy;  /* threshold 0.5 */
    double pos_rate, mean_pred;
    double ece;       /* expected calibration error over the bins below */
    long bin_n[NS_RANK_CAL_BINS];        /* bins by predicted probability, width 0.1 */
    double bin_pred[NS_RANK_CAL_BINS];   /* mean predicted probability */
    double bin_obs[NS_RANK_CAL_BINS];    /* observed positive rate */
} ns_rank_metrics;

/* Rows whose label is NaN are ignored. Returns NS_EINVAL if none is left. */
int ns_rank_metrics_compute(const float *prob, const float *label, long n, ns_rank_metrics *out);
double ns_rank_auc(const float *score, const float *label, long n);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_RANK_H */
