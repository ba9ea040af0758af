/*
 * channel_profile.c — the "profile" recall channel: what users like the
 * requester like, with "like" defined by attribute bitmaps (attr.h). The
 * segment is the intersection of the users' bitmaps for the requester's
 * values of `fields` (default age bucket x gender x occupation); when it
 * holds fewer than `min_users` users the last field is dropped (backoff to
 * a coarser segment) until it is large enough. The candidates are the
 * items most liked by the segment's users, each user's positives counted
 * once, minus what the requester has seen.
 *
 *   {"name": "profile", "type": "profile", "quota": 100,
 *    "params": {"fields": ["age", "gender", "occupation"], "min_users": 20}}
 *
 * Because segments are bitmaps, any combination of fields is a segment
 * (the "segment" channel of channels.c counts one fixed key). Lists are
 * cached per segment and rebuilt at most once a second while events
 * arrive: a rebuild walks the segment's users' positive items. A segment's
 * first list is built under the channel's mutex; later rebuilds run outside
 * it (stale while revalidating: one request rebuilds, the others keep
 * reading the previous list), so no request queues behind another's
 * rebuild.
 */
#include "pipeline_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FIELDS = 3, LIST = 1000, MAX_CACHED = 4096 };

typedef struct {
    char key[160];
    ns_scored list[LIST];
    int n;
    double built_wall;
    uint64_t built_events;
    int building; /* a request is rebuilding it outside the mutex */
} seg_list;

typedef struct {
    int fields[MAX_FIELDS]; /* 0 age, 1 gender, 2 occupation */
    int nfields;
    long min_users;
    double refresh_s;
    pthread_mutex_t mu;
    seg_list **cache; /* open addressing by key hash */
    int ncached;
} profile_ch;

static const char *const field_names[MAX_FIELDS] = {"age", "gender", "occupation"};

static void profile_free(void *self)
{
    profile_ch *c = self;
    if (!c) return;
    if (c->cache)
        for (int i = 0; i < MAX_CACHED; i++) free(c->cache[i]);
    free(c->cache);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int profile_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    (void)st;
    profile_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    int rc = ns__cfg_int(params, path, "min_users", 1, 1000000, 20, &c->min_users);
    if (rc >= 0) rc = ns__cfg_num(params, path, "refresh_s", 0, 3600, 1.0, &c->refresh_s);
    const json_t *f = params ? json_object_get(params, "fields") : NULL;
    if (rc >= 0 && f) {
        char p[160];
        snprintf(p, sizeof p, "%s.fields", path);
        if (!json_is_array(f) || !json_array_size(f) || json_array_size(f) > MAX_FIELDS)
            rc = ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "expected 1 to 3 of \"age\", \"gender\", \"occupation\"");
        size_t i;
        json_t *v;
        json_array_foreach(f, i, v)
        {
            if (rc < 0) break;
            int k = 0;
            while (k < MAX_FIELDS && !(json_is_string(v) && !strcmp(json_string_value(v), field_names[k]))) k++;
            for (int j = 0; j < c->nfields && k < MAX_FIELDS; j++)
                if (c->fields[j] == k) k = MAX_FIELDS;
            if (k == MAX_FIELDS)
                rc = ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "expected distinct \"age\", \"gender\", \"occupation\"");
            else c->fields[c->nfields++] = k;
        }
    } else if (rc >= 0) {
        c->nfields = MAX_FIELDS;
        for (int k = 0; k < MAX_FIELDS; k++) c->fields[k] = k;
    }
    if (rc >= 0 && !(c->cache = ns_calloc(MAX_CACHED, sizeof *c->cache))) rc = NS_ENOMEM;
    if (rc < 0) {
        profile_free(c);
        return rc;
    }
    *self = c;
    return 0;
}

static const char *field_value(const ns_user_view *uv, int f)
{
    if (f == 0) return uv->age_bucket ? ns_state_age_name(uv->age_bucket) : NULL;
    return f == 1 ? uv->gender : uv->occupation;
}

/* The requester's segment (with backoff) as a bitmap the caller frees, and
 * its key. NULL when no field is known. */
static roaring_bitmap_t *segment_of(const profile_ch *c, ns_state *st, const ns_user_view *uv, char *key,
                                    size_t keysz)
{
    const ns_attr *ua = ns_state_user_attrs(st);
    const roaring_bitmap_t *bm[MAX_FIELDS];
    const char *val[MAX_FIELDS];
    int n = 0;
    for (int k = 0; k < c->nfields; k++) {
        const char *v = field_value(uv, c->fields[k]);
        const roaring_bitmap_t *b = v ? ns_attr_get(ua, field_names[c->fields[k]], v) : NULL;
        if (!b) continue;
        bm[n] = b;
        val[n] = v;
        n++;
    }
    while (n > 0) {
        roaring_bitmap_t *seg = roaring_bitmap_copy(bm[0]);
        if (!seg) return NULL;
        for (int k = 1; k < n; k++) roaring_bitmap_and_inplace(seg, bm[k]);
        if (n == 1 || roaring_bitmap_get_cardinality(seg) >= (uint64_t)c->min_users) {
            size_t len = 0;
            key[0] = 0;
            for (int k = 0; k < n; k++)
                len += (size_t)snprintf(key + len, len < keysz ? keysz - len : 0, "%s%s=%s", k ? "&" : "",
                                        field_names[c->fields[k]], val[k]);
            return seg;
        }
        roaring_bitmap_free(seg);
        n--; /* back off: drop the last field */
    }
    return NULL;
}

