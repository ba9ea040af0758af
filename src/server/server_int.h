/*
 * server_int.h — internals shared by the files of the server module: the
 * HTTP layer's guards, the web dashboard's embedded files and the rolling
 * history of service figures behind GET /v1/stats.
 */
#ifndef NS_SERVER_INT_H
#define NS_SERVER_INT_H

#include "northstar/http.h"
#include "northstar/service.h"
#include "northstar/state.h"
#include "northstar/pipeline.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the HTTP layer's guards (http_guard.c) ----------------------------- */

/* Why a raw request target (path and query, %-escaped) is refused: a NUL
 * byte or invalid UTF-8 once decoded; NULL when it is fine. */
const char *ns__uri_problem(const char *raw);
/* 1 if an Authorization header value carries `token` as a bearer token
 * (scheme in any case); constant time in what was sent. */
int ns__bearer_ok(const char *authorization, const char *token);
int ns__host_is_loopback(const char *host);
/* The default of ns_http_opts.max_inflight_bytes on this machine. */
size_t ns__default_inflight_bytes(void);

/* Open connections, each with the time its current request began; a thread
 * shuts down those whose request has not arrived within timeout_s. */
typedef struct ns__conn ns__conn;
typedef struct ns__conns {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ns__conn *head;
    pthread_t sweeper;
    int running, stop;
    double timeout_s;
    uint64_t closed_slow; /* connections shut for a slow request */
} ns__conns;
int ns__conns_start(ns__conns *cs, double timeout_s);
void ns__conns_stop(ns__conns *cs);
ns__conn *ns__conn_open(ns__conns *cs, int fd);
void ns__conn_close(ns__conns *cs, ns__conn *c);
/* busy = 1 while a handler runs and its response is sent; busy = 0 starts
 * the clock of the connection's next request. */
void ns__conn_busy(ns__conns *cs, ns__conn *c, int busy);
uint64_t ns__conns_closed_slow(ns__conns *cs);

/* ---- embedded web files (the files of web/, turned into C arrays at build time by
 * cmake/embed_web.cmake into <build>/web_assets.c) ---------------------- */
typedef struct ns__asset {
    const char *path;         /* "index.html", "app.js", ... */
    const char *content_type; /* from the extension */
    const unsigned char *data;
    size_t len;
} ns__asset;

extern const ns__asset ns__web_assets[]; /* ends with a {NULL} row */

/* The file named `path` (no leading '/'), or NULL. */
const ns__asset *ns__web_asset(const char *path);
/* Route handlers: GET / (the dashboard page) and GET /ui/{file}. */
void ns__h_ui_index(void *app, ns_http_req *req, ns_http_resp *resp);
void ns__h_ui_file(void *app, ns_http_req *req, ns_http_resp *resp);

/* ---- history of the service's figures --------------------------------- */
enum { NS__LAT_MAX = 16 }; /* >= the HTTP layer's latency buckets + 1 */

/* Cumulative counters at one instant. */
typedef struct ns__stats_sample {
    double t;          /* wall time */
    double north_star; /* its value at t (a windowed ratio, not cumulative) */
    uint64_t requests, recs, events;
    uint64_t lat[NS__LAT_MAX]; /* recommend latency histogram, per bucket */
} ns__stats_sample;

typedef struct ns__stats_hist {
    pthread_mutex_t mu;
    ns__stats_sample *s; /* ring of cap samples */
    int cap, n, head;    /* head: the next slot to write */
} ns__stats_hist;

int ns__stats_hist_init(ns__stats_hist *h, int cap);
void ns__stats_hist_release(ns__stats_hist *h);
/* Take the current sample: keep it when min_dt seconds passed since the
 * last one kept; write to `out` the JSON members
 *   "rates": {"window_s", "rps", "eps", "recs_per_s", "p50_ms", "p99_ms"}
 *     (over the last ~window_s seconds, p50/p99 of GET /v1/recommend;
 *     null when nothing was measured),
 *   "history": [{"t", "north_star", "rps", "eps", "p50_ms", "p99_ms"}, ...]
 *     (oldest first, one point per kept sample after the first). */
void ns__stats_hist_update(ns__stats_hist *h, const ns__stats_sample *cur, double min_dt, double window_s, ns_buf *out);

/* What describes the data (service_data.c): from the config in force
 * (the bundle's pipeline.json "data" object), checked against the serve
 * flag (opts.implicit_ratings: -1 not given, 0 or 1 given). A flag that
 * contradicts the config is NS_EINVAL naming both values. No config, or
 * one without "data": the flag (absent: 0) and the defaults. */
int ns__service_data(const ns_service_opts *o, const char *config_path, ns_state_data *out);
/* A config to reload must describe the data as the state in force does
 * (else the state would have to be rebuilt): NS_EINVAL naming what differs. */
int ns__service_data_same(const ns_state_data *in_force, const char *text, const char *origin);

/* GET /v1/recommend's exclude= and category= (service_recq.c): into f
 * (arrays in the request's arena), *unknown the excluded ids the
 * catalogue lacks (ignored). -1 with resp set (400 naming the parameter)
 * for a list too long or an unknown category. */
enum { NS__EXCLUDE_MAX = 1000, NS__CATEGORY_MAX = 64 };
int ns__rec_filters(ns_state *st, const ns_http_req *req, ns_http_resp *resp, ns_rec_filters *f, int *unknown);

#endif
