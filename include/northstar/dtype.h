/*
 * northstar/dtype.h — layer 1: element types of tensors and model files
 * (safetensors spelling) and the half-precision conversions.
 */
#ifndef NORTHSTAR_DTYPE_H
#define NORTHSTAR_DTYPE_H

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
/* Index of the first NaN or infinity among the n elements of type t at
 * data (any alignment), or -1 when all are finite or t is not a float type
 * (F32, F16, BF16, F64). One pass over the bytes, vectorised. */
int64_t ns_dtype_find_nonfinite(ns_dtype t, const void *data, size_t n);

/* Half-precision conversions (round to nearest even on the way down). */
float ns_f16_to_f32(uint16_t h);
uint16_t ns_f32_to_f16(float f);
float ns_bf16_to_f32(uint16_t h);
uint16_t ns_f32_to_bf16(float f);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_DTYPE_H */
