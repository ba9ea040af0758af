/*
 * northstar/blas.h — layer 1: which BLAS kernels this process runs on
 * (OpenBLAS, the OpenMP build; see src/tensor/blas.c).
 */
#ifndef NORTHSTAR_BLAS_H
#define NORTHSTAR_BLAS_H


#ifdef __cplusplus
extern "C" {
#endif

/* OpenBLAS's kernel family ("Haswell", "SkylakeX", ...), and the one this
 * CPU should run when OpenBLAS fell back to its generic Prescott kernels
 * because it does not know the CPU (NULL when its choice stands). The
 * override takes effect only through $OPENBLAS_CORETYPE before OpenBLAS
 * loads: the command sets it and re-executes itself. */
const char *ns_blas_core(void);
/* OpenBLAS's build description ("OpenBLAS 0.3.21 DYNAMIC_ARCH ... SkylakeX ..."). */
const char *ns_blas_config(void);
const char *ns_blas_core_override(void);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_BLAS_H */
