/*
 * cmd_demo_mlp.c — `northstar demo mlp`: the tensor library's demo. It
 * generates a 3-class spiral data set, trains a 2-hidden-layer GELU MLP with
 * AdamW, warmup + cosine learning rate and gradient clipping (all on the
 * tensor kernels), reports train/test accuracy, saves the model as
 * safetensors with its config in the metadata, loads it back and checks
 * that the reloaded model predicts exactly the same.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/optim.h"
#include "northstar/safetensors.h"
#include "northstar/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar demo mlp [--steps N] [--hidden H] [--seed S] [--out FILE]\n"
    "\n"
    "Generate a 3-class spiral data set (3,000 points, 20% held out), train a\n"
    "two-hidden-layer GELU MLP on it with AdamW, warmup + cosine learning rate\n"
    "and gradient clipping, report accuracy, save the model as safetensors,\n"
    "reload it and verify the predictions are identical.\n"
    "\n"
    "  --steps N    training steps (default 3000)\n"
    "  --hidden H   hidden width (default 64)\n"
    "  --seed S     random seed (default 1)\n"
    "  --out FILE   model file (default: demo-mlp.safetensors in $TMPDIR or /tmp)\n"
    "  -q, --quiet  no progress display\n";

#define CMD "demo mlp"

typedef struct {
    long steps;
    int hidden;
    uint64_t seed;
    const char *out;
} mlp_opts;

static const cli_opt opts[] = {
    CLI_LONG("steps", 0, mlp_opts, steps, 1, 10000000),
    CLI_INT("hidden", 0, mlp_opts, hidden, 1, 4096),
    CLI_OPT_SEED(mlp_opts, seed),
    CLI_STR("out", 0, mlp_opts, out),
};

enum { IN = 2, CLASSES = 3, NPTS = 3000 };

typedef struct { /* parameters: one allocation, carved */
    float *w1, *b1, *w2, *b2, *w3, *b3;
} mlp;

static size_t mlp_sizes(int H, size_t sz[6])
{
    sz[0] = (size_t)H * IN; sz[1] = (size_t)H;
    sz[2] = (size_t)H * H;  sz[3] = (size_t)H;
    sz[4] = (size_t)CLASSES * H; sz[5] = CLASSES;
    return sz[0] + sz[1] + sz[2] + sz[3] + sz[4] + sz[5];
}

static void mlp_point(mlp *m, float *mem, int H)
{
    size_t sz[6];
    mlp_sizes(H, sz);
    float **p[6] = {&m->w1, &m->b1, &m->w2, &m->b2, &m->w3, &m->b3};
    for (int i = 0; i < 6; i++) { *p[i] = mem; mem += sz[i]; }
}

typedef struct { float *h1p, *h1, *h2p, *h2, *logits; } acts;

static void forward(const mlp *m, acts *a, const float *x, int N, int H)
{
    ns_matmul_forward(a->h1p, x, m->w1, m->b1, N, IN, H);
    ns_gelu_forward(a->h1, a->h1p, (size_t)N * H);
    ns_matmul_forward(a->h2p, a->h1, m->w2, m->b2, N, H, H);
    ns_gelu_forward(a->h2, a->h2p, (size_t)N * H);
    ns_matmul_forward(a->logits, a->h2, m->w3, m->b3, N, H, CLASSES);
}

static int argmax3(const float *l) { return l[0] >= l[1] ? (l[0] >= l[2] ? 0 : 2) : (l[1] >= l[2] ? 1 : 2); }

static double accuracy(const mlp *m, acts *a, const float *x, const int32_t *y, int N, int H, int32_t *pred)
{
    forward(m, a, x, N, H);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        int p = argmax3(a->logits + (size_t)i * CLASSES);
        if (pred) pred[i] = p;
        ok += p == y[i];
    }
    return (double)ok / N;
}

/* Three interleaved noisy spirals. */
static void make_spirals(float *x, int32_t *y, int n, ns_rng *r)
{
    for (int i = 0; i < n; i++) {
        int c = i % CLASSES;
        double t = ns_rng_uniform(r);
        double ang = 4.0 * t + c * 2.0 * M_PI / CLASSES + 0.2 * ns_rng_normal(r);
        x[2 * i] = (float)(t * cos(ang));
        x[2 * i + 1] = (float)(t * sin(ang));
        y[i] = c;
    }
}

/* Everything one run holds: data, parameters, gradients, Adam moments and
 * activations, each one allocation. */
typedef struct {
    int H;
    size_t sz[6], np;
    float *x, *params, *grads, *m1, *v1, *abuf, *gbuf, *xb, *params2;
    int32_t *y, *yb, *pred, *pred2;
    mlp m, g;
    acts a, d;
} run;

enum { BATCH = 128 };

static acts acts_at(float *buf, int H)
{
    size_t s = (size_t)NPTS * (size_t)H;
    return (acts){buf, buf + s, buf + 2 * s, buf + 3 * s, buf + 4 * s};
}

