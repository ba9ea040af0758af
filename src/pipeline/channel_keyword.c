/*
 * channel_keyword.c — the "keyword" recall channel: BM25 (bm25.h) over the
 * items' title and text, queried with the words that characterise the
 * user's most recent items. `northstar train` writes the index (document
 * id = row) and, per row, the item's external id and its most distinctive
 * words (top tf-idf tokens of title + text); the query is the words of the
 * `history` newest items the model knows. Seen items are denied inside the
 * search (ns_filter), so the quota is filled with new ones.
 *
 *   {"name": "keyword", "type": "keyword", "quota": 100,
 *    "params": {"index_file": "keyword.bm25", "terms_file": "keyword.terms", "history": 5}}
 *
 * Terms file: one line per row, "<item id>\t<word> <word> ...".
 * Workload: one BM25 query of ~40 words (block-max WAND) per request.
 */
#include "northstar/bm25.h"
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ns_bm25 *ix;
    ns_strmap *ids;   /* row -> external id */
    char **terms;     /* row -> words */
    ns__rowmap map;
    long history;
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

static int kw_create(const json_t *params, const char *path, ns_rec_state *st, void **self)
{
    kw_ch *c = ns_calloc(1, sizeof *c);
    if (!c) return NS_ENOMEM;
    const char *ixf = NULL, *tf = NULL;
    int rc = ns__cfg_str(params, path, "index_file", NULL, NULL, &ixf);
    if (rc >= 0) rc = ns__cfg_str(params, path, "terms_file", NULL, NULL, &tf);
    if (rc >= 0) rc = ns__cfg_int(params, path, "history", 1, 100, 5, &c->history);
    if (rc >= 0 && (!ixf || !tf))
        rc = ns_err_set_at(NS_EINVAL, NULL, 0, path, NULL, "index_file and terms_file are required (northstar train)");
    if (rc >= 0 && (rc = ns_bm25_load(&c->ix, ixf)) < 0) ns_err_wrap("%s.index_file", path);
    if (rc >= 0 && (rc = read_terms(c, tf)) < 0) ns_err_wrap("%s.terms_file", path);
    if (rc >= 0) rc = ns__rowmap_build(&c->map, st, c->ids);
    if (rc < 0) {
        kw_free(c);
        return rc;
    }
    *self = c;
    return 0;
}

static int kw_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    const kw_ch *c = self;
    const ns_user_view *uv = req->uv;
    if (!uv || !uv->nrecent || quota <= 0) return 0;
    ns_buf q;
    ns_buf_init(&q);
    int used = 0;
    for (int k = 0; k < uv->nrecent && used < c->history; k++) {
        uint32_t r = ns__row_of(&c->map, uv->recent[k]);
        if (r == UINT32_MAX) continue;
        if (q.len) ns_buf_puts(&q, " ");
        ns_buf_puts(&q, c->terms[r]);
        used++;
    }
    int got = 0;
    roaring_bitmap_t *deny = roaring_bitmap_create();
    ns_hit *hits = ns_malloc(sizeof *hits * (size_t)quota);
    if (!deny || !hits) got = NS_ENOMEM;
    for (uint32_t k = 0; got >= 0 && k < uv->nseen; k++) {
        uint32_t r = ns__row_of(&c->map, uv->seen[k]);
        if (r != UINT32_MAX) roaring_bitmap_add(deny, r);
    }
    if (got >= 0 && q.len) {
        ns_filter f = {NULL, deny, NULL, NULL};
        int n = ns_bm25_search(c->ix, q.data, (long)q.len, quota, &f, hits);
        if (n < 0) got = n;
        for (int k = 0; k < n; k++) {
            uint32_t item = hits[k].id < c->map.nrows ? c->map.item_of[hits[k].id] : UINT32_MAX;
            if (item != UINT32_MAX) out[got++] = (ns_scored){item, hits[k].score};
        }
    }
    free(hits);
    if (deny) roaring_bitmap_free(deny);
    ns_buf_release(&q);
    return got;
}

const ns_channel_type ns__channel_keyword = {"keyword", kw_create, kw_recall, kw_free};
