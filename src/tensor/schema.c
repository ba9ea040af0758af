/*
 * schema.c — the one checked loader: a safetensors file against the schema
 * of its format (safetensors.h): tag and version, every config key, every
 * tensor's dtype and shape, nothing unknown, every float finite.
 *
 * Loaders of higher modules (indexes, rankers, item-to-item models, LLMs)
 * call ns_st_load and then only check what a table cannot say. A schema is
 * a program's constant: a malformed one (a shape naming no INT key, a
 * required pattern row) is a programming error and asserts; a file that
 * breaks a good schema is an error naming the file, the key or tensor, the
 * expected and the actual. Workload: a few dozen keys and tensors per file,
 * checked once per load.
 */
#include "tensor_int.h"

#include <assert.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* errors                                                                    */
/* ======================================================================= */

/* "hnsw index" from "an hnsw index". */
static const char *noun(const ns_st_schema *s)
{
    const char *sp = strchr(s->what, ' ');
    return sp ? sp + 1 : s->what;
}

/* Record code for src, naming field and value: "not a valid <noun>: <msg>",
 * or with not_this "not <what>: <msg>" (the file is another format). */
static int vfail(int code, int not_this, const char *src, const ns_st_schema *s, const char *field,
                 const char *value, const char *fmt, va_list ap)
{
    char msg[384];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (not_this) return ns_err_set_at(code, src, 0, field, value, "not %s: %s", s->what, msg);
    return ns_err_set_at(code, src, 0, field, value, "not a valid %s: %s", noun(s), msg);
}

__attribute__((format(printf, 6, 7))) static int fail(int code, const char *src, const ns_st_schema *s,
                                                      const char *field, const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(code, 0, src, s, field, value, fmt, ap);
    va_end(ap);
    return rc;
}

__attribute__((format(printf, 5, 6))) static int not_this(const char *src, const ns_st_schema *s, const char *field,
                                                          const char *value, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(NS_EFORMAT, 1, src, s, field, value, fmt, ap);
    va_end(ap);
    return rc;
}

