/*
 * spec.c — feature specs in and out of JSON (see northstar/feature.h for the
 * schema), and the layout (wide index space, embedding tables, dense block)
 * derived from a fitted spec. Specs are small (tens of features, vocabularies
 * of up to millions of strings); parsing happens once per train or load.
 */
#include "feature_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const fmt_names[] = {"csv", "tsv", "adult", "criteo"};

int ns_fspec_format_parse(const char *name, ns_input_format *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, fmt_names[i])) {
            *out = (ns_input_format)i;
            return NS_OK;
        }
    return ns_err_set_at(NS_EINVAL, NULL, 0, "format", name,
                         "unknown input format (expected csv, tsv, adult or criteo)");
}

const char *ns_fspec_format_name(ns_input_format f) { return (unsigned)f < 4 ? fmt_names[f] : "?"; }
ns_input_format ns_fspec_format(const ns_feature_spec *s) { return s->fmt; }
void ns_fspec_set_format(ns_feature_spec *s, ns_input_format f) { s->fmt = f; }
int ns_fspec_is_fitted(const ns_feature_spec *s) { return s->fitted; }
int ns_fspec_input_count(const ns_feature_spec *s) { return s->n_inputs; }
const char *ns_fspec_input_name(const ns_feature_spec *s, int i) { return s->inputs[i]; }

int ns_fspec_input_index(const ns_feature_spec *s, const char *name)
{
    for (int i = 0; i < s->n_inputs; i++)
        if (!strcmp(s->inputs[i], name)) return i;
    return -1;
}

int ns__fspec_find_feature(const ns_feature_spec *s, const char *name)
{
    for (int i = 0; i < s->nf; i++)
        if (!strcmp(s->f[i].name, name)) return i;
    return -1;
}

static void free_strs(char **v, int n)
{
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

void ns_fspec_free(ns_feature_spec *s)
{
    if (!s) return;
    free_strs(s->columns, s->n_columns);
    free_strs(s->na, s->n_na);
    free(s->na_len);
    free(s->label_col);
    free_strs(s->pos, s->n_pos);
    free_strs(s->neg, s->n_neg);
    free(s->weight_col);
    free_strs(s->inputs, s->n_inputs);
    for (int i = 0; i < s->nf; i++) {
        ns__feature *f = &s->f[i];
        free(f->name);
        free(f->ops);
        free(f->bounds);
        free(f->cross);
        ns_strmap_free(f->vocab);
    }
    free(s->f);
    free(s->emb_card);
    free(s->emb_dim);
    free(s->emb_name);
    free(s);
}

/* ---- parsing ------------------------------------------------------------ */

typedef struct pctx {
    const char *src;
} pctx;

/* Record a spec error; fmt takes one %s, the offending name or value. */
#define bad(c, field, fmt, arg) \
    ns_err_set_at(NS_EFORMAT, (c)->src, 0, (field), (arg), fmt, (arg) ? (const char *)(arg) : "")

static int get_strs(const pctx *c, json_t *arr, const char *what, char ***out, int *n)
{
    if (!json_is_array(arr)) return bad(c, what, "'%s' must be an array of strings", what);
    size_t k = json_array_size(arr);
    char **v = ns_calloc(k ? k : 1, sizeof *v);
    if (!v) return NS_ENOMEM;
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e)) {
            free_strs(v, (int)i);
            return bad(c, what, "'%s' must be an array of strings", what);
        }
        v[i] = ns_strdup(json_string_value(e));
    }
    *out = v;
    *n = (int)k;
    return NS_OK;
}

static int get_int(const pctx *c, json_t *o, const char *key, int def, int lo, int hi, int *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return NS_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        char range[64];
        snprintf(range, sizeof range, "%d..%d", lo, hi);
        return ns_err_set_at(NS_EFORMAT, c->src, 0, key, range,
                             "'%s' must be an integer in %s", key, range);
    }
    *out = (int)json_integer_value(v);
    return NS_OK;
}

