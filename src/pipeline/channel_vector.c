/*
 * channel_vector.c — the "vector" recall channel: item embeddings (word2vec
 * over the users' time-ordered histories, or DeepWalk over the user-item
 * graph: w2v.h, graph.h) searched with HNSW (hnsw.h). With "query": "mean" the
 * query is the mean of the unit vectors of the user's `history` most recent
 * items that have a vector, and its nearest items are the candidates,
 * scored by cosine similarity; with "each" every one of those items is a
 * query and an item's score is the sum of its similarities (one search per
 * history item: better lists, `history` times the cost). Seen items are
 * denied inside the search, so the quota is filled with new ones.
 *
 *   {"name": "vector", "type": "vector", "quota": 100,
 *    "params": {"vectors_file": "items.vec", "index_file": "items.hnsw", "history": 3,
 *               "query": "mean", "ef": 0}}
 *
 * The index's ids are the rows of the vectors file (`northstar train`
 * writes both). Workload: one HNSW search (ef = max(quota, stored ef)).
 */
#include "northstar/vec.h"
#include "northstar/hnsw.h"
#include "pipeline_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ns_hnsw *ix;
    ns__rowmap map;
    int dim;
    long history, ef;
    int each; /* query each history item on its own and sum the similarities */
} vec_ch;

static void vec_free(void *self)
{
    vec_ch *c = self;
    if (!c) return;
    ns_hnsw_free(c->ix);
    ns__rowmap_release(&c->map);
    free(c);
}

static int vec_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    vec_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    const char *vf = NULL, *ixf = NULL;
    ns_vectors *v = NULL;
    int rc = ns__cfg_str(params, path, "vectors_file", NULL, NULL, &vf);
    if (rc >= 0) rc = ns__cfg_str(params, path, "index_file", NULL, NULL, &ixf);
    if (rc >= 0) rc = ns__cfg_int(params, path, "history", 1, 100, 3, &c->history);
    if (rc >= 0) rc = ns__cfg_int(params, path, "ef", 0, 10000, 0, &c->ef);
    static const char *const modes[] = {"mean", "each", NULL};
    const char *mode = NULL;
    if (rc >= 0) rc = ns__cfg_str(params, path, "query", modes, "mean", &mode);
    if (rc >= 0) c->each = !strcmp(mode, "each");
    if (rc >= 0 && (!vf || !ixf))
        rc = ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "vectors_file and index_file are required (northstar train)");
    if (rc >= 0 && (rc = ns_vec_read(&v, vf)) < 0) ns_err_wrap("%s.vectors_file", path);
    if (rc >= 0 && (rc = ns_hnsw_load(&c->ix, ixf)) < 0) ns_err_wrap("%s.index_file", path);
    if (rc >= 0) {
        c->dim = ns_hnsw_get_params(c->ix)->dim;
        if (c->dim != v->dim || ns_hnsw_count(c->ix) != (size_t)v->n)
            rc = ns_err_set_at(NS_EMISMATCH, NULL, 0, path, NULL,
                               "the index (%zu x %d) does not match the vectors (%lld x %d): train them together",
                               ns_hnsw_count(c->ix), c->dim, (long long)v->n, v->dim);
    }
    if (rc >= 0) rc = ns__rowmap_build(&c->map, st, v->words);
    ns_vec_free(v);
    if (rc < 0) {
        vec_free(c);
        return rc;
    }
    *self = c;
    return 0;
}

/* Rows of the items the seen filter in force leaves out (filters.seen). */
static roaring_bitmap_t *seen_rows(const vec_ch *c, const ns_recall_req *req)
{
    const ns_user_view *uv = req->uv;
    roaring_bitmap_t *deny = roaring_bitmap_create();
    for (uint32_t k = 0; deny && k < uv->nseen; k++) {
        if (!ns_state_has_seen(req->state, req->user, uv->seen[k])) continue;
        uint32_t r = ns__row_of(&c->map, uv->seen[k]);
        if (r != UINT32_MAX) roaring_bitmap_add(deny, r);
    }
    return deny;
}

