/*
 * http.c — the HTTP layer on libmicrohttpd: a route table with {name}
 * captures, request bodies buffered up to a limit, JSON error responses,
 * per-route metrics (count by status class, latency histogram), and a
 * graceful stop that drains requests in flight.
 *
 * Threads: MHD's internal thread pool over epoll (opts.threads workers);
 * handlers run on those threads and may block (store commits). A slow or
 * idle client holds no thread: it only occupies a connection until the
 * connection timeout closes it.
 */
#include "northstar/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Latency buckets (seconds) of the Prometheus histograms. */
static const double lat_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
enum { NB = sizeof lat_bounds / sizeof lat_bounds[0], MAX_ROUTES = 32, NCLASS = 5 };

typedef struct {
    _Atomic uint64_t status[NCLASS]; /* 1xx..5xx */
    _Atomic uint64_t bucket[NB + 1]; /* last = +Inf */
    _Atomic uint64_t sum_us;
} route_stats;

struct ns_http {
    struct MHD_Daemon *d;
    ns_http_opts o;
    const ns_route *routes;
    int nroutes;
    void *app;
    int port;
    _Atomic int inflight;
    route_stats stats[MAX_ROUTES + 1]; /* last: unmatched */
};

typedef struct {
    double t0;
    int route;  /* index, or -1 unmatched */
    int status;
    int too_big;
    ns_buf body;
    ns_arena arena;
} req_ctx;

/* ---- errors ------------------------------------------------------------------------------------ */

void ns_http_error(ns_http_resp *resp, int status, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    resp->status = status;
    resp->content_type = "application/json";
    resp->body.len = 0;
    if (resp->body.data) resp->body.data[0] = 0;
    ns_buf_printf(&resp->body, "{\"error\":{\"status\":%d,\"message\":", status);
    ns_buf_json_str(&resp->body, msg, strlen(msg));
    if (field && *field) {
        ns_buf_puts(&resp->body, ",\"field\":");
        ns_buf_json_str(&resp->body, field, strlen(field));
    }
    ns_buf_puts(&resp->body, "}}\n");
}

void ns_http_error_from_ns(ns_http_resp *resp, int status)
{
    const ns_error_info *e = ns_err_last();
    ns_http_error(resp, status, e->field[0] ? e->field : NULL, "%s%s%s", e->msg, e->value[0] ? ": " : "", e->value);
}

/* ---- requests ------------------------------------------------------------------------------------- */

const char *ns_http_query(const ns_http_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *ns_http_param(const ns_http_req *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (!strcmp(r->param_name[i], name)) return r->param[i];
    return NULL;
}

/* Match path against pattern; captures go into req (arena copies). */
static int match(const char *pattern, const char *path, ns_http_req *req)
{
    const char *p = pattern, *u = path;
    req->nparams = 0;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchr(u, '/');
            if (!ue) ue = u + strlen(u);
            if (ue == u || req->nparams == 4) return 0;
            req->param_name[req->nparams] = ns_arena_strndup(req->arena, p + 1, (size_t)(pe - p - 1));
            req->param[req->nparams] = ns_arena_strndup(req->arena, u, (size_t)(ue - u));
            req->nparams++;
            p = pe + 1;
            u = ue;
        } else if (*p++ != *u++) return 0;
    }
    return !*p && !*u;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, ns_http_resp *resp, req_ctx *rc)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp->body.len, resp->body.data ? resp->body.data : (void *)"",
                                        MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", resp->content_type ? resp->content_type : "application/json");
    rc->status = resp->status;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, req_ctx *rc, int status, const char *field,
                                  const char *msg)
{
    ns_http_resp resp = {0};
    ns_buf_init(&resp.body);
    ns_http_error(&resp, status, field, "%s", msg);
    enum MHD_Result r = send_resp(conn, &resp, rc);
    ns_buf_release(&resp.body);
    return r;
}

static int route_for(ns_http *h, const char *method, const char *url, ns_http_req *req, int *method_mismatch)
{
    *method_mismatch = 0;
    for (int i = 0; i < h->nroutes; i++) {
        if (!match(h->routes[i].pattern, url, req)) continue;
        if (!strcmp(h->routes[i].method, method)) return i;
        *method_mismatch = 1;
    }
    return -1;
}

