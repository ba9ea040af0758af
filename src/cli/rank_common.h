/*
 * rank_common.h — what the `northstar rank` subcommands share: the --format
 * row, reading a feature spec, encoding and scoring a labelled file, and
 * printing metrics as text or JSON (rank_common.c).
 */
#ifndef NS_CLI_RANK_COMMON_H
#define NS_CLI_RANK_COMMON_H

#include "cli.h"
#include "northstar/feature.h"
#include "northstar/rank.h"

#define RANK_CMD "rank"

/* --format F: csv | tsv | adult | criteo, instead of the spec's (into a const char *). */
#define RANK_OPT_FORMAT(T, f) CLI_STR("format", 0, T, f)

/* Set spec's input format to the one named `format` (NULL: leave it). */
int rank_set_format(ns_feature_spec *spec, const char *format);
/* Load the feature spec at `path` with `format` (NULL: its own). */
int rank_load_spec(const char *path, const char *format, ns_feature_spec **spec);
/* Read and encode the labelled file `path` with m's fitted spec (read as
 * `format` when not NULL), predict and compute the metrics. */
int rank_eval_file(const ns_ranker *m, const char *path, const char *format, ns_rank_metrics *mt);
/* One line of metrics, and with `table` the calibration bins. */
void rank_print_metrics(const char *what, const ns_rank_metrics *mt, int table);
/* "key":{...metrics and calibration bins...} (no braces around it). */
void rank_json_metrics(const char *key, const ns_rank_metrics *mt);

#endif
