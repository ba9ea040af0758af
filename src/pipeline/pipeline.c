/*
 * pipeline.c — a pipeline config made runnable, and one recommendation
 * through it: recall channels with quotas -> merge/dedupe keeping each
 * candidate's channels -> filters -> real-time features -> scorer ->
 * diversity rule. Also the channel and scorer type registries and the
 * north-star metric. See pipeline.h for the config format.
 *
 * Workload: one call per GET /v1/recommend, a few hundred candidates, all
 * under the state's shared lock; per-request memory comes from the
 * caller's arena. Target: well under a millisecond of CPU per call.
 */
#include "pipeline_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---- registry ------------------------------------------------------------------------------- */

enum { MAX_TYPES = 32 };
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static const ns_channel_type *ch_types[MAX_TYPES] = {
    &ns__channel_trending, &ns__channel_segment, &ns__channel_popular, &ns__channel_fresh, &ns__channel_cooc,
    &ns__channel_i2i,      &ns__channel_profile, &ns__channel_keyword, &ns__channel_vector, &ns__channel_mf};
static int nch_types = 10;
static const ns_scorer_type *rk_types[MAX_TYPES] = {&ns__scorer_blend, &ns__scorer_wide_deep};
static int nrk_types = 2;

static int reg_add(const void **tab, int *n, const void *t, const char *name, const char *(*name_of)(const void *))
{
    pthread_mutex_lock(&reg_mu);
    int rc = 0;
    for (int i = 0; i < *n; i++)
        if (!strcmp(name_of(tab[i]), name)) rc = ns_err_set(NS_EEXISTS, "type '%s' is already registered", name);
    if (rc >= 0 && *n == MAX_TYPES) rc = ns_err_set(NS_ERANGE, "too many registered types");
    if (rc >= 0) tab[(*n)++] = t;
    pthread_mutex_unlock(&reg_mu);
    return rc;
}

static const char *ch_name(const void *t) { return ((const ns_channel_type *)t)->type; }
static const char *rk_name(const void *t) { return ((const ns_scorer_type *)t)->type; }

int ns_channel_register(const ns_channel_type *t) { return reg_add((const void **)ch_types, &nch_types, t, t->type, ch_name); }
int ns_scorer_register(const ns_scorer_type *t) { return reg_add((const void **)rk_types, &nrk_types, t, t->type, rk_name); }

const ns_channel_type *ns_channel_find(const char *type)
{
    const ns_channel_type *r = NULL;
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < nch_types && !r; i++)
        if (!strcmp(ch_types[i]->type, type)) r = ch_types[i];
    pthread_mutex_unlock(&reg_mu);
    return r;
}

const ns_scorer_type *ns_scorer_find(const char *type)
{
    const ns_scorer_type *r = NULL;
    pthread_mutex_lock(&reg_mu);
    for (int i = 0; i < nrk_types && !r; i++)
        if (!strcmp(rk_types[i]->type, type)) r = rk_types[i];
    pthread_mutex_unlock(&reg_mu);
    return r;
}

/* ---- config helpers ------------------------------------------------------------------------------ */

static int cfg_bad(const char *path, const char *key, const char *why)
{
    char p[200];
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    return ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "%s", why);
}

int ns__cfg_int(const json_t *obj, const char *path, const char *key, long lo, long hi, long dflt, long *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v) { *out = dflt; return 0; }
    if (!json_is_integer(v)) return cfg_bad(path, key, "expected an integer");
    long long x = json_integer_value(v);
    if (x < lo || x > hi) {
        char why[96];
        snprintf(why, sizeof why, "%lld is outside %ld..%ld", x, lo, hi);
        return cfg_bad(path, key, why);
    }
    *out = (long)x;
    return 0;
}

int ns__cfg_num(const json_t *obj, const char *path, const char *key, double lo, double hi, double dflt, double *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v) { *out = dflt; return 0; }
    if (!json_is_number(v)) return cfg_bad(path, key, "expected a number");
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) {
        char why[96];
        snprintf(why, sizeof why, "%g is outside %g..%g", x, lo, hi);
        return cfg_bad(path, key, why);
    }
    *out = x;
    return 0;
}

