/*
 * northstar/feature.h — layer 3 features: declarative feature specs that turn
 * raw rows (CSV/TSV, UCI Adult, Criteo) into the inputs of the rankers.
 *
 * A spec is a JSON file that names the input columns, the label and the
 * features; `ns_fspec_fit` learns what must be learned from the training
 * rows (vocabularies, means/std, min/max, quantile boundaries) and the
 * fitted spec is serialised back to JSON (ns_fspec_to_json) and stored in
 * the model file, so serving applies exactly the training transform.
 *
 * Spec (all keys optional unless marked):
 *   {
 *     "format": "csv" | "tsv" | "adult" | "criteo",      default "csv"
 *     "header": true | false,        csv/tsv: first line names the columns
 *     "columns": ["a", "b", ...],    names when there is no header
 *     "na_values": ["", "?"],        strings read as missing
 *     "label": {"column": "y", "positive": [">50K"], "negative": ["<=50K"]}
 *              (without positive/negative the label is a number: > 0.5 is 1)
 *     "weight": "column",            per-row weight column
 *     "features": [                  (required)
 *       {"name": "age", "type": "numeric", "column": "age",
 *        "transforms": ["log1p", {"op": "clip", "min": 0, "max": 90},
 *                       {"op": "pow", "p": 0.5}, "zscore" | "minmax",
 *                       {"op": "cyclic", "period": 24}],
 *        "fill": 0,                   value for missing (default: fitted mean)
 *        "deep": true,                the transformed value is an MLP input
 *        "wide_value": false,         ... and a real-valued wide feature
 *        "buckets": {"boundaries": [18, 25, 30]} | {"quantiles": 10},
 *        "wide": true, "embed": 0},   bucket one-hot (wide) / embedding (deep)
 *       {"name": "workclass", "type": "categorical",
 *        "vocab": {"min_count": 1, "max_size": 0} | "hash_buckets": 1000,
 *        "wide": true, "embed": 8, "deep_onehot": false},
 *       {"name": "genres", "type": "multi", "sep": "|", ...as categorical},
 *       {"name": "edu_x_occ", "type": "cross", "cross": ["education", "occupation"],
 *        "hash_buckets": 1000}
 *     ]
 *   }
 *
 * Transforms, in the order listed, on the parsed number x:
 *   log1p  log(1 + x); x <= -1 counts as missing
 *   pow    sign(x) * |x|^p
 *   clip   min(max(x, min), max)
 *   zscore (x - mean) / std, mean and std fitted (std 0 -> 1)
 *   minmax (x - min) / (max - min), fitted (range 0 -> 1)
 *   cyclic sin(2 pi x / period), cos(2 pi x / period): two outputs; last op
 * Buckets apply to the RAW value: bucket i holds boundaries[i-1] <= x <
 * boundaries[i] (bucket 0 below the first, nb above the last); quantiles are
 * fitted on the training values (duplicates removed).
 *
 * Ids, per feature (one-hot index = id):
 *   vocab       0 = unseen / below min_count, 1 = missing, 2.. = vocabulary
 *               (most frequent first, ties by byte order)
 *   hash        0 = missing, 1 + XXH3(value) mod N
 *   buckets     0..nb, nb + 1 = missing
 *   cross       XXH3(component ids) mod N
 * Missing and non-finite numbers (NaN, inf) take the fill value. Text that
 * is not a number in a numeric column is an error naming file, line and
 * column. A multi-valued column splits on `sep`; an empty one is an empty bag.
 *
 * Example
 *   ns_feature_spec *s;  ns_fspec_load(&s, "adult.json");
 *   ns_fdata d;  ns_fdata_read_file(s, "adult.data", 1, &d);   // fit + encode
 *   char *json = ns_fspec_to_json(s);                          // fitted spec
 */
#ifndef NORTHSTAR_FEATURE_H
#define NORTHSTAR_FEATURE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NS_FMT_CSV = 0, NS_FMT_TSV, NS_FMT_ADULT, NS_FMT_CRITEO } ns_input_format;

typedef struct ns_feature_spec ns_feature_spec;

/* Parse a spec (fitted or not). `src` names it in error messages. */
int ns_fspec_parse(ns_feature_spec **out, const char *json, size_t len, const char *src);
int ns_fspec_load(ns_feature_spec **out, const char *path);
void ns_fspec_free(ns_feature_spec *s);
/* The spec with its fitted state, as JSON (malloc'd; NULL on ENOMEM). */
char *ns_fspec_to_json(const ns_feature_spec *s);
int ns_fspec_is_fitted(const ns_feature_spec *s);
ns_input_format ns_fspec_format(const ns_feature_spec *s);
void ns_fspec_set_format(ns_feature_spec *s, ns_input_format f);
int ns_fspec_format_parse(const char *name, ns_input_format *out);
const char *ns_fspec_format_name(ns_input_format f);

