/*
 * cmd_train.c — `northstar train`: train every model of the recommendation
 * pipeline from a store (bundle.h, ns_bundle_train) into one directory
 * that `northstar serve --models DIR` (or --config DIR/pipeline.json) loads
 * and POST /admin/reload swaps in.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/dataset.h"
#include "northstar/bundle.h"
#include "northstar/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar train --db FILE --out DIR [options]\n"
    "\n"
    "Train the recommendation pipeline's models from the store's events and\n"
    "write them with the pipeline config that loads them (DIR/pipeline.json):\n"
    "  i2i.safetensors      EASE (closed-form item-item regression) or cosine item-kNN\n"
    "  mf.safetensors       implicit ALS user and item factors (with --mf)\n"
    "  items.vec/.hnsw      item vectors (word2vec over time-ordered histories) + HNSW\n"
    "  keyword.bm25/.terms  BM25 over item title + text, and each item's key words\n"
    "  ranker.safetensors   Wide & Deep over user, item, context, real-time and\n"
    "                       recall features, learnt from impressions and clicks when\n"
    "                       the store has them, else from held-out positives\n"
    "Then: northstar serve --db FILE --models DIR, or POST /admin/reload to a\n"
    "server already running with that directory.\n"
    "\n"
    "  --db FILE            the store (read only)\n"
    "  --out DIR            output directory (created)\n"
    "  --implicit-ratings   every rating is positive feedback (default: ratings >=\n"
    "                       the threshold are positive, lower ones negative)\n"
    "  --positive-threshold X  ratings >= X are positive (default 3.5)\n"
    "  --weights LIST       what an event of a type counts in popularity and\n"
    "                       co-clicks, e.g. click=1,purchase=3 (default 1 each)\n"
    "                       These three describe the data: they are written to\n"
    "                       DIR/pipeline.json (\"data\") and serve --models uses them.\n"
    "  --method M           ease (default) or cosine\n"
    "  --lambda X           EASE regularisation (default 300)\n"
    "  --max-items N        EASE: model the N most popular items (default 5000)\n"
    "  --neighbours N       weights kept per item (default 200; 0 = all)\n"
    "  --mf, --no-mf        train implicit ALS factors (mf.safetensors, channel \"mf\";\n"
    "                       default off: it scores every item per request)\n"
    "  --mf-dim N           ALS factors per user and item (default 64)\n"
    "  --mf-alpha X         ALS confidence of a positive, 1 + X (default 4)\n"
    "  --mf-lambda X        ALS L2 strength (default 40)\n"
    "  --mf-iters N         ALS sweeps (default 15)\n"
    "  --no-vectors         no item vectors / vector channel\n"
    "  --no-keyword         no keyword index / keyword channel\n"
    "  --no-ranker          no Wide & Deep model (the config ranks with the blend)\n"
    "  --epochs N           ranker epochs at most (default 10, early stopping)\n"
    "  --max-examples N     ranker training rows at most (default 600000)\n"
    "  --diversity K        at most K items per category in a list (default 3; 0 = off)\n"
    "  --strict             fail, writing no pipeline.json, when the ranker is weak\n"
    "                       (validation AUC < 0.55, or it does not beat every channel\n"
    "                       alone on validation users); else that is a warning\n"
    "  --ranker-drop COLS   ranker columns left out, comma-separated (\"raw:\" = every\n"
    "                       raw:<channel>; for ablations)\n"
    "  --no-rank-select     serve the ranker without comparing it, on 15% of the\n"
    "                       users kept out of its rows, with each channel alone\n"
    "  --seed N             (default 1)\n"
    "  -j, --threads N      threads (default: all CPUs)\n"
    "  -q, --quiet          no progress display\n";

typedef struct {
    const char *db;
    int implicit;
    double threshold;
    const char *weights;
    ns_bundle_opts b;
} train_opts;

static const cli_opt opts[] = {
    CLI_OPT_DB(train_opts, db),
    CLI_STR("out", 0, train_opts, b.out_dir),
    CLI_FLAG("implicit-ratings", 0, train_opts, implicit),
    CLI_DOUBLE("positive-threshold", 0, train_opts, threshold, 1e-9, 1e9),
    CLI_STR("weights", 0, train_opts, weights),
    CLI_OPTS_BUNDLE(train_opts, b),
    CLI_INT("max-items", 0, train_opts, b.i2i.max_items, 1, 40000),
    CLI_SET("no-vectors", 0, train_opts, b.vectors, 0),
    CLI_SET("no-keyword", 0, train_opts, b.keyword, 0),
    CLI_INT("epochs", 0, train_opts, b.rank_epochs, 1, 1000),
    CLI_INT("max-examples", 0, train_opts, b.max_examples, 1000, 100000000),
    CLI_INT("diversity", 0, train_opts, b.diversity, 0, 1000),
    CLI_FLAG("strict", 0, train_opts, b.strict),
    CLI_OPT_SEED(train_opts, b.seed),
};

/* --weights click=1,purchase=3: into w[type]. */
static int parse_weights(const char *list, double *w)
{
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ','), *eq = strchr(p, '=');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char name[32];
        if (!eq || (e && eq > e) || (size_t)(eq - p) >= sizeof name)
            return cli_usage_error("train", "--weights: expected TYPE=W[,TYPE=W...], got '%.*s'", (int)n, p);
        snprintf(name, sizeof name, "%.*s", (int)(eq - p), p);
        int t = ns_event_type_parse(name);
        char *end;
        double v = strtod(eq + 1, &end);
        if (t != NS_EV_CLICK && t != NS_EV_LIKE && t != NS_EV_PURCHASE && t != NS_EV_RATING)
            return cli_usage_error("train", "--weights: '%s' is not click, like, purchase or rating", name);
        if (end == eq + 1 || (e ? end != e : *end != 0) || !(v >= 1e-6 && v <= 1e6))
            return cli_usage_error("train", "--weights: the weight of %s must be a number in 1e-6..1e6", name);
        w[t] = v;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int cmd_train(int argc, char **argv)
{
    train_opts o = {NULL, 0, 0, NULL, ns_bundle_defaults()};
    int r = CLI_PARSE(argc, argv, "train", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[r]);
    if (!o.db) return cli_usage_error("train", "--db FILE is required");
    if (!o.b.out_dir) return cli_usage_error("train", "--out DIR is required");
    double weights[NS_EV__COUNT] = {0};
    if ((r = parse_weights(o.weights, weights)) != 0) return r;
    ns_store_opts so = ns_store_defaults();
    so.readonly = 1;
    ns_store *st;
    if (!ns_file_exists(o.db)) return cli_usage_error("train", "no store at %s", o.db);
    if (ns_store_open(&st, o.db, &so) < 0) return cli_fail("train");
    ns_dataset d;
    if (ns_dataset_init(&d) < 0) {
        ns_store_close(st);
        return cli_fail("train");
    }
    d.implicit_ratings = o.implicit;
    d.positive_threshold = o.threshold;
    memcpy(d.weights, weights, sizeof weights);
    int rc = ns_dataset_from_store(&d, st);
    ns_store_close(st);
    ns_bundle_stats bs;
    if (rc >= 0) rc = ns_bundle_train(&d, NULL, &o.b, &bs);
    if (rc < 0) {
        ns_dataset_release(&d);
        return cli_fail("train");
    }
    printf("northstar train: %u users, %u items, %zu events -> %s (%.1f s)\n", (unsigned)ns_strmap_count(d.uids),
           (unsigned)ns_strmap_count(d.iids), d.nev, o.b.out_dir, bs.secs_total);
    printf("  i2i (%s): %u items, %.1f s\n", ns_i2i_method_name(o.b.i2i.method), bs.i2i_items, bs.secs_i2i);
    if (bs.mf_users) printf("  mf (implicit ALS, k %d): %u users, %u items, %.1f s\n", o.b.mf.dim, bs.mf_users, bs.mf_items, bs.secs_mf);
    if (o.b.vectors) printf("  item vectors: %u items, %.1f s\n", bs.vec_items, bs.secs_vectors);
    if (o.b.keyword) printf("  keyword index: %u items, %.1f s\n", d.nitems, bs.secs_keyword);
    if (bs.ranker_mode)
        printf("  ranker (%s mode): %ld examples (%ld positive) in %.1f s, trained in %.1f s, validation AUC %.4f\n",
               bs.ranker_mode == 2 ? "impressions" : "ratings", bs.examples, bs.positives, bs.secs_examples,
               bs.secs_ranker, bs.val_auc);
    if (bs.chosen[0])
        printf("  served order: %s (validation nDCG@10 %.4f; the ranker %.4f; pipeline.json \"selection\" has each)\n",
               bs.chosen, bs.val_ndcg_chosen, bs.val_ndcg_ranker);
    printf("serve it: northstar serve --db %s --models %s\n", o.db, o.b.out_dir);
    ns_dataset_release(&d);
    return CLI_OK;
}