static int get_bool(const pctx *c, json_t *o, const char *key, int def, int *out)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        *out = def;
        return NS_OK;
    }
    if (!json_is_boolean(v)) return bad(c, key, "'%s' must be true or false", key);
    *out = json_is_true(v);
    return NS_OK;
}

static int get_num(const pctx *c, json_t *o, const char *key, double *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || !json_is_number(v)) return bad(c, key, "'%s' must be a number", key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return bad(c, key, "'%s' must be finite", key);
    return NS_OK;
}

static int add_input(ns_feature_spec *s, const char *col)
{
    int i = ns_fspec_input_index(s, col);
    if (i >= 0) return i;
    char **v = ns_realloc(s->inputs, sizeof *v * (size_t)(s->n_inputs + 1));
    if (!v) return NS_ENOMEM;
    s->inputs = v;
    v[s->n_inputs] = ns_strdup(col);
    return s->n_inputs++;
}

static int parse_ops(const pctx *c, ns__feature *f, json_t *arr)
{
    if (!json_is_array(arr)) return bad(c, f->name, "feature '%s': 'transforms' must be an array", f->name);
    size_t k = json_array_size(arr);
    f->ops = ns_calloc(k ? k : 1, sizeof *f->ops);
    if (!f->ops) return NS_ENOMEM;
    f->n_ops = (int)k;
    f->stage = -1;
    int norms = 0;
    for (size_t i = 0; i < k; i++) {
        json_t *e = json_array_get(arr, i);
        const char *op = json_is_string(e) ? json_string_value(e)
                         : json_is_object(e) ? json_string_value(json_object_get(e, "op"))
                                             : NULL;
        if (!op) return bad(c, f->name, "feature '%s': a transform is a name or {\"op\": name, ...}", f->name);
        ns__fop *o = &f->ops[i];
        int rc = 0;
        if (!strcmp(op, "log1p")) o->op = OP_LOG1P;
        else if (!strcmp(op, "zscore")) o->op = OP_ZSCORE;
        else if (!strcmp(op, "minmax")) o->op = OP_MINMAX;
        else if (!strcmp(op, "pow")) {
            o->op = OP_POW;
            rc = json_is_object(e) ? get_num(c, e, "p", &o->a) : bad(c, "p", "pow needs {\"op\": \"pow\", \"p\": P}%s", "");
        } else if (!strcmp(op, "clip")) {
            o->op = OP_CLIP;
            o->a = -INFINITY;
            o->b = INFINITY;
            if (!json_is_object(e)) return bad(c, "clip", "clip needs {\"op\": \"clip\", \"min\": A, \"max\": B}%s", "");
            if (json_object_get(e, "min")) rc = get_num(c, e, "min", &o->a);
            if (!rc && json_object_get(e, "max")) rc = get_num(c, e, "max", &o->b);
            if (!rc && o->a > o->b) return bad(c, f->name, "feature '%s': clip min > max", f->name);
        } else if (!strcmp(op, "cyclic")) {
            o->op = OP_CYCLIC;
            rc = json_is_object(e) ? get_num(c, e, "period", &o->a)
                                   : bad(c, "period", "cyclic needs {\"op\": \"cyclic\", \"period\": P}%s", "");
            if (!rc && !(o->a > 0)) return bad(c, f->name, "feature '%s': cyclic period must be > 0", f->name);
            if (!rc && i + 1 != k) return bad(c, f->name, "feature '%s': cyclic must be the last transform", f->name);
        } else
            return ns_err_set_at(NS_EFORMAT, c->src, 0, f->name, op,
                                 "feature '%s': unknown transform (expected log1p, pow, clip, zscore, minmax, cyclic)",
                                 f->name);
        if (rc < 0) return rc;
        if (o->op == OP_ZSCORE || o->op == OP_MINMAX || o->op == OP_CYCLIC) {
            if (f->stage < 0) f->stage = (int)i;
            if (o->op != OP_CYCLIC && ++norms > 1)
                return bad(c, f->name, "feature '%s': at most one zscore/minmax", f->name);
        }
    }
    if (f->stage < 0) f->stage = f->n_ops;
    return NS_OK;
}

