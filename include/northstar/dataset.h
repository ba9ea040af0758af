/*
 * northstar/dataset.h — layer 5: a catalogue and an event log held in memory
 * for the offline jobs (training a bundle, evaluating on a split), read once
 * from the store and then sliced without touching it again, and the logs
 * and states made from it.
 */
#ifndef NORTHSTAR_DATASET_H
#define NORTHSTAR_DATASET_H

#include "northstar/base.h"
#include "northstar/ilog.h"
#include "northstar/state.h"
#include "northstar/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_devent {
    uint32_t u, i; /* indexes into the dataset's uids / iids */
    int type;      /* ns_event_type */
    float value;
    double ts;
} ns_devent;

typedef struct ns_dataset {
    ns_arena a;               /* the records' strings */
    ns_user_rec *users;       /* catalogue records (users with attributes) */
    uint32_t nusers, capu;
    ns_item_rec *items;       /* catalogue records */
    uint32_t nitems, capi;
    ns_strmap *uids, *iids;   /* every user / item id, records' and events' */
    ns_devent *ev;            /* in time order (stable) after ns_dataset_sort */
    size_t nev, capev;
    int implicit_ratings;     /* every rating counts as positive feedback */
    double positive_threshold;/* ratings >= it are positive (0: 3.5) */
    double weights[NS_EV__COUNT]; /* per event type (0: 1); the states made from d count by them */
} ns_dataset;

/* d's data settings (state.h): what a bundle records in its pipeline.json
 * and the states made from d use. */
ns_state_data ns_dataset_data(const ns_dataset *d);

int ns_dataset_init(ns_dataset *d);
void ns_dataset_release(ns_dataset *d);
/* Copies of the records' strings are kept. */
int ns_dataset_add_user(ns_dataset *d, const ns_user_rec *u);
int ns_dataset_add_item(ns_dataset *d, const ns_item_rec *it);
int ns_dataset_add_event(ns_dataset *d, const char *user, const char *item, int type, double value, double ts);
int ns_dataset_sort(ns_dataset *d);
int ns_dataset_from_store(ns_dataset *d, ns_store *st);
int ns_dataset_positive(const ns_dataset *d, const ns_devent *e);
/* The event as a record (ids valid while no id is added). */
ns_event_rec ns_dataset_event(const ns_dataset *d, const ns_devent *e);
/* The positive events of the subset keep[k] != 0 (NULL = all) as a log
 * over every catalogue item, indexed. */
int ns_dataset_to_ilog(const ns_dataset *d, const uint8_t *keep, ns_ilog *l);
/* A state holding d's catalogue and its events keep[k] != 0 (NULL = all),
 * with d's data settings. */
int ns_dataset_to_state(const ns_dataset *d, const uint8_t *keep, ns_state **out);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_DATASET_H */
