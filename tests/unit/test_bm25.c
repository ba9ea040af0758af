/* test_bm25.c — BM25 scores against the formula computed directly, WAND
 * against exhaustive scoring, deletes, replace, filters, save/load and
 * malformed files. Tiny corpora: milliseconds. */
#include "harness.h"
#include "northstar/bm25.h"
#include "northstar/safetensors.h"
#include "northstar/tokenizer.h"
#include "unit/index_files.h"

static const char *docs[][2] = {
    {"Flutter of wings", "An experimental study of wing flutter at supersonic speeds."},
    {"Boundary layers", "The boundary layer on a flat plate; the layer thickens downstream."},
    {"Heat transfer", "Heat transfer in hypersonic flow over a blunt body, with heating rates."},
    {"Wing theory", "Lifting surface theory for swept wings, with flutter margins for the wing."},
    {"Shock waves", "Shock wave boundary layer interaction at supersonic speed."},
    {"Notes", "Flutter."},
};
#define NDOCS 6

/* ---- the formula, computed directly from tokens ------------------------- */

typedef struct { char tok[64][32]; int n; } toks;
static int on_tok(const char *t, size_t n, size_t off, void *ctx)
{
    (void)off;
    toks *c = ctx;
    if (c->n < 64) snprintf(c->tok[c->n++], 32, "%.*s", (int)n, t);
    return 0;
}
static toks tokenize(const char *s)
{
    toks c = {.n = 0};
    ns_tokenizer_opts o = ns_tokenizer_defaults();
    o.stem = "english";
    ns_tokenizer *tk = ns_tokenizer_new(&o);
    ns_tokenize(tk, s, strlen(s), on_tok, &c);
    ns_tokenizer_free(tk);
    return c;
}
static double count(const toks *t, const char *w)
{
    double c = 0;
    for (int i = 0; i < t->n; i++) c += !strcmp(t->tok[i], w);
    return c;
}

static void direct_scores(const char *q, double k1, double b, double wt, double wb, const int *live, double *out)
{
    toks T[NDOCS], B[NDOCS], Q = tokenize(q);
    double dl[NDOCS], avg = 0;
    int N = 0;
    for (int d = 0; d < NDOCS; d++) {
        T[d] = tokenize(docs[d][0]);
        B[d] = tokenize(docs[d][1]);
        dl[d] = wt * T[d].n + wb * B[d].n;
        if (live[d]) avg += dl[d], N++;
    }
    avg /= N;
    for (int d = 0; d < NDOCS; d++) {
        out[d] = 0;
        if (!live[d]) continue;
        for (int i = 0; i < Q.n; i++) {
            const char *w = Q.tok[i];
            int df = 0;
            for (int e = 0; e < NDOCS; e++) df += live[e] && (count(&T[e], w) + count(&B[e], w)) > 0;
            double tf = wt * count(&T[d], w) + wb * count(&B[d], w);
            if (tf == 0) continue;
            double idf = log(1 + (N - df + 0.5) / (df + 0.5));
            out[d] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl[d] / avg));
        }
    }
}

static ns_bm25 *tiny(double k1, double b, double wt)
{
    ns_bm25_params p = ns_bm25_defaults();
    p.k1 = (float)k1;
    p.b = (float)b;
    p.field_weights[0] = (float)wt;
    p.wand_min_postings = 0; /* always WAND; the exhaustive call is the term-at-a-time path */
    ns_bm25 *ix;
    if (ns_bm25_create(&ix, &p) < 0) FAIL("%s", ns_err_msg());
    for (int d = 0; d < NDOCS; d++)
        if (ns_bm25_add(ix, (uint32_t)(100 + d), docs[d], NULL) < 0) FAIL("%s", ns_err_msg());
    return ix;
}

static void check_query(ns_bm25 *ix, const char *q, double k1, double b, double wt, const int *live)
{
    double want[NDOCS];
    direct_scores(q, k1, b, wt, 1.0, live, want);
    ns_hit a[NDOCS], e[NDOCS];
    int na = ns_bm25_search(ix, q, -1, NDOCS, NULL, a), ne = ns_bm25_search_exhaustive(ix, q, -1, NDOCS, NULL, e);
    int nz = 0;
    for (int d = 0; d < NDOCS; d++) nz += want[d] > 0;
    ASSERT_EQ_INT(na, nz);
    ASSERT_EQ_INT(ne, nz);
    for (int i = 0; i < na; i++) {
        int d = (int)a[i].id - 100;
        ASSERT(d >= 0 && d < NDOCS && live[d]);
        ASSERT_NEAR(a[i].score, want[d], 1e-5 * (1 + want[d]));
        ASSERT_EQ_INT(a[i].id, e[i].id);
        ASSERT_NEAR(a[i].score, e[i].score, 0);
        if (i) ASSERT(a[i - 1].score >= a[i].score);
    }
}

