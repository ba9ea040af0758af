/*
 * test_rank.c — the rankers: finite-difference gradient checks of the Wide &
 * Deep backward (wide weights, embedding tables under both optimizers' paths,
 * MLP weights and biases, with class and row weights), metrics against
 * hand-computed values, save/load giving identical predictions, the serving
 * API agreeing with file encoding, reproducibility, and learning on a
 * synthetic problem.
 */
#include "harness.h"
#include "northstar/feature.h"
#include "northstar/rank.h"
#include "northstar/tensor.h"
#include "rank/rank_int.h"

#include <math.h>
#include <pthread.h>

static const char *SPEC =
    "{\"label\":\"y\",\"features\":["
    "{\"name\":\"num\",\"type\":\"numeric\",\"transforms\":[\"zscore\"],\"buckets\":{\"quantiles\":4},\"wide\":true,\"embed\":2},"
    "{\"name\":\"cat\",\"type\":\"categorical\",\"embed\":3},"
    "{\"name\":\"tags\",\"type\":\"multi\",\"embed\":2},"
    "{\"name\":\"hour\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"cyclic\",\"period\":24}],\"wide_value\":true},"
    "{\"name\":\"cx\",\"type\":\"cross\",\"cross\":[\"num\",\"cat\"],\"hash_buckets\":13}]}";

/* Synthetic rows: y ~ Bernoulli(sigmoid(1.5 num + w[cat] + 0.8 [t1 in tags])). */
static const char *make_csv(const char *name, int n, uint64_t seed)
{
    const char *p = ns_test_tmpfile(name);
    FILE *f = fopen(p, "wb");
    ASSERT(f);
    fprintf(f, "num,cat,tags,hour,y\n");
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    static const double cw[5] = {-1.5, -0.5, 0, 0.7, 1.4};
    for (int i = 0; i < n; i++) {
        double x = ns_rng_normal(&r);
        int c = (int)ns_rng_below(&r, 5);
        int t = (int)ns_rng_below(&r, 8);
        int h = (int)ns_rng_below(&r, 24);
        double logit = 1.5 * x + cw[c] + ((t & 2) ? 0.8 : 0) + 0.3 * sin(2 * M_PI * h / 24);
        int y = ns_rng_uniform(&r) < 1 / (1 + exp(-logit));
        fprintf(f, "%.4f,%c,", x, 'A' + c);
        int first = 1;
        for (int b = 0; b < 3; b++)
            if (t & (1 << b)) {
                fprintf(f, "%st%d", first ? "" : "|", b);
                first = 0;
            }
        fprintf(f, ",%d,%d\n", h, y);
    }
    fclose(f);
    return p;
}

static ns_ranker *new_model(const char *csv, ns_fdata *d, ns_rank_kind kind, ns_rank_opt opt, int batch)
{
    ns_feature_spec *s;
    ASSERT_OK(ns_fspec_parse(&s, SPEC, strlen(SPEC), "spec"));
    ASSERT_OK(ns_fdata_read_file(s, csv, 1, 1, d));
    ns_rank_cfg c = ns_rank_defaults();
    c.kind = kind;
    c.deep_opt = opt;
    c.hidden[0] = 6;
    c.hidden[1] = 4;
    c.n_hidden = 2;
    c.emb_init_std = 0.5f;
    c.batch = batch;
    ns_ranker *m;
    ASSERT_OK(ns_ranker_new(&m, &c, s));
    return m;
}

/* Loss sum_i cw w_i BCE / n in double from a forward pass. */
static double loss_of(ns_ranker *m, ns__rank_ws *ws, const ns_fdata *d)
{
    ns__packed pk = {0};
    ASSERT_OK(ns__rank_pack(&pk, d));
    ns__rank_refresh(m);
    ns__rank_forward(m, ws, &pk, NULL, 0, d->n);
    ns__packed_release(&pk);
    double s = 0;
    for (int i = 0; i < d->n; i++) {
        double x = ws->logit[i], y = d->label[i];
        double l = (x > 0 ? x : 0) - x * y + log1p(exp(-fabs(x)));
        s += m->cfg.class_weight[y > 0.5] * d->weight[i] * l;
    }
    return s / d->n;
}