static int run_alloc(run *R, int H)
{
    memset(R, 0, sizeof *R);
    R->H = H;
    R->np = mlp_sizes(H, R->sz);
    size_t na = (size_t)NPTS * (4 * (size_t)H + CLASSES);
    R->x = ns_malloc(sizeof(float) * NPTS * IN);
    R->y = ns_malloc(sizeof(int32_t) * NPTS);
    R->params = ns_calloc(R->np, sizeof(float));
    R->grads = ns_calloc(R->np, sizeof(float));
    R->m1 = ns_calloc(R->np, sizeof(float));
    R->v1 = ns_calloc(R->np, sizeof(float));
    R->abuf = ns_malloc(sizeof(float) * na);
    R->gbuf = ns_calloc(na, sizeof(float));
    R->xb = ns_malloc(sizeof(float) * BATCH * IN);
    R->yb = ns_malloc(sizeof(int32_t) * BATCH);
    R->pred = ns_malloc(sizeof(int32_t) * NPTS);
    R->pred2 = ns_malloc(sizeof(int32_t) * NPTS);
    R->params2 = ns_malloc(sizeof(float) * R->np);
    if (!R->x || !R->y || !R->params || !R->grads || !R->m1 || !R->v1 || !R->abuf || !R->gbuf || !R->xb || !R->yb ||
        !R->pred || !R->pred2 || !R->params2)
        return NS_ENOMEM;
    mlp_point(&R->m, R->params, H);
    mlp_point(&R->g, R->grads, H);
    R->a = acts_at(R->abuf, H);
    R->d = acts_at(R->gbuf, H);
    return NS_OK;
}

static void run_free(run *R)
{
    free(R->x); free(R->y); free(R->params); free(R->grads); free(R->m1); free(R->v1); free(R->abuf); free(R->gbuf);
    free(R->xb); free(R->yb); free(R->pred); free(R->pred2); free(R->params2);
}

/* One AdamW step on a random batch of the training points; the loss. */
static double train_step(run *R, ns_adam_cfg *cfg, long step, int ntrain, ns_rng *rng)
{
    int H = R->H, B = BATCH;
    for (int i = 0; i < B; i++) {
        int k = (int)ns_rng_below(rng, (uint64_t)ntrain);
        R->xb[2 * i] = R->x[2 * k];
        R->xb[2 * i + 1] = R->x[2 * k + 1];
        R->yb[i] = R->y[k];
    }
    acts *a = &R->a, *d = &R->d;
    forward(&R->m, a, R->xb, B, H);
    double loss = ns_cross_entropy_forward(NULL, a->logits, R->yb, NULL, -1, B, CLASSES);
    memset(R->grads, 0, sizeof(float) * R->np);
    memset(d->h1p, 0, sizeof(float) * (size_t)B * H);
    memset(d->h1, 0, sizeof(float) * (size_t)B * H);
    memset(d->h2p, 0, sizeof(float) * (size_t)B * H);
    memset(d->h2, 0, sizeof(float) * (size_t)B * H);
    memset(d->logits, 0, sizeof(float) * (size_t)B * CLASSES);
    ns_cross_entropy_backward(d->logits, a->logits, R->yb, NULL, -1, 1.0f, B, CLASSES);
    ns_matmul_backward(d->h2, R->g.w3, R->g.b3, d->logits, a->h2, R->m.w3, B, H, CLASSES);
    ns_gelu_backward(d->h2p, d->h2, a->h2p, (size_t)B * H);
    ns_matmul_backward(d->h1, R->g.w2, R->g.b2, d->h2p, a->h1, R->m.w2, B, H, H);
    ns_gelu_backward(d->h1p, d->h1, a->h1p, (size_t)B * H);
    ns_matmul_backward(NULL, R->g.w1, R->g.b1, d->h1p, R->xb, R->m.w1, B, IN, H);
    ns_clip_grad_norm(R->grads, R->np, 1.0f);
    ns_adam_step(cfg, R->params, R->grads, R->m1, R->v1, R->np, step + 1);
    return loss;
}

/* Train for `steps`; the final loss and the seconds taken. */
static double train(run *R, long steps, int ntrain, ns_rng *rng, double *secs)
{
    ns_adam_cfg cfg = ns_adam_defaults();
    cfg.weight_decay = 1e-4f;
    ns_progress prog;
    ns_progress_begin(&prog, "demo train", (double)steps, "steps");
    double loss = 0;
    for (long step = 0; step < steps; step++) {
        cfg.lr = ns_lr_warmup_cosine(step, steps / 20, steps, 1e-2f, 1e-4f);
        loss = train_step(R, &cfg, step, ntrain, rng);
        if (step % 50 == 0) ns_progress_note(&prog, "loss %.4f", loss);
        ns_progress_add(&prog, 1);
        if (step == 0 || (step + 1) % (steps / 5 > 0 ? steps / 5 : 1) == 0)
            if (!ns_is_quiet() && !prog.enabled) printf("  step %6ld  loss %.4f  lr %.2e\n", step + 1, loss, cfg.lr);
    }
    *secs = ns_progress_end(&prog);
    return loss;
}

