/*
 * als.c — implicit matrix factorisation by alternating least squares with
 * confidence weights (Hu, Koren & Volinsky 2008; see als.h for the model
 * and the initialisation). Each sweep solves every user row, then every
 * item row, exactly:
 *     A = Q'Q + lambda I + alpha sum_{j in row} q_j q_j',   b = (1 + alpha) sum_{j in row} q_j,
 *     A x = b by Cholesky (k x k; sixteen rows at a time, als_batch.c),
 * with Q'Q computed once per side (the trick that makes the dense part of
 * the confidence matrix cost k^2 per row instead of |Q| k^2).
 *
 * Workload: per sweep, nnz k^2 / 2 (the rank-1 terms, ssyrk) + rows k^3 / 6
 * (Cholesky) multiply-adds. MovieLens-100K (75k
 * ratings, 943 + 1,682 rows, k = 64) is about 0.4 GFLOP a sweep; rows are
 * split across threads (OpenMP, dynamic schedule: row lengths vary 100x).
 */
#include "als_int.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* BLAS and LAPACK through OpenBLAS (Fortran calling convention with the
 * hidden string lengths gfortran-compiled routines expect; as i2i.c). */
extern void ssyrk_(const char *uplo, const char *trans, const int *n, const int *k, const float *alpha, const float *a,
                   const int *lda, const float *beta, float *c, const int *ldc, size_t uplo_len, size_t trans_len);
extern void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
extern void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda, float *b,
                    const int *ldb, int *info, size_t uplo_len);

ns_als_opts ns_als_defaults(void) { return (ns_als_opts){64, 4.0, 40.0, 15, 0.1, 1}; }

void ns_als_free(ns_als *m)
{
    if (!m) return;
    ns_strmap_free(m->users);
    ns_strmap_free(m->items);
    free(m->uf);
    free(m->itf);
    free(m->yty);
    free(m);
}

void ns__als_gram(const float *Q, int64_t n, int k, float *G)
{
#pragma omp parallel num_threads(ns_threads())
    {
        double *acc = ns_malloc(sizeof *acc * (size_t)k);
#pragma omp for schedule(static)
        for (int a = 0; a < k; a++) {
            if (!acc) continue;
            memset(acc, 0, sizeof *acc * (size_t)k);
            for (int64_t r = 0; r < n; r++) {
                const float *q = Q + r * k;
                double s = q[a];
                for (int c = 0; c < k; c++) acc[c] += s * q[c];
            }
            for (int c = 0; c < k; c++) G[a * k + c] = (float)acc[c];
        }
        free(acc);
    }
}

/* A[a][0..a] += alpha q q' over the rows idx[0..n) of Q (lower triangle),
 * four rows at a time; b += sum of the rows. */
static void add_rows(float *A, float *b, int k, float alpha, const float *Q, const uint32_t *idx, int64_t n)
{
    int64_t t = 0;
    for (; t + 4 <= n; t += 4) {
        const float *q0 = Q + (size_t)idx[t] * k, *q1 = Q + (size_t)idx[t + 1] * k;
        const float *q2 = Q + (size_t)idx[t + 2] * k, *q3 = Q + (size_t)idx[t + 3] * k;
        for (int a = 0; a < k; a++) {
            float s0 = alpha * q0[a], s1 = alpha * q1[a], s2 = alpha * q2[a], s3 = alpha * q3[a];
            float *row = A + (size_t)a * k;
            for (int c = 0; c <= a; c++) row[c] += s0 * q0[c] + s1 * q1[c] + s2 * q2[c] + s3 * q3[c];
            b[a] += q0[a] + q1[a] + q2[a] + q3[a];
        }
    }
    for (; t < n; t++) {
        const float *q = Q + (size_t)idx[t] * k;
        for (int a = 0; a < k; a++) {
            float s = alpha * q[a];
            float *row = A + (size_t)a * k;
            for (int c = 0; c <= a; c++) row[c] += s * q[c];
            b[a] += q[a];
        }
    }
}

/* In-place Cholesky of the lower triangle (row-major): A = L L'. v: k
 * floats. Right-looking, so the inner loop is a contiguous axpy. */
static int cholesky(float *A, int k, float *v)
{
    for (int j = 0; j < k; j++) {
        float d = A[(size_t)j * k + j];
        if (!(d > 0) || !isfinite(d)) return -1;
        d = sqrtf(d);
        A[(size_t)j * k + j] = d;
        float inv = 1.0f / d;
        for (int i = j + 1; i < k; i++) v[i] = A[(size_t)i * k + j] *= inv;
        for (int i = j + 1; i < k; i++) {
            float lij = v[i], *row = A + (size_t)i * k;
            for (int c = j + 1; c <= i; c++) row[c] -= lij * v[c];
        }
    }
    return 0;
}

