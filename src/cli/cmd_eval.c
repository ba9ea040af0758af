/*
 * cmd_eval.c — `northstar eval`: the recommendation service judged through
 * the product (evaluate.h): split, import, train, serve on a loopback port,
 * ask GET /v1/recommend for every test user over HTTP, score the answers.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/evaluate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar eval movielens --data DIR [options]\n"
    "       northstar eval store --db FILE [--implicit-ratings] [options]\n"
    "       northstar eval csv|jsonl --events FILE --items FILE [--users FILE] [--implicit-ratings] [options]\n"
    "\n"
    "Evaluate the recommendation service as it is served. The positive events\n"
    "are split per user (stratified random, the protocol of Microsoft\n"
    "Recommenders: --ratio 0.75, --seed 42) over distinct (user, item) pairs;\n"
    "the catalogue and the training events go into a store, `northstar train`'s\n"
    "code trains a bundle from it, and the real service (`northstar serve --db\n"
    "STORE --models BUNDLE`) is started on a loopback port; every user with test\n"
    "items is asked GET /v1/recommend/{user}?n=k over HTTP and the answers are\n"
    "scored: Precision@k, Recall@k, nDCG@k, MAP (their `map`), MAP@k (their\n"
    "`map_at_k`), coverage (distinct items served / catalogue), items served\n"
    "that the user had consumed in training, failed requests, latency p50/p99.\n"
    "Row \"served\" is the bundle's own config. Unless --no-variants, derived\n"
    "configs are served the same way: popularity, each channel alone, the\n"
    "merged recall (blend), and the ranked pipeline with or without the\n"
    "diversity rule (whichever the bundle lacks).\n"
    "\n"
    "Input: movielens DIR (u.data, u.item, u.user, u.genre; ratings are implicit\n"
    "feedback); store FILE (a northstar store, read only); csv / jsonl files as\n"
    "`northstar import` reads them. Events naming unknown items are skipped and\n"
    "counted, unknown users are created, duplicate events and events older than\n"
    "their item are kept and counted; users the split leaves without a test item\n"
    "are counted and not asked.\n"
    "\n"
    "  --data DIR        the MovieLens-100K directory (also: movielens DIR)\n"
    "  --db FILE         the store to evaluate on (store)\n"
    "  --events FILE, --items FILE, --users FILE   csv / jsonl input\n"
    "  --implicit-ratings every rating is positive feedback (movielens: always)\n"
    "  --k N             list length (default 10)\n"
    "  --ratio R         training share per user (default 0.75)\n"
    "  --seed N          split seed (default 42)\n"
    "  --lambda X, --method ease|cosine, --neighbours N, --no-ranker, --diversity K\n"
    "                    `northstar train`'s options (defaults: train's; movielens:\n"
    "                    --neighbours 0 --diversity 0 --mf)\n"
    "  --mf, --no-mf     train implicit ALS factors (channel \"mf\"; movielens: on)\n"
    "  --mf-dim N, --mf-alpha X, --mf-lambda X, --mf-iters N\n"
    "                    ALS factors (64), confidence 1 + alpha (4), L2 (40), sweeps (15)\n"
    "  --ranker-drop COLS, --no-rank-select\n"
    "                    train's ranker options (ablations; serve the ranker\n"
    "                    without comparing it with each channel)\n"
    "  --clients N       HTTP client threads (default 4)\n"
    "  --workers N       the server's worker threads (default 2)\n"
    "  --no-variants     the served row only\n"
    "  --work DIR        keep the stores and the trained bundle here\n"
    "  --dump DIR        write train.tsv, test.tsv, each row's predictions and\n"
    "                    metrics.tsv (for bench/service/ml_reference.py)\n"
    "  --json            one JSON object instead of the table\n"
    "  -j, --threads N   training threads (default: all CPUs)\n"
    "  -q, --quiet       no progress display\n";

typedef struct {
    ns_evaluate_opts e;
    int json, no_variants;
} eval_opts;

static const cli_opt opts[] = {
    CLI_STR("data", 0, eval_opts, e.data_dir),
    CLI_OPT_DB(eval_opts, e.db),
    CLI_STR("events", 0, eval_opts, e.events),
    CLI_STR("items", 0, eval_opts, e.items),
    CLI_STR("users", 0, eval_opts, e.users),
    CLI_FLAG("implicit-ratings", 0, eval_opts, e.implicit_ratings),
    CLI_INT("k", 0, eval_opts, e.k, 1, 100),
    CLI_DOUBLE("ratio", 0, eval_opts, e.ratio, 0.01, 0.99),
    CLI_OPT_SEED(eval_opts, e.seed),
    CLI_OPTS_BUNDLE(eval_opts, e.bundle),
    CLI_INT("diversity", 0, eval_opts, e.bundle.diversity, 0, 1000),
    CLI_INT("clients", 0, eval_opts, e.clients, 1, 64),
    CLI_INT("workers", 0, eval_opts, e.workers, 1, 64),
    CLI_FLAG("no-variants", 0, eval_opts, no_variants),
    CLI_STR("work", 0, eval_opts, e.work_dir),
    CLI_STR("dump", 0, eval_opts, e.dump_dir),
    CLI_OPT_JSON(eval_opts, json),
};

static const char *const sources[] = {"store", "movielens", "csv", "jsonl"};

static void print_input(const ns_evaluate_report *r)
{
    const ns_evaluate_input *in = &r->in;
    printf("input: %ld users, %ld items, %ld events (%ld positive, %ld other kept as history)\n", in->users, in->items,
           in->events, in->positives, in->non_positive);
    printf("split: %ld train / %ld test (user, item) pairs; %ld users asked", in->train_pairs, in->test_pairs,
           in->test_users);
    printf("; %ld users without a test item (not asked); %ld asked without training events (cold)\n",
           in->users_no_test, in->users_cold);
    const ns_import_stats *s = &in->imp;
    if (s->skipped || s->duplicates || s->before_created || s->users_created)
        printf("import: %lld rows skipped (%lld naming an unknown item); %lld duplicate rows kept; %lld events older "
               "than their item kept; %lld users created by their events\n",
               (long long)s->skipped, (long long)s->unknown_items, (long long)s->duplicates,
               (long long)s->before_created, (long long)s->users_created);
    if (in->duplicates) printf("duplicates: %ld positive events repeat a (user, item) pair (kept on its side)\n",
                               in->duplicates);
}

static void print_text(const eval_opts *o, const ns_evaluate_report *r)
{
    const ns_evaluate_opts *e = &o->e;
    print_input(r);
    char mf[128] = "";
    if (e->bundle.quota_mf > 0)
        snprintf(mf, sizeof mf, " --mf --mf-dim %d --mf-alpha %g --mf-lambda %g --mf-iters %d", e->bundle.mf.dim,
                 e->bundle.mf.alpha, e->bundle.mf.lambda, e->bundle.mf.iters);
    printf("trained as: northstar train%s --method %s --lambda %g --neighbours %d --diversity %d%s%s (%.1f s, ranker "
           "validation AUC %.4f)\n",
           e->source == NS_EVALUATE_MOVIELENS || e->implicit_ratings ? " --implicit-ratings" : "",
           ns_i2i_method_name(e->bundle.i2i.method), e->bundle.i2i.lambda, e->bundle.i2i.neighbours,
           e->bundle.diversity, mf, e->bundle.ranker ? "" : " --no-ranker", r->bundle.secs_total, r->bundle.val_auc);
    if (r->bundle.mf_users)
        printf("mf: implicit ALS k %d, alpha %g, lambda %g, %d sweeps: %u users x %u items, %.2f s.\n", e->bundle.mf.dim,
               e->bundle.mf.alpha, e->bundle.mf.lambda, e->bundle.mf.iters, r->bundle.mf_users, r->bundle.mf_items,
               r->bundle.secs_mf);
    if (r->bundle.chosen[0])
        printf("served order (train's choice on validation users, pipeline.json \"selection\"): %s (nDCG@10 %.4f; "
               "the ranker %.4f)\n",
               r->bundle.chosen, r->bundle.val_ndcg_chosen, r->bundle.val_ndcg_ranker);
    printf("served by: northstar serve --models (in process, loopback HTTP, %d clients, %d workers); split %.2f/%.2f "
           "seed %llu, top-%d\n\n",
           e->clients, e->workers, e->ratio, 1 - e->ratio, (unsigned long long)e->seed, e->k);
    printf("%-20s %7s %7s %7s %7s %7s %5s %6s %8s %5s %7s %7s\n", "row", "P@k", "R@k", "nDCG@k", "MAP", "MAP@k",
           "users", "cover", "consumed", "fail", "p50 ms", "p99 ms");
    for (int i = 0; i < r->nrows; i++) {
        const ns_evaluate_row *w = &r->rows[i];
        printf("%-20s %7.4f %7.4f %7.4f %7.4f %7.4f %5ld %6.3f %8ld %5ld %7.2f %7.2f\n", w->name, w->m.precision,
               w->m.recall, w->m.ndcg, w->m.map, w->m.map_at_k, w->m.users, w->coverage, w->consumed, w->failed,
               w->p50_ms, w->p99_ms);
    }
    printf("\ncatalogue %ld items; total %.1f s\n", r->catalogue, r->secs);
}

static json_t *row_json(const ns_evaluate_row *w)
{
    return json_pack("{s:s, s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:f, s:f, s:f, s:f}",
                     "name", w->name, "k", w->m.k, "users", (json_int_t)w->m.users, "precision", w->m.precision,
                     "recall", w->m.recall, "ndcg", w->m.ndcg, "map", w->m.map, "map_at_k", w->m.map_at_k, "asked",
                     (json_int_t)w->asked, "failed", (json_int_t)w->failed, "slots", (json_int_t)w->slots,
                     "distinct", (json_int_t)w->distinct, "coverage", w->coverage, "consumed",
                     (json_int_t)w->consumed, "unknown", (json_int_t)w->unknown, "candidates", w->cands, "p50_ms",
                     w->p50_ms, "p99_ms", w->p99_ms, "secs", w->secs);
}

static json_t *input_json(const ns_evaluate_input *in)
{
    const ns_import_stats *s = &in->imp;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I}}",
                     "users", (json_int_t)in->users, "items", (json_int_t)in->items, "events", (json_int_t)in->events,
                     "positives", (json_int_t)in->positives, "duplicate_pairs", (json_int_t)in->duplicates,
                     "non_positive", (json_int_t)in->non_positive, "train_pairs", (json_int_t)in->train_pairs,
                     "test_pairs", (json_int_t)in->test_pairs, "test_users", (json_int_t)in->test_users,
                     "users_no_test", (json_int_t)in->users_no_test, "users_cold", (json_int_t)in->users_cold,
                     "import", "skipped", (json_int_t)s->skipped, "unknown_items", (json_int_t)s->unknown_items,
                     "duplicates", (json_int_t)s->duplicates, "before_created", (json_int_t)s->before_created,
                     "users_created", (json_int_t)s->users_created);
}

static int print_json(const eval_opts *o, const ns_evaluate_report *r)
{
    json_t *rows = json_array();
    for (int i = 0; i < r->nrows; i++) json_array_append_new(rows, row_json(&r->rows[i]));
    const ns_bundle_opts *b = &o->e.bundle;
    json_t *train = json_pack("{s:b, s:s, s:f, s:i, s:i, s:b, s:f, s:f}", "implicit_ratings",
                              o->e.source == NS_EVALUATE_MOVIELENS || o->e.implicit_ratings, "method",
                              ns_i2i_method_name(b->i2i.method), "lambda", b->i2i.lambda, "neighbours",
                              b->i2i.neighbours, "diversity", r->bundle_diversity, "ranker", b->ranker,
                              "ranker_val_auc", r->bundle.val_auc, "secs", r->bundle.secs_total);
    json_t *j = json_pack("{s:s, s:f, s:I, s:i, s:I, s:o, s:f, s:o, s:o}", "source", sources[o->e.source], "ratio",
                          o->e.ratio, "seed", (json_int_t)o->e.seed, "k", o->e.k, "catalogue",
                          (json_int_t)r->catalogue, "train", train, "secs", r->secs, "input", input_json(&r->in),
                          "rows", rows);
    return cli_put_json("eval", j, JSON_COMPACT);
}

/* The source named by the positional argument (movielens may take DIR). */
static int pick_source(eval_opts *o, int argc, char **argv, int r)
{
    if (argc - r < 1) return cli_usage_error("eval", "expected the input: movielens, store, csv or jsonl");
    int s = -1;
    for (int i = 0; i < 4; i++)
        if (!strcmp(argv[r], sources[i])) s = i;
    if (s < 0) return cli_usage_error("eval", "unknown input '%s' (movielens, store, csv or jsonl)", argv[r]);
    if (argc - r > 1 + (s == NS_EVALUATE_MOVIELENS && !o->e.data_dir))
        return cli_usage_error("eval", "unexpected argument '%s'", argv[argc - 1]);
    if (s == NS_EVALUATE_MOVIELENS && argc - r == 2) o->e.data_dir = argv[r + 1];
    o->e.source = (ns_evaluate_source)s;
    if (s == NS_EVALUATE_MOVIELENS && !o->e.data_dir) return cli_usage_error("eval", "--data DIR is required");
    if (s == NS_EVALUATE_STORE && !o->e.db) return cli_usage_error("eval", "--db FILE is required");
    if (s >= NS_EVALUATE_CSV && (!o->e.events || !o->e.items))
        return cli_usage_error("eval", "--events FILE and --items FILE are required for %s", sources[s]);
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    /* The source decides the defaults, so look at it before the options. */
    int ml = 0;
    for (int i = 1; i < argc; i++) ml |= !strcmp(argv[i], "movielens");
    eval_opts o = {ml ? ns_evaluate_movielens_defaults() : ns_evaluate_defaults(), 0, 0};
    int r = CLI_PARSE(argc, argv, "eval", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    int rc = pick_source(&o, argc, argv, r);
    if (rc) return rc;
    o.e.variants = !o.no_variants;
    ns_evaluate_report *rep = ns_calloc(1, sizeof *rep);
    if (!rep || ns_evaluate_run(&o.e, rep) < 0) {
        free(rep);
        return cli_fail("eval");
    }
    if (o.json) rc = print_json(&o, rep);
    else print_text(&o, rep), rc = CLI_OK;
    free(rep);
    return rc;
}
