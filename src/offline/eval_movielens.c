/*
 * eval_movielens.c — `northstar eval movielens`: the recommendation
 * pipeline judged on MovieLens-100K with the Microsoft Recommenders
 * protocol (eval.h), each recall channel alone, the merged recall and
 * the full pipeline beside the popularity baseline.
 *
 * Workload: import (~1 s), bundle training (~10-30 s on 2 cores), then 943
 * recommendations per configuration (well under a second each).
 */
#include "northstar/dataset.h"
#include "northstar/import.h"
#include "northstar/bundle.h"
#include "northstar/eval.h"
#include "northstar/pipeline.h"

#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ns_eval_movielens_opts ns_eval_movielens_defaults(void)
{
    ns_eval_movielens_opts o;
    memset(&o, 0, sizeof o);
    o.k = 10;
    o.ratio = 0.75;
    o.seed = 42;
    o.div_k = 3;
    o.bundle = ns_bundle_defaults();
    o.bundle.diversity = 0;
    o.bundle.i2i.lambda = 300;
    o.bundle.i2i.neighbours = 0; /* MovieLens is small: keep every EASE weight */
    return o;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0;
}

/* A config derived from the bundle's: only the channels whose mask bit is
 * set, the ranker replaced by a blend (weights: 1 for channel `only`, the
 * bundle's otherwise) unless keep_ranker, diversity set. */
static char *variant(const json_t *base, unsigned mask, int keep_ranker, int diversity)
{
    json_t *c = json_deep_copy(base);
    json_t *rec = json_object_get(c, "recall"), *kept = json_array();
    size_t i;
    json_t *ch;
    json_array_foreach(rec, i, ch) if (mask & (1u << i)) json_array_append(kept, ch);
    json_object_set_new(c, "recall", kept);
    if (!keep_ranker) {
        json_t *rank = json_object_get(c, "rank");
        json_t *params = json_object_get(rank, "params");
        json_t *blend = json_object_get(params, "fallback") ? json_object_get(params, "fallback") : params;
        json_t *w = json_object();
        json_t *bw = json_object_get(blend, "weights");
        json_array_foreach(kept, i, ch)
        {
            const char *name = json_string_value(json_object_get(ch, "name"));
            json_t *x = bw ? json_object_get(bw, name) : NULL;
            json_object_set_new(w, name, json_array_size(kept) == 1 ? json_real(1.0) : json_incref(x ? x : json_real(1.0)));
        }
        json_object_set_new(c, "rank", json_pack("{s:s, s:{s:o, s:f}}", "type", "blend", "params", "weights", w,
                                                 "ctr_weight", 0.0));
    }
    json_object_set_new(c, "diversity", json_pack("{s:i}", "max_per_category", diversity));
    char *s = json_dumps(c, JSON_COMPACT);
    json_decref(c);
    return s;
}

typedef struct {
    const ns_dataset *d;
    const uint8_t *test;
    int64_t *off;   /* per dataset user: test items (state indexes, sorted) */
    uint32_t *items;
    ns_state *s;
} ml_ctx;

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct { const uint32_t *truth; int n; long hits, cands; } cand_ctx;

static int count_cand(uint32_t item, int is_cand, const ns_fvalue *row, int ncols, void *ctx)
{
    (void)row;
    (void)ncols;
    cand_ctx *c = ctx;
    if (!is_cand) return 0;
    c->cands++;
    c->hits += bsearch(&item, c->truth, (size_t)c->n, sizeof item, by_u32) != NULL;
    return 0;
}