int ns__cfg_str(const json_t *obj, const char *path, const char *key, const char *const *allowed, const char *dflt,
                const char **out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v) { *out = dflt; return 0; }
    if (!json_is_string(v)) return cfg_bad(path, key, "expected a string");
    const char *s = json_string_value(v);
    if (!allowed) { *out = s; return 0; }
    for (int i = 0; allowed[i]; i++)
        if (!strcmp(allowed[i], s)) { *out = allowed[i]; return 0; }
    char why[200];
    int k = snprintf(why, sizeof why, "'%s' is not one of:", s);
    for (int i = 0; allowed[i] && k < (int)sizeof why; i++) k += snprintf(why + k, sizeof why - (size_t)k, " %s", allowed[i]);
    return cfg_bad(path, key, why);
}

int ns__cfg_bool(const json_t *obj, const char *path, const char *key, int dflt, int *out)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v) { *out = dflt; return 0; }
    if (!json_is_boolean(v)) return cfg_bad(path, key, "expected true or false");
    *out = json_is_true(v);
    return 0;
}

/* Members of obj must be among `known` (catches typos in configs). */
int ns__cfg_known(const json_t *obj, const char *path, const char *const *known)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(known[i], key);
        if (!ok) return cfg_bad(path, key, "unknown setting");
    }
    return 0;
}

/* ---- the pipeline ---------------------------------------------------------------------------------- */

typedef struct {
    char name[32];
    const ns_channel_type *t;
    void *self;
    int quota;
} channel;

struct ns_pipeline {
    ns_state *st;
    char base_dir[1024]; /* directory of the config file: relative *_file params are resolved there */
    json_t *cfg; /* kept: string settings point into it */
    int nch;
    channel ch[NS_MAX_CHANNELS];
    const char *names[NS_MAX_CHANNELS];
    const ns_scorer_type *rk;
    void *rk_self;
    unsigned seen_mask; /* filters.seen: the event types that make an item seen */
    int filter_unpublished;
    char **blocked; /* sorted external ids */
    size_t nblocked;
    long max_per_cat, default_n, max_n;
    const char *ns_name, *ns_window;
    int ns_num, ns_den;
    _Atomic uint64_t produced[NS_MAX_CHANNELS], served[NS_MAX_CHANNELS];
    _Atomic uint64_t nonfinite; /* candidates dropped for a NaN or infinite score */
};

static const char default_config[] =
    "{\n"
    "  \"north_star\": {\"name\": \"ctr\", \"numerator\": \"click\", \"denominator\": \"impression\",\n"
    "                 \"window\": \"1h\"},\n"
    "  \"recall\": [\n"
    "    {\"name\": \"cooc\", \"type\": \"cooc\", \"quota\": 150, \"params\": {\"history\": 8}},\n"
    "    {\"name\": \"segment\", \"type\": \"segment\", \"quota\": 100},\n"
    "    {\"name\": \"trending\", \"type\": \"trending\", \"quota\": 100, \"params\": {\"window\": \"1h\"}},\n"
    "    {\"name\": \"popular\", \"type\": \"popular\", \"quota\": 200},\n"
    "    {\"name\": \"fresh\", \"type\": \"fresh\", \"quota\": 50}\n"
    "  ],\n"
    "  \"filters\": {\"seen\": true, \"unpublished\": true, \"blocked\": []},\n"
    "  \"rank\": {\"type\": \"blend\",\n"
    "           \"params\": {\"weights\": {\"cooc\": 1.5, \"segment\": 1.0, \"trending\": 0.8, \"popular\": 0.5,\n"
    "                                  \"fresh\": 0.3},\n"
    "                      \"ctr_weight\": 0.5}},\n"
    "  \"diversity\": {\"max_per_category\": 3},\n"
    "  \"limits\": {\"default_n\": 10, \"max_n\": 100}\n"
    "}\n";

const char *ns_pipeline_default_config(void) { return default_config; }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Params whose key ends in "file" name files (models, indexes). A relative
 * one is taken relative to the config file's directory, so a model bundle
 * (`northstar train --out DIR`) can move as a whole. Rewritten in place:
 * the config tree belongs to the pipeline. */
