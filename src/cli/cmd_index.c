/*
 * cmd_index.c — `northstar index <subcommand>`: the table of the HNSW vector
 * index subcommands (build, search, stats; one file each; library:
 * include/northstar/hnsw.h).
 */
#include "cli.h"

static const char intro[] =
    "usage: northstar index <subcommand> [options]\n"
    "\n"
    "Approximate nearest-neighbour search with HNSW (and exact search).\n";

static const cli_sub subs[] = {
    {"build", cmd_index_build, "index vectors (.npy, .fvecs or text)"},
    {"search", cmd_index_search, "the nearest neighbours of query vectors"},
    {"stats", cmd_index_stats, "describe an index"},
};

int cmd_index(int argc, char **argv) { return CLI_DISPATCH(argc, argv, "index", intro, subs, CLI_HELP_FULL); }
