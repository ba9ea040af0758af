/*
 * northstar/server.h — layer 6: the HTTP/JSON service (libmicrohttpd +
 * jansson) and a small blocking HTTP/1.1 client for tests, the simulator
 * and tools.
 *
 * Routes of the recommendation service (ns_service_*):
 *   POST /v1/users                  one user object, an array, or {"users": [...]}
 *   POST /v1/items                  the same for items
 *   POST /v1/events                 one event, an array, or {"events": [...]};
 *                                   durable in the store before the 200
 *   GET  /v1/users/{id}             attributes, segment, recent items, history
 *   GET  /v1/recommend/{user}?n=&page=&device=&tz=
 *   GET  /v1/items/{id}/similar?n=
 *   GET  /health                    liveness + sizes
 *   GET  /metrics                   Prometheus text format
 *   POST /admin/reload              rebuild the pipeline from its config (and
 *                                   the models it names) and swap it in
 *   POST /admin/retrain             train the models from the store into the
 *                                   bundle directory (background), then reload
 *   GET  /admin/config              the pipeline config in force
 * Admin routes need "Authorization: Bearer <token>" (the --admin-token).
 * Errors are JSON: {"error": {"status": 422, "message": "...", "field":
 * "events[3].item"}} with 400 (malformed JSON), 401/403 (admin), 404
 * (unknown route or id), 405, 413 (body over the limit), 422 (a field is
 * wrong) or 500.
 *
 * HTTP layer (ns_http_*): a route table {method, pattern, handler, flags}
 * where patterns hold {name} segments; bodies are buffered up to a limit;
 * per-route request counts and latency histograms feed /metrics; stop()
 * stops accepting, lets requests in flight finish (drain), then closes.
 */
#ifndef NORTHSTAR_SERVER_H
#define NORTHSTAR_SERVER_H

#include "northstar/base.h"
#include "northstar/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* HTTP layer                                                             */
/* ===================================================================== */

typedef struct ns_http ns_http;

typedef struct ns_http_req {
    const char *method, *path;
    const char *param_name[4], *param[4]; /* {name} captures of the pattern */
    int nparams;
    const char *body; /* NUL-terminated; NULL when there is none */
    size_t body_len;
    ns_arena *arena;  /* request lifetime */
    void *conn;       /* the MHD connection (for headers and query) */
} ns_http_req;

typedef struct ns_http_resp {
    int status;
    ns_buf body;
    const char *content_type; /* default application/json */
} ns_http_resp;

typedef void (*ns_http_handler)(void *app, ns_http_req *req, ns_http_resp *resp);

enum {
    NS_ROUTE_ADMIN = 1, /* needs the admin token */
    NS_ROUTE_BODY = 2   /* needs a JSON body */
};

typedef struct ns_route {
    const char *method;  /* "GET", "POST", ... */
    const char *pattern; /* "/v1/users/{id}" */
    ns_http_handler fn;
    unsigned flags;
    const char *name;    /* label in /metrics */
} ns_route;

typedef struct ns_http_opts {
    const char *host;        /* default 127.0.0.1 */
    int port;                /* 0 = any free port */
    size_t max_body;         /* default 1 MiB */
    int threads;             /* worker threads (default 4) */
    int conn_timeout_s;      /* idle/slow connection timeout (default 10) */
    int max_conns;           /* default 1024 */
    const char *admin_token; /* NULL: admin routes answer 403 */
} ns_http_opts;

int ns_http_start(ns_http **out, const ns_http_opts *o, const ns_route *routes, int nroutes, void *app);
int ns_http_port(const ns_http *h);
/* Stop accepting, wait up to drain_s for requests in flight, close. */
void ns_http_stop(ns_http *h, double drain_s);
/* Query argument (NULL when absent). */
const char *ns_http_query(const ns_http_req *r, const char *key);
const char *ns_http_param(const ns_http_req *r, const char *name);
/* Set a JSON error response naming the field (may be NULL). */
void ns_http_error(ns_http_resp *resp, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Error response from the recorded ns_err (status chosen by the caller). */
void ns_http_error_from_ns(ns_http_resp *resp, int status);
/* Append the HTTP layer's Prometheus metrics (requests, latency). */
void ns_http_metrics(ns_http *h, ns_buf *out);
/* Requests being served right now. */
int ns_http_inflight(const ns_http *h);
/* The upper bounds (seconds) of the latency histogram buckets; returns
 * their count NB (a histogram has NB + 1 buckets, the last one +Inf). */
int ns_http_latency_bounds(const double **bounds);
/* Requests answered so far, all routes (5xx answers in *server_errors). */
uint64_t ns_http_requests_total(ns_http *h, uint64_t *server_errors);
/* The latency histogram of the route named `route` (its metrics label):
 * NB + 1 per-bucket counts (not cumulative). NS_ENOTFOUND for no route. */
int ns_http_route_latency(ns_http *h, const char *route, uint64_t *buckets);

/* ===================================================================== */
/* The recommendation service                                             */
/* ===================================================================== */

typedef struct ns_service ns_service;

typedef struct ns_service_opts {
    const char *db;          /* store file (created if absent) */
    const char *config;      /* pipeline config file, NULL = built-in (or models/pipeline.json) */
    const char *models;      /* model bundle directory (northstar train --out): its
                                pipeline.json is the config unless `config` is set, and
                                POST /admin/retrain trains into it */
    int implicit_ratings;    /* every rating is positive feedback */
    ns_http_opts http;
    ns_store_sync sync;      /* default NS_SYNC_FULL */
    int max_batch;           /* most rows per POST (default 10000) */
} ns_service_opts;

ns_service_opts ns_service_defaults(void);
/* Open the store, rebuild the state from it, build the pipeline, listen. */
int ns_service_start(ns_service **out, const ns_service_opts *o);
int ns_service_port(const ns_service *s);
/* Rebuild the pipeline from its config and swap it in (requests in flight
 * finish on the old one). */
int ns_service_reload(ns_service *s);
/* Train the model bundle from the store into opts.models and reload, on a
 * background thread: NS_EBUSY when one is running, NS_EINVAL without a
 * models directory. */
int ns_service_retrain(ns_service *s);
/* Graceful: stop accepting, drain, checkpoint and close the store. */
void ns_service_stop(ns_service *s);

/* ===================================================================== */
/* Client                                                                 */
/* ===================================================================== */

/* A blocking HTTP/1.1 client with one keep-alive connection, reconnecting
 * when the server closed it. Responses need Content-Length or chunked. */
typedef struct ns_http_client ns_http_client;

ns_http_client *ns_http_client_new(const char *host, int port, double timeout_s);
void ns_http_client_free(ns_http_client *c);
/* Send a request (body may be NULL) and read the response: returns the
 * status (>= 100) or a negative NS_E* code; the body is in *resp (the
 * client's buffer, valid until the next call). */
int ns_http_client_request(ns_http_client *c, const char *method, const char *path, const char *content_type,
                           const char *body, size_t body_len, const char **resp, size_t *resp_len);
/* Parse "http://host:port" (path ignored) into host/port. */
int ns_http_parse_url(const char *url, char *host, size_t hostsz, int *port);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_SERVER_H */
