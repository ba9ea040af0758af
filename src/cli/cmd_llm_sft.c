/*
 * cmd_llm_sft.c — `northstar llm sft`: supervised fine-tuning of a model on
 * prompt/response JSON lines in the <|user|>/<|assistant|> template, the
 * loss counting the response tokens (and EOS) only.
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/llm.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar llm sft --model MODEL --data FILE.jsonl --out MODEL [options]\n"
    "\n"
    "Supervised fine-tuning on {\"prompt\": ..., \"response\": ...} lines. Each example is\n"
    "  <|user|>\\n{prompt}\\n<|assistant|>\\n{response}</s>\n"
    "and the loss counts the response tokens (and EOS) only. The tokenizer should know\n"
    "<|user|> and <|assistant|> as special tokens (tokenizer train --special ...); otherwise\n"
    "they are encoded as plain text.\n"
    LLM_MODEL_HELP
    "  -o, --out MODEL      the fine-tuned model to write\n"
    "  --steps 200 --batch 8 --lr 1e-4 --warmup 10 --weight-decay 0.1 --seed 1337\n"
    "  --seq N              max tokens per example (default: the context)\n";

#define CMD "llm sft"

typedef struct {
    llm_tuning t; /* t.seq < 0: the model's context */
    long steps, warmup;
} sft_opts;

static const cli_opt opts[] = {
    LLM_TUNING_OPTS(sft_opts, t),
    CLI_LONG("steps", 0, sft_opts, steps, 0, 1L << 40),
    CLI_LONG("warmup", 0, sft_opts, warmup, 0, 1L << 40),
};

static int sft(const sft_opts *o, ns_llm *m, ns_bpe *tok, ns_llm_trainer *t)
{
    int ctx = ns_llm_cfg(m)->max_seq, maxlen = o->t.seq < 0 || o->t.seq > ctx ? ctx : o->t.seq;
    ns_llm_sft_ex *ex = NULL;
    int n = 0;
    int rc = ns_llm_sft_load(o->t.data, tok, maxlen, &ex, &n);
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.lr = (float)o->t.lr;
    tc.min_lr = tc.lr / 10;
    tc.warmup = o->warmup;
    tc.decay_steps = o->steps;
    tc.batch = o->t.batch;
    tc.seq = 1;
    tc.weight_decay = (float)o->t.wd;
    tc.seed = o->t.seed;
    if (rc >= 0) rc = ns_llm_trainer_init(t, m, &tc);
    float loss = 0, first = 0;
    if (rc >= 0) {
        ns_progress p;
        ns_progress_begin(&p, "llm sft", (double)o->steps, "steps");
        for (long s = 0; s < o->steps && rc >= 0; s++) {
            rc = ns_llm_sft_step(t, ex, n, &loss);
            if (!s) first = loss;
            ns_progress_note(&p, "loss %.4f", loss);
            ns_progress_add(&p, 1);
        }
        ns_progress_end(&p);
    }
    if (rc >= 0) rc = ns_llm_save(m, tok, o->t.out);
    if (rc >= 0)
        printf("sft: %d examples, %ld steps, response loss %.4f -> %.4f, wrote %s\n", n, o->steps, first, loss,
               o->t.out);
    ns_llm_sft_free(ex, n);
    return rc;
}

int cmd_llm_sft(int argc, char **argv)
{
    sft_opts o = {{.batch = 8, .seq = -1, .lr = 1e-4, .wd = 0.1, .seed = 1337}, 200, 10};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (!o.t.data || !o.t.out) return cli_usage_error(CMD, "--data and --out are required");
    ns_llm *m;
    ns_bpe *tok;
    ns_llm_trainer t;
    memset(&t, 0, sizeof t);
    int rc = llm_load_model(&o.t.m, &m, &tok);
    if (rc >= 0) rc = sft(&o, m, tok, &t);
    ns_llm_trainer_release(&t);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}