static int parse_bounds(const pctx *c, ns__feature *f, json_t *b)
{
    if (!json_is_object(b))
        return bad(c, f->name, "feature '%s': 'buckets' must be {\"boundaries\": [...]} or {\"quantiles\": N}", f->name);
    json_t *bd = json_object_get(b, "boundaries");
    if (bd) {
        if (!json_is_array(bd) || json_array_size(bd) == 0)
            return bad(c, f->name, "feature '%s': 'boundaries' must be a non-empty array of numbers", f->name);
        f->n_bounds = (int)json_array_size(bd);
        f->bounds = ns_calloc((size_t)f->n_bounds, sizeof(double));
        if (!f->bounds) return NS_ENOMEM;
        for (int i = 0; i < f->n_bounds; i++) {
            json_t *e = json_array_get(bd, (size_t)i);
            if (!json_is_number(e)) return bad(c, f->name, "feature '%s': boundaries must be numbers", f->name);
            f->bounds[i] = json_number_value(e);
            if (i && !(f->bounds[i] > f->bounds[i - 1]))
                return bad(c, f->name, "feature '%s': boundaries must be strictly increasing", f->name);
        }
    } else {
        int rc = get_int(c, b, "quantiles", 0, 2, 100000, &f->quantiles);
        if (rc < 0) return rc;
        if (!f->quantiles) return bad(c, f->name, "feature '%s': buckets need 'boundaries' or 'quantiles'", f->name);
    }
    f->has_buckets = 1;
    return NS_OK;
}

static int parse_cat(const pctx *c, ns__feature *f, json_t *o)
{
    int rc;
    json_t *hb = json_object_get(o, "hash_buckets");
    if (hb) {
        if ((rc = get_int(c, o, "hash_buckets", 0, 1, 1 << 28, &f->hash_buckets)) < 0) return rc;
    } else {
        json_t *v = json_object_get(o, "vocab");
        if (v && !json_is_object(v)) return bad(c, f->name, "feature '%s': 'vocab' must be an object", f->name);
        json_t *vv = v ? v : json_object();
        rc = get_int(c, vv, "min_count", 1, 1, 1 << 30, &f->min_count);
        if (rc >= 0) rc = get_int(c, vv, "max_size", 0, 0, 1 << 28, &f->max_size);
        if (!v) json_decref(vv);
        if (rc < 0) return rc;
    }
    if ((rc = get_bool(c, o, "wide", 1, &f->wide)) < 0) return rc;
    if ((rc = get_int(c, o, "embed", 0, 0, 4096, &f->embed)) < 0) return rc;
    if ((rc = get_bool(c, o, "deep_onehot", 0, &f->deep_onehot)) < 0) return rc;
    if (f->kind == FK_MULTI) {
        json_t *sp = json_object_get(o, "sep");
        const char *sep = sp ? json_string_value(sp) : "|";
        if (!sep || strlen(sep) != 1) return bad(c, f->name, "feature '%s': 'sep' must be one character", f->name);
        f->sep = sep[0];
        if (f->deep_onehot) return bad(c, f->name, "feature '%s': deep_onehot is for single-valued columns", f->name);
    }
    return NS_OK;
}

