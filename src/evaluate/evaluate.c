/*
 * evaluate.c — `northstar eval` (evaluate.h): the input read and split,
 * the training store written and the bundle trained from it, then for each
 * row the real service started on a loopback port (ns_service_start, as
 * `northstar serve --db TRAIN --models BUNDLE [--config VARIANT]` does),
 * every test user asked over HTTP, the answers scored, the service stopped.
 *
 * Workload (MovieLens-100K, 2 cores): import ~1 s, bundle training
 * 10-30 s, then per row a state load (~0.3 s) and 943 requests.
 */
#include "evaluate_int.h"

#include "northstar/service.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ns_evaluate_opts ns_evaluate_defaults(void)
{
    ns_evaluate_opts o;
    memset(&o, 0, sizeof o);
    o.k = 10;
    o.ratio = 0.75;
    o.seed = 42;
    o.clients = 4;
    o.workers = 2;
    o.variants = 1;
    o.bundle = ns_bundle_defaults();
    return o;
}

ns_evaluate_opts ns_evaluate_movielens_defaults(void)
{
    ns_evaluate_opts o = ns_evaluate_defaults();
    o.source = NS_EVALUATE_MOVIELENS;
    o.implicit_ratings = 1;
    o.bundle.diversity = 0;
    o.bundle.i2i.lambda = 300;
    o.bundle.i2i.neighbours = 0; /* MovieLens is small: keep every EASE weight */
    o.bundle.quota_mf = 200;     /* and an ALS channel (brute-force scoring over 1,682 items) */
    return o;
}

const ns_evaluate_row *ns_evaluate_row_find(const ns_evaluate_report *r, const char *name)
{
    for (int i = 0; i < r->nrows; i++)
        if (!strcmp(r->rows[i].name, name)) return &r->rows[i];
    return NULL;
}

void ns__ev_data_release(ns__ev_data *x)
{
    ns_dataset_release(&x->d);
    free(x->test);
    free(x->toff);
    free(x->titems);
    free(x->soff);
    free(x->sitems);
    free(x->users);
    memset(x, 0, sizeof *x);
}

/* One row: the service on the training store and the bundle (config NULL:
 * the bundle's own pipeline.json), every test user asked, scored. */
static int serve_row(const ns__ev_data *x, const ns_evaluate_opts *o, const char *db, const char *bdir,
                     const char *config, ns_evaluate_row *row)
{
    ns_service_opts so = ns_service_defaults();
    so.db = db;
    so.models = bdir;
    so.config = config;
    so.implicit_ratings = x->d.implicit_ratings;
    so.sync = NS_SYNC_OFF;
    so.http.host = "127.0.0.1";
    so.http.port = 0;
    so.http.threads = o->workers > 0 ? o->workers : 2;
    ns_log_level lvl = ns_log_get_level();
    if (lvl == NS_LOG_INFO) ns_log_set_level(NS_LOG_WARN); /* one service per row: its start-up lines are noise */
    ns_service *s;
    int rc = ns_service_start(&s, &so);
    ns_log_set_level(lvl);
    if (rc < 0) return ns_err_wrap("starting the service for row '%s'", row->name);
    ns__ev_answers a;
    rc = ns__ev_ask(x, ns_service_port(s), o->k, o->clients, row->name, &a);
    if (lvl == NS_LOG_INFO) ns_log_set_level(NS_LOG_WARN);
    ns_service_stop(s);
    ns_log_set_level(lvl);
    if (rc >= 0) rc = ns__ev_score(x, &a, o->dump_dir, row);
    ns__ev_answers_release(&a);
    if (rc >= 0)
        ns_log_info("evaluate: %-18s nDCG@%d %.4f  P %.4f  R %.4f  coverage %.3f  consumed %ld  failed %ld  p99 %.2f ms",
                    row->name, o->k, row->m.ndcg, row->m.precision, row->m.recall, row->coverage, row->consumed,
                    row->failed, row->p99_ms);
    return rc;
}

static int rows(const ns__ev_data *x, const ns_evaluate_opts *o, const char *db, const char *bdir,
                ns_evaluate_report *r)
{
    ns__ev_variant v[NS_EVALUATE_MAX_ROWS - 1];
    int nv = 0;
    int rc = ns__ev_variants(bdir, v, NS_EVALUATE_MAX_ROWS - 1, &nv, &r->bundle_diversity);
    if (rc < 0) return rc;
    memset(&r->rows[0], 0, sizeof r->rows[0]);
    snprintf(r->rows[0].name, sizeof r->rows[0].name, "served");
    if ((rc = serve_row(x, o, db, bdir, NULL, &r->rows[0])) < 0) return rc;
    r->nrows = 1;
    for (int i = 0; o->variants && i < nv && rc >= 0; i++) {
        ns_evaluate_row *w = &r->rows[r->nrows];
        memset(w, 0, sizeof *w);
        snprintf(w->name, sizeof w->name, "%s", v[i].name);
        if ((rc = serve_row(x, o, db, bdir, v[i].path, w)) >= 0) r->nrows++;
    }
    return rc;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) != 0;
}

static int run(const ns_evaluate_opts *o, const char *work, ns__ev_data *x, ns_evaluate_report *r)
{
    char db[1200], bdir[1200];
    int rc = ns__ev_load(o, work, x, &r->in);
    if (rc < 0) return rc;
    if ((rc = ns__ev_split(x, o->ratio, o->seed, &r->in)) < 0) return rc;
    if (!x->nusers) return ns_err_set(NS_EINVAL, "evaluate: the split left no user with a test item");
    ns_log_info("evaluate: %ld users, %ld items, %ld events; %ld train / %ld test pairs, %ld test users",
                r->in.users, r->in.items, r->in.events, r->in.train_pairs, r->in.test_pairs, r->in.test_users);
    r->catalogue = x->d.nitems;
    if (o->dump_dir && (rc = ns__ev_dump_split(x, o->dump_dir)) < 0) return rc;
    snprintf(db, sizeof db, "%s/train.db", work);
    snprintf(bdir, sizeof bdir, "%s/bundle", work);
    if ((rc = ns__ev_train_store(x, db)) < 0) return rc;
    if ((rc = ns__ev_train_bundle(db, o, bdir, &r->bundle)) < 0) return rc;
    return rows(x, o, db, bdir, r);
}

int ns_evaluate_run(const ns_evaluate_opts *o, ns_evaluate_report *r)
{
    memset(r, 0, sizeof *r);
    if (!(o->ratio > 0 && o->ratio < 1)) return ns_err_set_at(NS_EINVAL, NULL, 0, "ratio", NULL, "must be in (0, 1)");
    if (o->k < 1) return ns_err_set_at(NS_EINVAL, NULL, 0, "k", NULL, "must be at least 1");
    char tmpl[] = "/tmp/ns-eval.XXXXXX", work[1024];
    int own = !o->work_dir;
    if (own && !mkdtemp(tmpl)) return ns_err_set(NS_EIO, "cannot create a temporary directory");
    snprintf(work, sizeof work, "%s", own ? tmpl : o->work_dir);
    ns_timer t;
    ns_timer_start(&t);
    ns__ev_data x;
    memset(&x, 0, sizeof x);
    int rc = ns_mkdirs(work);
    if (rc >= 0) rc = ns_dataset_init(&x.d);
    if (rc >= 0) rc = run(o, work, &x, r);
    ns__ev_data_release(&x);
    if (own) nftw(work, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    r->secs = ns_timer_elapsed(&t);
    return rc;
}