static int resolve_files(const ns_pipeline *p, json_t *params, const char *path)
{
    if (!params || !p->base_dir[0]) return 0;
    const char *key;
    json_t *v;
    json_object_foreach(params, key, v)
    {
        size_t kl = strlen(key);
        if (kl < 4 || strcmp(key + kl - 4, "file") || !json_is_string(v)) continue;
        const char *f = json_string_value(v);
        if (!*f || f[0] == '/') continue;
        char full[2048];
        if (snprintf(full, sizeof full, "%s/%s", p->base_dir, f) >= (int)sizeof full)
            return cfg_bad(path, key, "path too long");
        if (json_string_set(v, full) < 0) return NS_ENOMEM;
    }
    return 0;
}

static int build(ns_pipeline *p, json_t *root)
{
    static const char *const top_keys[] = {"north_star", "recall", "filters", "rank", "diversity", "limits", "data", "selection", NULL};
    static const char *const ev_names[] = {"impression", "click", "like", "purchase", "rating", "dislike", NULL};
    static const char *const windows[] = {"1h", "1d", "total", NULL};
    int rc;
    if (!json_is_object(root)) return cfg_bad("", "(root)", "expected a JSON object");
    if ((rc = ns__cfg_known(root, "", top_keys)) < 0) return rc;
    ns_state_data data;
    int has_data;
    if ((rc = ns__cfg_data(root, &data, &has_data)) < 0) return rc; /* read by the service; checked here */
    (void)data;
    (void)has_data;

    /* north_star */
    const json_t *nsm = json_object_get(root, "north_star");
    const char *num = NULL, *den = NULL;
    if (nsm && !json_is_object(nsm)) return cfg_bad("", "north_star", "expected an object");
    if ((rc = ns__cfg_str(nsm, "north_star", "name", NULL, "ctr", &p->ns_name)) < 0) return rc;
    if ((rc = ns__cfg_str(nsm, "north_star", "numerator", ev_names, "click", &num)) < 0) return rc;
    if ((rc = ns__cfg_str(nsm, "north_star", "denominator", ev_names, "impression", &den)) < 0) return rc;
    if ((rc = ns__cfg_str(nsm, "north_star", "window", windows, "1h", &p->ns_window)) < 0) return rc;
    p->ns_num = ns_event_type_parse(num);
    p->ns_den = ns_event_type_parse(den);

    /* recall */
    const json_t *rec = json_object_get(root, "recall");
    if (!json_is_array(rec) || json_array_size(rec) == 0)
        return cfg_bad("", "recall", "expected a non-empty array of channels");
    if (json_array_size(rec) > NS_MAX_CHANNELS) return cfg_bad("", "recall", "at most 16 channels");
    size_t i;
    json_t *c;
    json_array_foreach((json_t *)rec, i, c)
    {
        static const char *const ch_keys[] = {"name", "type", "quota", "params", NULL};
        char path[64];
        snprintf(path, sizeof path, "recall[%zu]", i);
        if (!json_is_object(c)) return cfg_bad(path, "", "expected an object");
        if ((rc = ns__cfg_known(c, path, ch_keys)) < 0) return rc;
        const char *type = NULL, *name = NULL;
        long quota;
        if ((rc = ns__cfg_str(c, path, "type", NULL, NULL, &type)) < 0) return rc;
        if (!type) return cfg_bad(path, "type", "missing channel type");
        if ((rc = ns__cfg_str(c, path, "name", NULL, type, &name)) < 0) return rc;
        if ((rc = ns__cfg_int(c, path, "quota", 1, 1000, 100, &quota)) < 0) return rc;
        if (strlen(name) >= sizeof p->ch[0].name) return cfg_bad(path, "name", "longer than 31 bytes");
        for (int k = 0; k < p->nch; k++)
            if (!strcmp(p->ch[k].name, name)) return cfg_bad(path, "name", "two channels have this name");
        channel *ch = &p->ch[p->nch];
        if (!(ch->t = ns_channel_find(type))) {
            char why[96];
            snprintf(why, sizeof why, "no channel type '%s' (built in: trending, segment, popular, fresh, cooc, i2i, profile, keyword, vector)", type);
            return cfg_bad(path, "type", why);
        }
        snprintf(ch->name, sizeof ch->name, "%s", name);
        ch->quota = (int)quota;
        const json_t *params = json_object_get(c, "params");
        char ppath[80];
        snprintf(ppath, sizeof ppath, "%s.params", path);
        if (params && !json_is_object(params)) return cfg_bad(path, "params", "expected an object");
        if ((rc = resolve_files(p, (json_t *)params, ppath)) < 0) return rc;
        if ((rc = ch->t->create(params, ppath, p->st, &ch->self)) < 0) return rc;
        p->names[p->nch] = ch->name;
        p->nch++;
    }

    /* filters */
    const json_t *f = json_object_get(root, "filters");
    static const char *const f_keys[] = {"seen", "unpublished", "blocked", NULL};
    if (f && (!json_is_object(f) || (rc = ns__cfg_known(f, "filters", f_keys)) < 0))
        return rc < 0 ? rc : cfg_bad("", "filters", "expected an object");
    if ((rc = ns__cfg_seen(f, &p->seen_mask)) < 0) return rc;
    if ((rc = ns__cfg_bool(f, "filters", "unpublished", 1, &p->filter_unpublished)) < 0) return rc;
    const json_t *bl = f ? json_object_get(f, "blocked") : NULL;
    if (bl) {
        if (!json_is_array(bl)) return cfg_bad("filters", "blocked", "expected an array of item ids");
        p->blocked = ns_calloc(json_array_size(bl) + 1, sizeof(char *));
        if (!p->blocked) return NS_ENOMEM;
        json_t *b;
        json_array_foreach((json_t *)bl, i, b)
        {
            if (!json_is_string(b)) return cfg_bad("filters", "blocked", "item ids must be strings");
            p->blocked[p->nblocked++] = (char *)json_string_value(b);
        }
        qsort(p->blocked, p->nblocked, sizeof(char *), cmp_str);
    }

    /* rank */
    const json_t *rk = json_object_get(root, "rank");
    static const char *const rk_keys[] = {"type", "params", NULL};
    if (rk && (!json_is_object(rk) || (rc = ns__cfg_known(rk, "rank", rk_keys)) < 0))
        return rc < 0 ? rc : cfg_bad("", "rank", "expected an object");
    const char *rtype = NULL;
    if ((rc = ns__cfg_str(rk, "rank", "type", NULL, "blend", &rtype)) < 0) return rc;
    if (!(p->rk = ns_scorer_find(rtype))) return cfg_bad("rank", "type", "no such ranker type (built in: blend, wide_deep)");
    const json_t *rparams = rk ? json_object_get(rk, "params") : NULL;
    if (rparams && !json_is_object(rparams)) return cfg_bad("rank", "params", "expected an object");
    if ((rc = resolve_files(p, (json_t *)rparams, "rank.params")) < 0) return rc;
    if ((rc = p->rk->create(rparams, "rank.params", p->st, p->names, p->nch, &p->rk_self)) < 0) return rc;

    /* diversity, limits */
    const json_t *d = json_object_get(root, "diversity"), *l = json_object_get(root, "limits");
    if ((rc = ns__cfg_int(d, "diversity", "max_per_category", 0, 1000, 3, &p->max_per_cat)) < 0) return rc;
    if ((rc = ns__cfg_int(l, "limits", "max_n", 1, 1000, 100, &p->max_n)) < 0) return rc;
    if ((rc = ns__cfg_int(l, "limits", "default_n", 1, p->max_n, 10, &p->default_n)) < 0) return rc;
    return 0;
}

