/*
 * cmd_rank_predict.c — `northstar rank predict`: stream rows from a file or
 * stdin through a ranker, 256 at a time, to one probability per line.
 */
#include "cli.h"
#include "rank_common.h"
#include "northstar/base.h"

#include <math.h>
#include <stdio.h>

static const char usage[] =
    "usage: northstar rank predict [--format F] [--with-label] MODEL [FILE|-]\n"
    "\n"
    "Stream rows (FILE or stdin) to one probability per line. Rows are read as\n"
    "at training (see 'northstar rank train --help') and may lack the label column.\n"
    "  --format F           csv | tsv | adult | criteo (default: the spec's)\n"
    "  --with-label         print 'probability<TAB>label'\n";

typedef struct {
    const char *format;
    int with_label;
} predict_opts;

static const cli_opt opts[] = {
    RANK_OPT_FORMAT(predict_opts, format),
    CLI_FLAG("with-label", 0, predict_opts, with_label),
};

static void print_batch(const predict_opts *o, const ns_fdata *d, const float *prob)
{
    for (int i = 0; i < d->n; i++) {
        if (!o->with_label) printf("%.6f\n", prob[i]);
        else if (isnan(d->label[i])) printf("%.6f\t\n", prob[i]);
        else printf("%.6f\t%d\n", prob[i], (int)d->label[i]);
    }
}

/* Read, predict and print batches of 256 rows until the input ends. */
static int stream(const predict_opts *o, const ns_ranker *m, ns_rank_ctx *cx, ns_freader *rd, ns_fdata *d)
{
    float prob[256];
    for (;;) {
        ns_fdata_clear(d);
        int rc = 0;
        while (d->n < 256 && (rc = ns_freader_next(rd, d, NULL, NULL)) == 1) {
        }
        if (rc < 0) return rc;
        int prc = d->n ? ns_ranker_predict(m, cx, d, prob) : NS_OK;
        if (prc < 0) return prc;
        print_batch(o, d, prob);
        if (rc == 0) return NS_OK; /* the input ended */
    }
}

int cmd_rank_predict(int argc, char **argv)
{
    predict_opts o = {NULL, 0};
    int r = CLI_PARSE(argc, argv, RANK_CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1 && r != argc - 2) return cli_usage_error(RANK_CMD, "predict takes MODEL [FILE|-]");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail(RANK_CMD);
    ns_feature_spec *spec = (ns_feature_spec *)ns_ranker_spec(m);
    const char *path = r == argc - 2 ? argv[r + 1] : "-";
    ns_freader *rd = NULL;
    ns_rank_ctx *cx = NULL;
    ns_fdata d;
    int have_d = 0, rc = rank_set_format(spec, o.format);
    if (rc >= 0) rc = (cx = ns_rank_ctx_new(m)) ? NS_OK : NS_ENOMEM;
    if (rc >= 0) rc = ns_freader_open(&rd, spec, path);
    if (rc >= 0 && (rc = ns_fdata_init(&d, spec)) >= 0) have_d = 1;
    if (rc >= 0) rc = stream(&o, m, cx, rd, &d);
    fflush(stdout);
    if (have_d) ns_fdata_release(&d);
    ns_freader_close(rd);
    ns_rank_ctx_free(cx);
    ns_ranker_free(m);
    return rc < 0 ? cli_fail(RANK_CMD) : CLI_OK;
}