static const char *const tensor_names[6] = {"w1", "b1", "w2", "b2", "w3", "b3"};

/* Save the model with its config in the metadata, reload it into params2;
 * *config gets the stored config (a copy). */
static int save_and_reload(run *R, const char *path, char **config)
{
    int H = R->H;
    const mlp *m = &R->m;
    float *ptrs[6] = {m->w1, m->b1, m->w2, m->b2, m->w3, m->b3};
    int64_t shapes[6][2] = {{H, IN}, {H, 0}, {H, H}, {H, 0}, {CLASSES, H}, {CLASSES, 0}};
    ns_st_writer *w = ns_st_writer_new();
    int rc = w ? NS_OK : NS_ENOMEM;
    for (int i = 0; i < 6 && rc >= 0; i++)
        rc = ns_st_writer_add(w, tensor_names[i], NS_DT_F32, i % 2 ? 1 : 2, shapes[i], ptrs[i]);
    char cfg[128];
    snprintf(cfg, sizeof cfg, "{\"model\":\"mlp\",\"in\":%d,\"hidden\":%d,\"classes\":%d}", IN, H, CLASSES);
    if (rc >= 0) rc = ns_st_writer_meta(w, "config", cfg);
    if (rc >= 0) rc = ns_st_writer_write(w, path);
    ns_st_writer_free(w);
    ns_st_file *f = NULL;
    if (rc >= 0) rc = ns_st_open(&f, path);
    mlp m2;
    mlp_point(&m2, R->params2, H);
    float *ptrs2[6] = {m2.w1, m2.b1, m2.w2, m2.b2, m2.w3, m2.b3};
    for (int i = 0; i < 6 && rc >= 0; i++) rc = ns_st_read_f32(f, tensor_names[i], ptrs2[i], (int64_t)R->sz[i]);
    if (rc >= 0) *config = ns_strdup(ns_st_meta(f, "config"));
    ns_st_close(f);
    return rc;
}

/* Train, report, save, reload and compare; CLI_OK, or CLI_FAIL after
 * saying what went wrong. */
static int demo(run *R, const mlp_opts *o, const char *outpath)
{
    int H = R->H, ntest = NPTS / 5, ntrain = NPTS - ntest;
    ns_rng rng;
    ns_rng_seed(&rng, o->seed, 0);
    make_spirals(R->x, R->y, NPTS, &rng);
    /* Kaiming-style init; biases zero. */
    ns_rng_fill_normal(&rng, R->m.w1, R->sz[0], 0, sqrtf(2.0f / IN));
    ns_rng_fill_normal(&rng, R->m.w2, R->sz[2], 0, sqrtf(2.0f / (float)H));
    ns_rng_fill_normal(&rng, R->m.w3, R->sz[4], 0, sqrtf(1.0f / (float)H));
    printf("northstar demo mlp: 3-class spirals, %d train / %d test points, MLP 2-%d-%d-3 (%zu parameters)\n", ntrain,
           ntest, H, H, R->np);
    double secs, loss = train(R, o->steps, ntrain, &rng, &secs);
    double acc_train = accuracy(&R->m, &R->a, R->x, R->y, ntrain, H, NULL);
    double acc_test = accuracy(&R->m, &R->a, R->x + 2 * ntrain, R->y + ntrain, ntest, H, R->pred);
    printf("  trained %ld steps in %.2f s (%.0f examples/s), final loss %.4f\n", o->steps, secs,
           (double)o->steps * BATCH / secs, loss);
    printf("  accuracy: train %.3f, test %.3f (chance 0.333)\n", acc_train, acc_test);
    char *config = NULL;
    if (save_and_reload(R, outpath, &config) < 0) return cli_fail(CMD);
    mlp m2;
    mlp_point(&m2, R->params2, H);
    double acc2 = accuracy(&m2, &R->a, R->x + 2 * ntrain, R->y + ntrain, ntest, H, R->pred2);
    int same = acc2 == acc_test && memcmp(R->pred, R->pred2, sizeof(int32_t) * (size_t)ntest) == 0;
    printf("  saved %s (config %s); reloaded model predicts %s\n", outpath, config ? config : "",
           same ? "identically" : "DIFFERENTLY");
    free(config);
    if (!same) {
        fprintf(stderr, "northstar demo mlp: reloaded model disagrees with the trained one\n");
        return CLI_FAIL;
    }
    if (acc_test < 0.9) {
        fprintf(stderr, "northstar demo mlp: test accuracy %.3f is below 0.9: training did not converge\n", acc_test);
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cmd_demo_mlp(int argc, char **argv)
{
    mlp_opts o = {3000, 64, 1, NULL};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    char outpath[1024];
    if (o.out) snprintf(outpath, sizeof outpath, "%s", o.out);
    else snprintf(outpath, sizeof outpath, "%s/demo-mlp.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    run R;
    int rc = run_alloc(&R, o.hidden) < 0 ? cli_fail(CMD) : demo(&R, &o, outpath);
    run_free(&R);
    return rc;
}