/* "each": the neighbours of every history item, similarities summed. */
static int recall_each(const vec_ch *c, const ns_recall_req *req, int quota, ns_scored *out)
{
    const ns_user_view *uv = req->uv;
    int per = quota < 20 ? 20 : quota;
    float *x = ns_malloc(sizeof *x * (size_t)c->dim);
    ns_hit *hits = ns_malloc(sizeof *hits * (size_t)per);
    ns_scored *acc = ns_malloc(sizeof *acc * (size_t)per * (size_t)c->history);
    roaring_bitmap_t *deny = seen_rows(c, req);
    int nacc = 0, used = 0, rc = x && hits && acc && deny ? 0 : NS_ENOMEM;
    ns_filter f = {NULL, deny, NULL, NULL};
    for (int k = 0; rc >= 0 && k < uv->nrecent && used < c->history; k++) {
        uint32_t r = ns__row_of(&c->map, uv->recent[k]);
        if (r == UINT32_MAX || ns_hnsw_get(c->ix, r, x) != 1) continue;
        used++;
        int n = ns_hnsw_search(c->ix, x, per, (int)c->ef, &f, hits);
        if (n < 0) rc = n;
        for (int j = 0; j < n; j++) {
            float sim = 1.0f - hits[j].score;
            if (sim > 0) acc[nacc++] = (ns_scored){hits[j].id, sim};
        }
    }
    int got = 0;
    if (rc >= 0) {
        /* sum per row: sort by row, merge runs, keep the best quota */
        ns_scored_sort_by_item(acc, nacc);
        ns_scored *heap = hits ? (ns_scored *)ns_malloc(sizeof *heap * (size_t)quota) : NULL;
        if (!heap) rc = NS_ENOMEM;
        for (int a = 0; rc >= 0 && a < nacc;) {
            int b = a;
            float s = 0;
            while (b < nacc && acc[b].item == acc[a].item) s += acc[b++].score;
            uint32_t item = acc[a].item < c->map.nrows ? c->map.item_of[acc[a].item] : UINT32_MAX;
            if (item != UINT32_MAX) ns_scored_push(heap, &got, quota, (ns_scored){item, s});
            a = b;
        }
        if (rc >= 0) {
            ns_scored_sort(heap, got);
            memcpy(out, heap, sizeof *heap * (size_t)got);
        }
        free(heap);
    }
    free(x);
    free(hits);
    free(acc);
    if (deny) roaring_bitmap_free(deny);
    return rc < 0 ? rc : got;
}

static int vec_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const vec_ch *c = self;
    const ns_user_view *uv = req->uv;
    if (!uv || !uv->nrecent || quota <= 0) return 0;
    if (c->each) return recall_each(c, req, quota, out);
    float *q = ns_calloc((size_t)c->dim * 2, sizeof *q), *x = q ? q + c->dim : NULL;
    ns_hit *hits = ns_malloc(sizeof *hits * (size_t)quota);
    roaring_bitmap_t *deny = NULL;
    int got = 0, used = 0;
    if (!q || !hits) got = NS_ENOMEM;
    for (int k = 0; got >= 0 && k < uv->nrecent && used < c->history; k++) {
        uint32_t r = ns__row_of(&c->map, uv->recent[k]);
        if (r == UINT32_MAX || ns_hnsw_get(c->ix, r, x) != 1) continue;
        for (int d = 0; d < c->dim; d++) q[d] += x[d]; /* stored unit vectors (cosine index) */
        used++;
    }
    if (got >= 0 && used && !(deny = seen_rows(c, req))) got = NS_ENOMEM;
    if (got >= 0 && used) {
        double norm = 0;
        for (int d = 0; d < c->dim; d++) norm += (double)q[d] * q[d];
        if (norm > 1e-20) {
            ns_filter f = {NULL, deny, NULL, NULL};
            int n = ns_hnsw_search(c->ix, q, quota, (int)c->ef, &f, hits);
            if (n < 0) got = n;
            for (int k = 0; k < n; k++) {
                uint32_t item = hits[k].id < c->map.nrows ? c->map.item_of[hits[k].id] : UINT32_MAX;
                if (item != UINT32_MAX) out[got++] = (ns_scored){item, 1.0f - hits[k].score};
            }
        }
    }
    free(q);
    free(hits);
    if (deny) roaring_bitmap_free(deny);
    return got;
}

const ns_channel_type ns__channel_vector = {"vector", vec_create, vec_recall, vec_free};
