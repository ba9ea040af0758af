/* test_hnsw.c — HNSW and exact vector search against brute force: recall,
 * deletes, updates, slot reuse, filters, save/load, malformed files, and a
 * concurrent insert + search stress (label tsan). Small random data: seconds. */
#include "harness.h"
#include "northstar/safetensors.h"
#include "northstar/hnsw.h"
#include "unit/index_files.h"

#include <math.h>
#include <pthread.h>

/* n points of dimension d from a mixture of 16 Gaussians (seeded). */
static float *mixture(size_t n, int d, uint64_t seed)
{
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    float *c = malloc(sizeof(float) * 16 * (size_t)d), *x = malloc(sizeof(float) * n * (size_t)d);
    ns_rng_fill_normal(&r, c, 16 * (size_t)d, 0, 1);
    for (size_t i = 0; i < n; i++) {
        const float *cc = c + ns_rng_below(&r, 16) * (size_t)d;
        for (int j = 0; j < d; j++) x[i * (size_t)d + j] = cc[j] + 0.35f * (float)ns_rng_normal(&r);
    }
    free(c);
    return x;
}

/* Naive exact k-NN over rows (distances as the index defines them). */
static void naive(const float *x, size_t n, int d, ns_metric m, const float *q, int k, uint32_t *ids)
{
    float *best = malloc(sizeof(float) * (size_t)k);
    for (int j = 0; j < k; j++) best[j] = INFINITY, ids[j] = UINT32_MAX;
    float *qn = malloc(sizeof(float) * (size_t)d), *xn = malloc(sizeof(float) * (size_t)d);
    memcpy(qn, q, sizeof(float) * (size_t)d);
    if (m == NS_METRIC_COSINE) ns_fvec_normalize(qn, (size_t)d);
    for (size_t i = 0; i < n; i++) {
        memcpy(xn, x + i * (size_t)d, sizeof(float) * (size_t)d);
        if (m == NS_METRIC_COSINE) ns_fvec_normalize(xn, (size_t)d);
        float dd = m == NS_METRIC_L2 ? ns_fvec_l2sq_ref(qn, xn, (size_t)d) : 1 - ns_fvec_dot_ref(qn, xn, (size_t)d);
        if (dd >= best[k - 1]) continue;
        int p = k - 1;
        while (p > 0 && best[p - 1] > dd) {
            best[p] = best[p - 1];
            ids[p] = ids[p - 1];
            p--;
        }
        best[p] = dd;
        ids[p] = (uint32_t)i;
    }
    free(best);
    free(qn);
    free(xn);
}

static double recall_at(const ns_hit *got, int ngot, const uint32_t *want, int k)
{
    int hit = 0;
    for (int i = 0; i < ngot; i++)
        for (int j = 0; j < k; j++)
            if (got[i].id == want[j]) {
                hit++;
                break;
            }
    return (double)hit / k;
}

static ns_hnsw *build(const float *x, size_t n, int d, ns_metric m)
{
    ns_hnsw_params p = ns_hnsw_defaults(d, m);
    p.M = 12;
    p.ef_construction = 100;
    ns_hnsw *h;
    if (ns_hnsw_create(&h, &p) < 0) FAIL("create: %s", ns_err_msg());
    for (size_t i = 0; i < n; i++)
        if (ns_hnsw_add(h, (uint32_t)i, x + i * (size_t)d) < 0) FAIL("add %zu: %s", i, ns_err_msg());
    return h;
}

TEST(kernels_match_reference)
{
    ns_rng r;
    ns_rng_seed(&r, 1, 0);
    float a[203], b[203];
    ns_rng_fill_normal(&r, a, 203, 0, 1);
    ns_rng_fill_normal(&r, b, 203, 0, 1);
    for (size_t d = 1; d <= 203; d += 7) {
        double l = 0, ip = 0;
        for (size_t i = 0; i < d; i++) l += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), ip += (double)a[i] * b[i];
        ASSERT_NEAR(ns_fvec_l2sq(a, b, d), l, 1e-4 * (1 + fabs(l)));
        ASSERT_NEAR(ns_fvec_dot(a, b, d), ip, 1e-4 * (1 + fabs(ip)));
        ASSERT_NEAR(ns_fvec_l2sq_ref(a, b, d), l, 1e-4 * (1 + fabs(l)));
    }
    float z[4] = {0};
    ASSERT_ERR(ns_fvec_normalize(z, 4), NS_EINVAL);
}

