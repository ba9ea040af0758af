/*
 * test_ref_kernels.c — every dense kernel (forward, saved values, every
 * gradient) against PyTorch, on the fixtures of tests/ref/gen_kernels.py,
 * plus the fast matmul and attention against their naive _ref twins.
 *
 * The fixtures hold torch's float64 answer on float32 inputs, rounded to
 * float32, so each tolerance below only has to cover the float32 kernel's own
 * rounding; each is stated with its reason at the comparison. Unit roundoff
 * of float32 is u = 6e-8; a dot product of length n accumulates about
 * sqrt(n)..n u relative error of the sum of |terms|.
 */
#include "harness.h"
#include "northstar/tensor.h"
#include "ref_fixture.h"

/* ---- matmul ------------------------------------------------------------ */

/* out = inp w^T + bias, C = 53: sums of 53 products of O(1) terms, |out| up
 * to ~4; float32 accumulation (BLAS blocking order) leaves ~1e-6 absolute.
 * atol 1e-5 / rtol 1e-4 holds it with a wide margin and still catches any
 * wrong index (errors of order 1). The same bound for dinp (sum over OC=29),
 * dw (sum over N=37) and dbias. */
#define MM_ATOL 1e-5
#define MM_RTOL 1e-4

TEST(matmul)
{
    fx x;
    fx_open(&x, "matmul.safetensors");
    int N = fx_dim(&x, "inp", 0), C = fx_dim(&x, "inp", 1), OC = fx_dim(&x, "w", 0);
    float *inp = fx_f32(&x, "inp", (size_t)N * C), *w = fx_f32(&x, "w", (size_t)OC * C);
    float *bias = fx_f32(&x, "bias", OC), *dout = fx_f32(&x, "dout", (size_t)N * OC);
    float *out = fx_zeros(&x, (size_t)N * OC);
    ns_matmul_forward(out, inp, w, bias, N, C, OC);
    FX_CHECK(&x, "out", out, (size_t)N * OC, MM_ATOL, MM_RTOL);
    float *dinp = fx_grad(&x, (size_t)N * C), *dw = fx_grad(&x, (size_t)OC * C), *db = fx_grad(&x, OC);
    ns_matmul_backward(dinp, dw, db, dout, inp, w, N, C, OC);
    fx_check_grad(&x, "dinp", dinp, (size_t)N * C, MM_ATOL, MM_RTOL);
    fx_check_grad(&x, "dw", dw, (size_t)OC * C, MM_ATOL, MM_RTOL);
    fx_check_grad(&x, "dbias", db, OC, MM_ATOL, MM_RTOL);
    fx_close(&x);
}

TEST(matmul_nobias)
{
    fx x;
    fx_open(&x, "matmul.safetensors");
    int N = fx_dim(&x, "inp", 0), C = fx_dim(&x, "inp", 1), OC = fx_dim(&x, "w", 0);
    float *inp = fx_f32(&x, "inp", 0), *w = fx_f32(&x, "w", 0);
    float *out = fx_zeros(&x, (size_t)N * OC);
    for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = NAN; /* beta = 0 must not read out */
    ns_matmul_forward(out, inp, w, NULL, N, C, OC);
    FX_CHECK(&x, "out_nobias", out, (size_t)N * OC, MM_ATOL, MM_RTOL);
    /* Only dinp wanted: dw and dbias NULL. */
    float *dout = fx_f32(&x, "dout", 0), *dinp = fx_grad(&x, (size_t)N * C);
    ns_matmul_backward(dinp, NULL, NULL, dout, inp, w, N, C, OC);
    fx_check_grad(&x, "dinp", dinp, (size_t)N * C, MM_ATOL, MM_RTOL);
    fx_close(&x);
}

/* BLAS matmul against the naive triple loop, on the fixture shape and on a
 * larger odd shape (C = 301: sums of 301 products; both are float32 with
 * different orders, so allow 1e-4 absolute on |out| ~ 5). */
