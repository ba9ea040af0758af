/*
 * cmd_llm.c — `northstar llm ...`: train, fine-tune and run decoder-only
 * transformers (GPT-2 and Llama families) and their tokenizers.
 *
 *   tokenizer train|encode|decode   byte-level BPE or character vocabularies
 *   train                           pre-train on a text file (resumable)
 *   generate / chat                 sample from a model (streamed)
 *   finetune-classify               GPT-1 style head on the last token
 *   sft                             prompt/response JSONL, loss on responses
 *   export                          llama2.c checkpoint + tokenizer.bin
 *   eval / info                     loss on a text file; describe a model
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bpe.h"
#include "northstar/llm.h"
#include "northstar/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar llm <subcommand> [options]\n"
    "\n"
    "Subcommands:\n"
    "  tokenizer train|encode|decode  train a byte-level BPE (or char vocabulary); encode/decode text\n"
    "  train               pre-train a GPT-2 or Llama style model on a text file\n"
    "  generate            sample text from a model (streams tokens as they come)\n"
    "  chat                interactive chat with an SFT model (<|user|>/<|assistant|> template)\n"
    "  finetune-classify   train a classification head on the last token (e.g. SMS spam)\n"
    "  sft                 supervised fine-tuning on prompt/response JSONL (loss on responses only)\n"
    "  export              write a Llama model in llama2.c format (+ tokenizer.bin)\n"
    "  eval                loss and perplexity of a model on a text file\n"
    "  info                describe a model file\n"
    "\n"
    "Run 'northstar llm <subcommand> --help' for its options.\n";

/* ======================================================================= */
/* shared option handling                                                    */
/* ======================================================================= */

typedef struct {
    const char *cmd;
    /* model shape */
    const char *arch, *config, *init;
    long layers, heads, kv_heads, dim, ff, context, bias, untied;
    /* data / tokenizer */
    const char *data, *tokenizer, *out, *model, *resume, *checkpoint, *prompt, *tok_out;
    int use_char;
    long bpe_vocab;
    double val_frac;
    /* training */
    long steps, batch, seq, warmup, accum, eval_every, eval_iters, ckpt_every, seed, decay_steps;
    double lr, min_lr, wd, clip, beta2;
    /* generation */
    long max_tokens, top_k, repeat_last_n;
    double temperature, top_p, repeat_penalty;
    const char *stops[8];
    int n_stop, int8, stats, no_stream, ignore_eos, random_init, slide;
    const char *prompt_ids, *prompt_file;
    /* tokenizer */
    long vocab;
    const char *specials[16];
    int n_specials;
    /* classify */
    long epochs;
} lopts;

static void lopts_init(lopts *o, const char *cmd)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->layers = o->heads = o->kv_heads = o->dim = o->ff = o->context = -1;
    o->bias = -1;
    o->steps = 2000;
    o->batch = 12;
    o->seq = 64;
    o->warmup = 100;
    o->accum = 1;
    o->eval_every = 250;
    o->eval_iters = 20;
    o->seed = 1337;
    o->decay_steps = -1;
    o->lr = 1e-3;
    o->min_lr = -1;
    o->wd = 0.1;
    o->clip = 1.0;
    o->beta2 = 0.99;
    o->val_frac = 0.1;
    o->max_tokens = 256;
    o->top_k = 40;
    o->repeat_last_n = 64;
    o->temperature = 0.8;
    o->top_p = 0.95;
    o->repeat_penalty = 1.0;
    o->vocab = 1024;
    o->epochs = 2;
}

enum {
    O_ARCH = 1000, O_CONFIG, O_INIT, O_LAYERS, O_HEADS, O_KVH, O_DIM, O_FF, O_CTX, O_BIAS, O_NOBIAS, O_UNTIED,
    O_DATA, O_TOK, O_OUT, O_MODEL, O_RESUME, O_CKPT, O_CKPT_EVERY, O_CHAR, O_BPE_VOCAB, O_VALFRAC, O_STEPS,
    O_BATCH, O_SEQ, O_WARMUP, O_ACCUM, O_EVAL_EVERY, O_EVAL_ITERS, O_SEED, O_LR, O_MINLR, O_WD, O_CLIP,
    O_BETA2, O_DECAY, O_PROMPT, O_MAXTOK, O_TEMP, O_TOPK, O_TOPP, O_REP, O_REPN, O_STOP, O_INT8, O_STATS,
    O_VOCAB, O_SPECIAL, O_TOKOUT, O_EPOCHS, O_NOSTREAM, O_IDS, O_NOEOS, O_INITRAND, O_PFILE, O_SLIDE
};

static const struct option all_opts[] = {
    {"arch", required_argument, NULL, O_ARCH}, {"config", required_argument, NULL, O_CONFIG},
    {"init", required_argument, NULL, O_INIT}, {"layers", required_argument, NULL, O_LAYERS},
    {"heads", required_argument, NULL, O_HEADS}, {"kv-heads", required_argument, NULL, O_KVH},
    {"dim", required_argument, NULL, O_DIM}, {"ff", required_argument, NULL, O_FF},
    {"context", required_argument, NULL, O_CTX}, {"bias", no_argument, NULL, O_BIAS},
    {"no-bias", no_argument, NULL, O_NOBIAS}, {"untied", no_argument, NULL, O_UNTIED},
    {"data", required_argument, NULL, O_DATA}, {"tokenizer", required_argument, NULL, O_TOK},
    {"out", required_argument, NULL, O_OUT}, {"model", required_argument, NULL, O_MODEL},
    {"resume", required_argument, NULL, O_RESUME}, {"checkpoint", required_argument, NULL, O_CKPT},
    {"checkpoint-every", required_argument, NULL, O_CKPT_EVERY}, {"char", no_argument, NULL, O_CHAR},
    {"bpe-vocab", required_argument, NULL, O_BPE_VOCAB}, {"val-frac", required_argument, NULL, O_VALFRAC},
    {"steps", required_argument, NULL, O_STEPS}, {"batch", required_argument, NULL, O_BATCH},
    {"seq", required_argument, NULL, O_SEQ}, {"warmup", required_argument, NULL, O_WARMUP},
    {"accum", required_argument, NULL, O_ACCUM}, {"eval-every", required_argument, NULL, O_EVAL_EVERY},
    {"eval-iters", required_argument, NULL, O_EVAL_ITERS}, {"seed", required_argument, NULL, O_SEED},
    {"lr", required_argument, NULL, O_LR}, {"min-lr", required_argument, NULL, O_MINLR},
    {"weight-decay", required_argument, NULL, O_WD}, {"clip", required_argument, NULL, O_CLIP},
    {"beta2", required_argument, NULL, O_BETA2}, {"decay-steps", required_argument, NULL, O_DECAY},
    {"prompt", required_argument, NULL, O_PROMPT}, {"max-tokens", required_argument, NULL, O_MAXTOK},
    {"temperature", required_argument, NULL, O_TEMP}, {"top-k", required_argument, NULL, O_TOPK},
    {"top-p", required_argument, NULL, O_TOPP}, {"repeat-penalty", required_argument, NULL, O_REP},
    {"repeat-last-n", required_argument, NULL, O_REPN}, {"stop", required_argument, NULL, O_STOP},
    {"int8", no_argument, NULL, O_INT8}, {"stats", no_argument, NULL, O_STATS},
    {"vocab", required_argument, NULL, O_VOCAB}, {"special", required_argument, NULL, O_SPECIAL},
    {"tokenizer-out", required_argument, NULL, O_TOKOUT}, {"epochs", required_argument, NULL, O_EPOCHS},
    {"no-stream", no_argument, NULL, O_NOSTREAM}, {"prompt-ids", required_argument, NULL, O_IDS},
    {"ignore-eos", no_argument, NULL, O_NOEOS}, {"prompt-file", required_argument, NULL, O_PFILE},
    {"slide", no_argument, NULL, O_SLIDE}, {"random-init", no_argument, NULL, O_INITRAND}, {0, 0, 0, 0},
};

