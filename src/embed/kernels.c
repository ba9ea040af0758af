/*
 * kernels.c — the word2vec inner step as small dense products.
 *
 * Why: word2vec.c updates one (centre, context) pair at a time: for each
 * of the ~2b context words it reloads the centre's output row and draws and
 * reloads N fresh negative rows, so the work is dot products and axpys on
 * rows scattered through a table that does not fit in L2. Ji et al. (2016,
 * "Parallelizing Word2Vec in Shared and Distributed Memory", the pWord2Vec
 * code) share the negatives across the window, which turns a window into
 * S = In[k,d] Out[m,d]^T followed by two rank-k / rank-m updates: each
 * output row is loaded once per window instead of k times, and the k x m
 * dot products run from registers.
 *
 * Workload: k <= 2 * window context rows (typically 2-10), m = 1 + negative
 * output rows (typically 6), d = 100-300. The fast path keeps up to 8 output
 * chunks and their gradient accumulators in AVX registers and makes one pass
 * over the rows for both updates. Rows are padded to a multiple of 8 floats
 * (the padding is zero and stays zero, so no remainder loops).
 */
#include "embed_int.h"

#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vf;
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, x) _mm256_storeu_ps(p, x)
#define V_SET1(x) _mm256_set1_ps(x)
#define V_ZERO() _mm256_setzero_ps()
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_ADD(a, b) _mm256_add_ps(a, b)
/* s[0..8) = the horizontal sums of a[0..8). */
static inline void hsum8(const vf *a, float *s)
{
    vf q0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    vf q1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    vf r = _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31));
    _mm256_storeu_ps(s, r);
}
#else
/* Portable build: GCC vector extensions (SSE pairs on x86-64-v2). */
typedef float vf __attribute__((vector_size(32)));
static inline vf V_LOAD(const float *p)
{
    vf x;
    memcpy(&x, p, sizeof x);
    return x;
}
static inline void V_STORE(float *p, vf x) { memcpy(p, &x, sizeof x); }
static inline vf V_SET1(float x) { return (vf){x, x, x, x, x, x, x, x}; }
#define V_ZERO() V_SET1(0.0f)
#define V_FMA(a, b, c) ((a) * (b) + (c))
#define V_ADD(a, b) ((a) + (b))
static inline void hsum8(const vf *a, float *s)
{
    for (int o = 0; o < 8; o++) {
        float t = 0;
        for (int l = 0; l < 8; l++) t += a[o][l];
        s[o] = t;
    }
}
#endif

#define ALWAYS_INLINE inline __attribute__((always_inline))

float ns__sig_table[NS__SIG_N + 1];

void ns__sig_init(void)
{
    for (int i = 0; i <= NS__SIG_N; i++) {
        double x = (double)i * (2.0 * NS__SIG_MAX / NS__SIG_N) - NS__SIG_MAX;
        ns__sig_table[i] = (float)(1.0 / (1.0 + __builtin_exp(-x)));
    }
}

/* s[o] = x . out[o] for o < M (M <= 8, a compile-time constant after inlining). */
static ALWAYS_INLINE void dots_fixed(const float *x, float *const *out, const int M, int ld,
                                     float *s)
{
    vf acc[8];
#pragma GCC unroll 8
    for (int o = 0; o < 8; o++) acc[o] = V_ZERO();
    for (int c = 0; c < ld; c += 8) {
        vf xv = V_LOAD(x + c);
#pragma GCC unroll 8
        for (int o = 0; o < M; o++) acc[o] = V_FMA(xv, V_LOAD(out[o] + c), acc[o]);
    }
    hsum8(acc, s);
}

/* s[o] = x . out[o] for any m. */
static void dots(const float *x, float *const *out, int m, int ld, float *s)
{
    float t[8];
    for (int o0 = 0; o0 < m; o0 += 8) {
        int r = m - o0 < 8 ? m - o0 : 8;
        switch (r) {
        case 1: dots_fixed(x, out + o0, 1, ld, t); break;
        case 2: dots_fixed(x, out + o0, 2, ld, t); break;
        case 3: dots_fixed(x, out + o0, 3, ld, t); break;
        case 4: dots_fixed(x, out + o0, 4, ld, t); break;
        case 5: dots_fixed(x, out + o0, 5, ld, t); break;
        case 6: dots_fixed(x, out + o0, 6, ld, t); break;
        case 7: dots_fixed(x, out + o0, 7, ld, t); break;
        default: dots_fixed(x, out + o0, 8, ld, t); break;
        }
        memcpy(s + o0, t, sizeof(float) * (size_t)r);
    }
}

