/*
 * llm_common.h — what the `northstar llm` subcommands share (llm_common.c):
 * the --model/--tokenizer rows and the loader that honours them, the
 * sampling options of generate and chat (rows, defaults, help text, and
 * their translation into ns_llm_gen_cfg), reading a text file, and the
 * streaming printer of generated text.
 */
#ifndef NS_CLI_LLM_COMMON_H
#define NS_CLI_LLM_COMMON_H

#include "cli.h"
#include "northstar/bpe.h"
#include "northstar/llm.h"

#include <stddef.h>

/* -m, --model MODEL and -t, --tokenizer FILE, into the llm_model `f`. */
typedef struct {
    const char *model, *tokenizer;
} llm_model;

#define LLM_MODEL_OPTS(T, f)                        \
    CLI_STR("model", 'm', T, f.model),              \
    CLI_STR("tokenizer", 't', T, f.tokenizer)

#define LLM_MODEL_HELP                                                                                      \
    "  -m, --model MODEL    the model (safetensors, or a llama2.c .bin checkpoint)\n"                       \
    "  -t, --tokenizer FILE tokenizer when MODEL has none inside (llama2.c .bin models need tokenizer.bin)\n"

/* Model + tokenizer from f->model; f->tokenizer, when set, replaces the
 * model's (a llama2.c tokenizer.bin when its name has ".bin"). An error
 * when there is no model or no tokenizer; on an error nothing is left to free. */
int llm_load_model(const llm_model *f, ns_llm **m, ns_bpe **tok);

/* What fine-tuning takes (finetune-classify, sft), into the llm_tuning `f`:
 * the model, --data, -o/--out, --batch, --seq, --lr, --weight-decay, --seed. */
typedef struct {
    llm_model m;
    const char *data, *out;
    int batch, seq;
    double lr, wd;
    uint64_t seed;
} llm_tuning;

#define LLM_TUNING_OPTS(T, f)                                \
    LLM_MODEL_OPTS(T, f.m),                                  \
    CLI_STR("data", 0, T, f.data),                           \
    CLI_OPT_OUT(T, f.out),                                   \
    CLI_INT("batch", 0, T, f.batch, 1, 1 << 20),             \
    CLI_INT("seq", 0, T, f.seq, 1, 1 << 20),                 \
    CLI_DOUBLE("lr", 0, T, f.lr, 0, 10),                     \
    CLI_DOUBLE("weight-decay", 0, T, f.wd, 0, 10),           \
    CLI_OPT_SEED(T, f.seed)

/* Sampling: the rows of generate and chat, into the llm_sampling `f`. */
typedef struct {
    const char *s[8];
    int n;
} llm_stops;

typedef struct {
    int max_tokens, top_k, repeat_last_n;
    double temperature, top_p, repeat_penalty;
    uint64_t seed;
    llm_stops stop;
    int int8, ignore_eos, slide;
} llm_sampling;

int llm_parse_stop(const char *cmd, const char *opt, const char *arg, void *field);

#define LLM_SAMPLING_OPTS(T, f)                                             \
    CLI_INT("max-tokens", 'n', T, f.max_tokens, 0, 1 << 24),                \
    CLI_DOUBLE("temperature", 0, T, f.temperature, 0, 100),                 \
    CLI_INT("top-k", 0, T, f.top_k, 0, 1 << 24),                            \
    CLI_DOUBLE("top-p", 0, T, f.top_p, 0, 1),                               \
    CLI_DOUBLE("repeat-penalty", 0, T, f.repeat_penalty, 0.01, 100),        \
    CLI_INT("repeat-last-n", 0, T, f.repeat_last_n, 0, 1 << 20),            \
    CLI_OPT_SEED(T, f.seed),                                                \
    CLI_CALL("stop", 0, T, f.stop, llm_stops, llm_parse_stop),              \
    CLI_FLAG("int8", 0, T, f.int8),                                         \
    CLI_FLAG("ignore-eos", 0, T, f.ignore_eos),                             \
    CLI_FLAG("slide", 0, T, f.slide)

#define LLM_SAMPLING_HELP                                                                                \
    "  -n, --max-tokens 256 --temperature 0.8 (0 = greedy) --top-k 40 --top-p 0.95 --seed 42\n"          \
    "  --repeat-penalty 1.0 --repeat-last-n 64   --stop TEXT (up to 8)   --int8 (quantised weights)\n"   \
    "  --ignore-eos         do not stop at the EOS token\n"                                              \
    "  --slide              when the context is full, keep its last half and go on\n"

/* The defaults the help text names. */
llm_sampling llm_sampling_defaults(void);
ns_llm_gen_cfg llm_gen_cfg(const llm_sampling *s);

/* A whole text file (at most 2 GiB). */
int llm_read_text(const char *path, char **buf, size_t *len);
/* ns_llm_piece_fn that writes each piece to stdout as it comes. */
int llm_print_piece(const char *p, size_t n, void *ctx);

#endif
