/*
 * bench_kernels.c — time the foundation kernels; prints one JSON object per
 * line: {"op": ..., "shape": ..., "ms": median, "gflops": ...}.
 *
 * Ops: raw cblas_sgemm (OpenBLAS's own speed), ns_matmul_forward (+bias,
 * weight [OC,C] layout) and backward at several shapes; causal attention
 * forward+backward; LayerNorm forward+backward. Each case validates first
 * (fast kernel against its naive reference where one exists), then times
 * `reps` runs after warm-up and reports the median. bench/kernels/compare.py
 * runs the same cases in PyTorch and prints ratios.
 *
 * usage: bench_kernels [--quick] [--threads N]
 */
#include "northstar/base.h"
#include "northstar/tensor.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *randn(size_t n, uint64_t seed)
{
    float *x = ns_malloc_aligned(n * sizeof(float));
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    ns_rng_fill_normal(&r, x, n, 0.f, 1.f);
    return x;
}

/* Time fn(ctx) reps times after warm-up runs (at least 0.2 s of warm-up). */
typedef void (*bench_fn)(void *ctx);
static double time_ms(bench_fn fn, void *ctx, int reps)
{
    double t0 = ns_now();
    int w = 0;
    while (w < 2 || (ns_now() - t0 < 0.2 && w < 50)) { fn(ctx); w++; }
    double *t = malloc(sizeof(double) * (size_t)reps);
    for (int i = 0; i < reps; i++) {
        double s = ns_now();
        fn(ctx);
        t[i] = (ns_now() - s) * 1e3;
    }
    double m = median(t, reps);
    free(t);
    return m;
}

static int reps_for(double flops)
{
    /* about 1 s of timing at ~100 GFLOP/s, between 5 and 200 runs */
    double r = 1e11 / (flops > 1 ? flops : 1);
    return r < 5 ? 5 : r > 200 ? 200 : (int)r;
}

static void report(const char *op, const char *shape, double ms, double flops)
{
    printf("{\"impl\":\"northstar\",\"op\":\"%s\",\"shape\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f}\n", op, shape, ms,
           flops / (ms * 1e6));
    fflush(stdout);
}

/* ---- matmul ---------------------------------------------------------- */

typedef struct { int N, C, OC; float *inp, *w, *b, *out, *dout, *dinp, *dw, *db; } mm_ctx;

static void run_sgemm(void *p)
{
    mm_ctx *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->N, c->OC, c->C, 1.f, c->inp, c->C, c->w, c->C, 0.f,
                c->out, c->OC);
}
static void run_mm_fwd(void *p)
{
    mm_ctx *c = p;
    ns_matmul_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
}
static void run_mm_bwd(void *p)
{
    mm_ctx *c = p;
    ns_matmul_backward(c->dinp, c->dw, c->db, c->dout, c->inp, c->w, c->N, c->C, c->OC);
}

static void bench_matmul(int N, int C, int OC, int check)
{
    mm_ctx c = {N, C, OC, randn((size_t)N * C, 1), randn((size_t)OC * C, 2), randn((size_t)OC, 3),
                randn((size_t)N * OC, 4), randn((size_t)N * OC, 5), randn((size_t)N * C, 6), randn((size_t)OC * C, 7),
                randn((size_t)OC, 8)};
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%dx%d", N, C, OC);
    if (check) { /* validate against the naive loop before timing */
        float *ref = malloc(sizeof(float) * (size_t)N * OC);
        ns_matmul_forward(c.out, c.inp, c.w, c.b, N, C, OC);
        ns_matmul_forward_ref(ref, c.inp, c.w, c.b, N, C, OC);
        for (size_t i = 0; i < (size_t)N * OC; i++)
            if (fabsf(ref[i] - c.out[i]) > 1e-3f * (1 + fabsf(ref[i]))) {
                fprintf(stderr, "matmul %s: mismatch at %zu: %g vs %g\n", shape, i, c.out[i], ref[i]);
                exit(1);
            }
        free(ref);
    }
    double fl = 2.0 * N * C * OC;
    report("sgemm", shape, time_ms(run_sgemm, &c, reps_for(fl)), fl);
    report("matmul_fwd", shape, time_ms(run_mm_fwd, &c, reps_for(fl)), fl);
    report("matmul_bwd", shape, time_ms(run_mm_bwd, &c, reps_for(2 * fl)), 2 * fl);
    ns_free_aligned(c.inp); ns_free_aligned(c.w); ns_free_aligned(c.b); ns_free_aligned(c.out);
    ns_free_aligned(c.dout); ns_free_aligned(c.dinp); ns_free_aligned(c.dw); ns_free_aligned(c.db);
}

/* ---- attention ---------------------------------------------------------- */

typedef struct {
    int B, T, H, KVH, hd;
    float *q, *k, *v, *out, *att, *dout, *dq, *dk, *dv, *scratch;
} att_ctx;

