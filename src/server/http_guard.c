/*
 * http_guard.c — what the HTTP layer checks before a handler runs, and the
 * watch on slow connections (http.h lists the refusals):
 *   - request targets: no NUL byte and nothing but UTF-8 once %-escapes
 *     are decoded (libmicrohttpd decodes them and a %00 would silently cut
 *     an id short);
 *   - tokens: "Authorization: Bearer T", the scheme in any case, compared
 *     in constant time whatever was sent;
 *   - connections: a registry of open connections with the time their
 *     current request began, and a thread that shuts down any whose request
 *     has not arrived whole within the timeout. libmicrohttpd's own timeout
 *     is an idle timeout, which a client trickling a byte a second never
 *     trips.
 */
#include "server_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- request targets ---------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

const char *ns__uri_problem(const char *raw)
{
    size_t n = strlen(raw);
    char *dec = malloc(n + 1);
    if (!dec) return "out of memory";
    size_t k = 0;
    const char *why = NULL;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (raw[i] == '%' && i + 2 < n && (hi = hexval(raw[i + 1])) >= 0 && (lo = hexval(raw[i + 2])) >= 0) {
            dec[k++] = (char)(hi * 16 + lo);
            i += 2;
        } else dec[k++] = raw[i];
        if (dec[k - 1] == 0) {
            why = "the path or query holds a NUL byte (%00)";
            break;
        }
    }
    if (!why && !ns_utf8_valid(dec, k)) why = "the path or query is not valid UTF-8 once decoded";
    free(dec);
    return why;
}

/* ---- tokens ----------------------------------------------------------------------------------- */

int ns__bearer_ok(const char *auth, const char *token)
{
    if (!auth || strncasecmp(auth, "bearer", 6) != 0 || (auth[6] != ' ' && auth[6] != '\t')) return 0;
    const char *given = auth + 6;
    while (*given == ' ' || *given == '\t') given++;
    size_t gl = strlen(given), tl = strlen(token);
    while (gl && (given[gl - 1] == ' ' || given[gl - 1] == '\t')) gl--;
    /* The time depends on the token's length only, never on what was sent:
     * every byte of the token is compared, against 0 past the given end. */
    unsigned diff = (unsigned)(gl != tl);
    for (size_t i = 0; i < tl; i++) diff |= (unsigned char)token[i] ^ (unsigned char)(i < gl ? given[i] : 0);
    return tl > 0 && diff == 0;
}

int ns__host_is_loopback(const char *host)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) return 0;
    return (ntohl(a.s_addr) >> 24) == 127;
}

size_t ns__default_inflight_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    size_t ram = pages > 0 && psz > 0 ? (size_t)pages * (size_t)psz : (size_t)8 << 30;
    size_t b = ram / 8;
    if (b < ((size_t)64 << 20)) b = (size_t)64 << 20;
    if (b > ((size_t)1 << 30)) b = (size_t)1 << 30;
    return b;
}

/* ---- slow connections ------------------------------------------------------------------------ */

struct ns__conn {
    int fd;
    double since; /* the current request's clock: opening, or the end of the previous one */
    int busy;     /* a handler runs or a response is being sent */
    int shut;
    ns__conn *prev, *next;
};

static void *sweeper_main(void *arg)
{
    ns__conns *cs = arg;
    pthread_mutex_lock(&cs->mu);
    while (!cs->stop) {
        double now = ns_now();
        for (ns__conn *c = cs->head; c; c = c->next)
            if (!c->busy && !c->shut && now - c->since > cs->timeout_s) {
                shutdown(c->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes it */
                c->shut = 1;
                cs->closed_slow++;
            }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&cs->cv, &cs->mu, &ts);
    }
    pthread_mutex_unlock(&cs->mu);
    return NULL;
}

int ns__conns_start(ns__conns *cs, double timeout_s)
{
    memset(cs, 0, sizeof *cs);
    pthread_mutex_init(&cs->mu, NULL);
    pthread_cond_init(&cs->cv, NULL);
    cs->timeout_s = timeout_s;
    if (pthread_create(&cs->sweeper, NULL, sweeper_main, cs) != 0)
        return ns_err_set(NS_EINTERNAL, "http: cannot start the connection watch");
    cs->running = 1;
    return 0;
}

void ns__conns_stop(ns__conns *cs)
{
    if (!cs->running) return;
    pthread_mutex_lock(&cs->mu);
    cs->stop = 1;
    pthread_cond_signal(&cs->cv);
    pthread_mutex_unlock(&cs->mu);
    pthread_join(cs->sweeper, NULL);
    cs->running = 0;
    for (ns__conn *c = cs->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    cs->head = NULL;
    pthread_cond_destroy(&cs->cv);
    pthread_mutex_destroy(&cs->mu);
}

ns__conn *ns__conn_open(ns__conns *cs, int fd)
{
    ns__conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = fd;
    c->since = ns_now();
    pthread_mutex_lock(&cs->mu);
    c->next = cs->head;
    if (cs->head) cs->head->prev = c;
    cs->head = c;
    pthread_mutex_unlock(&cs->mu);
    return c;
}

void ns__conn_close(ns__conns *cs, ns__conn *c)
{
    if (!c) return;
    pthread_mutex_lock(&cs->mu);
    if (c->prev) c->prev->next = c->next;
    else cs->head = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&cs->mu);
    free(c);
}

void ns__conn_busy(ns__conns *cs, ns__conn *c, int busy)
{
    if (!c) return;
    pthread_mutex_lock(&cs->mu);
    c->busy = busy;
    if (!busy) c->since = ns_now();
    pthread_mutex_unlock(&cs->mu);
}

uint64_t ns__conns_closed_slow(ns__conns *cs)
{
    pthread_mutex_lock(&cs->mu);
    uint64_t n = cs->closed_slow;
    pthread_mutex_unlock(&cs->mu);
    return n;
}
