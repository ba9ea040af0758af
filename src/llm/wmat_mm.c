/*
 * wmat_mm.c — the products inference spends its time in: rows [r0, r1) of a
 * typed weight matrix (F32, F16, Q8_0, Q4_0; llm_int.h) times n input rows,
 * each weight row read once for all n (decode of one sequence is n = 1;
 * continuous batching and prefill are n > 1).
 *
 * Quantised matrices multiply inputs quantised to Q8 blocks of 32 (one
 * float scale and the block's sum per block), integer dot products per
 * block (AVX-512 VNNI where the CPU has it) scaled in float, as ggml does.
 * Float matrices use 4 weight rows x up to 4 input rows of FMA
 * accumulators. Every path has a plain C twin (builds without AVX-512).
 */
#include "llm_int.h"

#include "northstar/dtype.h"

#include <math.h>
#include <string.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#define HAVE_512 1
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__AVX512BW__)
#define HAVE_VNNI 1
#endif

static inline float half_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return ns_f16_to_f32(h);
}

void ns__xin_quantize(int8_t *q, float *d, int32_t *s, const float *x, int n, int cols)
{
    int nb = cols / 32;
    for (int i = 0; i < n; i++)
        for (int b = 0; b < nb; b++) {
            const float *v = x + (size_t)i * cols + b * 32;
            int8_t *o = q + (size_t)i * cols + b * 32;
            float amax = 0;
            for (int k = 0; k < 32; k++) amax = fmaxf(amax, fabsf(v[k]));
            float dd = amax / 127.0f, id = dd > 0 ? 1.0f / dd : 0;
            int32_t sum = 0;
            for (int k = 0; k < 32; k++) {
                o[k] = (int8_t)lrintf(v[k] * id);
                sum += o[k];
            }
            d[(size_t)i * nb + b] = dd;
            s[(size_t)i * nb + b] = sum;
        }
}

/* ---- F32 ----------------------------------------------------------------- */

#ifdef HAVE_512
/* acc[j][i] = W[r+j] . X[i] for j < 4, i < ni (ni <= 4). */
static inline void f32_4rows(const float *W, int cols, const float *X, int ni, float out[4][4])
{
    __m512 a[4][4];
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++) a[j][i] = _mm512_setzero_ps();
    int k = 0;
    const float *w0 = W, *w1 = W + cols, *w2 = W + 2 * (size_t)cols, *w3 = W + 3 * (size_t)cols;
    for (; k < cols; k += 16) {
        __mmask16 mk = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
        __m512 v0 = _mm512_maskz_loadu_ps(mk, w0 + k), v1 = _mm512_maskz_loadu_ps(mk, w1 + k);
        __m512 v2 = _mm512_maskz_loadu_ps(mk, w2 + k), v3 = _mm512_maskz_loadu_ps(mk, w3 + k);
        for (int i = 0; i < 4; i++) {
            if (i >= ni) break;
            __m512 x = _mm512_maskz_loadu_ps(mk, X + (size_t)i * cols + k);
            a[0][i] = _mm512_fmadd_ps(v0, x, a[0][i]);
            a[1][i] = _mm512_fmadd_ps(v1, x, a[1][i]);
            a[2][i] = _mm512_fmadd_ps(v2, x, a[2][i]);
            a[3][i] = _mm512_fmadd_ps(v3, x, a[3][i]);
        }
    }
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < ni; i++) out[j][i] = _mm512_reduce_add_ps(a[j][i]);
}

static inline float f32_dot(const float *w, const float *x, int cols)
{
    __m512 a = _mm512_setzero_ps();
    for (int k = 0; k < cols; k += 16) {
        __mmask16 mk = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
        a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, w + k), _mm512_maskz_loadu_ps(mk, x + k), a);
    }
    return _mm512_reduce_add_ps(a);
}
#else
static inline void f32_4rows(const float *W, int cols, const float *X, int ni, float out[4][4])
{
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < ni; i++) {
            const float *w = W + (size_t)j * cols, *x = X + (size_t)i * cols;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int k = 0; k < cols; k++) s += w[k] * x[k];
            out[j][i] = s;
        }
}

