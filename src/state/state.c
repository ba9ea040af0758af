/*
 * state.c — the recommendation service's in-memory state: the catalogue
 * (users, items, categories, segments) and what events taught it (seen
 * sets, recent items, popularity overall and per segment, item-item
 * co-clicks, real-time windows), plus the cached top lists the recall
 * channels read.
 *
 * Workload: 10^4..10^6 users, 10^4..10^5 items, a few thousand events per
 * second, a few hundred recommendations per second. Events take the write
 * lock for a few microseconds; recommendations share the read lock. Top
 * lists (popular, per segment, trending, fresh) cost O(items) to build, so
 * they are cached under a separate mutex: a list is built in the first
 * request that needs it, and after that, once it is older than the refresh
 * period (1 s) and events have arrived, a refresher thread rebuilds it
 * while requests go on copying the previous one.
 *
 * Co-clicks use bounded neighbour tables per item (space-saving heavy
 * hitters, Metwally et al. 2005): when a full table meets a new neighbour,
 * the entry with the smallest count is replaced and the newcomer inherits
 * that count + 1, so memory per item is fixed and frequent pairs survive.
 */
#include "northstar/state.h"

#include "idset_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { NSEG = 8 * 4 * 64, CACHE_CAP = 1000 };

typedef struct {
    uint32_t item;
    float count; /* weighted co-clicks */
} nb_t;

typedef struct {
    int age;
    uint8_t age_bucket, gender;
    uint32_t occ; /* 0 unknown, else occupation id + 1 (<= 63) */
    uint32_t segment;
    uint32_t *recent; /* newest first */
    int nrecent;
    ns__idset seen;     /* every consumed item, flags: event types (1 << type) */
    ns__idset pos, neg; /* latest feedback positive / negative: disjoint */
    uint64_t nevents;
} user_t;

typedef struct {
    char *title, *creator;
    uint32_t cats[NS_MAX_ITEM_CATS];
    int ncats;
    double created;
    uint64_t pos;
    double wpos; /* positives weighted by type (ns_state_data.weights) */
    nb_t *nb; /* cooc_neighbours entries, allocated on first co-click */
    int nnb;
    double last_active; /* newest impression or click */
    int in_active;      /* listed in the state's active list */
} item_t;

typedef void (*fill_fn)(ns_state *s, ns_scored *h, int *n, int k, const void *arg);
typedef struct { int day; double now; } trend_arg;
typedef union { uint32_t seg; trend_arg trend; } cache_arg_t; /* what a fill reads */

typedef struct {
    ns_scored *list;
    int n;
    double built_wall;
    uint64_t built_events;
    int valid, building;
    /* a rebuild handed to the refresher: what to run, with what argument */
    int want;
    fill_fn fill;
    cache_arg_t arg;
} cache_t;

struct ns_state {
    pthread_rwlock_t lock;
    ns_state_opts o;
    ns_strmap *uids, *iids, *cats, *occs;
    user_t *users;
    uint32_t nusers, capusers;
    item_t *items;
    uint32_t nitems, capitems;
    uint64_t nevents;
    ns_rt *rt;
    ns_window *type_1h, *type_1d;
    uint64_t type_total[NS_EV__COUNT];
    ns_u64map *seg[NSEG];
    ns_attr *uattr; /* user bitmaps by age bucket, gender, occupation */
    uint32_t *active; /* items with an impression or click in the last day (and some older, until compacted) */
    uint32_t nactive, capactive;
    pthread_mutex_t cache_mu;
    cache_t c_popular, c_fresh, c_trend[2], *c_seg; /* c_seg: NSEG entries */
    double refresh_s;
    /* The refresher: rebuilds stale lists off the request path (started on
     * first need, joined by ns_state_free). */
    pthread_t refresher;
    pthread_cond_t refresh_cv;
    int refresher_on, refresher_stop, nwant;
    _Atomic unsigned seen_filter; /* event types that make an item seen (ns_state_has_seen) */
};

/* ---- lifetime ------------------------------------------------------------------------- */

