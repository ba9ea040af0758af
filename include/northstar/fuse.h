/*
 * northstar/fuse.h — merge several recall lists into one, remembering
 * which channel found each candidate (provenance).
 *
 * Methods
 *   NS_FUSE_RRF       reciprocal-rank fusion (Cormack, Clarke & Buettcher
 *                     2009): score(d) = sum over lists i containing d of
 *                     weight_i / (rrf_k + rank_i(d)), rank 1-based;
 *                     rrf_k defaults to 60. Scores of the lists are ignored.
 *   NS_FUSE_WEIGHTED  score(d) = sum over lists i containing d of
 *                     weight_i * norm_i(score_i(d)), norm_i = min-max over
 *                     list i (1 for the best, 0 for the worst; 1 for all if
 *                     they are equal), or z-score, or none. Lists marked
 *                     lower_is_better (vector distances) are flipped first.
 * Duplicates inside one list keep their first (best) rank. The result is
 * sorted by fused score, ties by id; at most k candidates.
 *
 * Thread safety: pure function of its inputs.
 *
 * Example
 *   ns_fuse_list in[2] = {{"bm25", bm25_hits, nb, 1.0f, 0},
 *                           {"vector", vec_hits, nv, 1.0f, 1}};
 *   ns_fused out[50];
 *   int n = ns_fuse(in, 2, NS_FUSE_RRF, NULL, 50, out);
 *   // out[i].channels & 2: the vector channel found out[i].id at rank out[i].rank[1]
 */
#ifndef NORTHSTAR_FUSE_H
#define NORTHSTAR_FUSE_H

#include "northstar/index.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_FUSE_MAX_LISTS 16

typedef enum ns_fuse_method { NS_FUSE_RRF = 0, NS_FUSE_WEIGHTED = 1 } ns_fuse_method;
typedef enum ns_fuse_norm { NS_NORM_MINMAX = 0, NS_NORM_ZSCORE = 1, NS_NORM_NONE = 2 } ns_fuse_norm;

typedef struct ns_fuse_list {
    const char *name;      /* channel name (for callers' provenance display) */
    const ns_hit *hits;    /* best first */
    int n;
    float weight;          /* >= 0 */
    int lower_is_better;   /* 1 for distances */
} ns_fuse_list;

typedef struct ns_fuse_opts {
    float rrf_k;           /* default 60 */
    ns_fuse_norm norm;     /* weighted fusion normalisation, default min-max */
} ns_fuse_opts;

typedef struct ns_fused {
    uint32_t id;
    float score;                       /* fused score, larger is better */
    uint32_t channels;                 /* bit i: list i contains id */
    int32_t rank[NS_FUSE_MAX_LISTS];   /* 1-based rank in list i, 0 = absent */
    float raw[NS_FUSE_MAX_LISTS];      /* score in list i (0 when absent) */
} ns_fused;

/* Fuse nlists lists (1..NS_FUSE_MAX_LISTS) into out[k]; returns how many. */
int ns_fuse(const ns_fuse_list *lists, int nlists, ns_fuse_method method, const ns_fuse_opts *opts, int k,
            ns_fused *out);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_FUSE_H */