static void gradcheck(ns_rank_opt opt, int batch)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("g.csv", 12, 5), &d, NS_RANK_WIDE_DEEP, opt, batch);
    m->cfg.class_weight[0] = 0.7f;
    m->cfg.class_weight[1] = 1.9f;
    for (int i = 0; i < d.n; i++) d.weight[i] = 0.5f + 0.1f * (float)i;
    /* non-zero wide weights so the wide part matters */
    ns_rng r;
    ns_rng_seed(&r, 3, 0);
    ns_rng_fill_uniform(&r, m->wide_w, (size_t)m->wide_dim, -0.5f, 0.5f);
    ns__rank_ws ws;
    ASSERT_OK(ns__rank_ws_init(&ws, m, d.n, 1));
    memset(ws.grad, 0, sizeof(float) * m->n_params);
    ns__packed pk = {0};
    ASSERT_OK(ns__rank_pack(&pk, &d));
    ns__rank_forward(m, &ws, &pk, NULL, 0, d.n);
    ASSERT_OK(ns__rank_backward(m, &ws, d.n, d.n));
    ns__packed_release(&pk);
    /* analytic gradients as dense vectors */
    size_t np = m->n_params;
    float *ga = ns_calloc(np + (size_t)m->wide_dim, sizeof(float));
    float *gn = ns_calloc(np + (size_t)m->wide_dim, sizeof(float));
    memcpy(ga, ws.grad, sizeof(float) * np);
    if (opt == NS_RANK_ADAGRAD) {
        memset(ga, 0, sizeof(float) * m->mlp_off); /* embeddings come as occurrences */
        for (int f = 0; f < m->lay.n_emb; f++) {
            int D = m->lay.emb_dim[f];
            for (int k = 0; k < ws.ne[f]; k++)
                for (int j = 0; j < D; j++)
                    ga[m->emb_off[f] + (size_t)ws.eid[f][k] * D + j] += ws.erow[f][(size_t)k * D + j];
        }
    }
    for (int k = 0; k < ws.nw; k++) ga[np + ws.wid[k]] += ws.wg[k];
    /* numeric: central differences */
    const float eps = 1e-3f;
    for (size_t i = 0; i < np + (size_t)m->wide_dim; i++) {
        float *p = i < np ? &m->params[i] : &m->wide_w[i - np];
        float old = *p;
        *p = old + eps;
        double lp = loss_of(m, &ws, &d);
        *p = old - eps;
        double lm = loss_of(m, &ws, &d);
        *p = old;
        gn[i] = (float)((lp - lm) / (2.0 * eps));
    }
    int nf = 0;
    for (int f = 0; f < m->lay.n_emb; f++) nf += m->fold[f];
    printf("  %zu deep parameters, %d wide weights, %d of %d tables folded\n", np, m->wide_dim, nf, m->lay.n_emb);
    if (batch == 5) ASSERT(nf > 0 && nf < m->lay.n_emb);
    ASSERT_CLOSE("embeddings", ga, gn, m->mlp_off, 3e-5, 2e-2);
    ASSERT_CLOSE("mlp", ga + m->mlp_off, gn + m->mlp_off, np - m->mlp_off, 3e-5, 2e-2);
    ASSERT_CLOSE("wide", ga + np, gn + np, (size_t)m->wide_dim, 3e-5, 2e-2);
    /* the check is not vacuous */
    double norm = 0;
    for (size_t i = 0; i < np + (size_t)m->wide_dim; i++) norm += fabs(ga[i]);
    ASSERT(norm > 1e-2);
    free(ga);
    free(gn);
    ns__rank_ws_release(&ws, m);
    ns_fdata_release(&d);
    ns_ranker_free(m);
}

/* batch 256: every table is folded into layer 0; batch 5: the tables with
 * more than 5 rows are gathered into x instead (both paths in one model) */
TEST(gradcheck_wide_deep_adam_folded) { gradcheck(NS_RANK_ADAM, 256); }
TEST(gradcheck_wide_deep_adam_mixed) { gradcheck(NS_RANK_ADAM, 5); }
TEST(gradcheck_wide_deep_adagrad_path) { gradcheck(NS_RANK_ADAGRAD, 256); }