/* s0[o] = x0 . out[o] and s1[o] = x1 . out[o] for o < M <= 6: two input
 * rows per pass share the output loads and give 2M independent FMA chains
 * (one row alone is bound by the FMA latency of M chains). */
static ALWAYS_INLINE void dots2_fixed(const float *x0, const float *x1, float *const *out,
                                      const int M, int ld, float *s0, float *s1)
{
    vf a0[8], a1[8];
#pragma GCC unroll 8
    for (int o = 0; o < 8; o++) {
        a0[o] = V_ZERO();
        a1[o] = V_ZERO();
    }
    for (int c = 0; c < ld; c += 8) {
        vf u = V_LOAD(x0 + c), w = V_LOAD(x1 + c);
#pragma GCC unroll 8
        for (int o = 0; o < M; o++) {
            vf ov = V_LOAD(out[o] + c);
            a0[o] = V_FMA(u, ov, a0[o]);
            a1[o] = V_FMA(w, ov, a1[o]);
        }
    }
    hsum8(a0, s0);
    hsum8(a1, s1);
}

/* One 8-column chunk of one input row: x += sum_o g[o] out[o] (old out),
 * d[o] += g[o] x (old x). */
static ALWAYS_INLINE void update_chunk(float *x, const float *g, float *const *out, const int M,
                                       int c, vf *d)
{
    vf xv = V_LOAD(x), nx = xv;
#pragma GCC unroll 8
    for (int o = 0; o < M; o++) {
        vf gv = V_SET1(g[o]);
        nx = V_FMA(gv, V_LOAD(out[o] + c), nx);
        d[o] = V_FMA(gv, xv, d[o]);
    }
    V_STORE(x, nx);
}

/* The fused step for M <= 8 outputs: scores and gradients for all k rows,
 * then one pass over the columns that updates in[] (with the old out) and
 * accumulates the out[] gradients (with the old in) in registers, in two
 * interleaved sets (even and odd rows) to halve the dependency chains. */
static ALWAYS_INLINE void step_fixed(float *const *in, int k, float *const *out, const int M,
                                     const float *label, int ld, float alpha, float *G)
{
    int j = 0;
    if (M <= 6)
        for (; j + 1 < k; j += 2) {
            float s0[8], s1[8];
            dots2_fixed(in[j], in[j + 1], out, M, ld, s0, s1);
#pragma GCC unroll 8
            for (int o = 0; o < M; o++) {
                G[j * 8 + o] = alpha * (label[o] - ns__sigmoid(s0[o]));
                G[j * 8 + 8 + o] = alpha * (label[o] - ns__sigmoid(s1[o]));
            }
        }
    for (; j < k; j++) {
        float s[8];
        dots_fixed(in[j], out, M, ld, s);
#pragma GCC unroll 8
        for (int o = 0; o < M; o++) G[j * 8 + o] = alpha * (label[o] - ns__sigmoid(s[o]));
    }
    for (int c = 0; c < ld; c += 8) {
        vf d0[8], d1[8];
#pragma GCC unroll 8
        for (int o = 0; o < M; o++) {
            d0[o] = V_ZERO();
            d1[o] = V_ZERO();
        }
        int q = 0;
        for (; q + 1 < k; q += 2) {
            update_chunk(in[q] + c, G + q * 8, out, M, c, d0);
            update_chunk(in[q + 1] + c, G + q * 8 + 8, out, M, c, d1);
        }
        if (q < k) update_chunk(in[q] + c, G + q * 8, out, M, c, d0);
        /* Reload before adding so that a row listed twice gets both updates. */
#pragma GCC unroll 8
        for (int o = 0; o < M; o++)
            V_STORE(out[o] + c, V_ADD(V_LOAD(out[o] + c), V_ADD(d0[o], d1[o])));
    }
}

/* Any m: scores, out gradients into scratch, then the two updates. */
static void step_general(float *const *in, int k, float *const *out, int m, const float *label,
                         int ld, float alpha, float *scratch)
{
    float *G = scratch;               /* [k, m] */
    float *dout = scratch + (size_t)k * (size_t)m; /* [m, ld] */
    dout = (float *)(((uintptr_t)dout + 31) & ~(uintptr_t)31);
    for (int j = 0; j < k; j++) {
        dots(in[j], out, m, ld, G + (size_t)j * m);
        for (int o = 0; o < m; o++) {
            float *g = &G[(size_t)j * m + o];
            *g = alpha * (label[o] - ns__sigmoid(*g));
        }
    }
    for (int o = 0; o < m; o++) {
        float *d = dout + (size_t)o * ld;
        for (int c = 0; c < ld; c += 8) {
            vf acc = V_ZERO();
            for (int j = 0; j < k; j++) acc = V_FMA(V_SET1(G[(size_t)j * m + o]), V_LOAD(in[j] + c), acc);
            V_STORE(d + c, acc);
        }
    }
    for (int j = 0; j < k; j++) {
        float *x = in[j];
        for (int c = 0; c < ld; c += 8) {
            vf acc = V_LOAD(x + c);
            for (int o = 0; o < m; o++) acc = V_FMA(V_SET1(G[(size_t)j * m + o]), V_LOAD(out[o] + c), acc);
            V_STORE(x + c, acc);
        }
    }
    for (int o = 0; o < m; o++)
        for (int c = 0; c < ld; c += 8)
            V_STORE(out[o] + c, V_ADD(V_LOAD(out[o] + c), V_LOAD(dout + (size_t)o * ld + c)));
}