TEST(scores_equal_formula)
{
    int live[NDOCS] = {1, 1, 1, 1, 1, 1};
    const double ks[3][3] = {{1.2, 0.75, 1.0}, {1.0, 0.5, 2.0}, {2.0, 0.0, 3.0}};
    for (int c = 0; c < 3; c++) {
        ns_bm25 *ix = tiny(ks[c][0], ks[c][1], ks[c][2]);
        check_query(ix, "wing flutter", ks[c][0], ks[c][1], ks[c][2], live);
        check_query(ix, "supersonic boundary layer layers", ks[c][0], ks[c][1], ks[c][2], live);
        check_query(ix, "heat heat transfer hypersonic", ks[c][0], ks[c][1], ks[c][2], live);
        ns_hit h[3];
        ASSERT_EQ_INT(ns_bm25_search(ix, "zeppelin", -1, 3, NULL, h), 0);
        ASSERT_EQ_INT(ns_bm25_search(ix, "", -1, 3, NULL, h), 0);
        /* deletes change N, df and avgdl at once */
        ASSERT_OK(ns_bm25_delete(ix, 103));
        int live2[NDOCS] = {1, 1, 1, 0, 1, 1};
        check_query(ix, "wing flutter", ks[c][0], ks[c][1], ks[c][2], live2);
        ASSERT_ERR(ns_bm25_delete(ix, 103), NS_ENOTFOUND);
        ns_bm25_stats st;
        ns_bm25_get_stats(ix, &st);
        ASSERT_EQ_INT(st.docs, 5);
        ASSERT_EQ_INT(st.deleted, 1);
        ns_bm25_free(ix);
    }
}

TEST(replace_and_filter)
{
    ns_bm25 *ix = tiny(1.2, 0.75, 1.0);
    const char *nd[2] = {"Zeppelin", "airship zeppelin flutter"};
    ASSERT_OK(ns_bm25_add(ix, 101, nd, NULL)); /* replaces the boundary-layer doc */
    ns_hit h[6];
    ASSERT_EQ_INT(ns_bm25_search(ix, "zeppelin", -1, 6, NULL, h), 1);
    ASSERT_EQ_INT(h[0].id, 101);
    ASSERT_EQ_INT(ns_bm25_search(ix, "plate", -1, 6, NULL, h), 0);
    ns_bm25_stats st;
    ns_bm25_get_stats(ix, &st);
    ASSERT_EQ_INT(st.docs, NDOCS);
    roaring_bitmap_t *deny = roaring_bitmap_create();
    roaring_bitmap_add(deny, 100);
    roaring_bitmap_add(deny, 105);
    ns_filter f = {.deny = deny};
    int n = ns_bm25_search(ix, "flutter", -1, 6, &f, h);
    ASSERT_EQ_INT(n, 2);
    for (int i = 0; i < n; i++) ASSERT(h[i].id == 101 || h[i].id == 103);
    roaring_bitmap_free(deny);
    /* CJK text is indexed as bigrams */
    const char *cj[2] = {"机器学习", "深度学习模型"};
    ASSERT_OK(ns_bm25_add(ix, 7, cj, NULL));
    ASSERT_EQ_INT(ns_bm25_search(ix, "学习", -1, 6, NULL, h), 1);
    ASSERT_EQ_INT(h[0].id, 7);
    ASSERT_ERR(ns_bm25_search(ix, "x", -1, 0, NULL, h), NS_EINVAL);
    ns_bm25_free(ix);
}

/* Random Zipf-like corpus: WAND must return exactly the exhaustive top-k. */
static ns_bm25 *random_corpus(int ndocs, uint64_t seed, float wt)
{
    ns_bm25_params p = ns_bm25_defaults();
    p.field_weights[0] = wt;
    p.stem[0] = 0;
    p.wand_min_postings = 0;
    ns_bm25 *ix;
    if (ns_bm25_create(&ix, &p) < 0) FAIL("%s", ns_err_msg());
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    char title[256], body[4096];
    for (int d = 0; d < ndocs; d++) {
        int len = 5 + (int)ns_rng_below(&r, 120), tl = 1 + (int)ns_rng_below(&r, 6), k = 0;
        for (int i = 0; i < len; i++) {
            int w = (int)(1.0 / (0.002 + ns_rng_uniform(&r))) % 800; /* heavy head */
            k += snprintf(body + k, sizeof body - (size_t)k, "w%d ", w);
        }
        k = 0;
        for (int i = 0; i < tl; i++) k += snprintf(title + k, sizeof title - (size_t)k, "w%d ", (int)ns_rng_below(&r, 300));
        const char *f[2] = {title, body};
        if (ns_bm25_add(ix, (uint32_t)(d * 3), f, NULL) < 0) FAIL("%s", ns_err_msg());
    }
    return ix;
}

