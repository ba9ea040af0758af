/*
 * cmd_rank_train.c — `northstar rank train`: fit a feature spec on a
 * training file, train a wide (FTRL), deep or Wide & Deep ranker on it with
 * early stopping on a held-out share, save model + fitted spec, and with
 * --test evaluate it.
 */
#include "cli.h"
#include "rank_common.h"
#include "northstar/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar rank train --spec SPEC.json --out MODEL [options] TRAIN_FILE\n"
    "\n"
    "Click-through / conversion rankers over declared features: 'wide' (logistic\n"
    "regression with FTRL-proximal), 'deep' (embeddings + ReLU MLP) and 'wide_deep'\n"
    "(both, trained jointly: FTRL with L1 on the wide part, Adam or Adagrad on the deep\n"
    "part). The feature spec (JSON: columns, numeric transforms log1p/pow/clip/zscore/\n"
    "minmax/cyclic, buckets by boundaries or fitted quantiles, vocabularies with\n"
    "min_count, hashing, crosses, embeddings, multi-valued 'a|b|c' bags; see\n"
    "include/northstar/feature.h) is fitted on TRAIN_FILE and saved inside MODEL.\n"
    "\n"
    "  --spec FILE          feature spec (required)\n"
    "  --out FILE           model file to write (safetensors)\n"
    "  --test FILE          evaluate on this labelled file after training\n"
    "  --model M            wide | deep | wide_deep (default wide_deep)\n"
    "  --hidden W,W,...     MLP widths (default 100,50; '' = none)\n"
    "  --batch N            mini-batch size (default 256)\n"
    "  --epochs N           maximum epochs (default 10)\n"
    "  --optimizer O        deep part: adam (dense, default) | adagrad (sparse embedding rows)\n"
    "  --lr X               deep learning rate (default 0.001 Adam, 0.05 Adagrad)\n"
    "  --ftrl-alpha X, --ftrl-beta X, --l1 X, --l2 X   wide FTRL (1, 1, 0.1, 0.5)\n"
    "  --emb-std X          embedding init N(0, X) (default 0.05)\n"
    "  --val-fraction X     rows held out for early stopping (default 0.1; 0 = none)\n"
    "  --patience N         epochs without a better validation AUC before stopping (2)\n"
    "  --class-weight W0,W1 | balanced   loss weights of label 0 and 1 (default 1,1)\n"
    "  --seed N             random seed (default 1); results repeat for a seed and thread count\n"
    "  --train-threads N    threads a batch is split across (default 0 = auto: -j threads when\n"
    "                       a batch is >= 32 MFLOP of work, else 1, which is faster for small\n"
    "                       models on a busy machine); -j still sets evaluation threads\n"
    "  --json               print the training/eval summary as one JSON object\n"
    "  --format F           csv | tsv | adult | criteo (default: the spec's)\n"
    "\n"
    "Input handling (the same at train, eval, predict and serving time):\n"
    "  csv/tsv: a header names the columns unless the spec sets \"header\": false and\n"
    "  lists \"columns\"; adult: UCI Adult rows (', ' separated, '?' missing, test\n"
    "  labels ending in '.', the '|1x3 Cross validator' line skipped); criteo: raw\n"
    "  tab-separated label, I1..I13, C1..C26. Blank lines are skipped. A row must have\n"
    "  every column (predict also accepts rows without the label column); a row with\n"
    "  missing or extra columns, text in a numeric column or a bad label is an error\n"
    "  naming file, line and column. Missing values ('', '?' or the spec's na_values),\n"
    "  NaN and +-inf in numeric columns take the feature's fill value (default: the\n"
    "  training mean after transforms, i.e. 0 after zscore) and their own 'missing'\n"
    "  bucket. Categories unseen in training (or below min_count) map to the\n"
    "  out-of-vocabulary id; hashed columns need no vocabulary.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

typedef struct {
    const char *spec, *out, *test, *format;
    ns_rank_cfg cfg;
    double lr; /* < 0: the optimizer's default */
    int json;
} train_opts;

static int parse_kind(const char *cmd, const char *opt, const char *arg, void *field)
{
    (void)opt;
    if (ns_rank_kind_from_name(arg, field) < 0) return cli_usage_error(cmd, "%s", ns_err_msg());
    return 0;
}