/* Splitting a batch across workspaces (threads) gives the batch gradient. */
TEST(batch_split_matches_whole)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("s.csv", 40, 9), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 256);
    ns__rank_ws a, b, c;
    ASSERT_OK(ns__rank_ws_init(&a, m, d.n, 1));
    ASSERT_OK(ns__rank_ws_init(&b, m, d.n, 1));
    ASSERT_OK(ns__rank_ws_init(&c, m, d.n, 1));
    memset(a.grad, 0, sizeof(float) * m->n_params);
    memset(b.grad, 0, sizeof(float) * m->n_params);
    memset(c.grad, 0, sizeof(float) * m->n_params);
    ns__packed pk = {0};
    ASSERT_OK(ns__rank_pack(&pk, &d));
    ns__rank_forward(m, &a, &pk, NULL, 0, d.n);
    ASSERT_OK(ns__rank_backward(m, &a, d.n, d.n));
    ns__rank_forward(m, &b, &pk, NULL, 0, 17);
    ASSERT_OK(ns__rank_backward(m, &b, 17, d.n));
    ns__rank_forward(m, &c, &pk, NULL, 17, d.n);
    ASSERT_OK(ns__rank_backward(m, &c, d.n - 17, d.n));
    ns__packed_release(&pk);
    for (size_t i = 0; i < m->n_params; i++) b.grad[i] += c.grad[i];
    ASSERT_CLOSE("split grad", b.grad, a.grad, m->n_params, 1e-6, 1e-4);
    ns__rank_ws_release(&a, m);
    ns__rank_ws_release(&b, m);
    ns__rank_ws_release(&c, m);
    ns_fdata_release(&d);
    ns_ranker_free(m);
}

TEST(metrics_hand_computed)
{
    float s1[4] = {0.1f, 0.4f, 0.35f, 0.8f}, y1[4] = {0, 0, 1, 1};
    ASSERT_NEAR(ns_rank_auc(s1, y1, 4), 0.75, 1e-12);
    float s2[4] = {0.5f, 0.5f, 0.5f, 0.9f}, y2[4] = {0, 1, 0, 1};
    ASSERT_NEAR(ns_rank_auc(s2, y2, 4), 0.75, 1e-12); /* ties: half credit */
    float y3[4] = {1, 1, 1, NAN};
    ASSERT(isnan(ns_rank_auc(s1, y3, 4)));
    ns_rank_metrics mt;
    ASSERT_OK(ns_rank_metrics_compute(s1, y1, 4, &mt));
    double ll = -(log(0.9) + log(0.6) + log(0.35) + log(0.8)) / 4;
    ASSERT_NEAR(mt.logloss, ll, 1e-6);
    ASSERT_NEAR(mt.accuracy, 0.75, 1e-12); /* 0.35 for a positive is wrong */
    ASSERT_EQ_INT(mt.bin_n[1], 1);
    ASSERT_EQ_INT(mt.bin_n[3], 1);
    ASSERT_EQ_INT(mt.bin_n[4], 1);
    ASSERT_EQ_INT(mt.bin_n[8], 1);
    ASSERT_NEAR(mt.bin_obs[3], 1.0, 1e-12);
    /* ECE = mean |p - y| here, each bin holding one row */
    ASSERT_NEAR(mt.ece, (0.1 + 0.4 + 0.65 + 0.2) / 4, 1e-6);
    ASSERT_ERR(ns_rank_metrics_compute(s1, y3 + 3, 1, &mt), NS_EINVAL);
}

static double train_auc(ns_rank_kind kind, ns_rank_opt opt)
{
    ns_fdata d, t;
    ns_ranker *m = new_model(make_csv("tr.csv", 4000, 1), &d, kind, opt, 256);
    m->cfg.epochs = 4;
    m->cfg.ftrl.alpha = 0.1f;
    m->cfg.lr = opt == NS_RANK_ADAGRAD ? 0.05f : 0.01f;
    ns_rank_train_stats st;
    ASSERT_OK(ns_ranker_train(m, &d, NULL, &st));
    ASSERT_EQ_INT(st.epochs, 4);
    ASSERT(st.examples_per_s > 0);
    ASSERT_OK(ns_fdata_read_file((ns_feature_spec *)ns_ranker_spec(m), make_csv("te.csv", 2000, 2), 0, 1, &t));
    float *p = ns_malloc(sizeof(float) * (size_t)t.n);
    ASSERT_OK(ns_ranker_predict_all(m, &t, p));
    double auc = ns_rank_auc(p, t.label, t.n);
    printf("  %s/%s test AUC %.4f\n", ns_rank_kind_name(kind), opt ? "adagrad" : "adam", auc);
    free(p);
    ns_fdata_release(&d);
    ns_fdata_release(&t);
    ns_ranker_free(m);
    return auc;
}

