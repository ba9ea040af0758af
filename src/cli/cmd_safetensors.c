/*
 * cmd_safetensors.c — `northstar safetensors <subcommand>`: the table of the
 * subcommands that look inside model files (inspect) and validate them
 * (check), one file each.
 */
#include "cli.h"

static const char intro[] =
    "usage: northstar safetensors <subcommand> [options] FILE...\n"
    "\n"
    "Look inside safetensors model files and validate them with the same\n"
    "strict reader models use.\n";

static const cli_sub subs[] = {
    {"inspect", cmd_safetensors_inspect, "the tensors and metadata of a file"},
    {"check", cmd_safetensors_check, "validate files"},
};

int cmd_safetensors(int argc, char **argv)
{
    return CLI_DISPATCH(argc, argv, "safetensors", intro, subs, CLI_HELP_FULL);
}
