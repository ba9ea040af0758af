/* test_fuse.c — RRF and weighted fusion against hand-computed values,
 * provenance, duplicates, bad arguments. */
#include "harness.h"
#include "northstar/fuse.h"

TEST(rrf_by_hand)
{
    ns_hit a[3] = {{1, 9.0f}, {2, 5.0f}, {3, 1.0f}}, b[3] = {{3, 0.1f}, {4, 0.2f}, {1, 0.9f}};
    ns_fuse_list in[2] = {{"bm25", a, 3, 1.0f, 0}, {"vector", b, 3, 2.0f, 1}};
    ns_fused out[10];
    int n = ns_fuse(in, 2, NS_FUSE_RRF, NULL, 10, out);
    ASSERT_EQ_INT(n, 4);
    /* 1: 1/61 + 2/63, 3: 1/63 + 2/61, 2: 1/62, 4: 2/62 */
    double want[5] = {0, 1.0 / 61 + 2.0 / 63, 1.0 / 62, 1.0 / 63 + 2.0 / 61, 2.0 / 62};
    uint32_t order[4] = {3, 1, 4, 2};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ_INT(out[i].id, order[i]);
        ASSERT_NEAR(out[i].score, want[out[i].id], 1e-7);
    }
    ASSERT_EQ_INT(out[0].channels, 3);
    ASSERT_EQ_INT(out[0].rank[0], 3);
    ASSERT_EQ_INT(out[0].rank[1], 1);
    ASSERT_NEAR(out[0].raw[1], 0.1f, 0);
    ASSERT_EQ_INT(out[2].channels, 2); /* id 4: vector only */
    ASSERT_EQ_INT(out[2].rank[0], 0);
    ASSERT_EQ_INT(out[3].channels, 1);
    ns_fuse_opts o = {0.0f, NS_NORM_MINMAX};
    n = ns_fuse(in, 2, NS_FUSE_RRF, &o, 2, out);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(out[0].id, 3); /* 1/3 + 2/1 */
    ASSERT_NEAR(out[0].score, 1.0 / 3 + 2.0, 1e-6);
}

TEST(weighted_by_hand)
{
    ns_hit a[3] = {{1, 9.0f}, {2, 5.0f}, {3, 1.0f}}, b[3] = {{3, 0.1f}, {4, 0.2f}, {1, 0.9f}};
    ns_fuse_list in[2] = {{"bm25", a, 3, 1.0f, 0}, {"vector", b, 3, 0.5f, 1}};
    ns_fused out[10];
    int n = ns_fuse(in, 2, NS_FUSE_WEIGHTED, NULL, 10, out);
    ASSERT_EQ_INT(n, 4);
    /* min-max: bm25 1 -> 1, 2 -> 0.5, 3 -> 0; vector (flipped) 3 -> 1, 4 -> 0.875, 1 -> 0 */
    double want[5] = {0, 1.0, 0.5, 0.5, 0.4375};
    for (int i = 0; i < n; i++) ASSERT_NEAR(out[i].score, want[out[i].id], 1e-6);
    ASSERT_EQ_INT(out[0].id, 1);
    ASSERT_EQ_INT(out[1].id, 2); /* tie 0.5 with id 3: smaller id first */
    ASSERT_EQ_INT(out[2].id, 3);
    ns_fuse_opts o = {60, NS_NORM_ZSCORE};
    n = ns_fuse(in, 2, NS_FUSE_WEIGHTED, &o, 10, out);
    ASSERT_EQ_INT(n, 4);
    for (int i = 1; i < n; i++) ASSERT(out[i - 1].score >= out[i].score);
    o.norm = NS_NORM_NONE;
    n = ns_fuse(in, 2, NS_FUSE_WEIGHTED, &o, 10, out);
    ASSERT_EQ_INT(out[0].id, 1);
    ASSERT_NEAR(out[0].score, 9.0 - 0.45, 1e-6);
}

TEST(duplicates_empty_and_errors)
{
    ns_hit a[4] = {{7, 3.0f}, {7, 2.0f}, {8, 1.0f}, {7, 0.5f}};
    ns_fuse_list in[2] = {{"x", a, 4, 1.0f, 0}, {"empty", NULL, 0, 1.0f, 0}};
    ns_fused out[4];
    int n = ns_fuse(in, 2, NS_FUSE_RRF, NULL, 4, out);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(out[0].id, 7);
    ASSERT_EQ_INT(out[0].rank[0], 1);
    ASSERT_NEAR(out[0].score, 1.0 / 61, 1e-7);
    ASSERT_EQ_INT(ns_fuse(in, 2, NS_FUSE_RRF, NULL, 0, out), 0);
    ASSERT_ERR(ns_fuse(in, 0, NS_FUSE_RRF, NULL, 4, out), NS_EINVAL);
    ASSERT_ERR(ns_fuse(in, 17, NS_FUSE_RRF, NULL, 4, out), NS_EINVAL);
    in[0].weight = -1;
    ASSERT_ERR(ns_fuse(in, 2, NS_FUSE_RRF, NULL, 4, out), NS_EINVAL);
    in[0].weight = 1;
    in[1].n = 3;
    ASSERT_ERR(ns_fuse(in, 2, NS_FUSE_RRF, NULL, 4, out), NS_EINVAL);
}
