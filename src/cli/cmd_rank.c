/*
 * cmd_rank.c — `northstar rank train|eval|predict|inspect|featurize`: the
 * feature-driven rankers (wide FTRL logistic regression, deep, Wide & Deep)
 * from the command line. Training fits the feature spec on the training
 * file and stores the fitted spec in the model, so eval/predict/serving
 * transform rows exactly as training did.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/feature.h"
#include "northstar/rank.h"
#include "northstar/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar rank train --spec SPEC.json --out MODEL [options] TRAIN_FILE\n"
    "       northstar rank eval [--json] [--format F] MODEL FILE\n"
    "       northstar rank predict [--format F] [--with-label] MODEL [FILE|-]\n"
    "       northstar rank inspect [--top N] [--spec-json] MODEL\n"
    "       northstar rank featurize --spec SPEC.json --out FEATURES TRAIN_FILE [TEST_FILE]\n"
    "\n"
    "Click-through / conversion rankers over declared features: 'wide' (logistic\n"
    "regression with FTRL-proximal), 'deep' (embeddings + ReLU MLP) and 'wide_deep'\n"
    "(both, trained jointly: FTRL with L1 on the wide part, Adam or Adagrad on the deep\n"
    "part). The feature spec (JSON: columns, numeric transforms log1p/pow/clip/zscore/\n"
    "minmax/cyclic, buckets by boundaries or fitted quantiles, vocabularies with\n"
    "min_count, hashing, crosses, embeddings, multi-valued 'a|b|c' bags; see\n"
    "include/northstar/feature.h) is fitted on TRAIN_FILE and saved inside MODEL.\n"
    "\n"
    "train     fit the spec, train, save MODEL (safetensors); --test FILE also evaluates\n"
    "eval      AUC, log loss, accuracy and a calibration table (predicted vs observed\n"
    "          positive rate in 10 probability bins, ECE) on a labelled FILE\n"
    "predict   stream rows (FILE or stdin) to one probability per line\n"
    "inspect   the model config, the fitted spec and the heaviest wide weights\n"
    "featurize write the encoded features of TRAIN_FILE (fitting the spec) and\n"
    "          TEST_FILE as safetensors, for reference implementations (bench/rank)\n"
    "\n"
    "Training options:\n"
    "  --spec FILE          feature spec (required for train/featurize)\n"
    "  --out FILE           model (or features) file to write\n"
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
    "Input options:\n"
    "  --format F           csv | tsv | adult | criteo (default: the spec's)\n"
    "  --with-label         predict: print 'probability<TAB>label'\n"
    "  --top N              inspect: how many wide weights (default 20)\n"
    "  --spec-json          inspect: print the fitted spec as JSON\n"
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

typedef struct opts {
    const char *spec, *out, *test, *format;
    ns_rank_cfg cfg;
    int lr_set, json, with_label, top, spec_json;
} opts;

enum {
    O_SPEC = 1000, O_OUT, O_TEST, O_MODEL, O_HIDDEN, O_BATCH, O_EPOCHS, O_OPT, O_LR, O_FA, O_FB, O_L1, O_L2,
    O_EMBSTD, O_VAL, O_PAT, O_CW, O_SEED, O_JSON, O_FORMAT, O_WITHLABEL, O_TOP, O_SPECJSON, O_TTHREADS
};

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 1 || x > 65536 || n == max) return -1;
        v[n++] = (int)x;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}

static int on_opt(int c, const char *arg, void *ctx)
{
    opts *o = ctx;
    ns_rank_cfg *g = &o->cfg;
    long lv;
    double dv;
    int rc = 0;
    switch (c) {
    case O_SPEC: o->spec = arg; break;
    case O_OUT: o->out = arg; break;
    case O_TEST: o->test = arg; break;
    case O_FORMAT: o->format = arg; break;
    case O_MODEL:
        if (ns_rank_kind_from_name(arg, &g->kind) < 0) return cli_usage_error("rank", "%s", ns_err_msg());
        break;
    case O_HIDDEN:
        g->n_hidden = parse_list(arg, g->hidden, NS_RANK_MAX_HIDDEN);
        if (g->n_hidden < 0) return cli_usage_error("rank", "--hidden expects widths like 100,50 (at most %d)", NS_RANK_MAX_HIDDEN);
        break;
    case O_BATCH: if ((rc = cli_int("rank", "--batch", arg, 1, 1 << 20, &lv)) == 0) g->batch = (int)lv; break;
    case O_EPOCHS: if ((rc = cli_int("rank", "--epochs", arg, 0, 100000, &lv)) == 0) g->epochs = (int)lv; break;
    case O_PAT: if ((rc = cli_int("rank", "--patience", arg, 1, 100000, &lv)) == 0) g->patience = (int)lv; break;
    case O_TOP: if ((rc = cli_int("rank", "--top", arg, 1, 1000000, &lv)) == 0) o->top = (int)lv; break;
    case O_TTHREADS: if ((rc = cli_int("rank", "--train-threads", arg, 0, 1024, &lv)) == 0) g->threads = (int)lv; break;
    case O_SEED: if ((rc = cli_int("rank", "--seed", arg, 0, 0x7fffffffL, &lv)) == 0) g->seed = (uint64_t)lv; break;
    case O_OPT:
        if (!strcmp(arg, "adam")) g->deep_opt = NS_RANK_ADAM;
        else if (!strcmp(arg, "adagrad")) g->deep_opt = NS_RANK_ADAGRAD;
        else return cli_usage_error("rank", "--optimizer expects adam or adagrad, got '%s'", arg);
        break;
    case O_LR: if ((rc = cli_double("rank", "--lr", arg, 1e-9, 100, &dv)) == 0) { g->lr = (float)dv; o->lr_set = 1; } break;
    case O_FA: if ((rc = cli_double("rank", "--ftrl-alpha", arg, 1e-9, 100, &dv)) == 0) g->ftrl.alpha = (float)dv; break;
    case O_FB: if ((rc = cli_double("rank", "--ftrl-beta", arg, 0, 1e6, &dv)) == 0) g->ftrl.beta = (float)dv; break;
    case O_L1: if ((rc = cli_double("rank", "--l1", arg, 0, 1e6, &dv)) == 0) g->ftrl.l1 = (float)dv; break;
    case O_L2: if ((rc = cli_double("rank", "--l2", arg, 0, 1e6, &dv)) == 0) g->ftrl.l2 = (float)dv; break;
    case O_EMBSTD: if ((rc = cli_double("rank", "--emb-std", arg, 0, 10, &dv)) == 0) g->emb_init_std = (float)dv; break;
    case O_VAL: if ((rc = cli_double("rank", "--val-fraction", arg, 0, 0.9, &dv)) == 0) g->val_fraction = (float)dv; break;
    case O_CW:
        if (!strcmp(arg, "balanced")) g->balanced = 1;
        else {
            double a, b;
            char tail;
            if (sscanf(arg, "%lf,%lf%c", &a, &b, &tail) != 2 || !(a >= 0) || !(b >= 0) || !isfinite(a) || !isfinite(b))
                return cli_usage_error("rank", "--class-weight expects W0,W1 or balanced, got '%s'", arg);
            g->class_weight[0] = (float)a;
            g->class_weight[1] = (float)b;
        }
        break;
    case O_JSON: o->json = 1; break;
    case O_WITHLABEL: o->with_label = 1; break;
    case O_SPECJSON: o->spec_json = 1; break;
    default: break;
    }
    return rc;
}

static void print_metrics(const char *what, const ns_rank_metrics *mt, int table)
{
    printf("%s: n %ld  AUC %.4f  logloss %.4f  accuracy %.4f  positive rate %.4f  mean p %.4f  ECE %.4f\n", what,
           mt->n, mt->auc, mt->logloss, mt->accuracy, mt->pos_rate, mt->mean_pred, mt->ece);
    if (!table) return;
    printf("  calibration   bin        n   predicted  observed\n");
    for (int b = 0; b < NS_RANK_CAL_BINS; b++)
        if (mt->bin_n[b])
            printf("                [%.1f,%.1f) %7ld   %.4f     %.4f\n", b / 10.0, (b + 1) / 10.0, mt->bin_n[b],
                   mt->bin_pred[b], mt->bin_obs[b]);
}

static void json_metrics(const char *key, const ns_rank_metrics *mt)
{
    printf("\"%s\":{\"n\":%ld,\"auc\":%.6f,\"logloss\":%.6f,\"accuracy\":%.6f,\"pos_rate\":%.6f,\"mean_pred\":%.6f,"
           "\"ece\":%.6f,\"calibration\":[", key, mt->n, mt->auc, mt->logloss, mt->accuracy, mt->pos_rate,
           mt->mean_pred, mt->ece);
    int first = 1;
    for (int b = 0; b < NS_RANK_CAL_BINS; b++)
        if (mt->bin_n[b]) {
            printf("%s{\"lo\":%.1f,\"n\":%ld,\"pred\":%.6f,\"obs\":%.6f}", first ? "" : ",", b / 10.0, mt->bin_n[b],
                   mt->bin_pred[b], mt->bin_obs[b]);
            first = 0;
        }
    printf("]}");
}

/* Read and encode a labelled file with a fitted spec, then compute metrics. */
static int eval_file(const ns_ranker *m, const char *path, const char *format, ns_rank_metrics *mt)
{
    ns_feature_spec *spec = (ns_feature_spec *)ns_ranker_spec(m);
    ns_input_format saved = ns_fspec_format(spec), f;
    if (format) {
        if (ns_format_from_name(format, &f) < 0) return -1;
        ns_fspec_set_format(spec, f);
    }
    ns_fdata d;
    int rc = ns_fdata_read_file(spec, path, 0, 1, &d);
    ns_fspec_set_format(spec, saved);
    if (rc < 0) return rc;
    float *p = ns_malloc(sizeof(float) * (size_t)d.n);
    rc = p ? ns_ranker_predict_all(m, &d, p) : NS_ENOMEM;
    if (rc >= 0) rc = ns_rank_metrics_compute(p, d.label, d.n, mt);
    free(p);
    ns_fdata_release(&d);
    return rc;
}

