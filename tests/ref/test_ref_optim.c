/*
 * test_ref_optim.c — the optimizers, gradient clipping and the learning-rate
 * schedule against their references (fixtures from tests/ref/gen_kernels.py):
 * torch.optim (SGD, Adam, AdamW, Adagrad dense and sparse) run 5 steps in
 * float32 on a fixed parameter/gradient sequence, the parameters compared
 * after EVERY step; FTRL-proximal against a float64 numpy transcription of
 * McMahan et al. 2013, Algorithm 1 (torch has no FTRL); clipping against
 * torch.nn.utils.clip_grad_norm_; the schedule against nanoGPT's get_lr.
 *
 * Tolerances: our float32 updates do the same operations as torch's in the
 * same order, so they differ only where a scalar constant is rounded
 * differently (e.g. 1 - beta1 formed in double vs float): a few ulp per step
 * on |p| ~ 1, compounding over 5 steps — atol 1e-6 / rtol 1e-5. Each
 * comparison states its own reason where it differs.
 */
#include "harness.h"
#include "northstar/optim.h"
#include "ref_fixture.h"

#define OPT_ATOL 1e-6
#define OPT_RTOL 1e-5
#define STEPS 5

static const char *nm(const char *prefix, const char *what, int k)
{
    static char buf[4][96];
    static int i;
    char *b = buf[i++ & 3];
    if (k >= 0) snprintf(b, sizeof buf[0], "%s/%s%d", prefix, what, k);
    else snprintf(b, sizeof buf[0], "%s/%s", prefix, what);
    return b;
}

/* ---- SGD ---------------------------------------------------------------- */

static void check_sgd(const char *prefix)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    const char *hp = nm(prefix, "hp", -1);
    ns_sgd_cfg c = {.lr = (float)fx_at(&x, hp, 0), .momentum = (float)fx_at(&x, hp, 1),
                    .dampening = (float)fx_at(&x, hp, 2), .weight_decay = (float)fx_at(&x, hp, 3),
                    .nesterov = (int)fx_at(&x, hp, 4)};
    printf("  lr=%g momentum=%g dampening=%g wd=%g nesterov=%d\n", c.lr, c.momentum, c.dampening,
           c.weight_decay, c.nesterov);
    size_t n = fx_numel(&x, nm(prefix, "p", 0));
    float *p = fx_f32(&x, nm(prefix, "p", 0), n), *buf = fx_zeros(&x, n);
    for (int k = 1; k <= STEPS; k++) {
        ns_sgd_step(&c, p, fx_f32(&x, nm(prefix, "g", k), n), c.momentum != 0 ? buf : NULL, n, k);
        FX_CHECK(&x, nm(prefix, "p", k), p, n, OPT_ATOL, OPT_RTOL);
    }
    fx_close(&x);
}

TEST(sgd_plain) { check_sgd("sgd_plain"); }
TEST(sgd_momentum_dampening) { check_sgd("sgd_momentum"); }
TEST(sgd_nesterov) { check_sgd("sgd_nesterov"); }

/* ---- Adam / AdamW -------------------------------------------------------- */

static void check_adam(const char *prefix)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    const char *hp = nm(prefix, "hp", -1);
    ns_adam_cfg c = {.lr = (float)fx_at(&x, hp, 0), .beta1 = (float)fx_at(&x, hp, 1),
                     .beta2 = (float)fx_at(&x, hp, 2), .eps = (float)fx_at(&x, hp, 3),
                     .weight_decay = (float)fx_at(&x, hp, 4), .decoupled = (int)fx_at(&x, hp, 5)};
    printf("  lr=%g betas=(%g, %g) eps=%g wd=%g decoupled=%d\n", c.lr, c.beta1, c.beta2, c.eps,
           c.weight_decay, c.decoupled);
    size_t n = fx_numel(&x, nm(prefix, "p", 0));
    float *p = fx_f32(&x, nm(prefix, "p", 0), n), *m = fx_zeros(&x, n), *v = fx_zeros(&x, n);
    for (int k = 1; k <= STEPS; k++) {
        ns_adam_step(&c, p, fx_f32(&x, nm(prefix, "g", k), n), m, v, n, k);
        FX_CHECK(&x, nm(prefix, "p", k), p, n, OPT_ATOL, OPT_RTOL);
    }
    fx_close(&x);
}

TEST(adam_l2) { check_adam("adam"); }
TEST(adamw) { check_adam("adamw"); }