TEST(exact_search_matches_naive)
{
    int d = 24, k = 7;
    size_t n = 1500, nq = 40;
    float *x = mixture(n, d, 3), *q = mixture(nq, d, 4);
    for (int m = 0; m < 3; m++) {
        float *base = malloc(sizeof(float) * n * (size_t)d);
        memcpy(base, x, sizeof(float) * n * (size_t)d);
        if (m == NS_METRIC_COSINE)
            for (size_t i = 0; i < n; i++) ns_fvec_normalize(base + i * (size_t)d, (size_t)d);
        uint32_t ids[40 * 7], want[7];
        float dist[40 * 7];
        ASSERT_OK(ns_fvec_search(base, n, d, (ns_metric)m, q, nq, k, ids, dist));
        for (size_t i = 0; i < nq; i++) {
            naive(x, n, d, (ns_metric)m, q + i * (size_t)d, k, want);
            for (int j = 0; j < k; j++) ASSERT_EQ_INT(ids[i * (size_t)k + j], want[j]);
            for (int j = 1; j < k; j++) ASSERT(dist[i * (size_t)k + j - 1] <= dist[i * (size_t)k + j]);
        }
        free(base);
    }
    uint32_t ids[5];
    float dist[5];
    ASSERT_OK(ns_fvec_search(x, 3, d, NS_METRIC_L2, q, 1, 5, ids, dist));
    ASSERT_EQ_INT(ids[3], UINT32_MAX);
    ASSERT(isinf(dist[4]));
    free(x);
    free(q);
}

TEST(recall_against_brute_force)
{
    int d = 32, k = 10;
    size_t n = 3000, nq = 100;
    float *x = mixture(n + nq, d, 5), *q = x + n * (size_t)d; /* queries from the same mixture */
    for (int m = 0; m < 3; m++) {
        ns_hnsw *h = build(x, n, d, (ns_metric)m);
        ASSERT_EQ_INT(ns_hnsw_count(h), n);
        double rec = 0, rec_low = 0;
        for (size_t i = 0; i < nq; i++) {
            uint32_t want[10];
            ns_hit got[10];
            naive(x, n, d, (ns_metric)m, q + i * (size_t)d, k, want);
            int g = ns_hnsw_search(h, q + i * (size_t)d, k, 200, NULL, got);
            ASSERT_EQ_INT(g, k);
            for (int j = 1; j < g; j++) ASSERT(got[j - 1].score <= got[j].score);
            rec += recall_at(got, g, want, k);
            g = ns_hnsw_search(h, q + i * (size_t)d, k, 10, NULL, got);
            rec_low += recall_at(got, g, want, k);
        }
        rec /= (double)nq;
        rec_low /= (double)nq;
        printf("  metric %s: recall@10 %.4f at ef 200, %.4f at ef 10\n", ns_metric_name((ns_metric)m), rec, rec_low);
        ASSERT_MSG(rec >= 0.99, "recall@10 %.4f < 0.99 for %s", rec, ns_metric_name((ns_metric)m));
        ASSERT(rec_low <= rec + 1e-9);
        ns_hnsw_stats st;
        ns_hnsw_get_stats(h, &st);
        ASSERT_EQ_INT(st.count, n);
        ASSERT(st.avg_degree0 > 4 && st.avg_degree0 <= 24);
        ns_hnsw_free(h);
    }
    free(x);
}

/* Far outliers around a cloud (at +-100 on each axis, nearer to the cloud
 * than to each other): every neighbour of one keeps a link nearer to it
 * than itself, so the heuristic prunes the links to it, at insert time or
 * later when other inserts shrink a neighbour's list; the index must still
 * give each a way in (single and batch adds). */
