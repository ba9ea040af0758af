/*
 * test_gradcheck.c — every backward kernel against central finite
 * differences, in double precision, independent of PyTorch.
 *
 * The ns_*_f64 kernels are the float kernels' source compiled in double
 * (src/tensor/kernels.inc), so a backward that is right here is right there.
 * For each kernel: random inputs, a random upstream gradient r, the scalar
 * loss L = sum(r * out); the analytic gradient is the backward run with
 * dout = r, the numeric one (L(x + h) - L(x - h)) / 2h for EVERY element of
 * every differentiable input, on small odd shapes.
 *
 * Tolerance: with h = 1e-6 the truncation error h^2 |L'''| / 6 is ~1e-13,
 * but rounding in the forward leaves noise of ~eps |L| / h ~ 1e-9 absolute
 * in each numeric derivative (L is O(1..10) here). So the error is taken
 * relative per element but floored at 10% of the tensor's largest gradient,
 *     err_i = |num_i - ana_i| / max(|num_i|, |ana_i|, 0.1 * max_j |ana_j|),
 * which keeps exact zeros and tiny entries from dividing noise by ~0, and
 * must stay below 1e-6 (observed: 1e-10 .. 1e-7). A wrong term in a
 * backward gives errors of order 1; one confined to entries 1000x below the
 * largest still shows as >= 1e-2 relative to the floor.
 */
#include "harness.h"
#include "northstar/tensor.h"

#define GC_H 1e-6
#define GC_TOL 1e-6

static ns_rng g_rng;

static double *vec(size_t n) /* zeroed; freed by vfree at the end of a case */
{
    double *p = ns_calloc(n ? n : 1, sizeof(double));
    ASSERT(p);
    return p;
}
static void vfree(double *p) { free(p); }

static double *randv(size_t n, double scale)
{
    double *p = vec(n);
    for (size_t i = 0; i < n; i++) p[i] = scale * ns_rng_normal(&g_rng);
    return p;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void seed(uint64_t s) { ns_rng_seed(&g_rng, s, 0); }

typedef double (*loss_fn)(void);

/* Perturb each element x[i * ld + j] (rows x cols, row stride ld) by +-h,
 * compare the central difference of loss() with ana[i * ld + j]; print the
 * worst element and fail above GC_TOL. */
static void gradcheck_2d(const char *what, double *x, const double *ana, size_t rows, size_t cols,
                         size_t ld, loss_fn loss)
{
    double gmax = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) gmax = fmax(gmax, fabs(ana[i * ld + j]));
    double floor_ = 0.1 * gmax, worst = 0, wn = 0, wa = 0;
    size_t wi = 0;
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            size_t k = i * ld + j;
            double save = x[k];
            x[k] = save + GC_H;
            double lp = loss();
            x[k] = save - GC_H;
            double lm = loss();
            x[k] = save;
            double num = (lp - lm) / (2 * GC_H);
            double den = fmax(fmax(fabs(num), fabs(ana[k])), floor_);
            double err = den > 0 ? fabs(num - ana[k]) / den : fabs(num - ana[k]);
            if (!(err <= worst)) { worst = err, wi = i * cols + j, wn = num, wa = ana[k]; }
        }
    printf("  %-10s n=%-5zu max|grad|=%.3g  max rel err=%.3g at %zu (numeric %.12g analytic %.12g)\n",
           what, rows * cols, gmax, worst, wi, wn, wa);
    ASSERT_MSG(gmax > 0, "%s: the analytic gradient is identically zero", what);
    ASSERT_MSG(worst < GC_TOL, "%s: finite differences disagree with the backward (rel err %.3g)",
               what, worst);
}

static void gradcheck(const char *what, double *x, size_t n, const double *ana, loss_fn loss)
{
    gradcheck_2d(what, x, ana, 1, n, n, loss);
}

/* ---- matmul ------------------------------------------------------------ */

static struct { int N, C, OC; double *inp, *w, *b, *r, *out; } mm;
static double mm_loss(void)
{
    ns_matmul_forward_f64(mm.out, mm.inp, mm.w, mm.b, mm.N, mm.C, mm.OC);
    return dot(mm.r, mm.out, (size_t)mm.N * mm.OC);
}

