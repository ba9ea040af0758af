/*
 * bundle.c — `northstar train`: every model of the recommendation
 * pipeline, trained from a dataset and written to one directory with the
 * pipeline config that loads them (see bundle.h for the layout and for how
 * the ranker's examples are made).
 *
 * Workload: MovieLens-100K (75k training ratings) trains in ~10-20 s on
 * 2 cores, most of it the Wide & Deep epochs; the playground (10k users,
 * 50k items, 700k events) in about a minute.
 */
#include "northstar/dataset.h"
#include "northstar/bundle.h"
#include "northstar/eval.h"

#include "northstar/bm25.h"
#include "northstar/w2v.h"
#include "northstar/vec.h"
#include "northstar/pipeline.h"
#include "northstar/rank.h"
#include "northstar/tokenizer.h"
#include "northstar/hnsw.h"
#include "offline_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

ns_bundle_opts ns_bundle_defaults(void)
{
    ns_bundle_opts o;
    memset(&o, 0, sizeof o);
    o.i2i = ns_i2i_defaults();
    o.quota_i2i = 200;
    o.quota_vector = 100;
    o.quota_keyword = 50;
    o.quota_profile = 100;
    o.quota_trending = 50;
    o.quota_popular = 100;
    o.quota_fresh = 20;
    o.vectors = 1;
    o.vec_dim = 64;
    o.vec_epochs = 20;
    o.vec_window = 50;
    o.vec_history = 32;
    o.vec_query = "mean";
    o.keyword = 1;
    o.terms_per_item = 8;
    o.ranker = 1;
    o.rank_epochs = 10;
    o.label_ratio = 0.8;
    o.max_examples = 600000;
    o.diversity = 3;
    o.rank_select = 1;
    o.seed = 1;
    o.mf = ns_als_defaults();
    return o;
}

static int path_in(char *buf, size_t n, const char *dir, const char *file)
{
    if (snprintf(buf, n, "%s/%s", dir, file) >= (int)n) return ns_err_set(NS_ERANGE, "path too long: %s/%s", dir, file);
    return 0;
}


/* ---- item vectors ----------------------------------------------------------------------------------- */

static int write_vectors(const ns_ilog *l, const ns_bundle_opts *o, const char *dir, uint32_t *nvec)
{
    uint32_t nu = ns_ilog_nusers(l);
    int64_t ntok = 0, nsent = 0;
    for (uint32_t u = 0; u < nu; u++)
        if (l->uoff[u + 1] - l->uoff[u] >= 2) {
            ntok += l->uoff[u + 1] - l->uoff[u];
            nsent++;
        }
    *nvec = 0;
    if (nsent == 0) return 0;
    int32_t *ids = ns_malloc(sizeof *ids * (size_t)ntok);
    int64_t *sent = ns_malloc(sizeof *sent * (size_t)(nsent + 1));
    if (!ids || !sent) {
        free(ids);
        free(sent);
        return NS_ENOMEM;
    }
    int64_t t = 0, s = 0;
    for (uint32_t u = 0; u < nu; u++) {
        if (l->uoff[u + 1] - l->uoff[u] < 2) continue;
        sent[s++] = t;
        for (int64_t k = l->uoff[u]; k < l->uoff[u + 1]; k++) ids[t++] = (int32_t)l->uitems[k];
    }
    sent[s] = t;
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.min_count = 2;
    co.quiet_progress = 1;
    ns_w2v_corpus *c = NULL;
    ns_w2v_model *m = NULL;
    ns_vectors *v = NULL;
    ns_hnsw *h = NULL;
    int rc = ns_w2v_corpus_from_ids(&c, ids, ntok, sent, nsent, l->items, &co);
    if (rc < 0) return rc == NS_EINVAL ? 0 : rc; /* nothing frequent enough: no vector channel */
    ns_w2v_opts wo = ns_w2v_defaults();
    wo.dim = o->vec_dim;
    wo.window = o->vec_window;
    wo.epochs = o->vec_epochs;
    wo.sample = 1e-4;
    wo.seed = o->seed;
    wo.label = "item vectors";
    if ((rc = ns_w2v_train(&m, c, &wo, NULL)) < 0) goto done;
    if (!(v = ns_w2v_vectors(m, c, NULL))) {
        rc = NS_ENOMEM;
        goto done;
    }
    char path[2048];
    if ((rc = path_in(path, sizeof path, dir, "items.vec")) < 0 || (rc = ns_vec_write(v, path, 1)) < 0) goto done;
    ns_hnsw_params hp = ns_hnsw_defaults(v->dim, NS_METRIC_COSINE);
    hp.capacity = (size_t)v->n + 1;
    hp.seed = o->seed;
    uint32_t *rows = ns_malloc(sizeof *rows * (size_t)(v->n ? v->n : 1));
    if (!rows) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int64_t r = 0; r < v->n; r++) rows[r] = (uint32_t)r;
    /* Zero vectors cannot be normalised: nudge them (words that never trained). */
    for (int64_t r = 0; r < v->n; r++) {
        double nn = 0;
        for (int k = 0; k < v->dim; k++) nn += (double)v->v[r * v->dim + k] * v->v[r * v->dim + k];
        if (!(nn > 0)) v->v[r * v->dim] = 1e-3f;
    }
    rc = ns_hnsw_create(&h, &hp);
    if (rc >= 0) rc = ns_hnsw_add_batch(h, rows, v->v, (size_t)v->n);
    free(rows);
    if (rc >= 0 && (rc = path_in(path, sizeof path, dir, "items.hnsw")) >= 0) rc = ns_hnsw_save(h, path);
    if (rc >= 0) *nvec = (uint32_t)v->n;
