/*
 * northstar/i2i.h — layer 3 learners: item-to-item models as a sparse
 * table of weighted neighbours, trained on an implicit-feedback log
 * (ilog.h): EASE (Steck 2019, closed-form item-item ridge regression,
 * through LAPACK) or cosine item-kNN. The pipeline's "i2i" recall channel
 * scores s(j) = sum over history items i of w(i, j).
 *
 * File format (safetensors, written atomically):
 *   "ids"  U8  [bytes]  external item ids, each NUL-terminated (row order)
 *   "off"  I64 [n+1]    row i's neighbours are nbr[off[i]..off[i+1])
 *   "nbr"  I32 [nnz]    neighbour rows, by decreasing weight
 *   "w"    F32 [nnz]    weights
 *   metadata "config": {"format": "northstar-i2i", "version": 1,
 *     "method": "ease"|"cosine", "lambda", "neighbours", "items", "nnz"}
 *
 * Threads: training uses ns_threads() (OpenMP, BLAS); a model is read-only
 * once built and may be shared by any number of threads.
 */
#ifndef NORTHSTAR_I2I_H
#define NORTHSTAR_I2I_H

#include "northstar/base.h"
#include "northstar/ilog.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_I2I_EASE = 0, NS_I2I_COSINE = 1 } ns_i2i_method;

typedef struct ns_i2i_opts {
    ns_i2i_method method;
    double lambda;    /* EASE L2 strength (default 300) */
    int max_items;    /* EASE: the most popular items modelled (default 5000: an
                         n x n inverse); cosine: 0 = all */
    int neighbours;   /* kept per row, best first (default 200; 0 = all) */
    int min_users;    /* items with fewer users are left out (default 1) */
} ns_i2i_opts;

ns_i2i_opts ns_i2i_defaults(void);

typedef struct ns_i2i {
    ns_i2i_method method;
    double lambda;
    int neighbours;
    uint32_t n;       /* rows */
    ns_strmap *ids;   /* row -> external item id */
    int64_t *off;     /* [n + 1] */
    uint32_t *nbr;    /* [nnz] */
    float *w;         /* [nnz] */
} ns_i2i;

/* Train on an indexed log (ns_ilog_index). Shows progress unless quiet. */
int ns_i2i_train(ns_i2i **out, const ns_ilog *l, const ns_i2i_opts *o);
void ns_i2i_free(ns_i2i *m);
int ns_i2i_save(const ns_i2i *m, const char *path);
/* Load and validate (offsets, rows, weights); errors name the tensor. */
int ns_i2i_load(ns_i2i **out, const char *path);
const char *ns_i2i_method_name(ns_i2i_method m);
int ns_i2i_method_parse(const char *s, ns_i2i_method *out);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_I2I_H */
