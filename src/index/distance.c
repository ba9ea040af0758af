/*
 * distance.c — vector distance kernels and exact (brute-force) top-k search.
 *
 * Why: every vector search ends in these loops (HNSW measures ~1,000
 * distances per query), and exact search is the ground truth HNSW is
 * checked against. Workload: d = 32..1024 float32, short vectors hot in L1/L2.
 * The AVX2/FMA kernels keep four independent accumulators (8 lanes each) so
 * the FMA latency is hidden; the portable loops are the reference.
 */
#include "index_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NS_HAVE_AVX2 1
#else
#define NS_HAVE_AVX2 0
#endif

const char *ns_metric_name(ns_metric m)
{
    switch (m) {
    case NS_METRIC_L2: return "l2";
    case NS_METRIC_IP: return "ip";
    case NS_METRIC_COSINE: return "cosine";
    }
    return "?";
}

int ns_metric_parse(const char *s, ns_metric *out)
{
    if (!strcmp(s, "l2")) *out = NS_METRIC_L2;
    else if (!strcmp(s, "ip")) *out = NS_METRIC_IP;
    else if (!strcmp(s, "cosine")) *out = NS_METRIC_COSINE;
    else return ns_err_set_at(NS_EINVAL, NULL, 0, "metric", s, "unknown metric (expected l2, ip or cosine)");
    return NS_OK;
}

float ns_fvec_l2sq_ref(const float *a, const float *b, size_t d)
{
    float s = 0;
    for (size_t i = 0; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

float ns_fvec_dot_ref(const float *a, const float *b, size_t d)
{
    float s = 0;
    for (size_t i = 0; i < d; i++) s += a[i] * b[i];
    return s;
}

#if NS_HAVE_AVX2
static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

float ns_fvec_l2sq(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
        __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
        s0 = _mm256_fmadd_ps(t0, t0, s0);
        s1 = _mm256_fmadd_ps(t1, t1, s1);
        s2 = _mm256_fmadd_ps(t2, t2, s2);
        s3 = _mm256_fmadd_ps(t3, t3, s3);
    }
    for (; i + 8 <= d; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        s0 = _mm256_fmadd_ps(t, t, s0);
    }
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s += t * t;
    }
    return s;
}

float ns_fvec_dot(const float *a, const float *b, size_t d)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 32 <= d; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < d; i++) s += a[i] * b[i];
    return s;
}
#else
float ns_fvec_l2sq(const float *a, const float *b, size_t d)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        float t0 = a[i] - b[i], t1 = a[i + 1] - b[i + 1], t2 = a[i + 2] - b[i + 2], t3 = a[i + 3] - b[i + 3];
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
    }
    for (; i < d; i++) {
        float t = a[i] - b[i];
        s0 += t * t;
    }
    return (s0 + s1) + (s2 + s3);
}

float ns_fvec_dot(const float *a, const float *b, size_t d)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= d; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < d; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}
#endif

int ns_fvec_normalize(float *x, size_t d)
{
    double s = 0;
    for (size_t i = 0; i < d; i++) s += (double)x[i] * x[i];
    if (!(s > 0) || !isfinite(s)) return ns_err_set(NS_EINVAL, "cannot normalise a vector of norm %g", sqrt(s));
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < d; i++) x[i] *= inv;
    return NS_OK;
}

float ns__dist(ns_metric m, const float *a, const float *b, size_t d)
{
    return m == NS_METRIC_L2 ? ns_fvec_l2sq(a, b, d) : 1.0f - ns_fvec_dot(a, b, d);
}

/* ---- bounded max-heap of (distance, id): keeps the k smallest ----------- */

void ns__topk_push(ns__cand *heap, int *n, int k, float d, uint32_t id)
{
    if (*n < k) {
        int i = (*n)++;
        while (i > 0) {
            int p = (i - 1) / 2;
            if (heap[p].d >= d) break;
            heap[i] = heap[p];
            i = p;
        }
        heap[i] = (ns__cand){d, id};
        return;
    }
    if (d >= heap[0].d) return;
    int i = 0;
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        float md = d;
        if (l < k && heap[l].d > md) { m = l; md = heap[l].d; }
        if (r < k && heap[r].d > md) m = r;
        if (m == i) break;
        heap[i] = heap[m];
        i = m;
    }
    heap[i] = (ns__cand){d, id};
}

static int cand_cmp(const void *a, const void *b)
{
    const ns__cand *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

void ns__cand_sort(ns__cand *c, int n) { qsort(c, (size_t)n, sizeof *c, cand_cmp); }

/* ---- exact search ------------------------------------------------------ */

#define EX_QTILE 32    /* queries sharing one pass over a base block */
#define EX_BLOCK 256   /* base rows per block (128 KiB at d = 128) */

int ns_fvec_search(const float *base, size_t n, int dim, ns_metric metric, const float *queries,
                    size_t nq, int k, uint32_t *out_ids, float *out_dist)
{
    if (dim <= 0 || k <= 0) return ns_err_set(NS_EINVAL, "exact search: dim %d and k %d must be positive", dim, k);
    if (n > UINT32_MAX) return ns_err_set(NS_ETOOBIG, "exact search: %zu rows exceed 2^32", n);
    size_t ntiles = (nq + EX_QTILE - 1) / EX_QTILE;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(ns_threads())
    for (size_t t = 0; t < ntiles; t++) {
        size_t q0 = t * EX_QTILE, q1 = q0 + EX_QTILE < nq ? q0 + EX_QTILE : nq;
        ns__cand *heaps = malloc(sizeof(ns__cand) * (size_t)k * EX_QTILE);
        float *qn = malloc(sizeof(float) * (size_t)dim * EX_QTILE);
        int hn[EX_QTILE] = {0};
        if (!heaps || !qn) {
            free(heaps);
            free(qn);
#pragma omp atomic write
            failed = 1;
            continue;
        }
        memcpy(qn, queries + q0 * (size_t)dim, sizeof(float) * (size_t)dim * (q1 - q0));
        if (metric == NS_METRIC_COSINE)
            for (size_t q = q0; q < q1; q++) (void)ns_fvec_normalize(qn + (q - q0) * (size_t)dim, (size_t)dim);
        for (size_t b0 = 0; b0 < n; b0 += EX_BLOCK) {
            size_t b1 = b0 + EX_BLOCK < n ? b0 + EX_BLOCK : n;
            for (size_t q = q0; q < q1; q++) {
                const float *qv = qn + (q - q0) * (size_t)dim;
                ns__cand *h = heaps + (q - q0) * (size_t)k;
                for (size_t i = b0; i < b1; i++)
                    ns__topk_push(h, &hn[q - q0], k, ns__dist(metric, qv, base + i * (size_t)dim, (size_t)dim),
                                  (uint32_t)i);
            }
        }
        for (size_t q = q0; q < q1; q++) {
            ns__cand *h = heaps + (q - q0) * (size_t)k;
            int m = hn[q - q0];
            ns__cand_sort(h, m);
            for (int j = 0; j < k; j++) {
                out_ids[q * (size_t)k + j] = j < m ? h[j].id : UINT32_MAX;
                out_dist[q * (size_t)k + j] = j < m ? h[j].d : INFINITY;
            }
        }
        free(heaps);
        free(qn);
    }
    if (failed) return ns_err_set(NS_ENOMEM, "exact search: out of memory for %d-NN buffers", k);
    return NS_OK;
}