static float *cloud_with_outliers(size_t n, size_t every, uint64_t seed)
{
    float *x = malloc(sizeof(float) * 4 * n);
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < n; i++) {
        float *v = x + 4 * i;
        for (int j = 0; j < 4; j++) v[j] = ns_rng_normal(&r);
        if (i % every == every - 1) {
            size_t o = i / every;
            for (int j = 0; j < 4; j++) v[j] = j == (int)(o / 2) ? (o % 2 ? -100.f : 100.f) : 0.f;
        }
    }
    return x;
}

TEST(far_outliers_stay_reachable)
{
    size_t n = 2000, every = 250;
    for (int batch = 0; batch < 2; batch++)
        for (uint64_t seed = 1; seed <= 5; seed++) {
            float *x = cloud_with_outliers(n, every, seed);
            ns_hnsw_params p = ns_hnsw_defaults(4, NS_METRIC_L2);
            p.M = 8;
            ns_hnsw *h;
            ASSERT_OK(ns_hnsw_create(&h, &p));
            if (batch) {
                ns_set_threads(2);
                ASSERT_OK(ns_hnsw_add_batch(h, NULL, x, n));
                ns_set_threads(0);
            } else
                for (size_t i = 0; i < n; i++) ASSERT_OK(ns_hnsw_add(h, (uint32_t)i, x + 4 * i));
            for (size_t i = every - 1; i < n; i += every) {
                float q[4];
                for (int j = 0; j < 4; j++) q[j] = x[4 * i + j] * 0.99f;
                ns_hit got[1];
                ASSERT_EQ_INT(ns_hnsw_search(h, q, 1, 40, NULL, got), 1);
                ASSERT_MSG(got[0].id == i, "%s, seed %llu: outlier %zu not found (got %u)", batch ? "batch" : "single",
                           (unsigned long long)seed, i, got[0].id);
            }
            ns_hnsw_free(h);
            free(x);
        }
}

