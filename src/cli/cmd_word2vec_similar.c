/*
 * cmd_word2vec_similar.c — `northstar word2vec similar`: the k nearest words
 * of each given word in a vectors file, by cosine.
 */
#include "cli.h"
#include "embed_common.h"
#include "northstar/base.h"
#include "northstar/vec.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar word2vec similar [-k N] [--json] VECTORS WORD...\n"
    "\n"
    "The k nearest words of each WORD by cosine (-k, default 10). --json: one\n"
    "object a line, {\"word\": W, \"neighbours\": [{\"word\": X, \"cosine\": C}, ...]}.\n";

typedef struct {
    int k, json;
} similar_opts;

static const cli_opt opts[] = {
    CLI_OPT_K(similar_opts, k),
    CLI_OPT_JSON(similar_opts, json),
};

static void print_json(const ns_vectors *v, int64_t w, const int64_t *idx, const float *sim, int got)
{
    ns_buf b;
    ns_buf_init(&b);
    size_t len;
    const char *word = ns_strmap_key(v->words, w, &len);
    ns_buf_puts(&b, "{\"word\":");
    ns_buf_json_str(&b, word, len);
    ns_buf_puts(&b, ",\"neighbours\":");
    cli_w2v_hits_json(&b, v, idx, sim, got);
    ns_buf_puts(&b, "}\n");
    if (b.data) fputs(b.data, stdout);
    ns_buf_release(&b);
}

#define CMD "word2vec"

int cmd_word2vec_similar(int argc, char **argv)
{
    similar_opts o = {10, 0};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
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
        if (o.json) {
            print_json(v, w, idx, sim, got);
            continue;
        }
        printf("%s:\n", ns_strmap_key(v->words, w, NULL));
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}
