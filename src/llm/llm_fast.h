/*
 * llm_fast.h — vectorisable element-wise kernels of the GPT engine
 * (fastmath.c). Unlike the foundation kernels these OVERWRITE their outputs
 * (no accumulation) and run on the calling thread: callers split rows.
 */
#ifndef NS_LLM_FAST_H
#define NS_LLM_FAST_H

#include <stddef.h>

void ns__gelu_fwd(float *out, const float *inp, size_t n);
void ns__gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n);
void ns__swiglu_fwd(float *out, const float *a, const float *b, size_t n);
void ns__swiglu_bwd(float *da, float *db, const float *dout, const float *a, const float *b, size_t n);

#endif