int ns_st_bad(const ns_st_file *f, const ns_st_schema *s, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(NS_EFORMAT, 0, ns_st_path(f), s, field, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

/* A range bound as text: integers without exponent, others as %g. */
static const char *bound(char *buf, size_t cap, double x)
{
    if (x == (double)(long long)x && x > -1e18 && x < 1e18) snprintf(buf, cap, "%lld", (long long)x);
    else snprintf(buf, cap, "%g", x);
    return buf;
}

/* ======================================================================= */
/* shapes                                                                    */
/* ======================================================================= */

enum { DIM_ANY = -2, DIM_FIXED = -1 };
typedef struct {
    int key;   /* row of an INT key, DIM_FIXED or DIM_ANY */
    int64_t n; /* added to the key's value, or the fixed size */
} dim_t;

static int find_key(const ns_st_schema *s, const char *name, size_t len)
{
    for (int i = 0; i < s->nkeys; i++)
        if (strlen(s->keys[i].name) == len && !memcmp(s->keys[i].name, name, len)) return i;
    return -1;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ') p++;
    return p;
}

/* A number at *p (advanced past it), or -1 when there is none. */
static int64_t number(const char **p)
{
    if (**p < '0' || **p > '9') return -1;
    int64_t v = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++) {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

/* One dimension: '*', a number, or an INT key with an optional "+N". */
static const char *parse_dim(const ns_st_schema *s, const char *p, dim_t *d)
{
    if (*p == '*') {
        *d = (dim_t){DIM_ANY, 0};
        return p + 1;
    }
    if (*p >= '0' && *p <= '9') {
        *d = (dim_t){DIM_FIXED, number(&p)};
        return d->n < 0 ? NULL : p;
    }
    const char *b = p;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
    int k = find_key(s, b, (size_t)(p - b));
    if (k < 0 || s->keys[k].kind != NS_ST_INT) return NULL;
    *d = (dim_t){k, 0};
    p = skip_ws(p);
    if (*p == '+') {
        p = skip_ws(p + 1);
        d->n = number(&p);
        if (d->n < 0) return NULL;
    }
    return p;
}

/* Parse "[a, b+1, 3, *]" into d[]; returns the rank, or -1 if malformed. */
static int parse_shape(const ns_st_schema *s, const char *shape, dim_t *d)
{
    const char *p = skip_ws(shape);
    if (*p++ != '[') return -1;
    p = skip_ws(p);
    int n = 0;
    if (*p == ']') return *skip_ws(p + 1) ? -1 : 0;
    for (;;) {
        if (n == NS_ST_MAX_DIMS || !(p = parse_dim(s, p, &d[n++]))) return -1;
        p = skip_ws(p);
        if (*p == ']') return *skip_ws(p + 1) ? -1 : n;
        if (*p++ != ',') return -1;
        p = skip_ws(p);
    }
}

/* The schema itself is well formed (asserted: a broken one is a bug). */
static int schema_ok(const ns_st_schema *s)
{
    if (!s->what || !s->format || s->min_version < 0 || s->min_version > s->version) return 0;
    if (s->nkeys < 0 || s->ntensors < 0 || (s->nkeys && !s->keys) || (s->ntensors && !s->tensors)) return 0;
    for (int i = 0; i < s->nkeys; i++) {
        const ns_st_keydef *k = &s->keys[i];
        if (!k->name || (unsigned)k->kind > NS_ST_OBJ || !(k->min <= k->max)) return 0;
        if (find_key(s, k->name, strlen(k->name)) != i) return 0;
    }
    dim_t d[NS_ST_MAX_DIMS];
    for (int i = 0; i < s->ntensors; i++) {
        const ns_st_tensordef *t = &s->tensors[i];
        if (!t->name || (unsigned)t->dtype >= NS_DT__COUNT || !t->shape || parse_shape(s, t->shape, d) < 0) return 0;
        if (strchr(t->name, '*') != strrchr(t->name, '*') || (strchr(t->name, '*') && !t->optional)) return 0;
    }
    return 1;
}

/* ======================================================================= */
/* the tag                                                                   */
/* ======================================================================= */

static int check_version(const char *src, const ns_st_schema *s, long long v)
{
    if (v >= s->min_version && v <= s->version) return (int)v;
    char val[24];
    snprintf(val, sizeof val, "%lld", v);
    return fail(NS_EUNSUPPORTED, src, s, "version", val, "format version %lld; this build reads versions %d..%d", v,
                s->min_version, s->version);
}

/* The metadata tag: format, tag_sep, version. Returns the version. */
static int check_tag_meta(const ns_st_file *f, const ns_st_schema *s)
{
    const char *src = ns_st_path(f), *tag = ns_st_meta(f, s->tag);
    if (!tag) {
        if (s->flags & NS_ST_TAG_OPTIONAL) return s->version;
        return not_this(src, s, s->tag, NULL, "no \"%s\" metadata (expected \"%s%c%d\")", s->tag, s->format, s->tag_sep,
                        s->version);
    }
    size_t fl = strlen(s->format);
    const char *p = tag + fl + 1;
    if (strncmp(tag, s->format, fl) || tag[fl] != s->tag_sep)
        return not_this(src, s, s->tag, tag, "metadata \"%s\" is not \"%s%c<version>\"", s->tag, s->format, s->tag_sep);
    int64_t v = number(&p);
    if (v < 0 || *p || v > INT32_MAX)
        return fail(NS_EFORMAT, src, s, s->tag, tag, "the version after \"%s%c\" is not a number", s->format, s->tag_sep);
    return check_version(src, s, v);
}

/* "format" and "version" inside the config. Returns the version. */
static int check_tag_config(const char *src, const ns_st_schema *s, json_t *o)
{
    const char *fmt = json_string_value(json_object_get(o, "format"));
    if (!fmt || strcmp(fmt, s->format))
        return not_this(src, s, "format", fmt, "config format is %s%s%s, expected \"%s\"", fmt ? "\"" : "",
                        fmt ? fmt : "missing", fmt ? "\"" : "", s->format);
    json_t *v = json_object_get(o, "version");
    if (!json_is_integer(v)) return fail(NS_EFORMAT, src, s, "version", NULL, "config has no integer \"version\"");
    return check_version(src, s, json_integer_value(v));
}

/* ======================================================================= */
/* the config                                                                */
/* ======================================================================= */

static const char *kind_name(ns_st_kind k)
{
    static const char *const names[] = {"an integer", "a number", "a string (without NUL bytes)", "an array",
                                        "an object"};
    return names[k];
}

/* The value as compact JSON into the arena (for ARR and OBJ). */
static const char *json_text(json_t *v, ns_arena *a)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!s) return NULL;
    char *c = ns_arena_strdup(a, s);
    free(s);
    return c;
}

/* Kind, then range: fills out, or records the error naming the key. */
static int check_value(const char *src, const ns_st_schema *s, const ns_st_keydef *k, json_t *v, ns_arena *a,
                       ns_st_value *out)
{
    char *shown = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    double x = 0;
    int ok = 1, rc = NS_OK;
    memset(out, 0, sizeof *out);
    out->present = 1;
    switch (k->kind) {
    case NS_ST_INT:
        ok = json_is_integer(v) || json_is_boolean(v);
        out->i = json_is_integer(v) ? json_integer_value(v) : json_is_true(v);
        x = out->num = (double)out->i;
        break;
    case NS_ST_NUM:
        ok = json_is_number(v);
        x = out->num = json_number_value(v);
        break;
    case NS_ST_STR:
        ok = json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
        x = (double)json_string_length(v);
        if (ok && !(out->str = ns_arena_strdup(a, json_string_value(v)))) rc = NS_ENOMEM;
        break;
    case NS_ST_ARR:
    case NS_ST_OBJ:
        ok = k->kind == NS_ST_ARR ? json_is_array(v) : json_is_object(v);
        x = (double)(out->i = (int64_t)(json_is_array(v) ? json_array_size(v) : json_object_size(v)));
        if (ok && !(out->str = json_text(v, a))) rc = ns_err_set(NS_ENOMEM, "config key \"%s\": out of memory", k->name);
        break;
    }
    char lo[32], hi[32];
    if (rc == NS_OK && !ok)
        rc = fail(NS_EFORMAT, src, s, k->name, shown, "config key \"%s\" must be %s", k->name, kind_name(k->kind));
    else if (rc == NS_OK && k->kind != NS_ST_OBJ && !(x >= k->min && x <= k->max))
        rc = fail(NS_EFORMAT, src, s, k->name, shown, "config key \"%s\"%s is outside %s..%s", k->name,
                  k->kind == NS_ST_INT || k->kind == NS_ST_NUM ? "" : "'s length", bound(lo, sizeof lo, k->min),
                  bound(hi, sizeof hi, k->max));
    free(shown);
    return rc;
}

/* Every key of o against the table (the tag keys are not config keys). */
static int check_config(const char *src, const ns_st_schema *s, json_t *o, ns_arena *a, ns_st_value *cfg)
{
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (!s->tag && (!strcmp(key, "format") || !strcmp(key, "version"))) continue;
        if (find_key(s, key, strlen(key)) < 0) return fail(NS_EFORMAT, src, s, key, NULL, "unknown config key '%s'", key);
    }
    for (int i = 0; i < s->nkeys; i++) {
        const ns_st_keydef *k = &s->keys[i];
        json_t *jv = json_object_get(o, k->name);
        memset(&cfg[i], 0, sizeof cfg[i]);
        if (!jv && !k->optional)
            return fail(NS_EFORMAT, src, s, k->name, NULL, "config lacks \"%s\" (%s)", k->name, k->doc ? k->doc : "");
        int rc = jv ? check_value(src, s, k, jv, a, &cfg[i]) : NS_OK;
        if (rc < 0) return rc;
    }
    return NS_OK;
}