/* Solve L L' x = b (b is overwritten). */
static void chol_solve(const float *L, int k, float *b, float *x)
{
    for (int i = 0; i < k; i++) {
        const float *row = L + (size_t)i * k;
        double s = b[i];
        for (int p = 0; p < i; p++) s -= (double)row[p] * b[p];
        b[i] = (float)(s / row[i]);
    }
    for (int i = k - 1; i >= 0; i--) {
        const float *row = L + (size_t)i * k;
        float xi = b[i] / row[i];
        x[i] = xi;
        for (int p = 0; p < i; p++) b[p] -= row[p] * xi;
    }
}

/* One row in training: x = (G + lambda I + alpha Q_r'Q_r)^-1 (1 + alpha) sum Q_r,
 * Q_r the rows idx[0..n) of Q gathered into P (n x k), the sum of outer
 * products one ssyrk, the solve LAPACK's Cholesky (column-major lower =
 * the row-major upper triangle: the matrix is symmetric, so x is the same).
 * A: k * k floats. */
static int solve_row(const float *G, int k, float lambda, float alpha, const float *Q, const uint32_t *idx, int64_t n,
                     float *x, float *A, float *P)
{
    memset(x, 0, sizeof *x * (size_t)k);
    if (n == 0) return 0;
    for (int64_t t = 0; t < n; t++) {
        const float *q = Q + (size_t)idx[t] * k;
        memcpy(P + (size_t)t * k, q, sizeof *q * (size_t)k);
        for (int f = 0; f < k; f++) x[f] += q[f];
    }
    for (int f = 0; f < k; f++) x[f] *= 1.0f + alpha;
    memcpy(A, G, sizeof *A * (size_t)k * k);
    for (int a = 0; a < k; a++) A[(size_t)a * k + a] += lambda;
    int nn = (int)n, one = 1, info = 0;
    float beta = 1.0f;
    ssyrk_("L", "N", &k, &nn, &alpha, P, &k, &beta, A, &k, 1, 1);
    spotrf_("L", &k, A, &k, &info, 1);
    if (info == 0) spotrs_("L", &k, &one, A, &k, x, &k, &info, 1);
    return info == 0 ? 0 : -1;
}

size_t ns_als_work_floats(const ns_als *m) { return (size_t)m->dim * m->dim + 2 * (size_t)m->dim; }

int ns_als_fold_in(const ns_als *m, const uint32_t *items, int n, float *x, float *work)
{
    int k = m->dim;
    float *A = work, *b = work + (size_t)k * k, *v = b + k;
    memcpy(A, m->yty, sizeof *A * (size_t)k * k);
    memset(b, 0, sizeof *b * (size_t)k);
    for (int a = 0; a < k; a++) A[(size_t)a * k + a] += (float)m->lambda;
    int used = 0;
    for (int t = 0; t < n; t++)
        if (items[t] < m->nitems) {
            add_rows(A, b, k, (float)m->alpha, m->itf, &items[t], 1);
            used++;
        }
    if (!used) {
        memset(x, 0, sizeof *x * (size_t)k);
        return 0;
    }
    for (int a = 0; a < k; a++) b[a] *= 1.0f + (float)m->alpha;
    if (cholesky(A, k, v) < 0) return ns_err_set(NS_EINTERNAL, "mf fold-in: the system is not positive definite");
    chol_solve(A, k, b, x);
    return 0;
}

/* Every row of one side against the fixed factors Q (nq rows): sixteen at
 * a time (als_batch.c) up to k = NS__ALS_BATCH_DIM, else one by one. */
static int solve_side(int k, float lambda, float alpha, const float *Q, int64_t nq, const int64_t *off,
                      const uint32_t *idx, uint32_t nrows, float *out, float *G)
{
    ns__als_gram(Q, nq, k, G);
    int64_t longest = 0;
    for (uint32_t r = 0; r < nrows; r++)
        if (off[r + 1] - off[r] > longest) longest = off[r + 1] - off[r];
    int batched = k <= NS__ALS_BATCH_DIM, fail = 0, nomem = 0;
    uint32_t step = batched ? NS__ALS_LANES : 1, njobs = (nrows + step - 1) / step;
    size_t nwork = batched ? ns__als_batch_floats(k, longest) : (size_t)k * k + (size_t)(longest + 1) * k;
#pragma omp parallel num_threads(ns_threads())
    {
        ns_thread_init_worker(1);
        float *work = ns_malloc(sizeof *work * nwork);
        if (!work) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (uint32_t job = 0; job < njobs; job++) {
            if (!work) continue;
            uint32_t r = job * step;
            int rc = batched ? ns__als_solve_batch(G, k, lambda, alpha, Q, off, idx, r,
                                                   (int)(nrows - r < step ? nrows - r : step), out, work, longest)
                             : solve_row(G, k, lambda, alpha, Q, idx + off[r], off[r + 1] - off[r],
                                         out + (size_t)r * k, work, work + (size_t)k * k);
            if (rc < 0) {
#pragma omp atomic write
                fail = 1;
            }
        }
        free(work);
    }
    if (nomem) return NS_ENOMEM;
    if (fail) return ns_err_set(NS_EINTERNAL, "ALS: a system is not positive definite (factors overflowed?)");
    return 0;
}

