/*
 * northstar/hnsw.h — approximate nearest-neighbour search over float
 * vectors with HNSW (Malkov & Yashunin, 2016/2018); metrics, distance
 * kernels and exact search are in fvec.h.
 *
 * HNSW
 *   A layered proximity graph. Level 0 holds every node; node i's level-0
 *   record is one cache-line aligned block [vector | count | 2M neighbour
 *   slots] so a hop touches one contiguous region. Upper levels hold M
 *   neighbours. Neighbours are chosen with the paper's heuristic (keep a
 *   candidate only if it is closer to the new node than to every neighbour
 *   already kept). Searches use an epoch-stamped visited list (no clearing),
 *   prefetch the vectors of a node's unvisited neighbours before measuring
 *   them, and AVX2/FMA distance kernels (portable C otherwise).
 *
 *   Insert, update, delete. ns_hnsw_add() with a new id inserts; with an id
 *   already present it updates (the old vector is retired and the new one
 *   inserted). Delete marks the node: it still routes searches but is never
 *   returned, and its slot is reused by a later insert (the reused slot is
 *   re-linked from scratch). Ids are uint32_t chosen by the caller.
 *
 *   Filtered search. With an ns_filter (index.h) only passing ids are
 *   returned; the graph is still walked through non-passing nodes. When the
 *   allow bitmap is small (at most params.brute_force_below ids, default
 *   2048) the search is exact over those ids instead, which is both faster
 *   and exact for very selective filters.
 *
 * Thread safety (HNSW)
 *   - ns_hnsw_search / ns_hnsw_search_exact / ns_hnsw_get / stats: any
 *     number of threads at once, also while other threads call
 *     ns_hnsw_add with new ids and ns_hnsw_delete.
 *   - ns_hnsw_add of new ids may run on many threads at once (fine-grained
 *     per-node locks); ns_hnsw_add_batch does that with OpenMP.
 *   - Updates of an existing id, reuse of a deleted slot, growing the
 *     capacity and the first write after ns_hnsw_load take the index's
 *     write lock internally: they wait for running searches and block new
 *     ones for their duration. Nothing is unsafe; these are only slower.
 *   - ns_hnsw_save may run concurrently with searches (it takes the write
 *     lock for a consistent snapshot). ns_hnsw_free needs no other user.
 *   - Build order depends on thread scheduling when more than one thread
 *     inserts; with one thread the graph is a function of (seed, order).
 *
 * File format (safetensors, see safetensors.h), written atomically. The
 * two lists below ARE the format: hnsw_io.c expands them into the schema
 * its loader checks with ns_st_load, so they say what a load enforces.
 *   metadata "config": a JSON object {"format": NS_HNSW_FORMAT, "version":
 *     NS_HNSW_VERSION} plus the keys of NS_HNSW_FILE_CONFIG, each row
 *     X(key, kind, REQ | OPT, min, max, meaning);
 *   tensors: the rows of NS_HNSW_FILE_TENSORS, X(id, name, dtype, REQ | OPT,
 *     shape in config keys, meaning).
 *   Load reads the file into memory once (ns_st_open) and points the
 *   level-0 block into that image (no per-node copy); the first insert
 *   copies it into the index's own block. A loaded index no longer depends
 *   on its file: overwriting it in place, truncating or removing it changes
 *   nothing. Beyond the tables it checks the layout against rec, every
 *   vector element finite, every link count and id, level, flag, label and
 *   the entry: a malformed or truncated file is an error naming the tensor
 *   or field, never a crash.
 *
 * Example
 *   ns_hnsw_params p = ns_hnsw_defaults(128, NS_METRIC_L2);
 *   ns_hnsw *h;
 *   if (ns_hnsw_create(&h, &p) < 0) die(ns_err_msg());
 *   ns_hnsw_add_batch(h, ids, vecs, n);
 *   ns_hit hits[10];
 *   int got = ns_hnsw_search(h, q, 10, 64, NULL, hits);
 *   ns_hnsw_save(h, "items.hnsw");
 *   ns_hnsw_free(h);
 */
#ifndef NORTHSTAR_HNSW_H
#define NORTHSTAR_HNSW_H

#include "northstar/fvec.h"
#include "northstar/index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_HNSW_FORMAT "northstar-hnsw"
#define NS_HNSW_VERSION 1
#define NS_HNSW_FILE_CONFIG(X)                                                                   \
    X(dim, INT, REQ, 1, 65536, "vector dimension")                                               \
    X(metric, STR, REQ, 1, 15, "\"l2\", \"ip\" or \"cosine\"")                                   \
    X(M, INT, REQ, 2, 256, "neighbours per node on upper levels (2M on level 0)")                \
    X(ef_construction, INT, REQ, 1, 100000, "beam width of inserts")                             \
    X(ef_search, INT, REQ, 1, 100000, "default beam width of searches")                          \
    X(seed, INT, REQ, INT64_MIN, INT64_MAX, "seed of the level draws (a u64 stored as i64)")     \
    X(count, INT, REQ, 0, UINT32_MAX - 1, "slots n, live and deleted")                           \
    X(entry, INT, REQ, -1, UINT32_MAX - 2, "entry slot, on max_level; -1 when n = 0")            \
    X(max_level, INT, REQ, 0, 31, "top level of the graph")                                      \
    X(rec, INT, REQ, 1, 1 << 30, "bytes of a level-0 record (follows from dim and M)")           \
    X(brute_force_below, INT, REQ, 0, INT32_MAX, "filtered searches allowing fewer ids are exact")
