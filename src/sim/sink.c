/*
 * sink.c — where the simulator's output goes: straight into a store
 * (batched transactions), to a running server over HTTP (the world, then
 * the offline traffic in event batches), or live against a server: sessions
 * at a given rate whose slates are the server's own recommendations, so the
 * north-star metric moves with the pipeline's quality.
 */
#include "sim_int.h"

#include "northstar/http.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { STORE_BATCH = 5000 };

/* ---- store ------------------------------------------------------------------------------------- */

typedef struct {
    ns_store *st;
    ns_event_rec ev[STORE_BATCH];
    int n;
    ns_progress prog;
} store_sink;

static int store_flush(store_sink *k)
{
    if (!k->n) return 0;
    int rc = ns_store_put_events(k->st, k->ev, (size_t)k->n, NULL);
    ns_progress_add(&k->prog, k->n);
    k->n = 0;
    return rc < 0 ? rc : 0;
}

static int store_event(const ns_event_rec *ev, int bot, void *ctx)
{
    (void)bot;
    store_sink *k = ctx;
    k->ev[k->n++] = *ev;
    return k->n == STORE_BATCH ? store_flush(k) : 0;
}

int ns_sim_to_store(ns_sim *s, ns_store *st, ns_sim_stats *stats)
{
    int rc = 0;
    ns_user_rec *u = ns_malloc(sizeof *u * STORE_BATCH);
    ns_item_rec *it = ns_malloc(sizeof *it * STORE_BATCH);
    store_sink *k = ns_calloc(1, sizeof *k);
    if (!u || !it || !k) {
        rc = NS_ENOMEM;
        goto out;
    }
    for (int i = 0; i < s->nu && rc >= 0; i += STORE_BATCH) {
        int n = s->nu - i < STORE_BATCH ? s->nu - i : STORE_BATCH;
        for (int j = 0; j < n; j++) ns_sim_user(s, i + j, &u[j]);
        rc = ns_store_put_users(st, u, (size_t)n);
    }
    for (int i = 0; i < s->ni && rc >= 0; i += STORE_BATCH) {
        int n = s->ni - i < STORE_BATCH ? s->ni - i : STORE_BATCH;
        for (int j = 0; j < n; j++) ns_sim_item(s, i + j, &it[j]);
        rc = ns_store_put_items(st, it, (size_t)n);
    }
    if (rc < 0) goto out;
    k->st = st;
    ns_progress_begin(&k->prog, "sim", 0, "events");
    rc = ns_sim_run(s, store_event, k, stats);
    if (rc >= 0) rc = store_flush(k);
    ns_progress_end(&k->prog);
out:
    free(u);
    free(it);
    free(k);
    return rc < 0 ? rc : 0;
}

/* ---- JSON records ------------------------------------------------------------------------------- */

static void json_user(ns_buf *b, const ns_user_rec *u)
{
    ns_buf_printf(b, "{\"id\":\"%s\",\"age\":%d,\"gender\":\"%s\",\"occupation\":\"%s\",\"created\":%.3f}", u->id,
                  u->age, u->gender, u->occupation, u->created);
}

static void json_item(ns_buf *b, const ns_item_rec *it)
{
    ns_buf_printf(b, "{\"id\":\"%s\",\"title\":", it->id);
    ns_buf_json_str(b, it->title, strlen(it->title));
    ns_buf_puts(b, ",\"text\":");
    ns_buf_json_str(b, it->text, strlen(it->text));
    ns_buf_printf(b, ",\"categories\":\"%s\",\"creator\":\"%s\",\"created\":%.3f}", it->categories, it->creator,
                  it->created);
}

static void json_event(ns_buf *b, const ns_event_rec *e)
{
    ns_buf_printf(b, "{\"user\":\"%s\",\"item\":\"%s\",\"type\":\"%s\",\"value\":%g,\"ts\":%.3f}", e->user, e->item,
                  ns_event_type_name(e->type), e->value, e->ts);
}

/* POST a JSON array; anything but 200 is an error naming the reply. */
static int post(ns_http_client *c, const char *path, ns_buf *b)
{
    const char *r;
    size_t n;
    int st = ns_http_client_request(c, "POST", path, NULL, b->data, b->len, &r, &n);
    if (st < 0) return st;
    if (st != 200) return ns_err_set(NS_EIO, "POST %s: HTTP %d: %.300s", path, st, r);
    return 0;
}

static int send_world(ns_sim *s, ns_http_client *c, int batch)
{
    ns_buf b;
    ns_buf_init(&b);
    int rc = 0;
    for (int i = 0; i < s->nu && rc >= 0; i += batch) {
        b.len = 0;
        ns_buf_puts(&b, "[");
        for (int j = i; j < s->nu && j < i + batch; j++) {
            ns_user_rec u;
            ns_sim_user(s, j, &u);
            if (j > i) ns_buf_puts(&b, ",");
            json_user(&b, &u);
        }
        ns_buf_puts(&b, "]");
        rc = post(c, "/v1/users", &b);
    }
    for (int i = 0; i < s->ni && rc >= 0; i += batch) {
        b.len = 0;
        ns_buf_puts(&b, "[");
        for (int j = i; j < s->ni && j < i + batch; j++) {
            ns_item_rec it;
            ns_sim_item(s, j, &it);
            if (j > i) ns_buf_puts(&b, ",");
            json_item(&b, &it);
        }
        ns_buf_puts(&b, "]");
        rc = post(c, "/v1/items", &b);
    }
    ns_buf_release(&b);
    return rc;
}

/* ---- server, offline traffic ----------------------------------------------------------------------- */

typedef struct {
    ns_http_client *c;
    ns_buf b;
    int n, batch;
    ns_progress prog;
} http_sink;

