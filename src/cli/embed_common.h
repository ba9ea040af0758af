/*
 * embed_common.h — what `northstar word2vec train` and `northstar deepwalk`
 * share: the word2vec trainer's options (one set of rows, W2V_TRAINER_OPTS,
 * so both commands spell and check them the same way) and the vectors
 * writer (embed_common.c).
 */
#ifndef NS_CLI_EMBED_COMMON_H
#define NS_CLI_EMBED_COMMON_H

#include "cli.h"
#include "northstar/vec.h"
#include "northstar/w2v.h"

typedef struct cli_w2v_args {
    ns_w2v_opts w;
    ns_w2v_corpus_opts c;
    const char *output;
    int binary;
} cli_w2v_args;

extern const cli_choice cli_w2v_model_choices[];   /* sg, skipgram, cbow */
extern const cli_choice cli_w2v_vectors_choices[]; /* in, sum */

/* The trainer's rows, into the cli_w2v_args `a` of options struct T. */
#define W2V_TRAINER_OPTS(T, a)                                             \
    CLI_OPT_OUTPUT(T, a.output),                                           \
    CLI_FLAG("binary", 0, T, a.binary),                                    \
    CLI_CHOICE("model", 0, T, a.w.sg, cli_w2v_model_choices),              \
    CLI_SET("cbow", 0, T, a.w.sg, 0),                                      \
    CLI_INT("dim", 0, T, a.w.dim, 1, 10000),                               \
    CLI_INT("window", 0, T, a.w.window, 1, 1000),                          \
    CLI_INT("negative", 0, T, a.w.negative, 0, 1000),                      \
    CLI_FLAG("hs", 0, T, a.w.hs),                                          \
    CLI_DOUBLE("sample", 0, T, a.w.sample, 0, 0.999),                      \
    CLI_LONG("min-count", 0, T, a.c.min_count, 1, 1L << 40),               \
    CLI_LONG("max-vocab", 0, T, a.c.max_vocab, 1, 1L << 31),               \
    CLI_INT("epochs", 0, T, a.w.epochs, 1, 100000),                        \
    CLI_DOUBLE("alpha", 0, T, a.w.alpha, 1e-9, 10),                        \
    CLI_DOUBLE("min-alpha", 0, T, a.w.min_alpha, 0, 10),                   \
    CLI_OPT_SEED(T, a.w.seed),                                             \
    CLI_SET("sum", 0, T, a.w.cbow_mean, 0),                                \
    CLI_FLAG("classic", 0, T, a.w.classic),                                \
    CLI_DOUBLE("ns-exponent", 0, T, a.w.ns_exponent, -2, 2),               \
    CLI_CHOICE("vectors", 0, T, a.w.vectors, cli_w2v_vectors_choices)

/* Write v to a->output (binary with --binary or a name ending in .bin);
 * CLI_OK, or CLI_FAIL after printing the error. */
int cli_w2v_write(const char *cmd, const ns_vectors *v, const cli_w2v_args *a);

/* [{"word": W, "cosine": C}, ...] of the n hits (idx, sim) appended to b. */
void cli_w2v_hits_json(ns_buf *b, const ns_vectors *v, const int64_t *idx, const float *sim, int n);

#endif
