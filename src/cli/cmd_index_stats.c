/*
 * cmd_index_stats.c — `northstar index stats`: what an HNSW index holds
 * (vectors, deleted slots, levels, mean degree, memory) and how it was
 * built (dimension, metric, M, beam widths), as text or JSON.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar index stats INDEX [--json]\n"
    "\n"
    "Vectors, deleted slots, dimension, metric, M, beam widths, levels, mean\n"
    "level-0 degree and memory of an index.\n"
    "      --json                one JSON object\n";

static int stats(const char *path, const cli_json_opts *o)
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

int cmd_index_stats(int argc, char **argv)
{
    cli_json_opts o = {0};
    int r = CLI_PARSE(argc, argv, "index", usage, cli_json_only, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error("index", "stats takes exactly one INDEX");
    return stats(argv[r], &o);
}
