/*
 * channel_vector.c — the "vector" recall channel: item embeddings (word2vec
 * over the users' time-ordered histories, or DeepWalk over the user-item
 * graph: embed.h) searched with HNSW (vector.h). The query is the mean of
 * the unit vectors of the user's `history` most recent items that have a
 * vector; its nearest items, minus the seen ones (denied inside the
 * search), are the candidates, scored by cosine similarity.
 *
 *   {"name": "vector", "type": "vector", "quota": 100,
 *    "params": {"vectors_file": "items.vec", "index_file": "items.hnsw", "history": 3, "ef": 0}}
 *
 * The index's ids are the rows of the vectors file (`northstar train`
 * writes both). Workload: one HNSW search (ef = max(quota, stored ef)).
 */
#include "northstar/embed.h"
#include "northstar/vector.h"
#include "pipeline_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ns_hnsw *ix;
    ns__rowmap map;
    int dim;
    long history, ef;
} vec_ch;

static void vec_free(void *self)
{
    vec_ch *c = self;
    if (!c) return;
    ns_hnsw_free(c->ix);
    ns__rowmap_release(&c->map);
    free(c);
}

static int vec_create(const json_t *params, const char *path, ns_rec_state *st, void **self)
{
    vec_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    const char *vf = NULL, *ixf = NULL;
    ns_vectors *v = NULL;
    int rc = ns__cfg_str(params, path, "vectors_file", NULL, NULL, &vf);
    if (rc >= 0) rc = ns__cfg_str(params, path, "index_file", NULL, NULL, &ixf);
    if (rc >= 0) rc = ns__cfg_int(params, path, "history", 1, 100, 3, &c->history);
    if (rc >= 0) rc = ns__cfg_int(params, path, "ef", 0, 10000, 0, &c->ef);
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

static int vec_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const vec_ch *c = self;
    const ns_user_view *uv = req->uv;
    if (!uv || !uv->nrecent || quota <= 0) return 0;
    float *q = ns_calloc((size_t)c->dim * 2, sizeof *q), *x = q ? q + c->dim : NULL;
    ns_hit *hits = ns_malloc(sizeof *hits * (size_t)quota);
    roaring_bitmap_t *deny = roaring_bitmap_create();
    int got = 0, used = 0;
    if (!q || !hits || !deny) got = NS_ENOMEM;
    for (int k = 0; got >= 0 && k < uv->nrecent && used < c->history; k++) {
        uint32_t r = ns__row_of(&c->map, uv->recent[k]);
        if (r == UINT32_MAX || ns_hnsw_get(c->ix, r, x) != 1) continue;
        for (int d = 0; d < c->dim; d++) q[d] += x[d]; /* stored unit vectors (cosine index) */
        used++;
    }
    for (uint32_t k = 0; got >= 0 && used && k < uv->nseen; k++) {
        uint32_t r = ns__row_of(&c->map, uv->seen[k]);
        if (r != UINT32_MAX) roaring_bitmap_add(deny, r);
    }
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