TEST(deletes_updates_and_slot_reuse)
{
    int d = 16, k = 10;
    size_t n = 2000;
    float *x = mixture(n, d, 7);
    ns_hnsw *h = build(x, n, d, NS_METRIC_L2);
    for (size_t i = 0; i < n; i += 2) ASSERT_OK(ns_hnsw_delete(h, (uint32_t)i));
    ASSERT_ERR(ns_hnsw_delete(h, 0), NS_ENOTFOUND);
    ASSERT_EQ_INT(ns_hnsw_count(h), n / 2);
    ASSERT_EQ_INT(ns_hnsw_get(h, 0, NULL), 0);
    ASSERT_EQ_INT(ns_hnsw_get(h, 1, NULL), 1);
    double rec = 0;
    for (size_t i = 0; i < 200; i++) {
        const float *q = x + i * (size_t)d;
        ns_hit got[10];
        int g = ns_hnsw_search(h, q, k, 100, NULL, got);
        ASSERT_EQ_INT(g, k);
        for (int j = 0; j < g; j++) ASSERT_MSG(got[j].id % 2 == 1, "deleted id %u returned", got[j].id);
        ns_hit ex[10];
        ASSERT_EQ_INT(ns_hnsw_search_exact(h, q, k, NULL, ex), k);
        uint32_t want[10];
        for (int j = 0; j < k; j++) want[j] = ex[j].id;
        rec += recall_at(got, g, want, k);
    }
    printf("  recall@10 after deleting half: %.4f\n", rec / 200);
    ASSERT(rec / 200 >= 0.95);
    /* new ids take the deleted slots: the slot count does not grow */
    ns_hnsw_stats st0, st1;
    ns_hnsw_get_stats(h, &st0);
    ASSERT_EQ_INT(st0.deleted, n / 2);
    float *y = mixture(n / 2, d, 8);
    for (size_t i = 0; i < n / 2; i++) ASSERT_OK(ns_hnsw_add(h, (uint32_t)(100000 + i), y + i * (size_t)d));
    ns_hnsw_get_stats(h, &st1);
    ASSERT_EQ_INT(st1.slots, st0.slots);
    ASSERT_EQ_INT(st1.deleted, 0);
    ASSERT_EQ_INT(ns_hnsw_count(h), n);
    rec = 0;
    for (size_t i = 0; i < 100; i++) {
        const float *q = y + i * (size_t)d;
        ns_hit got[10], ex[10];
        int g = ns_hnsw_search(h, q, k, 100, NULL, got);
        ASSERT_EQ_INT(ns_hnsw_search_exact(h, q, k, NULL, ex), k);
        uint32_t want[10];
        for (int j = 0; j < k; j++) want[j] = ex[j].id;
        rec += recall_at(got, g, want, k);
        for (int j = 0; j < g; j++) ASSERT(got[j].id >= 100000 || got[j].id % 2 == 1);
    }
    printf("  recall@10 after reusing the slots: %.4f\n", rec / 100);
    ASSERT(rec / 100 >= 0.95);
    /* update: id 1 moves onto a far point; searching there finds it at 0 */
    float far[16];
    for (int j = 0; j < d; j++) far[j] = 50.0f + (float)j;
    ASSERT_OK(ns_hnsw_add(h, 1, far));
    ASSERT_EQ_INT(ns_hnsw_count(h), n);
    ns_hit got[10];
    ASSERT_EQ_INT(ns_hnsw_search(h, far, 1, 50, NULL, got), 1);
    ASSERT_EQ_INT(got[0].id, 1);
    ASSERT_NEAR(got[0].score, 0, 1e-6);
    ASSERT_EQ_INT(ns_hnsw_search(h, x + d, 10, 50, NULL, got), 10);
    for (int j = 0; j < 10; j++) ASSERT(got[j].id != 1 || got[j].score > 100);
    float back[16];
    ASSERT_EQ_INT(ns_hnsw_get(h, 1, back), 1);
    ASSERT_CLOSE("updated vector", back, far, 16, 0, 0);
    /* delete everything, then add again: the new nodes are found */
    for (size_t i = 1; i < n; i += 2) ASSERT_OK(ns_hnsw_delete(h, (uint32_t)i));
    for (size_t i = 0; i < n / 2; i++) ASSERT_OK(ns_hnsw_delete(h, (uint32_t)(100000 + i)));
    ASSERT_EQ_INT(ns_hnsw_count(h), 0);
    ASSERT_EQ_INT(ns_hnsw_search(h, x, 5, 50, NULL, got), 0);
    for (size_t i = 0; i < 50; i++) ASSERT_OK(ns_hnsw_add(h, (uint32_t)(200000 + i), y + i * (size_t)d));
    for (size_t i = 0; i < 50; i++) {
        ASSERT_EQ_INT(ns_hnsw_search(h, y + i * (size_t)d, 1, 50, NULL, got), 1);
        ASSERT_EQ_INT(got[0].id, 200000 + i);
    }
    free(x);
    free(y);
    ns_hnsw_free(h);
}

static int odd_pred(uint32_t id, void *ctx)
{
    (void)ctx;
    return id & 1;
}

TEST(filtered_search)
{
    int d = 16, k = 10;
    size_t n = 4000;
    float *x = mixture(n, d, 9), *q = mixture(50, d, 10);
    ns_hnsw *h = build(x, n, d, NS_METRIC_L2);
    roaring_bitmap_t *small = roaring_bitmap_create(), *big = roaring_bitmap_create(),
                     *deny = roaring_bitmap_create();
    for (uint32_t i = 0; i < n; i += 40) roaring_bitmap_add(small, i);  /* 100 ids: exact path */
    for (uint32_t i = 0; i < n; i += 3) roaring_bitmap_add(big, i);     /* 1334 > 1000: graph path */
    for (uint32_t i = 0; i < n; i += 5) roaring_bitmap_add(deny, i);
    ns_hnsw_params p = *ns_hnsw_get_params(h);
    ASSERT_EQ_INT(p.brute_force_below, 2048);
    double rec_big = 0;
    for (size_t i = 0; i < 50; i++) {
        const float *qq = q + i * (size_t)d;
        ns_filter fs = {.allow = small}, fb = {.allow = big, .deny = deny}, fp = {.pred = odd_pred};
        ns_hit got[10], ex[10];
        ASSERT_EQ_INT(ns_hnsw_search(h, qq, k, 64, &fs, got), k);
        ASSERT_EQ_INT(ns_hnsw_search_exact(h, qq, k, &fs, ex), k);
        for (int j = 0; j < k; j++) ASSERT_EQ_INT(got[j].id, ex[j].id); /* exact path */
        int g = ns_hnsw_search(h, qq, k, 200, &fb, got);
        ASSERT_EQ_INT(g, k);
        for (int j = 0; j < g; j++) ASSERT(got[j].id % 3 == 0 && got[j].id % 5 != 0);
        ASSERT_EQ_INT(ns_hnsw_search_exact(h, qq, k, &fb, ex), k);
        uint32_t want[10];
        for (int j = 0; j < k; j++) want[j] = ex[j].id;
        rec_big += recall_at(got, g, want, k);
        g = ns_hnsw_search(h, qq, k, 64, &fp, got);
        ASSERT_EQ_INT(g, k);
        for (int j = 0; j < g; j++) ASSERT(got[j].id & 1);
    }
    printf("  filtered (graph path) recall@10: %.4f\n", rec_big / 50);
    ASSERT(rec_big / 50 >= 0.95);
    roaring_bitmap_free(small);
    roaring_bitmap_free(big);
    roaring_bitmap_free(deny);
    free(x);
    free(q);
    ns_hnsw_free(h);
}

