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

#include "northstar/dtype.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* Sum rows of a COO row gradient with equal ids: on return ids[0..k) are
 * sorted and unique and rows[k,D] hold their sums; returns k, or NS_ENOMEM. */
int ns_sparse_rows_coalesce(int32_t *ids, float *rows, int n, int D);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_TENSOR_H */