done:
    ns_hnsw_free(h);
    ns_vec_free(v);
    ns_w2v_model_free(m);
    ns_w2v_corpus_free(c);
    return rc;
}

/* ---- keyword index ------------------------------------------------------------------------------------ */

typedef struct {
    ns_strmap *vocab;
    uint32_t *tf; /* per token of the current item */
    uint32_t *touched;
    int nt;
    int64_t *df; /* per token */
    size_t cap;
    int pass;
} tok_ctx;

static int on_tok(const char *tok, size_t len, size_t off, void *ctx)
{
    (void)off;
    tok_ctx *t = ctx;
    if (len < 3 || (tok[0] >= '0' && tok[0] <= '9')) return 0; /* short words and numbers say little */
    int64_t id = ns_strmap_intern(t->vocab, tok, len);
    if (id < 0) return -1;
    if ((size_t)id >= t->cap) {
        size_t nc = t->cap * 2;
        while ((size_t)id >= nc) nc *= 2;
        uint32_t *tf = ns_realloc(t->tf, nc * sizeof *tf);
        if (tf) t->tf = tf;
        uint32_t *tc = ns_realloc(t->touched, nc * sizeof *tc);
        if (tc) t->touched = tc;
        int64_t *df = ns_realloc(t->df, nc * sizeof *df);
        if (df) t->df = df;
        if (!tf || !tc || !df) return -1;
        memset(t->tf + t->cap, 0, (nc - t->cap) * sizeof *t->tf);
        memset(t->df + t->cap, 0, (nc - t->cap) * sizeof *t->df);
        t->cap = nc;
    }
    if (!t->tf[id]++) t->touched[t->nt++] = (uint32_t)id;
    return 0;
}

typedef struct { uint32_t id; double w; } tw_t;

