/*
 * rng.c — xoshiro256** (Blackman & Vigna) seeded through splitmix64.
 * Streams: the state for (seed, stream) is splitmix64 run from
 * seed ^ hash(stream), so streams are independent for practical purposes.
 */
#include "northstar/base.h"

#include <assert.h>
#include <math.h>

uint64_t ns_hash64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void ns_rng_seed(ns_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ ns_hash64(stream ^ 0x5851f42d4c957f2dULL);
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = ns_hash64(x);
    }
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

uint32_t ns_rng_u32(ns_rng *r) { return (uint32_t)(ns_rng_u64(r) >> 32); }

uint64_t ns_rng_below(ns_rng *r, uint64_t n)
{
    /* Lemire's multiply-shift with rejection: unbiased. */
    assert(n > 0 && "ns_rng_below: n must be positive");
    uint64_t x = ns_rng_u64(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = ns_rng_u64(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double ns_rng_uniform(ns_rng *r) { return (double)(ns_rng_u64(r) >> 11) * 0x1.0p-53; }
float ns_rng_uniformf(ns_rng *r) { return (float)(ns_rng_u64(r) >> 40) * 0x1.0p-24f; }

double ns_rng_normal(ns_rng *r)
{
    /* Box-Muller; one value per call keeps the stream position simple. */
    double u1 = ns_rng_uniform(r), u2 = ns_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void ns_rng_fill_normal(ns_rng *r, float *x, size_t n, float mean, float std)
{
    for (size_t i = 0; i < n; i++) x[i] = mean + std * (float)ns_rng_normal(r);
}

void ns_rng_fill_uniform(ns_rng *r, float *x, size_t n, float lo, float hi)
{
    /* lo + (hi - lo) * u can round up to hi (e.g. lo = 1, hi = 2): keep the
     * interval half-open as documented. */
    for (size_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * ns_rng_uniformf(r);
        x[i] = v < hi ? v : (hi > lo ? nextafterf(hi, lo) : lo);
    }
}

void ns_rng_shuffle_u32(ns_rng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ns_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}
