/*
 * service.c — the recommendation service: the route table and handlers
 * over the store (durability), the state (what the events taught) and the
 * pipeline (recall -> rank), plus start-up, config reload (atomic swap) and
 * graceful stop.
 *
 * Write path (POST users/items/events): parse and validate the whole body
 * (errors name the field: "events[3].ts"), write it to the store in one
 * transaction (durable before the 200), then apply it to the in-memory
 * state. Read path (GET recommend): context from the query, pipeline under
 * the state's shared lock, JSON built straight into the response buffer.
 */
#include "northstar/http.h"
#include "northstar/service.h"

#include "northstar/dataset.h"
#include "northstar/bundle.h"
#include "northstar/pipeline.h"
#include "northstar/rt.h"
#include "server_int.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

/* JSON pieces every answer is built from: a string, escaped and made
 * valid UTF-8 (ns_buf_json_str), and a number, null when it is not finite
 * (JSON has no NaN). */
static void jstr(ns_buf *b, const char *s) { ns_buf_json_str(b, s ? s : "", s ? strlen(s) : 0); }

static void jnum(ns_buf *b, double x) { ns_buf_json_num(b, x, 6); }

/* A Prometheus label value: backslash, quote and newline escaped, as the
 * text exposition format asks. */
static void plabel(ns_buf *b, const char *s)
{
    ns_buf_puts(b, "\"");
    for (; s && *s; s++) {
        if (*s == '\\' || *s == '"') ns_buf_printf(b, "\\%c", *s);
        else if (*s == '\n') ns_buf_puts(b, "\\n");
        else ns_buf_append(b, s, 1);
    }
    ns_buf_puts(b, "\"");
}

/* The pipeline in force, shared by requests; replaced on reload. */
typedef struct pipe_ref {
    ns_pipeline *p;
    int refs;
} pipe_ref;

struct ns_service {
    ns_service_opts o;
    ns_store *store;
    ns_state *state;
    ns_http *http;
    pthread_mutex_t pipe_mu;
    pipe_ref *cur;
    char *config_text; /* the config in force */
    double started;          /* monotonic */
    double started_wall, loaded_wall; /* Unix time of the start and of the last pipeline load */
    char *config_path;        /* the config file in force (NULL: built-in) */
    pthread_t retrainer;
    _Atomic int retraining;   /* 1 while the background job runs */
    int retrainer_joinable;
    double last_retrain_s;
    char last_retrain_err[256];
    _Atomic uint64_t events_in, users_in, items_in, recs, reloads, cold, retrains_ok, retrains_failed;
    ns__stats_hist hist;      /* figures over time for GET /v1/stats (dashboard.c) */
};

static pipe_ref *pipe_acquire(ns_service *s)
{
    pthread_mutex_lock(&s->pipe_mu);
    pipe_ref *r = s->cur;
    r->refs++;
    pthread_mutex_unlock(&s->pipe_mu);
    return r;
}

static void pipe_release(ns_service *s, pipe_ref *r)
{
    pthread_mutex_lock(&s->pipe_mu);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&s->pipe_mu);
    if (last) {
        ns_pipeline_free(r->p);
        free(r);
    }
}

/* ---- JSON input ---------------------------------------------------------------------------------- */

/* Parse the body into a list of objects: one object, an array, or
 * {"<key>": [...]}. Returns the array (new reference) or NULL after
 * setting the error response. */