TEST(adam_defaults)
{
    /* torch.optim.AdamW's defaults except weight decay (documented 0.01). */
    ns_adam_cfg c = ns_adam_defaults();
    ASSERT_NEAR(c.lr, 1e-3, 1e-9);
    ASSERT_NEAR(c.beta1, 0.9, 1e-7);
    ASSERT_NEAR(c.beta2, 0.999, 1e-7);
    ASSERT_NEAR(c.eps, 1e-8, 1e-14);
    ASSERT_NEAR(c.weight_decay, 0.01, 1e-9);
    ASSERT_EQ_INT(c.decoupled, 1);
}

/* ---- Adagrad -------------------------------------------------------------- */

TEST(adagrad)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    const char *hp = "adagrad/hp";
    ns_adagrad_cfg c = {.lr = (float)fx_at(&x, hp, 0), .lr_decay = (float)fx_at(&x, hp, 1),
                        .weight_decay = (float)fx_at(&x, hp, 2), .eps = (float)fx_at(&x, hp, 3)};
    size_t n = fx_numel(&x, "adagrad/p0");
    float *p = fx_f32(&x, "adagrad/p0", n), *acc = fx_zeros(&x, n);
    for (int k = 1; k <= STEPS; k++) {
        ns_adagrad_step(&c, p, fx_f32(&x, nm("adagrad", "g", k), n), acc, n, k);
        FX_CHECK(&x, nm("adagrad", "p", k), p, n, OPT_ATOL, OPT_RTOL);
    }
    fx_close(&x);
}

/* Sparse rows against torch's Adagrad on a sparse (COO) gradient: rows not
 * named in a step must not move at all. */
TEST(adagrad_rows)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    const char *hp = "adagrad_rows/hp";
    ns_adagrad_cfg c = {.lr = (float)fx_at(&x, hp, 0), .lr_decay = (float)fx_at(&x, hp, 1),
                        .weight_decay = (float)fx_at(&x, hp, 2), .eps = (float)fx_at(&x, hp, 3)};
    int V = fx_dim(&x, "adagrad_rows/p0", 0), D = fx_dim(&x, "adagrad_rows/p0", 1);
    size_t n = (size_t)V * D;
    float *t = fx_f32(&x, "adagrad_rows/p0", n), *acc = fx_zeros(&x, n);
    for (int k = 1; k <= STEPS; k++) {
        const char *ids_name = nm("adagrad_rows", "ids", k);
        int nk = (int)fx_numel(&x, ids_name);
        int32_t *ids = fx_i32(&x, ids_name, nk);
        float *rows = fx_f32(&x, nm("adagrad_rows", "rows", k), (size_t)nk * D);
        ns_adagrad_step_rows(&c, t, acc, ids, rows, nk, D, k);
        FX_CHECK(&x, nm("adagrad_rows", "p", k), t, n, OPT_ATOL, OPT_RTOL);
    }
    fx_close(&x);
}

/* ---- FTRL-proximal ---------------------------------------------------------- */

/* Against the float64 numpy Algorithm 1: z accumulates g - sigma w with
 * float32 rounding (~1e-7 relative per step); weights are O(0.1), and a
 * coordinate with |z| within rounding of l1 could flip between 0 and a
 * weight of size ~(|z| - l1) alpha, i.e. below 1e-7: atol 1e-6 / rtol 1e-5. */
static ns_ftrl_cfg ftrl_cfg(fx *x)
{
    ns_ftrl_cfg c = {.alpha = (float)fx_at(x, "ftrl/hp", 0), .beta = (float)fx_at(x, "ftrl/hp", 1),
                     .l1 = (float)fx_at(x, "ftrl/hp", 2), .l2 = (float)fx_at(x, "ftrl/hp", 3)};
    printf("  alpha=%g beta=%g l1=%g l2=%g\n", c.alpha, c.beta, c.l1, c.l2);
    return c;
}

TEST(ftrl)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    ns_ftrl_cfg c = ftrl_cfg(&x);
    size_t n = fx_numel(&x, "ftrl/w1");
    float *w = fx_zeros(&x, n), *z = fx_zeros(&x, n), *na = fx_zeros(&x, n);
    size_t zeros = 0;
    for (int k = 1; k <= STEPS; k++) {
        ns_ftrl_step(&c, w, fx_f32(&x, nm("ftrl", "g", k), n), z, na, n);
        FX_CHECK(&x, nm("ftrl", "w", k), w, n, OPT_ATOL, OPT_RTOL);
        if (k == STEPS)
            for (size_t i = 0; i < n; i++) zeros += w[i] == 0;
    }
    /* The fixture exercises both branches of the L1 threshold. */
    printf("  %zu of %zu weights exactly 0 after %d steps\n", zeros, n, STEPS);
    ASSERT(zeros > 0 && zeros < n);
    fx_close(&x);
}

