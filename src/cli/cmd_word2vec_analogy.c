/*
 * cmd_word2vec_analogy.c — `northstar word2vec analogy`: 3CosAdd over a
 * vectors file, "A is to B as C is to ?", the k best answers.
 */
#include "cli.h"
#include "embed_common.h"
#include "northstar/base.h"
#include "northstar/vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar word2vec analogy [-k N] [--json] VECTORS A B C\n"
    "\n"
    "3CosAdd: B - A + C (\"A is to B as C is to ?\"), the k best answers (-k, default 5).\n"
    "--json: {\"a\": A, \"b\": B, \"c\": C, \"answers\": [{\"word\": X, \"cosine\": S}, ...]}.\n";

typedef struct {
    int k, json;
} analogy_opts;

static const cli_opt opts[] = {
    CLI_OPT_K(analogy_opts, k),
    CLI_OPT_JSON(analogy_opts, json),
};

#define CMD "word2vec"

int cmd_word2vec_analogy(int argc, char **argv)
{
    analogy_opts o = {5, 0};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r != 4) return cli_usage_error(CMD, "analogy needs VECTORS A B C");
    ns_vectors *v;
    if (ns_vec_read(&v, argv[r]) < 0) return cli_fail(CMD);
    int64_t *idx = malloc(sizeof *idx * (size_t)o.k);
    float *sim = malloc(sizeof *sim * (size_t)o.k);
    int got = idx && sim ? ns_vec_analogy(v, argv[r + 1], argv[r + 2], argv[r + 3], o.k, idx, sim) : NS_ENOMEM;
    int rc = CLI_OK;
    if (got < 0) rc = cli_fail(CMD);
    else if (o.json) {
        ns_buf b;
        ns_buf_init(&b);
        const char *keys[3] = {"{\"a\":", ",\"b\":", ",\"c\":"};
        for (int i = 0; i < 3; i++) {
            ns_buf_puts(&b, keys[i]);
            ns_buf_json_str(&b, argv[r + 1 + i], strlen(argv[r + 1 + i]));
        }
        ns_buf_puts(&b, ",\"answers\":");
        cli_w2v_hits_json(&b, v, idx, sim, got);
        ns_buf_puts(&b, "}\n");
        if (b.data) fputs(b.data, stdout);
        ns_buf_release(&b);
    } else {
        printf("%s : %s :: %s : ?\n", argv[r + 1], argv[r + 2], argv[r + 3]);
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}
