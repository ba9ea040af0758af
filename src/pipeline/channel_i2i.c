/*
 * channel_i2i.c — the "i2i" recall channel: item-to-item collaborative
 * filtering from a model trained offline (i2i.h: EASE or cosine
 * item-kNN, `northstar train`). A user's score for item j is
 *     s(j) = sum over the items i of the user's history of w(i, j)
 * (EASE's x_u B), over the whole positive history by default or over the
 * `history` most recent items. Items the user has seen are skipped, so the
 * quota is filled with new items.
 *
 *   {"name": "ease", "type": "i2i", "quota": 200,
 *    "params": {"model_file": "i2i.safetensors", "history": 0}}
 *
 * Workload: history h items x their rows (200 neighbours, or every item for
 * a dense EASE model of MovieLens' 1,682): a few tens of microseconds.
 */
#include "northstar/i2i.h"
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ns_i2i *m;
    ns__rowmap map;
    long history; /* 0 = every seen item */
} i2i_ch;

static void i2i_free(void *self)
{
    i2i_ch *c = self;
    if (!c) return;
    ns_i2i_free(c->m);
    ns__rowmap_release(&c->map);
    free(c);
}

static int i2i_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    i2i_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    const char *file = NULL;
    int rc = ns__cfg_str(params, path, "model_file", NULL, NULL, &file);
    if (rc >= 0) rc = ns__cfg_int(params, path, "history", 0, 100000, 0, &c->history);
    if (rc >= 0 && !file) rc = ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "model_file is required (northstar train)");
    if (rc >= 0 && (rc = ns_i2i_load(&c->m, file)) < 0) ns_err_wrap("%s.model_file", path);
    if (rc >= 0) rc = ns__rowmap_build(&c->map, st, c->m->ids);
    if (rc < 0) {
        i2i_free(c);
        return rc;
    }
    *self = c;
    return 0;
}

static int i2i_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const i2i_ch *c = self;
    const ns_user_view *uv = req->uv;
    if (!uv || quota <= 0) return 0;
    const uint32_t *hist = c->history ? uv->recent : uv->seen;
    int nh = c->history ? (uv->nrecent < c->history ? uv->nrecent : (int)c->history) : (int)uv->nseen;
    if (!nh) return 0;
    uint32_t n = c->m->n;
    float *acc = ns_calloc(n, sizeof *acc);
    uint32_t *touched = ns_malloc(sizeof *touched * n);
    ns_scored *heap = ns_malloc(sizeof *heap * (size_t)quota);
    int nt = 0, got = 0, rc = 0;
    if (!acc || !touched || !heap) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int k = 0; k < nh; k++) {
        uint32_t r = ns__row_of(&c->map, hist[k]);
        if (r == UINT32_MAX) continue;
        for (int64_t x = c->m->off[r]; x < c->m->off[r + 1]; x++) {
            uint32_t j = c->m->nbr[x];
            if (acc[j] == 0) touched[nt++] = j;
            acc[j] += c->m->w[x];
            if (acc[j] == 0) acc[j] = 1e-30f; /* keep it marked as touched */
        }
    }
    for (int t = 0; t < nt; t++) {
        uint32_t j = touched[t], item = c->map.item_of[j];
        if (item == UINT32_MAX || ns_state_has_seen(req->state, req->user, item)) continue;
        ns_scored_push(heap, &got, quota, (ns_scored){item, acc[j]});
    }
    ns_scored_sort(heap, got);
    memcpy(out, heap, sizeof *heap * (size_t)got);
done:
    free(acc);
    free(touched);
    free(heap);
    return rc < 0 ? rc : got;
}

const ns_channel_type ns__channel_i2i = {"i2i", i2i_create, i2i_recall, i2i_free};
