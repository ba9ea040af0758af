/*
 * cmd_eval.c — `northstar eval movielens`: the recommendation pipeline on
 * MovieLens-100K with the Microsoft Recommenders protocol (eval.h).
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/bundle.h"
#include "northstar/eval.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar eval movielens --data DIR [options]\n"
    "\n"
    "Evaluate the recommendation pipeline on MovieLens-100K with the protocol\n"
    "of Microsoft Recommenders: ratings as implicit feedback, a per-user\n"
    "stratified random 75/25 split (seeded), top-k lists of items not seen in\n"
    "training; Precision@k, Recall@k, nDCG@k, MAP (their `map`: average\n"
    "precision over all test items, what their benchmark tables call MAP) and\n"
    "MAP@k (their `map_at_k` since 1.2: over min(k, test items)), for the\n"
    "popularity baseline, each recall channel alone, the merged recall and\n"
    "the full pipeline (Wide & Deep ranker), without and with the diversity rule.\n"
    "\n"
    "  --data DIR       the MovieLens-100K directory (u.data, u.item, u.user, u.genre)\n"
    "  --k N            list length (default 10)\n"
    "  --ratio R        training share per user (default 0.75)\n"
    "  --seed N         split seed (default 42)\n"
    "  --lambda X       EASE regularisation (default 300)\n"
    "  --method M       i2i model: ease (default) or cosine\n"
    "  --neighbours N   i2i weights kept per item (default 0 = all)\n"
    "  --no-ranker      evaluate without the Wide & Deep ranker\n"
    "  --mf             also train implicit ALS factors (channel \"mf\", its own row)\n"
    "  --mf-dim N       ALS factors per user and item (default 64)\n"
    "  --mf-alpha X     ALS confidence of a positive, 1 + X (default 4)\n"
    "  --mf-lambda X    ALS L2 strength (default 40)\n"
    "  --mf-iters N     ALS sweeps (default 15)\n"
    "  --diversity K    K of the \"pipeline+div\" row (default 3; 0 = no such row)\n"
    "  --work DIR       keep the store and the trained bundle here\n"
    "  --dump DIR       write train.tsv, test.tsv and each row's predictions\n"
    "                   (for bench/service/ml_reference.py)\n"
    "  -j, --threads N  threads (default: all CPUs)\n"
    "  -q, --quiet      no progress display\n";

static const cli_opt opts[] = {
    CLI_STR("data", 0, ns_eval_movielens_opts, data_dir),
    CLI_INT("k", 0, ns_eval_movielens_opts, k, 1, 100),
    CLI_DOUBLE("ratio", 0, ns_eval_movielens_opts, ratio, 0.01, 0.99),
    CLI_OPT_SEED(ns_eval_movielens_opts, seed),
    CLI_OPTS_BUNDLE(ns_eval_movielens_opts, bundle),
    CLI_INT("diversity", 0, ns_eval_movielens_opts, div_k, 0, 100),
    CLI_STR("work", 0, ns_eval_movielens_opts, work_dir),
    CLI_STR("dump", 0, ns_eval_movielens_opts, dump_dir),
};

int cmd_eval(int argc, char **argv)
{
    ns_eval_movielens_opts o = ns_eval_movielens_defaults();
    int r = CLI_PARSE(argc, argv, "eval", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r != 1 || strcmp(argv[r], "movielens"))
        return cli_usage_error("eval", "expected the data set name: movielens");
    if (!o.data_dir) return cli_usage_error("eval", "--data DIR is required");
    ns_eval_row rows[16];
    int n;
    ns_bundle_stats bs;
    ns_timer t;
    ns_timer_start(&t);
    if (ns_eval_movielens(&o, rows, &n, &bs) < 0) return cli_fail("eval");
    printf("MovieLens-100K, Microsoft Recommenders protocol: ratings as implicit feedback, per-user\n"
           "stratified random split %.2f/%.2f (seed %llu), top-%d, seen items removed.\n",
           o.ratio, 1 - o.ratio, (unsigned long long)o.seed, o.k);
    printf("Bundle: i2i %s (lambda %g, %u items) %.1f s; vectors %.1f s; keyword %.1f s; ranker examples %ld (%ld positive) "
           "%.1f s, training %.1f s (validation AUC %.4f).\n\n",
           ns_i2i_method_name(o.bundle.i2i.method), o.bundle.i2i.lambda, bs.i2i_items, bs.secs_i2i, bs.secs_vectors,
           bs.secs_keyword, bs.examples, bs.positives, bs.secs_examples, bs.secs_ranker, bs.val_auc);
    if (bs.mf_users)
        printf("mf: implicit ALS k %d, alpha %g, lambda %g, %d sweeps: %u users x %u items, %.2f s.\n\n", o.bundle.mf.dim,
               o.bundle.mf.alpha, o.bundle.mf.lambda, o.bundle.mf.iters, bs.mf_users, bs.mf_items, bs.secs_mf);
    printf("%-22s %8s %8s %8s %8s %8s %6s  %s\n", "configuration", "P@k", "R@k", "nDCG@k", "MAP", "MAP@k", "users",
           "notes");
    for (int i = 0; i < n; i++) {
        const ns_eval_row *w = &rows[i];
        printf("%-22s %8.4f %8.4f %8.4f %8.4f %8.4f %6ld  %.2f s", w->name, w->m.precision, w->m.recall, w->m.ndcg,
               w->m.map, w->m.map_at_k, w->m.users, w->secs);
        if (w->cands > 0) printf("; %.0f candidates/user holding %.1f%% of the test items", w->cands, 100 * w->cand_recall);
        printf("\n");
    }
    printf("\ntotal %.1f s\n", ns_timer_elapsed(&t));
    return CLI_OK;
}
