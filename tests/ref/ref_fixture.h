/*
 * ref_fixture.h — loading the PyTorch reference fixtures written by
 * tests/ref/gen_kernels.py, for test_ref_kernels.c and test_ref_optim.c.
 *
 * The fixture directory is $NS_REF_FIXTURES when set (tests/CMakeLists.txt
 * points the "<prog>.<case>.fresh" entries at fixtures regenerated in the
 * build tree), else the committed NS_SOURCE_DIR/tests/ref/fixtures. A missing
 * file or tensor FAILS the case: the fixtures are committed, and fresh ones
 * are complete once their generator passed, so absence is a bug. The one
 * skip: the generator found no torch and left DIR/SKIPPED saying so
 * (ref/fresh_fixtures.sh). Every array lives in the case's arena and is
 * freed with fx_close (the tests run under LeakSanitizer).
 *
 * Backward kernels accumulate (+=): gradient buffers are handed to them
 * pre-filled with FX_GRAD_BASE and fx_check_grad subtracts it again, so every
 * comparison also proves that the kernel adds to, not overwrites, its output.
 */
#ifndef NS_TEST_REF_FIXTURE_H
#define NS_TEST_REF_FIXTURE_H

#include "harness.h"
#include "northstar/safetensors.h"

#define FX_GRAD_BASE 0.25f

typedef struct fx {
    ns_st_file *f; /* the open fixture file */
    ns_arena a;    /* every array handed out below */
} fx;

static inline void fx_open(fx *x, const char *file)
{
    const char *dir = getenv("NS_REF_FIXTURES");
    char path[2048];
    if (dir && *dir) {
        char *txt, why[512];
        size_t n;
        snprintf(path, sizeof path, "%s/SKIPPED", dir);
        if (ns_file_exists(path) && ns_file_read_all(path, &txt, &n, 0) >= 0) {
            snprintf(why, sizeof why, "%.*s", (int)strcspn(txt, "\n"), txt);
            free(txt);
            SKIP("no fresh fixtures in %s: %s", dir, why);
        }
    }
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : NS_SOURCE_DIR "/tests/ref/fixtures",
             file);
    ns_arena_init(&x->a, 0);
    if (ns_st_open(&x->f, path) < 0)
        FAIL("cannot open fixture %s: %s (regenerate with /usr/bin/python3 tests/ref/gen_kernels.py)",
             path, ns_err_msg());
}

static inline void fx_close(fx *x)
{
    ns_st_close(x->f);
    ns_arena_release(&x->a);
}

static inline const ns_st_tensor *fx_tensor(fx *x, const char *name)
{
    const ns_st_tensor *t = ns_st_find(x->f, name);
    if (!t) FAIL("fixture %s has no tensor \"%s\"", ns_st_path(x->f), name);
    return t;
}

/* Dimension d of tensor name. */
static inline int fx_dim(fx *x, const char *name, int d)
{
    const ns_st_tensor *t = fx_tensor(x, name);
    if (d >= t->ndim) FAIL("%s: tensor %s has %d dims, wanted dim %d", ns_st_path(x->f), name, t->ndim, d);
    return (int)t->shape[d];
}

static inline size_t fx_numel(fx *x, const char *name) { return (size_t)fx_tensor(x, name)->numel; }

static inline void *fx_alloc(fx *x, size_t bytes)
{
    void *p = ns_arena_alloc(&x->a, bytes ? bytes : 1, 64);
    if (!p) FAIL("out of memory (%zu bytes)", bytes);
    return p;
}

static inline float *fx_zeros(fx *x, size_t n)
{
    float *p = fx_alloc(x, sizeof(float) * n);
    memset(p, 0, sizeof(float) * n);
    return p;
}

/* A gradient buffer for an accumulating backward (see FX_GRAD_BASE). */
static inline float *fx_grad(fx *x, size_t n)
{
    float *p = fx_alloc(x, sizeof(float) * n);
    for (size_t i = 0; i < n; i++) p[i] = FX_GRAD_BASE;
    return p;
}

/* Tensor name as float; n (if not 0) must be its element count. */
static inline float *fx_f32(fx *x, const char *name, size_t n)
{
    size_t have = fx_numel(x, name);
    if (n && have != n) FAIL("%s: tensor %s has %zu elements, the test expects %zu", ns_st_path(x->f), name, have, n);
    float *p = fx_alloc(x, sizeof(float) * have);
    if (ns_st_read_f32(x->f, name, p, (int64_t)have) < 0) FAIL("%s", ns_err_msg());
    return p;
}

static inline int32_t *fx_i32(fx *x, const char *name, size_t n)
{
    size_t have = fx_numel(x, name);
    if (n && have != n) FAIL("%s: tensor %s has %zu elements, the test expects %zu", ns_st_path(x->f), name, have, n);
    int32_t *p = fx_alloc(x, sizeof(int32_t) * have);
    if (ns_st_read_i32(x->f, name, p, (int64_t)have) < 0) FAIL("%s", ns_err_msg());
    return p;
}

/* A scalar stored as F64 [1] (losses, hyperparameters) read at full precision. */
static inline double fx_scalar(fx *x, const char *name)
{
    const ns_st_tensor *t = fx_tensor(x, name);
    if (t->numel != 1) FAIL("%s: tensor %s is not a scalar", ns_st_path(x->f), name);
    if (t->dtype == NS_DT_F64) {
        double v;
        memcpy(&v, t->data, sizeof v);
        return v;
    }
    float v;
    if (ns_st_read_f32(x->f, name, &v, 1) < 0) FAIL("%s", ns_err_msg());
    return v;
}

/* Element i of an F64 vector (hyperparameter lists). */
static inline double fx_at(fx *x, const char *name, size_t i)
{
    const ns_st_tensor *t = fx_tensor(x, name);
    if (t->dtype != NS_DT_F64 || i >= (size_t)t->numel) FAIL("%s: %s[%zu] is not an F64 element", ns_st_path(x->f), name, i);
    double v;
    memcpy(&v, (const unsigned char *)t->data + i * sizeof v, sizeof v);
    return v;
}

/* Compare got[n] with fixture tensor `name`. */
#define FX_CHECK(x, name, got, n, atol, rtol) \
    ASSERT_CLOSE(name, got, fx_f32(x, name, n), n, atol, rtol)

/* Same for a gradient buffer made by fx_grad (subtracts FX_GRAD_BASE first;
 * that costs at most half an ulp of 0.25, 1.5e-8, far below any atol used). */
static inline void fx_check_grad(fx *x, const char *name, float *got, size_t n, double atol,
                                 double rtol)
{
    for (size_t i = 0; i < n; i++) got[i] -= FX_GRAD_BASE;
    FX_CHECK(x, name, got, n, atol, rtol);
}

#endif
