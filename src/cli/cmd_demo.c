/*
 * cmd_demo.c — `northstar demo`: without a subcommand the playground
 * (cmd_demo_playground.c: simulator -> store -> training -> server +
 * dashboard + live traffic); `demo mlp` is the tensor library's demo
 * (cmd_demo_mlp.c).
 */
#include "cli.h"

#include <string.h>

int cmd_demo(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mlp")) return cmd_demo_mlp(argc - 1, argv + 1);
    return cmd_demo_playground(argc, argv);
}