TEST(matmul_fast_vs_ref)
{
    fx x;
    fx_open(&x, "matmul.safetensors");
    int N = fx_dim(&x, "inp", 0), C = fx_dim(&x, "inp", 1), OC = fx_dim(&x, "w", 0);
    float *inp = fx_f32(&x, "inp", 0), *w = fx_f32(&x, "w", 0), *bias = fx_f32(&x, "bias", 0);
    float *a = fx_zeros(&x, (size_t)N * OC), *b = fx_zeros(&x, (size_t)N * OC);
    ns_matmul_forward(a, inp, w, bias, N, C, OC);
    ns_matmul_forward_ref(b, inp, w, bias, N, C, OC);
    ASSERT_CLOSE("fixture shape: fast vs ref", a, b, (size_t)N * OC, MM_ATOL, MM_RTOL);

    int N2 = 131, C2 = 301, OC2 = 67;
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    float *i2 = fx_zeros(&x, (size_t)N2 * C2), *w2 = fx_zeros(&x, (size_t)OC2 * C2);
    float *b2 = fx_zeros(&x, OC2), *o1 = fx_zeros(&x, (size_t)N2 * OC2), *o2 = fx_zeros(&x, (size_t)N2 * OC2);
    ns_rng_fill_normal(&r, i2, (size_t)N2 * C2, 0, 1);
    ns_rng_fill_normal(&r, w2, (size_t)OC2 * C2, 0, 1.0f / sqrtf((float)C2));
    ns_rng_fill_normal(&r, b2, OC2, 0, 1);
    ns_matmul_forward(o1, i2, w2, b2, N2, C2, OC2);
    ns_matmul_forward_ref(o2, i2, w2, b2, N2, C2, OC2);
    ASSERT_CLOSE("131x301x67: fast vs ref", o1, o2, (size_t)N2 * OC2, 1e-4, 1e-4);
    fx_close(&x);
}

/* ---- embeddings -------------------------------------------------------- */

TEST(embedding)
{
    fx x;
    fx_open(&x, "embedding.safetensors");
    int N = (int)fx_numel(&x, "ids"), V = fx_dim(&x, "table", 0), D = fx_dim(&x, "table", 1);
    int32_t *ids = fx_i32(&x, "ids", N);
    float *table = fx_f32(&x, "table", 0), *dout = fx_f32(&x, "dout", (size_t)N * D);
    float *out = fx_zeros(&x, (size_t)N * D);
    ns_embedding_forward(out, ids, table, N, V, D);
    /* A lookup copies: exact. */
    FX_CHECK(&x, "out", out, (size_t)N * D, 0, 0);
    float *dt = fx_grad(&x, (size_t)V * D);
    ns_embedding_backward(dt, dout, ids, N, V, D);
    /* Rows receive sums of a few (<= 4) float32 values: a few ulp. */
    fx_check_grad(&x, "dtable", dt, (size_t)V * D, 1e-6, 1e-6);
    fx_close(&x);
}

/* One embedding-bag mode: forward, dense gradient, sparse (COO) gradient
 * after ns_sparse_rows_coalesce, and the per-sample-weight gradient. Bags
 * hold <= 7 rows: sums of <= 8 float32 terms, so 1e-6 / 1e-5. */