static inline float f32_dot(const float *w, const float *x, int cols)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < cols; k++) s += w[k] * x[k];
    return s;
}
#endif

/* ---- F16 ----------------------------------------------------------------- */

#ifdef HAVE_512
static inline __m512 h16_load(const uint16_t *p, __mmask16 mk)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, p));
}
static inline float f16_dot(const uint16_t *w, const float *x, int cols)
{
    __m512 a = _mm512_setzero_ps();
    for (int k = 0; k < cols; k += 16) {
        __mmask16 mk = cols - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - k)) - 1);
        a = _mm512_fmadd_ps(h16_load(w + k, mk), _mm512_maskz_loadu_ps(mk, x + k), a);
    }
    return _mm512_reduce_add_ps(a);
}
#else
static inline float f16_dot(const uint16_t *w, const float *x, int cols)
{
    float s = 0;
    for (int k = 0; k < cols; k++) s += ns_f16_to_f32(w[k]) * x[k];
    return s;
}
#endif

/* ---- Q8_0 and Q4_0 against Q8 inputs --------------------------------------- */

#ifdef HAVE_VNNI
/* int32 lanes of the 32-byte block product w . x, w signed (Q8_0). */
static inline __m256i q8_block(const int8_t *w, const int8_t *x)
{
    __m256i vw = _mm256_loadu_si256((const __m256i *)w), vx = _mm256_loadu_si256((const __m256i *)x);
    __m256i aw = _mm256_abs_epi8(vw), sx = _mm256_sign_epi8(vx, vw);
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), aw, sx);
}
/* Q4_0 block as unsigned nibbles 0..15 (element j < 16 low, j >= 16 high). */
static inline __m256i q4_unpack(const uint8_t *q)
{
    __m128i b = _mm_loadu_si128((const __m128i *)q);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(15)), hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(15));
    return _mm256_set_m128i(hi, lo);
}
static inline __m256i q4_block(__m256i u, const int8_t *x)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, _mm256_loadu_si256((const __m256i *)x));
}
static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* Rows r..r+nr-1 (nr <= 4) of a Q8_0 matrix times input rows 0..ni-1 (ni <= 4). */
static void q8_rows(const uint8_t *W, size_t rb, int nr, int nb, const ns__xin *in, int i0, int ni, float out[4][4])
{
#ifdef HAVE_VNNI
    __m256 a[4][4];
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++) a[j][i] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < nr; j++) {
            const uint8_t *blk = W + (size_t)j * rb + (size_t)b * 34;
            float dw = half_at(blk);
            for (int i = 0; i < ni; i++) {
                const int8_t *xq = in->q + (size_t)(i0 + i) * in->cols + b * 32;
                __m256 p = _mm256_cvtepi32_ps(q8_block((const int8_t *)blk + 2, xq));
                a[j][i] = _mm256_fmadd_ps(p, _mm256_set1_ps(dw * in->d[(size_t)(i0 + i) * nb + b]), a[j][i]);
            }
        }
    }
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < ni; i++) out[j][i] = hsum8(a[j][i]);
#else
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < ni; i++) {
            float s = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = W + (size_t)j * rb + (size_t)b * 34;
                const int8_t *wq = (const int8_t *)blk + 2, *xq = in->q + (size_t)(i0 + i) * in->cols + b * 32;
                int32_t iv = 0;
                for (int k = 0; k < 32; k++) iv += (int32_t)wq[k] * xq[k];
                s += (float)iv * half_at(blk) * in->d[(size_t)(i0 + i) * nb + b];
            }
            out[j][i] = s;
        }
#endif
}

