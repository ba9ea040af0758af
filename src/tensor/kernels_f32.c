/* kernels_f32.c — the float instantiation of kernels.inc (what models run). */
#include "northstar/tensor.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>
#include <tgmath.h>

#define R float
#define K(name) ns_##name
#define GEMM cblas_sgemm
#include "kernels.inc"
