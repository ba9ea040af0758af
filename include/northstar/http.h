/*
 * northstar/http.h — layer 6: the HTTP layer of the server (libmicrohttpd)
 * and a small blocking HTTP/1.1 client for tests, the simulator and tools.
 *
 * Server: a route table {method, pattern, handler, flags} where patterns
 * hold {name} segments; bodies are buffered up to a limit; errors are JSON
 * ({"error": {"status", "message", "field"}}); per-route request counts and
 * latency histograms feed /metrics; stop() stops accepting, lets requests
 * in flight finish (drain), then closes.
 *
 * What it refuses before a handler runs (each answered once, in JSON):
 *   400  a path or query with a NUL byte (%00) or bytes that are not UTF-8
 *   401  a route's token missing or wrong ("Authorization: Bearer T"; the
 *        scheme in any case, compared in constant time)
 *   403  an admin route when the server has no admin token; a private route
 *        (personal data) on a server reachable beyond loopback without a
 *        read or admin token
 *   413  a body over max_body (declared or sent)
 *   415  a body route without "Content-Type: application/json" (so a page
 *        in a browser cannot post to it: no CORS preflight is ever allowed)
 *   503  bodies in flight would exceed max_inflight_bytes (Retry-After: 1)
 * A connection is closed when a request has not arrived whole within
 * conn_timeout_s of its first byte (slow headers or a trickled body), or
 * when it sat idle that long.
 */
#ifndef NORTHSTAR_HTTP_H
#define NORTHSTAR_HTTP_H

#include "northstar/base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

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
    NS_ROUTE_ADMIN = 1,   /* needs the admin token */
    NS_ROUTE_BODY = 2,    /* needs a JSON body (application/json) */
    NS_ROUTE_WRITE = 4,   /* needs the write token, when the server has one */
    NS_ROUTE_READ = 8,    /* needs the read (or admin) token, when the server has one */
    NS_ROUTE_PRIVATE = 16 /* personal data: the read or admin token when either is set; */
                          /* refused beyond loopback when neither is */
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
    size_t max_inflight_bytes; /* bodies held at once, all connections (0 = an
                                  eighth of the RAM, 64 MiB to 1 GiB) */
    int threads;             /* worker threads (default 4) */
    int conn_timeout_s;      /* a request must arrive within it; idle timeout (default 10) */
    int max_conns;           /* default 1024 */
    const char *admin_token; /* NULL: admin routes answer 403 */
    const char *write_token; /* NULL: write routes are open (loopback only, or insecure) */
    const char *read_token;  /* NULL: read routes are open */
    int insecure;            /* allow open write routes beyond loopback */
} ns_http_opts;

/* Listen on host:port. Refused (NS_EINVAL naming "host") when the host is
 * not a loopback address, the table has write routes and there is no write
 * token, unless insecure is set. */
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
/* Send "Authorization: Bearer <token>" with every request (NULL: none);
 * the token is copied. */
int ns_http_client_set_token(ns_http_client *c, const char *token);
/* Parse "http://host:port" (path ignored) into host/port. */
int ns_http_parse_url(const char *url, char *host, size_t hostsz, int *port);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_HTTP_H */