/* --hidden W,W,...: widths 1..65536, at most NS_RANK_MAX_HIDDEN ('' = none). */
static int parse_hidden(const char *cmd, const char *opt, const char *arg, void *field)
{
    ns_rank_cfg *g = field;
    int n = 0;
    for (const char *p = arg; *p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 65536 || n == NS_RANK_MAX_HIDDEN || (*end && *end != ','))
            return cli_usage_error(cmd, "%s expects widths like 100,50 (at most %d)", opt, NS_RANK_MAX_HIDDEN);
        g->hidden[n++] = (int)x;
        p = *end ? end + 1 : end;
    }
    g->n_hidden = n;
    return 0;
}

/* --class-weight W0,W1 | balanced */
static int parse_class_weight(const char *cmd, const char *opt, const char *arg, void *field)
{
    ns_rank_cfg *g = field;
    if (!strcmp(arg, "balanced")) {
        g->balanced = 1;
        return 0;
    }
    double a, b;
    char tail;
    if (sscanf(arg, "%lf,%lf%c", &a, &b, &tail) != 2 || !(a >= 0) || !(b >= 0) || !isfinite(a) || !isfinite(b))
        return cli_usage_error(cmd, "%s expects W0,W1 or balanced, got '%s'", opt, arg);
    g->class_weight[0] = (float)a;
    g->class_weight[1] = (float)b;
    return 0;
}

static const cli_choice optimizers[] = {{"adam", NS_RANK_ADAM}, {"adagrad", NS_RANK_ADAGRAD}, {NULL, 0}};

static const cli_opt opts[] = {
    CLI_STR("spec", 0, train_opts, spec),
    CLI_STR("out", 0, train_opts, out),
    CLI_STR("test", 0, train_opts, test),
    CLI_CALL("model", 0, train_opts, cfg.kind, ns_rank_kind, parse_kind),
    CLI_CALL("hidden", 0, train_opts, cfg, ns_rank_cfg, parse_hidden),
    CLI_INT("batch", 0, train_opts, cfg.batch, 1, 1 << 20),
    CLI_INT("epochs", 0, train_opts, cfg.epochs, 0, 100000),
    CLI_CHOICE("optimizer", 0, train_opts, cfg.deep_opt, optimizers),
    CLI_DOUBLE("lr", 0, train_opts, lr, 1e-9, 100),
    CLI_FLOAT("ftrl-alpha", 0, train_opts, cfg.ftrl.alpha, 1e-9, 100),
    CLI_FLOAT("ftrl-beta", 0, train_opts, cfg.ftrl.beta, 0, 1e6),
    CLI_FLOAT("l1", 0, train_opts, cfg.ftrl.l1, 0, 1e6),
    CLI_FLOAT("l2", 0, train_opts, cfg.ftrl.l2, 0, 1e6),
    CLI_FLOAT("emb-std", 0, train_opts, cfg.emb_init_std, 0, 10),
    CLI_FLOAT("val-fraction", 0, train_opts, cfg.val_fraction, 0, 0.9),
    CLI_INT("patience", 0, train_opts, cfg.patience, 1, 100000),
    CLI_CALL("class-weight", 0, train_opts, cfg, ns_rank_cfg, parse_class_weight),
    CLI_OPT_SEED(train_opts, cfg.seed),
    CLI_INT("train-threads", 0, train_opts, cfg.threads, 0, 1024),
    CLI_OPT_JSON(train_opts, json),
    RANK_OPT_FORMAT(train_opts, format),
};

/* Hold out a seeded val_fraction of `all` in *va, the rest in *tr; none
 * when the share rounds to no row or every row (then *train = all). */
static int split(const train_opts *o, const ns_feature_spec *spec, const ns_fdata *all, ns_fdata *tr, ns_fdata *va,
                 const ns_fdata **train, const ns_fdata **val)
{
    *train = all;
    *val = NULL;
    int nval = (int)(all->n * (double)o->cfg.val_fraction);
    if (nval <= 0 || nval >= all->n) return NS_OK;
    int *idx = ns_malloc(sizeof(int) * (size_t)all->n);
    int rc = idx ? ns_fdata_init(tr, spec) : NS_ENOMEM;
    if (rc >= 0) rc = ns_fdata_init(va, spec);
    if (rc >= 0) {
        for (int i = 0; i < all->n; i++) idx[i] = i;
        ns_rng rng;
        ns_rng_seed(&rng, o->cfg.seed, 77);
        ns_rng_shuffle_u32(&rng, (uint32_t *)idx, (size_t)all->n);
        rc = ns_fdata_gather(va, all, idx, nval);
        if (rc >= 0) rc = ns_fdata_gather(tr, all, idx + nval, all->n - nval);
    }
    free(idx);
    if (rc >= 0) *train = tr, *val = va;
    return rc;
}

