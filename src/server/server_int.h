/*
 * server_int.h — internals shared by the files of the server module: the
 * web dashboard's embedded files and the rolling history of service
 * figures behind GET /v1/stats.
 */
#ifndef NS_SERVER_INT_H
#define NS_SERVER_INT_H

#include "northstar/http.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