static json_t *body_list(const ns_http_req *req, ns_http_resp *resp, const char *key, int max)
{
    json_error_t je;
    json_t *root = json_loadb(req->body, req->body_len, 0, &je);
    if (!root) {
        ns_http_error(resp, 400, "body", "malformed JSON at line %d column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    json_t *list;
    if (json_is_array(root)) list = root;
    else if (json_is_object(root) && json_is_array(json_object_get(root, key))) {
        list = json_incref(json_object_get(root, key));
        json_decref(root);
    } else if (json_is_object(root) && !json_object_get(root, key)) {
        list = json_array();
        json_array_append_new(list, root);
    } else {
        json_decref(root);
        ns_http_error(resp, 422, key, "expected an object, an array of objects or {\"%s\": [...]}", key);
        return NULL;
    }
    if (json_array_size(list) == 0 || (int)json_array_size(list) > max) {
        ns_http_error(resp, 422, key, "expected 1 to %d records, got %zu", max, json_array_size(list));
        json_decref(list);
        return NULL;
    }
    return list;
}

typedef struct {
    ns_http_resp *resp;
    char field[96];
    const char *kind; /* "users", ... */
    size_t index;
} vctx;

static int vfail(vctx *v, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int vfail(vctx *v, const char *key, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (*key) snprintf(v->field, sizeof v->field, "%s[%zu].%s", v->kind, v->index, key);
    else snprintf(v->field, sizeof v->field, "%s[%zu]", v->kind, v->index);
    ns_http_error(v->resp, 422, v->field, "%s", msg);
    return -1;
}

/* An id: a non-empty string (<= NS_STORE_ID_MAX bytes, valid UTF-8) or an integer. */
static int get_id(vctx *v, json_t *o, const char *key, ns_arena *a, const char **out)
{
    json_t *x = json_object_get(o, key);
    if (json_is_integer(x)) {
        *out = ns_arena_sprintf(a, "%lld", (long long)json_integer_value(x));
        return 0;
    }
    if (!json_is_string(x) || !json_string_length(x)) return vfail(v, key, "missing or not a string/integer id");
    if (json_string_length(x) > NS_STORE_ID_MAX) return vfail(v, key, "id longer than %d bytes", NS_STORE_ID_MAX);
    *out = json_string_value(x);
    return 0;
}

static int get_str(vctx *v, json_t *o, const char *key, size_t maxlen, const char **out)
{
    json_t *x = json_object_get(o, key);
    *out = NULL;
    if (!x || json_is_null(x)) return 0;
    if (!json_is_string(x)) return vfail(v, key, "expected a string");
    if (json_string_length(x) > maxlen) return vfail(v, key, "string longer than %zu bytes", maxlen);
    *out = json_string_value(x);
    return 0;
}

static int get_num(vctx *v, json_t *o, const char *key, double lo, double hi, double dflt, double *out)
{
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_number(x)) return vfail(v, key, "expected a number");
    double d = json_number_value(x);
    if (!(d >= lo && d <= hi)) {
        char r[96];
        snprintf(r, sizeof r, " (%g is outside %g..%g)", d, lo, hi);
        return vfail(v, key, "number out of range%s", r);
    }
    *out = d;
    return 0;
}

/* A JSON object member dumped to text (attrs, context). */
static int get_obj_text(vctx *v, json_t *o, const char *key, ns_arena *a, const char **out)
{
    json_t *x = json_object_get(o, key);
    *out = NULL;
    if (!x || json_is_null(x)) return 0;
    if (!json_is_object(x)) return vfail(v, key, "expected a JSON object");
    char *d = json_dumps(x, JSON_COMPACT);
    if (!d) return vfail(v, key, "cannot encode");
    if (strlen(d) > NS_STORE_JSON_MAX) {
        free(d);
        return vfail(v, key, "longer than %d bytes as JSON text", NS_STORE_JSON_MAX);
    }
    *out = ns_arena_strdup(a, d);
    free(d);
    return 0;
}

static int unknown_keys(vctx *v, json_t *o, const char *const *known)
{
    const char *key;
    json_t *x;
    json_object_foreach(o, key, x)
    {
        int ok = 0;
        for (int i = 0; known[i] && !ok; i++) ok = !strcmp(known[i], key);
        if (!ok) return vfail(v, key, "unknown field");
    }
    return 0;
}

/* ---- writes ------------------------------------------------------------------------------------------- */

static int store_fail(ns_http_resp *resp, const char *what)
{
    const ns_error_info *e = ns_err_last();
    int status = e->code == NS_ENOTFOUND || e->code == NS_EINVAL ? 422 : 500;
    ns_log_error("%s: %s", what, ns_err_msg());
    ns_http_error_from_ns(resp, status);
    return -1;
}

static int parse_user(vctx *v, json_t *o, ns_arena *a, double now, void *rec)
{
    static const char *const known[] = {"id", "age", "gender", "occupation", "zip", "attrs", "created", NULL};
    ns_user_rec *u = rec;
    double age = 0;
    if (unknown_keys(v, o, known) < 0 || get_id(v, o, "id", a, &u->id) < 0 ||
        get_num(v, o, "age", 0, NS_STORE_AGE_MAX, 0, &age) < 0 ||
        get_str(v, o, "gender", NS_STORE_GENDER_MAX, &u->gender) < 0 ||
        get_str(v, o, "occupation", NS_STORE_OCCUPATION_MAX, &u->occupation) < 0 ||
        get_str(v, o, "zip", NS_STORE_ZIP_MAX, &u->zip) < 0 || get_obj_text(v, o, "attrs", a, &u->attrs) < 0 ||
        get_num(v, o, "created", 0, NS_STORE_TIME_MAX, now, &u->created) < 0)
        return -1;
    u->age = (int)age;
    return 0;
}

/* Categories: "a|b" or ["a", "b"] -> "a|b". */
static int get_categories(vctx *v, json_t *o, ns_arena *a, const char **out)
{
    json_t *x = json_object_get(o, "categories");
    *out = NULL;
    if (!x || json_is_null(x)) return 0;
    if (json_is_string(x)) return get_str(v, o, "categories", NS_STORE_CATEGORIES_MAX, out);
    if (!json_is_array(x)) return vfail(v, "categories", "expected an array of strings");
    ns_buf b;
    ns_buf_init(&b);
    size_t i;
    json_t *c;
    json_array_foreach(x, i, c)
    {
        if (!json_is_string(c) || !json_string_length(c) || strchr(json_string_value(c), '|')) {
            ns_buf_release(&b);
            return vfail(v, "categories", "categories are non-empty strings without '|'");
        }
        if (b.len) ns_buf_puts(&b, "|");
        ns_buf_puts(&b, json_string_value(c));
    }
    if (b.len > NS_STORE_CATEGORIES_MAX) {
        ns_buf_release(&b);
        return vfail(v, "categories", "longer than %d bytes joined with '|'", NS_STORE_CATEGORIES_MAX);
    }
    *out = ns_arena_strdup(a, b.data ? b.data : "");
    ns_buf_release(&b);
    return 0;
}

static int parse_item(vctx *v, json_t *o, ns_arena *a, double now, void *rec)
{
    static const char *const known[] = {"id", "title", "text", "categories", "attrs", "creator", "created", NULL};
    ns_item_rec *it = rec;
    if (unknown_keys(v, o, known) < 0 || get_id(v, o, "id", a, &it->id) < 0 ||
        get_str(v, o, "title", NS_STORE_TITLE_MAX, &it->title) < 0 ||
        get_str(v, o, "text", NS_STORE_TEXT_MAX, &it->text) < 0 ||
        get_categories(v, o, a, &it->categories) < 0 || get_obj_text(v, o, "attrs", a, &it->attrs) < 0 ||
        get_str(v, o, "creator", NS_STORE_CREATOR_MAX, &it->creator) < 0 ||
        get_num(v, o, "created", 0, NS_STORE_TIME_MAX, now, &it->created) < 0)
        return -1;
    return 0;
}

static int store_users(ns_store *st, const void *recs, size_t n) { return ns_store_put_users(st, recs, n); }
static int store_items(ns_store *st, const void *recs, size_t n) { return ns_store_put_items(st, recs, n); }
static int apply_user(ns_state *st, const void *rec) { return ns_state_put_user(st, rec, NULL); }
static int apply_item(ns_state *st, const void *rec) { return ns_state_put_item(st, rec, NULL); }

/* A catalogue write: POST /v1/users and POST /v1/items differ only in
 * their records, so one handler runs both from a table row. */
typedef struct {
    const char *key, *route; /* "users", "POST /v1/users" */
    size_t size;             /* of one record */
    int (*parse)(vctx *v, json_t *o, ns_arena *a, double now, void *rec);
    int (*store)(ns_store *st, const void *recs, size_t n);
    int (*apply)(ns_state *st, const void *rec);
} catalogue_kind;

static const catalogue_kind users_kind = {"users", "POST /v1/users", sizeof(ns_user_rec), parse_user, store_users,
                                          apply_user};
static const catalogue_kind items_kind = {"items", "POST /v1/items", sizeof(ns_item_rec), parse_item, store_items,
                                          apply_item};

/* Validate every record first, then write them all to the store in one
 * transaction (durable before the 200), then apply them to the state. */
static void post_catalogue(ns_service *s, const catalogue_kind *k, ns_http_req *req, ns_http_resp *resp,
                           _Atomic uint64_t *counter)
{
    json_t *list = body_list(req, resp, k->key, s->o.max_batch);
    if (!list) return;
    size_t n = json_array_size(list), i;
    char *recs = ns_arena_calloc(req->arena, n, k->size);
    vctx v = {resp, "", k->key, 0};
    json_t *o;
    double now = ns_wall_time();
    json_array_foreach(list, i, o)
    {
        v.index = i;
        if (!json_is_object(o)) { vfail(&v, "", "expected an object"); goto out; }
        if (k->parse(&v, o, req->arena, now, recs + i * k->size) < 0) goto out;
    }
    if (k->store(s->store, recs, n) < 0) { store_fail(resp, k->route); goto out; }
    for (i = 0; i < n; i++) k->apply(s->state, recs + i * k->size);
    atomic_fetch_add(counter, n);
    ns_buf_printf(&resp->body, "{\"accepted\":%zu}\n", n);
out:
    json_decref(list);
}

static void h_post_users(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    post_catalogue(s, &users_kind, req, resp, &s->users_in);
}

static void h_post_items(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    post_catalogue(s, &items_kind, req, resp, &s->items_in);
}

static void h_post_events(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    json_t *list = body_list(req, resp, "events", s->o.max_batch);
    if (!list) return;
    size_t n = json_array_size(list), i;
    ns_event_rec *ev = ns_arena_calloc(req->arena, n, sizeof *ev);
    vctx v = {resp, "", "events", 0};
    static const char *const known[] = {"user", "item", "type", "value", "ts", "context", NULL};
    json_t *o;
    double now = ns_wall_time();
    json_array_foreach(list, i, o)
    {
        v.index = i;
        const char *type = NULL;
        uint32_t idx;
        if (!json_is_object(o)) { vfail(&v, "", "expected an object"); goto out; }
        if (unknown_keys(&v, o, known) < 0 || get_id(&v, o, "user", req->arena, &ev[i].user) < 0 ||
            get_id(&v, o, "item", req->arena, &ev[i].item) < 0 || get_str(&v, o, "type", NS_STORE_EVENT_TYPE_MAX, &type) < 0 ||
            get_num(&v, o, "value", -NS_STORE_VALUE_MAX, NS_STORE_VALUE_MAX, 1, &ev[i].value) < 0 ||
            get_num(&v, o, "ts", 0, now + NS_STORE_TS_AHEAD_MAX, now, &ev[i].ts) < 0 ||
            get_obj_text(&v, o, "context", req->arena, &ev[i].context) < 0)
            goto out;
        if (!type) { vfail(&v, "type", "missing event type"); goto out; }
        if ((ev[i].type = ns_event_type_parse(type)) < 0) {
            vfail(&v, "type", "unknown event type '%s' (impression, click, like, purchase, rating, dislike)", type);
            goto out;
        }
        if (!ns_state_find_item(s->state, ev[i].item, &idx)) {
            vfail(&v, "item", "unknown item '%s'", ev[i].item);
            goto out;
        }
    }
    int64_t first = 0;
    if (ns_store_put_events(s->store, ev, n, &first) < 0) { store_fail(resp, "POST /v1/events"); goto out; }
    for (i = 0; i < n; i++)
        if (ns_state_event(s->state, &ev[i]) < 0) ns_log_warn("event %zu not applied: %s", i, ns_err_msg());
    atomic_fetch_add(&s->events_in, n);
    ns_buf_printf(&resp->body, "{\"accepted\":%zu,\"first_seq\":%lld,\"last_seq\":%lld}\n", n, (long long)first,
                  (long long)first + (long long)n - 1);
out:
    json_decref(list);
}

/* ---- reads -------------------------------------------------------------------------------------------------- */

static void put_item_brief(ns_buf *b, ns_state *st, uint32_t item)
{
    ns_item_view iv;
    ns_state_item(st, item, &iv);
    ns_buf_puts(b, "{\"id\":");
    ns_buf_json_str(b, iv.id, strlen(iv.id));
    if (iv.title) {
        ns_buf_puts(b, ",\"title\":");
        ns_buf_json_str(b, iv.title, strlen(iv.title));
    }
    ns_buf_puts(b, ",\"categories\":[");
    for (int c = 0; c < iv.ncats; c++) {
        const char *cn = ns_state_category_name(st, iv.cats[c]);
        if (c) ns_buf_puts(b, ",");
        ns_buf_json_str(b, cn, strlen(cn));
    }
    ns_buf_puts(b, "]");
}

/* Parse an integer query argument in lo..hi (dflt when absent). */
static int query_int(const ns_http_req *req, ns_http_resp *resp, const char *key, long lo, long hi, long dflt,
                     long *out)
{
    const char *q = ns_http_query(req, key);
    if (!q) {
        *out = dflt;
        return 0;
    }
    char *end;
    long v = strtol(q, &end, 10);
    if (end == q || *end || v < lo || v > hi) {
        ns_http_error(resp, 422, key, "'%s' is not an integer in %ld..%ld", q, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* "ranker":NAME[,"ranker_fallback":WHY] — what ranks, and why it is the
 * blend when a Wide & Deep model was configured but has no file. */
static void put_ranker(ns_buf *b, const ns_pipeline *p)
{
    ns_buf_puts(b, "\"ranker\":");
    jstr(b, ns_pipeline_scorer_name(p));
    const char *why = ns_pipeline_scorer_fallback(p);
    if (why) {
        ns_buf_puts(b, ",\"ranker_fallback\":");
        jstr(b, why);
    }
}

/* ,"north_star":{"name","window","value"[,"numerator","denominator"]} */
static void put_north_star(ns_buf *b, const ns_pipeline *p, double value, const uint64_t *num_den)
{
    ns_buf_puts(b, ",\"north_star\":{\"name\":");
    jstr(b, ns_pipeline_north_star_name(p));
    ns_buf_puts(b, ",\"window\":");
    jstr(b, ns_pipeline_north_star_window(p));
    ns_buf_puts(b, ",\"value\":");
    jnum(b, value);
    if (num_den)
        ns_buf_printf(b, ",\"numerator\":%llu,\"denominator\":%llu", (unsigned long long)num_den[0],
                      (unsigned long long)num_den[1]);
    ns_buf_puts(b, "}");
}

static void h_recommend(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    const char *user = ns_http_param(req, "user");
    pipe_ref *pr = pipe_acquire(s);
    ns_pipeline *p = pr->p;
    long n, tz;
    ns_context ctx;
    if (query_int(req, resp, "n", 1, ns_pipeline_max_n(p), ns_pipeline_default_n(p), &n) < 0 ||
        query_int(req, resp, "tz", -720, 840, 0, &tz) < 0)
        goto out;
    if (ns_context_make(&ctx, ns_wall_time(), (int)tz, ns_http_query(req, "device"), ns_http_query(req, "page")) < 0) {
        ns_http_error_from_ns(resp, 422);
        goto out;
    }
    ns_rec_request rq = {user, (int)n, &ctx};
    ns_rec_filters rf;
    int unknown_excl;
    if (ns__rec_filters(s->state, req, resp, &rf, &unknown_excl) < 0) goto out;
    ns_rec_result r;
    if (ns_pipeline_recommend_filtered(p, &rq, &rf, &r, req->arena) < 0) {
        ns_http_error_from_ns(resp, ns_err_last()->code == NS_ERANGE ? 422 : 500);
        goto out;
    }
    atomic_fetch_add(&s->recs, 1);
    if (r.cold_start) atomic_fetch_add(&s->cold, 1);
    ns_buf *b = &resp->body;
    ns_buf_reserve(b, 256 + (size_t)r.n * 160);
    ns_buf_puts(b, "{\"user\":");
    ns_buf_json_str(b, user, strlen(user));
    ns_buf_printf(b, ",\"cold_start\":%s,\"context\":{\"hour\":%d,\"weekday\":%d,\"device\":",
                  r.cold_start ? "true" : "false", ctx.hour, ctx.weekday);
    jstr(b, ns_device_name(ctx.device));
    ns_buf_puts(b, ",\"page\":");
    jstr(b, ctx.page);
    ns_buf_puts(b, "},\"items\":[");
    ns_state *st = s->state;
    ns_state_rdlock(st);
    for (int i = 0; i < r.n; i++) {
        if (i) ns_buf_puts(b, ",");
        put_item_brief(b, st, r.items[i].item);
        ns_buf_puts(b, ",\"score\":");
        jnum(b, r.items[i].score);
        ns_buf_puts(b, ",\"channels\":[");
        int first = 1;
        for (int c = 0; c < ns_pipeline_channels(p); c++)
            if (r.items[i].channels & (1u << c)) {
                if (!first) ns_buf_puts(b, ",");
                jstr(b, ns_pipeline_channel_name(p, c));
                first = 0;
            }
        ns_buf_puts(b, "]}");
    }
    ns_state_unlock(st);
    uint64_t num, den;
    double nsm = ns_pipeline_north_star(p, ns_state_now(st) > 0 ? ns_state_now(st) : ctx.ts, &num, &den);
    ns_buf_printf(b, "],\"candidates\":%d,\"filtered\":%d,", r.candidates, r.filtered);
    if (ns_http_query(req, "exclude")) ns_buf_printf(b, "\"exclude_unknown\":%d,", unknown_excl);
    ns_buf_puts(b, "\"recall\":{");
    for (int c = 0; c < ns_pipeline_channels(p); c++) {
        if (c) ns_buf_puts(b, ",");
        jstr(b, ns_pipeline_channel_name(p, c));
        ns_buf_printf(b, ":%d", r.per_channel[c]);
    }
    ns_buf_puts(b, "},");
    put_ranker(b, p);
    put_north_star(b, p, nsm, NULL);
    ns_buf_printf(b, ",\"timing_ms\":{\"recall\":%.3f,\"rank\":%.3f}}\n", r.recall_ms, r.rank_ms);
out:
    pipe_release(s, pr);
}

static void h_similar(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    const char *id = ns_http_param(req, "id");
    long n;
    if (query_int(req, resp, "n", 1, 100, 10, &n) < 0) return;
    uint32_t item;
    if (!ns_state_find_item(s->state, id, &item)) {
        ns_http_error(resp, 404, "id", "unknown item '%s'", id);
        return;
    }
    ns_state *st = s->state;
    ns_scored *sim = ns_arena_alloc(req->arena, sizeof(ns_scored) * 1000, 4);
    ns_state_rdlock(st);
    int k = ns_state_similar(st, item, sim, (int)n);
    if (k < 0) k = 0;
    int ncooc = k;
    /* Fill up with popular items of the same primary category (cold items
     * have no co-clicks yet). */
    if (k < n) {
        ns_item_view iv;
        ns_state_item(st, item, &iv);
        ns_scored *pop = sim + n;
        int np = ns_state_top_popular(st, pop, 1000 - (int)n);
        for (int j = 0; j < np && k < n; j++) {
            ns_item_view pv;
            if (pop[j].item == item) continue;
            ns_state_item(st, pop[j].item, &pv);
            if (iv.ncats && (!pv.ncats || pv.cats[0] != iv.cats[0])) continue;
            int dup = 0;
            for (int q = 0; q < k && !dup; q++) dup = sim[q].item == pop[j].item;
            if (!dup) sim[k++] = (ns_scored){pop[j].item, 0};
        }
    }
    ns_buf *b = &resp->body;
    ns_buf_puts(b, "{\"item\":");
    ns_buf_json_str(b, id, strlen(id));
    ns_buf_puts(b, ",\"similar\":[");
    for (int j = 0; j < k; j++) {
        if (j) ns_buf_puts(b, ",");
        put_item_brief(b, st, sim[j].item);
        ns_buf_puts(b, ",\"score\":");
        jnum(b, sim[j].score);
        ns_buf_printf(b, ",\"source\":\"%s\"}", j < ncooc ? "cooc" : "category_popular");
    }
    ns_state_unlock(st);
    ns_buf_puts(b, "]}\n");
}

typedef struct { ns_buf *b; int n; } hist_ctx;

static int put_event(int64_t seq, const ns_event_rec *e, void *ctx)
{
    hist_ctx *h = ctx;
    ns_buf_printf(h->b, "%s{\"seq\":%lld,\"item\":", h->n++ ? "," : "", (long long)seq);
    ns_buf_json_str(h->b, e->item, strlen(e->item));
    ns_buf_printf(h->b, ",\"type\":\"%s\",\"value\":", ns_event_type_name(e->type));
    jnum(h->b, e->value);
    ns_buf_printf(h->b, ",\"ts\":%.3f}", e->ts);
    return 0;
}

static void h_get_user(void *app, ns_http_req *req, ns_http_resp *resp)
{
    ns_service *s = app;
    const char *id = ns_http_param(req, "id");
    uint32_t u;
    if (!ns_state_find_user(s->state, id, &u)) {
        ns_http_error(resp, 404, "id", "unknown user '%s'", id);
        return;
    }
    ns_state *st = s->state;
    ns_buf *b = &resp->body;
    ns_state_rdlock(st);
    ns_user_view uv;
    ns_state_user(st, u, &uv);
    double now = ns_state_now(st);
    ns_buf_puts(b, "{\"id\":");
    ns_buf_json_str(b, uv.id, strlen(uv.id));
    ns_buf_printf(b, ",\"age\":%d,\"gender\":", uv.age);
    if (uv.gender) ns_buf_json_str(b, uv.gender, strlen(uv.gender));
    else ns_buf_puts(b, "null");
    ns_buf_puts(b, ",\"occupation\":");
    if (uv.occupation) ns_buf_json_str(b, uv.occupation, strlen(uv.occupation));
    else ns_buf_puts(b, "null");
    if (uv.segment == NS_NO_SEGMENT) ns_buf_puts(b, ",\"segment\":null");
    else ns_buf_printf(b, ",\"segment\":%u", uv.segment);
    ns_buf_printf(b, ",\"events\":%llu,\"seen\":%u,\"positive\":%u,\"negative\":%u,\"clicks_30m\":%llu,\"recent\":[",
                  (unsigned long long)uv.nevents, uv.nseen, uv.npos, uv.nneg,
                  (unsigned long long)ns_rt_user_clicks_30m(ns_state_rt(st), u, now));
    for (int i = 0; i < uv.nrecent; i++) {
        ns_item_view iv;
        ns_state_item(st, uv.recent[i], &iv);
        if (i) ns_buf_puts(b, ",");
        ns_buf_json_str(b, iv.id, strlen(iv.id));
    }
    ns_state_unlock(st);
    ns_buf_puts(b, "],\"history\":[");
    hist_ctx h = {b, 0};
    if (ns_store_user_events(s->store, id, 20, put_event, &h) < 0) {
        ns_http_error_from_ns(resp, 500);
        return;
    }
    ns_buf_puts(b, "]}\n");
}

static void h_health(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    ns_buf_printf(&resp->body,
                  "{\"status\":\"ok\",\"users\":%u,\"items\":%u,\"events\":%llu,\"uptime_s\":%.1f,\"version\":\"%s\"}\n",
                  ns_state_users(s->state), ns_state_items(s->state),
                  (unsigned long long)ns_state_events(s->state), ns_now() - s->started, NS_VERSION);
}

/* One Prometheus counter family over the pipeline's channels: the
 * candidates each produced (served = 0) or the served items it proposed. */
static void channel_counter(ns_buf *b, ns_pipeline *p, const char *name, const char *help, int served)
{
    ns_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
    for (int c = 0; c < ns_pipeline_channels(p); c++) {
        uint64_t n[2];
        ns_pipeline_channel_counts(p, c, &n[0], &n[1]);
        ns_buf_printf(b, "%s{channel=", name);
        plabel(b, ns_pipeline_channel_name(p, c));
        ns_buf_printf(b, "} %llu\n", (unsigned long long)n[served]);
    }
}

/* One Prometheus series with its HELP and TYPE lines. */
static void series(ns_buf *b, const char *name, const char *type, const char *help, double v)
{
    ns_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    if (isnan(v)) ns_buf_puts(b, "NaN\n");
    else ns_buf_printf(b, "%.17g\n", v);
}

/* The standard process_* series, from /proc/self. */
static void process_series(ns_buf *b, double started_wall)
{
    long rss_pages = 0, pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss_pages) != 2) rss_pages = 0;
        fclose(f);
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 ru.ru_stime.tv_usec / 1e6;
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        for (struct dirent *e; (e = readdir(d));) fds += e->d_name[0] != '.';
        closedir(d);
        fds--; /* the directory stream itself */
    }
    series(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           (double)rss_pages * (double)sysconf(_SC_PAGESIZE));
    series(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.", cpu);
    series(b, "process_open_fds", "gauge", "Open file descriptors.", fds);
    series(b, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.",
           started_wall);
}

static void north_star_series(ns_buf *b, ns_pipeline *p, double now)
{
    uint64_t num, den;
    double v = ns_pipeline_north_star(p, now, &num, &den);
    ns_buf labels;
    ns_buf_init(&labels);
    ns_buf_puts(&labels, "{name=");
    plabel(&labels, ns_pipeline_north_star_name(p));
    ns_buf_puts(&labels, ",window=");
    plabel(&labels, ns_pipeline_north_star_window(p));
    ns_buf_puts(&labels, "}");
    const char *lb = labels.data;
    ns_buf_puts(b, "# HELP northstar_north_star The north-star metric declared in the pipeline config "
                   "(NaN while its denominator is 0).\n# TYPE northstar_north_star gauge\nnorthstar_north_star");
    if (den && isfinite(v)) ns_buf_printf(b, "%s %.6g\n", lb, v);
    else ns_buf_printf(b, "%s NaN\n", lb);
    ns_buf_printf(b,
                  "# HELP northstar_north_star_numerator Events counted above the north-star fraction, in its window.\n"
                  "# TYPE northstar_north_star_numerator gauge\nnorthstar_north_star_numerator%s %llu\n"
                  "# HELP northstar_north_star_denominator Events counted below the north-star fraction, in its window.\n"
                  "# TYPE northstar_north_star_denominator gauge\nnorthstar_north_star_denominator%s %llu\n",
                  lb, (unsigned long long)num, lb, (unsigned long long)den);
    ns_buf_release(&labels);
}

static void h_metrics(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    ns_buf *b = &resp->body;
    resp->content_type = "text/plain; version=0.0.4";
    ns_buf_printf(b, "# HELP northstar_build_info The running build (value 1).\n# TYPE northstar_build_info gauge\n"
                     "northstar_build_info{version=\"%s\"} 1\n",
                  NS_VERSION);
    ns_http_metrics(s->http, b);
    pipe_ref *pr = pipe_acquire(s);
    ns_pipeline *p = pr->p;
    channel_counter(b, p, "northstar_recall_candidates_total", "Candidates produced by each recall channel.", 0);
    channel_counter(b, p, "northstar_recall_served_total", "Recommended items each channel proposed.", 1);
    double now = ns_state_now(s->state);
    north_star_series(b, p, now > 0 ? now : ns_wall_time());
    series(b, "northstar_nonfinite_scores_total", "counter",
           "Candidates dropped because the scorer gave them no finite score.", (double)ns_pipeline_nonfinite_scores(p));
    series(b, "northstar_ranker_fallback", "gauge", "1 while a configured Wide & Deep model is missing and the blend ranks.",
           ns_pipeline_scorer_fallback(p) != NULL);
    pipe_release(s, pr);
    series(b, "northstar_events_ingested_total", "counter", "Events accepted by POST /v1/events.",
           (double)atomic_load(&s->events_in));
    series(b, "northstar_recommendations_total", "counter", "Recommendations served.", (double)atomic_load(&s->recs));
    series(b, "northstar_cold_start_total", "counter", "Recommendations for users the service did not know.",
           (double)atomic_load(&s->cold));
    series(b, "northstar_reloads_total", "counter", "Pipelines built and swapped in.", (double)atomic_load(&s->reloads));
    series(b, "northstar_pipeline_loaded_timestamp_seconds", "gauge",
           "When the pipeline in force (and the models it names) was loaded.", s->loaded_wall);
    ns_buf_printf(b,
                  "# HELP northstar_retrains_total Background retrainings by result.\n"
                  "# TYPE northstar_retrains_total counter\nnorthstar_retrains_total{result=\"ok\"} %llu\n"
                  "northstar_retrains_total{result=\"failed\"} %llu\n",
                  (unsigned long long)atomic_load(&s->retrains_ok), (unsigned long long)atomic_load(&s->retrains_failed));
    series(b, "northstar_retraining", "gauge", "1 while a retraining runs.", atomic_load(&s->retraining));
    series(b, "northstar_users", "gauge", "Users the state knows.", ns_state_users(s->state));
    series(b, "northstar_items", "gauge", "Items the state knows.", ns_state_items(s->state));
    series(b, "northstar_events", "gauge", "Events the state has applied.", (double)ns_state_events(s->state));
    series(b, "northstar_realtime_bytes", "gauge", "Memory of the real-time windows.",
           (double)ns_rt_bytes(ns_state_rt(s->state)));
    series(b, "northstar_store_event_commits_total", "counter",
           "Event transactions (one fsync each; batches are group-committed).", (double)ns_store_commits(s->store));
    process_series(b, s->started_wall);
}

/* GET /v1/stats: the dashboard's figures as one JSON object (the same
 * counters as /metrics, plus rates and a history; see server_int.h). */
static void h_stats(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    ns_buf *b = &resp->body;
    ns__stats_sample cur;
    memset(&cur, 0, sizeof cur);
    cur.t = ns_wall_time();
    uint64_t errors5 = 0;
    cur.requests = ns_http_requests_total(s->http, &errors5);
    cur.recs = atomic_load(&s->recs);
    cur.events = atomic_load(&s->events_in);
    ns_http_route_latency(s->http, "recommend", cur.lat);
    ns_buf_printf(b,
                  "{\"version\":\"%s\",\"uptime_s\":%.1f,\"users\":%u,\"items\":%u,\"events\":%llu,"
                  "\"events_ingested\":%llu,\"recommendations\":%llu,\"cold_start\":%llu",
                  NS_VERSION, ns_now() - s->started, ns_state_users(s->state), ns_state_items(s->state),
                  (unsigned long long)ns_state_events(s->state), (unsigned long long)cur.events,
                  (unsigned long long)cur.recs, (unsigned long long)atomic_load(&s->cold));
    pipe_ref *pr = pipe_acquire(s);
    ns_pipeline *p = pr->p;
    double now = ns_state_now(s->state);
    uint64_t num, den;
    cur.north_star = ns_pipeline_north_star(p, now > 0 ? now : cur.t, &num, &den);
    uint64_t nd[2] = {num, den};
    put_north_star(b, p, cur.north_star, nd);
    ns_buf_puts(b, ",");
    put_ranker(b, p);
    ns_buf_puts(b, ",\"channels\":[");
    for (int c = 0; c < ns_pipeline_channels(p); c++) {
        uint64_t prod, served;
        ns_pipeline_channel_counts(p, c, &prod, &served);
        ns_buf_puts(b, c ? ",{\"name\":" : "{\"name\":");
        jstr(b, ns_pipeline_channel_name(p, c));
        ns_buf_printf(b, ",\"candidates\":%llu,\"served\":%llu}", (unsigned long long)prod, (unsigned long long)served);
    }
    pipe_release(s, pr);
    int running = atomic_load(&s->retraining);
    ns_buf_printf(b, "],\"retrain\":{\"running\":%s,\"ok\":%llu,\"failed\":%llu,\"models\":",
                  running ? "true" : "false", (unsigned long long)atomic_load(&s->retrains_ok),
                  (unsigned long long)atomic_load(&s->retrains_failed));
    if (s->o.models) ns_buf_json_str(b, s->o.models, strlen(s->o.models));
    else ns_buf_puts(b, "null");
    if (!running && atomic_load(&s->retrains_ok) + atomic_load(&s->retrains_failed) > 0) {
        ns_buf_printf(b, ",\"last_s\":%.2f,\"last_error\":", s->last_retrain_s);
        if (s->last_retrain_err[0]) ns_buf_json_str(b, s->last_retrain_err, strlen(s->last_retrain_err));
        else ns_buf_puts(b, "null");
    }
    ns_buf_printf(b, "},\"http\":{\"requests\":%llu,\"server_errors\":%llu,\"inflight\":%d},",
                  (unsigned long long)cur.requests, (unsigned long long)errors5,
                  ns_http_inflight(s->http) > 1 ? ns_http_inflight(s->http) - 1 : 0); /* not counting this one */
    ns__stats_hist_update(&s->hist, &cur, 2.0, 10.0, b);
    ns_buf_puts(b, "}\n");
}

static void h_reload(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    if (ns_service_reload(s) < 0) {
        /* an admin route: the file that failed may be named (paths are not
         * shown on the open routes) */
        const ns_error_info *e = ns_err_last();
        ns_http_error(resp, 422, e->field[0] ? e->field : NULL, "%s%s%s%s%s", e->file, e->file[0] ? ": " : "", e->msg,
                      e->value[0] ? ": " : "", e->value);
        return;
    }
    pipe_ref *pr = pipe_acquire(s);
    ns_buf_printf(&resp->body, "{\"reloaded\":true,\"channels\":%d,", ns_pipeline_channels(pr->p));
    put_ranker(&resp->body, pr->p);
    ns_buf_puts(&resp->body, "}\n");
    pipe_release(s, pr);
}

static void h_retrain(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    if (ns_service_retrain(s) < 0) {
        ns_http_error_from_ns(resp, ns_err_last()->code == NS_EBUSY ? 409 : 422);
        return;
    }
    resp->status = 202;
    ns_buf_printf(&resp->body, "{\"started\":true,\"models\":");
    ns_buf_json_str(&resp->body, s->o.models, strlen(s->o.models));
    ns_buf_puts(&resp->body, "}\n");
}

static void h_config(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)req;
    ns_service *s = app;
    pthread_mutex_lock(&s->pipe_mu);
    ns_buf_puts(&resp->body, s->config_text);
    pthread_mutex_unlock(&s->pipe_mu);
}

static const ns_route routes[] = {
    {"POST", "/v1/users", h_post_users, NS_ROUTE_BODY | NS_ROUTE_WRITE, "post_users"},
    {"POST", "/v1/items", h_post_items, NS_ROUTE_BODY | NS_ROUTE_WRITE, "post_items"},
    {"POST", "/v1/events", h_post_events, NS_ROUTE_BODY | NS_ROUTE_WRITE, "post_events"},
    {"GET", "/v1/users/{id}", h_get_user, NS_ROUTE_PRIVATE, "get_user"},
    {"GET", "/v1/recommend/{user}", h_recommend, NS_ROUTE_READ, "recommend"},
    {"GET", "/v1/items/{id}/similar", h_similar, NS_ROUTE_READ, "similar"},
    {"GET", "/health", h_health, 0, "health"},
    {"GET", "/metrics", h_metrics, NS_ROUTE_READ, "metrics"},
    {"POST", "/admin/reload", h_reload, NS_ROUTE_ADMIN, "admin_reload"},
    {"POST", "/admin/retrain", h_retrain, NS_ROUTE_ADMIN, "admin_retrain"},
    {"GET", "/admin/config", h_config, NS_ROUTE_ADMIN, "admin_config"},
    {"GET", "/v1/stats", h_stats, NS_ROUTE_READ, "stats"},
    {"GET", "/", ns__h_ui_index, 0, "ui_index"},
    {"GET", "/ui/{file}", ns__h_ui_file, 0, "ui_file"},
};

/* ---- lifecycle ------------------------------------------------------------------------------------------------ */

ns_service_opts ns_service_defaults(void)
{
    ns_service_opts o;
    memset(&o, 0, sizeof o);
    o.http.host = "127.0.0.1";
    o.http.port = 8080;
    o.http.max_body = 4 << 20;
    o.http.threads = 4;
    o.http.conn_timeout_s = 10;
    o.sync = NS_SYNC_FULL;
    o.max_batch = 10000;
    o.implicit_ratings = -1;
    return o;
}

/* Build a pipeline from the config file (or the built-in one). */
static int build_pipeline(ns_service *s, ns_pipeline **p, char **text)
{
    size_t len;
    int rc;
    /* A models directory not trained yet (POST /admin/retrain fills it)
     * serves the built-in config meanwhile. */
    int untrained = !s->o.config && s->config_path && access(s->config_path, F_OK) != 0;
    if (untrained) ns_log_info("%s does not exist yet: serving the built-in config until a retrain", s->config_path);
    if (s->config_path && !untrained) {
        if ((rc = ns_file_read_all(s->config_path, text, &len, 1 << 20)) < 0) return rc;
    } else if (!(*text = ns_strdup(ns_pipeline_default_config())))
        return NS_ENOMEM;
    const char *origin = s->config_path && !untrained ? s->config_path : "default";
    if ((rc = ns__service_data_same(ns_state_data_of(s->state), *text, origin)) < 0 ||
        (rc = ns_pipeline_new(p, *text, origin, s->state)) < 0) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

int ns_service_reload(ns_service *s)
{
    ns_pipeline *p;
    char *text;
    int rc = build_pipeline(s, &p, &text);
    if (rc < 0) {
        ns_log_error("reload failed, keeping the pipeline in force: %s", ns_err_msg());
        return rc;
    }
    pipe_ref *r = ns_calloc(1, sizeof *r);
    if (!r) {
        ns_pipeline_free(p);
        free(text);
        return NS_ENOMEM;
    }
    r->p = p;
    r->refs = 1; /* the service's own reference */
    pthread_mutex_lock(&s->pipe_mu);
    pipe_ref *old = s->cur;
    s->cur = r;
    free(s->config_text);
    s->config_text = text;
    pthread_mutex_unlock(&s->pipe_mu);
    if (old) pipe_release(s, old);
    atomic_fetch_add(&s->reloads, 1);
    s->loaded_wall = ns_wall_time();
    ns_log_info("pipeline loaded from %s: %d channels, ranker %s", s->config_path ? s->config_path : "built-in config",
                ns_pipeline_channels(p), ns_pipeline_scorer_name(p));
    return 0;
}

int ns_service_start(ns_service **out, const ns_service_opts *o)
{
    *out = NULL;
    if (!o->db) return ns_err_set_at(NS_EINVAL, NULL, 0, "db", NULL, "a store file is required");
    ns_service *s = ns_calloc(1, sizeof *s);
    if (!s) return NS_ENOMEM;
    s->o = *o;
    if (s->o.max_batch <= 0) s->o.max_batch = 10000;
    s->started = ns_now();
    s->started_wall = ns_wall_time();
    pthread_mutex_init(&s->pipe_mu, NULL);
    int rc;
    if ((rc = ns__stats_hist_init(&s->hist, 900)) < 0) goto fail;
    if (o->config) s->config_path = ns_strdup(o->config);
    else if (o->models) {
        s->config_path = ns_malloc(strlen(o->models) + 16);
        if (s->config_path) sprintf(s->config_path, "%s/pipeline.json", o->models);
    }
    if ((o->config || o->models) && !s->config_path) {
        rc = NS_ENOMEM;
        goto fail;
    }
    ns_store_opts so = ns_store_defaults();
    so.sync = o->sync;
    if ((rc = ns_store_open(&s->store, o->db, &so)) < 0) goto fail;
    ns_state_opts sto = {0};
    if ((rc = ns__service_data(o, s->config_path, &sto.data)) < 0) goto fail;
    if (!(s->state = ns_state_new(&sto))) {
        rc = NS_ENOMEM;
        goto fail;
    }
    ns_timer t;
    ns_timer_start(&t);
    if ((rc = ns_state_load(s->state, s->store)) < 0) goto fail;
    ns_log_info("state loaded from %s in %.2f s: %u users, %u items, %llu events", o->db, ns_timer_elapsed(&t),
                ns_state_users(s->state), ns_state_items(s->state),
                (unsigned long long)ns_state_events(s->state));
    if ((rc = ns_service_reload(s)) < 0) goto fail;
    atomic_store(&s->reloads, 0);
    if ((rc = ns_http_start(&s->http, &o->http, routes, (int)(sizeof routes / sizeof routes[0]), s)) < 0) goto fail;
    *out = s;
    return 0;
fail:
    ns_service_stop(s);
    return rc;
}

int ns_service_port(const ns_service *s) { return ns_http_port(s->http); }

void ns_service_stop(ns_service *s)
{
    if (!s) return;
    if (s->http) ns_http_stop(s->http, 10.0);
    if (s->retrainer_joinable) pthread_join(s->retrainer, NULL);
    if (s->cur) pipe_release(s, s->cur);
    if (s->store) {
        ns_store_checkpoint(s->store);
        ns_store_close(s->store);
    }
    ns_state_free(s->state);
    free(s->config_text);
    free(s->config_path);
    pthread_mutex_destroy(&s->pipe_mu);
    ns__stats_hist_release(&s->hist);
    free(s);
}

/* ---- retraining ------------------------------------------------------------------------------------------------ */

/* The background job: a read-only handle of the store (WAL lets it read
 * while the service writes), the bundle trained into the models directory
 * (every file written atomically; loaded models are copies, not mappings,
 * so the pipeline in force is untouched), then a reload. */
static void *retrain_main(void *arg)
{
    ns_service *s = arg;
    ns_thread_init_worker(0); /* a background job may use the machine */
    ns_timer t;
    ns_timer_start(&t);
    ns_store_opts so = ns_store_defaults();
    so.readonly = 1;
    ns_store *st = NULL;
    ns_dataset d;
    int rc = ns_dataset_init(&d);
    if (rc >= 0) {
        const ns_state_data *x = ns_state_data_of(s->state);
        d.implicit_ratings = x->implicit_ratings;
        d.positive_threshold = x->positive_threshold;
        memcpy(d.weights, x->weights, sizeof d.weights);
        rc = ns_store_open(&st, s->o.db, &so);
    }
    if (rc >= 0) rc = ns_dataset_from_store(&d, st);
    ns_store_close(st);
    ns_bundle_opts bo = ns_bundle_defaults();
    bo.out_dir = s->o.models;
    if (rc >= 0) rc = ns_bundle_train(&d, NULL, &bo, NULL);
    ns_dataset_release(&d);
    if (rc >= 0) rc = ns_service_reload(s);
    s->last_retrain_s = ns_timer_elapsed(&t);
    if (rc < 0) {
        snprintf(s->last_retrain_err, sizeof s->last_retrain_err, "%s", ns_err_msg());
        ns_log_error("retrain failed after %.1f s: %s", s->last_retrain_s, s->last_retrain_err);
        atomic_fetch_add(&s->retrains_failed, 1);
    } else {
        s->last_retrain_err[0] = 0;
        ns_log_info("retrained %s in %.1f s and reloaded", s->o.models, s->last_retrain_s);
        atomic_fetch_add(&s->retrains_ok, 1);
    }
    atomic_store(&s->retraining, 0);
    return NULL;
}

int ns_service_retrain(ns_service *s)
{
    if (!s->o.models)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "models", NULL, "the server has no models directory (serve --models DIR)");
    int expect = 0;
    if (!atomic_compare_exchange_strong(&s->retraining, &expect, 1))
        return ns_err_set(NS_EBUSY, "a retraining is already running");
    if (s->retrainer_joinable) pthread_join(s->retrainer, NULL);
    s->retrainer_joinable = 0;
    if (pthread_create(&s->retrainer, NULL, retrain_main, s) != 0) {
        atomic_store(&s->retraining, 0);
        return ns_err_set(NS_EINTERNAL, "cannot start the retraining thread");
    }
    s->retrainer_joinable = 1;
    return 0;
}
