/*
 * fastmath.c — element-wise kernels of the GPT engine that the compiler can
 * vectorise: GELU (tanh form) forward/backward and SiLU-gated products,
 * built on the vectorisable exp of northstar/fastmath.h.
 *
 * Why not ns_gelu_* and ns_swiglu_*: those accumulate (+=) and fork their
 * own OpenMP region; the engine splits rows across threads itself and wants
 * overwriting, calling-thread kernels. (Before the foundation kernels used
 * fastmath.h, libm's scalar tanhf was 44% of a training step.) The results agree with the double-precision foundation kernels to ~1e-7
 * relative (tests/unit/test_llm.c), and the whole model still matches
 * PyTorch in tests/ref/test_llm_ref.c.
 */
#include "llm_int.h"
#include "llm_fast.h"
#include "northstar/fastmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define GELU_S 0.7978845608028654f
#define GELU_C 0.044715f

void ns__gelu_fwd(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float ds;
        out[i] = x * ns_sigmoid_gradf_fast(2.0f * GELU_S * (x + GELU_C * x * x * x), &ds);
    }
}

void ns__gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float ds;
        float sg = ns_sigmoid_gradf_fast(2.0f * GELU_S * (x + GELU_C * x * x * x), &ds);
        float g = sg + 2.0f * x * ds * GELU_S * (1.0f + 3.0f * GELU_C * x * x);
        dinp[i] = g * dout[i];
    }
}

static inline float sigm(float x) { return ns_sigmoidf_fast(x); }

void ns__swiglu_fwd(float *out, const float *a, const float *b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = a[i] * sigm(a[i]) * b[i];
}

void ns__swiglu_bwd(float *da, float *db, const float *dout, const float *a, const float *b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = a[i], s = sigm(x);
        da[i] = dout[i] * b[i] * s * (1.0f + x * (1.0f - s));
        db[i] = dout[i] * x * s;
    }
}
