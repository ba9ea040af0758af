/* kernels_f32.c — the float instantiation of kernels.inc (what models run). */
#include "northstar/fastmath.h"
#include "northstar/tensor.h"

#include <assert.h>
#include <cblas.h>
#include <string.h>
#include <tgmath.h>

/* exp for the float kernels: the vectorisable polynomial of fastmath.h. */
#define KEXP ns_expf_fast

#define R float
#define K(name) ns_##name
#define GEMM cblas_sgemm
#include "kernels.inc"