static int http_flush(http_sink *k)
{
    if (!k->n) return 0;
    ns_buf_puts(&k->b, "]");
    int rc = post(k->c, "/v1/events", &k->b);
    ns_progress_add(&k->prog, k->n);
    k->n = 0;
    k->b.len = 0;
    return rc;
}

static int http_event(const ns_event_rec *ev, int bot, void *ctx)
{
    (void)bot;
    http_sink *k = ctx;
    ns_buf_puts(&k->b, k->n ? "," : "[");
    json_event(&k->b, ev);
    return ++k->n == k->batch ? http_flush(k) : 0;
}

int ns_sim_to_server(ns_sim *s, const char *host, int port, const char *token, int batch, ns_sim_stats *stats)
{
    if (batch <= 0) batch = 500;
    http_sink k;
    memset(&k, 0, sizeof k);
    k.c = ns_http_client_new(host, port, 60);
    k.batch = batch;
    if (!k.c || ns_http_client_set_token(k.c, token) < 0) {
        ns_http_client_free(k.c);
        return NS_ENOMEM;
    }
    ns_buf_init(&k.b);
    int rc = send_world(s, k.c, batch);
    if (rc >= 0) {
        ns_progress_begin(&k.prog, "sim -> server", 0, "events");
        rc = ns_sim_run(s, http_event, &k, stats);
        if (rc >= 0) rc = http_flush(&k);
        ns_progress_end(&k.prog);
    }
    ns_buf_release(&k.b);
    ns_http_client_free(k.c);
    return rc < 0 ? rc : 0;
}

/* ---- live, closed loop --------------------------------------------------------------------------------- */

static int live_event(const ns_event_rec *ev, int bot, void *ctx)
{
    (void)bot;
    http_sink *k = ctx;
    ns_buf_puts(&k->b, k->n++ ? "," : "[");
    json_event(&k->b, ev);
    return 0;
}

static void sleep_until(double t)
{
    double d = t - ns_now();
    if (d <= 0) return;
    struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
    nanosleep(&ts, NULL);
}

int ns_sim_live(ns_sim *s, const ns_sim_live_opts *o, ns_sim_stats *stats)
{
    ns_sim_stats dummy;
    if (!stats) stats = &dummy;
    memset(stats, 0, sizeof *stats);
    ns_http_client *c = ns_http_client_new(o->host, o->port, 30);
    if (!c || ns_http_client_set_token(c, o->token) < 0) {
        ns_http_client_free(c);
        return NS_ENOMEM;
    }
    int rc = 0;
    double *cum = ns__sim_activity_cum(s);
    http_sink k;
    memset(&k, 0, sizeof k);
    k.c = c;
    ns_buf_init(&k.b);
    if (!cum) {
        rc = NS_ENOMEM;
        goto out;
    }
    if (!o->skip_world && (rc = send_world(s, c, o->batch > 0 ? o->batch : 500)) < 0) goto out;
    ns_rng r;
    ns_rng_seed(&r, s->c.seed, 5);
    double t0 = ns_now(), next = t0, last_report = t0, rate = o->rate > 0 ? o->rate : 10;
    int64_t imp0 = 0, clk0 = 0;
    static const char *const devices[] = {"mobile", "desktop", "tablet"};
    while ((o->seconds <= 0 || ns_now() - t0 < o->seconds) && !(o->stop && *o->stop)) {
        sleep_until(next);
        next += 1.0 / rate;
        int u = ns__sim_pick_user(s, &r, cum, 1e18);
        if (u < 0) continue;
        char path[256];
        snprintf(path, sizeof path, "/v1/recommend/%s?n=%d&device=%s&page=home", s->u[u].id, s->c.slate,
                 devices[ns_rng_below(&r, 3)]);
        const char *resp;
        size_t rl;
        int st = ns_http_client_request(c, "GET", path, NULL, NULL, 0, &resp, &rl);
        if (st != 200) {
            rc = st < 0 ? st : ns_err_set(NS_EIO, "GET %s: HTTP %d: %.200s", path, st, resp);
            goto out;
        }
        json_t *j = json_loadb(resp, rl, 0, NULL);
        json_t *items = j ? json_object_get(j, "items") : NULL;
        size_t idx;
        json_t *x;
        double now = ns_wall_time();
        k.b.len = 0;
        k.n = 0;
        stats->sessions++;
        json_array_foreach(items, idx, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            int i = id && id[0] == 'i' ? atoi(id + 1) : -1;
            if (i < 0 || i >= s->ni) continue;
            ns__sim_respond(s, &r, u, i, (int)idx, now, live_event, &k, stats);
        }
        json_decref(j);
        if (k.n) {
            ns_buf_puts(&k.b, "]");
            if ((rc = post(c, "/v1/events", &k.b)) < 0) goto out;
        }
        if (o->report_s > 0 && ns_now() - last_report >= o->report_s) {
            int64_t di = stats->impressions - imp0, dc = stats->clicks - clk0;
            printf("sim live: %6.0f s  %lld sessions  CTR last %.0f s %.4f (%lld/%lld)  overall %.4f\n", ns_now() - t0,
                   (long long)stats->sessions, ns_now() - last_report, di ? (double)dc / (double)di : 0.0,
                   (long long)dc, (long long)di,
                   stats->impressions ? (double)stats->clicks / (double)stats->impressions : 0.0);
            fflush(stdout);
            imp0 = stats->impressions;
            clk0 = stats->clicks;
            last_report = ns_now();
        }
    }
out:
    free(cum);
    ns_buf_release(&k.b);
    ns_http_client_free(c);
    return rc < 0 ? rc : 0;
}