static void check_bag(const char *mode_name, int mode, int use_psw)
{
    char nm[64];
    fx x;
    fx_open(&x, "embedding_bag.safetensors");
    int V = fx_dim(&x, "table", 0), D = fx_dim(&x, "table", 1);
    int B = (int)fx_numel(&x, "offsets") - 1;
    int32_t *ids = fx_i32(&x, "ids", 0), *offsets = fx_i32(&x, "offsets", 0);
    int nnz = offsets[B];
    ASSERT_EQ_INT(nnz, (int)fx_numel(&x, "ids"));
    float *table = fx_f32(&x, "table", 0);
    float *psw = use_psw ? fx_f32(&x, "psw", nnz) : NULL;
    float *out = fx_zeros(&x, (size_t)B * D);
    for (size_t i = 0; i < (size_t)B * D; i++) out[i] = NAN; /* empty bags must be written too */
    ns_embedding_bag_forward(out, ids, offsets, psw, table, B, V, D, mode);
    snprintf(nm, sizeof nm, "%s/out", mode_name);
    FX_CHECK(&x, nm, out, (size_t)B * D, 1e-6, 1e-5);

    snprintf(nm, sizeof nm, "%s/dout", mode_name);
    float *dout = fx_f32(&x, nm, (size_t)B * D);
    float *dt = fx_grad(&x, (size_t)V * D);
    ns_embedding_bag_backward(dt, dout, ids, offsets, psw, B, V, D, mode);
    snprintf(nm, sizeof nm, "%s/dtable", mode_name);
    fx_check_grad(&x, nm, dt, (size_t)V * D, 1e-6, 1e-5);

    /* Sparse: one row per occurrence (overwritten), then coalesced. */
    float *rows = fx_zeros(&x, (size_t)nnz * D);
    int32_t *rid = fx_alloc(&x, sizeof(int32_t) * (size_t)nnz);
    memcpy(rid, ids, sizeof(int32_t) * (size_t)nnz);
    for (size_t i = 0; i < (size_t)nnz * D; i++) rows[i] = NAN;
    ns_embedding_bag_backward_rows(rows, dout, offsets, psw, B, D, mode);
    int k = ns_sparse_rows_coalesce(rid, rows, nnz, D);
    ASSERT_OK(k);
    snprintf(nm, sizeof nm, "%s/sp_ids", mode_name);
    int32_t *want_ids = fx_i32(&x, nm, 0);
    ASSERT_EQ_INT(k, (int)fx_numel(&x, nm));
    for (int i = 0; i < k; i++) ASSERT_EQ_INT(rid[i], want_ids[i]);
    snprintf(nm, sizeof nm, "%s/sp_rows", mode_name);
    FX_CHECK(&x, nm, rows, (size_t)k * D, 1e-6, 1e-5);

    if (use_psw) {
        /* dpsw[i] = <dout[bag], table[ids[i]]>, a dot of D = 7 terms. */
        float *dpsw = fx_grad(&x, nnz);
        ns_embedding_bag_backward_psw(dpsw, dout, ids, offsets, table, B, V, D);
        snprintf(nm, sizeof nm, "%s/dpsw", mode_name);
        fx_check_grad(&x, nm, dpsw, nnz, 1e-6, 1e-5);
    }
    fx_close(&x);
}

TEST(embedding_bag_sum) { check_bag("sum", NS_BAG_SUM, 0); }
TEST(embedding_bag_mean) { check_bag("mean", NS_BAG_MEAN, 0); }
TEST(embedding_bag_sum_psw) { check_bag("sum_psw", NS_BAG_SUM, 1); }

/* ---- activations ------------------------------------------------------- */

/* Element-wise: a handful of float32 operations (exp/tanh are within ~2 ulp
 * in glibc), so 1e-6 absolute (|out| up to 12) and 1e-5 relative. */
#define ACT_ATOL 1e-6
#define ACT_RTOL 1e-5

typedef void (*act_fwd)(float *, const float *, size_t);
typedef void (*act_bwd)(float *, const float *, const float *, size_t);

static void check_act(const char *name, act_fwd fwd, act_bwd bwd, int bwd_takes_out)
{
    char nm[64];
    fx x;
    fx_open(&x, "activations.safetensors");
    size_t n = fx_numel(&x, "x");
    float *in = fx_f32(&x, "x", n), *out = fx_zeros(&x, n);
    fwd(out, in, n);
    snprintf(nm, sizeof nm, "%s/out", name);
    FX_CHECK(&x, nm, out, n, ACT_ATOL, ACT_RTOL);
    snprintf(nm, sizeof nm, "%s/dout", name);
    float *dout = fx_f32(&x, nm, n), *dx = fx_grad(&x, n);
    bwd(dx, dout, bwd_takes_out ? out : in, n);
    snprintf(nm, sizeof nm, "%s/dx", name);
    fx_check_grad(&x, nm, dx, n, ACT_ATOL, ACT_RTOL);
    /* In place (out aliases inp) gives the same forward. */
    fwd(in, in, n);
    snprintf(nm, sizeof nm, "%s/out", name);
    FX_CHECK(&x, nm, in, n, ACT_ATOL, ACT_RTOL);
    fx_close(&x);
}

TEST(relu) { check_act("relu", ns_relu_forward, ns_relu_backward, 0); }
TEST(gelu) { check_act("gelu", ns_gelu_forward, ns_gelu_backward, 0); }
TEST(silu) { check_act("silu", ns_silu_forward, ns_silu_backward, 0); }
TEST(sigmoid) { check_act("sigmoid", ns_sigmoid_forward, ns_sigmoid_backward, 1); }

