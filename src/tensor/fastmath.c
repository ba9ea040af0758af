/*
 * fastmath.c — element-wise kernels the compiler can vectorise, built on
 * the exp of fastmath.h: GELU (tanh form) forward/backward and SiLU-gated
 * products (SwiGLU). Unlike ns_gelu_* and ns_swiglu_* of tensor.h these
 * OVERWRITE their outputs and run on the calling thread: the GPT engine
 * splits rows across its threads itself. They agree with the
 * double-precision kernels to ~1e-7 relative (tests/unit/test_llm.c).
 */
#include "northstar/fastmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define GELU_S 0.7978845608028654f
#define GELU_C 0.044715f

void ns_gelu_fast_forward(float *out, const float *inp, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float ds;
        out[i] = x * ns_sigmoid_gradf_fast(2.0f * GELU_S * (x + GELU_C * x * x * x), &ds);
    }
}

void ns_gelu_fast_backward(float *dinp, const float *dout, const float *inp, size_t n)
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

void ns_swiglu_fast_forward(float *out, const float *a, const float *b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) out[i] = a[i] * sigm(a[i]) * b[i];
}

void ns_swiglu_fast_backward(float *da, float *db, const float *dout, const float *a, const float *b, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = a[i], s = sigm(x);
        da[i] = dout[i] * b[i] * s * (1.0f + x * (1.0f - s));
        db[i] = dout[i] * x * s;
    }
}