static void q4_rows(const uint8_t *W, size_t rb, int nr, int nb, const ns__xin *in, int i0, int ni, float out[4][4])
{
#ifdef HAVE_VNNI
    __m256 a[4][4];
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++) a[j][i] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        for (int j = 0; j < nr; j++) {
            const uint8_t *blk = W + (size_t)j * rb + (size_t)b * 18;
            float dw = half_at(blk);
            __m256i u = q4_unpack(blk + 2);
            for (int i = 0; i < ni; i++) {
                size_t xi = (size_t)(i0 + i) * nb + b;
                const int8_t *xq = in->q + (size_t)(i0 + i) * in->cols + b * 32;
                /* sum (u - 8) x = sum u x - 8 sum x: the block sum goes into lane 0 */
                __m256i p = q4_block(u, xq);
                p = _mm256_sub_epi32(p, _mm256_setr_epi32(8 * in->s[xi], 0, 0, 0, 0, 0, 0, 0));
                a[j][i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * in->d[xi]), a[j][i]);
            }
        }
    }
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < ni; i++) out[j][i] = hsum8(a[j][i]);
#else
    for (int j = 0; j < nr; j++)
        for (int i = 0; i < ni; i++) {
            float s = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = W + (size_t)j * rb + (size_t)b * 18;
                const int8_t *xq = in->q + (size_t)(i0 + i) * in->cols + b * 32;
                int32_t iv = 0;
                for (int k = 0; k < 16; k++)
                    iv += ((blk[2 + k] & 15) - 8) * xq[k] + ((blk[2 + k] >> 4) - 8) * xq[16 + k];
                s += (float)iv * half_at(blk) * in->d[(size_t)(i0 + i) * nb + b];
            }
            out[j][i] = s;
        }
#endif
}

/* ---- the product ------------------------------------------------------------ */

static inline void put(float *out, int ldo, int i, int r, float y, const float *bias, int acc)
{
    float v = y + (bias ? bias[r] : 0.0f);
    float *o = out + (size_t)i * ldo + r;
    *o = acc ? *o + v : v;
}

void ns__wmat_mm(const ns__wmat *w, int r0, int r1, const ns__xin *in, float *out, int ldo, const float *bias,
                 int acc)
{
    int cols = w->cols, n = in->n;
    const uint8_t *base = w->data;
    float t[4][4];
    if (w->type == NS_LLM_F32) {
        const float *W = w->data;
        int r = r0;
        for (; r + 4 <= r1; r += 4)
            for (int i = 0; i < n; i += 4) {
                int ni = n - i < 4 ? n - i : 4;
                f32_4rows(W + (size_t)r * cols, cols, in->x + (size_t)i * cols, ni, t);
                for (int j = 0; j < 4; j++)
                    for (int k = 0; k < ni; k++) put(out, ldo, i + k, r + j, t[j][k], bias, acc);
            }
        for (; r < r1; r++)
            for (int i = 0; i < n; i++)
                put(out, ldo, i, r, f32_dot(W + (size_t)r * cols, in->x + (size_t)i * cols, cols), bias, acc);
        return;
    }
    if (w->type == NS_LLM_F16) {
        for (int r = r0; r < r1; r++) {
            const uint16_t *wr = (const uint16_t *)(base + (size_t)r * w->row_bytes);
            for (int i = 0; i < n; i++) put(out, ldo, i, r, f16_dot(wr, in->x + (size_t)i * cols, cols), bias, acc);
        }
        return;
    }
    int nb = cols / 32;
    for (int r = r0; r < r1; r += 4) {
        int nr = r1 - r < 4 ? r1 - r : 4;
        const uint8_t *W = base + (size_t)r * w->row_bytes;
        for (int i = 0; i < n; i += 4) {
            int ni = n - i < 4 ? n - i : 4;
            if (w->type == NS_LLM_Q8_0) q8_rows(W, w->row_bytes, nr, nb, in, i, ni, t);
            else q4_rows(W, w->row_bytes, nr, nb, in, i, ni, t);
            for (int j = 0; j < nr; j++)
                for (int k = 0; k < ni; k++) put(out, ldo, i + k, r + j, t[j][k], bias, acc);
        }
    }
}
