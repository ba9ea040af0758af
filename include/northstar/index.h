/*
 * northstar/index.h — what the recall engines share: ids, hits, scored
 * candidates and filters.
 *
 * The recall layer (src/index) has four engines, each in its own header:
 *   fvec.h    float vectors: metrics, distances, exact nearest neighbours
 *   hnsw.h    HNSW approximate nearest-neighbour search
 *   bm25.h    BM25 inverted index over the shared tokenizer (tokenizer.h)
 *   attr.h    attribute bitmaps (CRoaring) for segments and filters
 *   fuse.h    reciprocal-rank and weighted fusion of recall lists
 *
 * Ids. Every engine names a document or item by a uint32_t id chosen by the
 * caller (item id, chunk id, ...), so one CRoaring bitmap from the attribute
 * index can filter any of them.
 *
 * Filters. A search takes an optional ns_filter: an allow bitmap (only these
 * ids), a deny bitmap (never these ids, e.g. "already seen"), and/or a
 * predicate callback. All given parts must pass. The filter is applied while
 * searching, not afterwards, so a search still returns k hits when k
 * matching ids exist (HNSW: see hnsw.h for how selective filters are
 * handled).
 *
 * Example
 *   roaring_bitmap_t *ok = ns_attr_query(attrs, "age=18-24 & gender=f");
 *   ns_filter f = {.allow = ok};
 *   int n = ns_hnsw_search(idx, q, 10, 0, &f, hits);
 */
#ifndef NORTHSTAR_INDEX_H
#define NORTHSTAR_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include <roaring/roaring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One search result. For vector search `score` is the distance (smaller is
 * closer; see fvec.h for each metric); for BM25 it is the BM25 score
 * (larger is better). */
typedef struct ns_hit {
    uint32_t id;
    float score;
} ns_hit;

/* A candidate item with a score where larger is better (recall channels,
 * top lists), and the bounded selection of the best k of a stream. */
typedef struct ns_scored {
    uint32_t item;
    float score;
} ns_scored;

/* Keep the best k in a bounded min-heap h[0..*n) (then ns_scored_sort it). */
void ns_scored_push(ns_scored *h, int *n, int k, ns_scored x);
/* Best first: score descending, then item ascending. */
void ns_scored_sort(ns_scored *h, int n);
/* By item, to merge duplicates (equal items in no particular order). */
void ns_scored_sort_by_item(ns_scored *h, int n);

typedef int (*ns_id_pred)(uint32_t id, void *ctx); /* nonzero = keep */

typedef struct ns_filter {
    const roaring_bitmap_t *allow; /* NULL = every id allowed */
    const roaring_bitmap_t *deny;  /* NULL = none denied */
    ns_id_pred pred;               /* NULL = no predicate; must be thread-safe */
    void *ctx;                     /* passed to pred */
} ns_filter;

/* 1 if id passes the filter (a NULL filter passes everything). */
static inline int ns_filter_pass(const ns_filter *f, uint32_t id)
{
    if (!f) return 1;
    if (f->allow && !roaring_bitmap_contains(f->allow, id)) return 0;
    if (f->deny && roaring_bitmap_contains(f->deny, id)) return 0;
    if (f->pred && !f->pred(id, f->ctx)) return 0;
    return 1;
}

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_INDEX_H */