#define NS_HNSW_FILE_TENSORS(X)                                                                  \
    X(l0, "l0", U8, REQ, "[count, rec]",                                                         \
      "level-0 records: f32 vector[dim], padding to 4, u32 count, u32 nbr[2M], zero padding "    \
      "to a multiple of 64")                                                                     \
    X(labels, "labels", I64, REQ, "[count]", "caller id of each slot, 0..2^32-1, live ids unique") \
    X(levels, "levels", U8, REQ, "[count]", "top level of each slot, <= max_level")              \
    X(deleted, "deleted", U8, REQ, "[count]", "1 = deleted (slot free for reuse), else 0")       \
    X(upper, "upper", I32, REQ, "[*]",                                                           \
      "upper-level lists: for each slot of level L > 0, L lists (count, nbr[M]); the length "    \
      "follows from levels")

/* ---- HNSW --------------------------------------------------------------- */

typedef struct ns_hnsw_params {
    int dim;                 /* vector dimension, 1..65536 */
    ns_metric metric;        /* default L2 */
    int M;                   /* neighbours per node on upper levels (2M on level 0); default 16 */
    int ef_construction;     /* beam width while inserting; default 200 */
    int ef_search;           /* default beam width of searches (stored with the index); 64 */
    uint64_t seed;           /* level draws; default 42 */
    size_t capacity;         /* initial slots (grows by itself); default 1024 */
    int brute_force_below;   /* filtered search is exact when allow has <= this many ids; 2048 */
} ns_hnsw_params;

typedef struct ns_hnsw ns_hnsw;

typedef struct ns_hnsw_stats {
    size_t count;      /* live vectors */
    size_t deleted;    /* deleted slots waiting for reuse */
    size_t slots;      /* slots in use (count + deleted) */
    size_t capacity;   /* allocated slots */
    int max_level;
    size_t bytes;      /* memory held (vectors, graph, maps) */
    double avg_degree0;/* mean level-0 out-degree */
    int file_image;    /* 1 while the level-0 block is still the file image read by ns_hnsw_load */
} ns_hnsw_stats;

ns_hnsw_params ns_hnsw_defaults(int dim, ns_metric metric);
int ns_hnsw_create(ns_hnsw **out, const ns_hnsw_params *p);
void ns_hnsw_free(ns_hnsw *h);
const ns_hnsw_params *ns_hnsw_get_params(const ns_hnsw *h);
/* Change the default ef of searches (saved with the index). */
int ns_hnsw_set_ef(ns_hnsw *h, int ef_search);

/* Insert id with vector x[dim] (copied), or replace its vector if present. */
int ns_hnsw_add(ns_hnsw *h, uint32_t id, const float *x);
/* Insert n vectors (rows of x) in parallel with ns_threads() threads. Shows a
 * progress line unless quiet. Stops at the first error and returns it. */
int ns_hnsw_add_batch(ns_hnsw *h, const uint32_t *ids, const float *x, size_t n);
/* Delete id: NS_ENOTFOUND if absent. */
int ns_hnsw_delete(ns_hnsw *h, uint32_t id);
/* 1 if present (and then the stored vector is copied into out[dim] when out
 * is not NULL; for cosine that is the normalised vector), 0 if not. */
int ns_hnsw_get(const ns_hnsw *h, uint32_t id, float *out);
size_t ns_hnsw_count(const ns_hnsw *h);

/* The k nearest live ids to q, closest first, into out[k]; ef <= 0 uses the
 * stored ef_search (ef is raised to k when smaller). Returns the number of
 * hits (< k only when fewer ids pass), or a negative NS_E* code. */
int ns_hnsw_search(const ns_hnsw *h, const float *q, int k, int ef, const ns_filter *f, ns_hit *out);
/* Exact search over the index's own live vectors (same result order). */
int ns_hnsw_search_exact(const ns_hnsw *h, const float *q, int k, const ns_filter *f, ns_hit *out);

void ns_hnsw_get_stats(const ns_hnsw *h, ns_hnsw_stats *st);

/* Save is atomic and may run during searches; load: see "File format"
 * above (a loaded index no longer depends on its file). */
int ns_hnsw_save(const ns_hnsw *h, const char *path);
int ns_hnsw_load(ns_hnsw **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_HNSW_H */
