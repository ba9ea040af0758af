/*
 * test_ref_dtype.c — the half-precision conversions of src/tensor/dtype.c
 * (what safetensors F16/BF16 reads and writes go through).
 *
 * float -> f16 / bf16 is compared bit for bit with torch's .half() and
 * .bfloat16() on the fixture of tests/ref/gen_kernels.py (random magnitudes,
 * exact ties, subnormals, overflow, signed zero, inf; NaN only has to stay
 * NaN: payloads differ between implementations). f16 -> float is checked
 * exhaustively (all 65536 patterns) against the definition
 * (-1)^s 2^(e-15) (1 + m/1024), with ldexp, and the round trip
 * f16 -> float -> f16 must be the identity.
 */
#include "harness.h"
#include "northstar/tensor.h"
#include "ref_fixture.h"

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

static void check_round(const char *name, uint16_t (*conv)(float), int (*is_nan)(uint16_t))
{
    fx x;
    fx_open(&x, "dtype.safetensors");
    size_t n = fx_numel(&x, "x");
    float *v = fx_f32(&x, "x", n);
    int32_t *want = fx_i32(&x, name, n);
    size_t bad = 0, nans = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t got = conv(v[i]);
        int ok = isnan(v[i]) ? is_nan(got) : got == (uint16_t)want[i];
        nans += isnan(v[i]) != 0;
        if (!ok && bad++ < 5)
            printf("  %s(%.9g): got 0x%04x want 0x%04x\n", name, v[i], got, (unsigned)want[i]);
    }
    printf("  %s: %zu values (%zu NaN), %zu mismatches\n", name, n, nans, bad);
    ASSERT_EQ_INT(bad, 0);
    fx_close(&x);
}

TEST(f32_to_f16) { check_round("f16", ns_f32_to_f16, f16_is_nan); }
TEST(f32_to_bf16) { check_round("bf16", ns_f32_to_bf16, bf16_is_nan); }

TEST(f16_to_f32_exhaustive)
{
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double want;
        if (e == 31) want = m ? NAN : INFINITY;
        else if (e == 0) want = ldexp(m, -24);            /* subnormal: m 2^-24 */
        else want = ldexp(1.0 + m / 1024.0, e - 15);
        if (s) want = -want;
        float got = ns_f16_to_f32((uint16_t)h);
        int ok = isnan(want) ? isnan(got) : (got == (float)want && !signbit(got) == !signbit(want));
        if (ok && !isnan(want) && (h & 0x7c00) != 0x7c00) ok = ns_f32_to_f16(got) == h; /* round trip */
        if (!ok && bad++ < 5) printf("  0x%04x: got %.9g want %.9g\n", h, got, want);
    }
    printf("  65536 f16 patterns, %zu mismatches\n", bad);
    ASSERT_EQ_INT(bad, 0);
}

TEST(bf16_to_f32_exhaustive)
{
    size_t bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = ns_bf16_to_f32((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &got, 4);
        /* bf16 is the top half of a float: exact, and rounds back to itself. */
        int ok = bits == h << 16 && (isnan(got) || ns_f32_to_bf16(got) == h);
        if (!ok && bad++ < 5) printf("  0x%04x: got bits 0x%08x\n", h, bits);
    }
    printf("  65536 bf16 patterns, %zu mismatches\n", bad);
    ASSERT_EQ_INT(bad, 0);
}