static void print_summary(const train_opts *o, const ns_fdata *all, const ns_fdata *train, const ns_fdata *val,
                          const ns_rank_train_stats *st, double t_read, const ns_rank_metrics *test)
{
    if (o->json) {
        printf("{\"model\":\"%s\",\"rows\":%d,\"train_rows\":%d,\"val_rows\":%d,\"epochs\":%d,\"best_epoch\":%d,"
               "\"threads\":%d,\"read_seconds\":%.4f,\"train_seconds\":%.4f,\"examples_per_s\":%.1f,\"last_loss\":%.6f",
               ns_rank_kind_name(o->cfg.kind), all->n, train->n, val ? val->n : 0, st->epochs, st->best_epoch,
               st->threads, t_read, st->train_seconds, st->examples_per_s, st->last_loss);
        if (isfinite(st->best_val_auc)) printf(",\"best_val_auc\":%.6f", st->best_val_auc);
        if (test) {
            printf(",");
            rank_json_metrics("test", test);
        }
        printf("}\n");
        return;
    }
    char rate[32];
    ns_format_count(rate, sizeof rate, st->examples_per_s);
    printf("trained %s on %d rows (%d held out): %d epochs (best %d), %.2fs in the training loop, %s examples/s, "
           "%d threads\n", ns_rank_kind_name(o->cfg.kind), train->n, val ? val->n : 0, st->epochs, st->best_epoch,
           st->train_seconds, rate, st->threads);
    if (isfinite(st->best_val_auc)) printf("validation AUC %.4f\n", st->best_val_auc);
    if (test) rank_print_metrics(o->test, test, 1);
    printf("saved %s\n", o->out);
}

int cmd_rank_train(int argc, char **argv)
{
    train_opts o = {NULL, NULL, NULL, NULL, ns_rank_defaults(), -1, 0};
    int r = CLI_PARSE(argc, argv, RANK_CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error(RANK_CMD, "train takes exactly one TRAIN_FILE");
    if (!o.out) return cli_usage_error(RANK_CMD, "train needs --out MODEL");
    if (!o.spec) return cli_usage_error(RANK_CMD, "--spec FILE is required");
    if (o.lr >= 0) o.cfg.lr = (float)o.lr;
    else if (o.cfg.deep_opt == NS_RANK_ADAGRAD) o.cfg.lr = 0.05f;
    ns_feature_spec *spec;
    if (rank_load_spec(o.spec, o.format, &spec) < 0) return cli_fail(RANK_CMD);
    ns_fdata all, tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    ns_ranker *m = NULL;
    double t0 = ns_now();
    if (ns_fdata_read_file(spec, argv[r], 1, 1, &all) < 0) {
        ns_fspec_free(spec);
        return cli_fail(RANK_CMD);
    }
    double t_read = ns_now() - t0;
    const ns_fdata *train, *val;
    ns_rank_train_stats st;
    ns_rank_metrics tm;
    int rc = split(&o, spec, &all, &tr, &va, &train, &val);
    if (rc >= 0) rc = ns_ranker_new(&m, &o.cfg, spec); /* m owns spec from here */
    if (rc < 0 && !m) ns_fspec_free(spec);
    if (rc >= 0) rc = ns_ranker_train(m, train, val, &st);
    if (rc >= 0) rc = ns_ranker_save(m, o.out);
    if (rc >= 0 && o.test) rc = rank_eval_file(m, o.test, o.format, &tm);
    if (rc >= 0) print_summary(&o, &all, train, val, &st, t_read, o.test ? &tm : NULL);
    ns_ranker_free(m);
    ns_fdata_release(&all);
    ns_fdata_release(&tr);
    ns_fdata_release(&va);
    return rc < 0 ? cli_fail(RANK_CMD) : CLI_OK;
}
