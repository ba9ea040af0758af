/*
 * gguf.c — GGUF v3 files: reading Llama and GPT-2 models with their
 * tokenizer and chat template, and writing ours.
 */
#include "llm_int.h"

int ns__llm_load_gguf(ns_llm **out, ns_bpe **tok, const char *path)
{
    *out = NULL;
    if (tok) *tok = NULL;
    return ns_err_set(NS_EUNSUPPORTED, "%s: GGUF files are not read yet", path);
}

int ns_llm_save_gguf(const ns_llm *m, const ns_bpe *tok, const char *chat_template, ns_llm_wtype t, const char *path)
{
    (void)m, (void)tok, (void)chat_template, (void)t;
    return ns_err_set(NS_EUNSUPPORTED, "%s: GGUF export is not written yet", path);
}
