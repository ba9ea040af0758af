/*
 * cmd_safetensors.c — `northstar safetensors inspect|check`: look inside
 * model files and validate them with the same strict reader models use.
 */
#include "cli/cli.h"
#include "northstar/base.h"
#include "northstar/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar safetensors inspect [--stats] [--json] FILE\n"
    "       northstar safetensors check FILE...\n"
    "\n"
    "inspect  list the tensors (name, dtype, shape, bytes) and the metadata;\n"
    "         --stats adds min / max / mean / std of float tensors,\n"
    "         --json prints one JSON object.\n"
    "check    validate files (header, dtypes, shapes, offsets, no overlap or\n"
    "         holes); prints 'ok' or the first problem; exit 1 if any is bad.\n";

typedef struct { int stats, json; } opts_t;

static int on_opt(int c, const char *arg, void *ctx)
{
    (void)arg;
    opts_t *o = ctx;
    if (c == 'S') o->stats = 1;
    else if (c == 'J') o->json = 1;
    return 0;
}

static void shape_str(const ns_st_tensor *t, char *buf, size_t n)
{
    size_t k = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < n) snprintf(buf + k, n - k, "]");
}

static int inspect(const char *path, const opts_t *o)
{
    ns_st_file *f;
    if (ns_st_open(&f, path) < 0) return cli_fail("safetensors");
    size_t total = 0;
    if (o->json) printf("{\"file\":\"%s\",\"tensors\":[", path);
    else printf("%s: %d tensors\n", path, ns_st_count(f));
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        char sh[160];
        shape_str(t, sh, sizeof sh);
        total += t->nbytes;
        double mn = 0, mx = 0, mean = 0, sd = 0;
        int have_stats = 0;
        if (o->stats && t->numel > 0 &&
            (t->dtype == NS_DT_F32 || t->dtype == NS_DT_F16 || t->dtype == NS_DT_BF16 || t->dtype == NS_DT_F64)) {
            float *buf = ns_malloc(sizeof(float) * (size_t)t->numel);
            if (buf && ns_st_read_f32(f, t->name, buf, t->numel) == 0) {
                mn = mx = buf[0];
                double s = 0, ss = 0;
                for (int64_t k = 0; k < t->numel; k++) {
                    double v = buf[k];
                    if (v < mn) mn = v;
                    if (v > mx) mx = v;
                    s += v;
                    ss += v * v;
                }
                mean = s / (double)t->numel;
                sd = sqrt(fmax(0, ss / (double)t->numel - mean * mean));
                have_stats = 1;
            }
            free(buf);
        }
        if (o->json) {
            printf("%s{\"name\":\"%s\",\"dtype\":\"%s\",\"shape\":%s,\"bytes\":%zu", i ? "," : "", t->name,
                   ns_dtype_name(t->dtype), sh, t->nbytes);
            if (have_stats) printf(",\"min\":%g,\"max\":%g,\"mean\":%g,\"std\":%g", mn, mx, mean, sd);
            printf("}");
        } else {
            printf("  %-40s %-5s %-20s %10zu B", t->name, ns_dtype_name(t->dtype), sh, t->nbytes);
            if (have_stats) printf("  min %-10.4g max %-10.4g mean %-10.4g std %.4g", mn, mx, mean, sd);
            printf("\n");
        }
    }
    if (o->json) {
        printf("],\"bytes\":%zu,\"metadata\":{", total);
        for (int i = 0; i < ns_st_meta_count(f); i++) {
            const char *k = ns_st_meta_key(f, i);
            printf("%s\"%s\":\"", i ? "," : "", k);
            for (const char *p = ns_st_meta(f, k); *p; p++) {
                if (*p == '"' || *p == '\\') printf("\\%c", *p);
                else if ((unsigned char)*p < 0x20) printf("\\u%04x", *p);
                else putchar(*p);
            }
            printf("\"");
        }
        printf("}}\n");
    } else {
        printf("  total %zu bytes of tensor data\n", total);
        for (int i = 0; i < ns_st_meta_count(f); i++) {
            const char *k = ns_st_meta_key(f, i);
            printf("  meta %s = %.200s%s\n", k, ns_st_meta(f, k), strlen(ns_st_meta(f, k)) > 200 ? "..." : "");
        }
    }
    ns_st_close(f);
    return CLI_OK;
}

int cmd_safetensors(int argc, char **argv)
{
    opts_t o = {0, 0};
    static const struct option opts[] = {
        {"stats", no_argument, NULL, 'S'}, {"json", no_argument, NULL, 'J'}, {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "safetensors", usage, "", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("safetensors", "missing subcommand (inspect or check)");
    const char *sub = argv[r++];
    if (!strcmp(sub, "inspect")) {
        if (r != argc - 1) return cli_usage_error("safetensors", "inspect takes exactly one FILE");
        return inspect(argv[r], &o);
    }
    if (!strcmp(sub, "check")) {
        if (r >= argc) return cli_usage_error("safetensors", "check needs at least one FILE");
        int bad = 0;
        for (; r < argc; r++) {
            ns_st_file *f;
            if (ns_st_open(&f, argv[r]) < 0) {
                printf("%s: %s\n", argv[r], ns_err_msg());
                bad++;
            } else {
                printf("%s: ok (%d tensors)\n", argv[r], ns_st_count(f));
                ns_st_close(f);
            }
        }
        return bad ? CLI_FAIL : CLI_OK;
    }
    return cli_usage_error("safetensors", "unknown subcommand '%s' (expected inspect or check)", sub);
}
