/*
 * cmd_index_search.c — `northstar index search`: the k nearest neighbours
 * of query vectors (a file, or one vector on the command line) in an HNSW
 * index, or by exact search over its vectors; text or JSON lines.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar index search INDEX (-Q QUERIES | -v \"x1,x2,...\") [options]\n"
    "\n"
    "QUERIES are in the formats of 'northstar index build' VECTORS. Each hit\n"
    "prints as \"QUERY<TAB>RANK<TAB>ID<TAB>SCORE\".\n"
    "\n"
    "  -Q, --queries FILE        query vectors (same formats)\n"
    "  -v, --vector LIST         one query, comma-separated\n"
    "  -k N                      neighbours per query (default 10)\n"
    "      --ef N                beam width (default: the stored ef-search)\n"
    "      --exact               exact search over the stored vectors\n"
    "      --json                one JSON object per query\n"
    "Scores are distances (smaller is closer): l2 squared, ip and cosine 1 - dot.\n";

typedef struct {
    const char *queries, *vec;
    int k, ef, exact, json;
} search_opts;

static const cli_opt opts[] = {
    CLI_STR("queries", 'Q', search_opts, queries),
    CLI_STR("vector", 'v', search_opts, vec),
    CLI_OPT_K(search_opts, k),
    CLI_INT("ef", 0, search_opts, ef, 1, 100000),
    CLI_FLAG("exact", 0, search_opts, exact),
    CLI_OPT_JSON(search_opts, json),
};

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

/* The queries: -v's one vector (id 0) or the rows of -Q's file. */
static int read_queries(const search_opts *o, int dim, float **q, uint32_t **qids, size_t *nq)
{
    if (o->vec) {
        *nq = 1;
        *q = ns_malloc(sizeof(float) * (size_t)dim);
        *qids = ns_calloc(1, sizeof(uint32_t));
        if (!*q || !*qids) return NS_ENOMEM;
        return parse_vec(o->vec, dim, *q);
    }
    int qd;
    int rc = ns_fvec_read(o->queries, q, qids, nq, &qd);
    if (rc < 0) return rc;
    if (qd != dim)
        return ns_err_set_at(NS_EMISMATCH, o->queries, 0, "dim", NULL, "queries have dimension %d, the index %d", qd, dim);
    return NS_OK;
}

static int run_queries(const search_opts *o, const ns_hnsw *h, int dim, const float *q, const uint32_t *qids, size_t nq,
                       ns_hit *hits)
{
    double t0 = ns_now();
    for (size_t i = 0; i < nq; i++) {
        int n = o->exact ? ns_hnsw_search_exact(h, q + i * (size_t)dim, o->k, NULL, hits)
                         : ns_hnsw_search(h, q + i * (size_t)dim, o->k, o->ef, NULL, hits);
        if (n < 0) return n;
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
        fprintf(stderr, "index: %zu queries in %.3f s (%.0f/s, %s, k %d)\n", nq, dt, (double)nq / (dt > 0 ? dt : 1e-9),
                o->exact ? "exact" : "hnsw", o->k);
    return NS_OK;
}

int cmd_index_search(int argc, char **argv)
{
    search_opts o = {NULL, NULL, 10, 0, 0, 0};
    int r = CLI_PARSE(argc, argv, "index", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error("index", "search takes exactly one INDEX");
    if (!!o.queries == !!o.vec) return cli_usage_error("index", "search needs exactly one of -Q QUERIES or -v VECTOR");
    ns_hnsw *h;
    if (ns_hnsw_load(&h, argv[r]) < 0) return cli_fail("index");
    int dim = ns_hnsw_get_params(h)->dim;
    float *q = NULL;
    uint32_t *qids = NULL;
    size_t nq = 0;
    ns_hit *hits = ns_malloc(sizeof(ns_hit) * (size_t)o.k);
    int rc = hits ? read_queries(&o, dim, &q, &qids, &nq) : NS_ENOMEM;
    if (rc >= 0) rc = run_queries(&o, h, dim, q, qids, nq, hits);
    free(q);
    free(qids);
    free(hits);
    ns_hnsw_free(h);
    return rc < 0 ? cli_fail("index") : CLI_OK;
}