/* Fitted state: {"vocab": [...], "mean":, "std":, "min":, "max":, "boundaries": [...]} */
static int parse_fitted(const pctx *c, ns__feature *f, json_t *ft)
{
    if (!json_is_object(ft)) return bad(c, f->name, "feature '%s': 'fitted' must be an object", f->name);
    int rc = 0;
    if (f->kind == FK_NUMERIC) {
        if ((rc = get_num(c, ft, "mean", &f->mean)) < 0 || (rc = get_num(c, ft, "std", &f->std)) < 0 ||
            (rc = get_num(c, ft, "min", &f->min)) < 0 || (rc = get_num(c, ft, "max", &f->max)) < 0)
            return rc;
        if ((rc = get_num(c, ft, "fill", &f->fill)) < 0) return rc;
        if (!f->has_fill) f->has_fill = 1;
        if (f->quantiles) {
            json_t *b = json_object_get(ft, "boundaries");
            if (!json_is_array(b)) return bad(c, f->name, "feature '%s': fitted boundaries missing", f->name);
            f->n_bounds = (int)json_array_size(b);
            f->bounds = ns_calloc((size_t)f->n_bounds + 1, sizeof(double));
            if (!f->bounds) return NS_ENOMEM;
            for (int i = 0; i < f->n_bounds; i++) f->bounds[i] = json_number_value(json_array_get(b, (size_t)i));
        }
    } else if ((f->kind == FK_CATEGORICAL || f->kind == FK_MULTI) && !f->hash_buckets) {
        json_t *v = json_object_get(ft, "vocab");
        if (!json_is_array(v)) return bad(c, f->name, "feature '%s': fitted vocab missing", f->name);
        f->vocab = ns_strmap_new(json_array_size(v) + 1);
        if (!f->vocab) return NS_ENOMEM;
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            if (!json_is_string(e)) return bad(c, f->name, "feature '%s': vocab entries must be strings", f->name);
            int64_t id = ns_strmap_intern(f->vocab, json_string_value(e), json_string_length(e));
            if (id < 0) return (int)id;
            if ((size_t)id != i) return bad(c, f->name, "duplicate vocab entry '%s'", json_string_value(e));
        }
    }
    return NS_OK;
}

static int parse_feature(const pctx *c, ns_feature_spec *s, ns__feature *f, json_t *o,
                         json_t **cross_names)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!name || !*name) return bad(c, "name", "every feature needs a \"name\"%s", "");
    f->name = ns_strdup(name);
    f->input = -1;
    f->wide_base = f->wide_value_idx = f->emb_field = f->onehot_base = -1;
    f->std = 1;
    if (!type) return bad(c, name, "feature '%s' needs a \"type\" (numeric, categorical, multi, cross)", name);
    int rc;
    if (!strcmp(type, "cross")) {
        f->kind = FK_CROSS;
        json_t *cr = json_object_get(o, "cross");
        if (!json_is_array(cr) || json_array_size(cr) < 2)
            return bad(c, name, "cross '%s' needs \"cross\": [two or more feature names]", name);
        *cross_names = cr;
        if ((rc = get_int(c, o, "hash_buckets", 10000, 1, 1 << 28, &f->hash_buckets)) < 0) return rc;
        f->wide = 1;
        return NS_OK;
    }
    json_t *col = json_object_get(o, "column");
    const char *cname = col ? json_string_value(col) : name;
    if (!cname) return bad(c, name, "feature '%s': 'column' must be a string", name);
    if ((f->input = add_input(s, cname)) < 0) return f->input;
    if (!strcmp(type, "numeric")) {
        f->kind = FK_NUMERIC;
        json_t *tr = json_object_get(o, "transforms");
        if (tr) {
            if ((rc = parse_ops(c, f, tr)) < 0) return rc;
        } else
            f->stage = 0;
        if (json_object_get(o, "fill")) {
            if ((rc = get_num(c, o, "fill", &f->fill)) < 0) return rc;
            f->has_fill = 2; /* user given: kept over the fitted mean */
        }
        if ((rc = get_bool(c, o, "deep", 1, &f->deep)) < 0) return rc;
        if ((rc = get_bool(c, o, "wide_value", 0, &f->wide_value)) < 0) return rc;
        json_t *b = json_object_get(o, "buckets");
        if (b && (rc = parse_bounds(c, f, b)) < 0) return rc;
        if ((rc = get_bool(c, o, "wide", f->has_buckets, &f->wide)) < 0) return rc;
        if ((rc = get_int(c, o, "embed", 0, 0, 4096, &f->embed)) < 0) return rc;
        if ((f->wide || f->embed) && !f->has_buckets)
            return bad(c, name, "feature '%s': 'wide'/'embed' on a numeric feature need 'buckets' (use wide_value for a real-valued wide feature)", name);
        return NS_OK;
    }
    if (!strcmp(type, "categorical")) f->kind = FK_CATEGORICAL;
    else if (!strcmp(type, "multi")) f->kind = FK_MULTI;
    else
        return ns_err_set_at(NS_EFORMAT, c->src, 0, name, type,
                             "feature '%s': unknown type (expected numeric, categorical, multi or cross)", name);
    return parse_cat(c, f, o);
}

