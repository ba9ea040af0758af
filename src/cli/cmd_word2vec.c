/*
 * cmd_word2vec.c — `northstar word2vec <subcommand>`: the table of the word
 * vector subcommands (train, similar, analogy, eval; one file each).
 */
#include "cli.h"

static const char intro[] =
    "usage: northstar word2vec <subcommand> [options]\n"
    "\n"
    "Train word vectors on UTF-8 text, query them, and score any word2vec or\n"
    "fastText vector file on the standard word-similarity and analogy sets.\n";

static const cli_sub subs[] = {
    {"train", cmd_word2vec_train, "learn word vectors from text files (skip-gram, CBOW)"},
    {"similar", cmd_word2vec_similar, "the nearest words of words"},
    {"analogy", cmd_word2vec_analogy, "A is to B as C is to ?"},
    {"eval", cmd_word2vec_eval, "WordSim-353, SimLex-999 and analogy scores of vector files"},
};

int cmd_word2vec(int argc, char **argv) { return CLI_DISPATCH(argc, argv, "word2vec", intro, subs, CLI_HELP_FULL); }