static int load_spec(const opts *o, ns_feature_spec **spec)
{
    if (!o->spec) return cli_usage_error("rank", "--spec FILE is required") ? -2 : -2;
    if (ns_fspec_load(spec, o->spec) < 0) return -1;
    if (o->format) {
        ns_input_format f;
        if (ns_format_from_name(o->format, &f) < 0) {
            ns_fspec_free(*spec);
            return -1;
        }
        ns_fspec_set_format(*spec, f);
    }
    return 0;
}

static int do_train(opts *o, int argc, char **argv, int r)
{
    if (r != argc - 1) return cli_usage_error("rank", "train takes exactly one TRAIN_FILE");
    if (!o->out) return cli_usage_error("rank", "train needs --out MODEL");
    if (!o->lr_set && o->cfg.deep_opt == NS_RANK_ADAGRAD) o->cfg.lr = 0.05f;
    ns_feature_spec *spec;
    int rc = load_spec(o, &spec);
    if (rc == -2) return CLI_USAGE;
    if (rc < 0) return cli_fail("rank");
    ns_fdata all, tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    ns_ranker *m = NULL;
    int *idx = NULL, ret = CLI_FAIL;
    double t0 = ns_now();
    if (ns_fdata_read_file(spec, argv[r], 1, 1, &all) < 0) {
        ns_fspec_free(spec);
        return cli_fail("rank");
    }
    double t_read = ns_now() - t0;
    int nval = (int)(all.n * (double)o->cfg.val_fraction);
    const ns_fdata *train = &all, *val = NULL;
    if (nval > 0 && nval < all.n) {
        idx = ns_malloc(sizeof(int) * (size_t)all.n);
        if (!idx || ns_fdata_init(&tr, spec) < 0 || ns_fdata_init(&va, spec) < 0) goto fail;
        for (int i = 0; i < all.n; i++) idx[i] = i;
        ns_rng rng;
        ns_rng_seed(&rng, o->cfg.seed, 77);
        ns_rng_shuffle_u32(&rng, (uint32_t *)idx, (size_t)all.n);
        if (ns_fdata_gather(&va, &all, idx, nval) < 0 || ns_fdata_gather(&tr, &all, idx + nval, all.n - nval) < 0)
            goto fail;
        train = &tr;
        val = &va;
    }
    if (ns_ranker_new(&m, &o->cfg, spec) < 0) {
        ns_fspec_free(spec);
        goto fail;
    }
    ns_rank_train_stats st;
    if (ns_ranker_train(m, train, val, &st) < 0) goto fail;
    if (ns_ranker_save(m, o->out) < 0) goto fail;
    ns_rank_metrics tm;
    int have_test = 0;
    if (o->test) {
        if (eval_file(m, o->test, o->format, &tm) < 0) goto fail;
        have_test = 1;
    }
    if (o->json) {
        printf("{\"model\":\"%s\",\"rows\":%d,\"train_rows\":%d,\"val_rows\":%d,\"epochs\":%d,\"best_epoch\":%d,"
               "\"threads\":%d,\"read_seconds\":%.4f,\"train_seconds\":%.4f,\"examples_per_s\":%.1f,\"last_loss\":%.6f",
               ns_rank_kind_name(o->cfg.kind), all.n, train->n, val ? val->n : 0, st.epochs, st.best_epoch,
               st.threads, t_read, st.train_seconds, st.examples_per_s, st.last_loss);
        if (isfinite(st.best_val_auc)) printf(",\"best_val_auc\":%.6f", st.best_val_auc);
        if (have_test) {
            printf(",");
            json_metrics("test", &tm);
        }
        printf("}\n");
    } else {
        char rate[32];
        ns_format_count(rate, sizeof rate, st.examples_per_s);
        printf("trained %s on %d rows (%d held out): %d epochs (best %d), %.2fs in the training loop, %s examples/s, "
               "%d threads\n", ns_rank_kind_name(o->cfg.kind), train->n, val ? val->n : 0, st.epochs, st.best_epoch,
               st.train_seconds, rate, st.threads);
        if (isfinite(st.best_val_auc)) printf("validation AUC %.4f\n", st.best_val_auc);
        if (have_test) print_metrics(o->test, &tm, 1);
        printf("saved %s\n", o->out);
    }
    ret = CLI_OK;
    goto done;
fail:
    ret = cli_fail("rank");
done:
    ns_ranker_free(m);
    free(idx);
    ns_fdata_release(&all);
    ns_fdata_release(&tr);
    ns_fdata_release(&va);
    return ret;
}