TEST(matmul)
{
    seed(1);
    mm.N = 5, mm.C = 7, mm.OC = 4;
    size_t ni = (size_t)mm.N * mm.C, nw = (size_t)mm.OC * mm.C, no = (size_t)mm.N * mm.OC;
    mm.inp = randv(ni, 1), mm.w = randv(nw, 1), mm.b = randv(mm.OC, 1), mm.r = randv(no, 1);
    mm.out = vec(no);
    double *di = vec(ni), *dw = vec(nw), *db = vec(mm.OC);
    ns_matmul_backward_f64(di, dw, db, mm.r, mm.inp, mm.w, mm.N, mm.C, mm.OC);
    gradcheck("inp", mm.inp, ni, di, mm_loss);
    gradcheck("w", mm.w, nw, dw, mm_loss);
    gradcheck("bias", mm.b, mm.OC, db, mm_loss);
    vfree(mm.inp), vfree(mm.w), vfree(mm.b), vfree(mm.r), vfree(mm.out);
    vfree(di), vfree(dw), vfree(db);
}

/* ---- embeddings -------------------------------------------------------- */

static struct { int N, V, D; int32_t *ids; double *table, *r, *out; } em;
static double em_loss(void)
{
    ns_embedding_forward_f64(em.out, em.ids, em.table, em.N, em.V, em.D);
    return dot(em.r, em.out, (size_t)em.N * em.D);
}

TEST(embedding)
{
    seed(2);
    int32_t ids[] = {3, 0, 3, 5, 1, 3, 2, 0};
    em.N = 8, em.V = 7, em.D = 3, em.ids = ids; /* row 4 and 6 unused: gradient 0 */
    size_t nt = (size_t)em.V * em.D, no = (size_t)em.N * em.D;
    em.table = randv(nt, 1), em.r = randv(no, 1), em.out = vec(no);
    double *dt = vec(nt);
    ns_embedding_backward_f64(dt, em.r, em.ids, em.N, em.V, em.D);
    gradcheck("table", em.table, nt, dt, em_loss);
    vfree(em.table), vfree(em.r), vfree(em.out), vfree(dt);
}

static struct { int B, V, D, mode; int32_t *ids, *off; double *psw, *table, *r, *out; } eb;
static double eb_loss(void)
{
    ns_embedding_bag_forward_f64(eb.out, eb.ids, eb.off, eb.psw, eb.table, eb.B, eb.V, eb.D, eb.mode);
    return dot(eb.r, eb.out, (size_t)eb.B * eb.D);
}

static void bag_case(int mode, int with_psw)
{
    int32_t ids[] = {1, 4, 1, 0, 5, 2, 2, 4, 6, 3};
    int32_t off[] = {0, 3, 3, 4, 8, 10}; /* bag 1 empty */
    eb.B = 5, eb.V = 7, eb.D = 3, eb.mode = mode, eb.ids = ids, eb.off = off;
    size_t nt = (size_t)eb.V * eb.D, no = (size_t)eb.B * eb.D, nnz = (size_t)off[eb.B];
    eb.table = randv(nt, 1), eb.r = randv(no, 1), eb.out = vec(no);
    eb.psw = with_psw ? randv(nnz, 1) : NULL;
    double *dt = vec(nt);
    ns_embedding_bag_backward_f64(dt, eb.r, eb.ids, eb.off, eb.psw, eb.B, eb.V, eb.D, mode);
    gradcheck("table", eb.table, nt, dt, eb_loss);
    /* The sparse rows scatter-added by hand give the same table gradient. */
    double *rows = vec(nnz * eb.D), *dt2 = vec(nt);
    ns_embedding_bag_backward_rows_f64(rows, eb.r, eb.off, eb.psw, eb.B, eb.D, mode);
    for (size_t i = 0; i < nnz; i++)
        for (int d = 0; d < eb.D; d++) dt2[(size_t)ids[i] * eb.D + d] += rows[i * eb.D + d];
    ASSERT_CLOSE_F64("rows vs dense", dt2, dt, nt, 1e-15, 1e-13);
    if (with_psw) {
        double *dp = vec(nnz);
        ns_embedding_bag_backward_psw_f64(dp, eb.r, eb.ids, eb.off, eb.table, eb.B, eb.V, eb.D);
        gradcheck("psw", eb.psw, nnz, dp, eb_loss);
        vfree(dp);
    }
    vfree(eb.table), vfree(eb.r), vfree(eb.out), vfree(eb.psw), vfree(dt), vfree(rows), vfree(dt2);
}

TEST(embedding_bag_sum) { seed(3); bag_case(NS_BAG_SUM, 0); }
TEST(embedding_bag_mean) { seed(4); bag_case(NS_BAG_MEAN, 0); }
TEST(embedding_bag_psw) { seed(5); bag_case(NS_BAG_SUM, 1); }