TEST(swiglu)
{
    fx x;
    fx_open(&x, "activations.safetensors");
    size_t n = fx_numel(&x, "x");
    float *a = fx_f32(&x, "x", n), *b = fx_f32(&x, "b", n), *out = fx_zeros(&x, n);
    ns_swiglu_forward(out, a, b, n);
    FX_CHECK(&x, "swiglu/out", out, n, ACT_ATOL, ACT_RTOL);
    float *dout = fx_f32(&x, "swiglu/dout", n), *da = fx_grad(&x, n), *db = fx_grad(&x, n);
    ns_swiglu_backward(da, db, dout, a, b, n);
    fx_check_grad(&x, "swiglu/da", da, n, ACT_ATOL, ACT_RTOL);
    fx_check_grad(&x, "swiglu/db", db, n, ACT_ATOL, ACT_RTOL);
    fx_close(&x);
}

/* ---- softmax and losses ------------------------------------------------ */

TEST(softmax)
{
    fx x;
    fx_open(&x, "softmax.safetensors");
    int N = fx_dim(&x, "x", 0), V = fx_dim(&x, "x", 1);
    size_t n = (size_t)N * V;
    float *in = fx_f32(&x, "x", n), *out = fx_zeros(&x, n);
    ns_softmax_forward(out, in, N, V);
    /* Probabilities <= 1 from exp and a sum of 37 terms: ~1e-7 absolute. */
    FX_CHECK(&x, "out", out, n, 1e-6, 1e-5);
    float *dout = fx_f32(&x, "dout", n), *dx = fx_grad(&x, n);
    ns_softmax_backward(dx, dout, out, N, V);
    /* y (g - <g, y>): a 37-term dot product with |g| ~ 1. */
    fx_check_grad(&x, "dx", dx, n, 1e-6, 1e-5);
    /* In place. */
    ns_softmax_forward(in, in, N, V);
    FX_CHECK(&x, "out", in, n, 1e-6, 1e-5);
    fx_close(&x);
}

/* Cross-entropy. The loss is a float32 log-sum-exp per row (|loss| ~ 3,
 * logits up to ~70) averaged in double: relative 1e-6. Gradients are
 * softmax(x) * w / sum(w), O(1/N): 1e-7 absolute, 1e-5 relative. */
static void check_ce(const char *name, int use_w)
{
    char nm[64];
    fx x;
    fx_open(&x, "cross_entropy.safetensors");
    int N = fx_dim(&x, "logits", 0), V = fx_dim(&x, "logits", 1);
    const char *ign = ns_st_meta(x.f, "ignore_index");
    ASSERT(ign);
    int ignore_index = atoi(ign);
    float *logits = fx_f32(&x, "logits", (size_t)N * V);
    int32_t *t = fx_i32(&x, "targets", N);
    float *w = use_w ? fx_f32(&x, "weights", N) : NULL;
    float *losses = fx_zeros(&x, N);
    double loss = ns_cross_entropy_forward(losses, logits, t, w, ignore_index, N, V);
    snprintf(nm, sizeof nm, "%s/loss", name);
    double want = fx_scalar(&x, nm);
    ASSERT_NEAR(loss, want, 1e-6 * fabs(want));
    snprintf(nm, sizeof nm, "%s/losses", name);
    FX_CHECK(&x, nm, losses, N, 1e-6, 1e-6);
    /* Without the per-row output. */
    ASSERT_NEAR(ns_cross_entropy_forward(NULL, logits, t, w, ignore_index, N, V), want, 1e-6 * fabs(want));
    snprintf(nm, sizeof nm, "%s/dloss", name);
    float dloss = (float)fx_scalar(&x, nm);
    float *dl = fx_grad(&x, (size_t)N * V);
    ns_cross_entropy_backward(dl, logits, t, w, ignore_index, dloss, N, V);
    snprintf(nm, sizeof nm, "%s/dlogits", name);
    fx_check_grad(&x, nm, dl, (size_t)N * V, 1e-7, 1e-5);
    fx_close(&x);
}

TEST(cross_entropy_weighted) { check_ce("w", 1); }
TEST(cross_entropy_ignore_index) { check_ce("nw", 0); }

/* BCE with logits: per-element float32 log1p/exp (|loss| up to 40), the
 * mean in double: 1e-6 relative on the loss; per-element losses 1e-6 abs /
 * 1e-5 rel; gradients (sigmoid - y) w / n are ~1e-2 with float32 error
 * ~1e-9: 1e-7 absolute (what dominates is the 1.5e-8 of FX_GRAD_BASE). */