int ns_pipeline_new(ns_pipeline **out, const char *json_text, const char *origin, ns_state *st)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loads(json_text, 0, &je);
    if (!root) return ns_err_set_at(NS_EFORMAT, origin, je.line, NULL, NULL, "config is not JSON: %s", je.text);
    ns_pipeline *p = ns_calloc(1, sizeof *p);
    if (!p) {
        json_decref(root);
        return NS_ENOMEM;
    }
    p->st = st;
    p->cfg = root;
    /* A config read from a file resolves relative model paths next to it. */
    const char *slash = origin ? strrchr(origin, '/') : NULL;
    if (slash) snprintf(p->base_dir, sizeof p->base_dir, "%.*s", (int)(slash - origin), origin);
    else if (origin && ns_file_exists(origin)) snprintf(p->base_dir, sizeof p->base_dir, ".");
    if (slash == origin && slash) snprintf(p->base_dir, sizeof p->base_dir, "/");
    int rc = build(p, root);
    if (rc >= 0) ns_state_set_seen_filter(st, p->seen_mask);
    if (rc < 0) {
        /* An error naming a file (a model that did not load) keeps it; one
         * about the config itself names the config. */
        const ns_error_info *e = ns_err_last();
        ns_error_info saved = *e;
        if (saved.file[0])
            ns_err_wrap("pipeline config %s", origin ? origin : "");
        else
            ns_err_set_at(saved.code, origin, 0, saved.field[0] ? saved.field : NULL, NULL, "pipeline config: %s",
                          saved.msg);
        ns_pipeline_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void ns_pipeline_free(ns_pipeline *p)
{
    if (!p) return;
    for (int c = 0; c < p->nch; c++)
        if (p->ch[c].t && p->ch[c].t->free) p->ch[c].t->free(p->ch[c].self);
    if (p->rk && p->rk->free) p->rk->free(p->rk_self);
    free(p->blocked);
    json_decref(p->cfg);
    free(p);
}

int ns_pipeline_channels(const ns_pipeline *p) { return p->nch; }
const char *ns_pipeline_channel_name(const ns_pipeline *p, int c) { return c >= 0 && c < p->nch ? p->ch[c].name : NULL; }
int ns_pipeline_max_n(const ns_pipeline *p) { return (int)p->max_n; }
int ns_pipeline_default_n(const ns_pipeline *p) { return (int)p->default_n; }
const char *ns_pipeline_scorer_name(const ns_pipeline *p)
{
    const char *why, *fb = p->rk->fallback ? p->rk->fallback(p->rk_self, &why) : NULL;
    return fb ? fb : p->rk->type;
}

const char *ns_pipeline_scorer_fallback(const ns_pipeline *p)
{
    const char *why = NULL;
    return p->rk->fallback && p->rk->fallback(p->rk_self, &why) ? why : NULL;
}

uint64_t ns_pipeline_nonfinite_scores(const ns_pipeline *p) { return atomic_load(&((ns_pipeline *)p)->nonfinite); }
const char *ns_pipeline_north_star_name(const ns_pipeline *p) { return p->ns_name; }
const char *ns_pipeline_north_star_window(const ns_pipeline *p) { return p->ns_window; }

double ns_pipeline_north_star(ns_pipeline *p, double now, uint64_t *num, uint64_t *den)
{
    uint64_t a = ns_state_type_count(p->st, p->ns_num, p->ns_window, now);
    uint64_t b = ns_state_type_count(p->st, p->ns_den, p->ns_window, now);
    if (num) *num = a;
    if (den) *den = b;
    return b ? (double)a / (double)b : 0.0;
}

void ns_pipeline_channel_counts(const ns_pipeline *p, int c, uint64_t *produced, uint64_t *served)
{
    *produced = atomic_load(&((ns_pipeline *)p)->produced[c]);
    *served = atomic_load(&((ns_pipeline *)p)->served[c]);
}

/* ---- one recommendation ------------------------------------------------------------------------------ */

static int is_blocked(const ns_pipeline *p, const char *ext)
{
    return p->nblocked && bsearch(&ext, p->blocked, p->nblocked, sizeof(char *), cmp_str) != NULL;
}

/* Candidates whose score is NaN or infinite leave the list (no order puts
 * them anywhere meaningful, and JSON cannot carry them), counted. Returns
 * the candidates kept, compacted with their scores. */
static int drop_nonfinite(ns_pipeline *p, ns_candidate *cand, float *scores, int n, int *dropped)
{
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(scores[i])) continue;
        cand[k] = cand[i];
        scores[k++] = scores[i];
    }
    *dropped = n - k;
    if (k < n && atomic_fetch_add(&p->nonfinite, (uint64_t)(n - k)) == 0)
        ns_log_warn("ranker '%s' gave %d of %d candidates a NaN or infinite score: dropped (and counted from now on)",
                    ns_pipeline_scorer_name(p), n - k, n);
    return k;
}

