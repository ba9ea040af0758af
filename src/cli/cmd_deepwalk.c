/* cmd_deepwalk.c — placeholder replaced below. */
#include "cli/cli.h"
int cmd_deepwalk(int argc, char **argv) { (void)argc; (void)argv; return CLI_USAGE; }
