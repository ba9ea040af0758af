/*
 * cmd_bm25.c — `northstar bm25 <subcommand>`: the table of the BM25 keyword
 * index subcommands (build, search, stats; one file each; library:
 * include/northstar/bm25.h).
 */
#include "cli.h"

static const char intro[] =
    "usage: northstar bm25 <subcommand> [options]\n"
    "\n"
    "BM25 keyword index over the shared tokenizer (Unicode folding, CJK bigrams,\n"
    "Snowball stemming), with field weights and block-max WAND top-k.\n";

static const cli_sub subs[] = {
    {"build", cmd_bm25_build, "index documents (JSON lines or tab-separated)"},
    {"search", cmd_bm25_search, "the top-k documents of queries"},
    {"stats", cmd_bm25_stats, "describe an index"},
};

int cmd_bm25(int argc, char **argv) { return CLI_DISPATCH(argc, argv, "bm25", intro, subs, CLI_HELP_FULL); }