typedef struct { ns_candidate *c; float score; } ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->c->item < y->c->item ? -1 : x->c->item > y->c->item;
}

/* Recall every channel, merge and de-duplicate (keeping provenance), then
 * filter. Called under the state's read lock; memory from the arena.
 * per_channel (may be NULL) gets each channel's count. */
typedef struct {
    ns_candidate *cand;
    int ncand;    /* after merge */
    int kept;     /* after filters: cand[0..kept) */
    int cap;      /* room in cand */
} gathered;

/* The request's own filters: exclude= and category= (NULL: none). */
static int request_drops(const ns_rec_filters *q, const ns_item_view *iv, uint32_t item)
{
    if (!q) return 0;
    if (q->nexclude && bsearch(&item, q->exclude, (size_t)q->nexclude, sizeof item, ns_cmp_u32)) return 1;
    if (q->ncats <= 0) return 0;
    for (int k = 0; k < iv->ncats; k++)
        for (int j = 0; j < q->ncats; j++)
            if (iv->cats[k] == q->cats[j]) return 0;
    return 1;
}

static int gather(ns_pipeline *p, const ns_recall_req *rr, const ns_rec_filters *q, int extra, int *per_channel,
                  gathered *g, ns_arena *a)
{
    int total_quota = 0;
    for (int c = 0; c < p->nch; c++) total_quota += p->ch[c].quota;
    size_t hcap = 64;
    while (hcap < (size_t)total_quota * 2) hcap <<= 1;
    g->cap = total_quota + extra;
    g->cand = ns_arena_alloc(a, sizeof(ns_candidate) * (size_t)(g->cap ? g->cap : 1), 8);
    int32_t *slot = ns_arena_alloc(a, sizeof(int32_t) * hcap, 4);
    ns_scored *buf = ns_arena_alloc(a, sizeof(ns_scored) * 1000, 4);
    if (!g->cand || !slot || !buf) return NS_ENOMEM;
    memset(slot, 0xff, sizeof(int32_t) * hcap);
    ns_candidate *cand = g->cand;
    int ncand = 0;
    for (int c = 0; c < p->nch; c++) {
        int got = p->ch[c].t->recall(p->ch[c].self, rr, p->ch[c].quota, buf);
        if (got < 0) return ns_err_wrap("recall channel '%s'", p->ch[c].name);
        if (per_channel) per_channel[c] = got;
        atomic_fetch_add(&p->produced[c], (uint64_t)got);
        for (int k = 0; k < got; k++) {
            uint32_t it = buf[k].item;
            size_t h = (size_t)ns_hash64(it) & (hcap - 1);
            while (slot[h] >= 0 && cand[slot[h]].item != it) h = (h + 1) & (hcap - 1);
            if (slot[h] < 0) {
                slot[h] = ncand;
                memset(&cand[ncand], 0, sizeof cand[0]);
                cand[ncand++].item = it;
            }
            ns_candidate *cd = &cand[slot[h]];
            cd->channels |= 1u << c;
            cd->chan_score[c] = 1.0f - (float)k / (float)p->ch[c].quota;
            cd->chan_raw[c] = buf[k].score;
        }
    }
    g->ncand = ncand;
    int kept = 0;
    for (int i = 0; i < ncand; i++) {
        ns_item_view iv;
        ns_state_item(p->st, cand[i].item, &iv);
        if (p->seen_mask && rr->user_known && (ns_state_seen_types(p->st, rr->user, cand[i].item) & p->seen_mask)) continue;
        if (p->filter_unpublished && iv.created > rr->now) continue;
        if (is_blocked(p, iv.id) || request_drops(q, &iv, cand[i].item)) continue;
        cand[kept++] = cand[i];
    }
    g->kept = kept;
    return 0;
}

