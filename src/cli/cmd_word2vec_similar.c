/*
 * cmd_word2vec_similar.c — `northstar word2vec similar`: the k nearest words
 * of each given word in a vectors file, by cosine.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/vec.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar word2vec similar [-k N] VECTORS WORD...\n"
    "\n"
    "The k nearest words of each WORD by cosine (-k, default 10).\n";

#define CMD "word2vec"

int cmd_word2vec_similar(int argc, char **argv)
{
    cli_k_opts o = {10};
    int r = CLI_PARSE(argc, argv, CMD, usage, cli_k_only, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r < 2) return cli_usage_error(CMD, "similar needs VECTORS and at least one WORD");
    ns_vectors *v;
    if (ns_vec_read(&v, argv[r]) < 0) return cli_fail(CMD);
    int rc = CLI_OK;
    int64_t *idx = malloc(sizeof *idx * (size_t)o.k);
    float *sim = malloc(sizeof *sim * (size_t)o.k);
    for (int a = r + 1; a < argc && idx && sim; a++) {
        int64_t w = ns_vec_lookup(v, argv[a]);
        if (w < 0) {
            fprintf(stderr, "northstar %s: '%s' is not in the vocabulary of %s (%lld words)\n", CMD, argv[a], argv[r],
                    (long long)v->n);
            rc = CLI_FAIL;
            continue;
        }
        int got = ns_vec_nearest(v, v->v + (size_t)w * (size_t)v->dim, 0, &w, 1, o.k, idx, sim);
        printf("%s:\n", ns_strmap_key(v->words, w, NULL));
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}
