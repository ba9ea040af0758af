/*
 * fuse.c — reciprocal-rank and weighted score fusion of recall lists with
 * provenance (see fuse.h).
 *
 * Why: recall runs several channels (keyword, vector, segment, trending...)
 * whose scores live on different scales; the merged list must be stable,
 * deterministic and say which channel found each candidate so ranking
 * features and dashboards can use it. Workload: a few lists of 10..1000.
 */
#include "index_int.h"
#include "northstar/fuse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int fused_cmp(const void *a, const void *b)
{
    const ns_fused *x = a, *y = b;
    if (x->score > y->score) return -1;
    if (x->score < y->score) return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int ns_fuse(const ns_fuse_list *lists, int nlists, ns_fuse_method method, const ns_fuse_opts *opts, int k,
            ns_fused *out)
{
    if (!lists || !out || nlists < 1 || nlists > NS_FUSE_MAX_LISTS || k < 0)
        return ns_err_set(NS_EINVAL, "fuse: need 1..%d lists and k >= 0 (got %d lists, k %d)", NS_FUSE_MAX_LISTS,
                          nlists, k);
    if (method != NS_FUSE_RRF && method != NS_FUSE_WEIGHTED)
        return ns_err_set(NS_EINVAL, "fuse: unknown method %d", (int)method);
    ns_fuse_opts o = {60.0f, NS_NORM_MINMAX};
    if (opts) o = *opts;
    if (!(o.rrf_k >= 0)) return ns_err_set_at(NS_EINVAL, NULL, 0, "rrf_k", NULL, "fuse: rrf_k must be >= 0");
    size_t total = 0;
    for (int i = 0; i < nlists; i++) {
        if (lists[i].n < 0 || (lists[i].n > 0 && !lists[i].hits))
            return ns_err_set(NS_EINVAL, "fuse: list %d (%s) has %d hits and no array", i,
                              lists[i].name ? lists[i].name : "?", lists[i].n);
        if (!(lists[i].weight >= 0) || !isfinite(lists[i].weight))
            return ns_err_set_at(NS_EINVAL, NULL, 0, "weight", lists[i].name, "fuse: weight must be finite and >= 0");
        total += (size_t)lists[i].n;
    }
    if (k == 0 || total == 0) return 0;
    ns_fused *c = calloc(total, sizeof *c);
    ns_u64map map;
    if (!c || ns_u64map_init(&map, total) < 0) {
        free(c);
        return ns_err_set(NS_ENOMEM, "fuse: out of memory for %zu candidates", total);
    }
    size_t nc = 0;
    for (int i = 0; i < nlists; i++) {
        const ns_fuse_list *l = &lists[i];
        /* per-list normalisation constants */
        double lo = INFINITY, hi = -INFINITY, mean = 0, sd = 0;
        for (int j = 0; j < l->n; j++) {
            double s = l->hits[j].score;
            if (s < lo) lo = s;
            if (s > hi) hi = s;
            mean += s;
        }
        if (l->n) mean /= l->n;
        for (int j = 0; j < l->n; j++) sd += (l->hits[j].score - mean) * (l->hits[j].score - mean);
        sd = l->n ? sqrt(sd / l->n) : 0;
        for (int j = 0; j < l->n; j++) {
            uint32_t id = l->hits[j].id;
            uint64_t at;
            if (!ns_u64map_get(&map, id, &at)) {
                at = nc++;
                c[at].id = id;
                if (ns_u64map_put(&map, id, at) < 0) {
                    free(c);
                    ns_u64map_release(&map);
                    return ns_err_set(NS_ENOMEM, "fuse: out of memory");
                }
            }
            ns_fused *f = &c[at];
            if (f->channels & (1u << i)) continue; /* duplicate inside list i: keep the first */
            f->channels |= 1u << i;
            f->rank[i] = j + 1;
            float s = l->hits[j].score;
            f->raw[i] = s;
            double contrib;
            if (method == NS_FUSE_RRF) {
                contrib = l->weight / (o.rrf_k + (double)(j + 1));
            } else {
                double v = s;
                if (o.norm == NS_NORM_MINMAX) v = hi > lo ? (l->lower_is_better ? hi - v : v - lo) / (hi - lo) : 1.0;
                else if (o.norm == NS_NORM_ZSCORE) v = sd > 0 ? (l->lower_is_better ? mean - v : v - mean) / sd : 0.0;
                else if (l->lower_is_better) v = -v;
                contrib = l->weight * v;
            }
            f->score = (float)(f->score + contrib);
        }
    }
    qsort(c, nc, sizeof *c, fused_cmp);
    int n = (size_t)k < nc ? k : (int)nc;
    memcpy(out, c, sizeof *c * (size_t)n);
    free(c);
    ns_u64map_release(&map);
    return n;
}