/* The generating model's AUC on such data is about 0.83. */
TEST(learns_synthetic_wide) { ASSERT(train_auc(NS_RANK_WIDE, NS_RANK_ADAM) > 0.78); }
TEST(learns_synthetic_deep) { ASSERT(train_auc(NS_RANK_DEEP, NS_RANK_ADAM) > 0.78); }
TEST(learns_synthetic_wide_deep_adagrad) { ASSERT(train_auc(NS_RANK_WIDE_DEEP, NS_RANK_ADAGRAD) > 0.78); }

TEST(save_load_identical_predictions)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("sl.csv", 600, 4), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 256);
    m->cfg.epochs = 2;
    ASSERT_OK(ns_ranker_train(m, &d, NULL, NULL));
    const char *path = ns_test_tmpfile("m.safetensors");
    ASSERT_OK(ns_ranker_save(m, path));
    ns_ranker *m2;
    ASSERT_OK(ns_ranker_load(&m2, path));
    float *p1 = ns_malloc(sizeof(float) * (size_t)d.n), *p2 = ns_malloc(sizeof(float) * (size_t)d.n);
    ASSERT_OK(ns_ranker_predict_all(m, &d, p1));
    /* re-encode the file with the loaded (fitted) spec: identical features */
    ns_fdata d2;
    ASSERT_OK(ns_fdata_read_file((ns_feature_spec *)ns_ranker_spec(m2), ns_test_tmpfile("sl.csv"), 0, 1, &d2));
    ASSERT_OK(ns_ranker_predict_all(m2, &d2, p2));
    ASSERT(!memcmp(p1, p2, sizeof(float) * (size_t)d.n));
    ASSERT_EQ_INT(ns_ranker_cfg(m2)->kind, NS_RANK_WIDE_DEEP);
    ASSERT_EQ_INT(ns_ranker_cfg(m2)->trained_epochs, 2);
    /* a corrupt file is refused with a reason */
    FILE *f = fopen(ns_test_tmpfile("junk.safetensors"), "wb");
    fputs("not a model", f);
    fclose(f);
    ns_ranker *bad = NULL;
    ASSERT(ns_ranker_load(&bad, ns_test_tmpfile("junk.safetensors")) < 0 && !bad);
    printf("  junk: %s\n", ns_err_msg());
    free(p1);
    free(p2);
    ns_fdata_release(&d);
    ns_fdata_release(&d2);
    ns_ranker_free(m);
    ns_ranker_free(m2);
}

TEST(serving_api_matches_file_scoring)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("sv.csv", 300, 6), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 256);
    m->cfg.epochs = 1;
    ASSERT_OK(ns_ranker_train(m, &d, NULL, NULL));
    float *pf = ns_malloc(sizeof(float) * (size_t)d.n);
    ASSERT_OK(ns_ranker_predict_all(m, &d, pf));
    /* the first rows again, as values (numbers given as numbers) */
    const ns_feature_spec *s = ns_ranker_spec(m);
    int nc = ns_fspec_input_count(s);
    ASSERT_EQ_INT(nc, 4);
    FILE *f = fopen(ns_test_tmpfile("sv.csv"), "rb");
    char line[256];
    ASSERT(fgets(line, sizeof line, f));
    enum { N = 20 };
    static char text[N][256];
    ns_fvalue v[N * 4];
    for (int i = 0; i < N; i++) {
        ASSERT(fgets(text[i], sizeof text[i], f));
        char *fld[5];
        text[i][strcspn(text[i], "\n")] = 0;
        ASSERT_EQ_INT(ns_split(text[i], ',', fld, 5), 5);
        v[i * 4 + ns_fspec_input_index(s, "num")] = (ns_fvalue){NULL, 0, strtod(fld[0], NULL)};
        v[i * 4 + ns_fspec_input_index(s, "cat")] = (ns_fvalue){fld[1], (int)strlen(fld[1]), 0};
        v[i * 4 + ns_fspec_input_index(s, "tags")] = (ns_fvalue){fld[2], (int)strlen(fld[2]), 0};
        v[i * 4 + ns_fspec_input_index(s, "hour")] = (ns_fvalue){fld[3], (int)strlen(fld[3]), 0};
    }
    fclose(f);
    ns_rank_ctx *cx = ns_rank_ctx_new(m);
    float ps[N];
    ASSERT_OK(ns_ranker_score(m, cx, v, N, ps));
    ASSERT_CLOSE("serving vs file", ps, pf, N, 0, 0);
    /* unseen category and a NaN number: scored, not an error */
    v[ns_fspec_input_index(s, "cat")] = (ns_fvalue){"never", 5, 0};
    v[ns_fspec_input_index(s, "num")] = (ns_fvalue){NULL, 0, NAN};
    ASSERT_OK(ns_ranker_score(m, cx, v, 1, ps));
    ASSERT(ps[0] > 0 && ps[0] < 1);
    /* text in a numeric column is refused */
    v[ns_fspec_input_index(s, "hour")] = (ns_fvalue){"noon", 4, 0};
    ASSERT_ERR(ns_ranker_score(m, cx, v, 1, ps), NS_EFORMAT);
    ns_rank_ctx_free(cx);
    free(pf);
    ns_fdata_release(&d);
    ns_ranker_free(m);
}