static int parse_top(const pctx *c, ns_feature_spec *s, json_t *root)
{
    int rc;
    if (!json_is_object(root)) return bad(c, NULL, "a feature spec is a JSON object%s", "");
    json_t *v;
    s->header = -1;
    if ((v = json_object_get(root, "format"))) {
        if (!json_is_string(v)) return bad(c, "format", "'format' must be a string%s", "");
        if ((rc = ns_fspec_format_parse(json_string_value(v), &s->fmt)) < 0) return rc;
    }
    if ((v = json_object_get(root, "header"))) {
        if (!json_is_boolean(v)) return bad(c, "header", "'header' must be true or false%s", "");
        s->header = json_is_true(v);
    }
    if ((v = json_object_get(root, "columns")) && (rc = get_strs(c, v, "columns", &s->columns, &s->n_columns)) < 0)
        return rc;
    if ((v = json_object_get(root, "na_values"))) {
        if ((rc = get_strs(c, v, "na_values", &s->na, &s->n_na)) < 0) return rc;
    } else {
        s->na = ns_calloc(2, sizeof(char *));
        if (!s->na) return NS_ENOMEM;
        s->na[0] = ns_strdup("");
        s->na[1] = ns_strdup("?");
        s->n_na = 2;
    }
    if (!(s->na_len = ns_calloc((size_t)s->n_na + 1, sizeof(int)))) return NS_ENOMEM;
    for (int i = 0; i < s->n_na; i++) s->na_len[i] = (int)strlen(s->na[i]);
    if ((v = json_object_get(root, "label"))) {
        json_t *lc = json_is_object(v) ? json_object_get(v, "column") : v;
        if (!json_is_string(lc)) return bad(c, "label", "'label' must be a column name or {\"column\": name, ...}%s", "");
        s->label_col = ns_strdup(json_string_value(lc));
        if (json_is_object(v)) {
            json_t *p = json_object_get(v, "positive"), *n = json_object_get(v, "negative");
            if (p && (rc = get_strs(c, p, "positive", &s->pos, &s->n_pos)) < 0) return rc;
            if (n && (rc = get_strs(c, n, "negative", &s->neg, &s->n_neg)) < 0) return rc;
        }
    } else if (s->fmt == NS_FMT_ADULT) {
        static const char *p[] = {">50K", ">50K."}, *n[] = {"<=50K", "<=50K."};
        s->label_col = ns_strdup("income");
        s->pos = ns_calloc(2, sizeof(char *));
        s->neg = ns_calloc(2, sizeof(char *));
        if (!s->pos || !s->neg) return NS_ENOMEM;
        for (int i = 0; i < 2; i++) {
            s->pos[i] = ns_strdup(p[i]);
            s->neg[i] = ns_strdup(n[i]);
        }
        s->n_pos = s->n_neg = 2;
    } else if (s->fmt == NS_FMT_CRITEO)
        s->label_col = ns_strdup("label");
    if ((v = json_object_get(root, "weight"))) {
        if (!json_is_string(v)) return bad(c, "weight", "'weight' must be a column name%s", "");
        s->weight_col = ns_strdup(json_string_value(v));
    }
    json_t *fs = json_object_get(root, "features");
    if (!json_is_array(fs) || json_array_size(fs) == 0)
        return bad(c, "features", "'features' must be a non-empty array%s", "");
    s->nf = (int)json_array_size(fs);
    s->f = ns_calloc((size_t)s->nf, sizeof *s->f);
    json_t **cross_names = ns_calloc((size_t)s->nf, sizeof *cross_names);
    if (!s->f || !cross_names) {
        free(cross_names);
        return NS_ENOMEM;
    }
    rc = 0;
    for (int i = 0; i < s->nf && rc >= 0; i++) {
        json_t *o = json_array_get(fs, (size_t)i);
        if (!json_is_object(o)) rc = bad(c, "features", "each feature is a JSON object%s", "");
        else rc = parse_feature(c, s, &s->f[i], o, &cross_names[i]);
        for (int j = 0; rc >= 0 && j < i; j++)
            if (!strcmp(s->f[j].name, s->f[i].name)) rc = bad(c, s->f[i].name, "duplicate feature name '%s'", s->f[i].name);
    }
    /* Resolve crosses now that every feature is known. */
    for (int i = 0; i < s->nf && rc >= 0; i++) {
        if (!cross_names[i]) continue;
        ns__feature *f = &s->f[i];
        f->n_cross = (int)json_array_size(cross_names[i]);
        f->cross = ns_calloc((size_t)f->n_cross, sizeof(int));
        if (!f->cross) {
            rc = NS_ENOMEM;
            break;
        }
        for (int k = 0; k < f->n_cross && rc >= 0; k++) {
            const char *cn = json_string_value(json_array_get(cross_names[i], (size_t)k));
            int j = cn ? ns__fspec_find_feature(s, cn) : -1;
            if (j < 0) rc = ns_err_set_at(NS_EFORMAT, c->src, 0, f->name, cn ? cn : "?",
                                          "cross '%s' names an unknown feature", f->name);
            else if (s->f[j].kind == FK_MULTI || s->f[j].kind == FK_CROSS ||
                     (s->f[j].kind == FK_NUMERIC && !s->f[j].has_buckets))
                rc = ns_err_set_at(NS_EFORMAT, c->src, 0, f->name, cn,
                                   "cross '%s': components must be categorical or bucketised numeric features", f->name);
            else f->cross[k] = j;
        }
    }
    free(cross_names);
    if (rc < 0) return rc;
    /* A fitted spec carries its statistics. */
    if ((v = json_object_get(root, "fitted_rows"))) {
        s->fitted = 1;
        s->fitted_rows = (long)json_integer_value(v);
        for (int i = 0; i < s->nf; i++) {
            json_t *ft = json_object_get(json_array_get(fs, (size_t)i), "fitted");
            if (s->f[i].kind == FK_CROSS || (s->f[i].kind != FK_NUMERIC && s->f[i].hash_buckets)) continue;
            if (!ft) return bad(c, s->f[i].name, "fitted spec: feature '%s' has no 'fitted' state", s->f[i].name);
            if ((rc = parse_fitted(c, &s->f[i], ft)) < 0) return rc;
        }
        return ns__fspec_layout_build(s);
    }
    return NS_OK;
}

