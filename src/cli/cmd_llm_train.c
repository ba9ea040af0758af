/*
 * cmd_llm_train.c — `northstar llm train`: pre-train a GPT-2 or Llama style
 * model on a text file (a new model, or continued from weights, or resumed
 * exactly from a checkpoint), with periodic evaluation and checkpoints; or
 * write a model with fresh weights (--random-init).
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/bpe.h"
#include "northstar/llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
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
    "  --random-init --vocab N   only write a model with fresh weights (no data, no tokenizer)\n"
    "Short forms: -o is --out, -t is --tokenizer.\n";

#define CMD "llm train"

typedef struct {
    /* model shape; -1: the family's default */
    const char *arch, *config, *init;
    int layers, heads, kv_heads, dim, ff, context, bias, untied;
    /* data, tokenizer, output */
    const char *data, *tokenizer, *out, *resume, *checkpoint;
    int use_char, bpe_vocab, random_init, vocab;
    double val_frac;
    /* training */
    long steps, warmup, eval_every, ckpt_every, decay_steps;
    int batch, seq, accum, eval_iters;
    uint64_t seed;
    double lr, min_lr, wd, clip, beta2;
} train_opts;

static const cli_opt opts[] = {
    CLI_STR("arch", 0, train_opts, arch),
    CLI_STR("config", 0, train_opts, config),
    CLI_STR("init", 0, train_opts, init),
    CLI_INT("layers", 0, train_opts, layers, 1, 1024),
    CLI_INT("heads", 0, train_opts, heads, 1, 1024),
    CLI_INT("kv-heads", 0, train_opts, kv_heads, 1, 1024),
    CLI_INT("dim", 0, train_opts, dim, 1, 65536),
    CLI_INT("ff", 0, train_opts, ff, 1, 1 << 18),
    CLI_INT("context", 0, train_opts, context, 1, 1 << 20),
    CLI_SET("bias", 0, train_opts, bias, 1),
    CLI_SET("no-bias", 0, train_opts, bias, 0),
    CLI_FLAG("untied", 0, train_opts, untied),
    CLI_STR("data", 0, train_opts, data),
    CLI_STR("tokenizer", 't', train_opts, tokenizer),
    CLI_OPT_OUT(train_opts, out),
    CLI_STR("resume", 0, train_opts, resume),
    CLI_STR("checkpoint", 0, train_opts, checkpoint),
    CLI_LONG("checkpoint-every", 0, train_opts, ckpt_every, 0, 1L << 40),
    CLI_FLAG("char", 0, train_opts, use_char),
    CLI_INT("bpe-vocab", 0, train_opts, bpe_vocab, 260, 1 << 20),
    CLI_DOUBLE("val-frac", 0, train_opts, val_frac, 0, 0.9),
    CLI_LONG("steps", 0, train_opts, steps, 0, 1L << 40),
    CLI_INT("batch", 0, train_opts, batch, 1, 1 << 20),
    CLI_INT("seq", 0, train_opts, seq, 1, 1 << 20),
    CLI_LONG("warmup", 0, train_opts, warmup, 0, 1L << 40),
    CLI_INT("accum", 0, train_opts, accum, 1, 1 << 20),
    CLI_LONG("eval-every", 0, train_opts, eval_every, 0, 1L << 40),
    CLI_INT("eval-iters", 0, train_opts, eval_iters, 1, 1 << 20),
    CLI_OPT_SEED(train_opts, seed),
    CLI_DOUBLE("lr", 0, train_opts, lr, 0, 10),
    CLI_DOUBLE("min-lr", 0, train_opts, min_lr, 0, 10),
    CLI_DOUBLE("weight-decay", 0, train_opts, wd, 0, 10),
    CLI_DOUBLE("clip", 0, train_opts, clip, 0, 1e9),
    CLI_DOUBLE("beta2", 0, train_opts, beta2, 0, 1),
    CLI_LONG("decay-steps", 0, train_opts, decay_steps, 1, 1L << 40),
    CLI_FLAG("random-init", 0, train_opts, random_init),
    CLI_INT("vocab", 0, train_opts, vocab, 259, 1 << 20),
};

static const train_opts defaults = {
    .layers = -1, .heads = -1, .kv_heads = -1, .dim = -1, .ff = -1, .context = -1, .bias = -1,
    .vocab = 1024, .val_frac = 0.1,
    .steps = 2000, .warmup = 100, .eval_every = 250, .decay_steps = -1,
    .batch = 12, .seq = 64, .accum = 1, .eval_iters = 20,
    .seed = 1337,
    .lr = 1e-3, .min_lr = -1, .wd = 0.1, .clip = 1.0, .beta2 = 0.99,
};

static int build_config(const train_opts *o, int vocab, ns_llm_config *c)
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
        if (o->layers > 0) c->n_layer = o->layers;
        if (o->heads > 0) c->n_head = o->heads;
        c->n_kv_head = o->kv_heads > 0 ? o->kv_heads : c->n_head;
        if (o->dim > 0) c->d_model = o->dim;
        if (o->ff > 0) c->d_ff = o->ff;
        else c->d_ff = arch == NS_LLM_GPT2 ? 4 * c->d_model : ((8 * c->d_model / 3 + 7) / 8) * 8;
        if (o->context > 0) c->max_seq = o->context;
        if (o->bias >= 0) c->bias = o->bias;
        if (o->untied) c->tied = 0;
    }
    if (vocab > c->vocab_size || !o->config) c->vocab_size = vocab;
    return ns_llm_config_validate(c);
}

/* The training steps from t->step to `steps`, with an evaluation every
 * eval_every steps and a checkpoint every ckpt_every; the final validation
 * loss and the training tokens/s. */
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

