/*
 * cmd_safetensors_inspect.c — `northstar safetensors inspect`: the tensors
 * (name, dtype, shape, bytes) and metadata of a safetensors file, with
 * --stats their min / max / mean / std, as text or one JSON object. Tensors
 * are read from the mapping, so files larger than memory work.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar safetensors inspect [--stats] [--json] FILE\n"
    "\n"
    "List the tensors (name, dtype, shape, bytes) and the metadata;\n"
    "--stats adds min / max / mean / std of float tensors,\n"
    "--json prints one JSON object.\n";

typedef struct {
    int stats, json;
} inspect_opts;

static const cli_opt opts[] = {
    CLI_FLAG("stats", 0, inspect_opts, stats),
    CLI_OPT_JSON(inspect_opts, json),
};

static void shape_str(const ns_st_tensor *t, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int is_float(ns_dtype d) { return d == NS_DT_F32 || d == NS_DT_F16 || d == NS_DT_BF16 || d == NS_DT_F64; }

/* Element i of a float tensor, read straight from the mapping (no copy of
 * the whole tensor: inspect --stats works on files larger than memory). */
static double elem(const ns_st_tensor *t, int64_t i)
{
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case NS_DT_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case NS_DT_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case NS_DT_F16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return ns_f16_to_f32(h); }
    case NS_DT_BF16: { uint16_t h; memcpy(&h, p + 2 * i, 2); return ns_bf16_to_f32(h); }
    default: return 0;
    }
}

typedef struct { double min, max, mean, std; int64_t finite, nonfinite; } stats_t;

/* Welford's running mean and variance over the finite elements. */
static stats_t tensor_stats(const ns_st_tensor *t)
{
    stats_t s = {0, 0, 0, 0, 0, 0};
    double m2 = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        double v = elem(t, i);
        if (!isfinite(v)) { s.nonfinite++; continue; }
        if (s.finite == 0 || v < s.min) s.min = v;
        if (s.finite == 0 || v > s.max) s.max = v;
        s.finite++;
        double d = v - s.mean;
        s.mean += d / (double)s.finite;
        m2 += d * (v - s.mean);
    }
    s.std = s.finite ? sqrt(m2 / (double)s.finite) : 0;
    return s;
}

static int inspect_json(ns_st_file *f, const char *path, const inspect_opts *o)
{
    json_t *root = json_object(), *arr = json_array(), *meta = json_object();
    size_t total = 0;
    int ok = root && arr && meta;
    for (int i = 0; ok && i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *jt = json_pack("{s:s, s:s, s:o, s:I}", "name", t->name, "dtype", ns_dtype_name(t->dtype), "shape",
                               shape, "bytes", (json_int_t)t->nbytes);
        if (jt && o->stats && is_float(t->dtype)) {
            stats_t s = tensor_stats(t);
            /* JSON has no NaN: statistics of a tensor with no finite value are null. */
            json_object_set_new(jt, "min", s.finite ? json_real(s.min) : json_null());
            json_object_set_new(jt, "max", s.finite ? json_real(s.max) : json_null());
            json_object_set_new(jt, "mean", s.finite ? json_real(s.mean) : json_null());
            json_object_set_new(jt, "std", s.finite ? json_real(s.std) : json_null());
            json_object_set_new(jt, "nonfinite", json_integer(s.nonfinite));
        }
        ok = jt && json_array_append_new(arr, jt) == 0;
        total += t->nbytes;
    }
    for (int i = 0; ok && i < ns_st_meta_count(f); i++) {
        const char *k = ns_st_meta_key(f, i);
        ok = json_object_set_new(meta, k, json_string(ns_st_meta(f, k))) == 0;
    }
    if (ok) {
        json_object_set_new(root, "file", json_string(path));
        json_object_set_new(root, "tensors", arr);
        json_object_set_new(root, "bytes", json_integer((json_int_t)total));
        json_object_set_new(root, "metadata", meta);
        arr = meta = NULL;
    } else {
        json_decref(root);
        root = NULL;
    }
    json_decref(arr);
    json_decref(meta);
    return cli_put_json("safetensors", root, JSON_COMPACT | JSON_REAL_PRECISION(9));
}

static int inspect(const char *path, const inspect_opts *o)
{
    ns_st_file *f;
    if (ns_st_open(&f, path) < 0) return cli_fail("safetensors");
    if (o->json) {
        int rc = inspect_json(f, path, o);
        ns_st_close(f);
        return rc;
    }
    size_t total = 0;
    cli_put_clean(path, 4096);
    printf(": %d tensors\n", ns_st_count(f));
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        char sh[160];
        shape_str(t, sh, sizeof sh);
        total += t->nbytes;
        printf("  ");
        cli_put_clean(t->name, 200);
        printf("%*s %-5s %-20s %10zu B", strlen(t->name) < 40 ? (int)(40 - strlen(t->name)) : 0, "",
               ns_dtype_name(t->dtype), sh, t->nbytes);
        if (o->stats && is_float(t->dtype) && t->numel > 0) {
            stats_t s = tensor_stats(t);
            if (s.finite)
                printf("  min %-10.4g max %-10.4g mean %-10.4g std %.4g", s.min, s.max, s.mean, s.std);
            if (s.nonfinite) printf("  %lld non-finite", (long long)s.nonfinite);
        }
        printf("\n");
    }
    printf("  total %zu bytes of tensor data\n", total);
    for (int i = 0; i < ns_st_meta_count(f); i++) {
        const char *k = ns_st_meta_key(f, i);
        printf("  meta ");
        cli_put_clean(k, 200);
        printf(" = ");
        cli_put_clean(ns_st_meta(f, k), 200);
        printf("\n");
    }
    ns_st_close(f);
    return CLI_OK;
}

int cmd_safetensors_inspect(int argc, char **argv)
{
    inspect_opts o = {0, 0};
    int r = CLI_PARSE(argc, argv, "safetensors", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error("safetensors", "inspect takes exactly one FILE");
    return inspect(argv[r], &o);
}
