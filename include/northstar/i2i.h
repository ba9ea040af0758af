/*
 * northstar/i2i.h — layer 3 learners: item-to-item models as a sparse
 * table of weighted neighbours, trained on an implicit-feedback log
 * (ilog.h): EASE (Steck 2019, closed-form item-item ridge regression,
 * through LAPACK) or cosine item-kNN. The pipeline's "i2i" recall channel
 * scores s(j) = sum over history items i of w(i, j).
 *
 * File format (safetensors, see safetensors.h), written atomically. The
 * two lists below ARE the format: i2i.c expands them into the schema its
 * loader checks with ns_st_load.
 *   metadata "config": a JSON object {"format": NS_I2I_FORMAT, "version":
 *     NS_I2I_VERSION} plus the keys of NS_I2I_FILE_CONFIG, each row
 *     X(key, kind, REQ | OPT, min, max, meaning);
 *   tensors: the rows of NS_I2I_FILE_TENSORS, X(id, name, dtype, REQ | OPT,
 *     shape in config keys, meaning).
 *   Beyond the tables load checks every id, offset, row and weight.
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

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_I2I_FORMAT "northstar-i2i"
#define NS_I2I_VERSION 1
#define NS_I2I_FILE_CONFIG(X)                                                                    \
    X(method, STR, REQ, 1, 15, "\"ease\" or \"cosine\"")                                         \
    X(lambda, NUM, REQ, 0, 1e12, "EASE L2 strength (the option given, for cosine)")              \
    X(neighbours, INT, REQ, 0, INT32_MAX, "weights kept per row at training, 0 = all")           \
    X(items, INT, REQ, 0, UINT32_MAX - 1, "rows n")                                              \
    X(nnz, INT, REQ, 0, INT64_MAX / 8, "weights in all rows")
#define NS_I2I_FILE_TENSORS(X)                                                                   \
    X(ids, "ids", U8, REQ, "[*]", "the n external item ids in row order, each NUL-terminated, "  \
      "non-empty, distinct")                                                                     \
    X(off, "off", I64, REQ, "[items+1]", "row i's neighbours are nbr[off[i]..off[i+1]); 0 to nnz") \
    X(nbr, "nbr", I32, REQ, "[nnz]", "neighbour rows (0..n-1), by decreasing weight")           \
    X(w, "w", F32, REQ, "[nnz]", "weights (finite)")

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
/* Load and validate (offsets, rows, weights finite); errors name the file
 * and the tensor. The loaded model is a copy that no longer depends on the
 * file (it may be rewritten or truncated meanwhile). Saves are atomic. */
int ns_i2i_load(ns_i2i **out, const char *path);
const char *ns_i2i_method_name(ns_i2i_method m);
int ns_i2i_method_parse(const char *s, ns_i2i_method *out);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_I2I_H */