static void check_bce(const char *name, int use_w)
{
    char nm[64];
    fx x;
    fx_open(&x, "bce.safetensors");
    size_t n = fx_numel(&x, "logits");
    float *lg = fx_f32(&x, "logits", n), *y = fx_f32(&x, "targets", n);
    float *w = use_w ? fx_f32(&x, "weights", n) : NULL;
    float *losses = fx_zeros(&x, n);
    double loss = ns_bce_logits_forward(losses, lg, y, w, n);
    snprintf(nm, sizeof nm, "%s/loss", name);
    double want = fx_scalar(&x, nm);
    ASSERT_NEAR(loss, want, 1e-6 * fabs(want));
    snprintf(nm, sizeof nm, "%s/losses", name);
    FX_CHECK(&x, nm, losses, n, 1e-6, 1e-5);
    snprintf(nm, sizeof nm, "%s/dloss", name);
    float dloss = (float)fx_scalar(&x, nm);
    float *dl = fx_grad(&x, n);
    ns_bce_logits_backward(dl, lg, y, w, dloss, n);
    snprintf(nm, sizeof nm, "%s/dlogits", name);
    fx_check_grad(&x, nm, dl, n, 1e-7, 1e-5);
    fx_close(&x);
}

TEST(bce_weighted) { check_bce("w", 1); }
TEST(bce) { check_bce("nw", 0); }

/* ---- normalisation ----------------------------------------------------- */

/* LayerNorm over C = 53 with rows of mean 3 and std up to 3: the float32
 * mean and two-pass variance carry ~1e-7 relative error, amplified to ~1e-6
 * in x_hat; out, dx (two 53-term reductions) and dw/db (37-term column sums)
 * stay within 1e-5 absolute / 1e-4 relative. mean and rstd are single
 * reductions: 1e-6 relative. */
TEST(layernorm)
{
    fx x;
    fx_open(&x, "layernorm.safetensors");
    int N = fx_dim(&x, "x", 0), C = fx_dim(&x, "x", 1);
    size_t n = (size_t)N * C;
    float eps = (float)fx_scalar(&x, "eps");
    float *in = fx_f32(&x, "x", n), *w = fx_f32(&x, "w", C), *b = fx_f32(&x, "b", C);
    float *out = fx_zeros(&x, n), *mean = fx_zeros(&x, N), *rstd = fx_zeros(&x, N);
    ns_layernorm_forward(out, mean, rstd, in, w, b, N, C, eps);
    FX_CHECK(&x, "out", out, n, 1e-5, 1e-4);
    FX_CHECK(&x, "mean", mean, N, 1e-6, 1e-6);
    FX_CHECK(&x, "rstd", rstd, N, 1e-6, 1e-5);
    float *dout = fx_f32(&x, "dout", n);
    float *dx = fx_grad(&x, n), *dw = fx_grad(&x, C), *db = fx_grad(&x, C);
    ns_layernorm_backward(dx, dw, db, dout, in, w, mean, rstd, N, C);
    fx_check_grad(&x, "dx", dx, n, 1e-5, 1e-4);
    fx_check_grad(&x, "dw", dw, C, 1e-5, 1e-4);
    fx_check_grad(&x, "db", db, C, 1e-5, 1e-4);
    fx_close(&x);
}

TEST(layernorm_noaffine)
{
    fx x;
    fx_open(&x, "layernorm.safetensors");
    int N = fx_dim(&x, "x", 0), C = fx_dim(&x, "x", 1);
    size_t n = (size_t)N * C;
    float eps = (float)fx_scalar(&x, "eps");
    float *in = fx_f32(&x, "x", n), *out = fx_zeros(&x, n);
    float *mean = fx_zeros(&x, N), *rstd = fx_zeros(&x, N);
    ns_layernorm_forward(out, mean, rstd, in, NULL, NULL, N, C, eps);
    FX_CHECK(&x, "noaff/out", out, n, 1e-5, 1e-4);
    float *dout = fx_f32(&x, "dout", n), *dx = fx_grad(&x, n);
    ns_layernorm_backward(dx, NULL, NULL, dout, in, NULL, mean, rstd, N, C);
    fx_check_grad(&x, "noaff/dx", dx, n, 1e-5, 1e-4);
    fx_close(&x);
}

/* RMSNorm: one 53-term sum of squares per row (~1e-7 relative), then
 * element-wise; the same 1e-5 / 1e-4 as LayerNorm for out, dx and dw. */