static int on_opt(int c, const char *arg, void *ctx)
{
    lopts *o = ctx;
    const char *cmd = o->cmd;
    switch (c) {
    case 'm': o->model = arg; return 0;
    case 'o': o->out = arg; return 0;
    case 'p': o->prompt = arg; return 0;
    case 't': o->tokenizer = arg; return 0;
    case 'n': return cli_int(cmd, "--max-tokens", arg, 0, 1 << 24, &o->max_tokens) ? 1 : 0;
#define LI(K, field, lo, hi) case K: return cli_int(cmd, "--" #field, arg, lo, hi, &o->field) ? 1 : 0
#define LD(K, field, lo, hi) case K: return cli_double(cmd, "--" #field, arg, lo, hi, &o->field) ? 1 : 0
    case O_ARCH: o->arch = arg; return 0;
    case O_CONFIG: o->config = arg; return 0;
    case O_INIT: o->init = arg; return 0;
    LI(O_LAYERS, layers, 1, 1024);
    LI(O_HEADS, heads, 1, 1024);
    LI(O_KVH, kv_heads, 1, 1024);
    LI(O_DIM, dim, 1, 65536);
    LI(O_FF, ff, 1, 1 << 18);
    LI(O_CTX, context, 1, 1 << 20);
    case O_BIAS: o->bias = 1; return 0;
    case O_NOBIAS: o->bias = 0; return 0;
    case O_UNTIED: o->untied = 1; return 0;
    case O_DATA: o->data = arg; return 0;
    case O_TOK: o->tokenizer = arg; return 0;
    case O_OUT: o->out = arg; return 0;
    case O_MODEL: o->model = arg; return 0;
    case O_RESUME: o->resume = arg; return 0;
    case O_CKPT: o->checkpoint = arg; return 0;
    LI(O_CKPT_EVERY, ckpt_every, 0, 1L << 40);
    case O_CHAR: o->use_char = 1; return 0;
    LI(O_BPE_VOCAB, bpe_vocab, 260, 1 << 20);
    LD(O_VALFRAC, val_frac, 0, 0.9);
    LI(O_STEPS, steps, 0, 1L << 40);
    LI(O_BATCH, batch, 1, 1 << 20);
    LI(O_SEQ, seq, 1, 1 << 20);
    LI(O_WARMUP, warmup, 0, 1L << 40);
    LI(O_ACCUM, accum, 1, 1 << 20);
    LI(O_EVAL_EVERY, eval_every, 0, 1L << 40);
    LI(O_EVAL_ITERS, eval_iters, 1, 1 << 20);
    LI(O_SEED, seed, 0, 1L << 62);
    LD(O_LR, lr, 0, 10);
    LD(O_MINLR, min_lr, 0, 10);
    LD(O_WD, wd, 0, 10);
    LD(O_CLIP, clip, 0, 1e9);
    LD(O_BETA2, beta2, 0, 1);
    LI(O_DECAY, decay_steps, 1, 1L << 40);
    case O_PROMPT: o->prompt = arg; return 0;
    LI(O_MAXTOK, max_tokens, 0, 1 << 24);
    LD(O_TEMP, temperature, 0, 100);
    LI(O_TOPK, top_k, 0, 1 << 24);
    LD(O_TOPP, top_p, 0, 1);
    LD(O_REP, repeat_penalty, 0.01, 100);
    LI(O_REPN, repeat_last_n, 0, 1 << 20);
    case O_STOP:
        if (o->n_stop == 8) return cli_usage_error(cmd, "at most 8 --stop sequences");
        o->stops[o->n_stop++] = arg;
        return 0;
    case O_INT8: o->int8 = 1; return 0;
    case O_STATS: o->stats = 1; return 0;
    case O_NOSTREAM: o->no_stream = 1; return 0;
    case O_IDS: o->prompt_ids = arg; return 0;
    case O_PFILE: o->prompt_file = arg; return 0;
    case O_SLIDE: o->slide = 1; return 0;
    case O_NOEOS: o->ignore_eos = 1; return 0;
    case O_INITRAND: o->random_init = 1; return 0;
    LI(O_VOCAB, vocab, 259, 1 << 20);
    case O_SPECIAL:
        if (o->n_specials == 16) return cli_usage_error(cmd, "at most 16 --special tokens");
        o->specials[o->n_specials++] = arg;
        return 0;
    case O_TOKOUT: o->tok_out = arg; return 0;
    LI(O_EPOCHS, epochs, 1, 1000);
#undef LI
#undef LD
    }
    return 1;
}

static int ns__cli_llm_parse(int argc, char **argv, const char *cmd, const char *help, void *opts)
{
    lopts *o = opts;
    lopts_init(o, cmd);
    return cli_parse(argc, argv, cmd, help, "m:o:p:n:t:", all_opts, on_opt, o);
}

