/*
 * test_rec_movielens.c — the recommendation pipeline on MovieLens-100K with
 * the Microsoft Recommenders protocol (implicit feedback, per-user
 * stratified 75/25 split, top-10, seen items removed), through the same
 * library path as `northstar eval movielens`: the popularity baseline must
 * land on the figure the issue measured (0.254), and the full pipeline
 * (recall -> Wide & Deep) must reach the target, nDCG@10 >= 0.45.
 * About 20 s on 2 cores; skips when ../shared/data/movielens-100k is absent.
 */
#include "harness.h"
#include "northstar/eval.h"

static const ns_eval_row *row(const ns_eval_row *r, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].name, name)) return &r[i];
    return NULL;
}

TEST(pipeline_meets_ndcg_target)
{
    ns_eval_movielens_opts o = ns_eval_movielens_defaults();
    o.data_dir = ns_test_data("movielens-100k");
    ns_eval_row rows[16];
    int n = 0;
    ASSERT_OK(ns_eval_movielens(&o, rows, &n, NULL));
    for (int i = 0; i < n; i++)
        printf("  %-16s P@10 %.4f R@10 %.4f nDCG@10 %.4f MAP %.4f (%ld users)\n", rows[i].name, rows[i].m.precision,
               rows[i].m.recall, rows[i].m.ndcg, rows[i].m.map, rows[i].m.users);
    const ns_eval_row *pop = row(rows, n, "popularity"), *pipe = row(rows, n, "pipeline"),
                      *rec = row(rows, n, "recall");
    ASSERT(pop && pipe && rec);
    ASSERT_EQ_INT(pop->m.users, 943);
    ASSERT_EQ_INT(pipe->m.users, 943);
    ASSERT_MSG(fabs(pop->m.ndcg - 0.254) < 0.01, "popularity nDCG@10 %.4f, the protocol gives ~0.254", pop->m.ndcg);
    ASSERT_MSG(pipe->m.ndcg >= 0.45, "pipeline nDCG@10 %.4f below the 0.45 target", pipe->m.ndcg);
    ASSERT(rec->cand_recall > 0.5);
}
