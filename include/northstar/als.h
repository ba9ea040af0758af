/*
 * northstar/als.h — layer 3 learners: implicit matrix factorisation by
 * alternating least squares with confidence weights (Hu, Koren & Volinsky,
 * "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008),
 * trained on an implicit-feedback log (ilog.h). The pipeline's "mf" recall
 * channel scores a user's unseen items by x_u . y_i.
 *
 * Model: every positive (u, i) has preference p = 1 and confidence
 * c = 1 + alpha; every other pair p = 0, c = 1. ALS minimises
 *     sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + lambda (sum |x_u|^2 + sum |y_i|^2)
 * by solving each side exactly in turn (users, then items, `iters` times):
 *     x_u = (Y'Y + alpha sum_{i in I_u} y_i y_i' + lambda I)^-1 (1 + alpha) sum_{i in I_u} y_i
 * and the same for y_i over its users: a k x k Cholesky solve per row.
 * Initial item factors are a function of (seed, item id) only, so any
 * order of the log gives the same model:
 *     h = FNV-1a 64 of the id's bytes, s = ns_hash64(seed);
 *     y_i[f] = init * (2 u - 1),  u = (ns_hash64(h ^ s ^ (f + 1) * 0x9E3779B97F4A7C15) >> 40) / 2^24
 * (bench/service/als_reference.py computes the same numbers in numpy).
 *
 * Users unknown to the model are folded in: one solve of the user equation
 * above from their items against the trained item factors (ns_als_fold_in).
 *
 * File format (safetensors, see safetensors.h), written atomically. The
 * two lists below ARE the format: als.c expands them into the schema its
 * loader checks with ns_st_load (every factor finite).
 *   metadata "config": {"format": NS_ALS_FORMAT, "version": NS_ALS_VERSION}
 *     plus the keys of NS_ALS_FILE_CONFIG, X(key, kind, REQ | OPT, min, max, meaning);
 *   tensors: NS_ALS_FILE_TENSORS, X(id, name, dtype, REQ | OPT, shape, meaning).
 *
 * Threads: training uses ns_threads() (OpenMP over the rows of a side; a
 * row's solve does not depend on the thread count, so the model does not
 * either). A model is read-only once built; ns_als_fold_in may be called
 * from any number of threads with their own buffers.
 */
#ifndef NORTHSTAR_ALS_H
#define NORTHSTAR_ALS_H

#include "northstar/base.h"
#include "northstar/ilog.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_ALS_FORMAT "northstar-als"
#define NS_ALS_VERSION 1
#define NS_ALS_MAX_DIM 1024
#define NS_ALS_FILE_CONFIG(X)                                                                    \
    X(dim, INT, REQ, 1, NS_ALS_MAX_DIM, "factors per user and item (k)")                         \
    X(alpha, NUM, REQ, 0, 1e9, "confidence of a positive: 1 + alpha")                            \
    X(lambda, NUM, REQ, 1e-12, 1e12, "L2 strength on both sides")                                \
    X(iters, INT, REQ, 0, 100000, "ALS sweeps (users then items) at training")                   \
    X(users, INT, REQ, 0, UINT32_MAX - 1, "user rows")                                           \
    X(items, INT, REQ, 0, UINT32_MAX - 1, "item rows")
#define NS_ALS_FILE_TENSORS(X)                                                                   \
    X(user_ids, "user_ids", U8, REQ, "[*]", "the external user ids in row order, each "           \
      "NUL-terminated, non-empty, distinct")                                                     \
    X(item_ids, "item_ids", U8, REQ, "[*]", "the external item ids in row order, the same way")  \
    X(user_factors, "user_factors", F32, REQ, "[users, dim]", "x_u (finite)")                    \
    X(item_factors, "item_factors", F32, REQ, "[items, dim]", "y_i (finite)")

typedef struct ns_als_opts {
    int dim;        /* k (default 64) */
    double alpha;   /* confidence 1 + alpha of a positive (default 4) */
    double lambda;  /* L2 strength (default 40) */
    int iters;      /* sweeps (default 15; 0 = the initial factors, users 0) */
    double init;    /* half-width of the uniform initial item factors (default 0.1) */
    uint64_t seed;  /* (default 1) */
} ns_als_opts;

ns_als_opts ns_als_defaults(void);

typedef struct ns_als {
    int dim, iters;
    double alpha, lambda;
    uint32_t nusers, nitems;
    ns_strmap *users, *items; /* row -> external id */
    float *uf;                /* [nusers * dim] */
    float *itf;               /* [nitems * dim] */
    float *yty;               /* [dim * dim] Y'Y of the item factors (for fold-in) */
} ns_als;

/* Train on an indexed log (ns_ilog_index): every user and item of the log
 * gets a row (an item without users ends at 0). Errors: NS_EINVAL for bad
 * options or a log not indexed, NS_EINTERNAL if a system is not positive
 * definite (it always is with lambda > 0 unless factors overflow). */
int ns_als_train(ns_als **out, const ns_ilog *l, const ns_als_opts *o);
void ns_als_free(ns_als *m);
/* Saves are atomic. Load validates ids and factors (finite) and names the
 * file and tensor on error; the loaded model is a copy of the file. */
int ns_als_save(const ns_als *m, const char *path);
int ns_als_load(ns_als **out, const char *path);

/* Floats of work buffer ns_als_fold_in needs. */
size_t ns_als_work_floats(const ns_als *m);
/* The user factor x (dim floats) of a user who liked the item rows
 * items[0..n) (out-of-range rows are ignored; n = 0 gives x = 0): the
 * exact solve of the user equation against the trained item factors. */
int ns_als_fold_in(const ns_als *m, const uint32_t *items, int n, float *x, float *work);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_ALS_H */