/* -m/-o/-p/-n/-t short forms are mapped by the subcommands' parse calls */

/* ======================================================================= */
/* helpers                                                                   */
/* ======================================================================= */

static int read_text(const char *path, char **buf, size_t *len)
{
    return ns_file_read_all(path, buf, len, (size_t)2 << 30);
}

/* Model + tokenizer from a file; a separate --tokenizer overrides. */
static int load_model(const lopts *o, ns_llm **m, ns_bpe **tok)
{
    if (!o->model) {
        ns_err_set(NS_EINVAL, "--model FILE is required");
        return NS_EINVAL;
    }
    int rc = ns_llm_load(m, tok, o->model);
    if (rc < 0) return rc;
    if (o->tokenizer) {
        ns_bpe_free(*tok);
        *tok = NULL;
        rc = strstr(o->tokenizer, ".bin") ? ns_bpe_load_llama2c(tok, o->tokenizer, ns_llm_cfg(*m)->vocab_size)
                                          : ns_bpe_load(tok, o->tokenizer);
        if (rc < 0) return rc;
    }
    if (!*tok) return ns_err_set(NS_ENOTFOUND, "%s has no tokenizer inside: pass --tokenizer FILE", o->model);
    return NS_OK;
}

/* ======================================================================= */
/* tokenizer                                                                 */
/* ======================================================================= */

static const char usage_tok[] =
    "usage: northstar llm tokenizer train [--vocab N | --char] [--special TEXT]... --out TOK.json CORPUS\n"
    "       northstar llm tokenizer encode --tokenizer TOK [TEXT]   (stdin when TEXT is absent)\n"
    "       northstar llm tokenizer decode --tokenizer TOK ID...\n"
    "\n"
    "train   byte-level BPE with N ids (259 base ids: <unk> <s> </s> and 256 bytes, then merges,\n"
    "        then --special tokens), or --char: one id per distinct character of CORPUS.\n"
    "encode  print the ids of TEXT, one line; decode prints the text of ids.\n"
    "TOK may be our JSON, a llama2.c tokenizer.bin, or a GPT-2 vocab.json (merges.txt beside it).\n";

static int cmd_tokenizer(int argc, char **argv)
{
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, "llm tokenizer", usage_tok, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("llm tokenizer", "missing action (train, encode or decode)");
    const char *act = argv[r++];
    if (!strcmp(act, "train")) {
        if (r != argc - 1) return cli_usage_error("llm tokenizer", "train takes one CORPUS file");
        if (!o.out) return cli_usage_error("llm tokenizer", "train needs --out FILE");
        char *text;
        size_t len;
        if (read_text(argv[r], &text, &len) < 0) return cli_fail("llm tokenizer");
        ns_bpe *b;
        double t0 = ns_now();
        int rc = o.use_char ? ns_bpe_char_from_text(&b, text, len)
                            : ns_bpe_train(&b, text, len, (int)o.vocab, o.specials, o.n_specials);
        free(text);
        if (rc < 0) return cli_fail("llm tokenizer");
        if (ns_bpe_save(b, o.out) < 0) {
            ns_bpe_free(b);
            return cli_fail("llm tokenizer");
        }
        printf("tokenizer: %d ids (%s) in %.2fs -> %s\n", ns_bpe_vocab_size(b), o.use_char ? "char" : "byte-level BPE",
               ns_now() - t0, o.out);
        ns_bpe_free(b);
        return CLI_OK;
    }
    if (!o.tokenizer) return cli_usage_error("llm tokenizer", "%s needs --tokenizer FILE", act);
    ns_bpe *b;
    if (ns_bpe_load(&b, o.tokenizer) < 0) return cli_fail("llm tokenizer");
    int ret = CLI_OK;
    if (!strcmp(act, "encode")) {
        char *text = NULL;
        size_t len = 0;
        if (r < argc) {
            text = ns_strdup(argv[r]);
            len = strlen(text);
        } else if (ns_file_read_all("/dev/stdin", &text, &len, (size_t)1 << 30) < 0) {
            ns_bpe_free(b);
            return cli_fail("llm tokenizer");
        }
        int32_t *ids;
        size_t n;
        if (ns_bpe_encode(b, text, len, 1, &ids, &n) < 0) {
            ret = cli_fail("llm tokenizer");
        } else {
            for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
            printf("\n");
            free(ids);
        }
        free(text);
    } else if (!strcmp(act, "decode")) {
        size_t n = (size_t)(argc - r);
        int32_t *ids = ns_malloc(sizeof(int32_t) * (n ? n : 1));
        for (size_t i = 0; i < n; i++) {
            long v;
            if (cli_int("llm tokenizer", "ID", argv[r + (int)i], 0, 1L << 30, &v)) {
                free(ids);
                ns_bpe_free(b);
                return CLI_USAGE;
            }
            ids[i] = (int32_t)v;
        }
        ns_buf out;
        ns_buf_init(&out);
        if (ns_bpe_decode(b, ids, n, &out) < 0) ret = cli_fail("llm tokenizer");
        else fwrite(out.data, 1, out.len, stdout), printf("\n");
        ns_buf_release(&out);
        free(ids);
    } else {
        ret = cli_usage_error("llm tokenizer", "unknown action '%s'", act);
    }
    ns_bpe_free(b);
    return ret;
}

/* ======================================================================= */
/* train                                                                     */
/* ======================================================================= */

static const char usage_train[] =
    "usage: northstar llm train --data TEXT --out MODEL [options]\n"
    "\n"
    "Pre-train on a text file: the first (1 - val-frac) of its tokens train, the rest validate.\n"
    "Model (a new one; or --init MODEL to continue from weights, --resume CKPT to resume exactly):\n"
    "  --arch gpt2|llama      family (default gpt2)       --config FILE|JSON   full config JSON\n"
    "  --layers N --heads N --kv-heads N --dim N --ff N --context N   (defaults: 4, 4, heads, 128, family, 256)\n"
    "  --bias / --no-bias     GPT-2 biases (default on)   --untied             separate output projection\n"
    "Tokenizer: --char (characters of TEXT), --bpe-vocab N (train a byte-level BPE), or --tokenizer FILE.\n"
    "Training (nanoGPT names): --steps 2000 --batch 12 --seq 64 --lr 1e-3 --min-lr lr/10 --warmup 100\n"
    "  --decay-steps steps --weight-decay 0.1 --beta2 0.99 --clip 1.0 --accum 1 --seed 1337\n"
    "  --eval-every 250 --eval-iters 20 --val-frac 0.1\n"
    "  --checkpoint CKPT --checkpoint-every N   write a resumable checkpoint (also at the end)\n"
    "Prints train/val loss at each evaluation, then 'final: ...' with val loss and tokens/s.\n"
    "  --random-init --vocab N   only write a model with fresh weights (no data, no tokenizer)\n";