/* The model-facing shape of an encoded example. */
typedef struct ns_flayout {
    int wide_dim;      /* size of the wide index space (one-hot blocks + real features) */
    int n_emb;         /* embedded fields (each its own table) */
    const int *emb_card;  /* [n_emb] rows of each table */
    const int *emb_dim;   /* [n_emb] width of each table */
    const char *const *emb_name; /* [n_emb] feature names */
    int dense_dim;     /* dense MLP inputs (numeric values, deep one-hots) */
} ns_flayout;
void ns_fspec_layout(const ns_feature_spec *s, ns_flayout *out);

/* Input columns the features read, in the spec's order (the label and
 * weight columns are not among them). */
int ns_fspec_input_count(const ns_feature_spec *s);
const char *ns_fspec_input_name(const ns_feature_spec *s, int i);
int ns_fspec_input_index(const ns_feature_spec *s, const char *name); /* -1 if none */
/* A human name for wide index `i` ("education=Bachelors", "age:bucket[25,30)",
 * "edu_x_occ#517 (education=Masters & occupation=Sales)"); writes into buf. */
void ns_fspec_wide_name(const ns_feature_spec *s, int i, char *buf, size_t n);

/* ---- encoded examples -------------------------------------------------- */

/* A set of encoded rows: the wide part as a CSR list of (index, value), one
 * CSR id list per embedded field, a dense [n, dense_dim] block, the labels
 * and the row weights. Grows as rows are appended. */
typedef struct ns_fdata {
    int n, cap;
    int32_t *wide_off;    /* [n+1] */
    int32_t *wide_ids;    /* [nnz] */
    float *wide_vals;     /* [nnz] */
    int wide_nnz, wide_cap;
    int n_emb;
    int32_t **emb_off;    /* [n_emb][n+1] */
    int32_t **emb_ids;    /* [n_emb][nnz_f] ids in [0, emb_card[f]) */
    int *emb_nnz, *emb_cap;
    int dense_dim;
    float *dense;         /* [n, dense_dim] */
    float *label;         /* [n] 0/1 (NaN when the row had no label) */
    float *weight;        /* [n] 1 unless a weight column is given */
} ns_fdata;

int ns_fdata_init(ns_fdata *d, const ns_feature_spec *s);
void ns_fdata_release(ns_fdata *d);
void ns_fdata_clear(ns_fdata *d); /* n = 0, keeps the memory */
/* Append rows[idx[0..k)] of src (same spec) to dst. */
int ns_fdata_gather(ns_fdata *dst, const ns_fdata *src, const int *idx, int k);

/* A value given to the encoder by a caller (the serving path): str/len for
 * a categorical or multi-valued column (or a number written as text);
 * str == NULL means the number `num` (NaN = missing). */
typedef struct ns_fvalue {
    const char *str;
    int len;
    double num;
} ns_fvalue;

/* Encode one row given as one value per input column (ns_fspec_input_*),
 * appending it to d with the label y (NaN = none) and weight w. The spec
 * must be fitted. Thread-safe for a shared spec (read-only). */
int ns_fspec_encode(const ns_feature_spec *s, const ns_fvalue *vals, float y, float w,
                    ns_fdata *d);

/* ---- files ------------------------------------------------------------- */

/* Read a whole file in the spec's format. With fit = 1 the spec is fitted
 * on the rows first (it must not be fitted yet); then every row is encoded
 * into d (initialised here; release it). need_label = 1 makes a missing or
 * bad label an error. Errors name file, line and column. */
int ns_fdata_read_file(ns_feature_spec *s, const char *path, int fit, int need_label,
                       ns_fdata *d);

/* Streaming reader (predict): rows of a file or stdin one at a time. */
typedef struct ns_freader ns_freader;
/* path "-" is stdin. */
int ns_freader_open(ns_freader **out, const ns_feature_spec *s, const char *path);
void ns_freader_close(ns_freader *r);
/* Encode the next row into d (appended). Returns 1 for a row, 0 at the end
 * of the input, or a negative error. `raw` (may be NULL) receives the row's
 * text (valid until the next call). */
int ns_freader_next(ns_freader *r, ns_fdata *d, const char **raw, size_t *raw_len);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_FEATURE_H */
