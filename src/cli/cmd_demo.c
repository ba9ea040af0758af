/*
 * cmd_demo.c — `northstar demo`: plain `demo` is the playground
 * (cmd_playground.c: simulator -> store -> training -> server + dashboard
 * + live traffic); `demo mlp` is the foundation's tensor demo, kept here.
 *
 * The MLP demo exercises the tensor library for real: it generates a
 * 3-class spiral data set, trains a 2-hidden-layer GELU MLP with AdamW,
 * warmup + cosine learning rate and gradient clipping (all on the tensor
 * kernels), reports train/test accuracy, saves the model as safetensors with
 * its config in the metadata, loads it back and checks that the reloaded
 * model predicts exactly the same.
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

typedef struct {
    long steps, hidden, seed;
    const char *out;
} demo_opts;

static int on_opt(int c, const char *arg, void *ctx)
{
    demo_opts *o = ctx;
    switch (c) {
    case 's': return cli_int("demo mlp", "--steps", arg, 1, 10000000, &o->steps);
    case 'H': return cli_int("demo mlp", "--hidden", arg, 1, 4096, &o->hidden);
    case 'S': return cli_int("demo mlp", "--seed", arg, 0, 0x7fffffff, &o->seed);
    case 'o': o->out = arg; return 0;
    }
    return 1;
}

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

static int demo_mlp(int argc, char **argv)
{
    demo_opts o = {3000, 64, 1, NULL};
    static const struct option opts[] = {{"steps", required_argument, NULL, 's'},
                                         {"hidden", required_argument, NULL, 'H'},
                                         {"seed", required_argument, NULL, 'S'},
                                         {"out", required_argument, NULL, 'o'},
                                         {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "demo mlp", usage, "", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("demo mlp", "unexpected argument '%s'", argv[r]);
    char outpath[1024];
    if (o.out) snprintf(outpath, sizeof outpath, "%s", o.out);
    else snprintf(outpath, sizeof outpath, "%s/demo-mlp.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");

    int H = (int)o.hidden, ntest = NPTS / 5, ntrain = NPTS - ntest, B = 128;
    int rc = CLI_FAIL;
    ns_rng rng;
    ns_rng_seed(&rng, (uint64_t)o.seed, 0);
    float *x = ns_malloc(sizeof(float) * NPTS * IN);
    int32_t *y = ns_malloc(sizeof(int32_t) * NPTS);
    size_t sz[6], np = mlp_sizes(H, sz);
    float *params = ns_calloc(np, sizeof(float)), *grads = ns_calloc(np, sizeof(float));
    float *m1 = ns_calloc(np, sizeof(float)), *v1 = ns_calloc(np, sizeof(float));
    size_t na = (size_t)NPTS * (4 * (size_t)H + CLASSES);
    float *abuf = ns_malloc(sizeof(float) * na), *gbuf = ns_calloc(na, sizeof(float));
    float *xb = ns_malloc(sizeof(float) * (size_t)B * IN);
    int32_t *yb = ns_malloc(sizeof(int32_t) * (size_t)B), *pred = ns_malloc(sizeof(int32_t) * NPTS),
            *pred2 = ns_malloc(sizeof(int32_t) * NPTS);
    float *params2 = ns_malloc(sizeof(float) * np);
    ns_st_file *f = NULL;
    ns_st_writer *w = NULL;
    if (!x || !y || !params || !grads || !m1 || !v1 || !abuf || !gbuf || !xb || !yb || !pred || !pred2 || !params2)
        goto fail;

    make_spirals(x, y, NPTS, &rng);
    mlp m, g;
    mlp_point(&m, params, H);
    mlp_point(&g, grads, H);
    /* Kaiming-style init; biases zero. */
    ns_rng_fill_normal(&rng, m.w1, sz[0], 0, sqrtf(2.0f / IN));
    ns_rng_fill_normal(&rng, m.w2, sz[2], 0, sqrtf(2.0f / (float)H));
    ns_rng_fill_normal(&rng, m.w3, sz[4], 0, sqrtf(1.0f / (float)H));
    acts a = {abuf, abuf + (size_t)NPTS * H, abuf + 2 * (size_t)NPTS * H, abuf + 3 * (size_t)NPTS * H,
              abuf + 4 * (size_t)NPTS * H};
    acts d = {gbuf, gbuf + (size_t)NPTS * H, gbuf + 2 * (size_t)NPTS * H, gbuf + 3 * (size_t)NPTS * H,
              gbuf + 4 * (size_t)NPTS * H};

    printf("northstar demo mlp: 3-class spirals, %d train / %d test points, MLP 2-%d-%d-3 (%zu parameters)\n", ntrain,
           ntest, H, H, np);
    ns_adam_cfg cfg = ns_adam_defaults();
    cfg.weight_decay = 1e-4f;
    ns_progress prog;
    ns_progress_begin(&prog, "demo train", (double)o.steps, "steps");
    double loss = 0;
    for (long step = 0; step < o.steps; step++) {
        for (int i = 0; i < B; i++) {
            int k = (int)ns_rng_below(&rng, (uint64_t)ntrain);
            xb[2 * i] = x[2 * k];
            xb[2 * i + 1] = x[2 * k + 1];
            yb[i] = y[k];
        }
        forward(&m, &a, xb, B, H);
        loss = ns_cross_entropy_forward(NULL, a.logits, yb, NULL, -1, B, CLASSES);
        memset(grads, 0, sizeof(float) * np);
        memset(d.h1p, 0, sizeof(float) * (size_t)B * H);
        memset(d.h1, 0, sizeof(float) * (size_t)B * H);
        memset(d.h2p, 0, sizeof(float) * (size_t)B * H);
        memset(d.h2, 0, sizeof(float) * (size_t)B * H);
        memset(d.logits, 0, sizeof(float) * (size_t)B * CLASSES);
        ns_cross_entropy_backward(d.logits, a.logits, yb, NULL, -1, 1.0f, B, CLASSES);
        ns_matmul_backward(d.h2, g.w3, g.b3, d.logits, a.h2, m.w3, B, H, CLASSES);
        ns_gelu_backward(d.h2p, d.h2, a.h2p, (size_t)B * H);
        ns_matmul_backward(d.h1, g.w2, g.b2, d.h2p, a.h1, m.w2, B, H, H);
        ns_gelu_backward(d.h1p, d.h1, a.h1p, (size_t)B * H);
        ns_matmul_backward(NULL, g.w1, g.b1, d.h1p, xb, m.w1, B, IN, H);
        ns_clip_grad_norm(grads, np, 1.0f);
        cfg.lr = ns_lr_warmup_cosine(step, o.steps / 20, o.steps, 1e-2f, 1e-4f);
        ns_adam_step(&cfg, params, grads, m1, v1, np, step + 1);
        if (step % 50 == 0) ns_progress_note(&prog, "loss %.4f", loss);
        ns_progress_add(&prog, 1);
        if (step == 0 || (step + 1) % (o.steps / 5 > 0 ? o.steps / 5 : 1) == 0)
            if (!ns_is_quiet() && !prog.enabled) printf("  step %6ld  loss %.4f  lr %.2e\n", step + 1, loss, cfg.lr);
    }
    double secs = ns_progress_end(&prog);
    double acc_train = accuracy(&m, &a, x, y, ntrain, H, NULL);
    double acc_test = accuracy(&m, &a, x + 2 * ntrain, y + ntrain, ntest, H, pred);
    printf("  trained %ld steps in %.2f s (%.0f examples/s), final loss %.4f\n", o.steps, secs,
           (double)o.steps * B / secs, loss);
    printf("  accuracy: train %.3f, test %.3f (chance 0.333)\n", acc_train, acc_test);

    /* Save with the config in the metadata, reload, compare predictions. */
    w = ns_st_writer_new();
    if (!w) goto done;
    static const char *names[6] = {"w1", "b1", "w2", "b2", "w3", "b3"};
    float *ptrs[6] = {m.w1, m.b1, m.w2, m.b2, m.w3, m.b3};
    int64_t shapes[6][2] = {{H, IN}, {H, 0}, {H, H}, {H, 0}, {CLASSES, H}, {CLASSES, 0}};
    for (int i = 0; i < 6; i++)
        if (ns_st_writer_add(w, names[i], NS_DT_F32, i % 2 ? 1 : 2, shapes[i], ptrs[i]) < 0) goto fail;
    char config[128];
    snprintf(config, sizeof config, "{\"model\":\"mlp\",\"in\":%d,\"hidden\":%d,\"classes\":%d}", IN, H, CLASSES);
    if (ns_st_writer_meta(w, "config", config) < 0 || ns_st_writer_write(w, outpath) < 0) goto fail;
    if (ns_st_open(&f, outpath) < 0) goto fail;
    mlp m2;
    mlp_point(&m2, params2, H);
    float *ptrs2[6] = {m2.w1, m2.b1, m2.w2, m2.b2, m2.w3, m2.b3};
    for (int i = 0; i < 6; i++)
        if (ns_st_read_f32(f, names[i], ptrs2[i], (int64_t)sz[i]) < 0) goto fail;
    double acc2 = accuracy(&m2, &a, x + 2 * ntrain, y + ntrain, ntest, H, pred2);
    int same = acc2 == acc_test && memcmp(pred, pred2, sizeof(int32_t) * (size_t)ntest) == 0;
    printf("  saved %s (config %s); reloaded model predicts %s\n", outpath, ns_st_meta(f, "config"),
           same ? "identically" : "DIFFERENTLY");
    if (!same) {
        fprintf(stderr, "northstar demo mlp: reloaded model disagrees with the trained one\n");
        goto done;
    }
    if (acc_test < 0.9) {
        fprintf(stderr, "northstar demo mlp: test accuracy %.3f is below 0.9: training did not converge\n", acc_test);
        goto done;
    }
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_fail("demo mlp");
done:
    ns_st_close(f);
    ns_st_writer_free(w);
    free(x); free(y); free(params); free(grads); free(m1); free(v1); free(abuf); free(gbuf);
    free(xb); free(yb); free(pred); free(pred2); free(params2);
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mlp")) return demo_mlp(argc - 1, argv + 1);
    return cmd_demo_playground(argc, argv);
}