ns_state *ns_state_new(const ns_state_opts *opts)
{
    ns_state *s = ns_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->o = opts ? *opts : (ns_state_opts){0};
    ns_state_data_complete(&s->o.data);
    if (s->o.recent_len <= 0) s->o.recent_len = 32;
    if (s->o.cooc_neighbours <= 0) s->o.cooc_neighbours = 64;
    if (s->o.cooc_history <= 0) s->o.cooc_history = 20;
    if (s->o.cooc_history > s->o.recent_len) s->o.cooc_history = s->o.recent_len;
    pthread_rwlock_init(&s->lock, NULL);
    pthread_mutex_init(&s->cache_mu, NULL);
    pthread_cond_init(&s->refresh_cv, NULL);
    s->refresh_s = 1.0;
    atomic_init(&s->seen_filter, ((1u << NS_EV__COUNT) - 1) & ~(1u << NS_EV_IMPRESSION));
    s->uids = ns_strmap_new(1024);
    s->iids = ns_strmap_new(1024);
    s->cats = ns_strmap_new(64);
    s->occs = ns_strmap_new(64);
    s->rt = ns_rt_new(1024, 1024);
    s->type_1h = ns_window_new(3600, 12, NS_EV__COUNT);
    s->type_1d = ns_window_new(86400, 24, NS_EV__COUNT);
    s->c_seg = ns_calloc(NSEG, sizeof(cache_t));
    if (ns_attr_create(&s->uattr) < 0) {
        ns_state_free(s);
        return NULL;
    }
    if (!s->uids || !s->iids || !s->cats || !s->occs || !s->rt || !s->type_1h || !s->type_1d || !s->c_seg) {
        ns_state_free(s);
        return NULL;
    }
    return s;
}

void ns_state_free(ns_state *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->cache_mu);
    int on = s->refresher_on;
    s->refresher_stop = 1;
    pthread_cond_signal(&s->refresh_cv);
    pthread_mutex_unlock(&s->cache_mu);
    if (on) pthread_join(s->refresher, NULL);
    for (uint32_t i = 0; i < s->nusers; i++) {
        free(s->users[i].recent);
        ns__idset_free(&s->users[i].seen);
        ns__idset_free(&s->users[i].pos);
        ns__idset_free(&s->users[i].neg);
    }
    for (uint32_t i = 0; i < s->nitems; i++) {
        free(s->items[i].title);
        free(s->items[i].creator);
        free(s->items[i].nb);
    }
    free(s->users);
    free(s->items);
    free(s->active);
    for (int i = 0; i < NSEG; i++) {
        if (s->seg[i]) ns_u64map_release(s->seg[i]);
        free(s->seg[i]);
    }
    if (s->c_seg)
        for (int i = 0; i < NSEG; i++) free(s->c_seg[i].list);
    free(s->c_seg);
    free(s->c_popular.list);
    free(s->c_fresh.list);
    free(s->c_trend[0].list);
    free(s->c_trend[1].list);
    ns_strmap_free(s->uids);
    ns_strmap_free(s->iids);
    ns_strmap_free(s->cats);
    ns_strmap_free(s->occs);
    ns_rt_free(s->rt);
    ns_attr_free(s->uattr);
    ns_window_free(s->type_1h);
    ns_window_free(s->type_1d);
    pthread_rwlock_destroy(&s->lock);
    pthread_mutex_destroy(&s->cache_mu);
    pthread_cond_destroy(&s->refresh_cv);
    free(s);
}

void ns_state_rdlock(ns_state *s) { pthread_rwlock_rdlock(&s->lock); }
void ns_state_unlock(ns_state *s) { pthread_rwlock_unlock(&s->lock); }
void ns_state_set_refresh(ns_state *s, double seconds) { s->refresh_s = seconds >= 0 ? seconds : 0; }
ns_rt *ns_state_rt(ns_state *s) { return s->rt; }
double ns_state_now(ns_state *s) { return ns_rt_now(s->rt); }