/* JSON text that must be an object. */
static json_t *load_object(const char *src, const ns_st_schema *s, const char *json)
{
    json_error_t je;
    json_t *o = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        ns_err_set_at(NS_EFORMAT, src, je.line, "config", NULL, "not a valid %s: config JSON: %s", noun(s), je.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        fail(NS_EFORMAT, src, s, "config", NULL, "the config is not a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

int ns_st_config_parse(const ns_st_schema *s, const char *json, const char *src, ns_arena *a, ns_st_value *cfg)
{
    assert(schema_ok(s));
    if (!src) src = "config";
    json_t *o = load_object(src, s, json);
    if (!o) return ns_err_last()->code;
    int rc = check_config(src, s, o, a, cfg);
    json_decref(o);
    return rc;
}

/* ======================================================================= */
/* the tensors                                                               */
/* ======================================================================= */

/* name matches pat, whose '*' stands for any run of characters. */
static int glob_match(const char *pat, const char *name)
{
    const char *star = strchr(pat, '*');
    if (!star) return !strcmp(pat, name);
    size_t pre = (size_t)(star - pat), suf = strlen(star + 1), n = strlen(name);
    return n >= pre + suf && !strncmp(pat, name, pre) && !strcmp(star + 1, name + n - suf);
}

/* "[300, 64]"; a negative size (not known) shows as "*". */
static void shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && o < cap; i++) {
        if (shape[i] < 0) o += (size_t)snprintf(buf + o, cap - o, "%s*", i ? ", " : "");
        else o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    }
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

/* One tensor against its row: dtype, rank, then every dimension. */
static int check_tensor(const char *src, const ns_st_schema *s, const ns_st_tensordef *d, const ns_st_tensor *t,
                        const ns_st_value *cfg)
{
    if (t->dtype != d->dtype)
        return fail(NS_EFORMAT, src, s, t->name, ns_dtype_name(t->dtype), "tensor \"%s\" is %s, expected %s %s", t->name,
                    ns_dtype_name(t->dtype), ns_dtype_name(d->dtype), d->shape);
    dim_t dim[NS_ST_MAX_DIMS];
    int nd = parse_shape(s, d->shape, dim), ok = nd == t->ndim;
    int64_t want[NS_ST_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        const dim_t *e = &dim[i];
        int known = e->key == DIM_FIXED || (e->key >= 0 && cfg[e->key].present);
        want[i] = e->key == DIM_FIXED ? e->n : known ? cfg[e->key].i + e->n : -1;
        if (ok && known && t->shape[i] != want[i]) ok = 0;
    }
    if (ok) return NS_OK;
    char have[160], need[160];
    shape_text(have, sizeof have, t->ndim, t->shape);
    shape_text(need, sizeof need, nd, want);
    return fail(s->flags & NS_ST_SHAPE_MISMATCH ? NS_EMISMATCH : NS_EFORMAT, src, s, t->name, have,
                "tensor \"%s\" has shape %s, expected %s = %s", t->name, have, d->shape, need);
}

/* Element i of a float tensor, for messages. */
static double element(const ns_st_tensor *t, int64_t i)
{
    const unsigned char *p = (const unsigned char *)t->data + (size_t)i * ns_dtype_size(t->dtype);
    float x = 0;
    double d = 0;
    uint16_t h = 0;
    switch (t->dtype) {
    case NS_DT_F64: memcpy(&d, p, 8); return d;
    case NS_DT_F32: memcpy(&x, p, 4); return x;
    case NS_DT_F16: memcpy(&h, p, 2); return ns_f16_to_f32(h);
    default: memcpy(&h, p, 2); return ns_bf16_to_f32(h);
    }
}

/* Every element of a float tensor finite (other dtypes pass). */
static int check_finite(const char *src, const ns_st_schema *s, const ns_st_tensor *t)
{
    int64_t i = ns_dtype_find_nonfinite(t->dtype, t->data, (size_t)t->numel);
    if (i < 0) return NS_OK;
    char val[16];
    snprintf(val, sizeof val, "%g", element(t, i));
    return fail(NS_EFORMAT, src, s, t->name, val,
                "tensor \"%s\" element %lld (of %lld) is %s: model numbers must be finite", t->name, (long long)i,
                (long long)t->numel, val);
}

/* The row describing tensor `name`: its exact row, else the first pattern
 * it matches; -1 if none. */
static int find_row(const ns_st_schema *s, const char *name)
{
    for (int r = 0; r < s->ntensors; r++)
        if (!strchr(s->tensors[r].name, '*') && !strcmp(s->tensors[r].name, name)) return r;
    for (int r = 0; r < s->ntensors; r++)
        if (glob_match(s->tensors[r].name, name)) return r;
    return -1;
}

/* Every row (present unless optional, matching), then every file tensor
 * belongs to a row and holds finite numbers. */
static int check_tensors(const ns_st_file *f, const ns_st_schema *s, const ns_st_value *cfg, const ns_st_tensor **out)
{
    const char *src = ns_st_path(f);
    for (int r = 0; r < s->ntensors; r++) {
        const ns_st_tensordef *d = &s->tensors[r];
        const ns_st_tensor *t = strchr(d->name, '*') ? NULL : ns_st_find(f, d->name);
        if (out) out[r] = t;
        if (!t && !d->optional && !strchr(d->name, '*'))
            return fail(NS_EFORMAT, src, s, d->name, NULL, "tensor \"%s\" (%s %s) is missing", d->name,
                        ns_dtype_name(d->dtype), d->shape);
    }
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        int r = find_row(s, t->name);
        if (r < 0) return fail(NS_EFORMAT, src, s, t->name, NULL, "tensor \"%s\" is not part of the format", t->name);
        int rc = check_tensor(src, s, &s->tensors[r], t, cfg);
        if (rc >= 0) rc = check_finite(src, s, t);
        if (rc < 0) return rc;
    }
    return NS_OK;
}

/* ======================================================================= */
/* the checked load                                                          */
/* ======================================================================= */

int ns_st_check(ns_st_file *f, const ns_st_schema *s, ns_st_value *cfg, const ns_st_tensor **t)
{
    assert(schema_ok(s));
    const char *src = ns_st_path(f);
    int rc = s->tag ? check_tag_meta(f, s) : NS_OK;
    if (rc < 0) return rc;
    const char *json = ns_st_meta(f, "config");
    if (!json) return not_this(src, s, "config", NULL, "no \"config\" metadata");
    json_t *o = load_object(src, s, json);
    if (!o) return ns_err_last()->code;
    if (!s->tag) rc = check_tag_config(src, s, o);
    if (rc >= 0) rc = check_config(src, s, o, ns__st_arena(f), cfg);
    json_decref(o);
    if (rc >= 0) rc = check_tensors(f, s, cfg, t);
    return rc < 0 ? rc : NS_OK;
}

int ns_st_load(ns_st_file **out, const char *path, const ns_st_schema *s, ns_st_value *cfg, const ns_st_tensor **t)
{
    *out = NULL;
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    rc = ns_st_check(f, s, cfg, t);
    if (rc < 0) {
        ns_st_close(f);
        return rc;
    }
    *out = f;
    return NS_OK;
}
