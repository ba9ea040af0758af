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
#include "server_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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
    int beyond_loopback;  /* listening on an address others can reach */
    _Atomic int inflight;
    _Atomic int stopping; /* ns_http_stop: new connections are closed */
    _Atomic size_t held;  /* body bytes reserved by requests in flight */
    _Atomic uint64_t over_budget;
    ns__conns conns;
    route_stats stats[MAX_ROUTES + 1]; /* last: unmatched */
};

typedef struct {
    double t0;
    int route;          /* index, or -1 unmatched */
    int status;
    int started;        /* the first access call has run */
    int too_big;        /* over max_body */
    int over;           /* over the in-flight budget */
    size_t reserved;    /* bytes of the budget this request holds */
    const char *reject; /* why the request target is refused, or NULL */
    ns__conn *conn;
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
    if (resp->status == 503) MHD_add_response_header(r, "Retry-After", "1");
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

/* The route's tokens (http.h): 0 and *ret answered when the request may
 * not go on. */
static int authorized(ns_http *h, const ns_route *rt, struct MHD_Connection *conn, req_ctx *rc,
                      enum MHD_Result *ret)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    const char *admin = h->o.admin_token && *h->o.admin_token ? h->o.admin_token : NULL;
    const char *write = h->o.write_token && *h->o.write_token ? h->o.write_token : NULL;
    const char *read = h->o.read_token && *h->o.read_token ? h->o.read_token : NULL;
    int is_admin = admin && ns__bearer_ok(auth, admin);
    if (rt->flags & NS_ROUTE_ADMIN) {
        if (!admin) {
            *ret = send_error(conn, rc, 403, NULL, "admin endpoints are disabled (start the server with an admin token)");
            return 0;
        }
        if (!is_admin) {
            *ret = send_error(conn, rc, 401, "Authorization", "admin token missing or wrong (Authorization: Bearer ...)");
            return 0;
        }
    }
    if ((rt->flags & NS_ROUTE_WRITE) && write && !is_admin && !ns__bearer_ok(auth, write)) {
        *ret = send_error(conn, rc, 401, "Authorization", "write token missing or wrong (Authorization: Bearer ...)");
        return 0;
    }
    int readers = (rt->flags & NS_ROUTE_READ) || (rt->flags & NS_ROUTE_PRIVATE);
    if (readers && read && !is_admin && !ns__bearer_ok(auth, read)) {
        *ret = send_error(conn, rc, 401, "Authorization", "read token missing or wrong (Authorization: Bearer ...)");
        return 0;
    }
    if ((rt->flags & NS_ROUTE_PRIVATE) && !read && !admin && h->beyond_loopback) {
        *ret = send_error(conn, rc, 403, NULL,
                          "personal data is not served beyond loopback without a read or admin token");
        return 0;
    }
    return 1;
}

/* A JSON body route takes application/json only (optionally with
 * parameters): the types a cross-site form or a simple fetch can send
 * (text/plain, form encodings) are refused. */
static int json_content_type(struct MHD_Connection *conn)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0) return 0;
    return ct[16] == 0 || ct[16] == ';' || ct[16] == ' ';
}

/* Reserve n more bytes of the in-flight budget: 0, or -1 when it is spent. */
static int reserve(ns_http *h, req_ctx *rc, size_t n)
{
    size_t prev = atomic_fetch_add(&h->held, n);
    if (prev + n > h->o.max_inflight_bytes) {
        atomic_fetch_sub(&h->held, n);
        return -1;
    }
    rc->reserved += n;
    return 0;
}

static enum MHD_Result too_big(struct MHD_Connection *conn, ns_http *h, req_ctx *rc)
{
    char msg[128];
    snprintf(msg, sizeof msg, "request body over the limit of %zu bytes", h->o.max_body);
    return send_error(conn, rc, 413, "body", msg);
}

static enum MHD_Result over_budget(struct MHD_Connection *conn, ns_http *h, req_ctx *rc)
{
    atomic_fetch_add(&h->over_budget, 1);
    return send_error(conn, rc, 503, NULL, "the server holds as many request bodies as it may: retry shortly");
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    if (!strcasecmp(key, "Content-Length")) ((int *)cls)[0]++;
    if (!strcasecmp(key, "Transfer-Encoding")) ((int *)cls)[1]++;
    return MHD_YES;
}

/* How the body is framed, checked before any of it is read: one
 * Content-Length, or one Transfer-Encoding that is chunked, never both (a
 * proxy in front that reads the other one would see another request). */
static const char *framing_problem(struct MHD_Connection *conn)
{
    int n[2] = {0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, n);
    if (n[0] > 1) return "several Content-Length headers";
    if (n[1] > 1) return "several Transfer-Encoding headers";
    if (n[0] && n[1]) return "both Content-Length and Transfer-Encoding";
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    if (te && strcasecmp(te, "chunked") != 0) return "a Transfer-Encoding other than chunked";
    return NULL;
}