void ns__w2v_step(float *const *in, int k, float *const *out, int m, const float *label, int ld,
                  float alpha, float *scratch)
{
    switch (m) {
    case 1: step_fixed(in, k, out, 1, label, ld, alpha, scratch); break;
    case 2: step_fixed(in, k, out, 2, label, ld, alpha, scratch); break;
    case 3: step_fixed(in, k, out, 3, label, ld, alpha, scratch); break;
    case 4: step_fixed(in, k, out, 4, label, ld, alpha, scratch); break;
    case 5: step_fixed(in, k, out, 5, label, ld, alpha, scratch); break;
    case 6: step_fixed(in, k, out, 6, label, ld, alpha, scratch); break;
    case 7: step_fixed(in, k, out, 7, label, ld, alpha, scratch); break;
    case 8: step_fixed(in, k, out, 8, label, ld, alpha, scratch); break;
    default: step_general(in, k, out, m, label, ld, alpha, scratch); break;
    }
}

void ns__w2v_step_ref(float *const *in, int k, float *const *out, int m, const float *label,
                      int ld, float alpha, float *scratch)
{
    float *G = scratch, *dout = scratch + (size_t)k * (size_t)m;
    for (int j = 0; j < k; j++)
        for (int o = 0; o < m; o++) {
            double s = 0;
            for (int c = 0; c < ld; c++) s += (double)in[j][c] * out[o][c];
            G[(size_t)j * m + o] = alpha * (label[o] - ns__sigmoid((float)s));
        }
    for (int o = 0; o < m; o++)
        for (int c = 0; c < ld; c++) {
            double acc = 0;
            for (int j = 0; j < k; j++) acc += (double)G[(size_t)j * m + o] * in[j][c];
            dout[(size_t)o * ld + c] = (float)acc;
        }
    for (int j = 0; j < k; j++)
        for (int c = 0; c < ld; c++) {
            double acc = 0;
            for (int o = 0; o < m; o++) acc += (double)G[(size_t)j * m + o] * out[o][c];
            in[j][c] += (float)acc;
        }
    for (int o = 0; o < m; o++)
        for (int c = 0; c < ld; c++) out[o][c] += dout[(size_t)o * ld + c];
}

void ns__w2v_step_cbow(const float *h, float *dh, float *const *out, int m, const float *label,
                       int ld, float alpha)
{
    float g[64];
    for (int o0 = 0; o0 < m; o0 += 64) {
        int r = m - o0 < 64 ? m - o0 : 64;
        dots(h, out + o0, r, ld, g);
        for (int o = 0; o < r; o++) g[o] = alpha * (label[o0 + o] - ns__sigmoid(g[o]));
        for (int c = 0; c < ld; c += 8) {
            vf hv = V_LOAD(h + c), d = V_LOAD(dh + c);
            for (int o = 0; o < r; o++) {
                float *row = out[o0 + o] + c;
                vf ov = V_LOAD(row), gv = V_SET1(g[o]);
                d = V_FMA(gv, ov, d);
                V_STORE(row, V_FMA(gv, hv, ov));
            }
            V_STORE(dh + c, d);
        }
    }
}

void ns__w2v_cbow(float *const *in, int k, float *const *out, int m, const float *label, int ld,
                  float alpha, int mean, float *h, float *dh)
{
    vf inv = V_SET1(mean ? 1.0f / (float)k : 1.0f);
    for (int c = 0; c < ld; c += 8) {
        vf s = V_LOAD(in[0] + c);
        for (int j = 1; j < k; j++) s = V_ADD(s, V_LOAD(in[j] + c));
        V_STORE(h + c, s * inv);
        V_STORE(dh + c, V_ZERO());
    }
    ns__w2v_step_cbow(h, dh, out, m, label, ld, alpha);
    for (int c = 0; c < ld; c += 8) {
        vf d = V_LOAD(dh + c);
        for (int j = 0; j < k; j++) V_STORE(in[j] + c, V_ADD(V_LOAD(in[j] + c), d));
    }
}
