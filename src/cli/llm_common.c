/*
 * llm_common.c — the model loader, sampling options, text reader and
 * streaming printer shared by the `northstar llm` subcommands
 * (llm_common.h).
 */
#include "llm_common.h"
#include "northstar/base.h"

#include <stdio.h>
#include <string.h>

int llm_load_model(const llm_model *f, ns_llm **m, ns_bpe **tok)
{
    *m = NULL;
    *tok = NULL;
    if (!f->model) return ns_err_set(NS_EINVAL, "--model FILE is required");
    int rc = ns_llm_load(m, tok, f->model);
    if (rc >= 0 && f->tokenizer) {
        ns_bpe_free(*tok);
        *tok = NULL;
        rc = strstr(f->tokenizer, ".bin") ? ns_bpe_load_llama2c(tok, f->tokenizer, ns_llm_cfg(*m)->vocab_size)
                                          : ns_bpe_load(tok, f->tokenizer);
    }
    if (rc >= 0 && !*tok) rc = ns_err_set(NS_ENOTFOUND, "%s has no tokenizer inside: pass --tokenizer FILE", f->model);
    if (rc < 0) {
        ns_llm_free(*m);
        ns_bpe_free(*tok);
        *m = NULL;
        *tok = NULL;
    }
    return rc;
}

int llm_parse_stop(const char *cmd, const char *opt, const char *arg, void *field)
{
    llm_stops *s = field;
    if (s->n == (int)(sizeof s->s / sizeof s->s[0]))
        return cli_usage_error(cmd, "at most %d %s sequences", (int)(sizeof s->s / sizeof s->s[0]), opt);
    s->s[s->n++] = arg;
    return 0;
}

llm_sampling llm_sampling_defaults(void)
{
    return (llm_sampling){.max_tokens = 256, .temperature = 0.8, .top_k = 40, .top_p = 0.95, .repeat_penalty = 1.0,
                          .repeat_last_n = 64, .seed = 42};
}

ns_llm_gen_cfg llm_gen_cfg(const llm_sampling *s)
{
    ns_llm_gen_cfg g = ns_llm_gen_defaults();
    g.max_tokens = s->max_tokens;
    g.temperature = (float)s->temperature;
    g.top_k = s->top_k;
    g.top_p = (float)s->top_p;
    g.repeat_penalty = (float)s->repeat_penalty;
    g.repeat_last_n = s->repeat_last_n;
    g.seed = s->seed;
    g.stop = s->stop.s;
    g.n_stop = s->stop.n;
    g.int8 = s->int8;
    g.stop_at_eos = !s->ignore_eos;
    g.slide = s->slide;
    return g;
}

int llm_read_text(const char *path, char **buf, size_t *len)
{
    return ns_file_read_all(path, buf, len, (size_t)2 << 30);
}

int llm_print_piece(const char *p, size_t n, void *ctx)
{
    (void)ctx;
    fwrite(p, 1, n, stdout);
    fflush(stdout);
    return 0;
}
