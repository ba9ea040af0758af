/*
 * source.c — the input of `northstar eval` into a data set: a store is read
 * as it is; MovieLens-100K files and CSV / JSONL files go through
 * `northstar import`'s code into a scratch store first (events leniently:
 * rows naming unknown items are skipped and counted, so one bad row does
 * not end an evaluation), then the data set is read from that store.
 */
#include "evaluate_int.h"

#include "northstar/import.h"
#include "northstar/store.h"

#include <string.h>
#include <unistd.h>

/* The counts of one import call added to the running sums. */
static void add_stats(ns_import_stats *sum, const ns_import_stats *s)
{
    sum->users += s->users;
    sum->items += s->items;
    sum->events += s->events;
    sum->skipped += s->skipped;
    sum->unknown_items += s->unknown_items;
    sum->duplicates += s->duplicates;
    sum->users_created += s->users_created;
    sum->before_created += s->before_created;
    sum->negative += s->negative;
    sum->ignored_fields += s->ignored_fields;
}

static int import_file(ns_store *st, const ns_evaluate_opts *o, const char *path, const char *kind, int lenient,
                       ns_import_stats *sum)
{
    ns_import_opts io = {lenient, 0, 0};
    ns_import_stats s = {0};
    int rc = o->source == NS_EVALUATE_CSV ? ns_import_csv(st, path, kind, &io, &s)
                                          : ns_import_jsonl(st, path, kind, &io, &s);
    add_stats(sum, &s);
    return rc;
}

static int import_files(ns_store *st, const ns_evaluate_opts *o, ns_import_stats *sum)
{
    if (o->source == NS_EVALUATE_MOVIELENS) return ns_import_movielens(st, o->data_dir, 0, sum);
    if (!o->events || !o->items)
        return ns_err_set_at(NS_EINVAL, NULL, 0, o->events ? "items" : "events", NULL,
                             "an events file and an items file are required (events of unknown items are skipped)");
    int rc = 0;
    if (o->users) rc = import_file(st, o, o->users, "users", 0, sum);
    if (rc >= 0) rc = import_file(st, o, o->items, "items", 0, sum);
    if (rc >= 0) rc = import_file(st, o, o->events, "events", 1, sum);
    return rc;
}

void ns__ev_remove_store(const char *path)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char p[1300];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        unlink(p);
    }
}

int ns__ev_load(const ns_evaluate_opts *o, const char *work, ns__ev_data *x, ns_evaluate_input *in)
{
    ns_store_opts so = ns_store_defaults();
    char path[1200];
    const char *db = o->db;
    if (o->source == NS_EVALUATE_STORE) {
        if (!db) return ns_err_set_at(NS_EINVAL, NULL, 0, "db", NULL, "a store file is required");
        if (!ns_file_exists(db)) return ns_err_set_at(NS_ENOTFOUND, db, 0, NULL, NULL, "no store here");
        so.readonly = 1;
    } else {
        snprintf(path, sizeof path, "%s/source.db", work);
        ns__ev_remove_store(path);
        so.sync = NS_SYNC_OFF; /* a scratch store: nothing here must survive a crash */
        db = path;
    }
    ns_store *st;
    int rc = ns_store_open(&st, db, &so);
    if (rc < 0) return rc;
    if (o->source != NS_EVALUATE_STORE && (rc = import_files(st, o, &in->imp)) < 0) {
        ns_store_close(st);
        return rc;
    }
    x->d.implicit_ratings = o->source == NS_EVALUATE_MOVIELENS || o->implicit_ratings;
    rc = ns_dataset_from_store(&x->d, st);
    ns_store_close(st);
    if (rc < 0) return rc;
    in->users = (long)ns_strmap_count(x->d.uids);
    in->items = x->d.nitems;
    in->events = (long)x->d.nev;
    return 0;
}
