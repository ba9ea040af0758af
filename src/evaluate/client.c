/*
 * client.c — the evaluation's users, as HTTP clients of the running
 * service: `clients` threads, each with one keep-alive connection
 * (ns_http_client), take the test users in turn and ask
 * GET /v1/recommend/{user}?n=k; each answer's item ids are mapped back
 * to the data set, with its "candidates" and the latency the client saw.
 */
#include "evaluate_int.h"

#include "northstar/http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const ns__ev_data *x;
    ns__ev_answers *a;
    int port;
    _Atomic uint32_t next;
    ns_progress prog;
} ask_ctx;

/* "/v1/recommend/<user, percent-encoded>?n=k" */
static void rec_path(char *out, size_t cap, const char *user, int k)
{
    size_t w = (size_t)snprintf(out, cap, "/v1/recommend/");
    for (const unsigned char *s = (const unsigned char *)user; *s && w + 4 < cap; s++) {
        if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr("-._~", *s))
            out[w++] = (char)*s;
        else w += (size_t)snprintf(out + w, cap - w, "%%%02X", *s);
    }
    snprintf(out + w, cap - w, "?n=%d", k);
}

/* The answer's items into a->items[j * k ..]; -1 when it is not one. */
static int parse_answer(const ns__ev_data *x, const char *body, size_t len, int k, uint32_t *items, int *cands)
{
    json_t *j = json_loadb(body, len, 0, NULL), *arr = json_object_get(j, "items"), *it;
    if (!json_is_array(arr)) {
        json_decref(j);
        return -1;
    }
    int n = 0;
    size_t i;
    json_array_foreach(arr, i, it)
    {
        if (n >= k) break;
        const char *id = json_string_value(json_object_get(it, "id"));
        int64_t idx = id ? ns_strmap_find(x->d.iids, id, strlen(id)) : -1;
        items[n++] = idx >= 0 ? (uint32_t)idx : UINT32_MAX;
    }
    *cands = (int)json_integer_value(json_object_get(j, "candidates"));
    json_decref(j);
    return n;
}

static void *ask_main(void *arg)
{
    ask_ctx *c = arg;
    int k = c->a->k;
    ns_http_client *h = ns_http_client_new("127.0.0.1", c->port, 60.0);
    char path[1024];
    for (uint32_t j; h && (j = atomic_fetch_add(&c->next, 1)) < c->x->nusers;) {
        const char *uid = ns_strmap_key(c->x->d.uids, c->x->users[j], NULL);
        rec_path(path, sizeof path, uid, k);
        const char *body;
        size_t len;
        double t0 = ns_now();
        int st = ns_http_client_request(h, "GET", path, NULL, NULL, 0, &body, &len);
        c->a->ms[j] = (ns_now() - t0) * 1e3;
        c->a->n[j] = st == 200 ? parse_answer(c->x, body, len, k, c->a->items + (size_t)j * (size_t)k, &c->a->cands[j])
                               : -1;
        if (st != 200 && j < 3) ns_log_warn("evaluate: GET %s answered %d", path, st);
        ns_progress_add(&c->prog, 1);
    }
    ns_http_client_free(h);
    return NULL;
}

void ns__ev_answers_release(ns__ev_answers *a)
{
    free(a->items);
    free(a->n);
    free(a->cands);
    free(a->ms);
    memset(a, 0, sizeof *a);
}

int ns__ev_ask(const ns__ev_data *x, int port, int k, int clients, const char *label, ns__ev_answers *a)
{
    memset(a, 0, sizeof *a);
    size_t nu = (size_t)x->nusers + 1;
    a->k = k;
    a->items = ns_malloc(sizeof *a->items * nu * (size_t)k);
    a->n = ns_malloc(sizeof *a->n * nu);
    a->cands = ns_calloc(nu, sizeof *a->cands);
    a->ms = ns_calloc(nu, sizeof *a->ms);
    if (!a->items || !a->n || !a->cands || !a->ms) {
        ns__ev_answers_release(a);
        return NS_ENOMEM;
    }
    for (size_t j = 0; j < nu; j++) a->n[j] = -1;
    ask_ctx c;
    memset(&c, 0, sizeof c);
    c.x = x;
    c.a = a;
    c.port = port;
    char lab[48];
    snprintf(lab, sizeof lab, "eval %s", label);
    ns_progress_begin(&c.prog, lab, x->nusers, "users");
    if (clients < 1) clients = 1;
    pthread_t th[64];
    int started = 0;
    ns_timer t;
    ns_timer_start(&t);
    for (; started < clients && started < 64; started++)
        if (pthread_create(&th[started], NULL, ask_main, &c) != 0) break;
    if (!started) ask_main(&c);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    a->secs = ns_timer_elapsed(&t);
    ns_progress_end(&c.prog);
    return 0;
}
