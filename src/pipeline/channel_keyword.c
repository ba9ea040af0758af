/*
 * channel_keyword.c — the "keyword" recall channel: BM25 (bm25.h) over the
 * items' title and text, queried with the words that characterise the
 * user's recent items. `northstar train` writes the index (document id =
 * row) and, per row, the item's external id and its most distinctive words
 * (top tf-idf tokens of title + text). The query is the user's interest
 * profile in words: the `terms` words with the most weight over the
 * `history` newest items the model knows (an item's words weigh
 * 1 / (1 + its recency rank)).
 *
 *   {"name": "keyword", "type": "keyword", "quota": 100,
 *    "params": {"index_file": "keyword.bm25", "terms_file": "keyword.terms",
 *               "history": 5, "terms": 10, "cache": 16384, "max_share": 0.01}}
 *
 * A word among the distinctive words of more than max_share of the items
 * is left out of queries (it cannot tell interests apart, and its posting
 * list is the longest: on the simulator's 200,000 items it made BM25 27%
 * of the server's CPU for 0.002% of the served slots).
 *
 * The index does not change until the next reload, so a query's hits are
 * cached (direct-mapped, `cache` slots, twice the quota each) and a user's
 * repeated requests cost no search until a new click changes the profile;
 * seen items are removed from the cached hits.
 *
 * Terms file: one line per row, "<item id>\t<word> <word> ...".
 * Workload: a miss is one BM25 query of `terms` words (block-max WAND or
 * term-at-a-time); on catalogues with a small vocabulary (the simulator's)
 * that is a few hundred microseconds, hence the cache.
 */
#include "northstar/bm25.h"
#include "pipeline_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t key; /* hash of the query; 0 = empty */
    int n;
    ns_hit *hits; /* [fetch] */
} kw_slot;

typedef struct {
    ns_bm25 *ix;
    ns_strmap *ids;   /* row -> external id */
    char **terms;     /* row -> words */
    ns__rowmap map;
    long history, nterms, ncache;
    pthread_mutex_t mu;
    kw_slot *cache;   /* [ncache] */
    ns_hit *cache_hits;
    int fetch;        /* hits cached per query (2 x the largest quota seen; fixed at first use) */
} kw_ch;

static void kw_free(void *self)
{
    kw_ch *c = self;
    if (!c) return;
    ns_bm25_free(c->ix);
    if (c->terms)
        for (size_t r = 0; r < ns_strmap_count(c->ids); r++) free(c->terms[r]);
    free(c->terms);
    ns_strmap_free(c->ids);
    ns__rowmap_release(&c->map);
    free(c->cache);
    free(c->cache_hits);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int read_terms(kw_ch *c, const char *file)
{
    char *buf;
    size_t len;
    int rc = ns_file_read_all(file, &buf, &len, 0);
    if (rc < 0) return rc;
    size_t cap = 1024, n = 0;
    c->ids = ns_strmap_new(cap);
    c->terms = ns_malloc(sizeof *c->terms * cap);
    ns_lines it;
    const char *ln;
    size_t ll;
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && c->ids && c->terms && ns_lines_next(&it, &ln, &ll)) {
        const char *tab = memchr(ln, '\t', ll);
        if (!tab || tab == ln) {
            rc = ns_err_set_at(NS_EFORMAT, file, it.lineno, NULL, NULL, "expected '<item id>\\t<words>'");
            break;
        }
        if (ns_strmap_intern(c->ids, ln, (size_t)(tab - ln)) != (int64_t)n) {
            rc = ns_err_set_at(NS_EFORMAT, file, it.lineno, NULL, NULL, "item id listed twice");
            break;
        }
        if (n == cap) {
            char **t = ns_realloc(c->terms, sizeof *t * cap * 2);
            if (!t) {
                rc = NS_ENOMEM;
                break;
            }
            c->terms = t;
            cap *= 2;
        }
        size_t tl = ll - (size_t)(tab + 1 - ln);
        if (!(c->terms[n] = ns_malloc(tl + 1))) {
            rc = NS_ENOMEM;
            break;
        }
        memcpy(c->terms[n], tab + 1, tl);
        c->terms[n][tl] = 0;
        n++;
    }
    if (rc >= 0 && (!c->ids || !c->terms)) rc = NS_ENOMEM;
    free(buf);
    return rc;
}

