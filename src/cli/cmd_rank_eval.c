/*
 * cmd_rank_eval.c — `northstar rank eval`: AUC, log loss, accuracy and a
 * calibration table (predicted vs observed positive rate in 10 probability
 * bins, ECE) of a ranker on a labelled file, as text or JSON.
 */
#include "cli.h"
#include "rank_common.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar rank eval [--json] [--format F] MODEL FILE\n"
    "\n"
    "AUC, log loss, accuracy and a calibration table (predicted vs observed\n"
    "positive rate in 10 probability bins, ECE) on a labelled FILE, whose rows\n"
    "are read as at training (see 'northstar rank train --help').\n"
    "  --json               one JSON object\n"
    "  --format F           csv | tsv | adult | criteo (default: the spec's)\n";

typedef struct {
    const char *format;
    int json;
} eval_opts;

static const cli_opt opts[] = {
    CLI_OPT_JSON(eval_opts, json),
    RANK_OPT_FORMAT(eval_opts, format),
};

int cmd_rank_eval(int argc, char **argv)
{
    eval_opts o = {NULL, 0};
    int r = CLI_PARSE(argc, argv, RANK_CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 2) return cli_usage_error(RANK_CMD, "eval takes MODEL FILE");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail(RANK_CMD);
    ns_rank_metrics mt;
    int rc = rank_eval_file(m, argv[r + 1], o.format, &mt);
    ns_ranker_free(m);
    if (rc < 0) return cli_fail(RANK_CMD);
    if (o.json) {
        printf("{");
        rank_json_metrics("eval", &mt);
        printf("}\n");
    } else
        rank_print_metrics(argv[r + 1], &mt, 1);
    return CLI_OK;
}
