/*
 * evaluate_int.h — the parts of `northstar eval` (evaluate.h), one file each:
 *   source.c    the input into a scratch store and a data set
 *   split.c     the per-user split over (user, item) pairs; each user's test
 *               items and consumed training items
 *   trainset.c  the training store and the bundle trained from it
 *   variants.c  the derived configs of the diagnostic rows
 *   client.c    the HTTP clients asking the service
 *   score.c     the answers scored, dumped
 */
#ifndef NS_EVALUATE_INT_H
#define NS_EVALUATE_INT_H

#include "northstar/evaluate.h"

#include <stddef.h>
#include <stdint.h>

/* The data set and its split. Item lists hold data set item indexes
 * (d.iids), sorted, per data set user (d.uids): user u's are
 * items[off[u] .. off[u + 1]). */
typedef struct ns__ev_data {
    ns_dataset d;
    uint8_t *test;          /* per event: 1 = test */
    int64_t *toff;          /* test items */
    uint32_t *titems;
    int64_t *soff;          /* consumed in training (any event but an impression) */
    uint32_t *sitems;
    uint32_t *users;        /* the test users, in user order */
    uint32_t nusers;
} ns__ev_data;

void ns__ev_data_release(ns__ev_data *x);

/* source.c: read o's input (through a store in work/source.db for files)
 * into x->d; counts into in. */
int ns__ev_load(const ns_evaluate_opts *o, const char *work, ns__ev_data *x, ns_evaluate_input *in);
/* Remove a scratch store file and its -wal and -shm companions. */
void ns__ev_remove_store(const char *path);

/* split.c */
int ns__ev_split(ns__ev_data *x, double ratio, uint64_t seed, ns_evaluate_input *in);
/* train.tsv and test.tsv (user, item, value, ts) into dir; metrics.tsv emptied. */
int ns__ev_dump_split(const ns__ev_data *x, const char *dir);

/* trainset.c: the catalogue and the training events into a new store at
 * path; then the bundle trained from that store into bdir. */
int ns__ev_train_store(const ns__ev_data *x, const char *path);
int ns__ev_train_bundle(const char *store, const ns_evaluate_opts *o, const char *bdir, ns_bundle_stats *st);

/* variants.c: the rows' configs from the bundle's pipeline.json, written
 * beside it as variant-<n>.json. names/paths get up to max entries. */
typedef struct ns__ev_variant {
    char name[48];
    char path[1200];
} ns__ev_variant;
int ns__ev_variants(const char *bdir, ns__ev_variant *v, int max, int *n, int *diversity);

/* client.c: the answers of GET /v1/recommend/{user}?n=k for every test
 * user: items (data set indexes; UINT32_MAX for an id the catalogue does
 * not have) at items[u * k ..], n of them (-1: the request failed). */
typedef struct ns__ev_answers {
    int k;
    uint32_t *items;
    int *n;
    int *cands;
    double *ms;
    double secs;
} ns__ev_answers;
int ns__ev_ask(const ns__ev_data *x, int port, int k, int clients, const char *label, ns__ev_answers *a);
void ns__ev_answers_release(ns__ev_answers *a);

/* score.c: the row's figures; its predictions (and metrics.tsv) into
 * dump_dir when set. */
int ns__ev_score(const ns__ev_data *x, const ns__ev_answers *a, const char *dump_dir, ns_evaluate_row *row);

#endif /* NS_EVALUATE_INT_H */