/* ---- activations ------------------------------------------------------- */

typedef void (*act_fwd)(double *, const double *, size_t);
typedef void (*act_bwd)(double *, const double *, const double *, size_t);
static struct { size_t n; act_fwd f; double *x, *r, *out; } ac;
static double ac_loss(void)
{
    ac.f(ac.out, ac.x, ac.n);
    return dot(ac.r, ac.out, ac.n);
}

/* bwd_takes_out: sigmoid's backward reads the saved output, not the input. */
static void act_case(act_fwd f, act_bwd b, int bwd_takes_out)
{
    ac.n = 61, ac.f = f;
    ac.x = randv(ac.n, 2.5), ac.r = randv(ac.n, 1), ac.out = vec(ac.n);
    for (size_t i = 0; i < ac.n; i++)
        if (fabs(ac.x[i]) < 1e-3) ac.x[i] = 0.5; /* away from ReLU's kink */
    ac.x[0] = -9, ac.x[1] = 9;                   /* the tails */
    double *dx = vec(ac.n);
    f(ac.out, ac.x, ac.n);
    b(dx, ac.r, bwd_takes_out ? ac.out : ac.x, ac.n);
    gradcheck("x", ac.x, ac.n, dx, ac_loss);
    vfree(ac.x), vfree(ac.r), vfree(ac.out), vfree(dx);
}

TEST(relu) { seed(6); act_case(ns_relu_forward_f64, ns_relu_backward_f64, 0); }
TEST(gelu) { seed(7); act_case(ns_gelu_forward_f64, ns_gelu_backward_f64, 0); }
TEST(silu) { seed(8); act_case(ns_silu_forward_f64, ns_silu_backward_f64, 0); }
TEST(sigmoid) { seed(9); act_case(ns_sigmoid_forward_f64, ns_sigmoid_backward_f64, 1); }

static struct { size_t n; double *a, *b, *r, *out; } sw;
static double sw_loss(void)
{
    ns_swiglu_forward_f64(sw.out, sw.a, sw.b, sw.n);
    return dot(sw.r, sw.out, sw.n);
}

TEST(swiglu)
{
    seed(10);
    sw.n = 61, sw.a = randv(sw.n, 2.5), sw.b = randv(sw.n, 1), sw.r = randv(sw.n, 1);
    sw.out = vec(sw.n);
    double *da = vec(sw.n), *db = vec(sw.n);
    ns_swiglu_backward_f64(da, db, sw.r, sw.a, sw.b, sw.n);
    gradcheck("a", sw.a, sw.n, da, sw_loss);
    gradcheck("b", sw.b, sw.n, db, sw_loss);
    vfree(sw.a), vfree(sw.b), vfree(sw.r), vfree(sw.out), vfree(da), vfree(db);
}

/* ---- softmax and losses ------------------------------------------------ */

static struct { int N, V; double *x, *r, *out; } sm;
static double sm_loss(void)
{
    ns_softmax_forward_f64(sm.out, sm.x, sm.N, sm.V);
    return dot(sm.r, sm.out, (size_t)sm.N * sm.V);
}

TEST(softmax)
{
    seed(11);
    sm.N = 4, sm.V = 9;
    size_t n = (size_t)sm.N * sm.V;
    sm.x = randv(n, 2), sm.r = randv(n, 1), sm.out = vec(n);
    double *dx = vec(n);
    ns_softmax_forward_f64(sm.out, sm.x, sm.N, sm.V);
    ns_softmax_backward_f64(dx, sm.r, sm.out, sm.N, sm.V);
    gradcheck("x", sm.x, n, dx, sm_loss);
    vfree(sm.x), vfree(sm.r), vfree(sm.out), vfree(dx);
}

static struct { int N, V; int32_t *t; double *x, *w, r; } ce;
static double ce_loss(void)
{
    return ce.r * ns_cross_entropy_forward_f64(NULL, ce.x, ce.t, ce.w, -100, ce.N, ce.V);
}