TEST(rmsnorm)
{
    fx x;
    fx_open(&x, "rmsnorm.safetensors");
    int N = fx_dim(&x, "x", 0), C = fx_dim(&x, "x", 1);
    size_t n = (size_t)N * C;
    float eps = (float)fx_scalar(&x, "eps");
    float *in = fx_f32(&x, "x", n), *w = fx_f32(&x, "w", C);
    float *out = fx_zeros(&x, n), *rstd = fx_zeros(&x, N);
    ns_rmsnorm_forward(out, rstd, in, w, N, C, eps);
    FX_CHECK(&x, "out", out, n, 1e-5, 1e-4);
    FX_CHECK(&x, "rstd", rstd, N, 1e-6, 1e-5);
    float *dout = fx_f32(&x, "dout", n), *dx = fx_grad(&x, n), *dw = fx_grad(&x, C);
    ns_rmsnorm_backward(dx, dw, dout, in, w, rstd, N, C);
    fx_check_grad(&x, "dx", dx, n, 1e-5, 1e-4);
    fx_check_grad(&x, "dw", dw, C, 1e-5, 1e-4);
    fx_close(&x);
}

TEST(rmsnorm_noweight)
{
    fx x;
    fx_open(&x, "rmsnorm.safetensors");
    int N = fx_dim(&x, "x", 0), C = fx_dim(&x, "x", 1);
    size_t n = (size_t)N * C;
    float eps = (float)fx_scalar(&x, "eps");
    float *in = fx_f32(&x, "x", n), *out = fx_zeros(&x, n), *rstd = fx_zeros(&x, N);
    ns_rmsnorm_forward(out, rstd, in, NULL, N, C, eps);
    FX_CHECK(&x, "now/out", out, n, 1e-5, 1e-4);
    float *dout = fx_f32(&x, "dout", n), *dx = fx_grad(&x, n);
    ns_rmsnorm_backward(dx, NULL, dout, in, NULL, rstd, N, C);
    fx_check_grad(&x, "now/dx", dx, n, 1e-5, 1e-4);
    fx_close(&x);
}

/* ---- RoPE -------------------------------------------------------------- */

/* Tables: cos/sin of angles up to 31 rad computed in double and rounded:
 * within an ulp (6e-8) of numpy's. Rotations: two products and a sum of
 * O(1) values with table entries rounded to float: 1e-6 absolute. */
TEST(rope_tables)
{
    fx x;
    fx_open(&x, "rope.safetensors");
    int Tmax = fx_dim(&x, "cos", 0), half = fx_dim(&x, "cos", 1);
    float *c = fx_zeros(&x, (size_t)Tmax * half), *s = fx_zeros(&x, (size_t)Tmax * half);
    ns_rope_tables(c, s, Tmax, 2 * half, 10000.0);
    FX_CHECK(&x, "cos", c, (size_t)Tmax * half, 1e-7, 0);
    FX_CHECK(&x, "sin", s, (size_t)Tmax * half, 1e-7, 0);
    fx_close(&x);
}

/* Forward and backward of one RoPE case: `pre` names the fixture tensors
 * (pre x, out, dout, dx), buffers of [B, T, stride] floats. */
static void rope_case(fx *x, const char *pre, const int32_t *pos, int B, int T, int H, int hd,
                      int stride, int Tmax)
{
    char nm[4][32];
    const char *what[4] = {"x", "out", "dout", "dx"};
    for (int i = 0; i < 4; i++) snprintf(nm[i], sizeof nm[i], "%s%s", pre, what[i]);
    size_t n = (size_t)B * T * stride;
    float *c = fx_zeros(x, (size_t)Tmax * hd / 2), *s = fx_zeros(x, (size_t)Tmax * hd / 2);
    ns_rope_tables(c, s, Tmax, hd, 10000.0);
    float *buf = fx_f32(x, nm[0], n);
    ns_rope_forward(buf, c, s, pos, B, T, H, hd, stride);
    FX_CHECK(x, nm[1], buf, n, 1e-6, 1e-5);
    float *d = fx_f32(x, nm[2], n);
    ns_rope_backward(d, c, s, pos, B, T, H, hd, stride);
    FX_CHECK(x, nm[3], d, n, 1e-6, 1e-5);
}

/* q inside a wider token row (stride = H*hd + 5) and positions that jump
 * around and repeat; the 5 padding floats of each token must pass through. */
