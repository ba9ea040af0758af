/* test_als.c — implicit ALS (als.h) against a naive twin written here:
 * each half-sweep equals the exact weighted least-squares solution built
 * from the full confidence matrix (no Y'Y trick) and solved by Gaussian
 * elimination in double; the loss never rises; the initial factors are
 * the documented formula; the thread count does not change the model;
 * fold-in is the same solve; files round-trip and bad ones are refused
 * naming the tensor; the "mf" channel recommends the best unseen items by
 * x_u . y_j, folding in users the model does not know. */
#include "harness.h"
#include "northstar/als.h"
#include "northstar/pipeline.h"
#include "northstar/safetensors.h"

#include <math.h>

enum { NU = 7, NI = 9, K = 3 };
static const double ALPHA = 2.5, LAMBDA = 0.4;

/* A small log: user u liked item i when (u * 5 + i * 3) % 7 < 3, plus
 * u0 -> i8 (item 8 otherwise has few users). Item i7 has no users. */
static int liked(int u, int i) { return i != 7 && (((u * 5 + i * 3) % 7 < 3) || (u == 0 && i == 8)); }

static void make_log(ns_ilog *l)
{
    ASSERT_OK(ns_ilog_init(l));
    char u[8], it[8];
    for (int i = 0; i < NI; i++) {
        snprintf(it, sizeof it, "i%d", i);
        ASSERT_OK(ns_ilog_item(l, it));
    }
    for (int x = 0; x < NU; x++)
        for (int i = 0; i < NI; i++)
            if (liked(x, i)) {
                snprintf(u, sizeof u, "u%d", x);
                snprintf(it, sizeof it, "i%d", i);
                ASSERT_OK(ns_ilog_add(l, u, it, x * 100 + i));
            }
    ASSERT_OK(ns_ilog_index(l));
    ASSERT_EQ_INT(ns_ilog_nusers(l), NU);
}

static ns_als_opts opts(int iters)
{
    ns_als_opts o = ns_als_defaults();
    o.dim = K;
    o.alpha = ALPHA;
    o.lambda = LAMBDA;
    o.iters = iters;
    o.init = 0.5;
    o.seed = 7;
    return o;
}

static ns_als *train(const ns_ilog *l, int iters)
{
    ns_als *m = NULL;
    ns_als_opts o = opts(iters);
    ASSERT_OK(ns_als_train(&m, l, &o));
    ASSERT_EQ_INT(m->nusers, NU);
    ASSERT_EQ_INT(m->nitems, NI);
    return m;
}

/* Row of user u / item i in the model (ids are "u<n>" / "i<n>"). */
static int row_in(const ns_strmap *ids, char kind, int n)
{
    char id[8];
    snprintf(id, sizeof id, "%c%d", kind, n);
    int64_t r = ns_strmap_find(ids, id, strlen(id));
    ASSERT(r >= 0);
    return (int)r;
}
static int urow(const ns_als *m, int u) { return row_in(m->users, 'u', u); }
static int irow(const ns_als *m, int i) { return row_in(m->items, 'i', i); }

/* Solve A x = b (n x n, A overwritten) by Gaussian elimination with partial pivoting. */
static void gauss(double *A, double *b, int n, double *x)
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[p * n + c])) p = r;
        for (int j = 0; j < n; j++) {
            double t = A[c * n + j];
            A[c * n + j] = A[p * n + j];
            A[p * n + j] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (int r = c + 1; r < n; r++) {
            double f = A[r * n + c] / A[c * n + c];
            for (int j = c; j < n; j++) A[r * n + j] -= f * A[c * n + j];
            b[r] -= f * b[c];
        }
    }
    for (int r = n - 1; r >= 0; r--) {
        double s = b[r];
        for (int j = r + 1; j < n; j++) s -= A[r * n + j] * x[j];
        x[r] = s / A[r * n + r];
    }
}

/* The exact minimiser over one row of sum_j c_j (p_j - x . q_j)^2 + lambda |x|^2,
 * summing over every j of the other side (c_j = 1 + alpha and p_j = 1 if
 * pos[j], else c_j = 1, p_j = 0). Q: nq rows of K (double). */
