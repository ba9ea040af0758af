/*
 * als_batch.c — ALS rows solved sixteen at a time (als.c's training path
 * for k <= NS__ALS_BATCH_DIM). Each row's system A = G + lambda I +
 * alpha Q_r'Q_r is built as in the one-row path (gather, one ssyrk), then
 * the sixteen systems are interleaved element by element (a[i][j][lane])
 * and factorised together: every scalar step of the Cholesky and of the two
 * triangular solves becomes one 16-wide vector operation. A 64 x 64 LAPACK
 * Cholesky of one small matrix runs short loops of varying length; here
 * every loop is the 16 lanes. Each lane sees exactly the operations of a
 * right-looking Cholesky of its own matrix, so a row's result does not
 * depend on which rows share its batch (nor on the thread count).
 */
#include "als_int.h"

#include <math.h>
#include <string.h>

extern void ssyrk_(const char *uplo, const char *trans, const int *n, const int *k, const float *alpha, const float *a,
                   const int *lda, const float *beta, float *c, const int *ldc, size_t uplo_len, size_t trans_len);

enum { L = NS__ALS_LANES };

/* Lane `lane` of the batch: the lower triangle of its A and its b. A: k*k
 * scratch, P: the gathered rows. */
static void build_lane(const float *G, int k, float lambda, float alpha, const float *Q, const uint32_t *idx, int64_t n,
                       float *A, float *P, float *restrict a, float *restrict b, int lane)
{
    memcpy(A, G, sizeof *A * (size_t)k * k);
    for (int i = 0; i < k; i++) A[(size_t)i * k + i] += lambda;
    for (int f = 0; f < k; f++) b[f * L + lane] = 0;
    for (int64_t t = 0; t < n; t++) {
        const float *q = Q + (size_t)idx[t] * k;
        memcpy(P + (size_t)t * k, q, sizeof *q * (size_t)k);
        for (int f = 0; f < k; f++) b[f * L + lane] += q[f];
    }
    for (int f = 0; f < k; f++) b[f * L + lane] *= 1.0f + alpha;
    if (n > 0) {
        /* column-major upper of A = its row-major lower triangle */
        int nn = (int)n;
        float beta = 1.0f;
        ssyrk_("U", "N", &k, &nn, &alpha, P, &k, &beta, A, &k, 1, 1);
    }
    for (int i = 0; i < k; i++)
        for (int j = 0; j <= i; j++) a[((size_t)i * k + j) * L + lane] = A[(size_t)i * k + j];
}

/* An idle lane: the identity, b = 0. */
static void idle_lane(int k, float *restrict a, float *restrict b, int lane)
{
    for (int i = 0; i < k; i++) {
        for (int j = 0; j < i; j++) a[((size_t)i * k + j) * L + lane] = 0;
        a[((size_t)i * k + i) * L + lane] = 1;
        b[i * L + lane] = 0;
    }
}

/* Sixteen lanes as one GCC vector (one AVX-512 register; split by the
 * compiler on narrower targets). aligned(4): the work buffer is only float
 * aligned. */
typedef float v16 __attribute__((vector_size(4 * L), aligned(4)));

/* Right-looking Cholesky of the sixteen lower triangles in place; a lane
 * whose pivot is not positive sets its bit in the result (and goes on with
 * pivot 1 so the others finish). */
static unsigned cholesky16(float *a_, int k, float *col_)
{
    v16 *a = (v16 *)a_, *col = (v16 *)col_;
    unsigned bad = 0;
    for (int j = 0; j < k; j++) {
        v16 d = a[(size_t)j * k + j], inv;
        for (int l = 0; l < L; l++) {
            if (!(d[l] > 0) || !isfinite(d[l])) {
                bad |= 1u << l;
                d[l] = 1;
            }
            d[l] = sqrtf(d[l]);
        }
        a[(size_t)j * k + j] = d;
        inv = 1.0f / d;
        /* column j below the pivot, scaled, copied contiguous (its
         * elements are k vectors apart: 4 KiB at k = 64, one cache set) */
        for (int i = j + 1; i < k; i++) col[i] = a[(size_t)i * k + j] *= inv;
        for (int i = j + 1; i < k; i++) {
            v16 lij = col[i];
            v16 *row = a + (size_t)i * k;
            for (int c = j + 1; c <= i; c++) row[c] -= lij * col[c];
        }
    }
    return bad;
}

/* L L' x = b for the sixteen lanes; b is overwritten by x. */
static void solve16(const float *a_, int k, float *b_)
{
    const v16 *a = (const v16 *)a_;
    v16 *b = (v16 *)b_;
    for (int i = 0; i < k; i++) {
        v16 s = b[i];
        for (int p = 0; p < i; p++) s -= a[(size_t)i * k + p] * b[p];
        b[i] = s / a[(size_t)i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) {
        v16 xi = b[i] / a[(size_t)i * k + i];
        b[i] = xi;
        for (int p = 0; p < i; p++) b[p] -= a[(size_t)i * k + p] * xi;
    }
}

size_t ns__als_batch_floats(int k, int64_t longest)
{
    return (size_t)k * k + (size_t)(longest + 1) * k + (size_t)k * k * L + 2 * (size_t)k * L;
}

int ns__als_solve_batch(const float *G, int k, float lambda, float alpha, const float *Q, const int64_t *off,
                        const uint32_t *idx, uint32_t r0, int nb, float *out, float *work, int64_t longest)
{
    float *A = work, *P = A + (size_t)k * k, *a = P + (size_t)(longest + 1) * k, *b = a + (size_t)k * k * L;
    for (int l = 0; l < L; l++) {
        if (l < nb) {
            uint32_t r = r0 + (uint32_t)l;
            build_lane(G, k, lambda, alpha, Q, idx + off[r], off[r + 1] - off[r], A, P, a, b, l);
        } else
            idle_lane(k, a, b, l);
    }
    unsigned bad = cholesky16(a, k, b + (size_t)k * L);
    if (bad & ((1u << nb) - 1)) return -1;
    solve16(a, k, b);
    for (int l = 0; l < nb; l++)
        for (int f = 0; f < k; f++) out[((size_t)r0 + l) * k + f] = b[f * L + l];
    return 0;
}