static int run_row(ml_ctx *m, const char *cfg, const char *origin, const char *name, int k, int cand_stats,
                   const char *dump_dir, ns_eval_row *row)
{
    ns_pipeline *p;
    int rc = ns_pipeline_new(&p, cfg, origin, m->s);
    if (rc < 0) return ns_err_wrap("configuration '%s'", name);
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    ns_eval_topk_init(&row->m, k);
    ns_arena a;
    ns_arena_init(&a, 1 << 16);
    ns_context ctx;
    ns_context_make(&ctx, ns_state_now(m->s), 0, NULL, NULL);
    FILE *dump = NULL;
    if (dump_dir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s.tsv", dump_dir, name);
        if (!(dump = fopen(path, "w"))) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
    }
    uint32_t nu = (uint32_t)ns_strmap_count(m->d->uids);
    uint32_t *pred = ns_malloc(sizeof *pred * (size_t)k);
    double csum = 0, ncsum = 0;
    long cusers = 0;
    ns_timer t;
    ns_timer_start(&t);
    for (uint32_t u = 0; rc >= 0 && pred && u < nu; u++) {
        int nt = (int)(m->off[u + 1] - m->off[u]);
        if (!nt) continue;
        const char *uid = ns_strmap_key(m->d->uids, u, NULL);
        ns_rec_request req = {uid, k, &ctx};
        ns_rec_result r;
        ns_arena_reset(&a);
        if ((rc = ns_pipeline_recommend(p, &req, &r, &a)) < 0) break;
        for (int j = 0; j < r.n; j++) pred[j] = r.items[j].item;
        ns_eval_topk_add(&row->m, pred, r.n, m->items + m->off[u], nt);
        if (dump)
            for (int j = 0; j < r.n; j++) {
                ns_item_view iv;
                ns_state_item(m->s, r.items[j].item, &iv);
                fprintf(dump, "%s\t%s\t%d\n", uid, iv.id, j + 1);
            }
        if (cand_stats) {
            cand_ctx cc = {m->items + m->off[u], nt, 0, 0};
            ns_example_req er = {uid, &ctx, NULL, 0, 1};
            if ((rc = ns_pipeline_examples(p, &er, count_cand, &cc)) < 0) break;
            csum += (double)cc.hits / nt;
            ncsum += (double)cc.cands;
            cusers++;
        }
    }
    row->secs = ns_timer_elapsed(&t);
    if (!pred) rc = NS_ENOMEM;
    row->m = ns_eval_topk_result(&row->m);
    if (cusers) {
        row->cand_recall = csum / (double)cusers;
        row->cands = ncsum / (double)cusers;
    }
    if (dump && fclose(dump) != 0 && rc >= 0) rc = ns_err_set(NS_EIO, "writing predictions of '%s'", name);
    if (dump_dir && rc >= 0) { /* our figures, for the reference to compare with */
        char path[2048];
        snprintf(path, sizeof path, "%s/metrics.tsv", dump_dir);
        FILE *f = fopen(path, "a");
        if (!f) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
        else {
            fprintf(f, "%s\t%d\t%ld\t%.17g\t%.17g\t%.17g\t%.17g\t%.17g\n", name, k, row->m.users, row->m.precision,
                    row->m.recall, row->m.ndcg, row->m.map, row->m.map_at_k);
            if (fclose(f) != 0) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed");
        }
    }
    free(pred);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    return rc;
}

static int dump_split(const ns_dataset *d, const uint8_t *test, const char *dir)
{
    char path[2048];
    int rc = ns_mkdirs(dir);
    snprintf(path, sizeof path, "%s/metrics.tsv", dir);
    remove(path);
    for (int part = 0; rc >= 0 && part < 2; part++) {
        snprintf(path, sizeof path, "%s/%s.tsv", dir, part ? "test" : "train");
        FILE *f = fopen(path, "w");
        if (!f) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
        for (size_t k = 0; k < d->nev; k++)
            if (test[k] == part) {
                ns_event_rec e = ns_dataset_event(d, &d->ev[k]);
                fprintf(f, "%s\t%s\t%g\t%.0f\n", e.user, e.item, e.value, e.ts);
            }
        if (fclose(f) != 0) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed");
    }
    return rc;
}

