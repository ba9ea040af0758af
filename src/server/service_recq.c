/*
 * service_recq.c — the request filters of GET /v1/recommend/{user}:
 *   exclude=id1,id2   items left out of this list. Ids the catalogue does
 *                     not know are ignored, and counted in the response
 *                     ("exclude_unknown"): a client may exclude what it
 *                     showed before the catalogue had it.
 *   category=a,b      only items in one of these categories. A category no
 *                     item has is refused (400 naming "category"): a typo
 *                     would otherwise look like an empty shelf.
 * More than NS__EXCLUDE_MAX ids or NS__CATEGORY_MAX categories is 400
 * naming the parameter. Empty entries ("a,,b", a trailing comma) are
 * skipped.
 */
#include "server_int.h"

#include <stdlib.h>
#include <string.h>

/* Entries of a comma list (empty ones not counted). */
static int list_count(const char *q)
{
    int n = 0;
    for (const char *p = q; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        n += len > 0;
        if (!e) break;
        p = e + 1;
    }
    return n;
}

/* Each entry of q in turn into buf (NUL-terminated); an entry that does
 * not fit comes back as "" (no id or name is empty); NULL at the end. */
static const char *list_next(const char **cur, char *buf, size_t cap)
{
    while (**cur) {
        const char *p = *cur, *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        *cur = e ? e + 1 : p + len;
        if (!len) continue;
        if (len >= cap) len = 0;
        memcpy(buf, p, len);
        buf[len] = 0;
        return buf;
    }
    return NULL;
}

static int parse_exclude(ns_state *st, const char *q, ns_arena *a, ns_rec_filters *f, int *unknown,
                         ns_http_resp *resp)
{
    int n = list_count(q), k = 0;
    if (n > NS__EXCLUDE_MAX) {
        ns_http_error(resp, 400, "exclude", "%d item ids; at most %d", n, NS__EXCLUDE_MAX);
        return -1;
    }
    uint32_t *ids = ns_arena_alloc(a, sizeof(uint32_t) * (size_t)(n ? n : 1), 4);
    if (!ids) {
        ns_http_error(resp, 500, NULL, "out of memory");
        return -1;
    }
    char buf[NS_STORE_ID_MAX + 1];
    const char *cur = q, *id;
    while ((id = list_next(&cur, buf, sizeof buf))) {
        uint32_t i;
        if (*id && ns_state_find_item(st, id, &i)) ids[k++] = i;
        else (*unknown)++; /* "" : longer than any id the store takes */
    }
    qsort(ids, (size_t)k, sizeof *ids, ns_cmp_u32);
    f->exclude = ids;
    f->nexclude = k;
    return 0;
}

static int parse_category(ns_state *st, const char *q, ns_arena *a, ns_rec_filters *f, ns_http_resp *resp)
{
    int n = list_count(q), k = 0;
    if (n > NS__CATEGORY_MAX) {
        ns_http_error(resp, 400, "category", "%d categories; at most %d", n, NS__CATEGORY_MAX);
        return -1;
    }
    if (n == 0) {
        ns_http_error(resp, 400, "category", "no category given (category=a,b)");
        return -1;
    }
    uint32_t *cats = ns_arena_alloc(a, sizeof(uint32_t) * (size_t)n, 4);
    if (!cats) {
        ns_http_error(resp, 500, NULL, "out of memory");
        return -1;
    }
    char buf[256];
    const char *cur = q, *name;
    while ((name = list_next(&cur, buf, sizeof buf))) {
        uint32_t c;
        if (!*name) {
            ns_http_error(resp, 400, "category", "a category name longer than %zu bytes", sizeof buf - 1);
            return -1;
        }
        if (!ns_state_find_category(st, name, &c)) {
            ns_http_error(resp, 400, "category", "unknown category '%s' (no item has it)", name);
            return -1;
        }
        cats[k++] = c;
    }
    f->cats = cats;
    f->ncats = k;
    return 0;
}

int ns__rec_filters(ns_state *st, const ns_http_req *req, ns_http_resp *resp, ns_rec_filters *f, int *unknown)
{
    memset(f, 0, sizeof *f);
    *unknown = 0;
    const char *ex = ns_http_query(req, "exclude"), *cat = ns_http_query(req, "category");
    if (ex && parse_exclude(st, ex, req->arena, f, unknown, resp) < 0) return -1;
    if (cat && parse_category(st, cat, req->arena, f, resp) < 0) return -1;
    return 0;
}
