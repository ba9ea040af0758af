/*
 * cmd_train.c — `northstar train`: train every model of the recommendation
 * pipeline from a store (offline.h, ns_bundle_train) into one directory
 * that `northstar serve --models DIR` (or --config DIR/pipeline.json) loads
 * and POST /admin/reload swaps in.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/offline.h"
#include "northstar/store.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar train --db FILE --out DIR [options]\n"
    "\n"
    "Train the recommendation pipeline's models from the store's events and\n"
    "write them with the pipeline config that loads them (DIR/pipeline.json):\n"
    "  i2i.safetensors      EASE (closed-form item-item regression) or cosine item-kNN\n"
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
    "  --implicit-ratings   every rating is positive feedback (default: >= 3.5)\n"
    "  --method M           ease (default) or cosine\n"
    "  --lambda X           EASE regularisation (default 300)\n"
    "  --max-items N        EASE: model the N most popular items (default 5000)\n"
    "  --neighbours N       weights kept per item (default 200; 0 = all)\n"
    "  --no-vectors         no item vectors / vector channel\n"
    "  --no-keyword         no keyword index / keyword channel\n"
    "  --no-ranker          no Wide & Deep model (the config ranks with the blend)\n"
    "  --epochs N           ranker epochs at most (default 10, early stopping)\n"
    "  --max-examples N     ranker training rows at most (default 600000)\n"
    "  --diversity K        at most K items per category in a list (default 3; 0 = off)\n"
    "  --seed N             (default 1)\n"
    "  -j, --threads N      threads (default: all CPUs)\n"
    "  -q, --quiet          no progress display\n";

typedef struct {
    const char *db;
    int implicit;
    ns_bundle_opts b;
} train_opts;

enum { O_IMPL = 256, O_METHOD, O_LAMBDA, O_MAXI, O_NBR, O_NOVEC, O_NOKW, O_NORK, O_EPOCHS, O_MAXEX, O_DIV, O_SEED };

static int on_opt(int c, const char *arg, void *ctx)
{
    train_opts *o = ctx;
    long v;
    double x;
    int r = 0;
    switch (c) {
    case 'd': o->db = arg; return 0;
    case 'o': o->b.out_dir = arg; return 0;
    case O_IMPL: o->implicit = 1; return 0;
    case O_METHOD:
        if (ns_i2i_method_parse(arg, &o->b.i2i.method) < 0) return cli_usage_error("train", "--method must be ease or cosine");
        return 0;
    case O_LAMBDA: r = cli_double("train", "--lambda", arg, 1e-6, 1e9, &x); o->b.i2i.lambda = x; return r;
    case O_MAXI: r = cli_int("train", "--max-items", arg, 1, 40000, &v); o->b.i2i.max_items = (int)v; return r;
    case O_NBR: r = cli_int("train", "--neighbours", arg, 0, 1000000, &v); o->b.i2i.neighbours = (int)v; return r;
    case O_NOVEC: o->b.vectors = 0; return 0;
    case O_NOKW: o->b.keyword = 0; return 0;
    case O_NORK: o->b.ranker = 0; return 0;
    case O_EPOCHS: r = cli_int("train", "--epochs", arg, 1, 1000, &v); o->b.rank_epochs = (int)v; return r;
    case O_MAXEX: r = cli_int("train", "--max-examples", arg, 1000, 100000000, &v); o->b.max_examples = (int)v; return r;
    case O_DIV: r = cli_int("train", "--diversity", arg, 0, 1000, &v); o->b.diversity = (int)v; return r;
    case O_SEED: r = cli_int("train", "--seed", arg, 0, 1L << 62, &v); o->b.seed = (uint64_t)v; return r;
    }
    return 1;
}

int cmd_train_rec(int argc, char **argv)
{
    train_opts o = {NULL, 0, ns_bundle_defaults()};
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"implicit-ratings", no_argument, NULL, O_IMPL},
                                         {"method", required_argument, NULL, O_METHOD},
                                         {"lambda", required_argument, NULL, O_LAMBDA},
                                         {"max-items", required_argument, NULL, O_MAXI},
                                         {"neighbours", required_argument, NULL, O_NBR},
                                         {"no-vectors", no_argument, NULL, O_NOVEC},
                                         {"no-keyword", no_argument, NULL, O_NOKW},
                                         {"no-ranker", no_argument, NULL, O_NORK},
                                         {"epochs", required_argument, NULL, O_EPOCHS},
                                         {"max-examples", required_argument, NULL, O_MAXEX},
                                         {"diversity", required_argument, NULL, O_DIV},
                                         {"seed", required_argument, NULL, O_SEED},
                                         {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "train", usage, "", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("train", "unexpected argument '%s'", argv[r]);
    if (!o.db) return cli_usage_error("train", "--db FILE is required");
    if (!o.b.out_dir) return cli_usage_error("train", "--out DIR is required");
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
    if (o.b.vectors) printf("  item vectors: %u items, %.1f s\n", bs.vec_items, bs.secs_vectors);
    if (o.b.keyword) printf("  keyword index: %u items, %.1f s\n", d.nitems, bs.secs_keyword);
    if (bs.ranker_mode)
        printf("  ranker (%s mode): %ld examples (%ld positive) in %.1f s, trained in %.1f s, validation AUC %.4f\n",
               bs.ranker_mode == 2 ? "impressions" : "ratings", bs.examples, bs.positives, bs.secs_examples,
               bs.secs_ranker, bs.val_auc);
    printf("serve it: northstar serve --db %s --models %s\n", o.db, o.b.out_dir);
    ns_dataset_release(&d);
    return CLI_OK;
}