/* The request's user and stream time, under the read lock. */
static void request_of(ns_pipeline *p, const char *user, const ns_context *ctx, ns_user_view *uv, ns_recall_req *rr)
{
    uint32_t u = 0;
    int known = user && ns_state_find_user_locked(p->st, user, &u);
    if (known) ns_state_user(p->st, u, uv);
    double now = ns_state_now(p->st);
    if (now <= 0) now = ctx->ts;
    *rr = (ns_recall_req){p->st, u, known, known ? uv : NULL, ctx, now};
}

int ns_pipeline_recommend(ns_pipeline *p, const ns_rec_request *req, ns_rec_result *out, ns_arena *a)
{
    return ns_pipeline_recommend_filtered(p, req, NULL, out, a);
}

int ns_pipeline_recommend_filtered(ns_pipeline *p, const ns_rec_request *req, const ns_rec_filters *f,
                                   ns_rec_result *out, ns_arena *a)
{
    memset(out, 0, sizeof *out);
    int n = req->n ? req->n : (int)p->default_n;
    if (n < 1 || n > p->max_n)
        return ns_err_set_at(NS_ERANGE, NULL, 0, "n", NULL, "n must be between 1 and %ld", p->max_n);
    if (!req->ctx) return ns_err_set(NS_EINVAL, "recommend: no context");
    double t0 = ns_now();
    ns_state *st = p->st;
    ns_state_rdlock(st);
    ns_user_view uv;
    ns_recall_req rr;
    request_of(p, req->user, req->ctx, &uv, &rr);
    out->cold_start = !rr.user_known;
    gathered g;
    int rc = gather(p, &rr, f, 0, out->per_channel, &g, a);
    if (rc < 0) goto out;
    ns_candidate *cand = g.cand;
    int kept = g.kept;
    out->candidates = g.ncand;
    out->filtered = g.ncand - kept;
    double t1 = ns_now();
    out->recall_ms = (t1 - t0) * 1e3;

    /* Features and ranking. */
    ns_rt_item *rt = ns_arena_alloc(a, sizeof(ns_rt_item) * (size_t)(kept ? kept : 1), 8);
    float *scores = ns_arena_alloc(a, sizeof(float) * (size_t)(kept ? kept : 1), 4);
    ranked *order = ns_arena_alloc(a, sizeof(ranked) * (size_t)(kept ? kept : 1), 8);
    if (!rt || !scores || !order) {
        rc = NS_ENOMEM;
        goto out;
    }
    ns_rt *rtf = ns_state_rt(st);
    ns_rt_items_stats(rtf, &cand[0].item, sizeof cand[0], (size_t)kept, rr.now, rt);
    ns_scorer_input in = {st, &rr, cand, kept, rt, rr.user_known ? ns_rt_user_clicks_30m(rtf, rr.user, rr.now) : 0,
                        p->names, p->nch};
    if ((rc = p->rk->score(p->rk_self, &in, scores)) < 0) {
        ns_err_wrap("ranker '%s'", p->rk->type);
        goto out;
    }
    kept = drop_nonfinite(p, cand, scores, kept, &out->nonfinite);
    /* Only the best M can reach the list (n, plus room for the diversity
     * rule to skip): select them with a bounded heap, then sort those. */
    int M = kept < 4 * n + 32 ? kept : 4 * n + 32;
    if (M < kept) {
        ns_scored *heap = ns_arena_alloc(a, sizeof *heap * (size_t)M, 8);
        if (!heap) {
            rc = NS_ENOMEM;
            goto out;
        }
        int nh = 0;
        for (int i = 0; i < kept; i++) {
            cand[i].score = scores[i];
            ns_scored_push(heap, &nh, M, (ns_scored){(uint32_t)i, scores[i]});
        }
        for (int j = 0; j < nh; j++) order[j] = (ranked){&cand[heap[j].item], heap[j].score};
    } else
        for (int i = 0; i < kept; i++) {
            cand[i].score = scores[i];
            order[i] = (ranked){&cand[i], scores[i]};
        }
    qsort(order, (size_t)M, sizeof *order, cmp_ranked);
    kept = M;

    /* Diversity: at most k per primary category, then backfill if short. */
    out->items = ns_arena_alloc(a, sizeof(ns_rec_entry) * (size_t)n, 8);
    char *taken = ns_arena_calloc(a, (size_t)(kept ? kept : 1), 1);
    uint32_t *catn = NULL;
    int ncat_slots = (int)ns_state_ncats_locked(st) + 1;
    if (p->max_per_cat > 0) catn = ns_arena_calloc(a, (size_t)ncat_slots, sizeof(uint32_t));
    if (!out->items || !taken || (p->max_per_cat > 0 && !catn)) {
        rc = NS_ENOMEM;
        goto out;
    }
    for (int pass = 0; pass < 2 && out->n < n; pass++)
        for (int i = 0; i < kept && out->n < n; i++) {
            if (taken[i]) continue;
            ns_item_view iv;
            ns_state_item(st, order[i].c->item, &iv);
            if (pass == 0 && catn && iv.ncats) {
                uint32_t k = iv.cats[0] < (uint32_t)ncat_slots ? iv.cats[0] : 0;
                if (catn[k] >= (uint32_t)p->max_per_cat) continue;
                catn[k]++;
            }
            taken[i] = 1;
            out->items[out->n++] = (ns_rec_entry){order[i].c->item, order[i].score, order[i].c->channels};
            for (int c = 0; c < p->nch; c++)
                if (order[i].c->channels & (1u << c)) atomic_fetch_add(&p->served[c], 1);
        }
    out->rank_ms = (ns_now() - t1) * 1e3;
out:
    ns_state_unlock(st);
    return rc;
}

