/*
 * cmd_word2vec_analogy.c — `northstar word2vec analogy`: 3CosAdd over a
 * vectors file, "A is to B as C is to ?", the k best answers.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/vec.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar word2vec analogy [-k N] VECTORS A B C\n"
    "\n"
    "3CosAdd: B - A + C (\"A is to B as C is to ?\"), the k best answers (-k, default 5).\n";

#define CMD "word2vec"

int cmd_word2vec_analogy(int argc, char **argv)
{
    cli_k_opts o = {5};
    int r = CLI_PARSE(argc, argv, CMD, usage, cli_k_only, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r != 4) return cli_usage_error(CMD, "analogy needs VECTORS A B C");
    ns_vectors *v;
    if (ns_vec_read(&v, argv[r]) < 0) return cli_fail(CMD);
    int64_t *idx = malloc(sizeof *idx * (size_t)o.k);
    float *sim = malloc(sizeof *sim * (size_t)o.k);
    int got = idx && sim ? ns_vec_analogy(v, argv[r + 1], argv[r + 2], argv[r + 3], o.k, idx, sim) : NS_ENOMEM;
    int rc = CLI_OK;
    if (got < 0) rc = cli_fail(CMD);
    else {
        printf("%s : %s :: %s : ?\n", argv[r + 1], argv[r + 2], argv[r + 3]);
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}