static void run_att_fwd(void *p)
{
    att_ctx *a = p;
    int C = a->H * a->hd, KC = a->KVH * a->hd;
    ns_attention_forward(a->out, a->att, a->q, a->k, a->v, a->B, a->T, a->H, a->KVH, a->hd, C, KC, KC, C);
}
static void run_att_fwdbwd(void *p)
{
    att_ctx *a = p;
    int C = a->H * a->hd, KC = a->KVH * a->hd;
    run_att_fwd(p);
    ns_attention_backward(a->dq, a->dk, a->dv, a->scratch, a->dout, a->q, a->k, a->v, a->att, a->B, a->T, a->H,
                          a->KVH, a->hd, C, KC, KC, C);
}

static void bench_attention(int B, int T, int H, int KVH, int hd)
{
    size_t nq = (size_t)B * T * H * hd, nk = (size_t)B * T * KVH * hd, na = (size_t)B * H * T * T;
    att_ctx a = {B, T, H, KVH, hd, randn(nq, 11), randn(nk, 12), randn(nk, 13), randn(nq, 14), randn(na, 15),
                 randn(nq, 16), randn(nq, 17), randn(nk, 18), randn(nk, 19), randn(na, 20)};
    /* validate the fast forward against the naive loops */
    float *ref = malloc(sizeof(float) * nq), *aref = malloc(sizeof(float) * na);
    int C = H * hd, KC = KVH * hd;
    run_att_fwd(&a);
    ns_attention_forward_ref(ref, aref, a.q, a.k, a.v, B, T, H, KVH, hd, C, KC, KC, C);
    for (size_t i = 0; i < nq; i++)
        if (fabsf(ref[i] - a.out[i]) > 1e-4f * (1 + fabsf(ref[i]))) {
            fprintf(stderr, "attention: mismatch at %zu\n", i);
            exit(1);
        }
    free(ref);
    free(aref);
    char shape[64];
    snprintf(shape, sizeof shape, "B%d_T%d_H%d_KV%d_hd%d", B, T, H, KVH, hd);
    /* causal flops: QK^T and PV over the lower triangle, x3 for fwd+bwd */
    double fl = 2.0 * 2.0 * B * H * ((double)T * (T + 1) / 2) * hd;
    report("attention_fwd", shape, time_ms(run_att_fwd, &a, reps_for(fl)), fl);
    report("attention_fwdbwd", shape, time_ms(run_att_fwdbwd, &a, reps_for(3 * fl)), 3 * fl);
    float *bufs[] = {a.q, a.k, a.v, a.out, a.att, a.dout, a.dq, a.dk, a.dv, a.scratch};
    for (int i = 0; i < 10; i++) ns_free_aligned(bufs[i]);
}

/* ---- layernorm -------------------------------------------------------- */

typedef struct { int N, C; float *x, *w, *b, *out, *mean, *rstd, *dout, *dx, *dw, *db; } ln_ctx;

static void run_ln_fwd(void *p)
{
    ln_ctx *l = p;
    ns_layernorm_forward(l->out, l->mean, l->rstd, l->x, l->w, l->b, l->N, l->C, 1e-5f);
}
static void run_ln_fwdbwd(void *p)
{
    ln_ctx *l = p;
    run_ln_fwd(p);
    ns_layernorm_backward(l->dx, l->dw, l->db, l->dout, l->x, l->w, l->mean, l->rstd, l->N, l->C);
}

static void bench_layernorm(int N, int C)
{
    size_t n = (size_t)N * C;
    ln_ctx l = {N, C, randn(n, 21), randn((size_t)C, 22), randn((size_t)C, 23), randn(n, 24), randn((size_t)N, 25),
                randn((size_t)N, 26), randn(n, 27), randn(n, 28), randn((size_t)C, 29), randn((size_t)C, 30)};
    char shape[64];
    snprintf(shape, sizeof shape, "%dx%d", N, C);
    double fl = 8.0 * n; /* nominal: ~8 flops per element forward */
    report("layernorm_fwd", shape, time_ms(run_ln_fwd, &l, reps_for(fl * 20)), fl);
    report("layernorm_fwdbwd", shape, time_ms(run_ln_fwdbwd, &l, reps_for(fl * 60)), 3 * fl);
    float *bufs[] = {l.x, l.w, l.b, l.out, l.mean, l.rstd, l.dout, l.dx, l.dw, l.db};
    for (int i = 0; i < 10; i++) ns_free_aligned(bufs[i]);
}

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) ns_set_threads(atoi(argv[++i]));
        else { fprintf(stderr, "usage: bench_kernels [--quick] [--threads N]\n"); return 2; }
    }
    ns_threads();
    fprintf(stderr, "bench_kernels: %d threads, %s\n", ns_threads(), openblas_get_config());
    bench_matmul(768, 128, 384, 1);   /* nanoGPT-CPU qkv projection (B*T = 768) */
    bench_matmul(768, 128, 65, 1);    /* its char-level classifier */
    bench_matmul(1024, 1024, 1024, 1);
    if (!quick) {
        bench_matmul(2048, 2048, 2048, 0);
        bench_matmul(4096, 4096, 4096, 0);
    }
    bench_attention(12, 64, 4, 4, 32);  /* nanoGPT-CPU: B 12, T 64, 4 heads of 32 */
    bench_attention(4, 256, 8, 8, 64);
    bench_attention(4, 256, 8, 2, 64);  /* grouped-query */
    bench_layernorm(768, 128);
    bench_layernorm(8192, 1024);
    if (!quick) bench_layernorm(16384, 4096);
    return 0;
}