/* --random-init: a model with fresh weights and no tokenizer (benchmarks, tests). */
static int random_init(const train_opts *o)
{
    if (!o->out) return cli_usage_error(CMD, "--random-init needs --out");
    ns_llm_config c;
    ns_llm *m;
    if (build_config(o, o->vocab, &c) < 0 || ns_llm_new(&m, &c) < 0) return cli_fail(CMD);
    ns_llm_init(m, o->seed);
    int rc = ns_llm_save(m, NULL, o->out);
    printf("random %s model, %zu params -> %s\n", ns_llm_arch_name(c.arch), ns_llm_num_params(m), o->out);
    ns_llm_free(m);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}

/* The model and tokenizer to train: from --resume (with the trainer's
 * state, *resumed = 1), from --init, or new; a tokenizer from --tokenizer,
 * --bpe-vocab or the characters of the text. The model is made later when
 * *m is NULL (its vocabulary is the tokenizer's). */
static int starting_point(const train_opts *o, const char *text, size_t len, ns_llm_trainer *t, int *resumed,
                          ns_llm **m, ns_bpe **tok)
{
    int rc = NS_OK;
    if (o->resume) {
        if ((rc = ns_llm_checkpoint_load(t, m, tok, o->resume)) < 0) return rc;
        *resumed = 1;
        if (!*tok) return ns_err_set(NS_EFORMAT, "%s has no tokenizer", o->resume);
    } else if (o->init) {
        if ((rc = ns_llm_load(m, tok, o->init)) < 0) return rc;
    }
    if (*tok) return NS_OK;
    if (o->tokenizer) return ns_bpe_load(tok, o->tokenizer);
    if (o->bpe_vocab) return ns_bpe_train(tok, text, len, o->bpe_vocab, NULL, 0);
    return ns_bpe_char_from_text(tok, text, len);
}

static ns_llm_train_cfg trainer_cfg(const train_opts *o)
{
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.lr = (float)o->lr;
    tc.min_lr = o->min_lr >= 0 ? (float)o->min_lr : (float)o->lr / 10;
    tc.warmup = o->warmup;
    if (o->warmup >= o->steps && o->steps > 0)
        ns_log_warn("--warmup %ld >= --steps %ld: the learning rate never reaches --lr %g (it stops at %g)", o->warmup,
                    o->steps, o->lr, o->lr * (double)o->steps / (double)(o->warmup + 1));
    tc.decay_steps = o->decay_steps > 0 ? o->decay_steps : o->steps;
    tc.beta2 = (float)o->beta2;
    tc.weight_decay = (float)o->wd;
    tc.grad_clip = (float)o->clip;
    tc.grad_accum = o->accum;
    tc.batch = o->batch;
    tc.seq = o->seq;
    tc.seed = o->seed;
    return tc;
}

static void describe(const ns_llm *m, size_t ntr, size_t nva)
{
    const ns_llm_config *mc = ns_llm_cfg(m);
    if (!ns_is_quiet())
        fprintf(stderr, "llm train: %s, %zu params, L%d H%d KVH%d C%d F%d ctx %d, vocab %d; %zu train / %zu val tokens\n",
                ns_llm_arch_name(mc->arch), ns_llm_num_params(m), mc->n_layer, mc->n_head, mc->n_kv_head, mc->d_model,
                mc->d_ff, mc->max_seq, mc->vocab_size, ntr, nva);
}

/* Tokenize the text (freed once encoded), make or continue the model,
 * train, save. */
static int train(const train_opts *o, char *text, size_t len)
{
    ns_bpe *tok = NULL;
    ns_llm *m = NULL;
    int32_t *ids = NULL;
    size_t n = 0, ntr = 0;
    ns_llm_trainer t;
    memset(&t, 0, sizeof t);
    int have_trainer = 0;
    int rc = starting_point(o, text, len, &t, &have_trainer, &m, &tok);
    if (rc >= 0) rc = ns_bpe_encode(tok, text, len, 0, &ids, &n);
    free(text);
    ntr = (size_t)((double)n * (1.0 - o->val_frac));
    if (rc >= 0 && !m) {
        ns_llm_config c;
        rc = build_config(o, ns_bpe_vocab_size(tok), &c);
        if (rc >= 0 && (rc = ns_llm_new(&m, &c)) >= 0) ns_llm_init(m, o->seed);
    }
    if (rc >= 0 && !have_trainer) {
        ns_llm_train_cfg tc = trainer_cfg(o);
        if ((rc = ns_llm_trainer_init(&t, m, &tc)) >= 0) have_trainer = 1;
    }
    float vl = NAN;
    double tps = 0;
    if (rc >= 0) {
        describe(m, ntr, n - ntr);
        rc = train_loop(&t, tok, ids, ntr, ids + ntr, n - ntr, o->steps, o->eval_every, o->eval_iters, o->checkpoint,
                        o->ckpt_every, &vl, &tps);
    }
    if (rc >= 0 && o->out) rc = ns_llm_save(m, tok, o->out);
    if (rc >= 0)
        printf("final: step %ld val_loss %.4f train_tokens_per_s %.0f threads %d\n", t.step, vl, tps, ns_threads());
    if (have_trainer) ns_llm_trainer_release(&t);
    free(ids);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}

int cmd_llm_train(int argc, char **argv)
{
    train_opts o = defaults;
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (o.random_init) return random_init(&o);
    if (!o.data) return cli_usage_error(CMD, "--data FILE is required");
    if (!o.out && !o.checkpoint) return cli_usage_error(CMD, "--out MODEL (or --checkpoint CKPT) is required");
    char *text;
    size_t len;
    if (llm_read_text(o.data, &text, &len) < 0) return cli_fail(CMD);
    return train(&o, text, len);
}