TEST(save_load_roundtrip)
{
    int d = 20, k = 10;
    size_t n = 1500;
    float *x = mixture(n, d, 11);
    ns_hnsw *h = build(x, n, d, NS_METRIC_COSINE);
    ASSERT_OK(ns_hnsw_set_ef(h, 77));
    for (uint32_t i = 0; i < 100; i++) ASSERT_OK(ns_hnsw_delete(h, i * 7));
    const char *path = ns_test_tmpfile("a.hnsw");
    ASSERT_OK(ns_hnsw_save(h, path));
    ns_hnsw *g;
    ASSERT_OK(ns_hnsw_load(&g, path));
    ns_hnsw_stats sa, sb;
    ns_hnsw_get_stats(h, &sa);
    ns_hnsw_get_stats(g, &sb);
    ASSERT_EQ_INT(sb.count, sa.count);
    ASSERT_EQ_INT(sb.deleted, sa.deleted);
    ASSERT_EQ_INT(sb.file_image, 1);
    const ns_hnsw_params *pg = ns_hnsw_get_params(g);
    ASSERT_EQ_INT(pg->ef_search, 77);
    ASSERT_EQ_INT(pg->M, 12);
    ASSERT_EQ_INT(pg->metric, NS_METRIC_COSINE);
    for (size_t i = 0; i < 100; i++) {
        ns_hit a[10], b[10];
        int na = ns_hnsw_search(h, x + i * (size_t)d, k, 0, NULL, a);
        int nb = ns_hnsw_search(g, x + i * (size_t)d, k, 0, NULL, b);
        ASSERT_EQ_INT(na, nb);
        for (int j = 0; j < na; j++) {
            ASSERT_EQ_INT(a[j].id, b[j].id);
            ASSERT_NEAR(a[j].score, b[j].score, 0);
        }
    }
    /* the loaded index takes inserts (copies the file image first) */
    ASSERT_OK(ns_hnsw_add(g, 999999, x));
    ns_hnsw_get_stats(g, &sb);
    ASSERT_EQ_INT(sb.file_image, 0);
    ASSERT_EQ_INT(ns_hnsw_count(g), ns_hnsw_count(h) + 1);
    ns_hit b[2];
    ASSERT_EQ_INT(ns_hnsw_search(g, x, 2, 0, NULL, b), 2);
    ASSERT(b[0].id == 999999 || b[1].id == 999999);
    ns_hnsw_free(g);
    /* empty index round trip */
    ns_hnsw *e;
    ns_hnsw_params p = ns_hnsw_defaults(8, NS_METRIC_L2);
    ASSERT_OK(ns_hnsw_create(&e, &p));
    ASSERT_OK(ns_hnsw_save(e, ns_test_tmpfile("e.hnsw")));
    ns_hnsw_free(e);
    ASSERT_OK(ns_hnsw_load(&e, ns_test_tmpfile("e.hnsw")));
    ASSERT_EQ_INT(ns_hnsw_search(e, x, 3, 0, NULL, b), 0);
    ASSERT_OK(ns_hnsw_add(e, 5, x));
    ASSERT_EQ_INT(ns_hnsw_search(e, x, 3, 0, NULL, b), 1);
    ns_hnsw_free(e);
    ns_hnsw_free(h);
    free(x);
}

