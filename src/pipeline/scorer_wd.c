/*
 * scorer_wd.c — the "wide_deep" scorer: a Wide & Deep model (rank.h)
 * trained offline by `northstar train` on the pipeline's own features
 * (rank_features.c: user, item, context, real-time and recall evidence)
 * scores every candidate with its click/like probability.
 *
 *   "rank": {"type": "wide_deep",
 *            "params": {"model_file": "ranker.safetensors", "required": false,
 *                       "prerank": 150,
 *                       "fallback": {"weights": {...}, "ctr_weight": 0.5}}}
 *
 * Two stages, as the funnel goes: the cheap "blend" rule (the fallback's
 * weights over the recall evidence and the real-time CTR) pre-ranks every
 * candidate and only its best `prerank` are scored by the model (0 = all).
 * Model-scored candidates get their probability, in (0, 1); the others
 * -1 / (1 + blend score), below every model score and in blend order.
 *
 * The model file carries its fitted feature spec; its input columns are
 * compiled against the pipeline's channels when the pipeline is built (an
 * unknown column is an error naming it). A file that is there but does not
 * load (truncated, random bytes, NaN weights, another format) is always an
 * error naming it. Only when "required" is false and there is no model (no
 * "model_file", or no file of that name: a service not trained yet) does
 * the scorer rank with the "blend" rule configured under "fallback"; it
 * logs why and says so through wd_fallback (ns_pipeline_scorer_name
 * answers "blend", ns_pipeline_scorer_fallback why).
 *
 * Threads: the model is read-only; each concurrent request borrows a
 * scoring context (scratch buffers, rank ctx, row arena) from a pool.
 */
#include "northstar/rank.h"
#include "pipeline_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct wd_ctx {
    ns_rank_ctx *cx;
    ns_fvalue *rows;
    size_t cap; /* rows allocated, in values */
    ns_arena a;
    struct wd_ctx *next;
} wd_ctx;

typedef struct {
    ns_ranker *m;
    ns__fcols *cols;
    int ncols;
    long prerank;
    void *fallback; /* blend: the pre-ranker, and the ranker when there is no model */
    char *why;      /* without a model: why not */
    pthread_mutex_t mu;
    wd_ctx *pool;
} wd_t;

static void wd_free(void *self)
{
    wd_t *w = self;
    if (!w) return;
    for (wd_ctx *c = w->pool, *n; c; c = n) {
        n = c->next;
        ns_rank_ctx_free(c->cx);
        free(c->rows);
        ns_arena_release(&c->a);
        free(c);
    }
    ns__fcols_free(w->cols);
    ns_ranker_free(w->m);
    if (w->fallback) ns__scorer_blend.free(w->fallback);
    free(w->why);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* The model of file and its input columns compiled against the channels. */
static int load_model(wd_t *w, const char *file, const char *path, const char *const *names, int nch)
{
    if (ns_ranker_load(&w->m, file) < 0) return ns_err_wrap("%s.model_file", path);
    const ns_feature_spec *sp = ns_ranker_spec(w->m);
    w->ncols = ns_fspec_input_count(sp);
    const char **cn = ns_calloc((size_t)(w->ncols ? w->ncols : 1), sizeof *cn);
    if (!cn) return NS_ENOMEM;
    for (int j = 0; j < w->ncols; j++) cn[j] = ns_fspec_input_name(sp, j);
    int rc = ns__fcols_compile(&w->cols, cn, w->ncols, names, nch);
    if (rc < 0) ns_err_wrap("%s.model_file %s", path, file);
    free(cn);
    return rc;
}

static int wd_create(const json_t *params, const char *path, ns_state *st, const char *const *names, int nch,
                     void **self)
{
    wd_t *w = ns_calloc(1, sizeof *w);
    if (!w) return NS_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    const char *file = NULL;
    int required = 0;
    int rc = ns__cfg_str(params, path, "model_file", NULL, NULL, &file);
    if (rc >= 0) rc = ns__cfg_bool(params, path, "required", 0, &required);
    if (rc >= 0) rc = ns__cfg_int(params, path, "prerank", 0, 100000, 150, &w->prerank);
    const json_t *fb = params ? json_object_get(params, "fallback") : NULL;
    char fpath[160];
    snprintf(fpath, sizeof fpath, "%s.fallback", path);
    if (rc >= 0 && fb && !json_is_object(fb)) rc = ns_err_set_at(NS_EINVAL, NULL, 0, fpath, NULL, "expected an object");
    if (rc >= 0 && file && (required || ns_file_exists(file))) {
        rc = load_model(w, file, path, names, nch);
    } else if (rc >= 0 && required) {
        rc = ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "model_file is required");
    } else if (rc >= 0) {
        char why[2400];
        snprintf(why, sizeof why, "wide_deep has no model: %s%s; blend ranks", file ? file : "no model_file configured",
                 file ? " does not exist" : "");
        if (!(w->why = ns_strdup(why))) rc = NS_ENOMEM;
        else ns_log_warn("%s: %s", path, w->why);
    }
    if (rc >= 0) rc = ns__scorer_blend.create(fb, fpath, st, names, nch, &w->fallback);
    if (rc < 0) {
        wd_free(w);
        return rc;
    }
    *self = w;
    return 0;
}

