/*
 * transform.c — what a feature spec does to one row: parse numbers, run the
 * numeric transforms, bucketise, look up vocabularies or hash, cross, and
 * append the result (wide index list, embedding ids, dense values) to an
 * ns_fdata. Fitting walks the same rows first and learns the statistics.
 *
 * The same functions run at training and at serving time (the fitted spec
 * travels in the model file), so features are identical by construction;
 * tests/unit/test_feature.c checks each transform against hand-computed
 * values. Encoding a row costs one hash lookup per categorical value and
 * allocates nothing once the ns_fdata has grown to size.
 */
#include "feature_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CROSS_SEED 0x6e7374726f737321ULL /* "nstcross" */
#define HASH_SEED 0x6e73686173680000ULL

int ns__is_na(const ns_feature_spec *s, const char *p, int len)
{
    for (int i = 0; i < s->n_na; i++)
        if (s->na_len[i] == len && !memcmp(s->na[i], p, (size_t)len)) return 1;
    return 0;
}

/* Plain decimals ("39", "-1.25") without strtod: a mantissa below 2^53 and
 * one division by an exact power of ten is correctly rounded, so the result
 * equals strtod's (the classic exact fast path). Returns 0 when the text
 * needs the general parser (exponents, long mantissas, nan, inf, hex). */
static int fast_decimal(const char *p, int len, double *out)
{
    static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int i = 0, neg = 0, digits = 0, frac = -1;
    uint64_t mant = 0;
    if (i < len && (p[i] == '-' || p[i] == '+')) neg = p[i++] == '-';
    for (; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            if (++digits > 15) return 0;
            mant = mant * 10 + (uint64_t)(c - '0');
            if (frac >= 0) frac++;
        } else if (c == '.' && frac < 0)
            frac = 0;
        else
            return 0;
    }
    if (!digits) return 0;
    double v = (double)mant;
    if (frac > 0) v /= p10[frac];
    *out = neg ? -v : v;
    return 1;
}

static const char *col_name(const ns_feature_spec *s, const ns__feature *f)
{
    return f->input >= 0 ? s->inputs[f->input] : f->name;
}

/* The number in v: sets *missing for NA tokens, NaN and inf. Text that is
 * not a number is an error naming the file, line and column. */
static int parse_num(const ns_feature_spec *s, const ns__feature *f, const ns_fvalue *v, double *x,
                     int *missing, const char *file, long line)
{
    *missing = 0;
    if (!v->str) {
        *x = v->num;
        *missing = !isfinite(*x);
        return NS_OK;
    }
    if (ns__is_na(s, v->str, v->len)) {
        *missing = 1;
        return NS_OK;
    }
    if (fast_decimal(v->str, v->len, x)) return NS_OK;
    char buf[128];
    if (v->len >= (int)sizeof buf) {
        char shown[64];
        snprintf(shown, sizeof shown, "%.*s", 60, v->str);
        return ns_err_set_at(NS_EFORMAT, file, line, col_name(s, f), shown, "number too long in numeric column");
    }
    memcpy(buf, v->str, (size_t)v->len);
    buf[v->len] = 0;
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == buf || *end)
        return ns_err_set_at(NS_EFORMAT, file, line, col_name(s, f), buf,
                             "not a number in numeric column (feature '%s')", f->name);
    *x = d;
    *missing = !isfinite(d);
    return NS_OK;
}

static double apply_op(const ns__fop *o, const ns__feature *f, double x)
{
    switch (o->op) {
    case OP_LOG1P: return x > -1 ? log1p(x) : NAN;
    case OP_POW: return x < 0 ? -pow(-x, o->a) : pow(x, o->a);
    case OP_CLIP: return x < o->a ? o->a : x > o->b ? o->b : x;
    case OP_ZSCORE: return (x - f->mean) / f->std;
    case OP_MINMAX: return (f->max - f->min) > 0 ? (x - f->min) / (f->max - f->min) : x - f->min;
    case OP_CYCLIC: return x; /* handled by the caller */
    }
    return x;
}

/* The stage value: ops before the first normalisation; NaN when missing. */
static double stage_value(const ns__feature *f, double x)
{
    for (int i = 0; i < f->stage; i++) x = apply_op(&f->ops[i], f, x);
    return x;
}