static void naive_row(const double *Q, int nq, const int *pos, double *x)
{
    double A[K * K] = {0}, b[K] = {0};
    for (int j = 0; j < nq; j++) {
        double c = pos[j] ? 1 + ALPHA : 1, p = pos[j] ? 1 : 0;
        for (int a = 0; a < K; a++) {
            for (int e = 0; e < K; e++) A[a * K + e] += c * Q[j * K + a] * Q[j * K + e];
            b[a] += c * p * Q[j * K + a];
        }
    }
    for (int a = 0; a < K; a++) A[a * K + a] += LAMBDA;
    gauss(A, b, K, x);
}

/* Factors in the test's order (user u, item i) as doubles. */
static void factors(const ns_als *m, double *X, double *Y)
{
    for (int u = 0; u < NU; u++)
        for (int f = 0; f < K; f++) X[u * K + f] = m->uf[urow(m, u) * K + f];
    for (int i = 0; i < NI; i++)
        for (int f = 0; f < K; f++) Y[i * K + f] = m->itf[irow(m, i) * K + f];
}

static double loss(const double *X, const double *Y)
{
    double s = 0;
    for (int u = 0; u < NU; u++)
        for (int i = 0; i < NI; i++) {
            double d = 0;
            for (int f = 0; f < K; f++) d += X[u * K + f] * Y[i * K + f];
            double c = liked(u, i) ? 1 + ALPHA : 1, p = liked(u, i);
            s += c * (p - d) * (p - d);
        }
    for (int k = 0; k < NU * K; k++) s += LAMBDA * X[k] * X[k];
    for (int k = 0; k < NI * K; k++) s += LAMBDA * Y[k] * Y[k];
    return s;
}

TEST(init_is_the_documented_formula)
{
    ns_ilog l;
    make_log(&l);
    ns_als *m = train(&l, 0);
    for (int i = 0; i < NI; i++) {
        char id[8];
        int len = snprintf(id, sizeof id, "i%d", i);
        uint64_t h = 0xcbf29ce484222325ULL;
        for (int c = 0; c < len; c++) h = (h ^ (unsigned char)id[c]) * 0x100000001b3ULL;
        h ^= ns_hash64(7);
        for (int f = 0; f < K; f++) {
            double u = (double)(ns_hash64(h ^ ((uint64_t)(f + 1) * 0x9E3779B97F4A7C15ULL)) >> 40) / 16777216.0;
            ASSERT_NEAR(m->itf[irow(m, i) * K + f], 0.5 * (2 * u - 1), 1e-7);
        }
    }
    for (int k = 0; k < NU * K; k++) ASSERT(m->uf[k] == 0);
    ns_als_free(m);
    ns_ilog_release(&l);
}

/* Sweep t: users solved exactly against the items of sweep t - 1, then
 * items against those users. */
TEST(each_half_sweep_is_the_exact_solve)
{
    ns_ilog l;
    make_log(&l);
    double Xp[NU * K], Yp[NI * K], X[NU * K], Y[NI * K], want[NU * K > NI * K ? NU * K : NI * K];
    ns_als *prev = train(&l, 0);
    factors(prev, Xp, Yp);
    for (int t = 1; t <= 4; t++) {
        ns_als *m = train(&l, t);
        factors(m, X, Y);
        for (int u = 0; u < NU; u++) {
            int pos[NI];
            for (int i = 0; i < NI; i++) pos[i] = liked(u, i);
            naive_row(Yp, NI, pos, want + u * K);
        }
        ASSERT_CLOSE_F64("users", X, want, NU * K, 1e-5, 1e-4);
        for (int i = 0; i < NI; i++) {
            int pos[NU];
            for (int u = 0; u < NU; u++) pos[u] = liked(u, i);
            naive_row(X, NU, pos, want + i * K);
        }
        ASSERT_CLOSE_F64("items", Y, want, NI * K, 1e-5, 1e-4);
        for (int f = 0; f < K; f++) ASSERT(Y[7 * K + f] == 0); /* no users: 0 */
        memcpy(Xp, X, sizeof X);
        memcpy(Yp, Y, sizeof Y);
        ns_als_free(m);
    }
    ns_als_free(prev);
    ns_ilog_release(&l);
}

