/*
 * channels.c — the recall channels that need nothing but the service's own
 * state (state.h), no trained model:
 *   trending  most clicked items in the last hour (or day): what is hot now
 *   segment   most liked items among users of the same age bucket x gender
 *             x occupation: a profile channel that works from a user's
 *             attributes alone, before any history
 *   popular   most liked items of all time: the fallback that always fills
 *   fresh     the newest published items: exposure for cold-start items,
 *             which no count-based channel can propose yet
 *   cooc      items co-clicked with the user's recent items (item-to-item
 *             collaborative filtering, recency-weighted)
 * Each returns up to `quota` items best first; scores are comparable within
 * the channel only (the pipeline turns ranks into [0, 1] scores).
 */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- trending ---------------------------------------------------------------------------- */

typedef struct { const char *window; } trending_t;

static int trending_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    (void)st;
    static const char *const windows[] = {"1h", "1d", NULL};
    trending_t *t = ns_calloc(1, sizeof *t);
    if (!t) return NS_ENOMEM;
    int rc = ns__cfg_str(params, path, "window", windows, "1h", &t->window);
    if (rc < 0) { free(t); return rc; }
    *self = t;
    return 0;
}

static int trending_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const trending_t *t = self;
    return ns_state_top_trending(req->state, t->window, req->now, out, quota);
}

/* ---- segment and popular (no parameters) ----------------------------------------------------- */

static int noparam_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    (void)st;
    if (params && json_object_size(params))
        return ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "this channel takes no parameters");
    *self = NULL;
    return 0;
}

static int segment_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    (void)self;
    if (!req->uv || req->uv->segment == NS_NO_SEGMENT) return 0;
    return ns_state_top_segment(req->state, req->uv->segment, out, quota);
}

static int popular_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    (void)self;
    return ns_state_top_popular(req->state, out, quota);
}

static int fresh_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    (void)self;
    return ns_state_top_fresh(req->state, req->now, out, quota);
}

static void plain_free(void *self) { free(self); }

/* ---- co-clicks of the recent items ------------------------------------------------------------- */

typedef struct { long history; } cooc_t;

static int cooc_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    (void)st;
    cooc_t *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    int rc = ns__cfg_int(params, path, "history", 1, 64, 8, &c->history);
    if (rc < 0) { free(c); return rc; }
    *self = c;
    return 0;
}


/* Sum over the last `history` items h_j (newest j = 0) of
 * sim(h_j, i) / (1 + j): recent interests weigh more. */
static int cooc_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const cooc_t *c = self;
    if (!req->uv || !req->uv->nrecent || quota <= 0) return 0;
    int nh = req->uv->nrecent < c->history ? req->uv->nrecent : (int)c->history;
    int per = quota < 64 ? 64 : quota;
    ns_scored *buf = ns_malloc(sizeof(ns_scored) * (size_t)per * (size_t)(nh + 1));
    if (!buf) return NS_ENOMEM;
    ns_scored *acc = buf + per; /* accumulated, nh * per at most */
    int nacc = 0;
    for (int j = 0; j < nh; j++) {
        int n = ns_state_similar(req->state, req->uv->recent[j], buf, per);
        for (int k = 0; k < n; k++) acc[nacc++] = (ns_scored){buf[k].item, buf[k].score / (float)(1 + j)};
    }
    /* Merge duplicates: sort by item, sum runs. */
    ns_scored_sort_by_item(acc, nacc);
    int m = 0;
    for (int k = 0; k < nacc; k++) {
        if (m && acc[m - 1].item == acc[k].item) acc[m - 1].score += acc[k].score;
        else acc[m++] = acc[k];
    }
    nacc = m;
    ns_scored_sort(acc, nacc);
    int n = nacc < quota ? nacc : quota;
    memcpy(out, acc, sizeof(ns_scored) * (size_t)n);
    free(buf);
    return n;
}

const ns_channel_type ns__channel_trending = {"trending", trending_create, trending_recall, plain_free};
const ns_channel_type ns__channel_segment = {"segment", noparam_create, segment_recall, plain_free};
const ns_channel_type ns__channel_popular = {"popular", noparam_create, popular_recall, plain_free};
const ns_channel_type ns__channel_fresh = {"fresh", noparam_create, fresh_recall, plain_free};
const ns_channel_type ns__channel_cooc = {"cooc", cooc_create, cooc_recall, plain_free};