/* The first call for a request: its target, and its declared body. */
static enum MHD_Result on_request_start(ns_http *h, struct MHD_Connection *conn, req_ctx *rc)
{
    rc->started = 1;
    if (rc->reject) return send_error(conn, rc, 400, "path", rc->reject);
    const char *framing = framing_problem(conn);
    if (framing) return send_error(conn, rc, 400, "headers", framing);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (!cl) return MHD_YES;
    unsigned long long v = strtoull(cl, NULL, 10);
    if (v > h->o.max_body) {
        rc->too_big = 1;
        return too_big(conn, h, rc);
    }
    if (v && reserve(h, rc, (size_t)v) < 0) {
        rc->over = 1;
        return over_budget(conn, h, rc);
    }
    return MHD_YES;
}

/* A piece of the body: kept within max_body and the budget. */
static enum MHD_Result on_body(ns_http *h, req_ctx *rc, const char *data, size_t n)
{
    if (rc->too_big || rc->over || rc->status) return MHD_YES; /* refused: drain what comes */
    if (rc->body.len + n > h->o.max_body) {
        rc->too_big = 1;
        ns_buf_release(&rc->body);
        return MHD_YES;
    }
    if (rc->body.len + n > rc->reserved && reserve(h, rc, rc->body.len + n - rc->reserved) < 0) {
        rc->over = 1;
        ns_buf_release(&rc->body);
        return MHD_YES;
    }
    return ns_buf_append(&rc->body, data, n) < 0 ? MHD_NO : MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    (void)version;
    ns_http *h = cls;
    req_ctx *rc = *con_cls;
    if (!rc) return MHD_NO; /* made by on_uri for every request */
    if (!rc->started) return on_request_start(h, conn, rc);
    if (*upload_data_size) {
        enum MHD_Result r = on_body(h, rc, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return r;
    }
    if (rc->status) return MHD_YES; /* answered on the first call */
    if (rc->too_big) return too_big(conn, h, rc);
    if (rc->over) return over_budget(conn, h, rc);
    ns_http_req req = {method, url, {0}, {0}, 0, rc->body.len ? rc->body.data : NULL, rc->body.len, &rc->arena, conn};
    int mm;
    rc->route = route_for(h, method, url, &req, &mm);
    if (rc->route < 0) {
        if (mm) return send_error(conn, rc, 405, NULL, "method not allowed on this path");
        return send_error(conn, rc, 404, NULL, "no such route");
    }
    const ns_route *rt = &h->routes[rc->route];
    enum MHD_Result ret;
    if (!authorized(h, rt, conn, rc, &ret)) return ret;
    if ((rt->flags & NS_ROUTE_BODY) && !req.body) return send_error(conn, rc, 400, "body", "a JSON body is required");
    if ((rt->flags & NS_ROUTE_BODY) && !json_content_type(conn))
        return send_error(conn, rc, 415, "Content-Type", "the body must be sent as Content-Type: application/json");
    /* base.h, "Threads": a worker thread MHD made runs kernels and BLAS on
     * itself only (one request = one core), never a team of its own. */
    static _Thread_local int worker_ready;
    if (!worker_ready) {
        ns_thread_init_worker(1);
        worker_ready = 1;
    }
    ns__conn_busy(&h->conns, rc->conn, 1);
    ns_http_resp resp = {200, {0}, "application/json"};
    ns_buf_init(&resp.body);
    ns_err_clear();
    rt->fn(h->app, &req, &resp);
    ret = send_resp(conn, &resp, rc);
    ns_buf_release(&resp.body);
    return ret;
}

/* libmicrohttpd calls this with the raw request target (still %-escaped,
 * query included) before it decodes it: the request's context is made
 * here, and the target checked while its bytes are still whole. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    ns_http *h = cls;
    req_ctx *rc = calloc(1, sizeof *rc);
    if (!rc) return NULL;
    rc->t0 = ns_now();
    rc->route = -1;
    ns_buf_init(&rc->body);
    ns_arena_init(&rc->arena, 16384);
    rc->reject = ns__uri_problem(uri);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rc->conn = ci ? ci->socket_context : NULL;
    atomic_fetch_add(&h->inflight, 1);
    return rc;
}

/* While the server stops, new connections are closed as they come. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addr;
    (void)addrlen;
    return atomic_load(&((ns_http *)cls)->stopping) ? MHD_NO : MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    ns_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = ci ? ns__conn_open(&h->conns, ci->connect_fd) : NULL;
    } else {
        ns__conn_close(&h->conns, *socket_context);
        *socket_context = NULL;
    }
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
    if (rc->reserved) atomic_fetch_sub(&h->held, rc->reserved);
    ns__conn_busy(&h->conns, rc->conn, 0);
    ns_buf_release(&rc->body);
    ns_arena_release(&rc->arena);
    free(rc);
    *con_cls = NULL;
    atomic_fetch_sub(&h->inflight, 1);
}

/* ---- lifecycle ---------------------------------------------------------------------------------------- */

/* libmicrohttpd's own messages (a client's malformed request, mostly) go
 * through the one logging path, at info level, without their newline. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
    ns_log_info("http: %s", msg);
}

/* Open write routes beyond loopback are refused unless asked for. */
static int check_exposure(const ns_http *h)
{
    int writes = 0;
    for (int i = 0; i < h->nroutes; i++) writes |= (h->routes[i].flags & NS_ROUTE_WRITE) != 0;
    if (!h->beyond_loopback || !writes || (h->o.write_token && *h->o.write_token)) return 0;
    if (h->o.insecure) {
        ns_log_warn("http: listening on %s with no write token: anyone who can reach it may write", h->o.host);
        return 0;
    }
    return ns_err_set_at(NS_EINVAL, NULL, 0, "host", h->o.host,
                         "listening beyond loopback with no write token would let anyone who can reach the "
                         "server write to it: give a write token, or accept that with --insecure");
}

static void apply_defaults(ns_http_opts *o)
{
    if (!o->host) o->host = "127.0.0.1";
    if (!o->max_body) o->max_body = 1 << 20;
    if (!o->max_inflight_bytes) o->max_inflight_bytes = ns__default_inflight_bytes();
    if (o->max_inflight_bytes < o->max_body) o->max_inflight_bytes = o->max_body;
    if (o->threads <= 0) o->threads = 4;
    if (o->conn_timeout_s <= 0) o->conn_timeout_s = 10;
    if (o->max_conns <= 0) o->max_conns = 1024;
}

int ns_http_start(ns_http **out, const ns_http_opts *o, const ns_route *routes, int nroutes, void *app)
{
    *out = NULL;
    if (nroutes > MAX_ROUTES) return ns_err_set(NS_ERANGE, "http: at most %d routes", MAX_ROUTES);
    ns_http *h = ns_calloc(1, sizeof *h);
    if (!h) return NS_ENOMEM;
    h->o = *o;
    apply_defaults(&h->o);
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
    h->beyond_loopback = !ns__host_is_loopback(h->o.host);
    int rc = check_exposure(h);
    if (rc < 0 || (rc = ns__conns_start(&h->conns, h->o.conn_timeout_s)) < 0) {
        free(h);
        return rc;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    h->d = MHD_start_daemon(flags, (uint16_t)o->port, on_accept, h, on_access, h, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)h->o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)h->o.conn_timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->o.max_conns,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
                            h, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
    if (!h->d) {
        ns__conns_stop(&h->conns);
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
    /* No new connections: each one is closed as it is accepted
     * (on_accept). Not MHD_quiesce_daemon: in libmicrohttpd 0.9.75 it races
     * its own epoll workers over removing the listening socket from their
     * sets, and the loser's unguarded path aborts the process ("Failed to
     * remove listen FD from epoll set", about once in a few hundred stops
     * here); its poll() mode avoids that but queues 128 connections into a
     * p99 of ~0.8 s. */
    atomic_store(&h->stopping, 1);
    double t0 = ns_now();
    while (atomic_load(&h->inflight) > 0 && ns_now() - t0 < drain_s) usleep(2000);
    if (atomic_load(&h->inflight) > 0)
        ns_log_warn("http: %d requests still in flight after %.1f s; closing", atomic_load(&h->inflight), drain_s);
    MHD_stop_daemon(h->d);
    ns__conns_stop(&h->conns);
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
    ns_buf_printf(out,
                  "# HELP northstar_http_body_bytes_held Request body bytes held in memory.\n"
                  "# TYPE northstar_http_body_bytes_held gauge\nnorthstar_http_body_bytes_held %zu\n"
                  "# HELP northstar_http_body_bytes_limit The most request body bytes held at once.\n"
                  "# TYPE northstar_http_body_bytes_limit gauge\nnorthstar_http_body_bytes_limit %zu\n"
                  "# HELP northstar_http_over_budget_total Requests answered 503: the body budget was spent.\n"
                  "# TYPE northstar_http_over_budget_total counter\nnorthstar_http_over_budget_total %llu\n"
                  "# HELP northstar_http_slow_closed_total Connections closed: a request took longer than the timeout.\n"
                  "# TYPE northstar_http_slow_closed_total counter\nnorthstar_http_slow_closed_total %llu\n",
                  atomic_load(&h->held), h->o.max_inflight_bytes, (unsigned long long)atomic_load(&h->over_budget),
                  (unsigned long long)ns__conns_closed_slow(&h->conns));
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