TEST(reproducible_for_seed_and_threads)
{
    float *p[2];
    for (int k = 0; k < 2; k++) {
        ns_fdata d;
        ns_ranker *m = new_model(make_csv("rp.csv", 1500, 8), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 256);
        m->cfg.epochs = 2;
        m->cfg.threads = 2; /* force the split batch path */
        ns_set_threads(2);
        ns_rank_train_stats st;
        ASSERT_OK(ns_ranker_train(m, &d, NULL, &st));
        ASSERT_EQ_INT(st.threads, 2);
        p[k] = ns_malloc(sizeof(float) * (size_t)d.n);
        ASSERT_OK(ns_ranker_predict_all(m, &d, p[k]));
        ns_fdata_release(&d);
        ns_ranker_free(m);
    }
    ASSERT(!memcmp(p[0], p[1], sizeof(float) * 1500));
    free(p[0]);
    free(p[1]);
}

TEST(early_stopping_keeps_best)
{
    ns_fdata d, v;
    ns_ranker *m = new_model(make_csv("es.csv", 800, 10), &d, NS_RANK_DEEP, NS_RANK_ADAM, 256);
    ASSERT_OK(ns_fdata_read_file((ns_feature_spec *)ns_ranker_spec(m), make_csv("esv.csv", 400, 11), 0, 1, &v));
    m->cfg.epochs = 30;
    m->cfg.lr = 0.05f; /* overfits quickly */
    m->cfg.patience = 2;
    ns_rank_train_stats st;
    ASSERT_OK(ns_ranker_train(m, &d, &v, &st));
    printf("  ran %d epochs, best %d, val AUC %.4f\n", st.epochs, st.best_epoch, st.best_val_auc);
    ASSERT(st.best_epoch >= 1 && st.best_epoch <= st.epochs);
    ASSERT(st.epochs < 30 ? st.epochs - st.best_epoch == 2 : 1);
    float *p = ns_malloc(sizeof(float) * (size_t)v.n);
    ASSERT_OK(ns_ranker_predict_all(m, &v, p));
    ASSERT_NEAR(ns_rank_auc(p, v.label, v.n), st.best_val_auc, 1e-9); /* the best epoch's weights */
    free(p);
    ns_fdata_release(&d);
    ns_fdata_release(&v);
    ns_ranker_free(m);
}

/* The fused gather (mean bags written into the MLP input through a row
 * index) equals the foundation kernel ns_embedding_bag_forward on the same
 * rows, and indexing rows gives the logits of the rows themselves. */
TEST(fused_gather_matches_embedding_bag_kernel)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("fg.csv", 50, 12), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 1); /* nothing folded */
    int n = d.n, idx[50];
    for (int i = 0; i < n; i++) idx[i] = n - 1 - i;
    ns__rank_ws a, b;
    ASSERT_OK(ns__rank_ws_init(&a, m, n, 0));
    ASSERT_OK(ns__rank_ws_init(&b, m, n, 0));
    ns__packed pk = {0};
    ASSERT_OK(ns__rank_pack(&pk, &d));
    ns__rank_forward(m, &a, &pk, idx, 0, n);
    ns__rank_forward(m, &b, &pk, NULL, 0, n);
    ns__packed_release(&pk);
    for (int i = 0; i < n; i++) ASSERT_NEAR(a.logit[i], b.logit[idx[i]], 0);
    int C = m->in_dim;
    for (int f = 0; f < m->lay.n_emb; f++) {
        int D = m->lay.emb_dim[f];
        int32_t *off = ns_malloc(sizeof(int32_t) * (size_t)(n + 1)), *ids = ns_malloc(sizeof(int32_t) * 4 * (size_t)n);
        off[0] = 0;
        for (int i = 0; i < n; i++) {
            int r = idx[i], k = off[i];
            for (int t = d.emb_off[f][r]; t < d.emb_off[f][r + 1]; t++) ids[k++] = d.emb_ids[f][t];
            off[i + 1] = k;
        }
        float *want = ns_malloc(sizeof(float) * (size_t)n * D), *got = ns_malloc(sizeof(float) * (size_t)n * D);
        ns_embedding_bag_forward(want, ids, off, NULL, m->params + m->emb_off[f], n, m->lay.emb_card[f], D, NS_BAG_MEAN);
        for (int i = 0; i < n; i++) memcpy(got + (size_t)i * D, a.x + (size_t)i * C + m->emb_col[f], sizeof(float) * D);
        ASSERT_CLOSE(m->lay.emb_name[f], got, want, (size_t)n * D, 1e-7, 1e-6);
        free(off);
        free(ids);
        free(want);
        free(got);
    }
    ns__rank_ws_release(&a, m);
    ns__rank_ws_release(&b, m);
    ns_fdata_release(&d);
    ns_ranker_free(m);
}