/* Words among the distinctive words of more than max_share of the rows
 * tell interests apart no better than chance and make the longest posting
 * lists: they leave every row's query words (in catalogues where that
 * share is 50 rows or more; smaller ones keep every word). */
static int drop_common_words(kw_ch *c, double max_share)
{
    size_t nr = ns_strmap_count(c->ids);
    ns_strmap *words = ns_strmap_new(1024);
    uint32_t *cnt = NULL;
    size_t cap = 0;
    int rc = words ? 0 : NS_ENOMEM;
    for (size_t r = 0; rc >= 0 && r < nr; r++)
        for (const char *p = c->terms[r]; *p;) {
            while (*p == ' ') p++;
            const char *e = p;
            while (*e && *e != ' ') e++;
            if (e == p) break;
            int64_t id = ns_strmap_intern(words, p, (size_t)(e - p));
            if (id >= 0 && (size_t)id >= cap) {
                size_t nc = 2 * (size_t)id + 64;
                uint32_t *g = ns_realloc(cnt, sizeof *cnt * nc);
                if (g) memset(g + cap, 0, sizeof *g * (nc - cap)), cnt = g, cap = nc;
            }
            if (id < 0 || (size_t)id >= cap) {
                rc = NS_ENOMEM;
                break;
            }
            cnt[id]++;
            p = e;
        }
    double limit = max_share * (double)nr;
    for (size_t r = 0; rc >= 0 && r < nr && limit >= 50; r++) {
        char *o = c->terms[r];
        for (const char *p = c->terms[r]; *p;) {
            while (*p == ' ') p++;
            const char *e = p;
            while (*e && *e != ' ') e++;
            if (e == p) break;
            if (cnt[ns_strmap_find(words, p, (size_t)(e - p))] <= limit) {
                if (o != c->terms[r]) *o++ = ' ';
                memmove(o, p, (size_t)(e - p));
                o += e - p;
            }
            p = e;
        }
        *o = 0;
    }
    free(cnt);
    ns_strmap_free(words);
    return rc;
}

static int kw_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    kw_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    const char *ixf = NULL, *tf = NULL;
    int rc = ns__cfg_str(params, path, "index_file", NULL, NULL, &ixf);
    if (rc >= 0) rc = ns__cfg_str(params, path, "terms_file", NULL, NULL, &tf);
    if (rc >= 0) rc = ns__cfg_int(params, path, "history", 1, 100, 5, &c->history);
    if (rc >= 0) rc = ns__cfg_int(params, path, "terms", 1, 256, 10, &c->nterms);
    if (rc >= 0) rc = ns__cfg_int(params, path, "cache", 0, 1 << 22, 16384, &c->ncache);
    double max_share = 0.01;
    if (rc >= 0) rc = ns__cfg_num(params, path, "max_share", 0, 1, 0.01, &max_share);
    if (rc >= 0 && (!ixf || !tf))
        rc = ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "index_file and terms_file are required (northstar train)");
    if (rc >= 0 && (rc = ns_bm25_load(&c->ix, ixf)) < 0) ns_err_wrap("%s.index_file", path);
    if (rc >= 0 && (rc = read_terms(c, tf)) < 0) ns_err_wrap("%s.terms_file", path);
    if (rc >= 0 && max_share < 1) rc = drop_common_words(c, max_share);
    if (rc >= 0) rc = ns__rowmap_build(&c->map, st, c->ids);
    if (rc < 0) {
        kw_free(c);
        return rc;
    }
    *self = c;
    return 0;
}

typedef struct { const char *w; int len; float weight; } term_t;

static int by_word(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    int m = x->len < y->len ? x->len : y->len, c = memcmp(x->w, y->w, (size_t)m);
    return c ? c : x->len - y->len;
}

static int by_weight_then_word(const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    if (x->weight != y->weight) return x->weight > y->weight ? -1 : 1;
    return by_word(a, b);
}