static int do_eval(opts *o, int argc, char **argv, int r)
{
    if (r != argc - 2) return cli_usage_error("rank", "eval takes MODEL FILE");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail("rank");
    ns_rank_metrics mt;
    int rc = eval_file(m, argv[r + 1], o->format, &mt);
    ns_ranker_free(m);
    if (rc < 0) return cli_fail("rank");
    if (o->json) {
        printf("{");
        json_metrics("eval", &mt);
        printf("}\n");
    } else
        print_metrics(argv[r + 1], &mt, 1);
    return CLI_OK;
}

static int do_predict(opts *o, int argc, char **argv, int r)
{
    if (r != argc - 1 && r != argc - 2) return cli_usage_error("rank", "predict takes MODEL [FILE|-]");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail("rank");
    ns_feature_spec *spec = (ns_feature_spec *)ns_ranker_spec(m);
    if (o->format) {
        ns_input_format f;
        if (ns_format_from_name(o->format, &f) < 0) {
            ns_ranker_free(m);
            return cli_fail("rank");
        }
        ns_fspec_set_format(spec, f);
    }
    const char *path = r == argc - 2 ? argv[r + 1] : "-";
    ns_freader *rd = NULL;
    ns_rank_ctx *cx = ns_rank_ctx_new(m);
    ns_fdata d;
    int ret = CLI_FAIL, have_d = 0;
    float prob[256];
    if (!cx || ns_freader_open(&rd, spec, path) < 0 || ns_fdata_init(&d, spec) < 0) goto out;
    have_d = 1;
    for (;;) {
        ns_fdata_clear(&d);
        int rc = 0;
        while (d.n < 256 && (rc = ns_freader_next(rd, &d, NULL, NULL)) == 1) {
        }
        if (rc < 0) goto out;
        if (d.n && ns_ranker_predict(m, cx, &d, prob) < 0) goto out;
        for (int i = 0; i < d.n; i++) {
            if (o->with_label) {
                if (isnan(d.label[i])) printf("%.6f\t\n", prob[i]);
                else printf("%.6f\t%d\n", prob[i], (int)d.label[i]);
            } else
                printf("%.6f\n", prob[i]);
        }
        if (rc == 0) break;
    }
    fflush(stdout);
    ret = CLI_OK;
out:
    if (ret != CLI_OK) ret = cli_fail("rank");
    if (have_d) ns_fdata_release(&d);
    ns_freader_close(rd);
    ns_rank_ctx_free(cx);
    ns_ranker_free(m);
    return ret;
}

