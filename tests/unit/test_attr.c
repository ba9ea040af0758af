/* test_attr.c — attribute bitmaps: segments, the query language against a
 * naive evaluation, filters for the engines, save/load, malformed input. */
#include "harness.h"
#include "northstar/attr.h"
#include "northstar/bm25.h"
#include "northstar/safetensors.h"
#include "northstar/hnsw.h"

static const char *ages[] = {"18-24", "25-34", "35-44", "45+"};

static ns_attr *people(int n)
{
    ns_attr *a;
    if (ns_attr_create(&a) < 0) FAIL("%s", ns_err_msg());
    for (int i = 0; i < n; i++) {
        ns_attr_set(a, (uint32_t)i, "age", ages[i % 4]);
        ns_attr_set(a, (uint32_t)i, "gender", i % 3 == 0 ? "f" : "m");
        if (i % 5 == 0) ns_attr_set(a, (uint32_t)i, "seen", "1");
        if (i % 7 == 0) ns_attr_set(a, (uint32_t)i, "city", "Lyon");
        if (i % 11 == 0) ns_attr_set(a, (uint32_t)i, "city", "São Paulo");
    }
    return a;
}

static int naive(int i, int which)
{
    switch (which) {
    case 0: return (i % 4 == 0 || i % 4 == 1) && i % 3 == 0 && i % 5 != 0;
    case 1: return i % 7 == 0 || (i % 11 == 0 && i % 3 != 0);
    case 2: return i % 5 != 0;
    case 3: return 1;
    case 4: return i % 11 == 0 && i % 4 == 3;
    }
    return 0;
}

TEST(query_matches_naive)
{
    int n = 5000;
    ns_attr *a = people(n);
    ASSERT_EQ_INT(ns_attr_ids(a), n);
    ASSERT_EQ_INT(ns_attr_keys(a), 4 + 2 + 1 + 2);
    const char *qs[] = {"age=18-24,25-34 & gender=f & !seen=1", " city = Lyon | (city=\"São Paulo\" & !gender=f)",
                        "!seen=1", "*", "city=\"São Paulo\"&age=45+"};
    for (int w = 0; w < 5; w++) {
        roaring_bitmap_t *r = ns_attr_query(a, qs[w]);
        ASSERT_MSG(r, "query %s: %s", qs[w], ns_err_msg());
        for (int i = 0; i < n; i++)
            ASSERT_MSG(roaring_bitmap_contains(r, (uint32_t)i) == naive(i, w), "query %d id %d", w, i);
        roaring_bitmap_free(r);
    }
    const roaring_bitmap_t *f = ns_attr_get(a, "gender", "f");
    ASSERT(f && roaring_bitmap_get_cardinality(f) == (uint64_t)(n + 2) / 3);
    ASSERT(ns_attr_get(a, "gender", "x") == NULL);
    roaring_bitmap_t *none = ns_attr_query(a, "gender=x | unknown=1");
    ASSERT(none && roaring_bitmap_get_cardinality(none) == 0);
    roaring_bitmap_free(none);
    /* unset and remove */
    ASSERT_OK(ns_attr_unset(a, 0, "gender", "f"));
    ASSERT(!roaring_bitmap_contains(ns_attr_get(a, "gender", "f"), 0));
    ASSERT_OK(ns_attr_remove(a, 3));
    roaring_bitmap_t *all = ns_attr_query(a, "*");
    ASSERT(!roaring_bitmap_contains(all, 3) && roaring_bitmap_contains(all, 0));
    roaring_bitmap_free(all);
    ns_attr_free(a);
}

TEST(bad_queries_rejected)
{
    ns_attr *a = people(50);
    const char *bad[] = {"", "age", "age=", "age=1 &", "(age=1", "age=1)", "!!", "a=b c=d", "=x", "age=\"open",
                         "age=1 | | gender=f", "&"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        roaring_bitmap_t *r = ns_attr_query(a, bad[i]);
        ASSERT_MSG(r == NULL, "query '%s' accepted", bad[i]);
        ASSERT_EQ_INT(ns_err_last()->code, NS_EFORMAT);
        printf("  '%s': %s\n", bad[i], ns_err_msg());
    }
    char deep[1000];
    memset(deep, '(', 600);
    snprintf(deep + 600, sizeof deep - 600, "age=1");
    ASSERT(ns_attr_query(a, deep) == NULL);
    /* random bytes never crash */
    ns_rng r;
    ns_rng_seed(&r, 3, 0);
    const char alphabet[] = "ag=e1,&|!()* \"f";
    for (int t = 0; t < 2000; t++) {
        char q[24];
        int len = (int)ns_rng_below(&r, 23);
        for (int i = 0; i < len; i++) q[i] = alphabet[ns_rng_below(&r, sizeof alphabet - 1)];
        q[len] = 0;
        roaring_bitmap_t *x = ns_attr_query(a, q);
        if (x) roaring_bitmap_free(x);
    }
    ASSERT_ERR(ns_attr_set(a, 1, "", "x"), NS_EINVAL);
    ns_attr_free(a);
}

