/*
 * index_int.h — internals shared by the files of src/index (not public).
 */
#ifndef NS_INDEX_INT_H
#define NS_INDEX_INT_H

#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <pthread.h>
#include <stdatomic.h>

/* A (distance, id) pair: heap element of searches and exact top-k. */
typedef struct ns__cand {
    float d;
    uint32_t id;
} ns__cand;

/* Distance under a metric as the index defines it (l2: squared; ip/cosine: 1 - dot). */
float ns__dist(ns_metric m, const float *a, const float *b, size_t d);
/* Bounded max-heap keeping the k smallest distances (heap[0] = worst kept). */
void ns__topk_push(ns__cand *heap, int *n, int k, float d, uint32_t id);
/* Ascending by distance, then id. */
void ns__cand_sort(ns__cand *c, int n);

/* ---- HNSW internals shared by hnsw.c and hnsw_io.c ---------------------- */

enum { NS__HF_DELETED = 1, NS__HF_READY = 2 };
#define NS__NO_NODE UINT32_MAX
#define NS__MAP_DELETED UINT64_MAX
#define NS__MAX_LEVEL 31
#define NS__MAX_M0 512 /* level-0 degree bound: 2 * the largest M */

typedef struct ns__scratch ns__scratch;
struct ns_st_file;

struct ns_hnsw {
    ns_hnsw_params p;
    int M0;                          /* level-0 max degree (2M) */
    size_t rec;                      /* bytes per level-0 record */
    size_t links_off;                /* offset of the count word in a record */
    double mult;                     /* level multiplier 1 / ln(M) */
    char *l0;                        /* capacity * rec bytes (or in the file image) */
    int l0_owned;                    /* 0 while l0 points into the file image */
    struct ns_st_file *file;         /* the open file (its image) while l0 points into it */
    uint32_t *labels;                /* [capacity] caller ids */
    uint8_t *levels;                 /* [capacity] top level of each slot */
    _Atomic uint8_t *flags;          /* [capacity] NS__HF_* */
    _Atomic uint32_t **upper;        /* [capacity] level 1..L lists of (count, nbr[M]) */
    _Atomic uint8_t *locks;          /* [capacity] per-node spin locks */
    _Atomic uint32_t *indeg;         /* [capacity] level-0 links into each slot */
    size_t capacity;
    _Atomic uint32_t nslots;         /* slots handed out */
    _Atomic uint64_t entry;          /* (max_level << 32) | entry slot */
    _Atomic size_t live;             /* live ids */
    pthread_mutex_t entry_mu;        /* held by an insert that raises max_level */
    pthread_rwlock_t rw;             /* shared: search, add; exclusive: grow, update, reuse */
    pthread_mutex_t map_mu;          /* map and free list */
    ns_u64map map;                   /* id -> slot (NS__MAP_DELETED after delete) */
    uint32_t *freel;                 /* deleted slots ready for reuse */
    size_t nfree, free_cap;
    pthread_mutex_t pool_mu;         /* scratch pool */
    ns__scratch **pool;
    int npool, pool_cap;
};

static inline float *ns__vec(const struct ns_hnsw *h, uint32_t i)
{
    return (float *)(h->l0 + (size_t)i * h->rec);
}
static inline _Atomic uint32_t *ns__links0(const struct ns_hnsw *h, uint32_t i)
{
    return (_Atomic uint32_t *)(h->l0 + (size_t)i * h->rec + h->links_off);
}
static inline _Atomic uint32_t *ns__links(const struct ns_hnsw *h, uint32_t i, int lvl)
{
    if (lvl == 0) return ns__links0(h, i);
    return h->upper[i] + (size_t)(lvl - 1) * (size_t)(h->p.M + 1);
}
static inline uint64_t ns__entry_pack(uint32_t ep, int lvl) { return ((uint64_t)(uint32_t)lvl << 32) | ep; }

/* Count the level-0 links into every slot (after a load, or to resync). */
void ns__hnsw_count_indeg(struct ns_hnsw *h);

/* Fill in the derived fields (M0, rec, links_off, mult) from h->p; checks p. */
int ns__hnsw_layout(struct ns_hnsw *h);
/* Allocate the empty structure for params p with the given capacity. */
int ns__hnsw_alloc(struct ns_hnsw **out, const ns_hnsw_params *p, size_t capacity, int alloc_l0);

#endif
