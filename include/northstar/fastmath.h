/*
 * northstar/fastmath.h — layer 1: vectorisable float exp and the functions
 * built on it.
 *
 * libm's expf/tanhf are scalar calls no loop can vectorise (glibc offers
 * vector variants only under -ffast-math), and softmax, attention,
 * cross-entropy, sigmoid, SiLU/SwiGLU and GELU are dominated by them. These
 * inline functions use plain arithmetic so `#pragma omp simd` loops
 * vectorise them (AVX2: 8 lanes):
 *
 *   ns_expf_fast  Cody-Waite reduction x = n ln2 + r (|r| <= ln2/2) and the
 *                 degree-7 Taylor polynomial of e^r (truncation < 6e-9
 *                 relative), scaled by 2^n built in the exponent bits: about
 *                 1 ulp. Inputs are clamped to [-87.3, 88]: below, the result
 *                 is ~1.2e-38 instead of 0; above, 1.65e38 instead of inf.
 *                 NaN stays NaN.
 *   ns_sigmoidf_fast  1 / (1 + e^-x) from one exp of -|x| (no overflow).
 *   ns_sigmoid_gradf_fast  sigmoid(z) and sigmoid(z) (1 - sigmoid(z)) from
 *                 one exp; both accurate to ~1 ulp over the whole range. GELU
 *                 (tanh form) is x * sigmoid(2u): 0.5 (1 + tanh u) =
 *                 sigmoid(2u) and sech^2 u = 4 sigmoid(2u)(1 - sigmoid(2u)),
 *                 which avoids the cancellations of 1 + t and 1 - t*t near
 *                 t = -1 and t = 1.
 */
#ifndef NORTHSTAR_FASTMATH_H
#define NORTHSTAR_FASTMATH_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float ns_expf_fast(float x)
{
    /* Clamp with compares, not fminf/fmaxf (whose NaN rules GCC cannot
     * vectorise); NaN compares false and becomes -87.3 here, so the
     * float-to-int conversion below never sees it, and is restored at the end. */
    float xc = x > -87.33654f ? (x < 88.0f ? x : 88.0f) : -87.33654f;
    float n = __builtin_rintf(xc * 1.44269504088896341f);
    float r = xc - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723212e-6f;
    float p = 1.98412698e-4f;
    p = p * r + 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    return x == x ? y : x;
}

static inline float ns_sigmoidf_fast(float x)
{
    float e = ns_expf_fast(-fabsf(x));
    float s = 1.0f / (1.0f + e);
    return x >= 0 ? s : e * s;
}

static inline float ns_sigmoid_gradf_fast(float z, float *dsig)
{
    float e = ns_expf_fast(-fabsf(z));
    float inv = 1.0f / (1.0f + e);
    *dsig = e * inv * inv;
    return z >= 0 ? inv : e * inv;
}

/* Element-wise kernels on these (src/tensor/fastmath.c). They overwrite
 * their outputs (no accumulation) and run on the calling thread. */
void ns_gelu_fast_forward(float *out, const float *inp, size_t n);
void ns_gelu_fast_backward(float *dinp, const float *dout, const float *inp, size_t n);
/* out = silu(a) * b; da, db from dout. */
void ns_swiglu_fast_forward(float *out, const float *a, const float *b, size_t n);
void ns_swiglu_fast_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t n);

#endif /* NORTHSTAR_FASTMATH_H */