TEST(filters_for_engines)
{
    int n = 3000, d = 8;
    ns_attr *a = people(n);
    roaring_bitmap_t *seg = ns_attr_query(a, "gender=f & age=25-34"), *seen = ns_attr_query(a, "seen=1");
    ASSERT(seg && seen);
    ns_filter f = {.allow = seg, .deny = seen};
    /* vector search */
    ns_hnsw_params p = ns_hnsw_defaults(d, NS_METRIC_L2);
    ns_hnsw *h;
    ASSERT_OK(ns_hnsw_create(&h, &p));
    ns_rng r;
    ns_rng_seed(&r, 4, 0);
    float *x = malloc(sizeof(float) * (size_t)n * (size_t)d);
    ns_rng_fill_normal(&r, x, (size_t)n * (size_t)d, 0, 1);
    ASSERT_OK(ns_hnsw_add_batch(h, NULL, x, (size_t)n));
    ns_hit hits[20], ex[20];
    int g = ns_hnsw_search(h, x, 20, 64, &f, hits);
    ASSERT_EQ_INT(g, 20);
    ASSERT_EQ_INT(ns_hnsw_search_exact(h, x, 20, &f, ex), 20);
    for (int i = 0; i < g; i++) {
        ASSERT(naive((int)hits[i].id, 0) || (hits[i].id % 12 == 1 && hits[i].id % 5 != 0));
        ASSERT(hits[i].id % 4 == 1 && hits[i].id % 3 == 0 && hits[i].id % 5 != 0);
        ASSERT_EQ_INT(hits[i].id, ex[i].id); /* 250-id segment: exact path */
    }
    /* BM25 */
    ns_bm25_params bp = ns_bm25_defaults();
    ns_bm25 *b;
    ASSERT_OK(ns_bm25_create(&b, &bp));
    for (int i = 0; i < n; i++) {
        const char *fl[2] = {"item", i % 2 ? "red shoes" : "blue shoes"};
        ASSERT_OK(ns_bm25_add(b, (uint32_t)i, fl, NULL));
    }
    g = ns_bm25_search(b, "red shoes", -1, 20, &f, hits);
    ASSERT_EQ_INT(g, 20);
    for (int i = 0; i < g; i++) ASSERT(hits[i].id % 4 == 1 && hits[i].id % 3 == 0 && hits[i].id % 5 != 0);
    roaring_bitmap_free(seg);
    roaring_bitmap_free(seen);
    free(x);
    ns_hnsw_free(h);
    ns_bm25_free(b);
    ns_attr_free(a);
}

TEST(save_load_and_malformed)
{
    ns_attr *a = people(2000), *g = NULL;
    const char *ok = ns_test_tmpfile("a.attr"), *bad = ns_test_tmpfile("bad.attr");
    ASSERT_OK(ns_attr_save(a, ok));
    ASSERT_OK(ns_attr_load(&g, ok));
    ASSERT_EQ_INT(ns_attr_keys(g), ns_attr_keys(a));
    ASSERT_EQ_INT(ns_attr_ids(g), ns_attr_ids(a));
    roaring_bitmap_t *x = ns_attr_query(a, "age=18-24 & !seen=1 | city=Lyon"),
                     *y = ns_attr_query(g, "age=18-24 & !seen=1 | city=Lyon");
    ASSERT(x && y && roaring_bitmap_equals(x, y));
    roaring_bitmap_free(x);
    roaring_bitmap_free(y);
    ns_attr_free(g);
    g = NULL;
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(ok, &img, &len, 0));
    for (size_t cut = 0; cut < len; cut += len / 29 + 1) {
        ASSERT_OK(ns_file_write_atomic(bad, img, cut));
        ASSERT(ns_attr_load(&g, bad) < 0);
        ASSERT(g == NULL);
    }
    ns_rng r;
    ns_rng_seed(&r, 9, 0);
    int rejected = 0;
    for (int t = 0; t < 300; t++) {
        char *cp = malloc(len);
        memcpy(cp, img, len);
        for (int k = 0; k < 3; k++) cp[ns_rng_below(&r, len)] ^= (char)(1 + ns_rng_below(&r, 255));
        ASSERT_OK(ns_file_write_atomic(bad, cp, len));
        free(cp);
        if (ns_attr_load(&g, bad) == 0) {
            roaring_bitmap_t *q = ns_attr_query(g, "age=18-24 | !seen=1");
            if (q) roaring_bitmap_free(q);
            ns_attr_free(g);
            g = NULL;
        } else {
            rejected++;
        }
    }
    printf("  %d of 300 corrupted files rejected, the rest loaded and queried\n", rejected);
    free(img);
    ns_attr_free(a);
}