static void compare_wand(ns_bm25 *ix, uint64_t seed, int nq, const ns_filter *f)
{
    ns_rng r;
    ns_rng_seed(&r, seed, 1);
    for (int q = 0; q < nq; q++) {
        char qs[256];
        int k = 0, len = 1 + (int)ns_rng_below(&r, 8);
        for (int i = 0; i < len; i++) {
            int w = (int)(1.0 / (0.002 + ns_rng_uniform(&r))) % 800;
            k += snprintf(qs + k, sizeof qs - (size_t)k, "w%d ", w);
        }
        int topk = 1 + (int)ns_rng_below(&r, 50);
        ns_hit a[50], e[50];
        int na = ns_bm25_search(ix, qs, -1, topk, f, a), ne = ns_bm25_search_exhaustive(ix, qs, -1, topk, f, e);
        ASSERT_EQ_INT(na, ne);
        for (int i = 0; i < na; i++) {
            if (a[i].id != e[i].id || a[i].score != e[i].score)
                FAIL("query '%s' k %d rank %d: wand %u %.9g vs exhaustive %u %.9g", qs, topk, i, a[i].id, a[i].score,
                     e[i].id, e[i].score);
        }
    }
}

TEST(wand_equals_exhaustive)
{
    ns_bm25 *ix = random_corpus(3000, 21, 2.0f);
    compare_wand(ix, 22, 300, NULL);
    for (uint32_t d = 0; d < 3000; d += 4) ASSERT_OK(ns_bm25_delete(ix, d * 3));
    compare_wand(ix, 23, 200, NULL);
    roaring_bitmap_t *allow = roaring_bitmap_create();
    for (uint32_t d = 0; d < 9000; d += 7) roaring_bitmap_add(allow, d);
    ns_filter f = {.allow = allow};
    compare_wand(ix, 24, 100, &f);
    roaring_bitmap_free(allow);
    ns_bm25_free(ix);
}

TEST(save_load_roundtrip)
{
    ns_bm25 *ix = random_corpus(1500, 31, 1.5f);
    for (uint32_t d = 0; d < 1500; d += 5) ASSERT_OK(ns_bm25_delete(ix, d * 3));
    const char *path = ns_test_tmpfile("a.bm25");
    ASSERT_OK(ns_bm25_save(ix, path));
    ns_bm25 *g;
    ASSERT_OK(ns_bm25_load(&g, path));
    ns_bm25_stats a, b;
    ns_bm25_get_stats(ix, &a);
    ns_bm25_get_stats(g, &b);
    ASSERT_EQ_INT(a.docs, b.docs);
    ASSERT_EQ_INT(b.deleted, 0);
    ASSERT_NEAR(a.avgdl, b.avgdl, 1e-6 * a.avgdl);
    ASSERT(b.postings < a.postings); /* compacted */
    ASSERT_NEAR(ns_bm25_get_params(g)->field_weights[0], 1.5, 0);
    ns_rng r;
    ns_rng_seed(&r, 32, 0);
    for (int q = 0; q < 100; q++) {
        char qs[64];
        snprintf(qs, sizeof qs, "w%d w%d w%d", (int)ns_rng_below(&r, 50), (int)ns_rng_below(&r, 400),
                 (int)ns_rng_below(&r, 800));
        ns_hit x[20], y[20];
        int nx = ns_bm25_search(ix, qs, -1, 20, NULL, x), ny = ns_bm25_search(g, qs, -1, 20, NULL, y);
        ASSERT_EQ_INT(nx, ny);
        for (int i = 0; i < nx; i++) {
            ASSERT_EQ_INT(x[i].id, y[i].id);
            ASSERT_NEAR(x[i].score, y[i].score, 1e-5 * x[i].score);
        }
    }
    /* the loaded index keeps taking adds and deletes */
    const char *f[2] = {"zzz", "zzz"};
    ASSERT_OK(ns_bm25_add(g, 5, f, NULL));
    ASSERT_OK(ns_bm25_delete(g, 3));
    ns_hit h[2];
    ASSERT_EQ_INT(ns_bm25_search(g, "zzz", -1, 2, NULL, h), 1);
    ns_bm25_free(g);
    ns_bm25_free(ix);
}

