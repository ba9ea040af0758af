/*
 * dataset.c — a catalogue and an event log held in memory for the offline
 * jobs (training a bundle, evaluating on a split): read once from the
 * store, then sliced (a split, a time cut) without touching SQLite again.
 *
 * Workload: 10^5..10^7 events of 24 bytes each, ids interned once.
 */
#include "northstar/dataset.h"

#include <stdlib.h>
#include <string.h>

int ns_dataset_init(ns_dataset *d)
{
    memset(d, 0, sizeof *d);
    ns_arena_init(&d->a, 1 << 20);
    d->uids = ns_strmap_new(1024);
    d->iids = ns_strmap_new(1024);
    if (!d->uids || !d->iids) {
        ns_dataset_release(d);
        return NS_ENOMEM;
    }
    return 0;
}

void ns_dataset_release(ns_dataset *d)
{
    if (!d) return;
    ns_arena_release(&d->a);
    free(d->users);
    free(d->items);
    free(d->ev);
    ns_strmap_free(d->uids);
    ns_strmap_free(d->iids);
    memset(d, 0, sizeof *d);
}

static const char *dup(ns_dataset *d, const char *s) { return s ? ns_arena_strdup(&d->a, s) : NULL; }

static int grow(void **p, uint32_t *cap, uint32_t n, size_t size)
{
    if (n < *cap) return 0;
    uint32_t nc = *cap ? *cap * 2 : 1024;
    void *q = ns_realloc(*p, (size_t)nc * size);
    if (!q) return NS_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

int ns_dataset_add_user(ns_dataset *d, const ns_user_rec *u)
{
    if (grow((void **)&d->users, &d->capu, d->nusers, sizeof *d->users) < 0) return NS_ENOMEM;
    if (ns_strmap_intern(d->uids, u->id, strlen(u->id)) < 0) return NS_ENOMEM;
    d->users[d->nusers++] = (ns_user_rec){dup(d, u->id), u->age, dup(d, u->gender), dup(d, u->occupation),
                                          dup(d, u->zip), dup(d, u->attrs), u->created};
    return 0;
}

int ns_dataset_add_item(ns_dataset *d, const ns_item_rec *it)
{
    if (grow((void **)&d->items, &d->capi, d->nitems, sizeof *d->items) < 0) return NS_ENOMEM;
    if (ns_strmap_intern(d->iids, it->id, strlen(it->id)) < 0) return NS_ENOMEM;
    d->items[d->nitems++] = (ns_item_rec){dup(d, it->id),   dup(d, it->title),   dup(d, it->text), dup(d, it->categories),
                                          dup(d, it->attrs), dup(d, it->creator), it->created};
    return 0;
}

int ns_dataset_add_event(ns_dataset *d, const char *user, const char *item, int type, double value, double ts)
{
    if (d->nev == d->capev) {
        size_t nc = d->capev ? d->capev * 2 : 65536;
        ns_devent *e = ns_realloc(d->ev, nc * sizeof *e);
        if (!e) return NS_ENOMEM;
        d->ev = e;
        d->capev = nc;
    }
    int64_t u = ns_strmap_intern(d->uids, user, strlen(user)), i = ns_strmap_intern(d->iids, item, strlen(item));
    if (u < 0 || i < 0) return NS_ENOMEM;
    d->ev[d->nev++] = (ns_devent){(uint32_t)u, (uint32_t)i, type, (float)value, ts};
    return 0;
}

typedef struct { double ts; size_t k; } tk;

static int by_ts_k(const void *a, const void *b)
{
    const tk *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Stable by time: (ts, original position) pairs sorted, then gathered. */
int ns_dataset_sort(ns_dataset *d)
{
    tk *o = ns_malloc(sizeof *o * (d->nev ? d->nev : 1));
    ns_devent *e = ns_malloc(sizeof *e * (d->nev ? d->nev : 1));
    if (!o || !e) {
        free(o);
        free(e);
        return NS_ENOMEM;
    }
    for (size_t k = 0; k < d->nev; k++) o[k] = (tk){d->ev[k].ts, k};
    qsort(o, d->nev, sizeof *o, by_ts_k);
    for (size_t k = 0; k < d->nev; k++) e[k] = d->ev[o[k].k];
    free(d->ev);
    d->ev = e;
    d->capev = d->nev ? d->nev : 1;
    free(o);
    return 0;
}

ns_state_data ns_dataset_data(const ns_dataset *d)
{
    ns_state_data x = {0};
    x.implicit_ratings = d->implicit_ratings;
    x.positive_threshold = d->positive_threshold;
    for (int t = 0; t < NS_EV__COUNT; t++) x.weights[t] = d->weights[t];
    ns_state_data_complete(&x);
    return x;
}

int ns_dataset_positive(const ns_dataset *d, const ns_devent *e)
{
    if (e->type != NS_EV_RATING) return ns_event_is_positive(e->type, e->value);
    return d->implicit_ratings || e->value >= (d->positive_threshold > 0 ? d->positive_threshold : 3.5);
}

ns_event_rec ns_dataset_event(const ns_dataset *d, const ns_devent *e)
{
    return (ns_event_rec){ns_strmap_key(d->uids, e->u, NULL), ns_strmap_key(d->iids, e->i, NULL), e->type, e->value,
                          e->ts, NULL};
}

static int st_user(const ns_user_rec *u, void *ctx) { return ns_dataset_add_user(ctx, u) < 0; }
static int st_item(const ns_item_rec *it, void *ctx) { return ns_dataset_add_item(ctx, it) < 0; }
static int st_event(int64_t seq, const ns_event_rec *e, void *ctx)
{
    (void)seq;
    return ns_dataset_add_event(ctx, e->user, e->item, e->type, e->value, e->ts) < 0;
}

int ns_dataset_from_store(ns_dataset *d, ns_store *st)
{
    int rc = ns_store_scan_users(st, st_user, d);
    if (rc == 0) rc = ns_store_scan_items(st, st_item, d);
    if (rc == 0) rc = ns_store_scan_events(st, 0, st_event, d);
    if (rc > 0) rc = ns_err_last()->code ? ns_err_last()->code : NS_EINTERNAL;
    if (rc < 0) return ns_err_wrap("reading %s", ns_store_path(st));
    return ns_dataset_sort(d);
}

int ns_dataset_to_ilog(const ns_dataset *d, const uint8_t *keep, ns_ilog *l)
{
    int rc = ns_ilog_init(l);
    for (uint32_t k = 0; rc >= 0 && k < d->nitems; k++) rc = ns_ilog_item(l, d->items[k].id);
    for (size_t k = 0; rc >= 0 && k < d->nev; k++) {
        const ns_devent *e = &d->ev[k];
        if ((keep && !keep[k]) || !ns_dataset_positive(d, e)) continue;
        rc = ns_ilog_add(l, ns_strmap_key(d->uids, e->u, NULL), ns_strmap_key(d->iids, e->i, NULL), e->ts);
    }
    if (rc >= 0) rc = ns_ilog_index(l);
    if (rc < 0) ns_ilog_release(l);
    return rc;
}

int ns_dataset_to_state(const ns_dataset *d, const uint8_t *keep, ns_state **out)
{
    ns_state_opts so = {0};
    so.data = ns_dataset_data(d);
    ns_state *s = ns_state_new(&so);
    if (!s) return NS_ENOMEM;
    int rc = 0;
    for (uint32_t k = 0; rc >= 0 && k < d->nusers; k++) rc = ns_state_put_user(s, &d->users[k], NULL);
    for (uint32_t k = 0; rc >= 0 && k < d->nitems; k++) rc = ns_state_put_item(s, &d->items[k], NULL);
    for (size_t k = 0; rc >= 0 && k < d->nev; k++) {
        if (keep && !keep[k]) continue;
        ns_event_rec e = ns_dataset_event(d, &d->ev[k]);
        rc = ns_state_event(s, &e);
    }
    if (rc < 0) {
        ns_state_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