TEST(loss_never_rises)
{
    ns_ilog l;
    make_log(&l);
    double X[NU * K], Y[NI * K], last = INFINITY;
    for (int t = 1; t <= 8; t++) {
        ns_als *m = train(&l, t);
        factors(m, X, Y);
        double f = loss(X, Y);
        printf("  sweep %d: loss %.9g\n", t, f);
        ASSERT_MSG(f <= last * (1 + 1e-6), "loss rose at sweep %d: %.9g > %.9g", t, f, last);
        last = f;
        ns_als_free(m);
    }
    ns_ilog_release(&l);
}

TEST(thread_count_does_not_change_the_model)
{
    ns_ilog l;
    make_log(&l);
    ns_set_threads(1);
    ns_als *a = train(&l, 5);
    ns_set_threads(2);
    ns_als *b = train(&l, 5);
    ns_set_threads(0);
    ASSERT(!memcmp(a->uf, b->uf, sizeof(float) * NU * K));
    ASSERT(!memcmp(a->itf, b->itf, sizeof(float) * NI * K));
    ns_als_free(a);
    ns_als_free(b);
    ns_ilog_release(&l);
}

TEST(fold_in_is_the_user_solve)
{
    ns_ilog l;
    make_log(&l);
    ns_als *m = train(&l, 6);
    double X[NU * K], Y[NI * K], want[K];
    factors(m, X, Y);
    float *work = ns_malloc(sizeof(float) * ns_als_work_floats(m)), x[K];
    int pos[NI] = {0};
    uint32_t rows[3] = {(uint32_t)irow(m, 1), (uint32_t)irow(m, 4), 999 /* ignored */};
    pos[1] = pos[4] = 1;
    ASSERT_OK(ns_als_fold_in(m, rows, 3, x, work));
    naive_row(Y, NI, pos, want);
    float wantf[K];
    for (int f = 0; f < K; f++) wantf[f] = (float)want[f];
    ASSERT_CLOSE("fold-in", x, wantf, K, 1e-5, 1e-4);
    ASSERT_OK(ns_als_fold_in(m, rows + 2, 1, x, work)); /* nothing known: 0 */
    for (int f = 0; f < K; f++) ASSERT(x[f] == 0);
    free(work);
    ns_als_free(m);
    ns_ilog_release(&l);
}

TEST(options_are_checked)
{
    ns_ilog l;
    make_log(&l);
    ns_als *m = NULL;
    ns_als_opts o = opts(1);
    o.lambda = 0;
    ASSERT_ERR_HAS(ns_als_train(&m, &l, &o), NS_EINVAL, "lambda");
    o = opts(1);
    o.dim = 0;
    ASSERT_ERR_HAS(ns_als_train(&m, &l, &o), NS_EINVAL, "dim");
    o = opts(1);
    o.alpha = NAN;
    ASSERT_ERR_HAS(ns_als_train(&m, &l, &o), NS_EINVAL, "alpha");
    ASSERT(!m);
    ns_ilog_release(&l);
}

static void write_raw(const char *path, const char *cfg, const char *uids, int64_t nu, const char *iids, int64_t ni,
                      const float *uf, const float *itf, int64_t rows_u, int64_t rows_i)
{
    ns_st_writer *w = ns_st_writer_new();
    int64_t su = nu, si = ni, shu[2] = {rows_u, K}, shi[2] = {rows_i, K};
    ASSERT_OK(ns_st_writer_add(w, "user_ids", NS_DT_U8, 1, &su, uids));
    ASSERT_OK(ns_st_writer_add(w, "item_ids", NS_DT_U8, 1, &si, iids));
    ASSERT_OK(ns_st_writer_add(w, "user_factors", NS_DT_F32, 2, shu, uf));
    ASSERT_OK(ns_st_writer_add(w, "item_factors", NS_DT_F32, 2, shi, itf));
    ASSERT_OK(ns_st_writer_meta(w, "config", cfg));
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
}

