/*
 * cmd_rank.c — `northstar rank <subcommand>`: the table of the subcommands
 * of the feature-driven rankers (wide FTRL logistic regression, deep, Wide &
 * Deep): train, eval, predict, inspect, featurize, one file each. Training
 * stores the fitted feature spec in the model, so the others (and serving)
 * transform rows exactly as training did.
 */
#include "cli.h"

static const char intro[] =
    "usage: northstar rank <subcommand> [options]\n"
    "\n"
    "Click-through / conversion rankers over declared features: 'wide' (logistic\n"
    "regression with FTRL-proximal), 'deep' (embeddings + ReLU MLP) and 'wide_deep'\n"
    "(both, trained jointly). The feature spec is fitted on the training file and\n"
    "saved inside the model.\n";

static const cli_sub subs[] = {
    {"train", cmd_rank_train, "fit the spec, train, save MODEL (safetensors); --test also evaluates"},
    {"eval", cmd_rank_eval, "AUC, log loss, accuracy and calibration on a labelled file"},
    {"predict", cmd_rank_predict, "stream rows (FILE or stdin) to one probability per line"},
    {"inspect", cmd_rank_inspect, "the model config, the fitted spec and the heaviest wide weights"},
    {"featurize", cmd_rank_featurize, "the encoded features of files as safetensors (bench/rank)"},
};

int cmd_rank(int argc, char **argv) { return CLI_DISPATCH(argc, argv, "rank", intro, subs, CLI_HELP_FULL); }
