/*
 * cmd_llm_info.c — `northstar llm info`: a model file's config, tensors
 * (name and size) and tokenizer.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bpe.h"
#include "northstar/llm.h"

#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar llm info [--model] MODEL\n"
    "\n"
    "Print a model's config, tensors and tokenizer.\n"
    "Short form: -m is --model.\n";

#define CMD "llm info"

typedef struct {
    const char *model;
} info_opts;

static const cli_opt opts[] = {CLI_STR("model", 'm', info_opts, model)};

static const char *tokenizer_kind(const ns_bpe *tok)
{
    return ns_bpe_type(tok) == NS_BPE_CHAR ? "char" : ns_bpe_type(tok) == NS_BPE_BYTE ? "byte-level BPE" : "scores";
}

int cmd_llm_info(int argc, char **argv)
{
    info_opts o = {NULL};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc && !o.model) o.model = argv[r++];
    if (!o.model) return cli_usage_error(CMD, "--model is required");
    ns_llm *m;
    ns_bpe *tok;
    if (ns_llm_load(&m, &tok, o.model) < 0) return cli_fail(CMD);
    char *cj = ns_llm_config_json(ns_llm_cfg(m));
    printf("%s\nconfig %s\nparams %zu\n", o.model, cj, ns_llm_num_params(m));
    free(cj);
    for (int i = 0; i < ns_llm_tensor_count(m); i++) {
        size_t n;
        const char *name = ns_llm_tensor_name(m, i);
        ns_llm_param(m, name, &n);
        printf("  %-14s %zu\n", name, n);
    }
    if (tok)
        printf("tokenizer %s, %d ids, bos %d, eos %d\n", tokenizer_kind(tok), ns_bpe_vocab_size(tok), ns_bpe_bos(tok),
               ns_bpe_eos(tok));
    else
        printf("tokenizer none\n");
    ns_llm_free(m);
    ns_bpe_free(tok);
    return CLI_OK;
}