static int do_inspect(opts *o, int argc, char **argv, int r)
{
    if (r != argc - 1) return cli_usage_error("rank", "inspect takes MODEL");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail("rank");
    const ns_feature_spec *spec = ns_ranker_spec(m);
    char *cfg = NULL;
    ns_st_file *f;
    if (ns_st_open(&f, argv[r]) == 0) {
        cfg = ns_strdup(ns_st_meta(f, "config"));
        ns_st_close(f);
    }
    char *sj = ns_fspec_to_json(spec);
    if (o->spec_json) {
        printf("%s\n", sj ? sj : "");
        free(sj);
        free(cfg);
        ns_ranker_free(m);
        return CLI_OK;
    }
    ns_flayout lay;
    ns_fspec_layout(spec, &lay);
    printf("model %s\nconfig %s\n", argv[r], cfg ? cfg : "?");
    printf("input format %s, %d input columns, wide dim %d, %d embedded fields, %d dense inputs\n",
           ns_format_name(ns_fspec_format(spec)), ns_fspec_input_count(spec), lay.wide_dim, lay.n_emb, lay.dense_dim);
    printf("fitted spec (vocabularies cut to 8 entries; --spec-json prints all):\n");
    /* a compact view of the fitted spec: each feature on one line */
    if (sj) {
        /* re-parse through jansson-free means: print the JSON lines that matter */
        const char *p = sj;
        int depth_vocab = 0, shown = 0;
        while (*p) {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            if (depth_vocab) {
                if (memchr(p, ']', len)) {
                    if (shown >= 8) printf("   ... (%d more)\n", shown - 8);
                    printf("%.*s\n", (int)len, p);
                    depth_vocab = 0;
                } else if (shown++ < 8)
                    printf("%.*s\n", (int)len, p);
            } else {
                printf("%.*s\n", (int)len, p);
                if (len > 8 && memmem(p, len, "\"vocab\": [", 10) && !memchr(p, ']', len)) {
                    depth_vocab = 1;
                    shown = 0;
                }
            }
            if (!e) break;
            p = e + 1;
        }
    }
    int top = o->top ? o->top : 20;
    int *idx = ns_calloc((size_t)top, sizeof(int));
    float *w = ns_calloc((size_t)top, sizeof(float));
    if (idx && w) {
        int k = ns_ranker_top_wide(m, top, idx, w);
        if (k) printf("heaviest wide weights (of %d):\n", lay.wide_dim);
        else printf("no wide weights (deep model, or all zero)\n");
        for (int i = 0; i < k; i++) {
            char name[512];
            ns_fspec_wide_name(spec, idx[i], name, sizeof name);
            printf("  %+9.4f  %s\n", w[i], name);
        }
    }
    free(idx);
    free(w);
    free(sj);
    free(cfg);
    ns_ranker_free(m);
    return CLI_OK;
}

