/*
 * cmd_index_build.c — `northstar index build`: an HNSW index
 * (include/northstar/hnsw.h) over the vectors of a .npy, .fvecs or text
 * file, built on all threads and saved as safetensors.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar index build -i VECTORS -o INDEX [options]\n"
    "\n"
    "VECTORS is .npy (2-D float32), .fvecs, or a text file with one vector a\n"
    "line: \"ID v1 v2 ... vD\" (ids of .npy/.fvecs rows are row numbers).\n"
    "\n"
    "  -i, --input FILE          vectors to index\n"
    "  -o, --output FILE         index file to write (safetensors)\n"
    "      --metric l2|ip|cosine distance (default l2)\n"
    "      --M N                 neighbours per node (default 16; 2M on level 0)\n"
    "      --ef-construction N   beam width while building (default 200)\n"
    "      --ef-search N         default beam width of searches, stored (default 64)\n"
    "      --seed N              level draws (default 42)\n"
    "  -j, --threads N           build threads (default: all CPUs)\n";

typedef struct {
    const char *in, *out;
    ns_metric metric;
    int M, efc, efs;
    uint64_t seed;
} build_opts;

static int parse_metric(const char *cmd, const char *opt, const char *arg, void *field)
{
    if (ns_metric_parse(arg, field) < 0) return cli_usage_error(cmd, "%s: %s", opt, ns_err_msg());
    return 0;
}

static const cli_opt opts[] = {
    CLI_STR("input", 'i', build_opts, in),
    CLI_OPT_OUTPUT(build_opts, out),
    CLI_CALL("metric", 0, build_opts, metric, ns_metric, parse_metric),
    CLI_INT("M", 0, build_opts, M, 2, 256),
    CLI_INT("ef-construction", 0, build_opts, efc, 1, 100000),
    CLI_INT("ef-search", 0, build_opts, efs, 1, 100000),
    CLI_OPT_SEED(build_opts, seed),
};

static int build(const build_opts *o)
{
    float *x;
    uint32_t *ids;
    size_t n;
    int dim;
    double t0 = ns_now();
    if (ns_fvec_read(o->in, &x, &ids, &n, &dim) < 0) return cli_fail("index");
    ns_hnsw_params p = ns_hnsw_defaults(dim, o->metric);
    p.M = o->M;
    p.ef_construction = o->efc;
    p.ef_search = o->efs;
    p.seed = o->seed;
    p.capacity = n;
    ns_hnsw *h;
    int rc = CLI_OK;
    if (ns_hnsw_create(&h, &p) < 0) {
        free(x);
        free(ids);
        return cli_fail("index");
    }
    double t1 = ns_now();
    if (ns_hnsw_add_batch(h, ids, x, n) < 0 || ns_hnsw_save(h, o->out) < 0) {
        rc = cli_fail("index");
    } else if (!ns_is_quiet()) {
        double t2 = ns_now();
        ns_hnsw_stats st;
        ns_hnsw_get_stats(h, &st);
        fprintf(stderr, "index: %zu vectors of dim %d (%s) in %.2f s (%.0f/s, %d threads, read %.2f s); %zu live, %.1f MiB -> %s\n",
                n, dim, ns_metric_name(o->metric), t2 - t1, (double)n / (t2 - t1 > 0 ? t2 - t1 : 1e-9), ns_threads(),
                t1 - t0, st.count, st.bytes / 1048576.0, o->out);
    }
    ns_hnsw_free(h);
    free(x);
    free(ids);
    return rc;
}

int cmd_index_build(int argc, char **argv)
{
    build_opts o = {NULL, NULL, NS_METRIC_L2, 16, 200, 64, 42};
    int r = CLI_PARSE(argc, argv, "index", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error("index", "build takes no positional arguments");
    if (!o.in || !o.out) return cli_usage_error("index", "build needs -i VECTORS and -o INDEX");
    return build(&o);
}