TEST(rope_strided_positions)
{
    fx x;
    fx_open(&x, "rope.safetensors");
    int B = fx_dim(&x, "x", 0), T = fx_dim(&x, "x", 1), stride = fx_dim(&x, "x", 2);
    int H = fx_dim(&x, "seq/x", 2), hd = fx_dim(&x, "seq/x", 3);
    ASSERT(stride > H * hd);
    rope_case(&x, "", fx_i32(&x, "pos", T), B, T, H, hd, stride, fx_dim(&x, "cos", 0));
    fx_close(&x);
}

/* Positions 0..T-1 (pos = NULL) on a contiguous tensor. */
TEST(rope_sequential)
{
    fx x;
    fx_open(&x, "rope.safetensors");
    int B = fx_dim(&x, "seq/x", 0), T = fx_dim(&x, "seq/x", 1);
    int H = fx_dim(&x, "seq/x", 2), hd = fx_dim(&x, "seq/x", 3);
    rope_case(&x, "seq/", NULL, B, T, H, hd, H * hd, T);
    fx_close(&x);
}

/* ---- attention --------------------------------------------------------- */

/* Scores are 8-term dots of N(0,1) values, the softmax runs over <= 70 keys
 * and out/dq/dk/dv are <= 70-term float32 sums (dk/dv also over the G heads
 * of a group): ~1e-6 absolute on O(1) values, so atol 1e-5 / rtol 1e-4.
 * Probabilities are in [0, 1] and one exp/normalise away: 1e-6 absolute. */
#define ATT_ATOL 1e-5
#define ATT_RTOL 1e-4

typedef struct att_case {
    int B, T, H, KVH, hd, fused;
    int qs, ks, vs, os; /* token strides */
    float *q, *k, *v;   /* views (into qkv when fused) */
    float *dq, *dk, *dv;
    float *dqkv;        /* fused: the one gradient buffer */
    float *out;         /* [B*T, os] */
} att_case;

static void att_load(fx *x, att_case *c, const char *file)
{
    fx_open(x, file);
    int32_t *dims = fx_i32(x, "dims", 6);
    c->B = dims[0], c->T = dims[1], c->H = dims[2], c->KVH = dims[3], c->hd = dims[4];
    c->fused = dims[5];
    int B = c->B, T = c->T, H = c->H, KVH = c->KVH, hd = c->hd;
    size_t BT = (size_t)B * T;
    if (c->fused) {
        int W = (H + 2 * KVH) * hd;
        float *qkv = fx_f32(x, "qkv", BT * W);
        c->dqkv = fx_grad(x, BT * W);
        c->q = qkv, c->k = qkv + H * hd, c->v = qkv + (H + KVH) * hd;
        c->dq = c->dqkv, c->dk = c->dqkv + H * hd, c->dv = c->dqkv + (H + KVH) * hd;
        c->qs = c->ks = c->vs = W;
        c->os = H * hd + 3; /* a padded output row as well */
    } else {
        c->q = fx_f32(x, "q", BT * H * hd);
        c->k = fx_f32(x, "k", BT * KVH * hd);
        c->v = fx_f32(x, "v", BT * KVH * hd);
        c->dq = fx_grad(x, BT * H * hd), c->dk = fx_grad(x, BT * KVH * hd), c->dv = fx_grad(x, BT * KVH * hd);
        c->dqkv = NULL;
        c->qs = H * hd, c->ks = c->vs = KVH * hd, c->os = H * hd;
    }
    c->out = fx_zeros(x, BT * c->os);
}

/* Contiguous [B*T, H*hd] copy of a strided output. */
static float *att_pack(fx *x, const att_case *c, const float *o)
{
    size_t BT = (size_t)c->B * c->T, w = (size_t)c->H * c->hd;
    float *p = fx_zeros(x, BT * w);
    for (size_t r = 0; r < BT; r++) memcpy(p + r * w, o + r * c->os, sizeof(float) * w);
    return p;
}