/* Encoded features as safetensors for the reference implementations. */
static int add_data(ns_st_writer *w, const char *pre, const ns_fdata *d, char names[][64], int *nn)
{
    int rc = 0;
#define ADD(suffix, dt, nd, shp, ptr)                                                   \
    do {                                                                                \
        snprintf(names[*nn], 64, "%s.%s", pre, suffix);                                 \
        if (rc == 0) rc = ns_st_writer_add(w, names[(*nn)++], dt, nd, shp, ptr);        \
    } while (0)
    int64_t s_n1[1] = {d->n + 1}, s_nnz[1] = {d->wide_nnz}, s_n[1] = {d->n}, s_dense[2] = {d->n, d->dense_dim};
    ADD("wide_off", NS_DT_I32, 1, s_n1, d->wide_off);
    ADD("wide_ids", NS_DT_I32, 1, s_nnz, d->wide_ids);
    ADD("wide_vals", NS_DT_F32, 1, s_nnz, d->wide_vals);
    ADD("dense", NS_DT_F32, 2, s_dense, d->dense);
    ADD("label", NS_DT_F32, 1, s_n, d->label);
    ADD("weight", NS_DT_F32, 1, s_n, d->weight);
    for (int f = 0; f < d->n_emb; f++) {
        char sfx[32];
        int64_t s_e[1] = {d->emb_nnz[f]};
        snprintf(sfx, sizeof sfx, "emb%d_off", f);
        ADD(sfx, NS_DT_I32, 1, s_n1, d->emb_off[f]);
        snprintf(sfx, sizeof sfx, "emb%d_ids", f);
        ADD(sfx, NS_DT_I32, 1, s_e, d->emb_ids[f]);
    }
#undef ADD
    return rc;
}

