/*
 * northstar/graph.h — layer 3 learners: graphs for embedding: edge lists,
 * adjacency lists and user-item interaction logs as a CSR graph with
 * per-node alias tables; DeepWalk and node2vec (p, q by rejection sampling)
 * walks go straight into a word2vec corpus (w2v.h), no temporary file.
 *
 * Walks are deterministic for a seed whatever the thread count (walk i
 * draws from RNG stream i).
 *
 * Example (DeepWalk)
 *   ns_graph *g;
 *   ns_graph_opts go = {NS_GRAPH_EDGES, 0};
 *   if (ns_graph_load(&g, "edges.txt", &go) < 0) die(ns_err_msg());
 *   ns_walk_opts wo = ns_walk_defaults();
 *   ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
 *   co.min_count = 0;
 *   ns_w2v_corpus *c;
 *   ns_graph_walks(&c, g, &wo, &co);    // then ns_w2v_train as for text
 */
#ifndef NORTHSTAR_GRAPH_H
#define NORTHSTAR_GRAPH_H

#include "northstar/base.h"
#include "northstar/w2v.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Graphs and random walks                                                */
/* ===================================================================== */

typedef enum {
    NS_GRAPH_EDGES = 0,        /* "src dst [weight]" */
    NS_GRAPH_ADJLIST = 1,      /* "node nbr nbr ..." */
    NS_GRAPH_INTERACTIONS = 2  /* "user item [weight] [timestamp]": bipartite */
} ns_graph_format;

/* Node names: as in the file for edges and adjacency lists; "u:<user>" and
 * "i:<item>" for interaction logs (users and items are different nodes even
 * when their ids coincide). Columns are separated by spaces, tabs or commas;
 * '#' starts a comment line. Duplicate edges are merged: weights summed for
 * interaction logs (repeated events strengthen a tie), the largest kept for
 * edge and adjacency lists. */
typedef struct ns_graph {
    int32_t n;             /* nodes */
    int64_t nnz;           /* directed arcs (an undirected edge counts twice) */
    int64_t *off;          /* [n + 1] CSR row starts */
    int32_t *adj;          /* [nnz] neighbours, sorted within each row */
    float *w;              /* [nnz] weights, or NULL when all are 1 */
    ns_strmap *names;      /* node id -> name */
    uint8_t *is_item;      /* [n] interaction logs: 1 item, 0 user; else NULL */
    uint32_t *alias_thr;   /* [nnz] per-row alias tables (NULL when unweighted): */
    int32_t *alias_j;      /* [nnz]   column thresholds and aliases, row-local */
    int64_t events;        /* interaction lines read */
} ns_graph;

typedef struct ns_graph_opts {
    ns_graph_format format;
    int directed;          /* 0: every edge also goes back (default) */
} ns_graph_opts;

int ns_graph_load(ns_graph **out, const char *path, const ns_graph_opts *o);
int ns_graph_load_memory(ns_graph **out, const char *data, size_t len, const char *name,
                         const ns_graph_opts *o);
void ns_graph_free(ns_graph *g);

typedef struct ns_walk_opts {
    int walks_per_node;    /* 10 */
    int length;            /* 40 nodes per walk */
    double p, q;           /* node2vec return / in-out parameters (1, 1 = DeepWalk) */
    uint64_t seed;         /* 1 */
    int threads;           /* 0 = ns_threads() */
    int items_only_starts; /* interaction graphs: start walks at items only */
} ns_walk_opts;

ns_walk_opts ns_walk_defaults(void);
/* Generate walks_per_node rounds of walks (each round visits the nodes in a
 * fresh random order) straight into a corpus whose words are node names.
 * Walks stop early at nodes without out-edges. */
int ns_graph_walks(ns_w2v_corpus **out, const ns_graph *g, const ns_walk_opts *o,
                   const ns_w2v_corpus_opts *co);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_GRAPH_H */
