/*
 * northstar/fvec.h — float vectors: the metrics every vector index shares,
 * their distance kernels, exact (brute-force, multithreaded) k-nearest
 * search, and reading vectors from .npy, .fvecs and text files. The
 * approximate index over them is HNSW (hnsw.h).
 *
 * Metrics and the `score` of a hit (smaller is closer for all three):
 *   NS_METRIC_L2      squared Euclidean distance  sum (q - x)^2
 *   NS_METRIC_IP      1 - <q, x>                  (maximum inner product)
 *   NS_METRIC_COSINE  1 - cos(q, x); vectors are L2-normalised when added
 *                     and queries when searched (zero vectors are refused).
 */
#ifndef NORTHSTAR_FVEC_H
#define NORTHSTAR_FVEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ns_metric { NS_METRIC_L2 = 0, NS_METRIC_IP = 1, NS_METRIC_COSINE = 2 } ns_metric;

const char *ns_metric_name(ns_metric m);              /* "l2", "ip", "cosine" */
int ns_metric_parse(const char *s, ns_metric *out);   /* NS_OK or NS_EINVAL */

/* ---- distance kernels (AVX2/FMA when built for it, portable otherwise) */
float ns_fvec_l2sq(const float *a, const float *b, size_t d);
float ns_fvec_dot(const float *a, const float *b, size_t d);
/* Same, always the portable loop (the reference the fast ones are tested against). */
float ns_fvec_l2sq_ref(const float *a, const float *b, size_t d);
float ns_fvec_dot_ref(const float *a, const float *b, size_t d);
/* Scale x to unit length; NS_EINVAL (recorded) if its norm is 0 or not finite. */
int ns_fvec_normalize(float *x, size_t d);

/* ---- exact search ------------------------------------------------------ */

/* For each of nq queries, the k nearest of the n base vectors (row-major
 * [n, dim]); ids are row numbers. out_ids/out_dist are [nq, k]; when fewer
 * than k rows exist the tail is id UINT32_MAX, distance +inf. Queries run
 * in parallel (OpenMP, ns_threads()). For cosine the base rows must be
 * normalised already; the queries are normalised on the fly. */
int ns_fvec_search(const float *base, size_t n, int dim, ns_metric metric, const float *queries,
                   size_t nq, int k, uint32_t *out_ids, float *out_dist);

/* ---- vector files -------------------------------------------------------- */

/* Read vectors from a file, by extension:
 *   .npy    2-D little-endian float32 ('<f4', C order); ids = row numbers
 *   .fvecs  records of (int32 dim, dim float32); ids = record numbers
 *   other   text, one vector a line: "ID v1 v2 ... vD" (whitespace or
 *           commas); blank lines and lines starting with '#' are skipped
 * On success *x is malloc'd [n, dim] and *ids malloc'd [n] (caller frees).
 * Errors name the file, line or record and what was wrong. */
int ns_fvec_read(const char *path, float **x, uint32_t **ids, size_t *n, int *dim);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_FVEC_H */