/* Finish from the stage value into out[0] (and out[1] for cyclic). */
static void finish_value(const ns__feature *f, double x, float *out)
{
    for (int i = f->stage; i < f->n_ops; i++) {
        if (f->ops[i].op == OP_CYCLIC) {
            double a = 2 * M_PI * x / f->ops[i].a;
            out[0] = (float)sin(a);
            out[1] = (float)cos(a);
            return;
        }
        x = apply_op(&f->ops[i], f, x);
    }
    out[0] = isfinite(x) ? (float)x : 0.0f;
}

static int bucket_of(const ns__feature *f, double raw, int missing)
{
    if (missing) return f->n_bounds + 1;
    int lo = 0, hi = f->n_bounds; /* first boundary > raw */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (f->bounds[mid] <= raw) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static int cat_id(const ns_feature_spec *s, const ns__feature *f, const char *p, int len)
{
    if (ns__is_na(s, p, len)) return f->hash_buckets ? 0 : 1;
    if (f->hash_buckets) return 1 + (int)(ns_hash_bytes(p, (size_t)len, HASH_SEED) % (uint64_t)f->hash_buckets);
    int64_t id = ns_strmap_find(f->vocab, p, (size_t)len);
    return id < 0 ? 0 : (int)id + 2;
}

static int cross_id(const ns__feature *f, const int *ids)
{
    int32_t comp[16];
    int k = f->n_cross < 16 ? f->n_cross : 16;
    for (int i = 0; i < k; i++) comp[i] = ids[f->cross[i]];
    return (int)(ns_hash_bytes(comp, sizeof(int32_t) * (size_t)k, CROSS_SEED) % (uint64_t)f->hash_buckets);
}

/* Value text of a categorical/multi column (numbers given as num are printed). */
static void value_text(const ns_fvalue *v, const char **p, int *len, char *tmp, size_t n)
{
    if (v->str) {
        *p = v->str;
        *len = v->len;
    } else if (!isfinite(v->num)) {
        *p = "";
        *len = 0;
    } else {
        *len = snprintf(tmp, n, "%.17g", v->num);
        *p = tmp;
    }
}

/* The next non-empty, space-trimmed token of a multi-valued text [*p, e)
 * split at sep; 0 when there is none left. */
static int next_token(const char **p, const char *e, char sep, const char **tok, int *len)
{
    while (*p <= e) {
        const char *a = *p, *q = a < e ? memchr(a, sep, (size_t)(e - a)) : NULL;
        if (!q) q = e;
        *p = q + 1;
        while (a < q && *a == ' ') a++;
        const char *t = q;
        while (t > a && t[-1] == ' ') t--;
        if (t > a) {
            *tok = a;
            *len = (int)(t - a);
            return 1;
        }
    }
    return 0;
}

int ns__fspec_encode_at(const ns_feature_spec *s, const ns_fvalue *vals, float y, float w,
                        ns_fdata *d, const char *file, long line)
{
    if (!s->fitted) return ns_err_set(NS_EINVAL, "the feature spec is not fitted");
    int ids_stack[64];
    int *ids = s->nf <= 64 ? ids_stack : ns_malloc(sizeof(int) * (size_t)s->nf);
    if (!ids) return NS_ENOMEM;
    int rc = ns__fdata_begin_row(d);
    if (rc < 0) goto done;
    float *dense = d->dense + (size_t)d->n * (size_t)d->dense_dim;
    if ((rc = ns__fdata_push_wide(d, 0, 1.0f)) < 0) goto fail;
    for (int i = 0; i < s->nf; i++) {
        const ns__feature *f = &s->f[i];
        const ns_fvalue *v = f->input >= 0 ? &vals[f->input] : NULL;
        ids[i] = -1;
        if (f->kind == FK_NUMERIC) {
            double raw;
            int missing;
            if ((rc = parse_num(s, f, v, &raw, &missing, file, line)) < 0) goto fail;
            double st = missing ? NAN : stage_value(f, raw);
            if (!isfinite(st)) st = f->fill;
            float out[2];
            finish_value(f, st, out);
            if (f->dense_n) memcpy(dense + f->dense_base, out, sizeof(float) * (size_t)f->dense_n);
            if (f->wide_value_idx >= 0 && (rc = ns__fdata_push_wide(d, f->wide_value_idx, out[0])) < 0) goto fail;
            if (f->has_buckets) ids[i] = bucket_of(f, raw, missing);
        } else if (f->kind == FK_CATEGORICAL) {
            const char *p;
            int len;
            char tmp[40];
            value_text(v, &p, &len, tmp, sizeof tmp);
            ids[i] = cat_id(s, f, p, len);
            if (f->onehot_base >= 0) dense[f->onehot_base + ids[i]] = 1.0f;
        } else if (f->kind == FK_MULTI) {
            const char *p;
            int len;
            char tmp[40];
            value_text(v, &p, &len, tmp, sizeof tmp);
            if (ns__is_na(s, p, len)) continue; /* empty bag */
            const char *e = p + len, *tok;
            int tl;
            while (next_token(&p, e, f->sep, &tok, &tl)) {
                int id = cat_id(s, f, tok, tl);
                if (f->wide_base >= 0 && (rc = ns__fdata_push_wide(d, f->wide_base + id, 1.0f)) < 0) goto fail;
                if (f->emb_field >= 0 && (rc = ns__fdata_push_emb(d, f->emb_field, id)) < 0) goto fail;
            }
            continue;
        } else
            continue; /* crosses below */
        if (ids[i] >= 0) {
            if (f->wide_base >= 0 && (rc = ns__fdata_push_wide(d, f->wide_base + ids[i], 1.0f)) < 0) goto fail;
            if (f->emb_field >= 0 && (rc = ns__fdata_push_emb(d, f->emb_field, ids[i])) < 0) goto fail;
        }
    }
    for (int i = 0; i < s->nf; i++) {
        const ns__feature *f = &s->f[i];
        if (f->kind != FK_CROSS) continue;
        if ((rc = ns__fdata_push_wide(d, f->wide_base + cross_id(f, ids), 1.0f)) < 0) goto fail;
    }
    rc = ns__fdata_end_row(d, y, w);
    goto done;
fail:
    ns__fdata_abort_row(d);
done:
    if (ids != ids_stack) free(ids);
    return rc;
}

int ns_fspec_encode(const ns_feature_spec *s, const ns_fvalue *vals, float y, float w, ns_fdata *d)
{
    return ns__fspec_encode_at(s, vals, y, w, d, NULL, 0);
}

/* ---- fitting ---------------------------------------------------------- */

int ns__fspec_fit_begin(ns_feature_spec *s, ns__facc **accs)
{
    if (s->fitted) return ns_err_set(NS_EINVAL, "the feature spec is already fitted");
    ns__facc *a = ns_calloc((size_t)s->nf, sizeof *a);
    if (!a) return NS_ENOMEM;
    for (int i = 0; i < s->nf; i++) {
        a[i].min = INFINITY;
        a[i].max = -INFINITY;
        ns__feature *f = &s->f[i];
        if ((f->kind == FK_CATEGORICAL || f->kind == FK_MULTI) && !f->hash_buckets &&
            !(a[i].counts_map = ns_strmap_new(1024))) {
            ns__fspec_fit_abort(s, a);
            return NS_ENOMEM;
        }
    }
    *accs = a;
    return NS_OK;
}

void ns__fspec_fit_abort(ns_feature_spec *s, ns__facc *accs)
{
    if (!accs) return;
    for (int i = 0; i < s->nf; i++) {
        free(accs[i].raw);
        ns_strmap_free(accs[i].counts_map);
        free(accs[i].counts);
    }
    free(accs);
}

static int count_value(ns__facc *a, const char *p, int len)
{
    int64_t id = ns_strmap_intern(a->counts_map, p, (size_t)len);
    if (id < 0) return (int)id;
    if ((size_t)id >= a->capcounts) {
        size_t nc = a->capcounts ? a->capcounts * 2 : 256;
        int64_t *c = ns_realloc(a->counts, sizeof *c * nc);
        if (!c) return NS_ENOMEM;
        memset(c + a->capcounts, 0, sizeof *c * (nc - a->capcounts));
        a->counts = c;
        a->capcounts = nc;
    }
    a->counts[id]++;
    if ((size_t)id >= a->ncounts) a->ncounts = (size_t)id + 1;
    return NS_OK;
}

int ns__fspec_fit_row(ns_feature_spec *s, ns__facc *accs, const ns_fvalue *vals, const char *file,
                      long line)
{
    for (int i = 0; i < s->nf; i++) {
        ns__feature *f = &s->f[i];
        ns__facc *a = &accs[i];
        const ns_fvalue *v = f->input >= 0 ? &vals[f->input] : NULL;
        if (f->kind == FK_NUMERIC) {
            double raw;
            int missing, rc;
            if ((rc = parse_num(s, f, v, &raw, &missing, file, line)) < 0) return rc;
            if (missing) continue;
            if (f->quantiles) {
                if (a->nraw == a->capraw) {
                    size_t nc = a->capraw ? a->capraw * 2 : 1024;
                    double *r = ns_realloc(a->raw, sizeof *r * nc);
                    if (!r) return NS_ENOMEM;
                    a->raw = r;
                    a->capraw = nc;
                }
                a->raw[a->nraw++] = raw;
            }
            double st = stage_value(f, raw);
            if (!isfinite(st)) continue;
            a->n += 1;
            a->sum += st;
            a->sumsq += st * st;
            if (st < a->min) a->min = st;
            if (st > a->max) a->max = st;
        } else if ((f->kind == FK_CATEGORICAL || f->kind == FK_MULTI) && !f->hash_buckets) {
            const char *p;
            int len, rc;
            char tmp[40];
            value_text(v, &p, &len, tmp, sizeof tmp);
            if (ns__is_na(s, p, len)) continue;
            if (f->kind == FK_CATEGORICAL) {
                if ((rc = count_value(a, p, len)) < 0) return rc;
                continue;
            }
            const char *e = p + len, *tok;
            int tl;
            while (next_token(&p, e, f->sep, &tok, &tl))
                if ((rc = count_value(a, tok, tl)) < 0) return rc;
        }
    }
    return NS_OK;
}

typedef struct vc {
    const char *s;
    size_t len;
    int64_t count;
} vc;

static int vc_cmp(const void *x, const void *y)
{
    const vc *a = x, *b = y;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c) return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static int dbl_cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int ns__fspec_fit_end(ns_feature_spec *s, ns__facc *accs)
{
    int rc = NS_OK;
    long rows = s->fitted_rows;
    for (int i = 0; i < s->nf && rc >= 0; i++) {
        ns__feature *f = &s->f[i];
        ns__facc *a = &accs[i];
        if (f->kind == FK_NUMERIC) {
            if (a->n > 0) {
                f->mean = a->sum / a->n;
                double var = a->sumsq / a->n - f->mean * f->mean;
                f->std = var > 1e-24 ? sqrt(var) : 1.0;
                f->min = a->min;
                f->max = a->max;
            } else {
                f->mean = 0;
                f->std = 1;
                f->min = 0;
                f->max = 1;
            }
            if (f->has_fill != 2) f->fill = f->mean;
            f->has_fill = f->has_fill ? f->has_fill : 1;
            if (f->quantiles) {
                if (a->nraw) qsort(a->raw, a->nraw, sizeof(double), dbl_cmp); /* raw is NULL when no value was seen */
                free(f->bounds);
                f->bounds = ns_calloc((size_t)f->quantiles + 1, sizeof(double));
                if (!f->bounds) return NS_ENOMEM;
                f->n_bounds = 0;
                for (int q = 1; q < f->quantiles && a->nraw; q++) {
                    size_t idx = (size_t)((double)q * (double)a->nraw / f->quantiles);
                    if (idx >= a->nraw) idx = a->nraw - 1;
                    double b = a->raw[idx];
                    if (!f->n_bounds || b > f->bounds[f->n_bounds - 1]) f->bounds[f->n_bounds++] = b;
                }
                if (!f->n_bounds) f->bounds[f->n_bounds++] = a->nraw ? a->raw[0] : 0.0;
            }
        } else if (a->counts_map) {
            size_t n = a->ncounts, k = 0;
            vc *v = ns_calloc(n ? n : 1, sizeof *v);
            if (!v) return NS_ENOMEM;
            for (size_t j = 0; j < n; j++) {
                if (a->counts[j] < f->min_count) continue;
                v[k].s = ns_strmap_key(a->counts_map, (int64_t)j, &v[k].len);
                v[k].count = a->counts[j];
                k++;
            }
            qsort(v, k, sizeof *v, vc_cmp);
            if (f->max_size && k > (size_t)f->max_size) k = (size_t)f->max_size;
            ns_strmap_free(f->vocab);
            f->vocab = ns_strmap_new(k + 1);
            if (!f->vocab) rc = NS_ENOMEM;
            for (size_t j = 0; j < k && rc >= 0; j++)
                if (ns_strmap_intern(f->vocab, v[j].s, v[j].len) < 0) rc = NS_ENOMEM;
            free(v);
        }
    }
    ns__fspec_fit_abort(s, accs);
    if (rc < 0) return rc;
    s->fitted = 1;
    s->fitted_rows = rows;
    return ns__fspec_layout_build(s);
}

/* ---- naming wide indexes (inspect) ------------------------------------------ */

static void id_name(const ns_feature_spec *s, const ns__feature *f, int id, char *buf, size_t n)
{
    if (f->kind == FK_NUMERIC) {
        if (id == f->n_bounds + 1) snprintf(buf, n, "%s=<missing>", f->name);
        else if (id == 0) snprintf(buf, n, "%s<%g", f->name, f->bounds[0]);
        else if (id == f->n_bounds) snprintf(buf, n, "%s>=%g", f->name, f->bounds[id - 1]);
        else snprintf(buf, n, "%s in [%g,%g)", f->name, f->bounds[id - 1], f->bounds[id]);
    } else if (f->hash_buckets) {
        if (id == 0) snprintf(buf, n, "%s=<missing>", f->name);
        else snprintf(buf, n, "%s=#%d", f->name, id - 1);
    } else if (id == 0) snprintf(buf, n, "%s=<unseen>", f->name);
    else if (id == 1) snprintf(buf, n, "%s=<missing>", f->name);
    else snprintf(buf, n, "%s=%s", f->name, ns_strmap_key(f->vocab, id - 2, NULL));
    (void)s;
}

/* A cross bucket's name: the first combination of component ids (in
 * lexicographic order) that hashes to it, when there are few enough. */
static void cross_name(const ns_feature_spec *s, const ns__feature *f, int id, char *buf, size_t n)
{
    int k = f->n_cross;
    int cnt = snprintf(buf, n, "%s#%d", f->name, id);
    double combos = 1;
    for (int i = 0; i < k; i++) combos *= s->f[f->cross[i]].card;
    if (k > 16 || combos > 2e6 || (size_t)cnt >= n) return;
    int ids[64] = {0}, cur[16] = {0};
    if (s->nf > 64) return;
    for (;;) {
        for (int i = 0; i < k; i++) ids[f->cross[i]] = cur[i];
        if (cross_id(f, ids) == id) {
            cnt += snprintf(buf + cnt, n - (size_t)cnt, " (");
            for (int i = 0; i < k && (size_t)cnt < n; i++) {
                char part[160];
                id_name(s, &s->f[f->cross[i]], cur[i], part, sizeof part);
                cnt += snprintf(buf + cnt, n - (size_t)cnt, "%s%s", i ? " & " : "", part);
            }
            if ((size_t)cnt < n) snprintf(buf + cnt, n - (size_t)cnt, ")");
            return;
        }
        int i = k - 1;
        while (i >= 0 && ++cur[i] == s->f[f->cross[i]].card) cur[i--] = 0;
        if (i < 0) return;
    }
}

void ns_fspec_wide_name(const ns_feature_spec *s, int i, char *buf, size_t n)
{
    if (i == 0) {
        snprintf(buf, n, "<bias>");
        return;
    }
    for (int j = 0; j < s->nf; j++) {
        const ns__feature *f = &s->f[j];
        if (f->wide_value_idx == i) {
            snprintf(buf, n, "%s (value)", f->name);
            return;
        }
        if (f->wide_base >= 0 && i >= f->wide_base && i < f->wide_base + f->card) {
            if (f->kind == FK_CROSS) cross_name(s, f, i - f->wide_base, buf, n);
            else id_name(s, f, i - f->wide_base, buf, n);
            return;
        }
    }
    snprintf(buf, n, "#%d", i);
}