TEST(malformed_files_rejected)
{
    int d = 8;
    size_t n = 300;
    float *x = mixture(n, d, 12);
    ns_hnsw *h = build(x, n, d, NS_METRIC_L2);
    const char *ok = ns_test_tmpfile("ok.hnsw"), *badf = ns_test_tmpfile("bad.hnsw");
    ASSERT_OK(ns_hnsw_save(h, ok));
    ns_hnsw_stats st;
    ns_hnsw_get_stats(h, &st);
    ns_hnsw *g = NULL;
    size_t rec = 64; /* d = 8, M 12: 32 + 4 + 96 -> 192? computed below */
    {
        ns_st_file *f;
        ASSERT_OK(ns_st_open(&f, ok));
        rec = (size_t)ns_st_find(f, "l0")->shape[1];
        ns_st_close(f);
    }
    /* a link id past the end */
    rewrite(ok, badf, "l0", 5 * rec + (size_t)d * 4 + 4, 100000, NULL, NULL);
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    /* a link count past 2M */
    rewrite(ok, badf, "l0", 7 * rec + (size_t)d * 4, 1000, NULL, NULL);
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    /* a level above max_level */
    rewrite(ok, badf, "levels", 0, 0x1f1f1f1f, NULL, NULL);
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    /* an id stored twice */
    {
        ns_st_file *f;
        ASSERT_OK(ns_st_open(&f, ok));
        uint32_t id0;
        memcpy(&id0, ns_st_find(f, "labels")->data, 4);
        ns_st_close(f);
        rewrite(ok, badf, "labels", 8, id0, NULL, NULL);
    }
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    /* config lies */
    rewrite(ok, badf, NULL, 0, 0, "\"dim\":8", "\"dim\":9");
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"format\":\"northstar-hnsw\"", "\"format\":\"other\"");
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"count\":300", "\"count\":301");
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    rewrite(ok, badf, NULL, 0, 0, "\"metric\":\"l2\"", "\"metric\":\"l3\"");
    ASSERT_ERR(ns_hnsw_load(&g, badf), NS_EFORMAT);
    /* truncated at many lengths: every one is an error, never a crash */
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(ok, &img, &len, 0));
    for (size_t cut = 0; cut < len; cut += len / 37 + 1) {
        ASSERT_OK(ns_file_write_atomic(badf, img, cut));
        ASSERT(ns_hnsw_load(&g, badf) < 0);
        ASSERT(g == NULL);
    }
    /* random byte flips: either rejected or a valid index that searches */
    ns_rng r;
    ns_rng_seed(&r, 13, 0);
    for (int t = 0; t < 200; t++) {
        char *cp = malloc(len);
        memcpy(cp, img, len);
        for (int k = 0; k < 4; k++) cp[ns_rng_below(&r, len)] ^= (char)(1 + ns_rng_below(&r, 255));
        ASSERT_OK(ns_file_write_atomic(badf, cp, len));
        free(cp);
        if (ns_hnsw_load(&g, badf) == 0) {
            ns_hit hits[5];
            ASSERT(ns_hnsw_search(g, x, 5, 0, NULL, hits) >= 0);
            ns_hnsw_free(g);
            g = NULL;
        }
    }
    ASSERT_ERR(ns_hnsw_load(&g, ns_test_tmpfile("missing.hnsw")), NS_ENOTFOUND);
    free(img);
    free(x);
    ns_hnsw_free(h);
}