TEST(file_roundtrip_and_bad_files)
{
    ns_ilog l;
    make_log(&l);
    ns_als *m = train(&l, 3), *r = NULL;
    const char *path = ns_test_tmpfile("mf.safetensors");
    ASSERT_OK(ns_als_save(m, path));
    ASSERT_OK(ns_als_load(&r, path));
    ASSERT_EQ_INT(r->dim, K);
    ASSERT_EQ_INT(r->nusers, NU);
    ASSERT_NEAR(r->alpha, ALPHA, 0);
    ASSERT(!memcmp(r->uf, m->uf, sizeof(float) * NU * K) && !memcmp(r->itf, m->itf, sizeof(float) * NI * K));
    ASSERT(!memcmp(r->yty, m->yty, sizeof(float) * K * K));
    ASSERT_STREQ(ns_strmap_key(r->items, 3, NULL), ns_strmap_key(m->items, 3, NULL));
    ns_als_free(r);
    r = NULL;
    const char *cfg = "{\"format\":\"northstar-als\",\"version\":1,\"dim\":3,\"alpha\":1,\"lambda\":1,\"iters\":1,"
                      "\"users\":2,\"items\":2}";
    float f[6] = {0, 1, 2, 3, 4, 5}, g[6] = {0, 1, 2, 3, NAN, 5};
    const char *bad = ns_test_tmpfile("bad.safetensors");
    write_raw(bad, cfg, "a\0b", 4, "x\0y", 4, f, g, 2, 2);
    ASSERT_ERR_HAS(ns_als_load(&r, bad), NS_EFORMAT, "item_factors");
    write_raw(bad, cfg, "a\0a", 4, "x\0y", 4, f, f, 2, 2);
    ASSERT_ERR_HAS(ns_als_load(&r, bad), NS_EFORMAT, "user_ids");
    write_raw(bad, cfg, "a\0b", 4, "x\0y", 4, f, f, 2, 1);
    ASSERT(ns_als_load(&r, bad) < 0);
    ASSERT_HAS(ns_err_msg(), "item_factors");
    ASSERT(!r);
    ns_als_free(m);
    ns_ilog_release(&l);
}

/* The channel: a trained user gets the best unseen items by x_u . y_j; a
 * user the model has never seen is folded in from the state's history. */
static void check_top(ns_pipeline *p, ns_state *s, const char *user, const float *x, const ns_als *m)
{
    ns_context ctx;
    ns_context_make(&ctx, 1e9, 0, NULL, NULL);
    ns_rec_request req = {user, 3, &ctx};
    ns_rec_result r;
    ns_arena a;
    ns_arena_init(&a, 0);
    ASSERT_OK(ns_pipeline_recommend(p, &req, &r, &a));
    /* the reference: every unseen item scored, best three */
    uint32_t u;
    ASSERT(ns_state_find_user(s, user, &u));
    double best[3] = {-INFINITY, -INFINITY, -INFINITY};
    int bi[3] = {-1, -1, -1};
    for (uint32_t j = 0; j < m->nitems; j++) {
        uint32_t it;
        ASSERT(ns_state_find_item(s, ns_strmap_key(m->items, j, NULL), &it));
        if (ns_state_has_seen(s, u, it)) continue;
        double d = 0;
        for (int f = 0; f < K; f++) d += (double)x[f] * m->itf[j * K + f];
        for (int q = 0; q < 3; q++)
            if (d > best[q]) {
                for (int z = 2; z > q; z--) best[z] = best[z - 1], bi[z] = bi[z - 1];
                best[q] = d;
                bi[q] = (int)it;
                break;
            }
    }
    ASSERT_EQ_INT(r.n, 3);
    for (int q = 0; q < 3; q++) {
        ASSERT_EQ_INT(r.items[q].item, bi[q]);
        ASSERT_MSG(!ns_state_has_seen(s, u, r.items[q].item), "a seen item was recommended");
    }
    ns_arena_release(&a);
}

