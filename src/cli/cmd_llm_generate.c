/*
 * cmd_llm_generate.c — `northstar llm generate`: sample a continuation of a
 * prompt from a model, streamed to stdout as tokens arrive; or, with
 * --prompt-ids, feed token ids and print the generated ids (no tokenizer:
 * for benchmarks and cross-checks against other implementations).
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: northstar llm generate --model MODEL [--prompt TEXT] [options]\n"
    "\n"
    "Sample a continuation, streamed to stdout as tokens arrive.\n"
    LLM_MODEL_HELP
    "  -p, --prompt TEXT    the prompt (or the first argument; without one, standard\n"
    "                       input when it is not a terminal)\n"
    LLM_SAMPLING_HELP
    "  --stats              print prompt/generated token counts and tokens/s to stderr\n"
    "  --no-stream          print the text once generation ends\n"
    "  --prompt-file FILE   read the prompt from FILE (exact bytes; - is standard input)\n"
    "  --prompt-ids 'I J K' feed token ids and print generated ids (no tokenizer needed)\n"
    "A prompt longer than the context is truncated from the left (with a warning); generation\n"
    "ends when the context is full unless --slide.\n"
    "Invalid UTF-8 in the prompt is an error.\n";

#define CMD "llm generate"

typedef struct {
    llm_model f;
    llm_sampling s;
    const char *prompt, *prompt_file, *prompt_ids;
    int stats, no_stream;
} gen_opts;

static const cli_opt opts[] = {
    LLM_MODEL_OPTS(gen_opts, f),
    LLM_SAMPLING_OPTS(gen_opts, s),
    CLI_STR("prompt", 'p', gen_opts, prompt),
    CLI_STR("prompt-file", 0, gen_opts, prompt_file),
    CLI_STR("prompt-ids", 0, gen_opts, prompt_ids),
    CLI_FLAG("stats", 0, gen_opts, stats),
    CLI_FLAG("no-stream", 0, gen_opts, no_stream),
};

/* The ids of --prompt-ids (at most cap), each in [0, V); 0 after a usage error. */
static int parse_ids(const char *s, int V, int32_t *ids, int cap)
{
    int n = 0;
    for (const char *p = s; *p && n < cap;) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p) break;
        if (v < 0 || v >= V) {
            cli_usage_error(CMD, "--prompt-ids: id %ld outside [0, %d)", v, V);
            return 0;
        }
        ids[n++] = (int32_t)v;
        p = e;
    }
    if (!n) cli_usage_error(CMD, "--prompt-ids needs at least one id");
    return n;
}

/* Feed the n prompt ids, then sample and print ids until max_tokens or a
 * full context. */
static int sample_ids(const gen_opts *o, ns_llm_ctx *c, int32_t *ids, int n, int V, int Tm, float *lg)
{
    ns_llm_gen_cfg g = llm_gen_cfg(&o->s);
    if (n > Tm - 1) n = Tm - 1;
    ns_rng rng;
    ns_rng_seed(&rng, g.seed, 7);
    const float *logits;
    double t0 = ns_now();
    if (ns_llm_ctx_feed(c, ids, n, &logits) < 0) return NS_EINTERNAL;
    double t1 = ns_now();
    int gen = 0;
    for (; gen < g.max_tokens; gen++) {
        memcpy(lg, logits, sizeof(float) * (size_t)V);
        int next = ns_llm_sample(lg, V, &g, NULL, 0, &rng);
        printf("%s%d", gen ? " " : "", next);
        if (gen + 1 == g.max_tokens || ns_llm_ctx_pos(c) >= Tm) {
            gen++;
            break;
        }
        int32_t nx = next;
        if (ns_llm_ctx_feed(c, &nx, 1, &logits) < 0) return NS_EINTERNAL;
    }
    double t2 = ns_now();
    printf("\n");
    if (o->stats)
        fprintf(stderr, "prompt %d tokens in %.3fs; generated %d tokens in %.3fs: %.1f tokens/s (%s, %d threads)\n", n,
                t1 - t0, gen, t2 - t1, gen > 1 ? (gen - 1) / (t2 - t1) : 0.0, o->s.int8 ? "int8" : "fp32", ns_threads());
    return NS_OK;
}

/* Token ids in, token ids out. */
static int generate_ids(const gen_opts *o)
{
    if (!o->f.model) return cli_usage_error(CMD, "--model is required");
    ns_llm *m = NULL;
    if (ns_llm_load(&m, NULL, o->f.model) < 0) return cli_fail(CMD);
    int V = ns_llm_cfg(m)->vocab_size, Tm = ns_llm_cfg(m)->max_seq;
    int32_t ids[4096];
    int n = parse_ids(o->prompt_ids, V, ids, 4096);
    if (!n) {
        ns_llm_free(m);
        return CLI_USAGE;
    }
    ns_llm_ctx *c = NULL;
    float *lg = ns_malloc(sizeof(float) * (size_t)V);
    int rc = lg ? ns_llm_ctx_new(&c, m) : NS_ENOMEM;
    if (rc >= 0 && o->s.int8) rc = ns_llm_ctx_quantize_int8(c);
    if (rc >= 0) rc = sample_ids(o, c, ids, n, V, Tm, lg);
    free(lg);
    ns_llm_ctx_free(c);
    ns_llm_free(m);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}

/* --prompt-file's exact bytes into *buf (no NUL inside). */
static int read_prompt(const char *path, char **buf)
{
    size_t len;
    int rc = ns_file_read_all(path, buf, &len, (size_t)64 << 20);
    if (rc < 0) return rc;
    if (strlen(*buf) != len) {
        free(*buf);
        *buf = NULL;
        return ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "prompt contains a NUL byte");
    }
    return NS_OK;
}

static int generate(const gen_opts *o, const char *prompt)
{
    ns_llm *m;
    ns_bpe *tok;
    if (llm_load_model(&o->f, &m, &tok) < 0) return cli_fail(CMD);
    ns_llm_gen_cfg g = llm_gen_cfg(&o->s);
    ns_llm_gen_stats st;
    ns_buf out;
    ns_buf_init(&out);
    if (!o->no_stream) fputs(prompt, stdout);
    int rc = ns_llm_generate(m, tok, prompt, &g, o->no_stream ? NULL : llm_print_piece, NULL, &out, &st);
    if (o->no_stream && rc >= 0) fwrite(out.data, 1, out.len, stdout);
    printf("\n");
    if (rc >= 0 && o->stats)
        fprintf(stderr, "prompt %d tokens (%d truncated) in %.3fs; generated %d tokens in %.3fs: %.1f tokens/s; finish %s\n",
                st.prompt_tokens, st.truncated, st.prefill_s, st.gen_tokens, st.gen_s,
                st.gen_s > 0 ? (st.gen_tokens > 1 ? st.gen_tokens - 1 : st.gen_tokens) / st.gen_s : 0.0, st.finish);
    ns_buf_release(&out);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}

int cmd_llm_generate(int argc, char **argv)
{
    gen_opts o = {.s = llm_sampling_defaults()};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc && !o.prompt) o.prompt = argv[r++];
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (o.prompt_ids) return generate_ids(&o);
    if (!o.prompt && !o.prompt_file && !isatty(0)) o.prompt_file = "-"; /* a pipe or file on stdin */
    char *pfile = NULL;
    if (o.prompt_file && read_prompt(o.prompt_file, &pfile) < 0) return cli_fail(CMD);
    int rc = generate(&o, pfile ? pfile : o.prompt ? o.prompt : "");
    free(pfile);
    return rc;
}
