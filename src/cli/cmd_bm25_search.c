/*
 * cmd_bm25_search.c — `northstar bm25 search`: the top-k documents of one
 * query or a file of queries in a BM25 index, as tab-separated lines, TREC
 * run lines or JSON, with the query rate on stderr.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bm25.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar bm25 search INDEX (-q TEXT | -Q QUERIES) [options]\n"
    "\n"
    "QUERIES has one query a line: \"QID<TAB>text\". Each hit prints as\n"
    "\"QID<TAB>RANK<TAB>DOC<TAB>SCORE\".\n"
    "\n"
    "  -q, --query TEXT       one query (its QID is 1)\n"
    "  -Q, --queries FILE     many queries\n"
    "  -k N                   results per query (default 10)\n"
    "      --trec RUN         print TREC run lines \"QID Q0 DOC RANK SCORE RUN\"\n"
    "      --exhaustive       score every matching document (no WAND skipping)\n"
    "      --repeat N         run the query set N times (timing); print once\n"
    "      --json             one JSON object per query\n"
    "      --quiet            no timing line (-q is --query here)\n";

typedef struct {
    const char *query, *queries, *trec;
    int k, exhaustive, json;
    long repeat;
} search_opts;

static const cli_opt opts[] = {
    CLI_STR("query", 'q', search_opts, query),
    CLI_STR("queries", 'Q', search_opts, queries),
    CLI_OPT_K(search_opts, k),
    CLI_STR("trec", 0, search_opts, trec),
    CLI_FLAG("exhaustive", 0, search_opts, exhaustive),
    CLI_LONG("repeat", 0, search_opts, repeat, 1, 1000000),
    CLI_OPT_JSON(search_opts, json),
};

typedef struct {
    const char *qid, *text;
} query_t;

/* The "QID<TAB>text" lines of `path` into *qs (pointing into *buf). */
static int read_queries(const char *path, char **buf, query_t **qs, size_t *nq)
{
    size_t len, cap = 0;
    if (ns_file_read_all(path, buf, &len, 0) < 0) return NS_EIO;
    ns_lines it;
    ns_lines_init(&it, *buf, len);
    const char *line;
    size_t ll;
    while (ns_lines_next(&it, &line, &ll)) {
        if (ll == 0) continue;
        char *l = (char *)line;
        l[ll] = 0;
        char *tab = strchr(l, '\t');
        if (!tab) return ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "expected \"QID<TAB>text\"");
        *tab = 0;
        if (*nq == cap) {
            cap = cap ? 2 * cap : 256;
            query_t *n2 = ns_realloc(*qs, sizeof **qs * cap);
            if (!n2) return NS_ENOMEM;
            *qs = n2;
        }
        (*qs)[*nq].qid = l;
        (*qs)[(*nq)++].text = tab + 1;
    }
    return NS_OK;
}

static void print_hits(const search_opts *o, const char *qid, const ns_hit *hits, int n)
{
    if (o->trec) {
        for (int j = 0; j < n; j++) printf("%s Q0 %u %d %.6f %s\n", qid, hits[j].id, j + 1, hits[j].score, o->trec);
    } else if (o->json) {
        ns_buf b;
        ns_buf_init(&b);
        ns_buf_puts(&b, "{\"query\":");
        ns_buf_json_str(&b, qid, strlen(qid));
        ns_buf_puts(&b, ",\"hits\":[");
        for (int j = 0; j < n; j++) ns_buf_printf(&b, "%s{\"id\":%u,\"score\":%.6f}", j ? "," : "", hits[j].id, hits[j].score);
        ns_buf_puts(&b, "]}");
        puts(b.data);
        ns_buf_release(&b);
    } else {
        for (int j = 0; j < n; j++) printf("%s\t%d\t%u\t%.6f\n", qid, j + 1, hits[j].id, hits[j].score);
    }
}

/* Run the queries o->repeat times, printing the hits of the last round. */
static int run_queries(const search_opts *o, const ns_bm25 *ix, const query_t *qs, size_t nq, ns_hit *hits)
{
    double t0 = ns_now();
    for (long rep = 0; rep < o->repeat; rep++) {
        for (size_t i = 0; i < nq; i++) {
            int n = o->exhaustive ? ns_bm25_search_exhaustive(ix, qs[i].text, -1, o->k, NULL, hits)
                                  : ns_bm25_search(ix, qs[i].text, -1, o->k, NULL, hits);
            if (n < 0) return n;
            if (rep == o->repeat - 1) print_hits(o, qs[i].qid, hits, n);
        }
    }
    double dt = ns_now() - t0;
    if (!ns_is_quiet())
        fprintf(stderr, "bm25: %zu queries x %ld in %.4f s (%.0f queries/s, k %d, %s; output included)\n", nq, o->repeat,
                dt, (double)nq * (double)o->repeat / (dt > 0 ? dt : 1e-9), o->k,
                o->exhaustive ? "exhaustive" : "auto: block-max WAND or term-at-a-time");
    return NS_OK;
}

int cmd_bm25_search(int argc, char **argv)
{
    search_opts o = {NULL, NULL, NULL, 10, 0, 0, 1};
    int r = CLI_PARSE(argc, argv, "bm25", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error("bm25", "search takes exactly one INDEX");
    if (!!o.query == !!o.queries) return cli_usage_error("bm25", "search needs exactly one of -q TEXT or -Q QUERIES");
    ns_bm25 *ix;
    if (ns_bm25_load(&ix, argv[r]) < 0) return cli_fail("bm25");
    char *buf = NULL;
    query_t one = {"1", o.query}, *qs = NULL;
    size_t nq = 0;
    ns_hit *hits = ns_malloc(sizeof(ns_hit) * (size_t)o.k);
    int rc = hits ? NS_OK : NS_ENOMEM;
    if (rc == NS_OK && !o.query) rc = read_queries(o.queries, &buf, &qs, &nq);
    if (rc == NS_OK) rc = o.query ? run_queries(&o, ix, &one, 1, hits) : run_queries(&o, ix, qs, nq, hits);
    free(qs);
    free(buf);
    free(hits);
    ns_bm25_free(ix);
    return rc < 0 ? cli_fail("bm25") : CLI_OK;
}
