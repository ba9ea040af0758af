/*
 * cmd_rank_featurize.c — `northstar rank featurize`: fit a feature spec on a
 * training file and write the encoded features of it (and of a test file)
 * as safetensors, with the layout and the fitted spec in the metadata, for
 * the reference implementations in bench/rank.
 */
#include "cli.h"
#include "rank_common.h"
#include "northstar/base.h"
#include "northstar/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar rank featurize --spec SPEC.json --out FEATURES TRAIN_FILE [TEST_FILE]\n"
    "\n"
    "Write the encoded features of TRAIN_FILE (fitting the spec) and TEST_FILE\n"
    "as safetensors, for reference implementations (bench/rank). Rows are read\n"
    "as at training (see 'northstar rank train --help').\n"
    "  --spec FILE          feature spec (required)\n"
    "  --out FILE           features file to write\n"
    "  --format F           csv | tsv | adult | criteo (default: the spec's)\n";

typedef struct {
    const char *spec, *out, *format;
} featurize_opts;

static const cli_opt opts[] = {
    CLI_STR("spec", 0, featurize_opts, spec),
    CLI_STR("out", 0, featurize_opts, out),
    RANK_OPT_FORMAT(featurize_opts, format),
};

/* Encoded features as safetensors for the reference implementations. */
static int add_data(ns_st_writer *w, const char *pre, const ns_fdata *d, char names[][64], int *nn)
{
    int rc = 0;
#define ADD(suffix, dt, nd, shp, ptr)                                                   \
    do {                                                                                \
        snprintf(names[*nn], 64, "%s.%s", pre, suffix);                                 \
        if (rc == 0) rc = ns_st_writer_add(w, names[(*nn)++], dt, nd, shp, ptr);        \
    } while (0)
    int64_t s_n1[1] = {d->n + 1}, s_nnz[1] = {d->wide_nnz}, s_n[1] = {d->n}, s_dense[2] = {d->n, d->dense_dim};
    ADD("wide_off", NS_DT_I32, 1, s_n1, d->wide_off);
    ADD("wide_ids", NS_DT_I32, 1, s_nnz, d->wide_ids);
    ADD("wide_vals", NS_DT_F32, 1, s_nnz, d->wide_vals);
    ADD("dense", NS_DT_F32, 2, s_dense, d->dense);
    ADD("label", NS_DT_F32, 1, s_n, d->label);
    ADD("weight", NS_DT_F32, 1, s_n, d->weight);
    for (int f = 0; f < d->n_emb; f++) {
        char sfx[32];
        int64_t s_e[1] = {d->emb_nnz[f]};
        snprintf(sfx, sizeof sfx, "emb%d_off", f);
        ADD(sfx, NS_DT_I32, 1, s_n1, d->emb_off[f]);
        snprintf(sfx, sizeof sfx, "emb%d_ids", f);
        ADD(sfx, NS_DT_I32, 1, s_e, d->emb_ids[f]);
    }
#undef ADD
    return rc;
}

/* {"wide_dim":..,"dense_dim":..,"emb":[{"name","card","dim"}...]} into b. */
static void layout_json(const ns_feature_spec *spec, ns_buf *b, ns_flayout *lay)
{
    ns_fspec_layout(spec, lay);
    ns_buf_printf(b, "{\"wide_dim\":%d,\"dense_dim\":%d,\"emb\":[", lay->wide_dim, lay->dense_dim);
    for (int f = 0; f < lay->n_emb; f++)
        ns_buf_printf(b, "%s{\"name\":\"%s\",\"card\":%d,\"dim\":%d}", f ? "," : "", lay->emb_name[f],
                      lay->emb_card[f], lay->emb_dim[f]);
    ns_buf_puts(b, "]}");
}

static int write_features(const featurize_opts *o, const ns_feature_spec *spec, const ns_fdata *tr, const ns_fdata *te)
{
    static char names[256][64];
    int nn = 0;
    ns_flayout lay;
    ns_buf b;
    ns_buf_init(&b);
    layout_json(spec, &b, &lay);
    char *sj = ns_fspec_to_json(spec);
    ns_st_writer *w = ns_st_writer_new();
    int rc = w && sj ? NS_OK : NS_ENOMEM;
    if (rc >= 0) rc = ns_st_writer_meta(w, "layout", b.data);
    if (rc >= 0) rc = ns_st_writer_meta(w, "feature_spec", sj);
    if (rc >= 0) rc = add_data(w, "train", tr, names, &nn);
    if (rc >= 0 && te->n) rc = add_data(w, "test", te, names, &nn);
    if (rc >= 0) rc = ns_st_writer_write(w, o->out);
    if (rc >= 0 && !ns_is_quiet())
        printf("wrote %s: %d train rows%s, wide dim %d, %d embedded fields, %d dense\n", o->out, tr->n,
               te->n ? " + test rows" : "", lay.wide_dim, lay.n_emb, lay.dense_dim);
    ns_st_writer_free(w);
    free(sj);
    ns_buf_release(&b);
    return rc;
}

int cmd_rank_featurize(int argc, char **argv)
{
    featurize_opts o = {NULL, NULL, NULL};
    int r = CLI_PARSE(argc, argv, RANK_CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1 && r != argc - 2) return cli_usage_error(RANK_CMD, "featurize takes TRAIN_FILE [TEST_FILE]");
    if (!o.out) return cli_usage_error(RANK_CMD, "featurize needs --out FILE");
    if (!o.spec) return cli_usage_error(RANK_CMD, "--spec FILE is required");
    ns_feature_spec *spec;
    if (rank_load_spec(o.spec, o.format, &spec) < 0) return cli_fail(RANK_CMD);
    ns_fdata tr, te;
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    int rc = ns_fdata_read_file(spec, argv[r], 1, 1, &tr);
    if (rc >= 0 && r == argc - 2) rc = ns_fdata_read_file(spec, argv[r + 1], 0, 1, &te);
    if (rc >= 0 && tr.n_emb > 40) rc = ns_err_set(NS_ETOOBIG, "featurize supports up to 40 embedded fields");
    if (rc >= 0) rc = write_features(&o, spec, &tr, &te);
    ns_fdata_release(&tr);
    ns_fdata_release(&te);
    ns_fspec_free(spec);
    return rc < 0 ? cli_fail(RANK_CMD) : CLI_OK;
}