/* ---- training examples ------------------------------------------------------------------------------- */

int ns_pipeline_feature_columns(const ns_pipeline *p, char ***names, int *n)
{
    return ns__fcols_default(p->names, p->nch, names, n);
}

int ns_pipeline_examples(ns_pipeline *p, const ns_example_req *r, ns_example_fn fn, void *ctx)
{
    if (!r->ctx) return ns_err_set(NS_EINVAL, "examples: no context");
    char **names = NULL;
    int ncols = 0, rc;
    ns__fcols *fc = NULL;
    if ((rc = ns__fcols_default(p->names, p->nch, &names, &ncols)) < 0) return rc;
    rc = ns__fcols_compile(&fc, (const char *const *)names, ncols, p->names, p->nch);
    for (int j = 0; j < ncols; j++) free(names[j]);
    free(names);
    if (rc < 0) return rc;
    ns_arena a;
    ns_arena_init(&a, 65536);
    ns_state *st = p->st;
    ns_state_rdlock(st);
    ns_user_view uv;
    ns_recall_req rr;
    request_of(p, r->user, r->ctx, &uv, &rr);
    gathered g;
    if ((rc = gather(p, &rr, NULL, r->nextra, NULL, &g, &a)) < 0) goto out;
    int n = r->candidates ? g.kept : 0;
    int *is_cand = ns_arena_calloc(&a, (size_t)g.cap + 1, sizeof(int));
    if (!is_cand) {
        rc = NS_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) is_cand[i] = 1;
    /* Extra items: their recall evidence if a channel found them (before the filters), else none. */
    for (int e = 0; e < r->nextra; e++) {
        uint32_t it = r->extra[e];
        int found = -1;
        for (int i = 0; i < g.ncand && found < 0; i++)
            if (g.cand[i].item == it) found = i;
        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = g.cand[i].item == it;
        if (dup) continue;
        ns_candidate c;
        if (found >= 0) c = g.cand[found];
        else {
            memset(&c, 0, sizeof c);
            c.item = it;
        }
        g.cand[n++] = c;
    }
    ns_rt_item *rt = ns_arena_alloc(&a, sizeof(ns_rt_item) * (size_t)(n ? n : 1), 8);
    ns_fvalue *rows = ns_arena_alloc(&a, sizeof(ns_fvalue) * (size_t)(n ? n : 1) * (size_t)ncols, 8);
    if (!rt || !rows) {
        rc = NS_ENOMEM;
        goto out;
    }
    ns_rt *rtf = ns_state_rt(st);
    ns_rt_items_stats(rtf, &g.cand[0].item, sizeof g.cand[0], (size_t)n, rr.now, rt);
    ns_scorer_input in = {st, &rr, g.cand, n, rt, rr.user_known ? ns_rt_user_clicks_30m(rtf, rr.user, rr.now) : 0,
                        p->names, p->nch};
    if ((rc = ns__fcols_fill(fc, &in, rows, &a)) < 0) goto out;
    for (int i = 0; i < n && rc >= 0; i++) {
        int s = fn(g.cand[i].item, is_cand[i], rows + (size_t)i * (size_t)ncols, ncols, ctx);
        if (s) rc = s < 0 ? s : 0;
        if (s > 0) break;
    }
out:
    ns_state_unlock(st);
    ns_arena_release(&a);
    ns__fcols_free(fc);
    return rc;
}