static wd_ctx *ctx_get(wd_t *w)
{
    pthread_mutex_lock(&w->mu);
    wd_ctx *c = w->pool;
    if (c) w->pool = c->next;
    pthread_mutex_unlock(&w->mu);
    if (c) return c;
    if (!(c = ns_calloc(1, sizeof *c))) return NULL;
    if (!(c->cx = ns_rank_ctx_new(w->m))) {
        free(c);
        return NULL;
    }
    ns_arena_init(&c->a, 16384);
    return c;
}

static void ctx_put(wd_t *w, wd_ctx *c)
{
    pthread_mutex_lock(&w->mu);
    c->next = w->pool;
    w->pool = c;
    pthread_mutex_unlock(&w->mu);
}

static int model_scores(wd_t *w, wd_ctx *c, const ns_scorer_input *in, float *probs)
{
    size_t need = (size_t)in->n * (size_t)w->ncols;
    if (need > c->cap) {
        ns_fvalue *r = ns_realloc(c->rows, sizeof *r * need);
        if (!r) return NS_ENOMEM;
        c->rows = r;
        c->cap = need;
    }
    int rc = ns__fcols_fill(w->cols, in, c->rows, &c->a);
    return rc < 0 ? rc : ns_ranker_score(w->m, c->cx, c->rows, in->n, probs);
}

static int wd_score(void *self, const ns_scorer_input *in, float *scores)
{
    wd_t *w = self;
    int rc = ns__scorer_blend.score(w->fallback, in, scores);
    if (!w->m || rc < 0 || !in->n) return rc;
    wd_ctx *c = ctx_get(w);
    if (!c) return NS_ENOMEM;
    ns_arena_reset(&c->a);
    int n = in->n, m = w->prerank > 0 && n > w->prerank ? (int)w->prerank : n;
    if (m == n) {
        rc = model_scores(w, c, in, scores);
    } else {
        /* the blend's best m, by index (a bounded heap: their order does not matter) */
        ns_scored *top = ns_arena_alloc(&c->a, sizeof *top * (size_t)m, 8);
        ns_candidate *cand = ns_arena_alloc(&c->a, sizeof *cand * (size_t)m, 8);
        ns_rt_item *rt = ns_arena_alloc(&c->a, sizeof *rt * (size_t)m, 8);
        float *probs = ns_arena_alloc(&c->a, sizeof *probs * (size_t)m, 4);
        if (!top || !cand || !rt || !probs) rc = NS_ENOMEM;
        int nt = 0;
        for (int i = 0; rc >= 0 && i < n; i++) ns_scored_push(top, &nt, m, (ns_scored){(uint32_t)i, scores[i]});
        for (int k = 0; rc >= 0 && k < m; k++) {
            cand[k] = in->cands[top[k].item];
            rt[k] = in->rt[top[k].item];
        }
        ns_scorer_input sub = *in;
        sub.cands = cand;
        sub.rt = rt;
        sub.n = m;
        if (rc >= 0) rc = model_scores(w, c, &sub, probs);
        if (rc >= 0) {
            for (int i = 0; i < n; i++) scores[i] = -1.0f / (1.0f + (scores[i] > 0 ? scores[i] : 0));
            for (int k = 0; k < m; k++) scores[top[k].item] = probs[k];
        }
    }
    ctx_put(w, c);
    return rc < 0 ? rc : 0;
}

/* "blend" while there is no model. */
static const char *wd_fallback(const void *self, const char **why)
{
    const wd_t *w = self;
    if (w->m) return NULL;
    *why = w->why;
    return "blend";
}

const ns_scorer_type ns__scorer_wide_deep = {"wide_deep", wd_create, wd_score, wd_free, wd_fallback};
