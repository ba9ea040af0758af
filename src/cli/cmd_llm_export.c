/*
 * cmd_llm_export.c — `northstar llm export`: write a Llama-family model in
 * llama2.c's checkpoint format and its tokenizer as llama2.c's
 * tokenizer.bin, so llama2.c's run.c runs it.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bpe.h"
#include "northstar/llm.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar llm export --model MODEL --out model.bin [--tokenizer-out tokenizer.bin]\n"
    "\n"
    "Write a Llama-family model in llama2.c's checkpoint format (version 0: 7-int header, fp32\n"
    "weights, shared or separate classifier) and its byte-level BPE as tokenizer.bin, so that\n"
    "llama2.c's run.c can run it: ./run model.bin -z tokenizer.bin\n"
    "tokenizer.bin has one piece per model id (ids past the tokenizer's are \"<unusedN>\");\n"
    "bench/llm/crosscheck_runc.sh compares run.c's greedy output with ours.\n"
    "Short forms: -m is --model, -o is --out.\n";

#define CMD "llm export"

typedef struct {
    const char *model, *out, *tok_out;
} export_opts;

static const cli_opt opts[] = {
    CLI_STR("model", 'm', export_opts, model),
    CLI_OPT_OUT(export_opts, out),
    CLI_STR("tokenizer-out", 0, export_opts, tok_out),
};

int cmd_llm_export(int argc, char **argv)
{
    export_opts o = {NULL, NULL, NULL};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (!o.model || !o.out) return cli_usage_error(CMD, "--model and --out are required");
    ns_llm *m;
    ns_bpe *tok;
    if (ns_llm_load(&m, &tok, o.model) < 0) return cli_fail(CMD);
    int rc = ns_llm_export_llama2c(m, o.out);
    if (rc >= 0 && o.tok_out) {
        if (!tok) rc = ns_err_set(NS_ENOTFOUND, "%s has no tokenizer to export", o.model);
        else rc = ns_bpe_export_llama2c_n(tok, o.tok_out, ns_llm_cfg(m)->vocab_size);
    }
    if (rc >= 0) printf("wrote %s%s%s\n", o.out, o.tok_out ? " and " : "", o.tok_out ? o.tok_out : "");
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}