static uint64_t fnv1a(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

/* The initial item factors (als.h): a function of (seed, id, f) only. */
static void init_items(ns_als *m, double init, uint64_t seed)
{
    uint64_t s = ns_hash64(seed);
    for (uint32_t i = 0; i < m->nitems; i++) {
        size_t len;
        const char *id = ns_strmap_key(m->items, i, &len);
        uint64_t h = fnv1a(id, len) ^ s;
        for (int f = 0; f < m->dim; f++) {
            double u = (double)(ns_hash64(h ^ ((uint64_t)(f + 1) * 0x9E3779B97F4A7C15ULL)) >> 40) / 16777216.0;
            m->itf[(size_t)i * m->dim + f] = (float)(init * (2 * u - 1));
        }
    }
}

static ns_strmap *copy_ids(const ns_strmap *src)
{
    size_t n = ns_strmap_count(src);
    ns_strmap *d = ns_strmap_new(n + 1);
    for (size_t k = 0; d && k < n; k++) {
        size_t len;
        const char *s = ns_strmap_key(src, (int64_t)k, &len);
        if (ns_strmap_intern(d, s, len) != (int64_t)k) {
            ns_strmap_free(d);
            return NULL;
        }
    }
    return d;
}

static int check_opts(const ns_als_opts *o)
{
    if (o->dim < 1 || o->dim > NS_ALS_MAX_DIM)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "dim", NULL, "expected 1..%d factors, got %d", NS_ALS_MAX_DIM, o->dim);
    if (!(o->lambda > 0) || !isfinite(o->lambda))
        return ns_err_set_at(NS_EINVAL, NULL, 0, "lambda", NULL, "ALS needs a finite lambda > 0");
    if (!(o->alpha >= 0) || !isfinite(o->alpha))
        return ns_err_set_at(NS_EINVAL, NULL, 0, "alpha", NULL, "ALS needs a finite alpha >= 0");
    if (o->iters < 0) return ns_err_set_at(NS_EINVAL, NULL, 0, "iters", NULL, "expected iters >= 0");
    if (!(o->init > 0) || !isfinite(o->init))
        return ns_err_set_at(NS_EINVAL, NULL, 0, "init", NULL, "expected a finite init > 0");
    return 0;
}

static int train_loop(ns_als *m, const ns_ilog *l, const ns_als_opts *o)
{
    int k = m->dim, rc = 0;
    float *G = ns_malloc(sizeof *G * (size_t)k * k);
    if (!G) return NS_ENOMEM;
    ns_progress pr;
    ns_progress_begin(&pr, "ALS", o->iters, "sweeps");
    for (int it = 0; rc >= 0 && it < o->iters; it++) {
        rc = solve_side(k, (float)o->lambda, (float)o->alpha, m->itf, m->nitems, l->uoff, l->uitems, m->nusers, m->uf, G);
        if (rc >= 0)
            rc = solve_side(k, (float)o->lambda, (float)o->alpha, m->uf, m->nusers, l->ioff, l->iusers, m->nitems, m->itf, G);
        ns_progress_add(&pr, 1);
    }
    ns_progress_end(&pr);
    free(G);
    return rc;
}

int ns_als_train(ns_als **out, const ns_ilog *l, const ns_als_opts *o)
{
    *out = NULL;
    if (!l->ioff || !l->uoff) return ns_err_set(NS_EINVAL, "ALS: the log is not indexed (ns_ilog_index)");
    int rc = check_opts(o);
    if (rc < 0) return rc;
    ns_als *m = ns_calloc(1, sizeof *m);
    if (!m) return NS_ENOMEM;
    m->dim = o->dim;
    m->iters = o->iters;
    m->alpha = o->alpha;
    m->lambda = o->lambda;
    m->nusers = ns_ilog_nusers(l);
    m->nitems = ns_ilog_nitems(l);
    m->users = copy_ids(l->users);
    m->items = copy_ids(l->items);
    m->uf = ns_calloc((size_t)m->nusers * m->dim + 1, sizeof *m->uf);
    m->itf = ns_calloc((size_t)m->nitems * m->dim + 1, sizeof *m->itf);
    m->yty = ns_calloc((size_t)m->dim * m->dim, sizeof *m->yty);
    rc = m->users && m->items && m->uf && m->itf && m->yty ? 0 : NS_ENOMEM;
    if (rc >= 0) {
        ns_timer t;
        ns_timer_start(&t);
        init_items(m, o->init, o->seed);
        rc = train_loop(m, l, o);
        ns_log_debug("ALS: %u users, %u items, k %d, %d sweeps, %.2f s", m->nusers, m->nitems, m->dim, o->iters,
                     ns_timer_elapsed(&t));
    }
    if (rc >= 0) ns__als_gram(m->itf, m->nitems, m->dim, m->yty);
    if (rc < 0) {
        ns_als_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
