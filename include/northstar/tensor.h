/*
 * northstar/tensor.h — layer 1: dense float kernels with explicit backward.
 *
 * Models are written as a params struct, a forward that calls these kernels
 * in order and a backward that calls their backward twins in reverse — no
 * hidden autograd (see docs/ARCHITECTURE.md). Every kernel is checked against
 * PyTorch on fixed inputs (tests/ref) and its backward against finite
 * differences in double precision (tests/unit/test_gradcheck.c), which is
 * why each kernel exists twice: ns_<op> on float and ns_<op>_f64 on double,
 * compiled from the same source (src/tensor/kernels.inc).
 *
 * Example: a linear layer with GELU and a softmax cross-entropy.
 *   ns_matmul_forward(h, x, w, b, N, C, OC);
 *   ns_gelu_forward(h, h, (size_t)N * OC);          // in place is allowed
 *   double loss = ns_cross_entropy_forward(NULL, h, y, NULL, -100, N, OC);
 *   ns_cross_entropy_backward(dh, h, y, NULL, -100, 1.0f, N, OC);
 */
#ifndef NORTHSTAR_TENSOR_H
#define NORTHSTAR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types, shared with the safetensors reader/writer. */
typedef enum ns_dtype {
    NS_DT_F32 = 0,
    NS_DT_F16,
    NS_DT_BF16,
    NS_DT_F64,
    NS_DT_I32,
    NS_DT_I64,
    NS_DT_I8,
    NS_DT_U8,
    NS_DT_BOOL,
    NS_DT__COUNT
} ns_dtype;

size_t ns_dtype_size(ns_dtype t);
const char *ns_dtype_name(ns_dtype t); /* safetensors spelling: "F32", "BF16", ... */
int ns_dtype_from_name(const char *name, ns_dtype *out); /* NS_OK or NS_ENOTFOUND */

/* Half-precision conversions (round to nearest even on the way down). */
float ns_f16_to_f32(uint16_t h);
uint16_t ns_f32_to_f16(float f);
float ns_bf16_to_f32(uint16_t h);
uint16_t ns_f32_to_bf16(float f);

/* Embedding-bag reductions. */
enum { NS_BAG_SUM = 0, NS_BAG_MEAN = 1 };

#define NS_REAL float
#define NS_FN(x) ns_##x
#include "northstar/tensor_kernels.inc"
#undef NS_REAL
#undef NS_FN

#define NS_REAL double
#define NS_FN(x) ns_##x##_f64
#include "northstar/tensor_kernels.inc"
#undef NS_REAL
#undef NS_FN

/* OpenBLAS's kernel family ("Haswell", "SkylakeX", ...), and the one this
 * CPU should run when OpenBLAS fell back to its generic Prescott kernels
 * because it does not know the CPU (NULL when its choice stands). The
 * override takes effect only through $OPENBLAS_CORETYPE before OpenBLAS
 * loads: the command sets it and re-executes itself. */
const char *ns_blas_core(void);
/* OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... SkylakeX ..."). */
const char *ns_blas_config(void);
const char *ns_blas_core_override(void);

/* Sum rows of a COO row gradient with equal ids: on return ids[0..k) are
 * sorted and unique and rows[k,D] hold their sums; returns k, or NS_ENOMEM. */
int ns_sparse_rows_coalesce(int32_t *ids, float *rows, int n, int D);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_TENSOR_H */
