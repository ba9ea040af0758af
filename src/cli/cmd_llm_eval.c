/*
 * cmd_llm_eval.c — `northstar llm eval`: mean cross-entropy and perplexity
 * of a model on random windows of a text file.
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar llm eval --model MODEL --data TEXT [--batch 12 --seq 64 --eval-iters 20 --seed 1337]\n"
    "\n"
    "Mean cross-entropy (nats/token) and perplexity on random windows of TEXT.\n"
    LLM_MODEL_HELP;

#define CMD "llm eval"

typedef struct {
    llm_model f;
    const char *data;
    int batch, seq, eval_iters;
    uint64_t seed;
} eval_opts;

static const cli_opt opts[] = {
    LLM_MODEL_OPTS(eval_opts, f),
    CLI_STR("data", 0, eval_opts, data),
    CLI_INT("batch", 0, eval_opts, batch, 1, 1 << 20),
    CLI_INT("seq", 0, eval_opts, seq, 1, 1 << 20),
    CLI_INT("eval-iters", 0, eval_opts, eval_iters, 1, 1 << 20),
    CLI_OPT_SEED(eval_opts, seed),
};

int cmd_llm_eval(int argc, char **argv)
{
    eval_opts o = {{NULL, NULL}, NULL, 12, 64, 20, 1337};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (!o.data) return cli_usage_error(CMD, "--data is required");
    ns_llm *m;
    ns_bpe *tok;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len, n;
    float loss;
    int rc = llm_load_model(&o.f, &m, &tok);
    if (rc >= 0) rc = llm_read_text(o.data, &text, &len);
    if (rc >= 0) rc = ns_bpe_encode(tok, text, len, 0, &ids, &n);
    if (rc >= 0) rc = ns_llm_eval_loss(m, ids, n, o.batch, o.seq, o.eval_iters, o.seed, &loss);
    if (rc >= 0)
        printf("loss %.4f perplexity %.2f over %d windows of %d x %d tokens\n", loss, exp(loss), o.eval_iters, o.batch,
               o.seq);
    free(text);
    free(ids);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}