TEST(malformed_files_rejected)
{
    ns_bm25 *ix = tiny(1.2, 0.75, 1.0), *g = NULL;
    const char *ok = ns_test_tmpfile("ok.bm25"), *badf = ns_test_tmpfile("bad.bm25");
    ASSERT_OK(ns_bm25_save(ix, ok));
    rewrite(ok, badf, "post_docs", 0, 1000, NULL, NULL); /* doc number out of range */
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, "post_off", 8, 100000, NULL, NULL); /* offset past the end */
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, "post_tf", 4, 0xffc00000u, NULL, NULL); /* NaN frequency */
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, "doc_ids", 8, 100, NULL, NULL); /* id twice */
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, "terms", 0, 0, NULL, NULL); /* empty / duplicate terms */
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"docs\":6", "\"docs\":7");
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"format\":\"northstar-bm25\"", "\"format\":\"northstar-hnsw\"");
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"stem\":\"english\"", "\"stem\":\"klingon\"");
    ASSERT_ERR(ns_bm25_load(&g, badf), NS_EFORMAT);
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(ok, &img, &len, 0));
    for (size_t cut = 0; cut < len; cut += len / 41 + 1) {
        ASSERT_OK(ns_file_write_atomic(badf, img, cut));
        ASSERT(ns_bm25_load(&g, badf) < 0);
        ASSERT(g == NULL);
    }
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    for (int t = 0; t < 300; t++) {
        char *cp = malloc(len);
        memcpy(cp, img, len);
        for (int k = 0; k < 3; k++) cp[ns_rng_below(&r, len)] ^= (char)(1 + ns_rng_below(&r, 255));
        ASSERT_OK(ns_file_write_atomic(badf, cp, len));
        free(cp);
        if (ns_bm25_load(&g, badf) == 0) {
            ns_hit h[4];
            ASSERT(ns_bm25_search(g, "wing flutter layer", -1, 4, NULL, h) >= 0);
            ns_bm25_free(g);
            g = NULL;
        }
    }
    free(img);
    ns_bm25_params p = ns_bm25_defaults();
    p.b = 2;
    ASSERT_ERR(ns_bm25_create(&g, &p), NS_EINVAL);
    p = ns_bm25_defaults();
    snprintf(p.stem, sizeof p.stem, "klingon");
    ASSERT(ns_bm25_create(&g, &p) < 0);
    ns_bm25_free(ix);
}

/* ---- concurrent add/delete and search (label tsan) ---------------------- */

#include <pthread.h>

typedef struct { ns_bm25 *ix; int writer, failures; } bw;

static void *bm25_worker(void *arg)
{
    bw *w = arg;
    char body[128];
    for (int i = 0; i < 600; i++) {
        if (w->writer) {
            snprintf(body, sizeof body, "w%d w%d common words %d", i % 37, i % 11, i);
            const char *f[2] = {"doc", body};
            if (ns_bm25_add(w->ix, (uint32_t)i, f, NULL) < 0) w->failures++;
            if (i % 7 == 6 && ns_bm25_delete(w->ix, (uint32_t)(i - 3)) < 0) w->failures++;
        } else {
            ns_hit h[10];
            snprintf(body, sizeof body, "w%d common", i % 37);
            int n = ns_bm25_search(w->ix, body, -1, 10, NULL, h);
            if (n < 0) w->failures++;
            for (int j = 1; j < n; j++)
                if (h[j].score > h[j - 1].score) w->failures++;
        }
    }
    return NULL;
}

TEST(tsan_concurrent_add_and_search)
{
    ns_bm25_params p = ns_bm25_defaults();
    p.wand_min_postings = 0;
    ns_bm25 *ix;
    ASSERT_OK(ns_bm25_create(&ix, &p));
    bw w[3] = {{ix, 1, 0}, {ix, 0, 0}, {ix, 0, 0}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, bm25_worker, &w[i]);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) ASSERT_EQ_INT(w[i].failures, 0);
    ns_bm25_stats st;
    ns_bm25_get_stats(ix, &st);
    ASSERT_EQ_INT(st.docs, 600 - 600 / 7);
    ns_bm25_free(ix);
}