static void check_attention(const char *file)
{
    fx x;
    att_case c;
    att_load(&x, &c, file);
    int B = c.B, T = c.T, H = c.H, KVH = c.KVH, hd = c.hd;
    size_t BT = (size_t)B * T, natt = (size_t)B * H * T * T;
    printf("  B=%d T=%d H=%d KVH=%d hd=%d fused=%d strides q%d k%d v%d o%d\n", B, T, H, KVH, hd,
           c.fused, c.qs, c.ks, c.vs, c.os);
    float *att = fx_zeros(&x, natt);
    for (size_t i = 0; i < natt; i++) att[i] = NAN; /* the masked half must be written as 0 */
    for (size_t i = 0; i < BT * c.os; i++) c.out[i] = NAN;
    ns_attention_forward(c.out, att, c.q, c.k, c.v, B, T, H, KVH, hd, c.qs, c.ks, c.vs, c.os);
    FX_CHECK(&x, "out", att_pack(&x, &c, c.out), BT * H * hd, ATT_ATOL, ATT_RTOL);
    FX_CHECK(&x, "att", att, natt, 1e-6, 1e-5);

    /* dout with the same padded stride as out. */
    float *dout_c = fx_f32(&x, "dout", BT * H * hd), *dout = fx_zeros(&x, BT * c.os);
    for (size_t r = 0; r < BT; r++) memcpy(dout + r * c.os, dout_c + r * H * hd, sizeof(float) * H * hd);
    float *scratch = fx_zeros(&x, natt);
    ns_attention_backward(c.dq, c.dk, c.dv, scratch, dout, c.q, c.k, c.v, att, B, T, H, KVH, hd,
                          c.qs, c.ks, c.vs, c.os);
    if (c.fused) {
        fx_check_grad(&x, "dqkv", c.dqkv, BT * (size_t)(H + 2 * KVH) * hd, ATT_ATOL, ATT_RTOL);
    } else {
        fx_check_grad(&x, "dq", c.dq, BT * H * hd, ATT_ATOL, ATT_RTOL);
        fx_check_grad(&x, "dk", c.dk, BT * KVH * hd, ATT_ATOL, ATT_RTOL);
        fx_check_grad(&x, "dv", c.dv, BT * KVH * hd, ATT_ATOL, ATT_RTOL);
    }

    /* The naive reference on the same inputs agrees with torch too. */
    float *att2 = fx_zeros(&x, natt), *out2 = fx_zeros(&x, BT * c.os);
    ns_attention_forward_ref(out2, att2, c.q, c.k, c.v, B, T, H, KVH, hd, c.qs, c.ks, c.vs, c.os);
    FX_CHECK(&x, "out", att_pack(&x, &c, out2), BT * H * hd, ATT_ATOL, ATT_RTOL);
    FX_CHECK(&x, "att", att2, natt, 1e-6, 1e-5);
    fx_close(&x);
}

TEST(attention_gqa) { check_attention("attention_gqa.safetensors"); }
TEST(attention_mha_fused) { check_attention("attention_mha_fused.safetensors"); }
TEST(attention_mqa) { check_attention("attention_mqa.safetensors"); }
TEST(attention_long_fused) { check_attention("attention_long_fused.safetensors"); }

/* Fast (blocked GEMM) forward against the naive loops on random inputs with
 * T = 150 (three 64-row blocks, the last partial), GQA and fused strides;
 * both float32 with different summation orders: 1e-5 / 1e-4 and 1e-6 on
 * the probabilities. */
TEST(attention_fast_vs_ref)
{
    fx x;
    x.f = NULL;
    ns_arena_init(&x.a, 0);
    int B = 2, T = 150, H = 6, KVH = 2, hd = 16, W = (H + 2 * KVH) * hd;
    size_t BT = (size_t)B * T, natt = (size_t)B * H * T * T;
    float *qkv = fx_zeros(&x, BT * W);
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    ns_rng_fill_normal(&r, qkv, BT * W, 0, 1);
    float *o1 = fx_zeros(&x, BT * H * hd), *o2 = fx_zeros(&x, BT * H * hd);
    float *a1 = fx_zeros(&x, natt), *a2 = fx_zeros(&x, natt);
    ns_attention_forward(o1, a1, qkv, qkv + H * hd, qkv + (H + KVH) * hd, B, T, H, KVH, hd, W, W,
                         W, H * hd);
    ns_attention_forward_ref(o2, a2, qkv, qkv + H * hd, qkv + (H + KVH) * hd, B, T, H, KVH, hd, W,
                             W, W, H * hd);
    ASSERT_CLOSE("out fast vs ref", o1, o2, BT * H * hd, ATT_ATOL, ATT_RTOL);
    ASSERT_CLOSE("att fast vs ref", a1, a2, natt, 1e-6, 1e-5);
    ns_arena_release(&x.a);
}