TEST(channel_recommends_unseen_by_dot_product_and_folds_in_new_users)
{
    ns_ilog l;
    make_log(&l);
    ns_als *m = train(&l, 6);
    const char *path = ns_test_tmpfile("mf.safetensors");
    ASSERT_OK(ns_als_save(m, path));
    ns_state *s = ns_state_new(NULL);
    ASSERT(s);
    for (int i = 0; i < NI; i++) {
        char id[8];
        snprintf(id, sizeof id, "i%d", i);
        ns_item_rec it = {id, id, NULL, "A", NULL, NULL, 0};
        ASSERT_OK(ns_state_put_item(s, &it, NULL));
    }
    for (int x = 0; x < NU; x++)
        for (int i = 0; i < NI; i++)
            if (liked(x, i)) {
                char u[8], it[8];
                snprintf(u, sizeof u, "u%d", x);
                snprintf(it, sizeof it, "i%d", i);
                ns_event_rec e = {u, it, NS_EV_CLICK, 1, 1e9 - 100, NULL};
                ASSERT_OK(ns_state_event(s, &e));
            }
    ns_event_rec e1 = {"newbie", "i1", NS_EV_CLICK, 1, 1e9 - 50, NULL}, e2 = {"newbie", "i4", NS_EV_CLICK, 1, 1e9 - 40, NULL};
    ASSERT_OK(ns_state_event(s, &e1));
    ASSERT_OK(ns_state_event(s, &e2));
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"recall\": [{\"name\": \"mf\", \"type\": \"mf\", \"quota\": 5, \"params\": {\"model_file\": \"%s\"}}],"
             " \"rank\": {\"type\": \"blend\", \"params\": {\"weights\": {\"mf\": 1}, \"ctr_weight\": 0}},"
             " \"diversity\": {\"max_per_category\": 0}}",
             path);
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p, cfg, "inline", s));
    check_top(p, s, "u2", m->uf + urow(m, 2) * K, m);
    float x[K], *work = ns_malloc(sizeof(float) * ns_als_work_floats(m));
    uint32_t rows[2] = {(uint32_t)irow(m, 1), (uint32_t)irow(m, 4)};
    ASSERT_OK(ns_als_fold_in(m, rows, 2, x, work));
    check_top(p, s, "newbie", x, m);
    ns_pipeline_free(p);
    /* a missing model file is an error naming the parameter */
    ASSERT(ns_pipeline_new(&p,
                           "{\"recall\": [{\"name\": \"mf\", \"type\": \"mf\", \"quota\": 5, \"params\": {\"model_file\": "
                           "\"/nonexistent/mf.safetensors\"}}]}",
                           "inline", s) < 0);
    ASSERT_HAS(ns_err_msg(), "model_file");
    free(work);
    ns_state_free(s);
    ns_als_free(m);
    ns_ilog_release(&l);
}

/* k above NS__ALS_BATCH_DIM (128) trains row by row through LAPACK: one
 * sweep at k = 130 against the same naive solve, any k. */
static void naive_row_k(const double *Q, int nq, const int *pos, int k, double *x)
{
    double *A = ns_calloc((size_t)k * k, sizeof *A), *b = ns_calloc((size_t)k, sizeof *b);
    ASSERT(A && b);
    for (int j = 0; j < nq; j++) {
        double c = pos[j] ? 1 + ALPHA : 1, p = pos[j] ? 1 : 0;
        for (int a = 0; a < k; a++) {
            for (int e = 0; e < k; e++) A[a * k + e] += c * Q[j * k + a] * Q[j * k + e];
            b[a] += c * p * Q[j * k + a];
        }
    }
    for (int a = 0; a < k; a++) A[a * k + a] += LAMBDA;
    gauss(A, b, k, x);
    free(A);
    free(b);
}

TEST(large_dim_row_path_is_the_exact_solve)
{
    enum { KB = 130 };
    ns_ilog l;
    make_log(&l);
    ns_als_opts o = opts(0);
    o.dim = KB;
    ns_als *m0 = NULL, *m1 = NULL;
    ASSERT_OK(ns_als_train(&m0, &l, &o));
    o.iters = 1;
    ASSERT_OK(ns_als_train(&m1, &l, &o));
    static double Y0[NI * KB], X1[NU * KB], want[NU * KB];
    for (int i = 0; i < NI; i++)
        for (int f = 0; f < KB; f++) Y0[i * KB + f] = m0->itf[row_in(m0->items, 'i', i) * KB + f];
    for (int u = 0; u < NU; u++) {
        int pos[NI];
        for (int i = 0; i < NI; i++) pos[i] = liked(u, i);
        naive_row_k(Y0, NI, pos, KB, want + u * KB);
        for (int f = 0; f < KB; f++) X1[u * KB + f] = m1->uf[row_in(m1->users, 'u', u) * KB + f];
    }
    /* float against double on a rank-9-plus-lambda system: 5e-6 seen */
    ASSERT_CLOSE_F64("users at k 130", X1, want, NU * KB, 5e-5, 1e-3);
    ns_als_free(m0);
    ns_als_free(m1);
    ns_ilog_release(&l);
}