typedef struct {
    ns_state *st;
    uint32_t *count, *touched;
    uint32_t nt, nitems;
} count_ctx;

static bool count_user(uint32_t u, void *arg)
{
    count_ctx *x = arg;
    ns_user_view v;
    ns_state_user(x->st, u, &v);
    for (uint32_t k = 0; k < v.npos; k++) { /* what the segment liked */
        uint32_t i = v.pos[k];
        if (i >= x->nitems) continue;
        if (!x->count[i]++) x->touched[x->nt++] = i;
    }
    return true;
}

static int rebuild(seg_list *s, ns_state *st, const roaring_bitmap_t *seg)
{
    uint32_t nitems = ns_state_nitems_locked(st);
    count_ctx x = {st, ns_calloc(nitems ? nitems : 1, sizeof(uint32_t)), ns_malloc(sizeof(uint32_t) * (nitems ? nitems : 1)),
                   0, nitems};
    if (!x.count || !x.touched) {
        free(x.count);
        free(x.touched);
        return NS_ENOMEM;
    }
    roaring_iterate(seg, count_user, &x);
    s->n = 0;
    for (uint32_t t = 0; t < x.nt; t++) ns_scored_push(s->list, &s->n, LIST, (ns_scored){x.touched[t], (float)x.count[x.touched[t]]});
    ns_scored_sort(s->list, s->n);
    free(x.count);
    free(x.touched);
    return 0;
}

/* The cache slot holding `key` (hash h), or the empty slot where it goes. */
static size_t find_slot(const profile_ch *c, const char *key, uint64_t h)
{
    size_t slot = (size_t)(h % MAX_CACHED);
    while (c->cache[slot] && strcmp(c->cache[slot]->key, key)) slot = (slot + 1) % MAX_CACHED;
    return slot;
}

static int profile_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    profile_ch *c = self;
    if (!req->uv || quota <= 0) return 0;
    char key[160];
    roaring_bitmap_t *seg = segment_of(c, req->state, req->uv, key, sizeof key);
    if (!seg) return 0;
    uint64_t h = ns_hash_bytes(key, strlen(key), 0);
    pthread_mutex_lock(&c->mu);
    int rc = 0, got = 0;
    size_t slot = find_slot(c, key, h);
    seg_list *s = c->cache[slot];
    if (!s) {
        if (c->ncached >= MAX_CACHED / 2) { /* full enough: start over */
            for (int i = 0; i < MAX_CACHED; i++) {
                free(c->cache[i]);
                c->cache[i] = NULL;
            }
            c->ncached = 0;
            slot = (size_t)(h % MAX_CACHED);
        }
        if (!(s = c->cache[slot] = ns_calloc(1, sizeof *s))) rc = NS_ENOMEM;
        else {
            snprintf(s->key, sizeof s->key, "%s", key);
            s->built_wall = -1e300;
            c->ncached++;
        }
    }
    double wall = ns_now();
    uint64_t nev = ns_state_nevents_locked(req->state);
    seg_list *fresh = NULL;
    const seg_list *src = s;
    if (rc >= 0 && s->built_wall < -1e299) { /* the first list: others wait for it */
        rc = rebuild(s, req->state, seg);
        s->built_wall = wall;
        s->built_events = nev;
    } else if (rc >= 0 && !s->building && wall - s->built_wall >= c->refresh_s && s->built_events != nev) {
        s->building = 1;
        pthread_mutex_unlock(&c->mu);
        fresh = ns_malloc(sizeof *fresh);
        int rrc = fresh ? rebuild(fresh, req->state, seg) : NS_ENOMEM;
        pthread_mutex_lock(&c->mu);
        /* The cache may have started over meanwhile: find the entry again. */
        s = c->cache[find_slot(c, key, h)];
        src = s;
        if (s && rrc >= 0 && s->built_wall > -1e299) {
            memcpy(s->list, fresh->list, sizeof(ns_scored) * (size_t)fresh->n);
            s->n = fresh->n;
            s->built_wall = wall;
            s->built_events = nev;
        }
        if (s) s->building = 0;
        if (!s && rrc >= 0) src = fresh; /* evicted: serve what was built */
        rc = rrc < 0 ? rrc : rc;
    }
    for (int k = 0; rc >= 0 && src && k < src->n && got < quota; k++)
        if (!ns_state_has_seen(req->state, req->user, src->list[k].item)) out[got++] = src->list[k];
    pthread_mutex_unlock(&c->mu);
    free(fresh);
    roaring_bitmap_free(seg);
    return rc < 0 ? rc : got;
}

const ns_channel_type ns__channel_profile = {"profile", profile_create, profile_recall, profile_free};