/* The user's profile in words, as a canonical query (words in byte order). */
static int build_query(const kw_ch *c, const ns_user_view *uv, ns_buf *q)
{
    term_t t[512];
    int nt = 0, used = 0;
    for (int k = 0; k < uv->nrecent && used < c->history; k++) {
        uint32_t r = ns__row_of(&c->map, uv->recent[k]);
        if (r == UINT32_MAX) continue;
        float w = 1.0f / (float)(1 + used++);
        for (const char *p = c->terms[r]; *p;) {
            while (*p == ' ') p++;
            const char *e = p;
            while (*e && *e != ' ') e++;
            if (e > p) {
                int j = 0, len = (int)(e - p);
                while (j < nt && !(t[j].len == len && !memcmp(t[j].w, p, (size_t)len))) j++;
                if (j < nt) t[j].weight += w;
                else if (nt < (int)(sizeof t / sizeof t[0])) t[nt++] = (term_t){p, len, w};
            }
            p = e;
        }
    }
    qsort(t, (size_t)nt, sizeof *t, by_weight_then_word);
    if (nt > c->nterms) nt = (int)c->nterms;
    qsort(t, (size_t)nt, sizeof *t, by_word);
    for (int j = 0; j < nt; j++) {
        if (j) ns_buf_puts(q, " ");
        ns_buf_append(q, t[j].w, (size_t)t[j].len);
    }
    return nt;
}

static int kw_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    kw_ch *c = self;
    const ns_user_view *uv = req->uv;
    if (!uv || !uv->nrecent || quota <= 0) return 0;
    ns_buf q;
    ns_buf_init(&q);
    int got = 0;
    if (build_query(c, uv, &q) <= 0) goto done;
    uint64_t key = ns_hash_bytes(q.data, q.len, 7) | 1;
    pthread_mutex_lock(&c->mu);
    if (!c->fetch && c->ncache) {
        c->fetch = 2 * quota;
        c->cache = ns_calloc((size_t)c->ncache, sizeof *c->cache);
        c->cache_hits = ns_malloc(sizeof *c->cache_hits * (size_t)c->ncache * (size_t)c->fetch);
        if (!c->cache || !c->cache_hits) {
            free(c->cache);
            free(c->cache_hits);
            c->cache = NULL;
            c->cache_hits = NULL;
            c->ncache = 0;
        }
        for (long k = 0; k < c->ncache; k++) c->cache[k].hits = c->cache_hits + (size_t)k * (size_t)c->fetch;
    }
    int fetch = c->fetch > quota ? c->fetch : 2 * quota;
    kw_slot *slot = c->ncache ? &c->cache[key % (uint64_t)c->ncache] : NULL;
    ns_hit *hits = ns_malloc(sizeof *hits * (size_t)fetch);
    int n = -1;
    if (hits && slot && slot->key == key) {
        n = slot->n;
        memcpy(hits, slot->hits, sizeof *hits * (size_t)n);
    }
    pthread_mutex_unlock(&c->mu);
    if (!hits) {
        got = NS_ENOMEM;
        goto done;
    }
    if (n < 0) { /* a miss: search outside the lock */
        n = ns_bm25_search(c->ix, q.data, (long)q.len, fetch, NULL, hits);
        if (n < 0) {
            got = n;
            free(hits);
            goto done;
        }
        if (slot && fetch == c->fetch) {
            pthread_mutex_lock(&c->mu);
            slot->key = key;
            slot->n = n;
            memcpy(slot->hits, hits, sizeof *hits * (size_t)n);
            pthread_mutex_unlock(&c->mu);
        }
    }
    for (int k = 0; k < n && got < quota; k++) {
        uint32_t item = hits[k].id < c->map.nrows ? c->map.item_of[hits[k].id] : UINT32_MAX;
        if (item != UINT32_MAX && !ns_state_has_seen(req->state, req->user, item))
            out[got++] = (ns_scored){item, hits[k].score};
    }
    free(hits);
done:
    ns_buf_release(&q);
    return got;
}

const ns_channel_type ns__channel_keyword = {"keyword", kw_create, kw_recall, kw_free};
