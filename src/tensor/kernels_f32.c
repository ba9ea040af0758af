/* kernels_f32.c — the float instantiation of kernels.inc (what models run). */
#include "northstar/tensor.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>
#include <tgmath.h>

/*
 * exp for the float kernels. libm's expf is a scalar call that no loop can
 * vectorise (glibc offers vector variants only under -ffast-math), and
 * softmax, attention, cross-entropy, sigmoid, SiLU and GELU are dominated by
 * it. This one is Cody-Waite range reduction (x = n ln2 + r, |r| <= ln2/2)
 * and the degree-7 Taylor polynomial of e^r (truncation error < 6e-9
 * relative), scaled by 2^n built in the exponent bits: about 1 ulp, and it
 * vectorises under `#pragma omp simd`. Inputs are clamped to [-87.3, 88]
 * (the result stays a normal float; below that exp underflows to ~1e-38
 * instead of 0, above it saturates at 1.65e38 instead of inf); NaN stays NaN.
 */
static inline float kexp(float x)
{
    float xc = fminf(fmaxf(x, -87.33654f), 88.0f);
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

#define R float
#define K(name) ns_##name
#define GEMM cblas_sgemm
#define KEXP kexp
#include "kernels.inc"