static int build_config(const lopts *o, int vocab, ns_llm_config *c)
{
    if (o->config) {
        char *js = NULL;
        size_t n;
        int rc;
        if (o->config[0] == '{') rc = ns_llm_config_parse(c, o->config, "--config");
        else if ((rc = ns_file_read_all(o->config, &js, &n, 1 << 20)) >= 0) rc = ns_llm_config_parse(c, js, o->config);
        free(js);
        if (rc < 0) return rc;
    } else {
        int arch = NS_LLM_GPT2;
        if (o->arch && !strcmp(o->arch, "llama")) arch = NS_LLM_LLAMA;
        else if (o->arch && strcmp(o->arch, "gpt2"))
            return ns_err_set_at(NS_EINVAL, "", 0, "--arch", o->arch, "expected gpt2 or llama");
        *c = ns_llm_config_default((ns_llm_arch)arch);
        if (o->layers > 0) c->n_layer = (int)o->layers;
        if (o->heads > 0) c->n_head = (int)o->heads;
        c->n_kv_head = o->kv_heads > 0 ? (int)o->kv_heads : c->n_head;
        if (o->dim > 0) c->d_model = (int)o->dim;
        if (o->ff > 0) c->d_ff = (int)o->ff;
        else c->d_ff = arch == NS_LLM_GPT2 ? 4 * c->d_model : ((8 * c->d_model / 3 + 7) / 8) * 8;
        if (o->context > 0) c->max_seq = (int)o->context;
        if (o->bias >= 0) c->bias = (int)o->bias;
        if (o->untied) c->tied = 0;
    }
    if (vocab > c->vocab_size || !o->config) c->vocab_size = vocab;
    return ns_llm_config_validate(c);
}

/* Progress + eval loop shared by train and sft. */
static int train_loop(ns_llm_trainer *t, const ns_bpe *tok, const int32_t *tr, size_t ntr, const int32_t *va,
                           size_t nva, long steps, long eval_every, int eval_iters, const char *ckpt, long ckpt_every,
                           float *final_val, double *tok_s)
{
    const ns_llm_train_cfg *c = &t->cfg;
    long start = t->step;
    double tokens_per_step = (double)c->batch * c->seq * c->grad_accum;
    ns_progress p;
    ns_progress_begin(&p, "llm train", (double)(steps - start) * tokens_per_step, "tok");
    double t_train = 0, smooth = 0;
    float vl = NAN;
    for (long s = start; s < steps; s++) {
        if (eval_every > 0 && s % eval_every == 0 && va && nva > (size_t)c->seq + 1) {
            float tl_e, vl_e;
            if (ns_llm_eval_loss(t->m, tr, ntr, c->batch, c->seq, eval_iters, 1000 + (uint64_t)s, &tl_e) < 0 ||
                ns_llm_eval_loss(t->m, va, nva, c->batch, c->seq, eval_iters, 2000 + (uint64_t)s, &vl_e) < 0)
                return ns_err_last()->code;
            if (!ns_is_quiet()) {
                ns_progress_note(&p, " ");
                fprintf(stderr, "\r\033[Kstep %ld: train loss %.4f, val loss %.4f\n", s, tl_e, vl_e);
            }
        }
        double t0 = ns_now();
        float loss;
        int rc = ns_llm_train_step(t, tr, ntr, &loss);
        if (rc < 0) return rc;
        t_train += ns_now() - t0;
        smooth = s == start ? loss : 0.9 * smooth + 0.1 * loss;
        ns_progress_note(&p, "step %ld/%ld loss %.4f lr %.2e", s + 1, steps, smooth, (double)t->last_lr);
        ns_progress_add(&p, (long long)tokens_per_step);
        if (ckpt && ckpt_every > 0 && (s + 1) % ckpt_every == 0 && s + 1 < steps) {
            rc = ns_llm_checkpoint_save(t, tok, ckpt);
            if (rc < 0) return rc;
        }
    }
    ns_progress_end(&p);
    if (va && nva > (size_t)c->seq + 1) {
        int rc = ns_llm_eval_loss(t->m, va, nva, c->batch, c->seq, eval_iters, 9999, &vl);
        if (rc < 0) return rc;
    }
    if (ckpt) {
        int rc = ns_llm_checkpoint_save(t, tok, ckpt);
        if (rc < 0) return rc;
    }
    *final_val = vl;
    *tok_s = t_train > 0 ? (double)(steps - start) * tokens_per_step / t_train : 0;
    return NS_OK;
}