static int by_w(const void *a, const void *b)
{
    const tw_t *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int tokenize_item(ns_tokenizer *tk, const ns_item_rec *it, tok_ctx *t)
{
    t->nt = 0;
    if (it->title && ns_tokenize(tk, it->title, strlen(it->title), on_tok, t) < 0) return NS_ENOMEM;
    if (it->text && it->text != it->title && (!it->title || strcmp(it->text, it->title)) &&
        ns_tokenize(tk, it->text, strlen(it->text), on_tok, t) < 0)
        return NS_ENOMEM;
    return 0;
}

static int write_keyword(const ns_dataset *d, const ns_bundle_opts *o, const char *dir)
{
    ns_bm25_params bp = ns_bm25_defaults();
    ns_bm25 *ix = NULL;
    ns_tokenizer *tk = ns_tokenizer_new(NULL);
    tok_ctx t = {ns_strmap_new(4096), ns_calloc(1024, sizeof(uint32_t)), ns_malloc(1024 * sizeof(uint32_t)),
                 0, ns_calloc(1024, sizeof(int64_t)), 1024, 0};
    tw_t *cand = NULL;
    ns_buf terms;
    ns_buf_init(&terms);
    int rc = ns_bm25_create(&ix, &bp);
    if (rc >= 0 && (!tk || !t.vocab || !t.tf || !t.touched || !t.df)) rc = NS_ENOMEM;
    /* Pass 1: document frequencies; index the items. */
    for (uint32_t r = 0; rc >= 0 && r < d->nitems; r++) {
        const ns_item_rec *it = &d->items[r];
        const char *f[2] = {it->title, it->text && it->text != it->title ? it->text : NULL};
        if ((rc = ns_bm25_add(ix, r, f, NULL)) < 0) break;
        if ((rc = tokenize_item(tk, it, &t)) < 0) break;
        for (int k = 0; k < t.nt; k++) {
            t.df[t.touched[k]]++;
            t.tf[t.touched[k]] = 0;
        }
    }
    /* Pass 2: each item's top tf-idf words. */
    double N = d->nitems ? d->nitems : 1;
    for (uint32_t r = 0; rc >= 0 && r < d->nitems; r++) {
        const ns_item_rec *it = &d->items[r];
        if ((rc = tokenize_item(tk, it, &t)) < 0) break;
        tw_t *c = ns_realloc(cand, sizeof *c * (size_t)(t.nt ? t.nt : 1));
        if (!c) {
            rc = NS_ENOMEM;
            break;
        }
        cand = c;
        for (int k = 0; k < t.nt; k++) {
            uint32_t id = t.touched[k];
            cand[k] = (tw_t){id, (1 + log((double)t.tf[id])) * log(N / (double)t.df[id])};
            t.tf[id] = 0;
        }
        qsort(cand, (size_t)t.nt, sizeof *cand, by_w);
        ns_buf_puts(&terms, it->id);
        ns_buf_puts(&terms, "\t");
        for (int k = 0; k < t.nt && k < o->terms_per_item; k++) {
            if (k) ns_buf_puts(&terms, " ");
            ns_buf_puts(&terms, ns_strmap_key(t.vocab, cand[k].id, NULL));
        }
        if (ns_buf_puts(&terms, "\n") < 0) rc = NS_ENOMEM;
    }
    char path[2048];
    if (rc >= 0 && (rc = path_in(path, sizeof path, dir, "keyword.bm25")) >= 0) rc = ns_bm25_save(ix, path);
    if (rc >= 0 && (rc = path_in(path, sizeof path, dir, "keyword.terms")) >= 0)
        rc = ns_file_write_atomic(path, terms.data ? terms.data : "", terms.len);
    ns_buf_release(&terms);
    free(cand);
    free(t.tf);
    free(t.touched);
    free(t.df);
    ns_strmap_free(t.vocab);
    ns_tokenizer_free(tk);
    ns_bm25_free(ix);
    return rc;
}

/* ---- recall models + config ------------------------------------------------------------------------------ */

typedef struct {
    int i2i, vectors, keyword, mf;
} have_t;

/* The "mf" channel's model: implicit ALS (als.h) on the same log. */
static int write_mf(const ns_ilog *l, const ns_bundle_opts *o, const char *dir, have_t *have, ns_bundle_stats *st)
{
    ns_timer t;
    ns_timer_start(&t);
    ns_als *m = NULL;
    char path[2048];
    ns_als_opts mo = o->mf;
    mo.seed = o->seed;
    int rc = ns_als_train(&m, l, &mo);
    if (rc >= 0 && m->nusers && m->nitems && (rc = path_in(path, sizeof path, dir, "mf.safetensors")) >= 0 &&
        (rc = ns_als_save(m, path)) >= 0) {
        have->mf = 1;
        st->mf_users = m->nusers;
        st->mf_items = m->nitems;
    }
    ns_als_free(m);
    st->secs_mf += ns_timer_elapsed(&t);
    return rc;
}

static int write_recall_models(const ns_dataset *d, const uint8_t *keep, const ns_bundle_opts *o, const char *dir,
                               have_t *have, ns_bundle_stats *st)
{
    memset(have, 0, sizeof *have);
    if (ns_mkdirs(dir) < 0) return ns_err_wrap("creating %s", dir);
    ns_ilog l;
    int rc = ns_dataset_to_ilog(d, keep, &l);
    if (rc < 0) return rc;
    ns_timer t;
    char path[2048];
    if (o->quota_i2i > 0) {
        ns_timer_start(&t);
        ns_i2i *m = NULL;
        rc = ns_i2i_train(&m, &l, &o->i2i);
        if (rc >= 0 && m->n > 0) {
            if ((rc = path_in(path, sizeof path, dir, "i2i.safetensors")) >= 0) rc = ns_i2i_save(m, path);
            have->i2i = rc >= 0;
            st->i2i_items = m->n;
        }
        ns_i2i_free(m);
        st->secs_i2i += ns_timer_elapsed(&t);
        if (rc < 0) goto done;
    }
    if (o->quota_mf > 0 && (rc = write_mf(&l, o, dir, have, st)) < 0) goto done;
    if (o->vectors && o->quota_vector > 0) {
        ns_timer_start(&t);
        uint32_t nvec = 0;
        if ((rc = write_vectors(&l, o, dir, &nvec)) < 0) goto done;
        have->vectors = nvec > 0;
        st->vec_items = nvec;
        st->secs_vectors += ns_timer_elapsed(&t);
    }
    if (o->keyword && o->quota_keyword > 0 && d->nitems) {
        ns_timer_start(&t);
        if ((rc = write_keyword(d, o, dir)) < 0) goto done;
        have->keyword = 1;
        st->secs_keyword += ns_timer_elapsed(&t);
    }
done:
    ns_ilog_release(&l);
    return rc;
}

static void add_channel(json_t *rec, const char *name, const char *type, int quota, json_t *params)
{
    json_t *c = json_pack("{s:s, s:s, s:i}", "name", name, "type", type, "quota", quota);
    if (params) json_object_set_new(c, "params", params);
    json_array_append_new(rec, c);
}

/* The pipeline config of a bundle; ranker "wide_deep" (with the blend as
 * fallback) or "blend". Returns a new reference. */
/* What describes the data the models learnt from (state.h, ns_state_data):
 * the service builds its state by it (serve --models DIR). */
static json_t *data_object(const ns_dataset *d)
{
    ns_state_data x = ns_dataset_data(d);
    json_t *w = json_object();
    static const int types[] = {NS_EV_CLICK, NS_EV_LIKE, NS_EV_PURCHASE, NS_EV_RATING};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        json_object_set_new(w, ns_event_type_name(types[k]), json_real(x.weights[types[k]]));
    return json_pack("{s:b, s:f, s:o}", "implicit_ratings", x.implicit_ratings, "positive_threshold",
                     x.positive_threshold, "weights", w);
}

static json_t *bundle_config(const ns_dataset *d, const ns_bundle_opts *o, const have_t *h, int with_ranker)
{
    json_t *rec = json_array(), *w = json_object();
    if (h->i2i) {
        add_channel(rec, "i2i", "i2i", o->quota_i2i, json_pack("{s:s}", "model_file", "i2i.safetensors"));
        json_object_set_new(w, "i2i", json_real(2.0));
    }
    if (h->mf) {
        add_channel(rec, "mf", "mf", o->quota_mf, json_pack("{s:s}", "model_file", "mf.safetensors"));
        json_object_set_new(w, "mf", json_real(1.5));
    }
    if (h->vectors) {
        add_channel(rec, "vector", "vector", o->quota_vector,
                    json_pack("{s:s, s:s, s:i, s:s}", "vectors_file", "items.vec", "index_file", "items.hnsw", "history",
                              o->vec_history, "query", o->vec_query));
        json_object_set_new(w, "vector", json_real(1.0));
    }
    if (h->keyword) {
        add_channel(rec, "keyword", "keyword", o->quota_keyword,
                    json_pack("{s:s, s:s, s:i}", "index_file", "keyword.bm25", "terms_file", "keyword.terms", "history", 5));
        json_object_set_new(w, "keyword", json_real(0.5));
    }
    if (o->quota_profile > 0) {
        add_channel(rec, "profile", "profile", o->quota_profile, NULL);
        json_object_set_new(w, "profile", json_real(0.8));
    }
    if (o->quota_trending > 0) {
        add_channel(rec, "trending", "trending", o->quota_trending, json_pack("{s:s}", "window", "1d"));
        json_object_set_new(w, "trending", json_real(0.5));
    }
    if (o->quota_popular > 0) {
        add_channel(rec, "popular", "popular", o->quota_popular, NULL);
        json_object_set_new(w, "popular", json_real(0.3));
    }
    if (o->quota_fresh > 0) {
        add_channel(rec, "fresh", "fresh", o->quota_fresh, NULL);
        json_object_set_new(w, "fresh", json_real(0.1));
    }
    json_t *blend = json_pack("{s:o, s:f}", "weights", w, "ctr_weight", 0.3);
    json_t *rank = with_ranker
                       ? json_pack("{s:s, s:{s:s, s:O}}", "type", "wide_deep", "params", "model_file", "ranker.safetensors",
                                   "fallback", blend)
                       : json_pack("{s:s, s:O}", "type", "blend", "params", blend);
    json_decref(blend);
    return json_pack("{s:o, s:{s:s, s:s, s:s, s:s}, s:o, s:{s:b, s:b}, s:o, s:{s:i}, s:{s:i, s:i}}", "data",
                     data_object(d), "north_star", "name",
                     "ctr", "numerator", "click", "denominator", "impression", "window", "1h", "recall", rec, "filters",
                     "seen", 1, "unpublished", 1, "rank", rank, "diversity", "max_per_category", o->diversity, "limits",
                     "default_n", 10, "max_n", 100);
}

static int write_config(json_t *cfg, const char *dir)
{
    char path[2048], *text = json_dumps(cfg, JSON_INDENT(2));
    int rc = text ? path_in(path, sizeof path, dir, "pipeline.json") : NS_ENOMEM;
    if (rc >= 0) rc = ns_file_write_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

/* ---- ranker examples -------------------------------------------------------------------------------------- */

typedef struct {
    ns_buf *out;
    const uint32_t *truth; /* ratings mode: sorted state item indexes */
    int ntruth;
    ns_u64map *clicks;     /* impressions mode: (user << 32 | item) -> first click time after the cut */
    uint32_t user;
    double ts;
    long rows, pos;
    ns_rng *rng;
    double neg_keep;       /* share of negatives written */
} ex_ctx;

static void put_value(ns_buf *b, const ns_fvalue *v)
{
    if (v->str) {
        char tmp[512];
        int n = v->len < (int)sizeof tmp - 1 ? v->len : (int)sizeof tmp - 1;
        for (int k = 0; k < n; k++) tmp[k] = v->str[k] == '\t' || v->str[k] == '\n' || v->str[k] == '\r' ? ' ' : v->str[k];
        ns_buf_append(b, tmp, (size_t)n);
    } else if (isfinite(v->num))
        ns_buf_printf(b, "%.17g", v->num);
}

static int on_example(uint32_t item, int is_cand, const ns_fvalue *row, int ncols, void *ctx)
{
    (void)is_cand;
    ex_ctx *x = ctx;
    int label;
    if (x->clicks) {
        uint64_t ct = 0;
        label = ns_u64map_get(x->clicks, (uint64_t)x->user << 32 | item, &ct) && (double)ct >= x->ts &&
                (double)ct - x->ts <= 1800;
    } else {
        int lo = 0, hi = x->ntruth;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (x->truth[mid] < item) lo = mid + 1;
            else hi = mid;
        }
        label = lo < x->ntruth && x->truth[lo] == item;
    }
    if (!label && x->neg_keep < 1 && ns_rng_uniform(x->rng) >= x->neg_keep) return 0;
    ns_buf_puts(x->out, label ? "1" : "0");
    for (int j = 0; j < ncols; j++) {
        ns_buf_puts(x->out, "\t");
        put_value(x->out, &row[j]);
    }
    x->rows++;
    x->pos += label;
    return ns_buf_puts(x->out, "\n") < 0 ? NS_ENOMEM : 0;
}

/* Header line of the examples file. */
static int examples_header(ns_pipeline *p, ns_buf *out, char ***names, int *ncols)
{
    int rc = ns_pipeline_feature_columns(p, names, ncols);
    if (rc < 0) return rc;
    ns_buf_puts(out, "label");
    for (int j = 0; j < *ncols; j++) {
        ns_buf_puts(out, "\t");
        ns_buf_puts(out, (*names)[j]);
    }
    return ns_buf_puts(out, "\n") < 0 ? NS_ENOMEM : 0;
}

/* Ratings mode: candidates of the history models, labelled by the held-out
 * positives; validation users (h->val) are left to rank_select.c. */
static int examples_ratings(const ns_dataset *d, const ns__heldout *h, ns_state *s, ns_pipeline *p,
                            const ns_bundle_opts *o, ex_ctx *x)
{
    uint32_t nu = h->nu;
    /* Users in a seeded random order; stop at the row cap. */
    uint32_t *order = ns_malloc(sizeof *order * (nu ? nu : 1));
    if (!order) return NS_ENOMEM;
    for (uint32_t u = 0; u < nu; u++) order[u] = u;
    ns_rng_shuffle_u32(x->rng, order, nu);
    ns_context ctx;
    double now = ns_state_now(s);
    ns_context_make(&ctx, now > 0 ? now : ns_wall_time(), 0, NULL, NULL);
    ns_progress pr;
    ns_progress_begin(&pr, "ranker examples", nu, "users");
    int rc = 0;
    for (uint32_t k = 0; rc >= 0 && k < nu && x->rows < o->max_examples; k++) {
        uint32_t u = order[k];
        ns_progress_add(&pr, 1);
        if (!h->n[u] || h->val[u]) continue;
        x->truth = h->items + h->off[u];
        x->ntruth = (int)h->n[u];
        ns_example_req r = {ns_strmap_key(d->uids, u, NULL), &ctx, NULL, 0, 1};
        rc = ns_pipeline_examples(p, &r, on_example, x);
    }
    ns_progress_end(&pr);
    free(order);
    return rc;
}

/* Impressions mode: replay the events after the cut; every shown slate is
 * described at its moment, then applied. */
static int examples_impressions(const ns_dataset *d, const uint8_t *keep, double cut, ns_state *s,
                                ns_pipeline *p, const ns_bundle_opts *o, ex_ctx *x)
{
    ns_u64map clicks;
    int rc = ns_u64map_init(&clicks, 1 << 16);
    if (rc < 0) return rc;
    size_t nimp = 0;
    for (size_t k = 0; rc >= 0 && k < d->nev; k++) {
        const ns_devent *e = &d->ev[k];
        if ((keep && !keep[k]) || e->ts < cut) continue;
        if (e->type == NS_EV_IMPRESSION) nimp++;
        if (e->type != NS_EV_CLICK) continue;
        uint64_t key = (uint64_t)e->u << 32 | e->i, prev;
        if (!ns_u64map_get(&clicks, key, &prev)) rc = ns_u64map_put(&clicks, key, (uint64_t)e->ts);
    }
    /* Keys of the click map are dataset indexes; examples name state items:
     * translate through a dataset-item -> state-item table. */
    uint32_t ni = (uint32_t)ns_strmap_count(d->iids);
    uint32_t *sitem = rc >= 0 ? ns_malloc(sizeof *sitem * (ni ? ni : 1)) : NULL;
    uint32_t *ditem = NULL, nsi = ns_state_items(s);
    if (rc >= 0 && (!sitem || !(ditem = ns_malloc(sizeof *ditem * (nsi ? nsi : 1))))) rc = NS_ENOMEM;
    for (uint32_t i = 0; rc >= 0 && i < nsi; i++) ditem[i] = UINT32_MAX;
    for (uint32_t i = 0; rc >= 0 && i < ni; i++) {
        uint32_t it;
        sitem[i] = ns_state_find_item(s, ns_strmap_key(d->iids, i, NULL), &it) ? it : UINT32_MAX;
        if (sitem[i] != UINT32_MAX && sitem[i] < nsi) ditem[sitem[i]] = i;
    }
    ns_u64map sclicks; /* keyed by (dataset user, state item) */
    if (rc >= 0) rc = ns_u64map_init(&sclicks, clicks.count + 16);
    for (size_t k = 0; rc >= 0 && k < clicks.cap; k++)
        if (clicks.used[k]) {
            uint32_t u = (uint32_t)(clicks.keys[k] >> 32), i = (uint32_t)clicks.keys[k];
            if (sitem[i] != UINT32_MAX) rc = ns_u64map_put(&sclicks, (uint64_t)u << 32 | sitem[i], clicks.vals[k]);
        }
    x->clicks = &sclicks;
    /* Keep about max_examples rows: sample slates. */
    double slate_keep = nimp > (size_t)o->max_examples ? (double)o->max_examples / (double)nimp : 1.0;
    uint32_t *slate = ns_malloc(sizeof *slate * 256);
    if (!slate) rc = NS_ENOMEM;
    ns_progress pr;
    ns_progress_begin(&pr, "ranker examples", (double)d->nev, "events");
    for (size_t k = 0; rc >= 0 && k < d->nev;) {
        const ns_devent *e = &d->ev[k];
        if ((keep && !keep[k]) || e->ts < cut) {
            k++;
            continue;
        }
        if (e->type != NS_EV_IMPRESSION) {
            ns_event_rec er = ns_dataset_event(d, e);
            ns_state_event(s, &er);
            k++;
            continue;
        }
        /* a slate: consecutive impressions of one user at one time */
        size_t b = k;
        int ns = 0;
        while (b < d->nev && (!keep || keep[b]) && d->ev[b].type == NS_EV_IMPRESSION && d->ev[b].u == e->u &&
               d->ev[b].ts == e->ts) {
            if (ns < 256 && sitem[d->ev[b].i] != UINT32_MAX) slate[ns++] = sitem[d->ev[b].i];
            b++;
        }
        if (ns && ns_rng_uniform(x->rng) < slate_keep) {
            ns_context ctx;
            ns_context_make(&ctx, e->ts, 0, NULL, NULL);
            x->user = e->u;
            x->ts = e->ts;
            ns_example_req r = {ns_strmap_key(d->uids, e->u, NULL), &ctx, slate, ns, 0};
            rc = ns_pipeline_examples(p, &r, on_example, x);
        }
        for (size_t j = k; j < b; j++) {
            ns_event_rec er = ns_dataset_event(d, &d->ev[j]);
            ns_state_event(s, &er);
        }
        ns_progress_set(&pr, (long long)b);
        k = b;
    }
    ns_progress_end(&pr);
    (void)ditem;
    free(slate);
    free(sitem);
    free(ditem);
    ns_u64map_release(&clicks);
    if (x->clicks) ns_u64map_release(&sclicks);
    x->clicks = NULL;
    return rc;
}

/* ---- the ranker's feature spec ------------------------------------------------------------------------ */

static json_t *feature_def(const char *name)
{
    static const double age_b[] = {18, 25, 35, 45, 50, 56};
    if (!strcmp(name, "user_age")) {
        json_t *b = json_array();
        for (size_t k = 0; k < sizeof age_b / sizeof age_b[0]; k++) json_array_append_new(b, json_real(age_b[k]));
        return json_pack("{s:s, s:s, s:[s], s:{s:o}, s:b, s:i, s:f}", "name", name, "type", "numeric", "transforms",
                         "zscore", "buckets", "boundaries", b, "wide", 1, "embed", 4, "fill", 0.0);
    }
    if (!strcmp(name, "user_gender") || !strcmp(name, "ctx_weekday") || !strcmp(name, "ctx_device") ||
        !strcmp(name, "ctx_page"))
        return json_pack("{s:s, s:s, s:b, s:i}", "name", name, "type", "categorical", "wide", 1, "embed", 4);
    if (!strcmp(name, "user_occupation") || !strcmp(name, "item_cat"))
        return json_pack("{s:s, s:s, s:b, s:i}", "name", name, "type", "categorical", "wide", 1, "embed", 8);
    if (!strcmp(name, "item"))
        return json_pack("{s:s, s:s, s:{s:i}, s:b, s:i}", "name", name, "type", "categorical", "vocab", "min_count", 5,
                         "wide", 1, "embed", 16);
    if (!strcmp(name, "item_cats") || !strcmp(name, "channels"))
        return json_pack("{s:s, s:s, s:s, s:b, s:i}", "name", name, "type", "multi", "sep", "|", "wide", 1, "embed", 8);
    if (!strcmp(name, "ctx_hour"))
        return json_pack("{s:s, s:s, s:[{s:s, s:f}]}", "name", name, "type", "numeric", "transforms", "op", "cyclic",
                         "period", 24.0);
    if (!strcmp(name, "rt_ctr") || !strcmp(name, "cat_affinity") || !strncmp(name, "ch:", 3))
        return json_pack("{s:s, s:s, s:b, s:f}", "name", name, "type", "numeric", "wide_value", 1, "fill", 0.0);
    if (!strncmp(name, "raw:", 4))
        return json_pack("{s:s, s:s, s:[s], s:f}", "name", name, "type", "numeric", "transforms", "zscore", "fill", 0.0);
    /* counts: log1p, standardised, and deciles for the wide part */
    return json_pack("{s:s, s:s, s:[s, s], s:{s:i}, s:b, s:f}", "name", name, "type", "numeric", "transforms", "log1p",
                     "zscore", "buckets", "quantiles", 10, "wide", 1, "fill", 0.0);
}

/* Is column `name` in the comma-separated list `drop`? An entry ending in
 * ':' names a family ("raw:" is every raw:<channel>). */
static int dropped(const char *drop, const char *name)
{
    for (const char *q = drop; q && *q;) {
        const char *e = strchr(q, ',');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        if (len && !strncmp(name, q, len) && (q[len - 1] == ':' || name[len] == 0)) return 1;
        q += len + (e != NULL);
    }
    return 0;
}

static char *spec_json(char **names, int ncols, const char *drop)
{
    json_t *f = json_array();
    for (int j = 0; j < ncols; j++)
        if (!dropped(drop, names[j])) json_array_append_new(f, feature_def(names[j]));
    static const char *const crosses[][3] = {{"gender_x_cat", "user_gender", "item_cat"},
                                             {"age_x_cat", "user_age", "item_cat"},
                                             {"device_x_cat", "ctx_device", "item_cat"}};
    for (size_t c = 0; c < sizeof crosses / sizeof crosses[0]; c++)
        if (!dropped(drop, crosses[c][0]) && !dropped(drop, crosses[c][1]) && !dropped(drop, crosses[c][2]))
            json_array_append_new(f, json_pack("{s:s, s:s, s:[s, s], s:i}", "name", crosses[c][0], "type", "cross",
                                               "cross", crosses[c][1], crosses[c][2], "hash_buckets", 1000));
    json_t *spec = json_pack("{s:s, s:b, s:s, s:o}", "format", "tsv", "header", 1, "label", "label", "features", f);
    char *s = json_dumps(spec, JSON_COMPACT);
    json_decref(spec);
    return s;
}

static int train_ranker(const char *examples, char **names, int ncols, const ns_bundle_opts *o, const char *dir,
                        ns_bundle_stats *st)
{
    char *sj = spec_json(names, ncols, o->rank_drop);
    if (!sj) return NS_ENOMEM;
    ns_feature_spec *spec = NULL;
    int rc = ns_fspec_parse(&spec, sj, strlen(sj), "ranker spec");
    free(sj);
    if (rc < 0) return rc;
    ns_fdata all, tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    ns_ranker *m = NULL;
    int *idx = NULL;
    if ((rc = ns_fdata_read_file(spec, examples, 1, 1, &all)) < 0) {
        ns_fspec_free(spec);
        return rc;
    }
    ns_rank_cfg cfg = ns_rank_defaults();
    cfg.epochs = o->rank_epochs;
    cfg.seed = o->seed;
    cfg.hidden[0] = 64;
    cfg.hidden[1] = 32;
    int nval = (int)(all.n * 0.1);
    const ns_fdata *train = &all, *val = NULL;
    if (nval > 0 && nval < all.n) {
        idx = ns_malloc(sizeof(int) * (size_t)all.n);
        if (!idx || ns_fdata_init(&tr, spec) < 0 || ns_fdata_init(&va, spec) < 0) {
            rc = NS_ENOMEM;
            goto done;
        }
        for (int i = 0; i < all.n; i++) idx[i] = i;
        ns_rng r;
        ns_rng_seed(&r, o->seed, 77);
        ns_rng_shuffle_u32(&r, (uint32_t *)idx, (size_t)all.n);
        if ((rc = ns_fdata_gather(&va, &all, idx, nval)) < 0 || (rc = ns_fdata_gather(&tr, &all, idx + nval, all.n - nval)) < 0)
            goto done;
        train = &tr;
        val = &va;
    }
    if ((rc = ns_ranker_new(&m, &cfg, spec)) < 0) goto done; /* the spec stays ours on failure */
    spec = NULL;                                             /* the model owns it */
    ns_rank_train_stats ts;
    if ((rc = ns_ranker_train(m, train, val, &ts)) < 0) goto done;
    st->val_auc = ts.best_val_auc;
    char path[2048];
    if ((rc = path_in(path, sizeof path, dir, "ranker.safetensors")) >= 0) rc = ns_ranker_save(m, path);
done:
    ns_ranker_free(m);
    ns_fspec_free(spec);
    free(idx);
    ns_fdata_release(&all);
    ns_fdata_release(&tr);
    ns_fdata_release(&va);
    return rc;
}

/* The ranker (written to o->out_dir) against each channel alone on the
 * validation users, in the stage's pipeline (rank_select.c). */
static int select_order(const ns_dataset *d, const ns__heldout *ho, ns_state *s, const ns_bundle_opts *o,
                        const have_t *have, const char *stage, json_t **rank, json_t **report)
{
    char from[2048], to[2048], origin[2048], *buf = NULL;
    size_t len = 0;
    int rc = path_in(from, sizeof from, o->out_dir, "ranker.safetensors");
    if (rc >= 0) rc = path_in(to, sizeof to, stage, "ranker.safetensors");
    if (rc >= 0) rc = path_in(origin, sizeof origin, stage, "pipeline.json");
    if (rc >= 0) rc = ns_file_read_all(from, &buf, &len, 0);
    if (rc >= 0) rc = ns_file_write_atomic(to, buf, len);
    free(buf);
    json_t *cfg = rc >= 0 ? bundle_config(d, o, have, 1) : NULL;
    if (rc >= 0) rc = cfg ? ns__rank_select(ho, d, s, cfg, origin, 10, rank, report) : NS_ENOMEM;
    json_decref(cfg);
    return rc;
}

static int rank_stage(const ns_dataset *d, const uint8_t *keep, const ns_bundle_opts *o, ns_bundle_stats *st,
                      json_t **sel_rank, json_t **sel_report)
{
    ns_timer t;
    ns_timer_start(&t);
    /* Mode: impressions when there are impressions and clicks to learn from. */
    size_t nimp = 0, nclk = 0;
    double tmin = INFINITY, tmax = -INFINITY;
    for (size_t k = 0; k < d->nev; k++) {
        if (keep && !keep[k]) continue;
        nimp += d->ev[k].type == NS_EV_IMPRESSION;
        nclk += d->ev[k].type == NS_EV_CLICK;
        if (d->ev[k].ts < tmin) tmin = d->ev[k].ts;
        if (d->ev[k].ts > tmax) tmax = d->ev[k].ts;
    }
    int impressions = nimp > 1000 && nclk > 100;
    st->ranker_mode = impressions ? 2 : 1;
    uint8_t *fit = ns_malloc(d->nev ? d->nev : 1), *label = ns_calloc(d->nev ? d->nev : 1, 1);
    char stage[2048] = "";
    ns_state *s = NULL;
    ns_pipeline *p = NULL;
    ns_buf out;
    ns_buf_init(&out);
    char **names = NULL;
    int ncols = 0, rc = fit && label ? 0 : NS_ENOMEM;
    double cut = tmin + o->label_ratio * (tmax - tmin);
    if (rc >= 0 && impressions) {
        for (size_t k = 0; k < d->nev; k++) fit[k] = (!keep || keep[k]) && d->ev[k].ts < cut;
    } else if (rc >= 0) {
        /* Per user: label_ratio of the positives kept as history, the rest held out. */
        size_t np = 0;
        for (size_t k = 0; k < d->nev; k++) np += (!keep || keep[k]) && ns_dataset_positive(d, &d->ev[k]);
        uint32_t *u = ns_malloc(sizeof *u * (np ? np : 1)), *i = ns_malloc(sizeof *i * (np ? np : 1));
        uint8_t *test = ns_malloc(np ? np : 1);
        if (!u || !i || !test) rc = NS_ENOMEM;
        size_t m = 0;
        for (size_t k = 0; rc >= 0 && k < d->nev; k++)
            if ((!keep || keep[k]) && ns_dataset_positive(d, &d->ev[k])) {
                u[m] = d->ev[k].u;
                i[m++] = d->ev[k].i;
            }
        if (rc >= 0) rc = ns_eval_split(u, i, np, o->label_ratio, o->seed + 1, test);
        m = 0;
        for (size_t k = 0; rc >= 0 && k < d->nev; k++) {
            fit[k] = !keep || keep[k];
            if ((!keep || keep[k]) && ns_dataset_positive(d, &d->ev[k]) && test[m++]) {
                fit[k] = 0;
                label[k] = 1;
            }
        }
        free(u);
        free(i);
        free(test);
    }
    have_t have;
    if (rc >= 0) rc = path_in(stage, sizeof stage, o->out_dir, "stage1");
    if (rc >= 0) rc = write_recall_models(d, fit, o, stage, &have, &(ns_bundle_stats){0});
    if (rc >= 0) rc = ns_dataset_to_state(d, fit, &s);
    json_t *cfg = rc >= 0 ? bundle_config(d, o, &have, 0) : NULL;
    if (rc >= 0) {
        char cpath[2048], *text = cfg ? json_dumps(cfg, 0) : NULL;
        rc = text ? path_in(cpath, sizeof cpath, stage, "pipeline.json") : NS_ENOMEM;
        if (rc >= 0) rc = ns_pipeline_new(&p, text, cpath, s);
        free(text);
    }
    json_decref(cfg);
    ns__heldout ho = {0};
    if (rc >= 0 && !impressions) rc = ns__heldout_build(&ho, d, keep, label, s, o->rank_select ? 0.15 : 0, o->seed);
    if (rc >= 0) rc = examples_header(p, &out, &names, &ncols);
    ns_rng rng;
    ns_rng_seed(&rng, o->seed, 99);
    ex_ctx x = {&out, NULL, 0, NULL, 0, 0, 0, 0, &rng, 1.0};
    if (rc >= 0)
        rc = impressions ? examples_impressions(d, keep, cut, s, p, o, &x) : examples_ratings(d, &ho, s, p, o, &x);
    st->examples = x.rows;
    st->positives = x.pos;
    st->secs_examples = ns_timer_elapsed(&t);
    char epath[2048];
    if (rc >= 0 && (rc = path_in(epath, sizeof epath, o->out_dir, "examples.tsv")) >= 0)
        rc = ns_file_write_atomic(epath, out.data, out.len);
    ns_pipeline_free(p);
    ns_buf_release(&out);
    free(fit);
    free(label);
    if (rc >= 0 && x.pos == 0) rc = ns_err_set(NS_EINVAL, "ranker: no positive example (too little data to learn from)");
    if (rc >= 0) {
        ns_timer_start(&t);
        rc = train_ranker(epath, names, ncols, o, o->out_dir, st);
        st->secs_ranker = ns_timer_elapsed(&t);
    }
    if (rc >= 0 && ho.nval > 0) {
        ns_timer_start(&t);
        rc = select_order(d, &ho, s, o, &have, stage, sel_rank, sel_report);
        st->secs_select = ns_timer_elapsed(&t);
    }
    ns__heldout_release(&ho);
    ns_state_free(s);
    for (int j = 0; j < ncols; j++) free(names[j]);
    free(names);
    /* the stage's models served only to make the examples */
    if (rc >= 0 && stage[0] && (rc = ns_dir_remove_files(stage)) < 0) ns_err_wrap("train: removing %s", stage);
    return rc;
}

/* A weak ranker is never deployed silently: a warning, and with o->strict
 * an error, when its validation AUC is under NS_BUNDLE_MIN_AUC or train's
 * selection turned it down for a channel. */
static int check_ranker(const ns_bundle_opts *o, const ns_bundle_stats *st)
{
    char why[256] = "";
    if (st->val_auc < NS_BUNDLE_MIN_AUC)
        snprintf(why, sizeof why, "validation AUC %.4f is under %.2f", st->val_auc, NS_BUNDLE_MIN_AUC);
    else if (st->chosen[0] && strcmp(st->chosen, "ranker"))
        snprintf(why, sizeof why, "it does not beat channel %s alone on validation users (nDCG@10 %.4f vs %.4f)",
                 st->chosen, st->val_ndcg_ranker, st->val_ndcg_chosen);
    if (!why[0]) return 0;
    if (o->strict) return ns_err_set(NS_EINVAL, "train --strict: the ranker is weak: %s", why);
    ns_log_warn("the ranker is weak: %s%s", why, st->chosen[0] && strcmp(st->chosen, "ranker") ? " (not served)" : "");
    return 0;
}

int ns_bundle_train(const ns_dataset *d, const uint8_t *keep, const ns_bundle_opts *o, ns_bundle_stats *st)
{
    ns_bundle_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    if (!o->out_dir) return ns_err_set_at(NS_EINVAL, NULL, 0, "out", NULL, "an output directory is required");
    ns_timer t;
    ns_timer_start(&t);
    have_t have;
    int rc = write_recall_models(d, keep, o, o->out_dir, &have, st);
    if (rc < 0) return rc;
    int ranker = 0;
    json_t *sel_rank = NULL, *sel_report = NULL;
    if (o->ranker) {
        if ((rc = rank_stage(d, keep, o, st, &sel_rank, &sel_report)) < 0) {
            if (rc != NS_EINVAL) return rc;
            ns_log_warn("no ranker trained: %s", ns_err_msg());
        } else
            ranker = 1;
    }
    json_t *cfg = bundle_config(d, o, &have, ranker);
    if (cfg && sel_rank && sel_report) {
        json_object_set(cfg, "rank", sel_rank);
        json_object_set(cfg, "selection", sel_report);
        snprintf(st->chosen, sizeof st->chosen, "%s", json_string_value(json_object_get(sel_report, "chosen")));
        st->val_ndcg_ranker = json_real_value(json_object_get(json_object_get(sel_report, "ndcg"), "ranker"));
        st->val_ndcg_chosen =
            json_real_value(json_object_get(json_object_get(sel_report, "ndcg"), st->chosen));
        ns_log_info("served order: %s (%s)", st->chosen, json_string_value(json_object_get(sel_report, "why")));
    }
    json_decref(sel_rank);
    json_decref(sel_report);
    rc = cfg ? 0 : NS_ENOMEM;
    if (rc >= 0 && ranker) rc = check_ranker(o, st);
    if (rc >= 0) rc = write_config(cfg, o->out_dir);
    json_decref(cfg);
    st->secs_total = ns_timer_elapsed(&t);
    return rc;
}