static int admin_ok(ns_http *h, struct MHD_Connection *conn, req_ctx *rc, enum MHD_Result *ret)
{
    if (!h->o.admin_token || !*h->o.admin_token) {
        *ret = send_error(conn, rc, 403, NULL, "admin endpoints are disabled (start the server with --admin-token)");
        return 0;
    }
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    size_t tl = strlen(h->o.admin_token);
    /* Compare in constant time over the token's length. */
    int ok = auth && !strncmp(auth, "Bearer ", 7) && strlen(auth + 7) == tl;
    unsigned diff = 0;
    for (size_t i = 0; ok && i < tl; i++) diff |= (unsigned)(auth[7 + i] ^ h->o.admin_token[i]);
    if (!ok || diff) {
        *ret = send_error(conn, rc, 401, "Authorization", "admin token missing or wrong (Authorization: Bearer ...)");
        return 0;
    }
    return 1;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    ns_http *h = cls;
    req_ctx *rc = *con_cls;
    if (!rc) {
        if (!(rc = calloc(1, sizeof *rc))) return MHD_NO;
        rc->t0 = ns_now();
        rc->route = -1;
        ns_buf_init(&rc->body);
        ns_arena_init(&rc->arena, 16384);
        atomic_fetch_add(&h->inflight, 1);
        *con_cls = rc;
        /* A declared body over the limit is refused before it is read. */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->o.max_body) rc->too_big = 1;
        if (rc->too_big) {
            char msg[128];
            snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", h->o.max_body);
            return send_error(conn, rc, 413, "body", msg);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!rc->too_big) {
            if (rc->body.len + *upload_data_size > h->o.max_body) {
                rc->too_big = 1;
                ns_buf_release(&rc->body);
            } else if (ns_buf_append(&rc->body, upload_data, *upload_data_size) < 0) return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rc->status) return MHD_YES; /* already answered (413 on the first call) */
    if (rc->too_big) {
        char msg[128];
        snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", h->o.max_body);
        return send_error(conn, rc, 413, "body", msg);
    }
    ns_http_req req = {method, url, {0}, {0}, 0, rc->body.len ? rc->body.data : NULL, rc->body.len, &rc->arena, conn};
    int mm;
    rc->route = route_for(h, method, url, &req, &mm);
    if (rc->route < 0) {
        if (mm) return send_error(conn, rc, 405, NULL, "method not allowed on this path");
        return send_error(conn, rc, 404, NULL, "no such route");
    }
    const ns_route *rt = &h->routes[rc->route];
    enum MHD_Result ret;
    if ((rt->flags & NS_ROUTE_ADMIN) && !admin_ok(h, conn, rc, &ret)) return ret;
    if ((rt->flags & NS_ROUTE_BODY) && !req.body) return send_error(conn, rc, 400, "body", "a JSON body is required");
    /* base.h, "Threads": a worker thread MHD made runs kernels and BLAS on
     * itself only (one request = one core), never a team of its own. */
    static _Thread_local int worker_ready;
    if (!worker_ready) {
        ns_thread_init_worker(1);
        worker_ready = 1;
    }
    ns_http_resp resp = {200, {0}, "application/json"};
    ns_buf_init(&resp.body);
    ns_err_clear();
    rt->fn(h->app, &req, &resp);
    ret = send_resp(conn, &resp, rc);
    ns_buf_release(&resp.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    ns_http *h = cls;
    req_ctx *rc = *con_cls;
    if (!rc) return;
    double dt = ns_now() - rc->t0;
    route_stats *s = &h->stats[rc->route >= 0 ? rc->route : MAX_ROUTES];
    int cls_i = rc->status >= 100 && rc->status < 600 ? rc->status / 100 - 1 : 4;
    atomic_fetch_add(&s->status[cls_i], 1);
    int b = 0;
    while (b < NB && dt > lat_bounds[b]) b++;
    atomic_fetch_add(&s->bucket[b], 1);
    atomic_fetch_add(&s->sum_us, (uint64_t)(dt * 1e6));
    ns_buf_release(&rc->body);
    ns_arena_release(&rc->arena);
    free(rc);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

/* ---- lifecycle ---------------------------------------------------------------------------------------- */

int ns_http_start(ns_http **out, const ns_http_opts *o, const ns_route *routes, int nroutes, void *app)
{
    *out = NULL;
    if (nroutes > MAX_ROUTES) return ns_err_set(NS_ERANGE, "http: at most %d routes", MAX_ROUTES);
    ns_http *h = ns_calloc(1, sizeof *h);
    if (!h) return NS_ENOMEM;
    h->o = *o;
    if (!h->o.host) h->o.host = "127.0.0.1";
    if (!h->o.max_body) h->o.max_body = 1 << 20;
    if (h->o.threads <= 0) h->o.threads = 4;
    if (h->o.conn_timeout_s <= 0) h->o.conn_timeout_s = 10;
    if (h->o.max_conns <= 0) h->o.max_conns = 1024;
    h->routes = routes;
    h->nroutes = nroutes;
    h->app = app;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, h->o.host, &sa.sin_addr) != 1) {
        free(h);
        return ns_err_set_at(NS_EINVAL, NULL, 0, "host", o->host, "not an IPv4 address");
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    h->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_access, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)h->o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)h->o.conn_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->o.max_conns,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
                            MHD_OPTION_END);
    if (!h->d) {
        free(h);
        return ns_err_set_at(NS_EIO, NULL, 0, "port", NULL, "cannot listen on %s:%d (in use, or not permitted)",
                             o->host ? o->host : "127.0.0.1", o->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : o->port;
    *out = h;
    return 0;
}

int ns_http_port(const ns_http *h) { return h->port; }
int ns_http_inflight(const ns_http *h) { return atomic_load(&((ns_http *)h)->inflight); }

void ns_http_stop(ns_http *h, double drain_s)
{
    if (!h) return;
    MHD_socket ls = MHD_quiesce_daemon(h->d); /* no new connections */
    if (ls != MHD_INVALID_SOCKET) close(ls);
    double t0 = ns_now();
    while (atomic_load(&h->inflight) > 0 && ns_now() - t0 < drain_s) usleep(2000);
    if (atomic_load(&h->inflight) > 0)
        ns_log_warn("http: %d requests still in flight after %.1f s; closing", atomic_load(&h->inflight), drain_s);
    MHD_stop_daemon(h->d);
    free(h);
}

void ns_http_metrics(ns_http *h, ns_buf *out)
{
    ns_buf_puts(out, "# HELP northstar_http_requests_total HTTP requests by route and status class.\n"
                     "# TYPE northstar_http_requests_total counter\n");
    for (int i = 0; i <= h->nroutes; i++) {
        route_stats *s = &h->stats[i < h->nroutes ? i : MAX_ROUTES];
        const char *name = i < h->nroutes ? h->routes[i].name : "unmatched";
        for (int c = 0; c < NCLASS; c++) {
            uint64_t v = atomic_load(&s->status[c]);
            if (v) ns_buf_printf(out, "northstar_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n", name, c + 1,
                                 (unsigned long long)v);
        }
    }
    ns_buf_puts(out, "# HELP northstar_http_request_duration_seconds Request latency, arrival to response sent.\n"
                     "# TYPE northstar_http_request_duration_seconds histogram\n");
    for (int i = 0; i <= h->nroutes; i++) {
        route_stats *s = &h->stats[i < h->nroutes ? i : MAX_ROUTES];
        const char *name = i < h->nroutes ? h->routes[i].name : "unmatched";
        uint64_t total = 0;
        for (int b = 0; b <= NB; b++) total += atomic_load(&s->bucket[b]);
        if (!total) continue;
        uint64_t cum = 0;
        for (int b = 0; b <= NB; b++) {
            cum += atomic_load(&s->bucket[b]);
            if (b < NB)
                ns_buf_printf(out, "northstar_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                              name, lat_bounds[b], (unsigned long long)cum);
            else
                ns_buf_printf(out, "northstar_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                              name, (unsigned long long)cum);
        }
        ns_buf_printf(out, "northstar_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
                      (double)atomic_load(&s->sum_us) / 1e6);
        ns_buf_printf(out, "northstar_http_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
                      (unsigned long long)cum);
    }
    ns_buf_printf(out, "# HELP northstar_http_inflight Requests being served.\n# TYPE northstar_http_inflight gauge\n"
                       "northstar_http_inflight %d\n",
                  atomic_load(&h->inflight));
}

/* ---- stats for the dashboard (GET /v1/stats) ------------------------------------------------------- */

int ns_http_latency_bounds(const double **bounds)
{
    *bounds = lat_bounds;
    return NB;
}

uint64_t ns_http_requests_total(ns_http *h, uint64_t *server_errors)
{
    uint64_t total = 0, err = 0;
    for (int i = 0; i <= h->nroutes; i++) {
        route_stats *s = &h->stats[i < h->nroutes ? i : MAX_ROUTES];
        for (int c = 0; c < NCLASS; c++) total += atomic_load(&s->status[c]);
        err += atomic_load(&s->status[4]);
    }
    if (server_errors) *server_errors = err;
    return total;
}

int ns_http_route_latency(ns_http *h, const char *route, uint64_t *buckets)
{
    for (int i = 0; i < h->nroutes; i++)
        if (h->routes[i].name && !strcmp(h->routes[i].name, route)) {
            for (int b = 0; b <= NB; b++) buckets[b] = atomic_load(&h->stats[i].bucket[b]);
            return 0;
        }
    return ns_err_set_at(NS_ENOTFOUND, NULL, 0, "route", route, "no route of that name");
}