static int cmd_train(int argc, char **argv)
{
    const char *cmd = "llm train";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_train, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (o.random_init) {
        /* a model with fresh weights and no tokenizer (benchmarks, tests) */
        if (!o.out) return cli_usage_error(cmd, "--random-init needs --out");
        ns_llm_config c;
        ns_llm *m;
        if (build_config(&o, (int)o.vocab, &c) < 0 || ns_llm_new(&m, &c) < 0) return cli_fail(cmd);
        ns_llm_init(m, (uint64_t)o.seed);
        int rc = ns_llm_save(m, NULL, o.out);
        printf("random %s model, %zu params -> %s\n", ns_llm_arch_name(c.arch), ns_llm_num_params(m), o.out);
        ns_llm_free(m);
        return rc < 0 ? cli_fail(cmd) : CLI_OK;
    }
    if (!o.data) return cli_usage_error(cmd, "--data FILE is required");
    if (!o.out && !o.checkpoint) return cli_usage_error(cmd, "--out MODEL (or --checkpoint CKPT) is required");
    char *text;
    size_t len;
    if (read_text(o.data, &text, &len) < 0) return cli_fail(cmd);
    int ret = CLI_FAIL;
    ns_bpe *tok = NULL;
    ns_llm *m = NULL;
    int32_t *ids = NULL;
    ns_llm_trainer t;
    memset(&t, 0, sizeof t);
    int have_trainer = 0;
    if (o.resume) {
        if (ns_llm_checkpoint_load(&t, &m, &tok, o.resume) < 0) goto fail;
        have_trainer = 1;
        if (!tok) {
            ns_err_set(NS_EFORMAT, "%s has no tokenizer", o.resume);
            goto fail;
        }
    } else if (o.init) {
        if (ns_llm_load(&m, &tok, o.init) < 0) goto fail;
    }
    if (!tok) {
        int rc;
        if (o.tokenizer) rc = ns_bpe_load(&tok, o.tokenizer);
        else if (o.bpe_vocab) rc = ns_bpe_train(&tok, text, len, (int)o.bpe_vocab, NULL, 0);
        else rc = ns_bpe_char_from_text(&tok, text, len);
        if (rc < 0) goto fail;
    }
    size_t n;
    if (ns_bpe_encode(tok, text, len, 0, &ids, &n) < 0) goto fail;
    free(text);
    text = NULL;
    size_t ntr = (size_t)((double)n * (1.0 - o.val_frac));
    if (!m) {
        ns_llm_config c;
        if (build_config(&o, ns_bpe_vocab_size(tok), &c) < 0) goto fail;
        if (ns_llm_new(&m, &c) < 0) goto fail;
        ns_llm_init(m, (uint64_t)o.seed);
    }
    if (!have_trainer) {
        ns_llm_train_cfg tc = ns_llm_train_defaults();
        tc.lr = (float)o.lr;
        tc.min_lr = o.min_lr >= 0 ? (float)o.min_lr : (float)o.lr / 10;
        tc.warmup = o.warmup;
        tc.decay_steps = o.decay_steps > 0 ? o.decay_steps : o.steps;
        tc.beta2 = (float)o.beta2;
        tc.weight_decay = (float)o.wd;
        tc.grad_clip = (float)o.clip;
        tc.grad_accum = (int)o.accum;
        tc.batch = (int)o.batch;
        tc.seq = (int)o.seq;
        tc.seed = (uint64_t)o.seed;
        if (ns_llm_trainer_init(&t, m, &tc) < 0) goto fail;
        have_trainer = 1;
    }
    const ns_llm_config *mc = ns_llm_cfg(m);
    if (!ns_is_quiet())
        fprintf(stderr, "llm train: %s, %zu params, L%d H%d KVH%d C%d F%d ctx %d, vocab %d; %zu train / %zu val tokens\n",
                ns_llm_arch_name(mc->arch), ns_llm_num_params(m), mc->n_layer, mc->n_head, mc->n_kv_head, mc->d_model,
                mc->d_ff, mc->max_seq, mc->vocab_size, ntr, n - ntr);
    float vl = NAN;
    double tps = 0;
    if (train_loop(&t, tok, ids, ntr, ids + ntr, n - ntr, o.steps, o.eval_every, (int)o.eval_iters,
                               o.checkpoint, o.ckpt_every, &vl, &tps) < 0)
        goto fail;
    if (o.out && ns_llm_save(m, tok, o.out) < 0) goto fail;
    printf("final: step %ld val_loss %.4f train_tokens_per_s %.0f threads %d\n", t.step, vl, tps, ns_threads());
    ret = CLI_OK;
    goto done;
fail:
    ret = cli_fail(cmd);
done:
    if (have_trainer) ns_llm_trainer_release(&t);
    free(text);
    free(ids);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}

/* ======================================================================= */
/* generate / chat                                                           */
/* ======================================================================= */

static const char usage_gen[] =
    "usage: northstar llm generate --model MODEL [--prompt TEXT] [options]\n"
    "\n"
    "Sample a continuation, streamed to stdout as tokens arrive.\n"
    "  --tokenizer FILE     tokenizer when MODEL has none inside (llama2.c .bin models need tokenizer.bin)\n"
    "  --max-tokens 256 --temperature 0.8 (0 = greedy) --top-k 40 --top-p 0.95 --seed 42\n"
    "  --repeat-penalty 1.0 --repeat-last-n 64   --stop TEXT (up to 8)   --int8 (quantised weights)\n"
    "  --stats              print prompt/generated token counts and tokens/s to stderr\n"
    "  --prompt-file FILE   read the prompt from FILE (exact bytes)\n"
    "  --prompt-ids 'I J K' feed token ids and print generated ids (no tokenizer needed)\n"
    "  --ignore-eos         do not stop at the EOS token\n"
    "  --slide              when the context is full, keep its last half and go on\n"
    "A prompt longer than the context is truncated from the left (with a warning); generation\n"
    "ends when the context is full unless --slide.\n"
    "Invalid UTF-8 in the prompt is an error.\n";

static int print_piece(const char *p, size_t n, void *ctx)
{
    (void)ctx;
    fwrite(p, 1, n, stdout);
    fflush(stdout);
    return 0;
}

static void gen_cfg_from(const lopts *o, ns_llm_gen_cfg *g)
{
    *g = ns_llm_gen_defaults();
    g->max_tokens = (int)o->max_tokens;
    g->temperature = (float)o->temperature;
    g->top_k = (int)o->top_k;
    g->top_p = (float)o->top_p;
    g->repeat_penalty = (float)o->repeat_penalty;
    g->repeat_last_n = (int)o->repeat_last_n;
    g->seed = (uint64_t)(o->seed == 1337 ? 42 : o->seed);
    g->stop = o->stops;
    g->n_stop = o->n_stop;
    g->int8 = o->int8;
    g->stop_at_eos = !o->ignore_eos;
    g->slide = o->slide;
}

/* Token ids in, token ids out: for benchmarks and cross-checks against
 * other implementations on the same weights. */
