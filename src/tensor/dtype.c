/*
 * dtype.c — element types, their safetensors names, the scan for
 * non-finite floats, half-precision conversions, and coalescing of sparse
 * row gradients.
 */
#include "northstar/base.h"
#include "northstar/tensor.h"

#include <stdlib.h>
#include <string.h>

static const struct { const char *name; size_t size; } dtype_table[] = {
    [NS_DT_F32] = {"F32", 4}, [NS_DT_F16] = {"F16", 2}, [NS_DT_BF16] = {"BF16", 2},
    [NS_DT_F64] = {"F64", 8}, [NS_DT_I32] = {"I32", 4}, [NS_DT_I64] = {"I64", 8},
    [NS_DT_I8] = {"I8", 1},   [NS_DT_U8] = {"U8", 1},   [NS_DT_BOOL] = {"BOOL", 1},
};
_Static_assert(sizeof dtype_table / sizeof dtype_table[0] == NS_DT__COUNT,
               "every ns_dtype needs a name and a size");

size_t ns_dtype_size(ns_dtype t) { return (unsigned)t < NS_DT__COUNT ? dtype_table[t].size : 0; }
const char *ns_dtype_name(ns_dtype t) { return (unsigned)t < NS_DT__COUNT ? dtype_table[t].name : "?"; }

int ns_dtype_from_name(const char *name, ns_dtype *out)
{
    for (int i = 0; i < NS_DT__COUNT; i++)
        if (!strcmp(name, dtype_table[i].name)) {
            *out = (ns_dtype)i;
            return NS_OK;
        }
    return NS_ENOTFOUND;
}

/* The first i < n whose exponent bits are all set (NaN or an infinity) in
 * the elements of W bits at p (any alignment), or -1. One pass: a block is
 * OR-reduced without branches (vectorised), and only a block with a hit is
 * searched again. */
#define FIND_NONFINITE(W, p, n, mask)                                                   \
    do {                                                                                \
        const unsigned char *b_ = (p);                                                  \
        for (size_t s_ = 0; s_ < (n); s_ += 4096) {                                     \
            size_t e_ = (n) - s_ < 4096 ? (n) : s_ + 4096;                              \
            int hit_ = 0;                                                               \
            for (size_t i_ = s_; i_ < e_; i_++) {                                       \
                uint##W##_t u_;                                                         \
                memcpy(&u_, b_ + i_ * (W / 8), W / 8);                                  \
                hit_ |= (u_ & (mask)) == (mask);                                        \
            }                                                                           \
            for (size_t i_ = s_; hit_ && i_ < e_; i_++) {                               \
                uint##W##_t u_;                                                         \
                memcpy(&u_, b_ + i_ * (W / 8), W / 8);                                  \
                if ((u_ & (mask)) == (mask)) return (int64_t)i_;                        \
            }                                                                           \
        }                                                                               \
        return -1;                                                                      \
    } while (0)

int64_t ns_dtype_find_nonfinite(ns_dtype t, const void *data, size_t n)
{
    switch (t) {
    case NS_DT_F32: FIND_NONFINITE(32, data, n, UINT32_C(0x7f800000));
    case NS_DT_F16: FIND_NONFINITE(16, data, n, UINT16_C(0x7c00));
    case NS_DT_BF16: FIND_NONFINITE(16, data, n, UINT16_C(0x7f80));
    case NS_DT_F64: FIND_NONFINITE(64, data, n, UINT64_C(0x7ff0000000000000));
    default: return -1;
    }
}
#undef FIND_NONFINITE

float ns_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { man <<= 1; e++; } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ns_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff) { /* inf, or NaN keeping the top payload bits */
        uint32_t payload = man >> 13;
        if (man && !payload) payload = 0x200; /* payload only in the dropped bits: quiet NaN */
        return (uint16_t)(sign | 0x7c00 | payload);
    }
    if (exp >= 31) return (uint16_t)(sign | 0x7c00); /* overflow to inf */
    if (exp <= 0) {                                  /* subnormal or zero */
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)exp << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* may carry into exp: still correct */
    return (uint16_t)h;
}

float ns_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t ns_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7f800000u) == 0x7f800000u && (x & 0x7fffff)) { /* NaN: never round it to inf */
        uint16_t h = (uint16_t)(x >> 16);
        return (h & 0x7f) ? h : (uint16_t)(h | 0x40);
    }
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- sparse rows ------------------------------------------------------ */

/* Stable bottom-up merge sort of positions by id: duplicates keep their
 * order, so sums are added in a fixed order (deterministic results). */
static int sort_positions_by_id(int *order, const int32_t *ids, int n)
{
    int *buf = ns_malloc(sizeof(int) * (size_t)n);
    if (!buf) return NS_ENOMEM;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int width = 1; width < n; width *= 2) {
        for (int lo = 0; lo < n; lo += 2 * width) {
            int mid = lo + width < n ? lo + width : n;
            int hi = lo + 2 * width < n ? lo + 2 * width : n;
            int i = lo, j = mid, k = lo;
            while (i < mid && j < hi) buf[k++] = ids[order[j]] < ids[order[i]] ? order[j++] : order[i++];
            while (i < mid) buf[k++] = order[i++];
            while (j < hi) buf[k++] = order[j++];
        }
        memcpy(order, buf, sizeof(int) * (size_t)n);
    }
    free(buf);
    return NS_OK;
}

int ns_sparse_rows_coalesce(int32_t *ids, float *rows, int n, int D)
{
    if (n <= 0) return 0;
    int *order = ns_malloc(sizeof(int) * (size_t)n);
    float *tmp = ns_malloc(sizeof(float) * (size_t)n * (size_t)D);
    int32_t *tid = ns_malloc(sizeof(int32_t) * (size_t)n);
    int k = NS_ENOMEM;
    if (!order || !tmp || !tid || sort_positions_by_id(order, ids, n) < 0) goto done;
    k = -1;
    for (int i = 0; i < n; i++) {
        int src = order[i];
        const float *s = rows + (size_t)src * D;
        if (k < 0 || tid[k] != ids[src]) {
            k++;
            tid[k] = ids[src];
            memcpy(tmp + (size_t)k * D, s, sizeof(float) * (size_t)D);
        } else {
            float *dst = tmp + (size_t)k * D;
            for (int d = 0; d < D; d++) dst[d] += s[d];
        }
    }
    k++;
    memcpy(ids, tid, sizeof(int32_t) * (size_t)k);
    memcpy(rows, tmp, sizeof(float) * (size_t)k * D);
done:
    free(order);
    free(tmp);
    free(tid);
    return k;
}
