/*
 * walk.c — DeepWalk and node2vec random walks, written straight into a
 * word2vec corpus (node names are the words): no temporary corpus file.
 *
 * DeepWalk (Perozzi et al. 2014): walks_per_node rounds, each visiting the
 * start nodes in a fresh random order; a step goes to a neighbour drawn in
 * proportion to the edge weight (alias table, O(1); uniform when the graph
 * is unweighted).
 * node2vec (Grover & Leskovec 2016): the step from v (coming from t) to x is
 * weighted w(v,x) / p if x = t, w(v,x) if x is a neighbour of t, and
 * w(v,x) / q otherwise. Instead of an alias table per edge (memory
 * sum(deg^2), which is gigabytes on BlogCatalog's hubs) we draw x from v's
 * first-order table and accept it with probability f(x) / max(1/p, 1, 1/q)
 * (rejection sampling, as KnightKing and PecanPy do); "neighbour of t" is a
 * binary search in t's sorted row.
 *
 * Determinism: walk i uses RNG stream i, so the walks depend on the seed
 * only, not on the thread count or the schedule.
 */
#include "northstar/graph.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

ns_walk_opts ns_walk_defaults(void)
{
    ns_walk_opts o = {10, 40, 1.0, 1.0, 1, 0, 0};
    return o;
}

static inline int32_t first_order(const ns_graph *g, int32_t v, ns_rng *r)
{
    int64_t a = g->off[v], deg = g->off[v + 1] - a;
    uint64_t x = ns_rng_u64(r);
    if (!g->alias_thr) return g->adj[a + ns_below32((uint32_t)(x >> 32), (uint32_t)deg)];
    return g->adj[a + ns_alias_draw(g->alias_thr + a, g->alias_j + a, (int32_t)deg, x)];
}

static inline int has_arc(const ns_graph *g, int32_t t, int32_t x)
{
    int64_t lo = g->off[t], hi = g->off[t + 1];
    while (lo < hi) {
        int64_t mid = (lo + hi) >> 1;
        if (g->adj[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < g->off[t + 1] && g->adj[lo] == x;
}

/* One walk from `start` into w[0..length); returns its length. */
static int walk_one(const ns_graph *g, const ns_walk_opts *o, int32_t start, ns_rng *r, int32_t *w)
{
    int n2v = o->p != 1.0 || o->q != 1.0;
    double ip = 1.0 / o->p, iq = 1.0 / o->q;
    double fmax = ip > 1.0 ? ip : 1.0;
    if (iq > fmax) fmax = iq;
    /* Acceptance thresholds as fractions of 2^32 of fmax. */
    uint32_t acc_ret = (uint32_t)fmin(4294967295.0, ip / fmax * 4294967296.0);
    uint32_t acc_in = (uint32_t)fmin(4294967295.0, 1.0 / fmax * 4294967296.0);
    uint32_t acc_out = (uint32_t)fmin(4294967295.0, iq / fmax * 4294967296.0);
    int len = 0;
    int32_t cur = start, prev = -1;
    w[len++] = cur;
    while (len < o->length) {
        if (g->off[cur + 1] == g->off[cur]) break; /* no way out */
        int32_t next;
        if (!n2v || prev < 0) {
            next = first_order(g, cur, r);
        } else {
            for (;;) {
                next = first_order(g, cur, r);
                uint32_t u = (uint32_t)ns_rng_u64(r);
                uint32_t acc = next == prev ? acc_ret : has_arc(g, prev, next) ? acc_in : acc_out;
                if (acc == 4294967295u || u < acc) break;
            }
        }
        prev = cur;
        cur = next;
        w[len++] = cur;
    }
    return len;
}

int ns_graph_walks(ns_w2v_corpus **out, const ns_graph *g, const ns_walk_opts *opts,
                   const ns_w2v_corpus_opts *co)
{
    *out = NULL;
    ns_walk_opts o = opts ? *opts : ns_walk_defaults();
    if (o.walks_per_node < 1 || o.length < 1)
        return ns_err_set(NS_ERANGE, "walks per node and walk length must be at least 1 (got %d, %d)",
                          o.walks_per_node, o.length);
    if (!(o.p > 0) || !(o.q > 0) || o.p > 1e6 || o.q > 1e6)
        return ns_err_set(NS_ERANGE, "node2vec p and q must be positive (got %g, %g)", o.p, o.q);
    /* Start nodes: all, or the items of an interaction graph. */
    int32_t nstart = 0;
    int32_t *starts = ns_malloc(sizeof *starts * (size_t)(g->n ? g->n : 1));
    if (!starts) return NS_ENOMEM;
    for (int32_t v = 0; v < g->n; v++)
        if (!o.items_only_starts || !g->is_item || g->is_item[v]) starts[nstart++] = v;
    int64_t nw = (int64_t)nstart * o.walks_per_node;
    int32_t *buf = ns_malloc(sizeof *buf * (size_t)(nw ? nw : 1) * (size_t)o.length);
    int32_t *lens = ns_malloc(sizeof *lens * (size_t)(nw ? nw : 1));
    int32_t *order = ns_malloc(sizeof *order * (size_t)(nw ? nw : 1));
    if (!buf || !lens || !order) {
        free(starts);
        free(buf);
        free(lens);
        free(order);
        return NS_ENOMEM;
    }
    /* Round r visits the start nodes in its own shuffled order. */
    for (int r = 0; r < o.walks_per_node; r++) {
        ns_rng rr;
        ns_rng_seed(&rr, o.seed, 0x57a1c000ULL + (uint64_t)r);
        int32_t *ord = order + (size_t)r * (size_t)nstart;
        memcpy(ord, starts, sizeof *ord * (size_t)nstart);
        ns_rng_shuffle_u32(&rr, (uint32_t *)ord, (size_t)nstart);
    }
    free(starts);
    ns_progress pr;
    ns_progress_begin(&pr, "walks", (double)nw, "walks");
    if (co && co->quiet_progress) pr.enabled = 0;
    int T = o.threads > 0 ? o.threads : ns_threads();
#pragma omp parallel for schedule(dynamic, 256) num_threads(T)
    for (int64_t i = 0; i < nw; i++) {
        ns_rng r;
        ns_rng_seed(&r, o.seed ^ 0x3a1c5eedULL, (uint64_t)i);
        lens[i] = walk_one(g, &o, order[i], &r, buf + (size_t)i * (size_t)o.length);
        if ((i & 1023) == 1023) ns_progress_add(&pr, 1024);
    }
    ns_progress_end(&pr);
    free(order);
    /* Compact into a token stream with sentence boundaries. */
    int64_t *sent = ns_malloc(sizeof *sent * (size_t)(nw + 1));
    if (!sent) {
        free(buf);
        free(lens);
        return NS_ENOMEM;
    }
    int64_t ntok = 0;
    for (int64_t i = 0; i < nw; i++) {
        sent[i] = ntok;
        memmove(buf + ntok, buf + (size_t)i * (size_t)o.length, sizeof *buf * (size_t)lens[i]);
        ntok += lens[i];
    }
    sent[nw] = ntok;
    free(lens);
    ns_w2v_corpus_opts cdef = ns_w2v_corpus_defaults();
    if (!co) {
        cdef.min_count = 1;
        co = &cdef;
    }
    return ns_w2v_corpus_from_ids(out, buf, ntok, sent, nw, g->names, co);
}