static int generate_ids(const lopts *o)
{
    const char *cmd = "llm generate";
    ns_llm *m = NULL;
    if (!o->model) return cli_usage_error(cmd, "--model is required");
    if (ns_llm_load(&m, NULL, o->model) < 0) return cli_fail(cmd);
    int V = ns_llm_cfg(m)->vocab_size, Tm = ns_llm_cfg(m)->max_seq;
    int32_t ids[4096];
    int n = 0;
    for (const char *p = o->prompt_ids; *p && n < 4096;) {
        char *e;
        long v = strtol(p, &e, 10);
        if (e == p) break;
        if (v < 0 || v >= V) {
            ns_llm_free(m);
            return cli_usage_error(cmd, "--prompt-ids: id %ld outside [0, %d)", v, V);
        }
        ids[n++] = (int32_t)v;
        p = e;
    }
    if (!n) {
        ns_llm_free(m);
        return cli_usage_error(cmd, "--prompt-ids needs at least one id");
    }
    ns_llm_gen_cfg g;
    gen_cfg_from(o, &g);
    ns_llm_ctx *c = NULL;
    float *lg = ns_malloc(sizeof(float) * (size_t)V);
    int ret = CLI_OK;
    if (ns_llm_ctx_new(&c, m) < 0 || (o->int8 && ns_llm_ctx_quantize_int8(c) < 0)) {
        ret = cli_fail(cmd);
        goto done;
    }
    if (n > Tm - 1) n = Tm - 1;
    ns_rng rng;
    ns_rng_seed(&rng, g.seed, 7);
    const float *logits;
    double t0 = ns_now();
    if (ns_llm_ctx_feed(c, ids, n, &logits) < 0) {
        ret = cli_fail(cmd);
        goto done;
    }
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
        if (ns_llm_ctx_feed(c, &nx, 1, &logits) < 0) {
            ret = cli_fail(cmd);
            goto done;
        }
    }
    double t2 = ns_now();
    printf("\n");
    if (o->stats)
        fprintf(stderr, "prompt %d tokens in %.3fs; generated %d tokens in %.3fs: %.1f tokens/s (%s, %d threads)\n", n,
                t1 - t0, gen, t2 - t1, gen > 1 ? (gen - 1) / (t2 - t1) : 0.0, o->int8 ? "int8" : "fp32", ns_threads());
done:
    free(lg);
    ns_llm_ctx_free(c);
    ns_llm_free(m);
    return ret;
}

static int cmd_generate(int argc, char **argv)
{
    const char *cmd = "llm generate";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_gen, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc && !o.prompt) o.prompt = argv[r++];
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (o.prompt_ids) return generate_ids(&o);
    char *pfile = NULL;
    if (o.prompt_file) {
        size_t pl;
        if (ns_file_read_all(o.prompt_file, &pfile, &pl, (size_t)64 << 20) < 0) return cli_fail(cmd);
        if (strlen(pfile) != pl) {
            free(pfile);
            ns_err_set_at(NS_EFORMAT, o.prompt_file, 0, NULL, NULL, "prompt contains a NUL byte");
            return cli_fail(cmd);
        }
        o.prompt = pfile;
    }
    ns_llm *m = NULL;
    ns_bpe *tok = NULL;
    if (load_model(&o, &m, &tok) < 0) {
        ns_llm_free(m);
        free(pfile);
        return cli_fail(cmd);
    }
    ns_llm_gen_cfg g;
    gen_cfg_from(&o, &g);
    ns_llm_gen_stats st;
    ns_buf out;
    ns_buf_init(&out);
    const char *prompt = o.prompt ? o.prompt : "";
    if (!o.no_stream) fputs(prompt, stdout);
    int rc = ns_llm_generate(m, tok, prompt, &g, o.no_stream ? NULL : print_piece, NULL, &out, &st);
    if (o.no_stream && rc >= 0) fwrite(out.data, 1, out.len, stdout);
    printf("\n");
    if (rc >= 0 && o.stats)
        fprintf(stderr, "prompt %d tokens (%d truncated) in %.3fs; generated %d tokens in %.3fs: %.1f tokens/s; finish %s\n",
                st.prompt_tokens, st.truncated, st.prefill_s, st.gen_tokens, st.gen_s,
                st.gen_s > 0 ? (st.gen_tokens > 1 ? st.gen_tokens - 1 : st.gen_tokens) / st.gen_s : 0.0, st.finish);
    ns_buf_release(&out);
    ns_llm_free(m);
    ns_bpe_free(tok);
    rc = rc < 0 ? cli_fail(cmd) : CLI_OK;
    free(pfile);
    return rc;
}

static const char usage_chat[] =
    "usage: northstar llm chat --model MODEL [generation options]\n"
    "\n"
    "Interactive chat on stdin/stdout. Each turn is formatted as the SFT template:\n"
    "  <|user|>\\n{message}\\n<|assistant|>\\n{reply}\\n\n"
    "and the reply stops at <|user|>, </s> or end of context (the conversation so far is kept\n"
    "and truncated from the left). Empty line or EOF ends the session.\n";

static int cmd_chat(int argc, char **argv)
{
    const char *cmd = "llm chat";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_chat, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    ns_llm *m = NULL;
    ns_bpe *tok = NULL;
    if (load_model(&o, &m, &tok) < 0) {
        ns_llm_free(m);
        return cli_fail(cmd);
    }
    ns_llm_gen_cfg g;
    gen_cfg_from(&o, &g);
    static const char *stops[] = {"<|user|>", "\n<|"};
    if (!g.n_stop) {
        g.stop = stops;
        g.n_stop = 2;
    }
    ns_buf hist;
    ns_buf_init(&hist);
    char line[8192];
    int ret = CLI_OK;
    for (;;) {
        fputs("> ", stdout);
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) break;
        size_t L = strlen(line);
        while (L && (line[L - 1] == '\n' || line[L - 1] == '\r')) line[--L] = 0;
        if (!L) break;
        if (!ns_utf8_valid(line, L)) {
            fprintf(stderr, "northstar llm chat: input is not valid UTF-8, ignored\n");
            continue;
        }
        ns_buf_printf(&hist, "<|user|>\n%s\n<|assistant|>\n", line);
        ns_buf reply;
        ns_buf_init(&reply);
        ns_llm_gen_stats st;
        int rc = ns_llm_generate(m, tok, hist.data, &g, print_piece, NULL, &reply, &st);
        printf("\n");
        if (rc < 0) {
            ret = cli_fail(cmd);
            ns_buf_release(&reply);
            break;
        }
        ns_buf_append(&hist, reply.data ? reply.data : "", reply.len);
        ns_buf_puts(&hist, "\n");
        ns_buf_release(&reply);
    }
    ns_buf_release(&hist);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}

/* ======================================================================= */
/* finetune-classify / sft                                                   */
/* ======================================================================= */

static const char usage_cls[] =
    "usage: northstar llm finetune-classify --model MODEL --data FILE|DIR [--out CLS] [options]\n"
    "\n"
    "GPT-1 style fine-tuning: a linear head on the last token's final hidden state, trained with\n"
    "the whole model. DATA is 'label<TAB>text' per line (the SMS Spam Collection format; a\n"
    "directory means DIR/SMSSpamCollection). Held-out split: every 5th line (line %% 5 == 0) is\n"
    "test, the rest train. Prints accuracy and per-class precision/recall/F1 on the test lines.\n"
    "  --epochs 2 --batch 16 --lr 3e-4 --weight-decay 0.01 --seq 64 (max tokens per text) --seed\n";