static int do_featurize(opts *o, int argc, char **argv, int r)
{
    if (r != argc - 1 && r != argc - 2) return cli_usage_error("rank", "featurize takes TRAIN_FILE [TEST_FILE]");
    if (!o->out) return cli_usage_error("rank", "featurize needs --out FILE");
    ns_feature_spec *spec;
    int rc = load_spec(o, &spec);
    if (rc == -2) return CLI_USAGE;
    if (rc < 0) return cli_fail("rank");
    ns_fdata tr, te;
    memset(&te, 0, sizeof te);
    int ret = CLI_FAIL;
    static char names[256][64];
    int nn = 0;
    ns_st_writer *w = NULL;
    char *sj = NULL;
    if (ns_fdata_read_file(spec, argv[r], 1, 1, &tr) < 0) goto out0;
    if (r == argc - 2 && ns_fdata_read_file(spec, argv[r + 1], 0, 1, &te) < 0) goto out1;
    if (tr.n_emb > 40) {
        ns_err_set(NS_ETOOBIG, "featurize supports up to 40 embedded fields");
        goto out1;
    }
    w = ns_st_writer_new();
    ns_flayout lay;
    ns_fspec_layout(spec, &lay);
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_printf(&b, "{\"wide_dim\":%d,\"dense_dim\":%d,\"emb\":[", lay.wide_dim, lay.dense_dim);
    for (int f = 0; f < lay.n_emb; f++)
        ns_buf_printf(&b, "%s{\"name\":\"%s\",\"card\":%d,\"dim\":%d}", f ? "," : "", lay.emb_name[f], lay.emb_card[f],
                      lay.emb_dim[f]);
    ns_buf_puts(&b, "]}");
    sj = ns_fspec_to_json(spec);
    if (!w || !sj || ns_st_writer_meta(w, "layout", b.data) < 0 || ns_st_writer_meta(w, "feature_spec", sj) < 0 ||
        add_data(w, "train", &tr, names, &nn) < 0 || (te.n && add_data(w, "test", &te, names, &nn) < 0) ||
        ns_st_writer_write(w, o->out) < 0) {
        ns_buf_release(&b);
        goto out1;
    }
    ns_buf_release(&b);
    if (!ns_is_quiet())
        printf("wrote %s: %d train rows%s, wide dim %d, %d embedded fields, %d dense\n", o->out, tr.n,
               te.n ? " + test rows" : "", lay.wide_dim, lay.n_emb, lay.dense_dim);
    ret = CLI_OK;
out1:
    ns_fdata_release(&tr);
    ns_fdata_release(&te);
out0:
    ns_st_writer_free(w);
    free(sj);
    ns_fspec_free(spec);
    return ret == CLI_OK ? ret : cli_fail("rank");
}

int cmd_rank(int argc, char **argv)
{
    opts o;
    memset(&o, 0, sizeof o);
    o.cfg = ns_rank_defaults();
    static const struct option lopts[] = {
        {"spec", required_argument, NULL, O_SPEC}, {"out", required_argument, NULL, O_OUT},
        {"test", required_argument, NULL, O_TEST}, {"model", required_argument, NULL, O_MODEL},
        {"hidden", required_argument, NULL, O_HIDDEN}, {"batch", required_argument, NULL, O_BATCH},
        {"epochs", required_argument, NULL, O_EPOCHS}, {"optimizer", required_argument, NULL, O_OPT},
        {"lr", required_argument, NULL, O_LR}, {"ftrl-alpha", required_argument, NULL, O_FA},
        {"ftrl-beta", required_argument, NULL, O_FB}, {"l1", required_argument, NULL, O_L1},
        {"l2", required_argument, NULL, O_L2}, {"emb-std", required_argument, NULL, O_EMBSTD},
        {"val-fraction", required_argument, NULL, O_VAL}, {"patience", required_argument, NULL, O_PAT},
        {"class-weight", required_argument, NULL, O_CW}, {"seed", required_argument, NULL, O_SEED},
        {"json", no_argument, NULL, O_JSON}, {"format", required_argument, NULL, O_FORMAT},
        {"with-label", no_argument, NULL, O_WITHLABEL}, {"top", required_argument, NULL, O_TOP},
        {"spec-json", no_argument, NULL, O_SPECJSON}, {"train-threads", required_argument, NULL, O_TTHREADS},
        {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "rank", usage, "", lopts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error("rank", "missing subcommand (train, eval, predict, inspect or featurize)");
    const char *sub = argv[r++];
    if (!strcmp(sub, "train")) return do_train(&o, argc, argv, r);
    if (!strcmp(sub, "eval")) return do_eval(&o, argc, argv, r);
    if (!strcmp(sub, "predict")) return do_predict(&o, argc, argv, r);
    if (!strcmp(sub, "inspect")) return do_inspect(&o, argc, argv, r);
    if (!strcmp(sub, "featurize")) return do_featurize(&o, argc, argv, r);
    return cli_usage_error("rank", "unknown subcommand '%s' (expected train, eval, predict, inspect or featurize)", sub);
}