int ns_fspec_parse(ns_feature_spec **out, const char *json, size_t len, const char *src)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (!root)
        return ns_err_set_at(NS_EFORMAT, src, je.line, NULL, NULL, "feature spec is not valid JSON: %s (column %d)",
                             je.text, je.column);
    ns_feature_spec *s = ns_calloc(1, sizeof *s);
    if (!s) {
        json_decref(root);
        return NS_ENOMEM;
    }
    pctx c = {src ? src : "spec"};
    int rc = parse_top(&c, s, root);
    json_decref(root);
    if (rc < 0) {
        ns_fspec_free(s);
        return rc;
    }
    *out = s;
    return NS_OK;
}

int ns_fspec_load(ns_feature_spec **out, const char *path)
{
    char *buf;
    size_t len;
    int rc = ns_file_read_all(path, &buf, &len, 256u << 20);
    if (rc < 0) return rc;
    rc = ns_fspec_parse(out, buf, len, path);
    free(buf);
    return rc;
}

/* ---- layout ------------------------------------------------------------- */

int ns__fspec_layout_build(ns_feature_spec *s)
{
    int wide = 1; /* index 0: the bias, always 1 */
    int dense = 0, nemb = 0;
    for (int i = 0; i < s->nf; i++) {
        ns__feature *f = &s->f[i];
        switch (f->kind) {
        case FK_NUMERIC:
            f->card = f->has_buckets ? f->n_bounds + 2 : 0;
            break;
        case FK_CATEGORICAL:
        case FK_MULTI:
            f->card = f->hash_buckets ? f->hash_buckets + 1 : (int)ns_strmap_count(f->vocab) + 2;
            break;
        case FK_CROSS:
            f->card = f->hash_buckets;
            break;
        }
        f->wide_base = f->wide_value_idx = f->emb_field = f->onehot_base = -1;
        f->dense_n = 0;
        if (f->kind == FK_NUMERIC) {
            if (f->wide_value) f->wide_value_idx = wide++;
            if (f->deep) {
                f->dense_base = dense;
                f->dense_n = (f->n_ops && f->ops[f->n_ops - 1].op == OP_CYCLIC) ? 2 : 1;
                dense += f->dense_n;
            }
        }
        if (f->card && f->wide) {
            f->wide_base = wide;
            wide += f->card;
        }
        if (f->card && f->embed) f->emb_field = nemb++;
        if (f->deep_onehot) {
            f->onehot_base = dense;
            dense += f->card;
        }
    }
    free(s->emb_card);
    free(s->emb_dim);
    free(s->emb_name);
    s->emb_card = ns_calloc((size_t)nemb + 1, sizeof(int));
    s->emb_dim = ns_calloc((size_t)nemb + 1, sizeof(int));
    s->emb_name = ns_calloc((size_t)nemb + 1, sizeof(char *));
    if (!s->emb_card || !s->emb_dim || !s->emb_name) return NS_ENOMEM;
    for (int i = 0; i < s->nf; i++) {
        ns__feature *f = &s->f[i];
        if (f->emb_field < 0) continue;
        s->emb_card[f->emb_field] = f->card;
        s->emb_dim[f->emb_field] = f->embed;
        s->emb_name[f->emb_field] = f->name;
    }
    s->wide_dim = wide;
    s->dense_dim = dense;
    s->n_emb = nemb;
    return NS_OK;
}

