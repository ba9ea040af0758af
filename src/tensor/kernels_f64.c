/* kernels_f64.c — the double instantiation of kernels.inc, used by the
 * finite-difference gradient checks (same source as the float kernels). */
#include "northstar/tensor.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>
#include <tgmath.h>

#define R double
#define K(name) ns_##name##_f64
#define GEMM cblas_dgemm
#define KEXP exp
#include "kernels.inc"