TEST(bad_arguments)
{
    ns_hnsw *h;
    ns_hnsw_params p = ns_hnsw_defaults(0, NS_METRIC_L2);
    ASSERT_ERR(ns_hnsw_create(&h, &p), NS_EINVAL);
    p = ns_hnsw_defaults(4, NS_METRIC_COSINE);
    p.M = 1;
    ASSERT_ERR(ns_hnsw_create(&h, &p), NS_EINVAL);
    p.M = 8;
    ASSERT_OK(ns_hnsw_create(&h, &p));
    float z[4] = {0, 0, 0, 0}, nan[4] = {1, NAN, 0, 0}, one[4] = {1, 0, 0, 0};
    ASSERT_ERR(ns_hnsw_add(h, 1, z), NS_EINVAL);
    ASSERT_ERR(ns_hnsw_add(h, 1, nan), NS_EINVAL);
    ASSERT_EQ_INT(ns_hnsw_count(h), 0);
    ASSERT_OK(ns_hnsw_add(h, 1, one));
    ns_hit hit[1];
    ASSERT_ERR(ns_hnsw_search(h, z, 1, 0, NULL, hit), NS_EINVAL);
    ASSERT_ERR(ns_hnsw_search(h, one, 0, 0, NULL, hit), NS_EINVAL);
    ns_metric m;
    ASSERT_ERR(ns_metric_parse("manhattan", &m), NS_EINVAL);
    ns_hnsw_free(h);
}

/* ---- concurrent insert + delete + search --------------------------------- */

typedef struct {
    ns_hnsw *h;
    const float *x;
    int d;
    size_t lo, hi;
    int failures;
    size_t searches;
} worker;

static void *inserter(void *arg)
{
    worker *w = arg;
    for (size_t i = w->lo; i < w->hi; i++) {
        if (ns_hnsw_add(w->h, (uint32_t)i, w->x + i * (size_t)w->d) < 0) w->failures++;
        if (i % 10 == 9 && ns_hnsw_delete(w->h, (uint32_t)(i - 5)) < 0) w->failures++;
        if (i % 50 == 49 && ns_hnsw_add(w->h, (uint32_t)(i - 3), w->x + (i - 2) * (size_t)w->d) < 0) w->failures++;
    }
    return NULL;
}

static void *searcher(void *arg)
{
    worker *w = arg;
    for (size_t i = 0; i < w->hi; i++) {
        ns_hit hits[10];
        int g = ns_hnsw_search(w->h, w->x + (i % 997) * (size_t)w->d, 10, 32, NULL, hits);
        if (g < 0) w->failures++;
        for (int j = 0; j < g; j++) {
            if (hits[j].id >= 4000) w->failures++;
            if (j && hits[j].score < hits[j - 1].score) w->failures++;
        }
        w->searches++;
    }
    return NULL;
}

TEST(tsan_concurrent_insert_and_search)
{
    int d = 16;
    size_t n = 4000;
    float *x = mixture(n, d, 14);
    ns_hnsw_params p = ns_hnsw_defaults(d, NS_METRIC_L2);
    p.M = 8;
    p.ef_construction = 40;
    p.capacity = 64; /* force growth while searching */
    ns_hnsw *h;
    ASSERT_OK(ns_hnsw_create(&h, &p));
    worker w[4] = {{h, x, d, 0, n / 2, 0, 0}, {h, x, d, n / 2, n, 0, 0}, {h, x, d, 0, 1500, 0, 0},
                   {h, x, d, 0, 1500, 0, 0}};
    pthread_t t[4];
    pthread_create(&t[0], NULL, inserter, &w[0]);
    pthread_create(&t[1], NULL, inserter, &w[1]);
    pthread_create(&t[2], NULL, searcher, &w[2]);
    pthread_create(&t[3], NULL, searcher, &w[3]);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(w[i].failures, 0);
    /* every id still present is findable and no deleted id is returned */
    ns_hnsw_stats st;
    ns_hnsw_get_stats(h, &st);
    printf("  %zu live, %zu deleted, %zu slots after the stress\n", st.count, st.deleted, st.slots);
    ASSERT_EQ_INT(st.count + st.deleted, st.slots);
    size_t found = 0, live = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ns_hnsw_get(h, (uint32_t)i, NULL)) continue;
        live++;
        float v[16];
        ns_hnsw_get(h, (uint32_t)i, v);
        ns_hit hits[1];
        if (ns_hnsw_search(h, v, 1, 64, NULL, hits) == 1 && hits[0].score == 0) found++;
    }
    ASSERT_EQ_INT(live, st.count);
    printf("  self-search top-1 exact for %zu of %zu\n", found, live);
    ASSERT(found >= live * 98 / 100);
    ns_hnsw_free(h);
    free(x);
}
