/*
 * dashboard.c — the web dashboard's server side: the embedded static files
 * (GET / and GET /ui/{file}) and the rolling history of the service's
 * figures that GET /v1/stats reports (requests/s, events/s, recommend
 * latency p50/p99 from the HTTP layer's histograms, the north-star metric).
 *
 * Workload: a dashboard or the demo polls /v1/stats every couple of
 * seconds; a sample is kept every min_dt seconds in a fixed ring, so memory
 * is bounded and a page opened late still sees the recent past.
 */
#include "server_int.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- static files ---------------------------------------------------------------------------------- */

const ns__asset *ns__web_asset(const char *path)
{
    for (const ns__asset *a = ns__web_assets; a->path; a++)
        if (!strcmp(a->path, path)) return a;
    return NULL;
}

static void send_asset(ns_http_resp *resp, const char *path)
{
    const ns__asset *a = ns__web_asset(path);
    if (!a) {
        ns_http_error(resp, 404, "file", "no dashboard file '%s'", path);
        return;
    }
    resp->content_type = a->content_type;
    if (ns_buf_append(&resp->body, a->data, a->len) < 0) ns_http_error(resp, 500, NULL, "out of memory");
}

void ns__h_ui_index(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)app;
    (void)req;
    send_asset(resp, "index.html");
}

void ns__h_ui_file(void *app, ns_http_req *req, ns_http_resp *resp)
{
    (void)app;
    send_asset(resp, ns_http_param(req, "file"));
}

/* ---- history ------------------------------------------------------------------------------------------ */

int ns__stats_hist_init(ns__stats_hist *h, int cap)
{
    const double *bounds;
    assert(ns_http_latency_bounds(&bounds) + 1 <= NS__LAT_MAX); /* the samples hold every bucket */
    memset(h, 0, sizeof *h);
    if (!(h->s = ns_calloc((size_t)cap, sizeof *h->s))) return NS_ENOMEM;
    h->cap = cap;
    pthread_mutex_init(&h->mu, NULL);
    return 0;
}

void ns__stats_hist_release(ns__stats_hist *h)
{
    if (!h->s) return;
    pthread_mutex_destroy(&h->mu);
    free(h->s);
    h->s = NULL;
}

/* The q-quantile (ms) of the requests counted in the per-bucket deltas d,
 * interpolated linearly inside its bucket; NAN when d is empty. The +Inf
 * bucket answers with the largest finite bound (a lower bound). */
static double quantile_ms(const uint64_t *d, int nb, const double *bounds, double q)
{
    uint64_t total = 0;
    for (int b = 0; b <= nb; b++) total += d[b];
    if (!total) return NAN;
    double target = q * (double)total, cum = 0;
    for (int b = 0; b <= nb; b++) {
        if (d[b] && cum + (double)d[b] >= target) {
            if (b == nb) return bounds[nb - 1] * 1e3;
            double lo = b ? bounds[b - 1] : 0, hi = bounds[b];
            return (lo + (target - cum) / (double)d[b] * (hi - lo)) * 1e3;
        }
        cum += (double)d[b];
    }
    return bounds[nb - 1] * 1e3;
}

static void put_num(ns_buf *out, const char *key, double v)
{
    if (isfinite(v)) ns_buf_printf(out, "\"%s\":%.4g", key, v);
    else ns_buf_printf(out, "\"%s\":null", key);
}

/* Rates between two samples a (older) and b, as JSON members. */
static void put_rates(ns_buf *out, const ns__stats_sample *a, const ns__stats_sample *b)
{
    const double *bounds;
    int nb = ns_http_latency_bounds(&bounds);
    double dt = b->t - a->t;
    uint64_t d[NS__LAT_MAX];
    for (int i = 0; i <= nb; i++) d[i] = b->lat[i] - a->lat[i];
    double inv = dt > 0 ? 1.0 / dt : NAN;
    put_num(out, "rps", (double)(b->requests - a->requests) * inv);
    ns_buf_puts(out, ",");
    put_num(out, "eps", (double)(b->events - a->events) * inv);
    ns_buf_puts(out, ",");
    put_num(out, "recs_per_s", (double)(b->recs - a->recs) * inv);
    ns_buf_puts(out, ",");
    put_num(out, "p50_ms", quantile_ms(d, nb, bounds, 0.50));
    ns_buf_puts(out, ",");
    put_num(out, "p99_ms", quantile_ms(d, nb, bounds, 0.99));
}

void ns__stats_hist_update(ns__stats_hist *h, const ns__stats_sample *cur, double min_dt, double window_s, ns_buf *out)
{
    pthread_mutex_lock(&h->mu);
    const ns__stats_sample *last = h->n ? &h->s[(h->head + h->cap - 1) % h->cap] : NULL;
    if (!last || cur->t - last->t >= min_dt) {
        h->s[h->head] = *cur;
        h->head = (h->head + 1) % h->cap;
        if (h->n < h->cap) h->n++;
    }
    int first = (h->head + h->cap - h->n) % h->cap;
    /* Rates: from the newest kept sample at least window_s old (else the
     * oldest one) to now. */
    const ns__stats_sample *base = NULL;
    for (int k = h->n - 1; k >= 0; k--) {
        const ns__stats_sample *s = &h->s[(first + k) % h->cap];
        if (cur->t - s->t >= window_s || k == 0) {
            base = s;
            break;
        }
    }
    ns_buf_puts(out, "\"rates\":{");
    if (base && cur->t - base->t > 0.2) {
        ns_buf_printf(out, "\"window_s\":%.1f,", cur->t - base->t);
        put_rates(out, base, cur);
    } else
        ns_buf_puts(out, "\"window_s\":0,\"rps\":null,\"eps\":null,\"recs_per_s\":null,\"p50_ms\":null,\"p99_ms\":null");
    ns_buf_puts(out, "},\"history\":[");
    for (int k = 1; k < h->n; k++) {
        const ns__stats_sample *a = &h->s[(first + k - 1) % h->cap], *b = &h->s[(first + k) % h->cap];
        ns_buf_printf(out, "%s{\"t\":%.3f,", k > 1 ? "," : "", b->t);
        put_num(out, "north_star", b->north_star);
        ns_buf_puts(out, ",");
        put_rates(out, a, b);
        ns_buf_puts(out, "}");
    }
    ns_buf_puts(out, "]");
    pthread_mutex_unlock(&h->mu);
}
