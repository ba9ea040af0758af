/*
 * feature_int.h — the feature layer's private structures, shared by
 * spec.c (JSON in and out), transform.c (fit and encode one row),
 * data.c (encoded example storage) and reader.c (input formats).
 */
#ifndef NS_FEATURE_INT_H
#define NS_FEATURE_INT_H

#include "northstar/base.h"
#include "northstar/feature.h"

typedef enum { FK_NUMERIC = 0, FK_CATEGORICAL, FK_MULTI, FK_CROSS } ns__fkind;
typedef enum { OP_LOG1P = 0, OP_POW, OP_CLIP, OP_ZSCORE, OP_MINMAX, OP_CYCLIC } ns__opkind;

typedef struct ns__fop {
    ns__opkind op;
    double a, b; /* pow: a = p; clip: a = min, b = max; cyclic: a = period */
} ns__fop;

/* Per-feature fitting accumulators (only during ns_fspec_fit). */
typedef struct ns__facc {
    double n, sum, sumsq, min, max; /* of the stage value, non-missing rows */
    double *raw;                    /* raw values for quantiles */
    size_t nraw, capraw;
    ns_strmap *counts_map;          /* categorical/multi: value -> slot */
    int64_t *counts;
    size_t ncounts, capcounts;
} ns__facc;

typedef struct ns__feature {
    char *name;
    ns__fkind kind;
    int input;            /* index into spec->inputs (-1 for crosses) */
    /* numeric */
    ns__fop *ops;
    int n_ops;
    int stage;            /* ops[0..stage) run before the fitted stage value */
    int has_fill;
    double fill;          /* user fill (stage space) */
    int deep, wide_value;
    int has_buckets, quantiles;
    double *bounds;       /* given or fitted boundaries */
    int n_bounds;
    /* categorical / multi */
    int hash_buckets;     /* > 0: hashing instead of a vocabulary */
    int min_count, max_size;
    ns_strmap *vocab;     /* fitted vocabulary; feature id = 2 + vocab id */
    char sep;
    int deep_onehot;
    /* cross */
    int *cross;           /* feature indexes */
    int n_cross;
    /* where it goes */
    int wide, embed;
    /* fitted numeric statistics of the stage value */
    double mean, std, min, max;
    /* derived layout */
    int card;             /* number of ids (0 for a plain numeric) */
    int wide_base;        /* first wide index of the one-hot block, -1 none */
    int wide_value_idx;   /* wide index of the real value, -1 none */
    int emb_field;        /* -1 none */
    int dense_base, dense_n; /* numeric values in the dense block */
    int onehot_base;      /* deep one-hot block, -1 none */
} ns__feature;

struct ns_feature_spec {
    ns_input_format fmt;
    int header;           /* -1 = format default */
    char **columns;       /* file column names when there is no header */
    int n_columns;
    char **na;
    int n_na;
    int *na_len;          /* strlen of each na value */
    char *label_col;      /* NULL = no label */
    char **pos, **neg;
    int n_pos, n_neg;
    char *weight_col;
    char **inputs;        /* columns the features read */
    int n_inputs;
    ns__feature *f;
    int nf;
    int fitted;
    long fitted_rows;
    /* layout */
    int wide_dim, n_emb, dense_dim;
    int *emb_card, *emb_dim;
    const char **emb_name;
};

/* spec.c */
int ns__fspec_layout_build(ns_feature_spec *s);
int ns__fspec_find_feature(const ns_feature_spec *s, const char *name);

/* transform.c */
/* Encode with errors naming file and line (file may be NULL). */
int ns__fspec_encode_at(const ns_feature_spec *s, const ns_fvalue *vals, float y, float w,
                        ns_fdata *d, const char *file, long line);
/* Fitting: begin, add rows, end (computes stats, vocabularies, quantiles). */
int ns__fspec_fit_begin(ns_feature_spec *s, ns__facc **accs);
int ns__fspec_fit_row(ns_feature_spec *s, ns__facc *accs, const ns_fvalue *vals,
                      const char *file, long line);
int ns__fspec_fit_end(ns_feature_spec *s, ns__facc *accs);
void ns__fspec_fit_abort(ns_feature_spec *s, ns__facc *accs);
int ns__is_na(const ns_feature_spec *s, const char *p, int len);

/* data.c: append helpers */
int ns__fdata_begin_row(ns_fdata *d);
int ns__fdata_push_wide(ns_fdata *d, int32_t id, float v);
int ns__fdata_push_emb(ns_fdata *d, int field, int32_t id);
int ns__fdata_end_row(ns_fdata *d, float y, float w); /* commits the row */
void ns__fdata_abort_row(ns_fdata *d);                /* drops a partial row */

#endif
