/*
 * northstar/ilog.h — layer 3 learners: the implicit-feedback log that the
 * item-to-item models (i2i.h) and item vectors train on: positive (user,
 * item, time) triples over a catalogue, indexed as per-user histories (time
 * order) and per-item user lists. dataset.h fills one from a dataset.
 */
#ifndef NORTHSTAR_ILOG_H
#define NORTHSTAR_ILOG_H

#include "northstar/base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_ilog {
    ns_strmap *users, *items; /* external id <-> dense index (first-seen order) */
    int64_t n, cap;
    uint32_t *u, *i;          /* [n] positive interactions */
    double *ts;               /* [n] their times */
    /* ns_ilog_index(): */
    int64_t *uoff;            /* [nusers + 1] */
    uint32_t *uitems;         /* each user's distinct items, oldest first */
    int64_t *ioff;            /* [nitems + 1] */
    uint32_t *iusers;         /* each item's distinct users, ascending */
} ns_ilog;

int ns_ilog_init(ns_ilog *l);
void ns_ilog_release(ns_ilog *l);
/* Declare a catalogue item (so items without feedback exist too). */
int ns_ilog_item(ns_ilog *l, const char *item);
/* One positive interaction (unknown items are added). */
int ns_ilog_add(ns_ilog *l, const char *user, const char *item, double ts);
/* Build the per-user and per-item lists (events sorted by time, stable). */
int ns_ilog_index(ns_ilog *l);
static inline uint32_t ns_ilog_nusers(const ns_ilog *l) { return (uint32_t)ns_strmap_count(l->users); }
static inline uint32_t ns_ilog_nitems(const ns_ilog *l) { return (uint32_t)ns_strmap_count(l->items); }

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_ILOG_H */