/* Folding a table into layer 0 is a regrouping of the same sum: a model
 * with every table folded and one with none give the same logits from the
 * same parameters. */
TEST(folded_equals_unfolded)
{
    ns_fdata d, d2;
    ns_ranker *a = new_model(make_csv("fo.csv", 64, 13), &d, NS_RANK_DEEP, NS_RANK_ADAM, 256);
    ns_ranker *b = new_model(make_csv("fo.csv", 64, 13), &d2, NS_RANK_DEEP, NS_RANK_ADAM, 1);
    ASSERT(a->any_fold && !a->any_unfolded && !b->any_fold);
    ASSERT_EQ_INT(a->n_params, b->n_params);
    memcpy(b->params, a->params, sizeof(float) * a->n_params);
    ns__rank_refresh(b);
    ns__packed pk = {0};
    ASSERT_OK(ns__rank_pack(&pk, &d));
    ns__rank_ws wa, wb;
    ASSERT_OK(ns__rank_ws_init(&wa, a, d.n, 0));
    ASSERT_OK(ns__rank_ws_init(&wb, b, d.n, 0));
    ns__rank_forward(a, &wa, &pk, NULL, 0, d.n);
    ns__rank_forward(b, &wb, &pk, NULL, 0, d.n);
    ASSERT_CLOSE("folded logits", wa.logit, wb.logit, (size_t)d.n, 1e-5, 1e-4);
    ns__packed_release(&pk);
    ns__rank_ws_release(&wa, a);
    ns__rank_ws_release(&wb, b);
    ns_fdata_release(&d);
    ns_fdata_release(&d2);
    ns_ranker_free(a);
    ns_ranker_free(b);
}

/* ---- concurrent scoring (label tsan) --------------------------------- */

typedef struct scorer_arg {
    const ns_ranker *m;
    const ns_fdata *d;
    float *out;
    int rc;
} scorer_arg;

static void *scorer(void *p)
{
    scorer_arg *a = p;
    ns_rank_ctx *cx = ns_rank_ctx_new(a->m);
    a->rc = cx ? 0 : -1;
    for (int r = 0; r < 20 && a->rc == 0; r++) a->rc = ns_ranker_predict(a->m, cx, a->d, a->out);
    ns_rank_ctx_free(cx);
    return NULL;
}

/* One loaded model, four threads scoring with their own contexts: the
 * model is only read, every thread gets the single-threaded scores. */
TEST(tsan_concurrent_scoring)
{
    ns_fdata d;
    ns_ranker *m = new_model(make_csv("cc.csv", 300, 14), &d, NS_RANK_WIDE_DEEP, NS_RANK_ADAM, 256);
    m->cfg.epochs = 1;
    ns_set_threads(1);
    ASSERT_OK(ns_ranker_train(m, &d, NULL, NULL));
    float *want = ns_malloc(sizeof(float) * (size_t)d.n);
    ns_rank_ctx *cx = ns_rank_ctx_new(m);
    ASSERT_OK(ns_ranker_predict(m, cx, &d, want));
    ns_rank_ctx_free(cx);
    pthread_t th[4];
    scorer_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (scorer_arg){m, &d, ns_malloc(sizeof(float) * (size_t)d.n), 0};
        ASSERT(pthread_create(&th[i], NULL, scorer, &a[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ_INT(a[i].rc, 0);
        ASSERT(!memcmp(a[i].out, want, sizeof(float) * (size_t)d.n));
        free(a[i].out);
    }
    free(want);
    ns_fdata_release(&d);
    ns_ranker_free(m);
}
