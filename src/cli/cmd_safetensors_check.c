/*
 * cmd_safetensors_check.c — `northstar safetensors check`: validate files
 * with the strict reader models use (header, dtypes, shapes, offsets, no
 * overlap or holes); one line per file, exit 1 if any is bad.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/safetensors.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar safetensors check FILE...\n"
    "\n"
    "Validate files (header, dtypes, shapes, offsets, no overlap or\n"
    "holes); prints 'ok' or the first problem; exit 1 if any is bad.\n";

int cmd_safetensors_check(int argc, char **argv)
{
    int r = CLI_PARSE_NONE(argc, argv, "safetensors", usage);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("safetensors", "check needs at least one FILE");
    int bad = 0;
    for (; r < argc; r++) {
        ns_st_file *f;
        if (ns_st_open(&f, argv[r]) < 0) {
            cli_put_clean(ns_err_msg(), 4096); /* starts with the path */
            printf("\n");
            bad++;
        } else {
            cli_put_clean(argv[r], 4096);
            printf(": ok (%d tensors)\n", ns_st_count(f));
            ns_st_close(f);
        }
    }
    return bad ? CLI_FAIL : CLI_OK;
}
