/*
 * trainset.c — what the evaluated service knows: the whole catalogue (users
 * and items) and the training events, written to a store of their own,
 * and the bundle `northstar train --db STORE --out DIR` would train from
 * it (the same calls as src/cli/cmd_train.c: the store read into a data
 * set, ns_bundle_train).
 */
#include "evaluate_int.h"

#include "northstar/store.h"

#include <stdio.h>
#include <stdlib.h>

#define BATCH 5000

static int put_events(ns_store *st, const ns__ev_data *x)
{
    ns_event_rec *ev = ns_malloc(sizeof *ev * BATCH);
    size_t n = 0;
    int rc = ev ? 0 : NS_ENOMEM;
    for (size_t k = 0; k < x->d.nev && rc >= 0; k++) {
        if (x->test[k]) continue;
        ev[n++] = ns_dataset_event(&x->d, &x->d.ev[k]);
        if (n == BATCH) {
            rc = ns_store_put_events(st, ev, n, NULL);
            n = 0;
        }
    }
    if (rc >= 0 && n) rc = ns_store_put_events(st, ev, n, NULL);
    free(ev);
    return rc;
}

int ns__ev_train_store(const ns__ev_data *x, const char *path)
{
    ns__ev_remove_store(path);
    ns_store_opts so = ns_store_defaults();
    so.sync = NS_SYNC_OFF;
    ns_store *st;
    int rc = ns_store_open(&st, path, &so);
    if (rc < 0) return rc;
    if ((rc = ns_store_begin(st)) >= 0) {
        if (x->d.nusers) rc = ns_store_put_users(st, x->d.users, x->d.nusers);
        if (rc >= 0 && x->d.nitems) rc = ns_store_put_items(st, x->d.items, x->d.nitems);
        if (rc >= 0) rc = put_events(st, x);
        rc = rc >= 0 ? ns_store_commit(st) : (ns_store_rollback(st), rc);
    }
    ns_store_close(st);
    if (rc < 0) return ns_err_wrap("writing the training store %s", path);
    return 0;
}

int ns__ev_train_bundle(const char *store, const ns_evaluate_opts *o, const char *bdir, ns_bundle_stats *bs)
{
    ns_store_opts so = ns_store_defaults();
    so.readonly = 1;
    ns_store *st;
    int rc = ns_store_open(&st, store, &so);
    if (rc < 0) return rc;
    ns_dataset d;
    if ((rc = ns_dataset_init(&d)) < 0) {
        ns_store_close(st);
        return rc;
    }
    d.implicit_ratings = o->source == NS_EVALUATE_MOVIELENS || o->implicit_ratings;
    rc = ns_dataset_from_store(&d, st);
    ns_store_close(st);
    ns_bundle_opts bo = o->bundle;
    bo.out_dir = bdir;
    if (rc >= 0) rc = ns_bundle_train(&d, NULL, &bo, bs);
    ns_dataset_release(&d);
    return rc;
}