TEST(cross_entropy)
{
    seed(12);
    int32_t t[] = {2, -100, 0, 4, 4, 1, 3};
    double w[] = {1, 1, 0, 1, 1, 0.5, 1}; /* row 1 ignored by index, row 2 by weight */
    ce.N = 7, ce.V = 5, ce.t = t, ce.w = w, ce.r = 1.7;
    size_t n = (size_t)ce.N * ce.V;
    ce.x = randv(n, 2);
    double *dx = vec(n);
    ns_cross_entropy_backward_f64(dx, ce.x, ce.t, ce.w, -100, ce.r, ce.N, ce.V);
    gradcheck("logits", ce.x, n, dx, ce_loss);
    /* Unweighted (ignore_index only). */
    ce.w = NULL;
    memset(dx, 0, sizeof(double) * n);
    ns_cross_entropy_backward_f64(dx, ce.x, ce.t, NULL, -100, ce.r, ce.N, ce.V);
    gradcheck("logits(nw)", ce.x, n, dx, ce_loss);
    vfree(ce.x), vfree(dx);
}

static struct { size_t n; double *x, *y, *w, r; } bc;
static double bc_loss(void) { return bc.r * ns_bce_logits_forward_f64(NULL, bc.x, bc.y, bc.w, bc.n); }

TEST(bce_logits)
{
    seed(13);
    bc.n = 23, bc.x = randv(bc.n, 3), bc.y = vec(bc.n), bc.w = vec(bc.n), bc.r = 0.8;
    for (size_t i = 0; i < bc.n; i++) {
        bc.y[i] = i % 3 == 0 ? ns_rng_uniform(&g_rng) : (double)(i % 2);
        bc.w[i] = 2 * ns_rng_uniform(&g_rng);
    }
    bc.x[0] = 25, bc.x[1] = -25;
    double *dx = vec(bc.n);
    ns_bce_logits_backward_f64(dx, bc.x, bc.y, bc.w, bc.r, bc.n);
    gradcheck("logits", bc.x, bc.n, dx, bc_loss);
    vfree(bc.x), vfree(bc.y), vfree(bc.w), vfree(dx);
}

/* ---- normalisation ----------------------------------------------------- */

static struct { int N, C; double *x, *w, *b, *r, *out, *mean, *rstd; } ln;
static double ln_loss(void)
{
    ns_layernorm_forward_f64(ln.out, ln.mean, ln.rstd, ln.x, ln.w, ln.b, ln.N, ln.C, 1e-5);
    return dot(ln.r, ln.out, (size_t)ln.N * ln.C);
}

TEST(layernorm)
{
    seed(14);
    ln.N = 4, ln.C = 9;
    size_t n = (size_t)ln.N * ln.C;
    ln.x = randv(n, 1.5), ln.w = randv(ln.C, 1), ln.b = randv(ln.C, 1), ln.r = randv(n, 1);
    ln.out = vec(n), ln.mean = vec(ln.N), ln.rstd = vec(ln.N);
    double *dx = vec(n), *dw = vec(ln.C), *db = vec(ln.C);
    ln_loss();
    ns_layernorm_backward_f64(dx, dw, db, ln.r, ln.x, ln.w, ln.mean, ln.rstd, ln.N, ln.C);
    gradcheck("x", ln.x, n, dx, ln_loss);
    gradcheck("w", ln.w, ln.C, dw, ln_loss);
    gradcheck("b", ln.b, ln.C, db, ln_loss);
    vfree(ln.x), vfree(ln.w), vfree(ln.b), vfree(ln.r), vfree(ln.out), vfree(ln.mean);
    vfree(ln.rstd), vfree(dx), vfree(dw), vfree(db);
}

static struct { int N, C; double *x, *w, *r, *out, *rstd; } rn;
static double rn_loss(void)
{
    ns_rmsnorm_forward_f64(rn.out, rn.rstd, rn.x, rn.w, rn.N, rn.C, 1e-6);
    return dot(rn.r, rn.out, (size_t)rn.N * rn.C);
}

TEST(rmsnorm)
{
    seed(15);
    rn.N = 4, rn.C = 9;
    size_t n = (size_t)rn.N * rn.C;
    rn.x = randv(n, 1.5), rn.w = randv(rn.C, 1), rn.r = randv(n, 1);
    rn.out = vec(n), rn.rstd = vec(rn.N);
    double *dx = vec(n), *dw = vec(rn.C);
    rn_loss();
    ns_rmsnorm_backward_f64(dx, dw, rn.r, rn.x, rn.w, rn.rstd, rn.N, rn.C);
    gradcheck("x", rn.x, n, dx, rn_loss);
    gradcheck("w", rn.w, rn.C, dw, rn_loss);
    vfree(rn.x), vfree(rn.w), vfree(rn.r), vfree(rn.out), vfree(rn.rstd), vfree(dx), vfree(dw);
}