void ns_fspec_layout(const ns_feature_spec *s, ns_flayout *out)
{
    out->wide_dim = s->wide_dim;
    out->n_emb = s->n_emb;
    out->emb_card = s->emb_card;
    out->emb_dim = s->emb_dim;
    out->emb_name = s->emb_name;
    out->dense_dim = s->dense_dim;
}

/* ---- serialising --------------------------------------------------------- */

static json_t *strs_json(char **v, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *feature_json(const ns_feature_spec *s, const ns__feature *f)
{
    static const char *types[] = {"numeric", "categorical", "multi", "cross"};
    static const char *opn[] = {"log1p", "pow", "clip", "zscore", "minmax", "cyclic"};
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(f->name));
    json_object_set_new(o, "type", json_string(types[f->kind]));
    if (f->kind != FK_CROSS) json_object_set_new(o, "column", json_string(s->inputs[f->input]));
    json_t *ft = json_object();
    if (f->kind == FK_NUMERIC) {
        json_t *ops = json_array();
        for (int i = 0; i < f->n_ops; i++) {
            const ns__fop *op = &f->ops[i];
            json_t *e = json_object();
            json_object_set_new(e, "op", json_string(opn[op->op]));
            if (op->op == OP_POW) json_object_set_new(e, "p", json_real(op->a));
            if (op->op == OP_CYCLIC) json_object_set_new(e, "period", json_real(op->a));
            if (op->op == OP_CLIP) {
                if (isfinite(op->a)) json_object_set_new(e, "min", json_real(op->a));
                if (isfinite(op->b)) json_object_set_new(e, "max", json_real(op->b));
            }
            json_array_append_new(ops, e);
        }
        json_object_set_new(o, "transforms", ops);
        if (f->has_fill == 2) json_object_set_new(o, "fill", json_real(f->fill));
        json_object_set_new(o, "deep", json_boolean(f->deep));
        json_object_set_new(o, "wide_value", json_boolean(f->wide_value));
        if (f->has_buckets) {
            json_t *b = json_object();
            if (f->quantiles) json_object_set_new(b, "quantiles", json_integer(f->quantiles));
            else {
                json_t *a = json_array();
                for (int i = 0; i < f->n_bounds; i++) json_array_append_new(a, json_real(f->bounds[i]));
                json_object_set_new(b, "boundaries", a);
            }
            json_object_set_new(o, "buckets", b);
            json_object_set_new(o, "wide", json_boolean(f->wide));
            json_object_set_new(o, "embed", json_integer(f->embed));
        }
        json_object_set_new(ft, "mean", json_real(f->mean));
        json_object_set_new(ft, "std", json_real(f->std));
        json_object_set_new(ft, "min", json_real(f->min));
        json_object_set_new(ft, "max", json_real(f->max));
        json_object_set_new(ft, "fill", json_real(f->fill));
        if (f->quantiles) {
            json_t *a = json_array();
            for (int i = 0; i < f->n_bounds; i++) json_array_append_new(a, json_real(f->bounds[i]));
            json_object_set_new(ft, "boundaries", a);
        }
    } else if (f->kind == FK_CROSS) {
        json_t *a = json_array();
        for (int i = 0; i < f->n_cross; i++) json_array_append_new(a, json_string(s->f[f->cross[i]].name));
        json_object_set_new(o, "cross", a);
        json_object_set_new(o, "hash_buckets", json_integer(f->hash_buckets));
    } else {
        if (f->hash_buckets) json_object_set_new(o, "hash_buckets", json_integer(f->hash_buckets));
        else {
            json_t *v = json_object();
            json_object_set_new(v, "min_count", json_integer(f->min_count));
            json_object_set_new(v, "max_size", json_integer(f->max_size));
            json_object_set_new(o, "vocab", v);
            if (f->vocab) {
                json_t *a = json_array();
                for (size_t i = 0; i < ns_strmap_count(f->vocab); i++) {
                    size_t len;
                    const char *k = ns_strmap_key(f->vocab, (int64_t)i, &len);
                    json_array_append_new(a, json_stringn(k, len));
                }
                json_object_set_new(ft, "vocab", a);
            }
        }
        if (f->kind == FK_MULTI) {
            char sep[2] = {f->sep, 0};
            json_object_set_new(o, "sep", json_string(sep));
        }
        json_object_set_new(o, "wide", json_boolean(f->wide));
        json_object_set_new(o, "embed", json_integer(f->embed));
        json_object_set_new(o, "deep_onehot", json_boolean(f->deep_onehot));
    }
    if (s->fitted && json_object_size(ft)) json_object_set_new(o, "fitted", ft);
    else json_decref(ft);
    return o;
}

