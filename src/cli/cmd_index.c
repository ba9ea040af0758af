/*
 * cmd_index.c — `northstar index build|search|stats`: HNSW vector indexes
 * from the command line (library: include/northstar/hnsw.h).
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar index build -i VECTORS -o INDEX [options]\n"
    "       northstar index search INDEX (-Q QUERIES | -v \"x1,x2,...\") [options]\n"
    "       northstar index stats INDEX [--json]\n"
    "\n"
    "Approximate nearest-neighbour search with HNSW (and exact search).\n"
    "VECTORS and QUERIES are .npy (2-D float32), .fvecs, or text files with one\n"
    "vector a line: \"ID v1 v2 ... vD\" (ids of .npy/.fvecs rows are row numbers).\n"
    "\n"
    "build options:\n"
    "  -i, --input FILE          vectors to index\n"
    "  -o, --output FILE         index file to write (safetensors)\n"
    "      --metric l2|ip|cosine distance (default l2)\n"
    "      --M N                 neighbours per node (default 16; 2M on level 0)\n"
    "      --ef-construction N   beam width while building (default 200)\n"
    "      --ef-search N         default beam width of searches, stored (default 64)\n"
    "      --seed N              level draws (default 42)\n"
    "search options:\n"
    "  -Q, --queries FILE        query vectors (same formats)\n"
    "  -v, --vector LIST         one query, comma-separated\n"
    "  -k N                      neighbours per query (default 10)\n"
    "      --ef N                beam width (default: the stored ef-search)\n"
    "      --exact               exact search over the stored vectors\n"
    "      --json                one JSON object per query\n"
    "Scores are distances (smaller is closer): l2 squared, ip and cosine 1 - dot.\n"
    "Common: -j/--threads N (build), -q/--quiet, -h/--help.\n";

typedef struct {
    const char *in, *out, *queries, *vec;
    ns_metric metric;
    long M, efc, efs, seed, k, ef;
    int exact, json, bad;
} opts_t;

static int on_opt(int c, const char *arg, void *ctx)
{
    opts_t *o = ctx;
    switch (c) {
    case 'i': o->in = arg; break;
    case 'o': o->out = arg; break;
    case 'Q': o->queries = arg; break;
    case 'v': o->vec = arg; break;
    case 'k': return cli_int("index", "-k", arg, 1, 100000, &o->k);
    case 'm':
        if (ns_metric_parse(arg, &o->metric) < 0) return cli_usage_error("index", "--metric: %s", ns_err_msg());
        break;
    case 'M': return cli_int("index", "--M", arg, 2, 256, &o->M);
    case 'C': return cli_int("index", "--ef-construction", arg, 1, 100000, &o->efc);
    case 'S': return cli_int("index", "--ef-search", arg, 1, 100000, &o->efs);
    case 'E': return cli_int("index", "--ef", arg, 1, 100000, &o->ef);
    case 'D': return cli_int("index", "--seed", arg, 0, 0x7fffffffL, &o->seed);
    case 'X': o->exact = 1; break;
    case 'J': o->json = 1; break;
    }
    return 0;
}

static int build(const opts_t *o)
{
    if (!o->in || !o->out) return cli_usage_error("index", "build needs -i VECTORS and -o INDEX");
    float *x;
    uint32_t *ids;
    size_t n;
    int dim;
    double t0 = ns_now();
    if (ns_fvec_read(o->in, &x, &ids, &n, &dim) < 0) return cli_fail("index");
    ns_hnsw_params p = ns_hnsw_defaults(dim, o->metric);
    p.M = (int)o->M;
    p.ef_construction = (int)o->efc;
    p.ef_search = (int)o->efs;
    p.seed = (uint64_t)o->seed;
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

static int parse_vec(const char *s, int dim, float *out)
{
    int i = 0;
    const char *p = s;
    while (*p) {
        char *end;
        float v = strtof(p, &end);
        if (end == p) return ns_err_set_at(NS_EINVAL, NULL, 0, "vector", p, "expected a number");
        if (i == dim) return ns_err_set_at(NS_EMISMATCH, NULL, 0, "vector", NULL, "more than %d values (the index dimension)", dim);
        out[i++] = v;
        p = end;
        while (*p == ',' || *p == ' ') p++;
    }
    if (i != dim) return ns_err_set_at(NS_EMISMATCH, NULL, 0, "vector", NULL, "%d values, the index has dimension %d", i, dim);
    return NS_OK;
}

static int search(const char *path, const opts_t *o)
{
    if (!!o->queries == !!o->vec) return cli_usage_error("index", "search needs exactly one of -Q QUERIES or -v VECTOR");
    ns_hnsw *h;
    if (ns_hnsw_load(&h, path) < 0) return cli_fail("index");
    int dim = ns_hnsw_get_params(h)->dim, rc = CLI_OK;
    float *q = NULL;
    uint32_t *qids = NULL;
    size_t nq = 1;
    ns_hit *hits = malloc(sizeof(ns_hit) * (size_t)o->k);
    if (o->vec) {
        q = malloc(sizeof(float) * (size_t)dim);
        qids = calloc(1, sizeof(uint32_t));
        if (parse_vec(o->vec, dim, q) < 0) {
            rc = cli_fail("index");
            goto done;
        }
    } else {
        int qd;
        if (ns_fvec_read(o->queries, &q, &qids, &nq, &qd) < 0) {
            rc = cli_fail("index");
            goto done;
        }
        if (qd != dim) {
            ns_err_set_at(NS_EMISMATCH, o->queries, 0, "dim", NULL, "queries have dimension %d, the index %d", qd, dim);
            rc = cli_fail("index");
            goto done;
        }
    }
    double t0 = ns_now();
    for (size_t i = 0; i < nq; i++) {
        int n = o->exact ? ns_hnsw_search_exact(h, q + i * (size_t)dim, (int)o->k, NULL, hits)
                         : ns_hnsw_search(h, q + i * (size_t)dim, (int)o->k, (int)o->ef, NULL, hits);
        if (n < 0) {
            rc = cli_fail("index");
            goto done;
        }
        if (o->json) {
            printf("{\"query\":%u,\"hits\":[", qids[i]);
            for (int j = 0; j < n; j++) printf("%s{\"id\":%u,\"score\":%.7g}", j ? "," : "", hits[j].id, hits[j].score);
            printf("]}\n");
        } else {
            for (int j = 0; j < n; j++) printf("%u\t%d\t%u\t%.7g\n", qids[i], j + 1, hits[j].id, hits[j].score);
        }
    }
    double dt = ns_now() - t0;
    if (!ns_is_quiet())
        fprintf(stderr, "index: %zu queries in %.3f s (%.0f/s, %s, k %ld)\n", nq, dt, (double)nq / (dt > 0 ? dt : 1e-9),
                o->exact ? "exact" : "hnsw", o->k);
done:
    free(q);
    free(qids);
    free(hits);
    ns_hnsw_free(h);
    return rc;
}

static int stats(const char *path, const opts_t *o)
{
    ns_hnsw *h;
    if (ns_hnsw_load(&h, path) < 0) return cli_fail("index");
    const ns_hnsw_params *p = ns_hnsw_get_params(h);
    ns_hnsw_stats st;
    ns_hnsw_get_stats(h, &st);
    if (o->json)
        printf("{\"file\":\"%s\",\"dim\":%d,\"metric\":\"%s\",\"M\":%d,\"ef_construction\":%d,\"ef_search\":%d,"
               "\"count\":%zu,\"deleted\":%zu,\"max_level\":%d,\"avg_degree0\":%.3f,\"bytes\":%zu}\n",
               path, p->dim, ns_metric_name(p->metric), p->M, p->ef_construction, p->ef_search, st.count, st.deleted,
               st.max_level, st.avg_degree0, st.bytes);
    else
        printf("%s: HNSW, %zu vectors (%zu deleted slots), dim %d, metric %s\n"
               "  M %d, ef_construction %d, ef_search %d, max level %d, mean level-0 degree %.2f, %.1f MiB\n",
               path, st.count, st.deleted, p->dim, ns_metric_name(p->metric), p->M, p->ef_construction, p->ef_search,
               st.max_level, st.avg_degree0, st.bytes / 1048576.0);
    ns_hnsw_free(h);
    return CLI_OK;
}

int cmd_index(int argc, char **argv)
{
    opts_t o = {0};
    o.metric = NS_METRIC_L2;
    o.M = 16;
    o.efc = 200;
    o.efs = 64;
    o.seed = 42;
    o.k = 10;
    static const struct option opts[] = {
        {"input", required_argument, NULL, 'i'},      {"output", required_argument, NULL, 'o'},
        {"queries", required_argument, NULL, 'Q'},    {"vector", required_argument, NULL, 'v'},
        {"metric", required_argument, NULL, 'm'},     {"M", required_argument, NULL, 'M'},
        {"ef-construction", required_argument, NULL, 'C'}, {"ef-search", required_argument, NULL, 'S'},
        {"ef", required_argument, NULL, 'E'},         {"seed", required_argument, NULL, 'D'},
        {"exact", no_argument, NULL, 'X'},            {"json", no_argument, NULL, 'J'},
        {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "index", usage, "i:o:Q:v:k:", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("index", "missing subcommand (build, search or stats)");
    const char *sub = argv[r++];
    if (!strcmp(sub, "build")) {
        if (r != argc) return cli_usage_error("index", "build takes no positional arguments");
        return build(&o);
    }
    if (!strcmp(sub, "search") || !strcmp(sub, "stats")) {
        if (r != argc - 1) return cli_usage_error("index", "%s takes exactly one INDEX", sub);
        return sub[1] == 'e' ? search(argv[r], &o) : stats(argv[r], &o);
    }
    return cli_usage_error("index", "unknown subcommand '%s' (expected build, search or stats)", sub);
}
