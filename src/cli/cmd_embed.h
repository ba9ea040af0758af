/*
 * cmd_embed.h — what `northstar word2vec` and `northstar deepwalk` share:
 * the trainer options (one table, one parser, defined in cmd_word2vec.c) and
 * the vectors writer, so both commands spell and check them the same way.
 */
#ifndef NS_CLI_CMD_EMBED_H
#define NS_CLI_CMD_EMBED_H

#include "northstar/w2v.h"
#include "northstar/vec.h"

#include <getopt.h>

/* Option codes of the shared trainer options (each command's own start at 400). */
enum {
    O_BINARY = 256, O_MODEL, O_CBOW, O_DIM, O_WINDOW, O_NEG, O_HS, O_SAMPLE, O_MINC, O_MAXV,
    O_EPOCHS, O_ALPHA, O_MINALPHA, O_SEED, O_SUM, O_CLASSIC, O_VECTORS, O_NSEXP, O_SENT
};

typedef struct cli_w2v_args {
    ns_w2v_opts w;
    ns_w2v_corpus_opts c;
    const char *output;
    int binary;
} cli_w2v_args;

extern const struct option cli_w2v_options[];
/* 0 handled, 1 usage error (printed), -1 not a trainer option. */
int cli_w2v_option(const char *cmd, int c, const char *arg, cli_w2v_args *a);
/* out = cli_w2v_options followed by extra (both end with a zero row). */
void cli_w2v_merge_options(struct option *out, int cap, const struct option *extra);
/* Write v to a->output (binary with --binary or a .bin name); prints the error. */
int cli_w2v_write(const char *cmd, const ns_vectors *v, const cli_w2v_args *a);

#endif
