/*
 * http_client.c — a small blocking HTTP/1.1 client over one keep-alive TCP
 * connection: what the integration tests, the simulator (sending events to
 * a server) and tools need, with no dependency beyond the C library.
 * Understands Content-Length and chunked responses; reconnects once when
 * the server closed an idle connection.
 */
#include "northstar/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct ns_http_client {
    char host[256];
    int port;
    double timeout_s;
    int fd;
    ns_buf in;   /* bytes received, not yet consumed */
    ns_buf body; /* the last response body */
    ns_buf out;
    char *token; /* sent as a bearer token, or NULL */
};

ns_http_client *ns_http_client_new(const char *host, int port, double timeout_s)
{
    ns_http_client *c = ns_calloc(1, sizeof *c);
    if (!c) return NULL;
    snprintf(c->host, sizeof c->host, "%s", !strcmp(host, "localhost") ? "127.0.0.1" : host);
    c->port = port;
    c->timeout_s = timeout_s > 0 ? timeout_s : 30;
    c->fd = -1;
    ns_buf_init(&c->in);
    ns_buf_init(&c->body);
    ns_buf_init(&c->out);
    return c;
}

static void disconnect(ns_http_client *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in.len = 0;
}

void ns_http_client_free(ns_http_client *c)
{
    if (!c) return;
    disconnect(c);
    ns_buf_release(&c->in);
    ns_buf_release(&c->body);
    ns_buf_release(&c->out);
    free(c->token);
    free(c);
}

int ns_http_client_set_token(ns_http_client *c, const char *token)
{
    char *t = token ? ns_strdup(token) : NULL;
    if (token && !t) return NS_ENOMEM;
    free(c->token);
    c->token = t;
    return 0;
}

int ns_http_parse_url(const char *url, char *host, size_t hostsz, int *port)
{
    const char *p = url;
    if (!strncmp(p, "http://", 7)) p += 7;
    const char *colon = strchr(p, ':'), *slash = strchr(p, '/');
    if (!colon || (slash && slash < colon) || (size_t)(colon - p) >= hostsz || colon == p)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "url", url, "expected http://HOST:PORT");
    memcpy(host, p, (size_t)(colon - p));
    host[colon - p] = 0;
    char *end;
    long v = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || (*end && *end != '/') || v <= 0 || v > 65535)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "url", url, "bad port");
    *port = (int)v;
    return 0;
}

static int do_connect(ns_http_client *c)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)c->port);
    if (inet_pton(AF_INET, c->host, &sa.sin_addr) != 1)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "host", c->host, "not an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ns_err_set(NS_EIO, "socket: %s", strerror(errno));
    struct timeval tv = {(time_t)c->timeout_s, (suseconds_t)((c->timeout_s - (double)(time_t)c->timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return ns_err_set(NS_EIO, "connect %s:%d: %s", c->host, c->port, strerror(e));
    }
    c->fd = fd;
    c->in.len = 0;
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Read more bytes into c->in; 0 on EOF, < 0 on error or timeout. */
static ssize_t fill(ns_http_client *c)
{
    if (ns_buf_reserve(&c->in, 65536) < 0) return -1;
    for (;;) {
        ssize_t r = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) {
            c->in.len += (size_t)r;
            c->in.data[c->in.len] = 0;
        }
        return r;
    }
}

static void consume(ns_http_client *c, size_t n)
{
    memmove(c->in.data, c->in.data + n, c->in.len - n);
    c->in.len -= n;
    c->in.data[c->in.len] = 0;
}

/* Read until `need` bytes are buffered. */
static int need_bytes(ns_http_client *c, size_t need)
{
    while (c->in.len < need) {
        ssize_t r = fill(c);
        if (r <= 0) return -1;
    }
    return 0;
}

static int read_response(ns_http_client *c, int *status, int *keep_alive)
{
    char *hend;
    while (!c->in.data || !(hend = strstr(c->in.data, "\r\n\r\n"))) {
        ssize_t r = fill(c);
        if (r <= 0) return r == 0 && c->in.len == 0 ? 1 : -1; /* 1: closed before any byte */
    }
    size_t hlen = (size_t)(hend - c->in.data) + 4;
    *hend = 0;
    if (sscanf(c->in.data, "HTTP/1.%*d %d", status) != 1) return -1;
    long long clen = -1;
    int chunked = 0;
    *keep_alive = 1;
    for (char *line = strstr(c->in.data, "\r\n"); line && line < hend; line = strstr(line + 2, "\r\n")) {
        char *l = line + 2;
        if (!strncasecmp(l, "Content-Length:", 15)) clen = atoll(l + 15);
        else if (!strncasecmp(l, "Transfer-Encoding:", 18) && strstr(l, "chunked")) chunked = 1;
        else if (!strncasecmp(l, "Connection:", 11) && strcasestr(l, "close")) *keep_alive = 0;
    }
    consume(c, hlen);
    c->body.len = 0;
    if (chunked) {
        for (;;) {
            char *eol;
            while (!(eol = strstr(c->in.data ? c->in.data : "", "\r\n")))
                if (fill(c) <= 0) return -1;
            long sz = strtol(c->in.data, NULL, 16);
            consume(c, (size_t)(eol - c->in.data) + 2);
            if (need_bytes(c, (size_t)sz + 2) < 0) return -1;
            ns_buf_append(&c->body, c->in.data, (size_t)sz);
            consume(c, (size_t)sz + 2);
            if (sz == 0) break;
        }
    } else if (clen >= 0) {
        if (need_bytes(c, (size_t)clen) < 0) return -1;
        ns_buf_append(&c->body, c->in.data, (size_t)clen);
        consume(c, (size_t)clen);
    } else {
        while (fill(c) > 0) {}
        ns_buf_append(&c->body, c->in.data ? c->in.data : "", c->in.len);
        c->in.len = 0;
        *keep_alive = 0;
    }
    if (!c->body.data) ns_buf_append(&c->body, "", 0);
    return 0;
}

int ns_http_client_request(ns_http_client *c, const char *method, const char *path, const char *content_type,
                           const char *body, size_t body_len, const char **resp, size_t *resp_len)
{
    c->out.len = 0;
    ns_buf_printf(&c->out, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", method, path, c->host, c->port);
    if (body) ns_buf_printf(&c->out, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                            content_type ? content_type : "application/json", body_len);
    if (c->token) ns_buf_printf(&c->out, "Authorization: Bearer %s\r\n", c->token);
    ns_buf_puts(&c->out, "\r\n");
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = c->fd < 0;
        if (fresh) {
            int rc = do_connect(c);
            if (rc < 0) return rc;
        }
        int status = 0, ka = 1, r = -1;
        if (send_all(c->fd, c->out.data, c->out.len) == 0 && (!body || send_all(c->fd, body, body_len) == 0))
            r = read_response(c, &status, &ka);
        if (r == 0) {
            if (!ka) disconnect(c);
            if (resp) *resp = c->body.data;
            if (resp_len) *resp_len = c->body.len;
            return status;
        }
        disconnect(c);
        /* A reused connection the server had closed: retry once on a new one. */
        if (fresh) break;
    }
    return ns_err_set(NS_EIO, "%s %s to %s:%d: no response (%s)", method, path, c->host, c->port,
                      errno ? strerror(errno) : "connection closed");
}
