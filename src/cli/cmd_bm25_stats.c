/*
 * cmd_bm25_stats.c — `northstar bm25 stats`: what a BM25 index holds
 * (documents, terms, postings, mean length) and how it scores (k1, b,
 * stemmer, field weights), as text or JSON.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bm25.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar bm25 stats INDEX [--json]\n"
    "\n"
    "Documents, terms, postings and mean length of an index, and its k1, b,\n"
    "stemmer and field weights.\n"
    "      --json             one JSON object\n";

static int stats(const char *path, const cli_json_opts *o)
{
    ns_bm25 *ix;
    if (ns_bm25_load(&ix, path) < 0) return cli_fail("bm25");
    const ns_bm25_params *p = ns_bm25_get_params(ix);
    ns_bm25_stats st;
    ns_bm25_get_stats(ix, &st);
    if (o->json) {
        printf("{\"file\":\"%s\",\"docs\":%zu,\"terms\":%zu,\"postings\":%zu,\"avgdl\":%.3f,\"k1\":%g,\"b\":%g,\"stem\":\"%s\",\"fields\":[",
               path, st.docs, st.terms, st.postings, st.avgdl, (double)p->k1, (double)p->b, p->stem);
        for (int f = 0; f < p->nfields; f++)
            printf("%s{\"name\":\"%s\",\"weight\":%g}", f ? "," : "", p->field_names[f], (double)p->field_weights[f]);
        printf("]}\n");
    } else {
        printf("%s: BM25, %zu documents, %zu terms, %zu postings, mean length %.1f\n  k1 %g, b %g, stemmer %s, fields:",
               path, st.docs, st.terms, st.postings, st.avgdl, (double)p->k1, (double)p->b, p->stem[0] ? p->stem : "none");
        for (int f = 0; f < p->nfields; f++) printf(" %s=%g", p->field_names[f], (double)p->field_weights[f]);
        printf("\n");
    }
    ns_bm25_free(ix);
    return CLI_OK;
}

int cmd_bm25_stats(int argc, char **argv)
{
    cli_json_opts o = {0};
    int r = CLI_PARSE(argc, argv, "bm25", usage, cli_json_only, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error("bm25", "stats takes exactly one INDEX");
    return stats(argv[r], &o);
}