uint32_t ns_state_users(ns_state *s)
{
    pthread_rwlock_rdlock(&s->lock);
    uint32_t n = s->nusers;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

uint32_t ns_state_items(ns_state *s)
{
    pthread_rwlock_rdlock(&s->lock);
    uint32_t n = s->nitems;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

uint64_t ns_state_events(ns_state *s)
{
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n = s->nevents;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

uint64_t ns_state_type_count(ns_state *s, int type, const char *window, double now)
{
    if (type < 0 || type >= NS_EV__COUNT) return 0;
    if (!strcmp(window, "1h")) return ns_window_get(s->type_1h, (uint32_t)type, now);
    if (!strcmp(window, "1d")) return ns_window_get(s->type_1d, (uint32_t)type, now);
    pthread_rwlock_rdlock(&s->lock);
    uint64_t n = s->type_total[type];
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* ---- catalogue --------------------------------------------------------------------------- */

static int age_bucket(int age)
{
    if (age <= 0) return 0;
    if (age < 18) return 1;
    if (age < 25) return 2;
    if (age < 35) return 3;
    if (age < 45) return 4;
    if (age < 50) return 5;
    if (age < 56) return 6;
    return 7;
}

static int gender_code(const char *g)
{
    if (!g || !*g) return 0;
    if (!strcmp(g, "M") || !strcmp(g, "m") || !strcmp(g, "male")) return 1;
    if (!strcmp(g, "F") || !strcmp(g, "f") || !strcmp(g, "female")) return 2;
    return 3;
}

/* Grow an array of `size`-byte elements to hold at least n. */
static int grow_array(void **arr, uint32_t *cap, uint32_t n, size_t size)
{
    if (n <= *cap) return 0;
    uint32_t nc = *cap ? *cap * 2 : 1024;
    while (nc < n) nc *= 2;
    void *p = ns_realloc(*arr, (size_t)nc * size);
    if (!p) return NS_ENOMEM;
    memset((char *)p + (size_t)*cap * size, 0, (size_t)(nc - *cap) * size);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Index for an external user id, creating an empty user. Write lock held. */
static int user_ensure(ns_state *s, const char *ext, uint32_t *idx)
{
    int64_t id = ns_strmap_intern(s->uids, ext, strlen(ext));
    if (id < 0) return (int)id;
    if ((uint32_t)id == s->nusers) {
        int rc = grow_array((void **)&s->users, &s->capusers, s->nusers + 1, sizeof(user_t));
        if (rc < 0) return rc;
        user_t *u = &s->users[s->nusers];
        memset(u, 0, sizeof *u);
        u->segment = NS_NO_SEGMENT;
        if (!(u->recent = ns_malloc(sizeof(uint32_t) * (size_t)s->o.recent_len))) return NS_ENOMEM;
        s->nusers++;
    }
    *idx = (uint32_t)id;
    return 0;
}

/* The profile bitmaps of a user: age (bucket name), gender, occupation.
 * Unknown attributes are left out, so "everyone with gender=F" never
 * includes users who did not say. Write lock held. */
static const char *const age_names[8] = {"unknown", "under18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"};

static int index_user_attrs(ns_state *s, uint32_t idx, const user_t *u)
{
    int rc = ns_attr_remove(s->uattr, idx);
    if (rc >= 0 && u->age_bucket) rc = ns_attr_set(s->uattr, idx, "age", age_names[u->age_bucket]);
    if (rc >= 0 && u->gender) rc = ns_attr_set(s->uattr, idx, "gender", u->gender == 1 ? "M" : u->gender == 2 ? "F" : "other");
    if (rc >= 0 && u->occ) rc = ns_attr_set(s->uattr, idx, "occupation", ns_strmap_key(s->occs, u->occ - 1, NULL));
    return rc;
}

const char *ns_state_age_name(int bucket) { return bucket >= 0 && bucket < 8 ? age_names[bucket] : "unknown"; }

const ns_attr *ns_state_user_attrs(ns_state *s) { return s->uattr; }
int ns_state_put_user(ns_state *s, const ns_user_rec *r, uint32_t *out)
{
    if (!r->id || !*r->id) return ns_err_set_at(NS_EINVAL, NULL, 0, "id", NULL, "user id is missing");
    pthread_rwlock_wrlock(&s->lock);
    uint32_t idx = 0;
    int rc = user_ensure(s, r->id, &idx);
    if (rc >= 0) {
        user_t *u = &s->users[idx];
        u->age = r->age;
        u->age_bucket = (uint8_t)age_bucket(r->age);
        u->gender = (uint8_t)gender_code(r->gender);
        u->occ = 0;
        if (r->occupation && *r->occupation) {
            int64_t o = ns_strmap_intern(s->occs, r->occupation, strlen(r->occupation));
            if (o >= 0) u->occ = o < 62 ? (uint32_t)o + 1 : 63;
        }
        u->segment = u->age_bucket || u->gender || u->occ
                         ? (uint32_t)u->age_bucket * 256u + (uint32_t)u->gender * 64u + u->occ
                         : NS_NO_SEGMENT;
        rc = index_user_attrs(s, idx, u);
        if (out) *out = idx;
    }
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? ns_strdup(src) : NULL;
}

int ns_state_put_item(ns_state *s, const ns_item_rec *r, uint32_t *out)
{
    if (!r->id || !*r->id) return ns_err_set_at(NS_EINVAL, NULL, 0, "id", NULL, "item id is missing");
    pthread_rwlock_wrlock(&s->lock);
    int rc = 0;
    int64_t id = ns_strmap_intern(s->iids, r->id, strlen(r->id));
    if (id < 0) {
        rc = (int)id;
        goto out;
    }
    if ((uint32_t)id == s->nitems) {
        if ((rc = grow_array((void **)&s->items, &s->capitems, s->nitems + 1, sizeof(item_t))) < 0) goto out;
        memset(&s->items[s->nitems], 0, sizeof(item_t));
        s->nitems++;
    }
    item_t *it = &s->items[id];
    set_str(&it->title, r->title);
    set_str(&it->creator, r->creator);
    it->created = r->created;
    it->ncats = 0;
    for (const char *p = r->categories; p && *p && it->ncats < NS_MAX_ITEM_CATS;) {
        const char *e = strchr(p, '|');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        while (n && *p == ' ') { p++; n--; }
        while (n && p[n - 1] == ' ') n--;
        if (n) {
            int64_t c = ns_strmap_intern(s->cats, p, n);
            if (c >= 0) it->cats[it->ncats++] = (uint32_t)c;
        }
        if (!e) break;
        p = e + 1;
    }
    if (out) *out = (uint32_t)id;
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

int ns_state_find_user(ns_state *s, const char *ext, uint32_t *idx)
{
    pthread_rwlock_rdlock(&s->lock);
    int64_t id = ns_strmap_find(s->uids, ext, strlen(ext));
    pthread_rwlock_unlock(&s->lock);
    if (id < 0) return 0;
    *idx = (uint32_t)id;
    return 1;
}

int ns_state_find_item(ns_state *s, const char *ext, uint32_t *idx)
{
    pthread_rwlock_rdlock(&s->lock);
    int64_t id = ns_strmap_find(s->iids, ext, strlen(ext));
    pthread_rwlock_unlock(&s->lock);
    if (id < 0) return 0;
    *idx = (uint32_t)id;
    return 1;
}

int ns_state_find_category(ns_state *s, const char *name, uint32_t *id)
{
    pthread_rwlock_rdlock(&s->lock);
    int64_t c = ns_strmap_find(s->cats, name, strlen(name));
    pthread_rwlock_unlock(&s->lock);
    if (c < 0) return 0;
    *id = (uint32_t)c;
    return 1;
}

/* Unlocked lookups for code already under the lock. */
int ns_state_find_user_locked(ns_state *s, const char *ext, uint32_t *idx)
{
    int64_t id = ns_strmap_find(s->uids, ext, strlen(ext));
    if (id < 0) return 0;
    *idx = (uint32_t)id;
    return 1;
}

uint32_t ns_state_nitems_locked(ns_state *s) { return s->nitems; }
uint64_t ns_state_nevents_locked(ns_state *s) { return s->nevents; }
uint32_t ns_state_ncats_locked(ns_state *s) { return (uint32_t)ns_strmap_count(s->cats); }

void ns_state_user(ns_state *s, uint32_t u, ns_user_view *v)
{
    const user_t *x = &s->users[u];
    *v = (ns_user_view){ns_strmap_key(s->uids, u, NULL),
                        x->age,
                        x->age_bucket,
                        x->gender == 1 ? "M" : x->gender == 2 ? "F" : x->gender == 3 ? "other" : NULL,
                        x->occ ? ns_strmap_key(s->occs, x->occ - 1, NULL) : NULL,
                        x->segment,
                        x->recent,
                        x->nrecent,
                        x->seen.v,
                        x->seen.n,
                        x->pos.v,
                        x->neg.v,
                        x->pos.n,
                        x->neg.n,
                        x->nevents};
}

void ns_state_item(ns_state *s, uint32_t i, ns_item_view *v)
{
    const item_t *x = &s->items[i];
    *v = (ns_item_view){ns_strmap_key(s->iids, i, NULL), x->title, x->creator, x->cats, x->ncats, x->created, x->pos, x->wpos};
}

const char *ns_state_category_name(ns_state *s, uint32_t cat) { return ns_strmap_key(s->cats, cat, NULL); }

int ns_state_has_seen(ns_state *s, uint32_t user, uint32_t item)
{
    unsigned mask = atomic_load_explicit(&s->seen_filter, memory_order_relaxed);
    return mask && (ns_state_seen_types(s, user, item) & mask) != 0;
}

void ns_state_set_seen_filter(ns_state *s, unsigned mask) { atomic_store(&s->seen_filter, mask); }

unsigned ns_state_seen_types(ns_state *s, uint32_t user, uint32_t item)
{
    const ns__idset *x = &s->users[user].seen;
    int found;
    uint32_t at = ns__idset_find(x, item, &found);
    return found ? x->flags[at] : 0;
}

const ns_state_data *ns_state_data_of(const ns_state *s) { return &s->o.data; }

/* ---- events ------------------------------------------------------------------------------------ */

static void cooc_add(ns_state *s, item_t *it, uint32_t other, float w)
{
    int M = s->o.cooc_neighbours;
    if (!it->nb && !(it->nb = ns_calloc((size_t)M, sizeof(nb_t)))) return;
    int minj = 0;
    for (int j = 0; j < it->nnb; j++) {
        if (it->nb[j].item == other) {
            it->nb[j].count += w;
            return;
        }
        if (it->nb[j].count < it->nb[minj].count) minj = j;
    }
    if (it->nnb < M) it->nb[it->nnb++] = (nb_t){other, w};
    else it->nb[minj] = (nb_t){other, it->nb[minj].count + w};
}

/* Trending only looks at items seen in the last day: keep them in a list,
 * dropping the stale ones every 4096 events. Write lock held. */
static int mark_active(ns_state *s, uint32_t ii, int type, double ts)
{
    if (type != NS_EV_IMPRESSION && type != NS_EV_CLICK) return 0;
    item_t *it = &s->items[ii];
    if (ts > it->last_active) it->last_active = ts;
    if (!it->in_active) {
        int rc = grow_array((void **)&s->active, &s->capactive, s->nactive + 1, sizeof(uint32_t));
        if (rc < 0) return rc;
        s->active[s->nactive++] = ii;
        it->in_active = 1;
    }
    if ((s->nevents & 4095) == 0) {
        double horizon = ns_rt_now(s->rt) - 86400.0;
        uint32_t k = 0;
        for (uint32_t j = 0; j < s->nactive; j++) {
            item_t *x = &s->items[s->active[j]];
            if (x->last_active >= horizon) s->active[k++] = s->active[j];
            else x->in_active = 0;
        }
        s->nactive = k;
    }
    return 0;
}

/* Per-segment popularity, in thousandths of a weighted event. */
static int segment_add(ns_state *s, uint32_t seg, uint32_t ii, float w)
{
    ns_u64map **m = &s->seg[seg];
    if (!*m) {
        if (!(*m = ns_calloc(1, sizeof **m)) || ns_u64map_init(*m, 256) < 0) {
            free(*m);
            *m = NULL;
            return NS_ENOMEM;
        }
    }
    uint64_t c = 0;
    ns_u64map_get(*m, ii, &c);
    return ns_u64map_put(*m, ii, c + (uint64_t)lround((double)w * 1000.0));
}

/* A negative signal: the item leaves the positives and the recent items
 * (no channel builds on it any more); counts already made stay. */
static int negative(user_t *u, uint32_t ii)
{
    ns__idset_remove(&u->pos, ii);
    for (int j = 0; j < u->nrecent; j++)
        if (u->recent[j] == ii) {
            memmove(u->recent + j, u->recent + j + 1, sizeof(uint32_t) * (size_t)(u->nrecent - j - 1));
            u->nrecent--;
            break;
        }
    return ns__idset_add(&u->neg, ii, 0, 0);
}

/* A positive signal of weight w: popularity, segment counts, co-clicks
 * with the recent items, then ii becomes the newest recent item. */
static int positive(ns_state *s, user_t *u, uint32_t ii, float w)
{
    int rc;
    ns__idset_remove(&u->neg, ii);
    if ((rc = ns__idset_add(&u->pos, ii, 0, 0)) < 0) return rc;
    item_t *it = &s->items[ii];
    it->pos++;
    it->wpos += w;
    if (u->segment != NS_NO_SEGMENT && (rc = segment_add(s, u->segment, ii, w)) < 0) return rc;
    int at = -1;
    for (int j = 0; j < u->nrecent; j++) {
        if (u->recent[j] == ii) { at = j; continue; }
        if (j < s->o.cooc_history) {
            cooc_add(s, it, u->recent[j], w);
            cooc_add(s, &s->items[u->recent[j]], ii, w);
        }
    }
    if (at < 0) at = u->nrecent < s->o.recent_len ? u->nrecent++ : u->nrecent - 1;
    memmove(u->recent + 1, u->recent, sizeof(uint32_t) * (size_t)at);
    u->recent[0] = ii;
    return 0;
}

int ns_state_event(ns_state *s, const ns_event_rec *ev)
{
    pthread_rwlock_wrlock(&s->lock);
    uint32_t ui = 0, ii = 0;
    int rc = 0;
    int64_t iid = ns_strmap_find(s->iids, ev->item, strlen(ev->item));
    if (iid < 0) {
        rc = ns_err_set_at(NS_ENOTFOUND, NULL, 0, "item", ev->item, "unknown item");
        goto out;
    }
    ii = (uint32_t)iid;
    if ((rc = user_ensure(s, ev->user, &ui)) < 0) goto out;
    if ((rc = ns_rt_event(s->rt, ui, ii, ev->type, ev->ts)) < 0) goto out;
    if ((rc = mark_active(s, ii, ev->type, ev->ts)) < 0) goto out;
    ns_window_add(s->type_1h, (uint32_t)ev->type, ev->ts, 1);
    ns_window_add(s->type_1d, (uint32_t)ev->type, ev->ts, 1);
    s->type_total[ev->type]++;
    s->nevents++;
    user_t *u = &s->users[ui];
    u->nevents++;
    if (ev->type != NS_EV_IMPRESSION && (rc = ns__idset_add(&u->seen, ii, 1, (uint8_t)(1u << ev->type))) < 0) goto out;
    int pol = ns_state_data_polarity(&s->o.data, ev->type, ev->value);
    if (pol < 0) rc = negative(u, ii);
    else if (pol > 0) rc = positive(s, u, ii, (float)s->o.data.weights[ev->type]);
out:
    pthread_rwlock_unlock(&s->lock);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------------------- */

static int load_user(const ns_user_rec *u, void *ctx) { return ns_state_put_user(ctx, u, NULL) < 0; }
static int load_item(const ns_item_rec *it, void *ctx) { return ns_state_put_item(ctx, it, NULL) < 0; }
static int load_event(int64_t seq, const ns_event_rec *ev, void *ctx)
{
    (void)seq;
    return ns_state_event(ctx, ev) < 0;
}

int ns_state_load(ns_state *s, ns_store *st)
{
    int rc;
    if ((rc = ns_store_scan_users(st, load_user, s)) != 0) goto fail;
    if ((rc = ns_store_scan_items(st, load_item, s)) != 0) goto fail;
    if ((rc = ns_store_scan_events(st, 0, load_event, s)) != 0) goto fail;
    return 0;
fail:
    if (rc > 0) rc = ns_err_last()->code ? ns_err_last()->code : NS_EINTERNAL;
    ns_err_wrap("loading state from %s", ns_store_path(st));
    return rc;
}

/* ---- top lists ------------------------------------------------------------------------------------------ */

/* Next cache with a rebuild wanted (under cache_mu), NULL when none. */
static cache_t *next_wanted(ns_state *s)
{
    if (!s->nwant) return NULL;
    cache_t *fixed[] = {&s->c_popular, &s->c_fresh, &s->c_trend[0], &s->c_trend[1]};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fixed[i]->want) return fixed[i];
    for (int i = 0; i < NSEG; i++)
        if (s->c_seg[i].want) return &s->c_seg[i];
    return NULL;
}

/* The refresher thread: rebuilds the lists requests found stale, under the
 * state's read lock, and swaps each in under cache_mu. A request never
 * pays for a rebuild after a list's first build (stale while revalidating:
 * the previous list is served until the new one is in). */
static void *refresher_main(void *arg)
{
    ns_state *s = arg;
    pthread_mutex_lock(&s->cache_mu);
    while (!s->refresher_stop) {
        cache_t *c = next_wanted(s);
        if (!c) {
            pthread_cond_wait(&s->refresh_cv, &s->cache_mu);
            continue;
        }
        c->want = 0;
        s->nwant--;
        fill_fn fill = c->fill;
        cache_arg_t a = c->arg;
        pthread_mutex_unlock(&s->cache_mu);
        ns_scored *fresh = ns_malloc(sizeof(ns_scored) * CACHE_CAP);
        int n = 0;
        double wall = ns_now();
        pthread_rwlock_rdlock(&s->lock);
        uint64_t nev = s->nevents;
        if (fresh) {
            fill(s, fresh, &n, CACHE_CAP, &a);
            ns_scored_sort(fresh, n);
        }
        pthread_rwlock_unlock(&s->lock);
        pthread_mutex_lock(&s->cache_mu);
        if (fresh) {
            free(c->list);
            c->list = fresh;
            c->n = n;
            c->built_wall = wall;
            c->built_events = nev;
        }
        c->building = 0;
    }
    pthread_mutex_unlock(&s->cache_mu);
    return NULL;
}

/* Copy a cached list. The first build happens in the request, under the
 * cache mutex; later rebuilds of a stale list go to the refresher thread
 * while the request (and the others) copy the previous list. With a
 * refresh period of 0 (tests, replays) every rebuild is done in the
 * request, so a read always sees the events before it. The caller holds
 * the state's read lock. */
static int cached(ns_state *s, cache_t *c, fill_fn fill, const void *arg, size_t argsz, ns_scored *out, int max)
{
    pthread_mutex_lock(&s->cache_mu);
    double wall = ns_now();
    int stale = !c->valid || (wall - c->built_wall >= s->refresh_s && c->built_events != s->nevents);
    if (stale && (!c->valid || s->refresh_s <= 0)) {
        ns_scored *fresh = ns_malloc(sizeof(ns_scored) * CACHE_CAP);
        if (!fresh) {
            pthread_mutex_unlock(&s->cache_mu);
            return NS_ENOMEM;
        }
        int n = 0;
        fill(s, fresh, &n, CACHE_CAP, arg);
        ns_scored_sort(fresh, n);
        free(c->list);
        c->list = fresh;
        c->n = n;
        c->built_wall = wall;
        c->built_events = s->nevents;
        c->valid = 1;
    } else if (stale && !c->building) {
        if (!s->refresher_on && !s->refresher_stop) {
            if (pthread_create(&s->refresher, NULL, refresher_main, s) == 0) s->refresher_on = 1;
        }
        if (s->refresher_on) {
            c->building = 1;
            c->want = 1;
            c->fill = fill;
            memcpy(&c->arg, arg, argsz);
            s->nwant++;
            pthread_cond_signal(&s->refresh_cv);
        }
    }
    int n = c->n < max ? c->n : max;
    memcpy(out, c->list, sizeof(ns_scored) * (size_t)n);
    pthread_mutex_unlock(&s->cache_mu);
    return n;
}

static void fill_popular(ns_state *s, ns_scored *h, int *n, int k, const void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < s->nitems; i++)
        if (s->items[i].pos) ns_scored_push(h, n, k, (ns_scored){i, (float)s->items[i].wpos});
}

/* Newest first; the score is the creation time in days. */
static void fill_fresh(ns_state *s, ns_scored *h, int *n, int k, const void *arg)
{
    (void)arg;
    for (uint32_t i = 0; i < s->nitems; i++) ns_scored_push(h, n, k, (ns_scored){i, (float)(s->items[i].created / 86400.0)});
}

static void fill_segment(ns_state *s, ns_scored *h, int *n, int k, const void *arg)
{
    const ns_u64map *m = s->seg[*(const uint32_t *)arg];
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) ns_scored_push(h, n, k, (ns_scored){(uint32_t)m->keys[i], (float)((double)m->vals[i] / 1000.0)});
}

static void fill_trending(ns_state *s, ns_scored *h, int *n, int k, const void *arg)
{
    const trend_arg *a = arg;
    double horizon = a->now - (a->day ? 86400.0 : 3600.0);
    for (uint32_t j = 0; j < s->nactive; j++) {
        uint32_t i = s->active[j];
        if (s->items[i].last_active < horizon) continue;
        uint64_t imp, clk;
        ns_rt_item_counts(s->rt, i, a->now, a->day, &imp, &clk);
        if (clk || imp) ns_scored_push(h, n, k, (ns_scored){i, (float)clk + 0.001f * (float)imp});
    }
}

int ns_state_top_popular(ns_state *s, ns_scored *out, int max)
{
    return cached(s, &s->c_popular, fill_popular, &(uint32_t){0}, sizeof(uint32_t), out, max);
}

int ns_state_top_fresh(ns_state *s, double now, ns_scored *out, int max)
{
    ns_scored *all = ns_malloc(sizeof(ns_scored) * CACHE_CAP);
    if (!all) return NS_ENOMEM;
    int n = cached(s, &s->c_fresh, fill_fresh, &(uint32_t){0}, sizeof(uint32_t), all, CACHE_CAP), k = 0;
    for (int i = 0; i < n && k < max; i++)
        if (s->items[all[i].item].created <= now) out[k++] = all[i];
    free(all);
    return n < 0 ? n : k;
}

int ns_state_top_segment(ns_state *s, uint32_t segment, ns_scored *out, int max)
{
    if (segment >= NSEG) return 0;
    return cached(s, &s->c_seg[segment], fill_segment, &segment, sizeof segment, out, max);
}

int ns_state_top_trending(ns_state *s, const char *window, double now, ns_scored *out, int max)
{
    trend_arg a = {window && !strcmp(window, "1d"), now};
    return cached(s, &s->c_trend[a.day], fill_trending, &a, sizeof a, out, max);
}

int ns_state_similar(ns_state *s, uint32_t item, ns_scored *out, int max)
{
    if (item >= s->nitems || max <= 0) return 0;
    const item_t *it = &s->items[item];
    int n = 0;
    ns_scored *h = ns_malloc(sizeof(ns_scored) * (size_t)max);
    if (!h) return NS_ENOMEM;
    for (int j = 0; j < it->nnb; j++) {
        const item_t *o = &s->items[it->nb[j].item];
        double denom = sqrt((it->wpos > 0 ? it->wpos : 1.0) * (o->wpos > 0 ? o->wpos : 1.0));
        ns_scored_push(h, &n, max, (ns_scored){it->nb[j].item, (float)(it->nb[j].count / denom)});
    }
    ns_scored_sort(h, n);
    memcpy(out, h, sizeof(ns_scored) * (size_t)n);
    free(h);
    return n;
}