int ns_eval_movielens(const ns_eval_movielens_opts *o, ns_eval_row *rows, int *nrows, ns_bundle_stats *bst)
{
    *nrows = 0;
    char tmpl[] = "/tmp/ns-eval-ml.XXXXXX", work[1024], path[2048], bdir[1100];
    int own = !o->work_dir;
    if (own && !mkdtemp(tmpl)) return ns_err_set(NS_EIO, "cannot create a temporary directory");
    snprintf(work, sizeof work, "%s", own ? tmpl : o->work_dir);
    ns_store *st = NULL;
    ns_dataset d;
    ns_state *s = NULL;
    uint8_t *test = NULL, *train = NULL;
    uint32_t *us = NULL, *is = NULL;
    ml_ctx m = {0};
    json_t *base = NULL;
    int rc = ns_dataset_init(&d);
    if (rc < 0) goto done;
    d.implicit_ratings = 1;
    /* 1. import into a scratch store (no fsync: nothing here needs to survive a crash) */
    ns_store_opts so = ns_store_defaults();
    so.sync = NS_SYNC_OFF;
    snprintf(path, sizeof path, "%s/ml.db", work);
    if (!own) {
        unlink(path);
        char aux[2100];
        snprintf(aux, sizeof aux, "%s-wal", path);
        unlink(aux);
        snprintf(aux, sizeof aux, "%s-shm", path);
        unlink(aux);
    }
    if ((rc = ns_mkdirs(work)) < 0 || (rc = ns_store_open(&st, path, &so)) < 0) goto done;
    ns_import_stats is_;
    if ((rc = ns_import_movielens(st, o->data_dir, 0, &is_)) < 0) goto done;
    if ((rc = ns_dataset_from_store(&d, st)) < 0) goto done;
    ns_store_close(st);
    st = NULL;
    /* 2. split the ratings per user */
    test = ns_calloc(d.nev ? d.nev : 1, 1);
    train = ns_calloc(d.nev ? d.nev : 1, 1);
    us = ns_malloc(sizeof *us * (d.nev ? d.nev : 1));
    is = ns_malloc(sizeof *is * (d.nev ? d.nev : 1));
    if (!test || !train || !us || !is) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < d.nev; k++) {
        us[k] = (uint32_t)strtoul(ns_strmap_key(d.uids, d.ev[k].u, NULL), NULL, 10);
        is[k] = (uint32_t)strtoul(ns_strmap_key(d.iids, d.ev[k].i, NULL), NULL, 10);
    }
    if ((rc = ns_eval_split(us, is, d.nev, o->ratio, o->seed, test)) < 0) goto done;
    for (size_t k = 0; k < d.nev; k++) train[k] = !test[k];
    if (o->dump_dir && (rc = dump_split(&d, test, o->dump_dir)) < 0) goto done;
    /* 3. train a bundle on the training part */
    ns_bundle_opts bo = o->bundle;
    snprintf(bdir, sizeof bdir, "%s/bundle", work);
    bo.out_dir = bdir;
    if ((rc = ns_bundle_train(&d, train, &bo, bst)) < 0) goto done;
    /* 4. the state of the training part, and each test user's items */
    if ((rc = ns_dataset_to_state(&d, train, &s)) < 0) goto done;
    uint32_t nu = (uint32_t)ns_strmap_count(d.uids);
    m = (ml_ctx){&d, test, ns_calloc((size_t)nu + 1, sizeof(int64_t)), ns_malloc(sizeof(uint32_t) * (d.nev + 1)), s};
    int64_t *fill = ns_calloc((size_t)nu + 1, sizeof *fill);
    if (!m.off || !m.items || !fill) {
        free(fill);
        rc = NS_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < d.nev; k++) m.off[d.ev[k].u + 1] += test[k];
    for (uint32_t u = 0; u < nu; u++) m.off[u + 1] += m.off[u];
    for (size_t k = 0; k < d.nev; k++) {
        uint32_t it;
        if (test[k] && ns_state_find_item(s, ns_strmap_key(d.iids, d.ev[k].i, NULL), &it))
            m.items[m.off[d.ev[k].u] + fill[d.ev[k].u]++] = it;
    }
    for (uint32_t u = 0; u < nu; u++) {
        m.off[u + 1] = m.off[u] + fill[u]; /* (every test item is in the catalogue) */
        qsort(m.items + m.off[u], (size_t)fill[u], sizeof(uint32_t), by_u32);
    }
    free(fill);
    /* 5. the configurations */
    snprintf(path, sizeof path, "%s/pipeline.json", bdir);
    json_error_t je;
    if (!(base = json_load_file(path, 0, &je))) {
        rc = ns_err_set_at(NS_EFORMAT, path, je.line, NULL, NULL, "%s", je.text);
        goto done;
    }
    json_t *rec = json_object_get(base, "recall");
    size_t nch = json_array_size(rec);
    int popular = -1;
    for (size_t c = 0; c < nch; c++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(rec, c), "type")), "popular")) popular = (int)c;
    int n = 0;
    char *cfg;
    if (popular >= 0) {
        cfg = variant(base, 1u << popular, 0, 0);
        rc = cfg ? run_row(&m, cfg, path, "popularity", o->k, 0, o->dump_dir, &rows[n++]) : NS_ENOMEM;
        free(cfg);
    }
    for (size_t c = 0; rc >= 0 && c < nch; c++) {
        const char *name = json_string_value(json_object_get(json_array_get(rec, c), "name"));
        char label[48];
        snprintf(label, sizeof label, "channel:%s", name);
        cfg = variant(base, 1u << c, 0, 0);
        rc = cfg ? run_row(&m, cfg, path, label, o->k, 0, o->dump_dir, &rows[n++]) : NS_ENOMEM;
        free(cfg);
    }
    if (rc >= 0) {
        cfg = variant(base, (1u << nch) - 1, 0, 0);
        rc = cfg ? run_row(&m, cfg, path, "recall", o->k, 1, o->dump_dir, &rows[n++]) : NS_ENOMEM;
        free(cfg);
    }
    int ranked = !strcmp(json_string_value(json_object_get(json_object_get(base, "rank"), "type")), "wide_deep");
    if (rc >= 0 && ranked) {
        cfg = variant(base, (1u << nch) - 1, 1, 0);
        rc = cfg ? run_row(&m, cfg, path, "pipeline", o->k, 0, o->dump_dir, &rows[n++]) : NS_ENOMEM;
        free(cfg);
        if (rc >= 0 && o->div_k > 0) {
            char label[48];
            snprintf(label, sizeof label, "pipeline+div%d", o->div_k);
            cfg = variant(base, (1u << nch) - 1, 1, o->div_k);
            rc = cfg ? run_row(&m, cfg, path, label, o->k, 0, o->dump_dir, &rows[n++]) : NS_ENOMEM;
            free(cfg);
        }
    }
    *nrows = n;
done:
    json_decref(base);
    free(m.off);
    free(m.items);
    ns_state_free(s);
    free(test);
    free(train);
    free(us);
    free(is);
    ns_store_close(st);
    ns_dataset_release(&d);
    if (own) nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}
