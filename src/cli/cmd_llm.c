/*
 * cmd_llm.c — `northstar llm <subcommand>`: the table of the subcommands that
 * train, fine-tune and run decoder-only transformers (GPT-2 and Llama
 * families) and their tokenizers, one file each (cmd_llm_<name>.c; what
 * they share is llm_common.h).
 */
#include "cli.h"

static const char intro[] = "usage: northstar llm <subcommand> [options]\n";

static const cli_sub subs[] = {
    {"tokenizer", cmd_llm_tokenizer, "train|encode|decode: a byte-level BPE (or char vocabulary); encode/decode text"},
    {"train", cmd_llm_train, "pre-train a GPT-2 or Llama style model on a text file"},
    {"generate", cmd_llm_generate, "sample text from a model (streams tokens as they come)"},
    {"chat", cmd_llm_chat, "interactive chat with an SFT model (<|user|>/<|assistant|> template)"},
    {"finetune-classify", cmd_llm_finetune_classify, "train a classification head on the last token (e.g. SMS spam)"},
    {"sft", cmd_llm_sft, "supervised fine-tuning on prompt/response JSONL (loss on responses only)"},
    {"export", cmd_llm_export, "write a Llama model in llama2.c format (+ tokenizer.bin)"},
    {"eval", cmd_llm_eval, "loss and perplexity of a model on a text file"},
    {"info", cmd_llm_info, "describe a model file"},
};

int cmd_llm(int argc, char **argv) { return CLI_DISPATCH(argc, argv, "llm", intro, subs, CLI_HELP_SUMMARY); }
