/*
 * blas.c — which OpenBLAS kernels this process runs on.
 *
 * OpenBLAS (a DYNAMIC_ARCH build, as Debian ships it) picks its kernel
 * family from cpuid once, when the library is loaded. A release older than
 * the CPU does not recognise it and falls back to its most generic x86-64
 * family, Prescott (SSE3): several times slower than the AVX2 or AVX-512
 * kernels the CPU can run, and Debian 12's 0.3.21 Prescott strsm kernel
 * reads a misaligned panel with movaps, a crash in LAPACK's Cholesky
 * (spotrf/spotri, EASE's inverse) on a thread OpenMP did not create. The
 * variable OPENBLAS_CORETYPE overrides the choice, but only before the
 * library loads, so the command sets it and executes itself again
 * (src/cli/main.c).
 */
#include "northstar/tensor.h"
#include "northstar/blas.h"

#include <cblas.h>
#include <string.h>

const char *ns_blas_core(void) { return openblas_get_corename(); }

const char *ns_blas_config(void) { return openblas_get_config(); }

const char *ns_blas_core_override(void)
{
    const char *core = openblas_get_corename();
    if (!core || strcasecmp(core, "prescott") != 0) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    if (__builtin_cpu_supports("avx")) return "SandyBridge";
    return NULL;
}