/* ---- RoPE -------------------------------------------------------------- */

static struct { int B, T, H, hd, stride; const int32_t *pos; double *x, *r, *tmp, *cs, *sn; } rp;
static double rp_loss(void)
{
    size_t n = (size_t)rp.B * rp.T * rp.stride;
    memcpy(rp.tmp, rp.x, sizeof(double) * n); /* the kernel is in place */
    ns_rope_forward_f64(rp.tmp, rp.cs, rp.sn, rp.pos, rp.B, rp.T, rp.H, rp.hd, rp.stride);
    return dot(rp.r, rp.tmp, n);
}

TEST(rope)
{
    seed(16);
    static const int32_t pos[] = {4, 0, 9, 9, 2};
    rp.B = 2, rp.T = 5, rp.H = 2, rp.hd = 6, rp.stride = 2 * 6 + 3, rp.pos = pos;
    int Tmax = 10;
    size_t n = (size_t)rp.B * rp.T * rp.stride;
    rp.x = randv(n, 1), rp.r = randv(n, 1), rp.tmp = vec(n);
    rp.cs = vec((size_t)Tmax * rp.hd / 2), rp.sn = vec((size_t)Tmax * rp.hd / 2);
    ns_rope_tables_f64(rp.cs, rp.sn, Tmax, rp.hd, 10000.0);
    /* The backward rotates the upstream gradient in place; the padding
     * floats of each token pass through (identity), so their gradient is r. */
    double *dx = vec(n);
    memcpy(dx, rp.r, sizeof(double) * n);
    ns_rope_backward_f64(dx, rp.cs, rp.sn, rp.pos, rp.B, rp.T, rp.H, rp.hd, rp.stride);
    gradcheck("x", rp.x, n, dx, rp_loss);
    vfree(rp.x), vfree(rp.r), vfree(rp.tmp), vfree(rp.cs), vfree(rp.sn), vfree(dx);
}

/* ---- attention --------------------------------------------------------- */

/* q, k, v inside one fused [B, T, (H + 2 KVH) hd] buffer. */
static struct { int B, T, H, KVH, hd, W; double *qkv, *r, *out, *att; } at;
static double at_loss(void)
{
    int H = at.H, KVH = at.KVH, hd = at.hd, W = at.W;
    ns_attention_forward_f64(at.out, at.att, at.qkv, at.qkv + H * hd, at.qkv + (H + KVH) * hd,
                             at.B, at.T, H, KVH, hd, W, W, W, H * hd);
    return dot(at.r, at.out, (size_t)at.B * at.T * H * hd);
}

static void attention_case(int B, int T, int H, int KVH, int hd)
{
    at.B = B, at.T = T, at.H = H, at.KVH = KVH, at.hd = hd, at.W = (H + 2 * KVH) * hd;
    size_t BT = (size_t)B * T, nqkv = BT * at.W, no = BT * H * hd, natt = (size_t)B * H * T * T;
    printf("  B=%d T=%d H=%d KVH=%d hd=%d, q k v fused in rows of %d\n", B, T, H, KVH, hd, at.W);
    at.qkv = randv(nqkv, 1), at.r = randv(no, 1), at.out = vec(no), at.att = vec(natt);
    double *d = vec(nqkv), *scratch = vec(natt);
    at_loss();
    ns_attention_backward_f64(d, d + H * hd, d + (H + KVH) * hd, scratch, at.r, at.qkv,
                              at.qkv + H * hd, at.qkv + (H + KVH) * hd, at.att, B, T, H, KVH, hd,
                              at.W, at.W, at.W, H * hd);
    gradcheck_2d("q", at.qkv, d, BT, (size_t)H * hd, at.W, at_loss);
    gradcheck_2d("k", at.qkv + H * hd, d + H * hd, BT, (size_t)KVH * hd, at.W, at_loss);
    gradcheck_2d("v", at.qkv + (H + KVH) * hd, d + (H + KVH) * hd, BT, (size_t)KVH * hd, at.W,
                 at_loss);
    vfree(at.qkv), vfree(at.r), vfree(at.out), vfree(at.att), vfree(d), vfree(scratch);
}

/* T = 67 crosses the 64-query block of the fast kernel; grouped-query heads. */
TEST(attention_gqa_long) { seed(17); attention_case(1, 67, 2, 1, 4); }
/* Several batches, G = 2 heads per kv head, and T below one block. */
TEST(attention_batched) { seed(18); attention_case(2, 9, 4, 2, 3); }
