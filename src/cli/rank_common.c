/*
 * rank_common.c — reading specs, scoring labelled files and printing metrics
 * for the `northstar rank` subcommands (rank_common.h).
 */
#include "rank_common.h"
#include "northstar/base.h"

#include <stdio.h>
#include <stdlib.h>

int rank_set_format(ns_feature_spec *spec, const char *format)
{
    if (!format) return NS_OK;
    ns_input_format f;
    int rc = ns_fspec_format_parse(format, &f);
    if (rc < 0) return rc;
    ns_fspec_set_format(spec, f);
    return NS_OK;
}

int rank_load_spec(const char *path, const char *format, ns_feature_spec **spec)
{
    int rc = ns_fspec_load(spec, path);
    if (rc < 0) return rc;
    if ((rc = rank_set_format(*spec, format)) < 0) {
        ns_fspec_free(*spec);
        *spec = NULL;
    }
    return rc;
}

int rank_eval_file(const ns_ranker *m, const char *path, const char *format, ns_rank_metrics *mt)
{
    ns_feature_spec *spec = (ns_feature_spec *)ns_ranker_spec(m);
    ns_input_format saved = ns_fspec_format(spec);
    int rc = rank_set_format(spec, format);
    if (rc < 0) return rc;
    ns_fdata d;
    rc = ns_fdata_read_file(spec, path, 0, 1, &d);
    ns_fspec_set_format(spec, saved);
    if (rc < 0) return rc;
    float *p = ns_malloc(sizeof(float) * (size_t)d.n);
    rc = p ? ns_ranker_predict_all(m, &d, p) : NS_ENOMEM;
    if (rc >= 0) rc = ns_rank_metrics_compute(p, d.label, d.n, mt);
    free(p);
    ns_fdata_release(&d);
    return rc;
}

void rank_print_metrics(const char *what, const ns_rank_metrics *mt, int table)
{
    printf("%s: n %ld  AUC %.4f  logloss %.4f  accuracy %.4f  positive rate %.4f  mean p %.4f  ECE %.4f\n", what,
           mt->n, mt->auc, mt->logloss, mt->accuracy, mt->pos_rate, mt->mean_pred, mt->ece);
    if (!table) return;
    printf("  calibration   bin        n   predicted  observed\n");
    for (int b = 0; b < NS_RANK_CAL_BINS; b++)
        if (mt->bin_n[b])
            printf("                [%.1f,%.1f) %7ld   %.4f     %.4f\n", b / 10.0, (b + 1) / 10.0, mt->bin_n[b],
                   mt->bin_pred[b], mt->bin_obs[b]);
}

void rank_json_metrics(const char *key, const ns_rank_metrics *mt)
{
    printf("\"%s\":{\"n\":%ld,\"auc\":%.6f,\"logloss\":%.6f,\"accuracy\":%.6f,\"pos_rate\":%.6f,\"mean_pred\":%.6f,"
           "\"ece\":%.6f,\"calibration\":[", key, mt->n, mt->auc, mt->logloss, mt->accuracy, mt->pos_rate,
           mt->mean_pred, mt->ece);
    int first = 1;
    for (int b = 0; b < NS_RANK_CAL_BINS; b++)
        if (mt->bin_n[b]) {
            printf("%s{\"lo\":%.1f,\"n\":%ld,\"pred\":%.6f,\"obs\":%.6f}", first ? "" : ",", b / 10.0, mt->bin_n[b],
                   mt->bin_pred[b], mt->bin_obs[b]);
            first = 0;
        }
    printf("]}");
}