char *ns_fspec_to_json(const ns_feature_spec *s)
{
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(ns_fspec_format_name(s->fmt)));
    if (s->header >= 0) json_object_set_new(root, "header", json_boolean(s->header));
    if (s->n_columns) json_object_set_new(root, "columns", strs_json(s->columns, s->n_columns));
    json_object_set_new(root, "na_values", strs_json(s->na, s->n_na));
    if (s->label_col) {
        json_t *l = json_object();
        json_object_set_new(l, "column", json_string(s->label_col));
        if (s->n_pos) json_object_set_new(l, "positive", strs_json(s->pos, s->n_pos));
        if (s->n_neg) json_object_set_new(l, "negative", strs_json(s->neg, s->n_neg));
        json_object_set_new(root, "label", l);
    }
    if (s->weight_col) json_object_set_new(root, "weight", json_string(s->weight_col));
    json_t *fs = json_array();
    for (int i = 0; i < s->nf; i++) json_array_append_new(fs, feature_json(s, &s->f[i]));
    json_object_set_new(root, "features", fs);
    if (s->fitted) json_object_set_new(root, "fitted_rows", json_integer(s->fitted_rows));
    char *out = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(root);
    if (!out) ns_err_set(NS_ENOMEM, "serialising the feature spec");
    return out;
}