TEST(ftrl_rows)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    ns_ftrl_cfg c = ftrl_cfg(&x);
    int V = fx_dim(&x, "ftrl_rows/w1", 0), D = fx_dim(&x, "ftrl_rows/w1", 1);
    size_t n = (size_t)V * D;
    float *t = fx_zeros(&x, n), *z = fx_zeros(&x, n), *na = fx_zeros(&x, n);
    for (int k = 1; k <= STEPS; k++) {
        const char *ids_name = nm("adagrad_rows", "ids", k);
        int nk = (int)fx_numel(&x, ids_name);
        int32_t *ids = fx_i32(&x, ids_name, nk);
        float *rows = fx_f32(&x, nm("adagrad_rows", "rows", k), (size_t)nk * D);
        ns_ftrl_step_rows(&c, t, z, na, ids, rows, nk, D);
        FX_CHECK(&x, nm("ftrl_rows", "w", k), t, n, OPT_ATOL, OPT_RTOL);
    }
    fx_close(&x);
}

/* ---- clipping ---------------------------------------------------------------- */

/* torch computes the norm in float32 (norm of per-tensor norms), we sum
 * squares in double: the totals agree to ~1e-7 relative; the clipped
 * gradients are g * (max_norm / (total + 1e-6)) in float32: 1e-6 / 1e-5. */
static void check_clip(const char *prefix, int clips)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    float *g[3];
    size_t sz[3];
    for (int i = 0; i < 3; i++) {
        const char *gn = nm(prefix, "g", i);
        sz[i] = fx_numel(&x, gn);
        g[i] = fx_f32(&x, gn, sz[i]);
    }
    float max_norm = (float)fx_scalar(&x, nm(prefix, "max_norm", -1));
    double want = fx_scalar(&x, nm(prefix, "total", -1));
    double total = ns_clip_grad_norm_multi(g, sz, 3, max_norm);
    printf("  total norm %.9g (torch %.9g), max_norm %g\n", total, want, max_norm);
    ASSERT_NEAR(total, want, 1e-6 * want);
    ASSERT_EQ_INT(total > max_norm, clips);
    for (int i = 0; i < 3; i++) FX_CHECK(&x, nm(prefix, "out", i), g[i], sz[i], OPT_ATOL, OPT_RTOL);
    /* The single-buffer form on the first tensor alone. */
    float *g0 = fx_f32(&x, nm(prefix, "g", 0), sz[0]);
    double t0 = 0;
    for (size_t j = 0; j < sz[0]; j++) t0 += (double)g0[j] * g0[j];
    t0 = sqrt(t0);
    ASSERT_NEAR(ns_clip_grad_norm(g0, sz[0], 0.5f), t0, 1e-9 * t0);
    double after = 0;
    for (size_t j = 0; j < sz[0]; j++) after += (double)g0[j] * g0[j];
    ASSERT_NEAR(sqrt(after), t0 > 0.5 ? 0.5 : t0, 1e-5);
    fx_close(&x);
}

TEST(clip_grad_norm) { check_clip("clip", 1); }
TEST(clip_grad_norm_below_max) { check_clip("noclip", 0); }

/* ---- schedule ---------------------------------------------------------------- */

/* nanoGPT's get_lr (float64) vs ours, returned as float: 1 ulp of lr ~ 6e-4
 * is 6e-11; rtol 1e-6 leaves room for the float division in the warmup. */
TEST(lr_warmup_cosine)
{
    fx x;
    fx_open(&x, "optim.safetensors");
    long warmup = (long)fx_at(&x, "sched/hp", 0), total = (long)fx_at(&x, "sched/hp", 1);
    float lr_max = (float)fx_at(&x, "sched/hp", 2), lr_min = (float)fx_at(&x, "sched/hp", 3);
    size_t n = fx_numel(&x, "sched/lr");
    float *got = fx_zeros(&x, n);
    for (size_t s = 0; s < n; s++) got[s] = ns_lr_warmup_cosine((long)s, warmup, total, lr_max, lr_min);
    FX_CHECK(&x, "sched/lr", got, n, 0, 1e-6);
    fx_close(&x);
}