static int cmd_classify(int argc, char **argv)
{
    const char *cmd = "llm finetune-classify";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_cls, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (!o.data) return cli_usage_error(cmd, "--data is required");
    char path[4096];
    snprintf(path, sizeof path, "%s", o.data);
    if (ns_file_exists(path) && !strstr(path, "SMSSpam")) {
        char alt[4200];
        snprintf(alt, sizeof alt, "%s/SMSSpamCollection", o.data);
        FILE *f = fopen(alt, "r");
        if (f) {
            fclose(f);
            snprintf(path, sizeof path, "%s", alt);
        }
    }
    ns_llm *m = NULL;
    ns_bpe *tok = NULL;
    char *text = NULL;
    size_t len;
    int ret = CLI_FAIL;
    const char **tr_t = NULL, **te_t = NULL;
    int *tr_y = NULL, *te_y = NULL, *pred = NULL, ntr = 0, nte = 0;
    char **labels = NULL;
    int nlab = 0;
    float *head = NULL;
    if (load_model(&o, &m, &tok) < 0 || read_text(path, &text, &len) < 0) goto fail;
    size_t nl = 1;
    for (size_t i = 0; i < len; i++) nl += text[i] == '\n';
    tr_t = ns_malloc(sizeof(char *) * nl);
    te_t = ns_malloc(sizeof(char *) * nl);
    tr_y = ns_malloc(sizeof(int) * nl);
    te_y = ns_malloc(sizeof(int) * nl);
    labels = ns_calloc(64, sizeof(char *));
    if (!tr_t || !te_t || !tr_y || !te_y || !labels) goto fail;
    long lineno = 0;
    for (char *p = text, *e; p < text + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(text + len - p));
        if (!e) e = text + len;
        *e = 0;
        lineno++;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        if (!*p) continue;
        char *tab = strchr(p, '\t');
        if (!tab) {
            ns_err_set_at(NS_EFORMAT, path, lineno, NULL, NULL, "expected 'label<TAB>text'");
            goto fail;
        }
        *tab = 0;
        int y = -1;
        for (int k = 0; k < nlab; k++)
            if (!strcmp(labels[k], p)) y = k;
        if (y < 0) {
            if (nlab == 64) {
                ns_err_set_at(NS_ERANGE, path, lineno, "label", p, "more than 64 labels");
                goto fail;
            }
            labels[nlab] = p;
            y = nlab++;
        }
        if (lineno % 5 == 0) te_t[nte] = tab + 1, te_y[nte++] = y;
        else tr_t[ntr] = tab + 1, tr_y[ntr++] = y;
    }
    if (nlab < 2 || !ntr || !nte) {
        ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "need >= 2 labels and both train and test lines");
        goto fail;
    }
    ns_llm_cls_cfg cc = ns_llm_cls_defaults();
    cc.n_classes = nlab;
    cc.epochs = (int)o.epochs;
    cc.batch = (int)(o.batch == 12 ? 16 : o.batch);
    cc.max_len = (int)o.seq;
    cc.lr = o.lr == 1e-3 ? 3e-4f : (float)o.lr;
    cc.weight_decay = o.wd == 0.1 ? 0.01f : (float)o.wd;
    cc.seed = (uint64_t)o.seed;
    int C = ns_llm_cfg(m)->d_model;
    head = ns_malloc(sizeof(float) * (size_t)nlab * (C + 1));
    pred = ns_malloc(sizeof(int) * (size_t)nte);
    if (!head || !pred) goto fail;
    double t0 = ns_now();
    float loss;
    if (ns_llm_cls_train(m, tok, tr_t, tr_y, ntr, &cc, head, &loss) < 0) goto fail;
    double t1 = ns_now();
    if (ns_llm_cls_predict(m, tok, te_t, nte, cc.max_len, head, nlab, pred) < 0) goto fail;
    int correct = 0;
    for (int i = 0; i < nte; i++) correct += pred[i] == te_y[i];
    printf("finetune-classify: %d train / %d test texts, %d labels, %.1fs training (final loss %.4f)\n", ntr, nte,
           nlab, t1 - t0, loss);
    printf("accuracy %.4f\n", (double)correct / nte);
    for (int k = 0; k < nlab; k++) {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < nte; i++) {
            tp += pred[i] == k && te_y[i] == k;
            fp += pred[i] == k && te_y[i] != k;
            fn += pred[i] != k && te_y[i] == k;
        }
        double pr = tp + fp ? (double)tp / (tp + fp) : 0, rc = tp + fn ? (double)tp / (tp + fn) : 0;
        printf("class %-8s precision %.4f recall %.4f f1 %.4f (support %d)\n", labels[k], pr, rc,
               pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0.0, tp + fn);
    }
    if (o.out && ns_llm_cls_save(m, tok, head, nlab, o.out) < 0) goto fail;
    ret = CLI_OK;
    goto done;
fail:
    ret = cli_fail(cmd);
done:
    free(tr_t);
    free(te_t);
    free(tr_y);
    free(te_y);
    free(labels);
    free(pred);
    free(head);
    free(text);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}

static const char usage_sft[] =
    "usage: northstar llm sft --model MODEL --data FILE.jsonl --out MODEL [options]\n"
    "\n"
    "Supervised fine-tuning on {\"prompt\": ..., \"response\": ...} lines. Each example is\n"
    "  <|user|>\\n{prompt}\\n<|assistant|>\\n{response}</s>\n"
    "and the loss counts the response tokens (and EOS) only. The tokenizer should know\n"
    "<|user|> and <|assistant|> as special tokens (tokenizer train --special ...); otherwise\n"
    "they are encoded as plain text.\n"
    "  --steps 200 --batch 8 --lr 1e-4 --warmup 10 --seq (max tokens, default the context) --seed\n";

static int cmd_sft(int argc, char **argv)
{
    const char *cmd = "llm sft";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_sft, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (!o.data || !o.out) return cli_usage_error(cmd, "--data and --out are required");
    ns_llm *m = NULL;
    ns_bpe *tok = NULL;
    ns_llm_sft_ex *ex = NULL;
    int n = 0, ret = CLI_FAIL;
    ns_llm_trainer t;
    memset(&t, 0, sizeof t);
    if (load_model(&o, &m, &tok) < 0) goto fail;
    int maxlen = o.seq == 64 ? ns_llm_cfg(m)->max_seq : (int)o.seq;
    if (maxlen > ns_llm_cfg(m)->max_seq) maxlen = ns_llm_cfg(m)->max_seq;
    if (ns_llm_sft_load(o.data, tok, maxlen, &ex, &n) < 0) goto fail;
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    long steps = o.steps == 2000 ? 200 : o.steps;
    tc.lr = o.lr == 1e-3 ? 1e-4f : (float)o.lr;
    tc.min_lr = tc.lr / 10;
    tc.warmup = o.warmup == 100 ? 10 : o.warmup;
    tc.decay_steps = steps;
    tc.batch = (int)(o.batch == 12 ? 8 : o.batch);
    tc.seq = 1;
    tc.weight_decay = (float)o.wd;
    tc.seed = (uint64_t)o.seed;
    if (ns_llm_trainer_init(&t, m, &tc) < 0) goto fail;
    ns_progress p;
    ns_progress_begin(&p, "llm sft", (double)steps, "steps");
    float loss = 0, first = 0;
    for (long s = 0; s < steps; s++) {
        if (ns_llm_sft_step(&t, ex, n, &loss) < 0) goto fail;
        if (!s) first = loss;
        ns_progress_note(&p, "loss %.4f", loss);
        ns_progress_add(&p, 1);
    }
    ns_progress_end(&p);
    if (ns_llm_save(m, tok, o.out) < 0) goto fail;
    printf("sft: %d examples, %ld steps, response loss %.4f -> %.4f, wrote %s\n", n, steps, first, loss, o.out);
    ret = CLI_OK;
    goto done;
fail:
    ret = cli_fail(cmd);
done:
    ns_llm_trainer_release(&t);
    ns_llm_sft_free(ex, n);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}

/* ======================================================================= */
/* export / eval / info                                                      */
/* ======================================================================= */

static const char usage_export[] =
    "usage: northstar llm export --model MODEL --out model.bin [--tokenizer-out tokenizer.bin]\n"
    "\n"
    "Write a Llama-family model in llama2.c's checkpoint format (version 0: 7-int header, fp32\n"
    "weights, shared or separate classifier) and its byte-level BPE as tokenizer.bin, so that\n"
    "llama2.c's run.c can run it: ./run model.bin -z tokenizer.bin\n"
    "tokenizer.bin has one piece per model id (ids past the tokenizer's are \"<unusedN>\");\n"
    "bench/llm/crosscheck_runc.sh compares run.c's greedy output with ours.\n";

static int cmd_export(int argc, char **argv)
{
    const char *cmd = "llm export";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_export, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (!o.model || !o.out) return cli_usage_error(cmd, "--model and --out are required");
    ns_llm *m;
    ns_bpe *tok;
    if (ns_llm_load(&m, &tok, o.model) < 0) return cli_fail(cmd);
    int rc = ns_llm_export_llama2c(m, o.out);
    if (rc >= 0 && o.tok_out) {
        if (!tok) rc = ns_err_set(NS_ENOTFOUND, "%s has no tokenizer to export", o.model);
        else rc = ns_bpe_export_llama2c_n(tok, o.tok_out, ns_llm_cfg(m)->vocab_size);
    }
    if (rc >= 0) printf("wrote %s%s%s\n", o.out, o.tok_out ? " and " : "", o.tok_out ? o.tok_out : "");
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(cmd) : CLI_OK;
}

static const char usage_eval[] =
    "usage: northstar llm eval --model MODEL --data TEXT [--batch 12 --seq 64 --eval-iters 20]\n"
    "\n"
    "Mean cross-entropy (nats/token) and perplexity on random windows of TEXT.\n";

static int cmd_eval(int argc, char **argv)
{
    const char *cmd = "llm eval";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_eval, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[r]);
    if (!o.data) return cli_usage_error(cmd, "--data is required");
    ns_llm *m = NULL;
    ns_bpe *tok = NULL;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len, n;
    int ret = CLI_OK;
    float loss;
    if (load_model(&o, &m, &tok) < 0 || read_text(o.data, &text, &len) < 0 ||
        ns_bpe_encode(tok, text, len, 0, &ids, &n) < 0 ||
        ns_llm_eval_loss(m, ids, n, (int)o.batch, (int)o.seq, (int)o.eval_iters, (uint64_t)o.seed, &loss) < 0)
        ret = cli_fail(cmd);
    else
        printf("loss %.4f perplexity %.2f over %ld windows of %ld x %ld tokens\n", loss, exp(loss), o.eval_iters,
               o.batch, o.seq);
    free(text);
    free(ids);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}

static const char usage_info[] = "usage: northstar llm info --model MODEL\n\nPrint a model's config, tensors and tokenizer.\n";

static int cmd_info(int argc, char **argv)
{
    const char *cmd = "llm info";
    lopts o;
    int r = ns__cli_llm_parse(argc, argv, cmd, usage_info, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc && !o.model) o.model = argv[r++];
    if (!o.model) return cli_usage_error(cmd, "--model is required");
    ns_llm *m;
    ns_bpe *tok;
    if (ns_llm_load(&m, &tok, o.model) < 0) return cli_fail(cmd);
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
        printf("tokenizer %s, %d ids, bos %d, eos %d\n",
               ns_bpe_type(tok) == NS_BPE_CHAR ? "char" : ns_bpe_type(tok) == NS_BPE_BYTE ? "byte-level BPE" : "scores",
               ns_bpe_vocab_size(tok), ns_bpe_bos(tok), ns_bpe_eos(tok));
    else
        printf("tokenizer none\n");
    ns_llm_free(m);
    ns_bpe_free(tok);
    return CLI_OK;
}

/* ======================================================================= */
/* dispatch                                                                  */
/* ======================================================================= */

static const struct {
    const char *name;
    int (*fn)(int, char **);
} subs[] = {
    {"tokenizer", cmd_tokenizer}, {"train", cmd_train}, {"generate", cmd_generate}, {"chat", cmd_chat},
    {"finetune-classify", cmd_classify}, {"sft", cmd_sft}, {"export", cmd_export},
    {"eval", cmd_eval}, {"info", cmd_info},
};

int cmd_llm(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
    return cli_usage_error("llm", "unknown subcommand '%s'", argv[1]);
}
