/*
 * bm25.c — the BM25 inverted index: add/delete, block-max WAND top-k,
 * exhaustive reference scoring, stats (format and formula in bm25.h).
 *
 * Why: keyword recall over item text and knowledge-base chunks, and the
 * lexical half of hybrid retrieval for the LLM side. Workload: 10^3..10^7
 * short documents, queries of 2..30 words, top 10..1000.
 *
 * Layout: per term a doc-ordered posting list (docno[], tf[]) with
 * per-block (128 postings) last docno, max tf and min dl; per document its
 * caller id, weighted length, a deleted flag and its term list (so a delete
 * can decrement df). Documents are numbered in insertion order, so postings
 * are only ever appended.
 */
#include "bm25_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ns_bm25_params ns_bm25_defaults(void)
{
    ns_bm25_params p;
    memset(&p, 0, sizeof p);
    p.k1 = 1.2f;
    p.b = 0.75f;
    p.nfields = 2;
    snprintf(p.field_names[0], sizeof p.field_names[0], "title");
    snprintf(p.field_names[1], sizeof p.field_names[1], "body");
    p.field_weights[0] = p.field_weights[1] = 1.0f;
    snprintf(p.stem, sizeof p.stem, "english");
    p.wand_min_postings = 50000;
    return p;
}

int ns__bm25_check_params(const ns_bm25_params *p)
{
    if (!(p->k1 >= 0 && p->k1 <= 100))
        return ns_err_set_at(NS_EINVAL, NULL, 0, "k1", NULL, "bm25: k1 %g outside 0..100", (double)p->k1);
    if (!(p->b >= 0 && p->b <= 1)) return ns_err_set_at(NS_EINVAL, NULL, 0, "b", NULL, "bm25: b %g outside 0..1", (double)p->b);
    if (p->nfields < 1 || p->nfields > NS_BM25_MAX_FIELDS)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "fields", NULL, "bm25: %d fields (1..%d)", p->nfields, NS_BM25_MAX_FIELDS);
    for (int i = 0; i < p->nfields; i++) {
        if (!(p->field_weights[i] > 0 && p->field_weights[i] <= 1000))
            return ns_err_set_at(NS_EINVAL, NULL, 0, "weight", p->field_names[i], "bm25: field weight %g outside (0, 1000]",
                                 (double)p->field_weights[i]);
        if (!memchr(p->field_names[i], 0, sizeof p->field_names[i]) || !p->field_names[i][0])
            return ns_err_set_at(NS_EINVAL, NULL, 0, "fields", NULL, "bm25: field %d has no name", i);
        for (int j = 0; j < i; j++)
            if (!strcmp(p->field_names[i], p->field_names[j]))
                return ns_err_set_at(NS_EINVAL, NULL, 0, "fields", p->field_names[i], "bm25: field named twice");
    }
    if (!memchr(p->stem, 0, sizeof p->stem)) return ns_err_set_at(NS_EINVAL, NULL, 0, "stem", NULL, "bm25: bad stemmer name");
    return NS_OK;
}

static ns_tokenizer *new_tokenizer(const ns_bm25_params *p)
{
    ns_tokenizer_opts o = ns_tokenizer_defaults();
    o.stem = p->stem[0] ? p->stem : NULL;
    return ns_tokenizer_new(&o);
}

int ns_bm25_create(ns_bm25 **out, const ns_bm25_params *p)
{
    *out = NULL;
    int rc = ns__bm25_check_params(p);
    if (rc < 0) return rc;
    ns_bm25 *ix = calloc(1, sizeof *ix);
    if (!ix) return ns_err_set(NS_ENOMEM, "bm25: out of memory");
    ix->p = *p;
    ix->tk_add = new_tokenizer(p);
    if (!ix->tk_add) {
        free(ix);
        return ns_err_wrap("bm25: stemmer \"%s\"", p->stem);
    }
    ix->terms = ns_strmap_new(1024);
    if (!ix->terms || ns_u64map_init(&ix->map, 1024) < 0) {
        ns_strmap_free(ix->terms);
        ns_tokenizer_free(ix->tk_add);
        free(ix);
        return ns_err_set(NS_ENOMEM, "bm25: out of memory");
    }
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&ix->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&ix->pool_mu, NULL);
    *out = ix;
    return NS_OK;
}

static void scratch_free(ns__bm25_scratch *s)
{
    if (!s) return;
    ns_tokenizer_free(s->tk);
    free(s->qt);
    free(s->cur);
    free(s->heap);
    free(s->acc);
    free(s->seen);
    free(s->ord);
    free(s->contrib);
    free(s);
}

void ns_bm25_free(ns_bm25 *ix)
{
    if (!ix) return;
    for (size_t t = 0; t < ix->npl; t++) {
        ns__plist *l = &ix->pl[t];
        free(l->doc);
        free(l->tf);
        free(l->blast);
        free(l->bmax_tf);
        free(l->bmin_dl);
    }
    free(ix->pl);
    free(ix->ext);
    free(ix->dl);
    free(ix->del);
    free(ix->fwd);
    free(ix->fwd_off);
    free(ix->acc);
    free(ix->touched);
    ns_strmap_free(ix->terms);
    ns_u64map_release(&ix->map);
    ns_tokenizer_free(ix->tk_add);
    for (int i = 0; i < ix->npool; i++) scratch_free(ix->pool[i]);
    free(ix->pool);
    pthread_rwlock_destroy(&ix->rw);
    pthread_mutex_destroy(&ix->pool_mu);
    free(ix);
}

const ns_bm25_params *ns_bm25_get_params(const ns_bm25 *ix) { return &ix->p; }

/* ===================================================================== */
/* Building                                                               */
/* ===================================================================== */

static int grow(void **p, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *n = realloc(*p, nc * esz);
    if (!n) return -1;
    *p = n;
    *cap = nc;
    return 0;
}

int ns__bm25_append_posting(ns__plist *l, uint32_t doc, float tf, float dl)
{
    if (l->n == l->cap) {
        uint32_t nc = l->cap ? 2 * l->cap : 4;
        uint32_t *d = realloc(l->doc, sizeof(uint32_t) * nc);
        if (!d) return NS_ENOMEM;
        l->doc = d;
        float *t = realloc(l->tf, sizeof(float) * nc);
        if (!t) return NS_ENOMEM;
        l->tf = t;
        l->cap = nc;
    }
    if (l->n % NS__BM25_BLOCK == 0) {
        size_t cap = l->bcap, need = (size_t)l->nb + 1;
        if (need > cap) {
            size_t nc = cap ? 2 * cap : 1;
            uint32_t *a = realloc(l->blast, sizeof(uint32_t) * nc);
            if (!a) return NS_ENOMEM;
            l->blast = a;
            float *b = realloc(l->bmax_tf, sizeof(float) * nc);
            if (!b) return NS_ENOMEM;
            l->bmax_tf = b;
            float *c = realloc(l->bmin_dl, sizeof(float) * nc);
            if (!c) return NS_ENOMEM;
            l->bmin_dl = c;
            l->bcap = (uint32_t)nc;
        }
        l->bmax_tf[l->nb] = tf;
        l->bmin_dl[l->nb] = dl;
        l->nb++;
    }
    uint32_t b = l->nb - 1;
    l->blast[b] = doc;
    if (tf > l->bmax_tf[b]) l->bmax_tf[b] = tf;
    if (dl < l->bmin_dl[b]) l->bmin_dl[b] = dl;
    if (l->n == 0 || tf > l->max_tf) l->max_tf = tf;
    if (l->n == 0 || dl < l->min_dl) l->min_dl = dl;
    l->doc[l->n] = doc;
    l->tf[l->n] = tf;
    l->n++;
    return NS_OK;
}

typedef struct {
    ns_bm25 *ix;
    float w;
    float dl;
    int err;
} add_ctx;

static int on_add_token(const char *tok, size_t len, size_t off, void *vctx)
{
    (void)off;
    add_ctx *c = vctx;
    ns_bm25 *ix = c->ix;
    int64_t t = ns_strmap_intern(ix->terms, tok, len);
    if (t < 0 || t >= (int64_t)UINT32_MAX) {
        c->err = NS_ENOMEM;
        return 1;
    }
    if ((size_t)t >= ix->npl) {
        if (grow((void **)&ix->pl, &ix->pl_cap, (size_t)t + 1, sizeof(ns__plist)) < 0 ||
            grow((void **)&ix->acc, &ix->acc_cap, (size_t)t + 1, sizeof(float)) < 0) {
            c->err = NS_ENOMEM;
            return 1;
        }
        for (size_t i = ix->npl; i <= (size_t)t; i++) {
            memset(&ix->pl[i], 0, sizeof ix->pl[i]);
            ix->acc[i] = 0;
        }
        ix->npl = (size_t)t + 1;
    }
    if (ix->acc[t] == 0) {
        if (grow((void **)&ix->touched, &ix->touched_cap, ix->ntouched + 1, sizeof(uint32_t)) < 0) {
            c->err = NS_ENOMEM;
            return 1;
        }
        ix->touched[ix->ntouched++] = (uint32_t)t;
    }
    ix->acc[t] += c->w;
    c->dl += c->w;
    return 0;
}

void ns__bm25_delete_docno(ns_bm25 *ix, uint32_t d)
{
    ix->del[d] = 1;
    for (uint64_t i = ix->fwd_off[d]; i < ix->fwd_off[d + 1]; i++) ix->pl[ix->fwd[i]].df--;
    ix->live--;
    ix->ndel++;
    ix->total_dl -= ix->dl[d];
    if (ix->live == 0) ix->total_dl = 0;
}

int ns_bm25_add(ns_bm25 *ix, uint32_t id, const char *const *fields, const size_t *lens)
{
    if (!ix || !fields) return ns_err_set(NS_EINVAL, "bm25_add: NULL argument");
    pthread_rwlock_wrlock(&ix->rw);
    int rc = NS_OK;
    if (ix->ndocs == UINT32_MAX - 1) {
        rc = ns_err_set(NS_ETOOBIG, "bm25: 2^32-1 documents added (save and load to compact)");
        goto done;
    }
    add_ctx c = {ix, 0, 0, 0};
    ix->ntouched = 0;
    for (int f = 0; f < ix->p.nfields; f++) {
        if (!fields[f]) continue;
        c.w = ix->p.field_weights[f];
        size_t n = lens ? lens[f] : strlen(fields[f]);
        ns_tokenize(ix->tk_add, fields[f], n, on_add_token, &c);
        if (c.err) break;
    }
    if (c.err) {
        for (size_t i = 0; i < ix->ntouched; i++) ix->acc[ix->touched[i]] = 0;
        rc = ns_err_set(NS_ENOMEM, "bm25_add: out of memory");
        goto done;
    }
    uint32_t d = ix->ndocs;
    size_t dcap = ix->docs_cap;
    if (grow((void **)&ix->fwd, &ix->fwd_cap, ix->nfwd + ix->ntouched, sizeof(uint32_t)) < 0 ||
        (d + 2 > dcap &&
         (grow((void **)&ix->ext, &dcap, (size_t)d + 2, sizeof(uint32_t)) < 0 ||
          (dcap = ix->docs_cap, grow((void **)&ix->dl, &dcap, (size_t)d + 2, sizeof(float))) < 0 ||
          (dcap = ix->docs_cap, grow((void **)&ix->del, &dcap, (size_t)d + 2, 1)) < 0 ||
          (dcap = ix->docs_cap, grow((void **)&ix->fwd_off, &dcap, (size_t)d + 2, sizeof(uint64_t))) < 0))) {
        for (size_t i = 0; i < ix->ntouched; i++) ix->acc[ix->touched[i]] = 0;
        rc = ns_err_set(NS_ENOMEM, "bm25_add: out of memory");
        goto done;
    }
    ix->docs_cap = dcap;
    /* replace: the old version goes first, so df and avgdl stay exact */
    uint64_t old;
    if (ns_u64map_get(&ix->map, id, &old) && old != NS__BM25_GONE) ns__bm25_delete_docno(ix, (uint32_t)old);
    if (ix->ntouched > 1) qsort(ix->touched, ix->ntouched, sizeof(uint32_t), ns_cmp_u32); /* none: a document without text */
    if (d == 0) ix->fwd_off[0] = 0;
    for (size_t i = 0; i < ix->ntouched; i++) {
        uint32_t t = ix->touched[i];
        if (ns__bm25_append_posting(&ix->pl[t], d, ix->acc[t], c.dl) < 0) {
            /* keep the structure consistent: postings added so far stay, the doc is marked deleted */
            rc = ns_err_set(NS_ENOMEM, "bm25_add: out of memory");
        }
        ix->acc[t] = 0;
        if (rc == NS_OK) {
            ix->pl[t].df++;
            ix->fwd[ix->nfwd++] = t;
        }
    }
    ix->fwd_off[d + 1] = ix->nfwd;
    ix->ext[d] = id;
    ix->dl[d] = c.dl;
    ix->del[d] = 0;
    ix->ndocs = d + 1;
    ix->live++;
    ix->total_dl += c.dl;
    if (rc < 0) {
        ns__bm25_delete_docno(ix, d);
        ns_u64map_put(&ix->map, id, NS__BM25_GONE);
        goto done;
    }
    if (ns_u64map_put(&ix->map, id, d) < 0) {
        ns__bm25_delete_docno(ix, d);
        rc = ns_err_set(NS_ENOMEM, "bm25_add: out of memory");
    }
done:
    pthread_rwlock_unlock(&ix->rw);
    return rc;
}

int ns_bm25_delete(ns_bm25 *ix, uint32_t id)
{
    pthread_rwlock_wrlock(&ix->rw);
    uint64_t d;
    int rc = NS_OK;
    if (!ns_u64map_get(&ix->map, id, &d) || d == NS__BM25_GONE) {
        rc = ns_err_set_at(NS_ENOTFOUND, NULL, 0, "id", NULL, "bm25: document %u is not in the index", id);
    } else {
        ns__bm25_delete_docno(ix, (uint32_t)d);
        ns_u64map_put(&ix->map, id, NS__BM25_GONE);
    }
    pthread_rwlock_unlock(&ix->rw);
    return rc;
}

/* ===================================================================== */
/* Search                                                                 */
/* ===================================================================== */

static ns__bm25_scratch *scratch_get(ns_bm25 *ix)
{
    ns__bm25_scratch *s = NULL;
    pthread_mutex_lock(&ix->pool_mu);
    if (ix->npool > 0) s = ix->pool[--ix->npool];
    pthread_mutex_unlock(&ix->pool_mu);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->tk = new_tokenizer(&ix->p);
    if (!s->tk) {
        free(s);
        return NULL;
    }
    return s;
}

static void scratch_put(ns_bm25 *ix, ns__bm25_scratch *s)
{
    pthread_mutex_lock(&ix->pool_mu);
    if (grow((void **)&ix->pool, &ix->pool_cap, (size_t)ix->npool + 1, sizeof *ix->pool) < 0) {
        pthread_mutex_unlock(&ix->pool_mu);
        scratch_free(s);
        return;
    }
    ix->pool[ix->npool++] = s;
    pthread_mutex_unlock(&ix->pool_mu);
}

typedef struct {
    const ns_bm25 *ix;
    ns__bm25_scratch *s;
    int err;
} q_ctx;

#define MAX_QUERY_TERMS 1024

static int on_query_token(const char *tok, size_t len, size_t off, void *vctx)
{
    (void)off;
    q_ctx *c = vctx;
    ns__bm25_scratch *s = c->s;
    int64_t t = ns_strmap_find(c->ix->terms, tok, len);
    if (t < 0) return 0;
    for (size_t i = 0; i < s->nqt; i++)
        if (s->qt[i].term == (uint32_t)t) {
            s->qt[i].qtf++;
            return 0;
        }
    if (s->nqt == MAX_QUERY_TERMS) return 0;
    if (grow((void **)&s->qt, &s->qt_cap, s->nqt + 1, sizeof *s->qt) < 0) {
        c->err = NS_ENOMEM;
        return 1;
    }
    s->qt[s->nqt++] = (ns__bm25_qterm){(uint32_t)t, 1};
    return 0;
}

static inline float norm_k(const ns_bm25 *ix, float dl, float avgdl)
{
    return ix->p.k1 * (1.0f - ix->p.b + ix->p.b * dl / avgdl);
}

static inline float avg_dl(const ns_bm25 *ix)
{
    return ix->live ? (float)(ix->total_dl / (double)ix->live) : 1.0f;
}

float ns__bm25_idf(size_t N, size_t df) { return (float)log(1.0 + ((double)N - (double)df + 0.5) / ((double)df + 0.5)); }

/* Tokenize the query and set up one cursor per distinct indexed term with
 * live documents. Returns the number of cursors or a negative code. */
static int prepare(const ns_bm25 *ix, ns__bm25_scratch *s, const char *q, long len)
{
    s->nqt = 0;
    q_ctx c = {ix, s, 0};
    ns_tokenize(s->tk, q, len < 0 ? strlen(q) : (size_t)len, on_query_token, &c);
    if (c.err) return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
    if (grow((void **)&s->cur, &s->cur_cap, s->nqt + 1, sizeof *s->cur) < 0)
        return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
    int m = 0;
    for (size_t i = 0; i < s->nqt; i++) {
        const ns__plist *l = &ix->pl[s->qt[i].term];
        if (l->df == 0 || l->n == 0) continue;
        ns__bm25_cursor *cu = &s->cur[m++];
        cu->l = l;
        cu->pos = 0;
        cu->blk = 0;
        cu->doc = l->doc[0];
        cu->order = (uint32_t)i;
        cu->w = (float)s->qt[i].qtf * ns__bm25_idf(ix->live, l->df) * (ix->p.k1 + 1.0f);
        cu->ub = cu->w * l->max_tf / (l->max_tf + norm_k(ix, l->min_dl, s->avgdl));
    }
    return m;
}

#define END_DOC UINT32_MAX

static inline void cursor_next_geq(ns__bm25_cursor *c, uint32_t target)
{
    const ns__plist *l = c->l;
    if (c->doc >= target) return;
    uint32_t b = c->blk;
    while (b < l->nb && l->blast[b] < target) b++;
    if (b == l->nb) {
        c->doc = END_DOC;
        c->pos = l->n;
        c->blk = b;
        return;
    }
    uint32_t lo = c->pos > b * NS__BM25_BLOCK ? c->pos : b * NS__BM25_BLOCK;
    uint32_t hi = (b + 1) * NS__BM25_BLOCK < l->n ? (b + 1) * NS__BM25_BLOCK : l->n;
    while (lo < hi) { /* first doc >= target in [lo, hi) (exists: blast[b] >= target) */
        uint32_t mid = (lo + hi) / 2;
        if (l->doc[mid] < target) lo = mid + 1;
        else hi = mid;
    }
    c->pos = lo;
    c->blk = b;
    c->doc = l->doc[lo];
}

static inline void cursor_next(ns__bm25_cursor *c)
{
    const ns__plist *l = c->l;
    if (++c->pos >= l->n) {
        c->doc = END_DOC;
        return;
    }
    c->blk = c->pos / NS__BM25_BLOCK;
    c->doc = l->doc[c->pos];
}

/* Upper bound of the cursor's term on the block holding the first doc >= d. */
static inline float block_ub(const ns_bm25 *ix, const ns__bm25_cursor *c, uint32_t d, float avgdl, uint32_t *blast)
{
    const ns__plist *l = c->l;
    uint32_t b = c->blk;
    while (b < l->nb && l->blast[b] < d) b++;
    if (b == l->nb) {
        *blast = END_DOC;
        return 0;
    }
    *blast = l->blast[b];
    return c->w * l->bmax_tf[b] / (l->bmax_tf[b] + norm_k(ix, l->bmin_dl[b], avgdl));
}

static int finish(const ns_bm25 *ix, ns__bm25_scratch *s, int hn, ns_hit *out)
{
    ns__cand_sort(s->heap, hn);
    for (int i = 0; i < hn; i++) out[i] = (ns_hit){ix->ext[s->heap[i].id], -s->heap[i].d};
    return hn;
}

static int search_locked(const ns_bm25 *ix, ns__bm25_scratch *s, const char *q, long len, int k, const ns_filter *f,
                         ns_hit *out, int exhaustive)
{
    s->avgdl = avg_dl(ix);
    int m = prepare(ix, s, q, len);
    if (m <= 0) return m;
    if (grow((void **)&s->heap, &s->heap_cap, (size_t)k, sizeof *s->heap) < 0 ||
        grow((void **)&s->contrib, &s->contrib_cap, s->nqt, sizeof(float)) < 0)
        return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
    int hn = 0;
    const float avgdl = s->avgdl;
    size_t total = 0;
    for (int i = 0; i < m; i++) total += s->cur[i].l->n;
    if (exhaustive || total < (size_t)(ix->p.wand_min_postings > 0 ? ix->p.wand_min_postings : 0)) {
        /* term-at-a-time into accumulators (kept zero between queries),
         * then the touched documents in docno order */
        if (grow((void **)&s->acc, &s->acc_cap, ix->ndocs, sizeof(float)) < 0 ||
            grow((void **)&s->seen, &s->seen_cap, total + 1, sizeof(uint32_t)) < 0)
            return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
        if (s->acc_zeroed < ix->ndocs) {
            memset(s->acc + s->acc_zeroed, 0, sizeof(float) * (ix->ndocs - s->acc_zeroed));
            s->acc_zeroed = ix->ndocs;
        }
        uint32_t *touched = s->seen;
        size_t nt = 0;
        /* cursors are in query-term order: same summation order as WAND */
        for (int i = 0; i < m; i++) {
            const ns__plist *l = s->cur[i].l;
            float w = s->cur[i].w;
            for (uint32_t j = 0; j < l->n; j++) {
                uint32_t d = l->doc[j];
                if (s->acc[d] == 0) touched[nt++] = d;
                s->acc[d] += w * l->tf[j] / (l->tf[j] + norm_k(ix, ix->dl[d], avgdl));
            }
        }
        if (nt > 1) qsort(touched, nt, sizeof *touched, ns_cmp_u32);
        for (size_t t = 0; t < nt; t++) {
            uint32_t d = touched[t];
            float sc = s->acc[d];
            s->acc[d] = 0;
            if (ix->del[d] || !ns_filter_pass(f, ix->ext[d])) continue;
            ns__topk_push(s->heap, &hn, k, -sc, d);
        }
        return finish(ix, s, hn, out);
    }
    /* block-max WAND; s->ord holds cursor indexes sorted by current doc */
    if (grow((void **)&s->ord, &s->ord_cap, (size_t)m, sizeof(int)) < 0)
        return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
    ns__bm25_cursor *cur = s->cur;
    int *ord = s->ord;
    for (int i = 0; i < m; i++) ord[i] = i;
    for (;;) {
        /* insertion sort by doc (nearly sorted between rounds) */
        for (int i = 1; i < m; i++) {
            int x = ord[i], j = i - 1;
            while (j >= 0 && cur[ord[j]].doc > cur[x].doc) {
                ord[j + 1] = ord[j];
                j--;
            }
            ord[j + 1] = x;
        }
        float theta = hn == k ? -s->heap[0].d : 0.0f;
        float acc = 0;
        int p = -1;
        for (int i = 0; i < m; i++) {
            if (cur[ord[i]].doc == END_DOC) break;
            acc += cur[ord[i]].ub;
            if (acc > theta) {
                p = i;
                break;
            }
        }
        if (p < 0) break;
        uint32_t pd = cur[ord[p]].doc;
        while (p + 1 < m && cur[ord[p + 1]].doc == pd) p++;
        /* block-max check over the cursors that can hold pd */
        float bsum = 0;
        uint32_t next = p + 1 < m ? cur[ord[p + 1]].doc : END_DOC;
        for (int i = 0; i <= p; i++) {
            uint32_t bl;
            bsum += block_ub(ix, &cur[ord[i]], pd, avgdl, &bl);
            if (bl != END_DOC && bl + 1 < next) next = bl + 1;
        }
        if (bsum <= theta) {
            /* no document in [pd, next) can beat theta */
            if (next <= pd) next = pd + 1;
            for (int i = 0; i <= p; i++) cursor_next_geq(&cur[ord[i]], next);
            continue;
        }
        if (cur[ord[0]].doc == pd) {
            if (!ix->del[pd] && ns_filter_pass(f, ix->ext[pd])) {
                for (size_t t = 0; t < s->nqt; t++) s->contrib[t] = 0;
                int any = 0;
                float kd = norm_k(ix, ix->dl[pd], avgdl);
                for (int i = 0; i <= p; i++) {
                    const ns__bm25_cursor *c = &cur[ord[i]];
                    float tf = c->l->tf[c->pos];
                    s->contrib[c->order] = c->w * tf / (tf + kd);
                    any = 1;
                }
                if (any) {
                    float sc = 0;
                    for (int i = 0; i < m; i++) { /* query-term order, as the exhaustive path */
                        float v = s->contrib[cur[i].order];
                        if (cur[i].doc == pd) sc += v;
                    }
                    ns__topk_push(s->heap, &hn, k, -sc, pd);
                }
            }
            for (int i = 0; i <= p; i++) cursor_next(&cur[ord[i]]);
        } else {
            for (int i = 0; i < p && cur[ord[i]].doc < pd; i++) cursor_next_geq(&cur[ord[i]], pd);
        }
    }
    return finish(ix, s, hn, out);
}

static int search_common(const ns_bm25 *ixc, const char *q, long len, int k, const ns_filter *f, ns_hit *out, int exh)
{
    ns_bm25 *ix = (ns_bm25 *)ixc;
    if (!ix || !q || !out || k <= 0) return ns_err_set(NS_EINVAL, "bm25_search: bad argument (k %d)", k);
    if (f && !f->allow && !f->deny && !f->pred) f = NULL;
    ns__bm25_scratch *s = scratch_get(ix);
    if (!s) return ns_err_set(NS_ENOMEM, "bm25 search: out of memory");
    pthread_rwlock_rdlock(&ix->rw);
    int rc = search_locked(ix, s, q, len, k, f, out, exh);
    pthread_rwlock_unlock(&ix->rw);
    scratch_put(ix, s);
    return rc;
}

int ns_bm25_search(const ns_bm25 *ix, const char *q, long len, int k, const ns_filter *f, ns_hit *out)
{
    return search_common(ix, q, len, k, f, out, 0);
}

int ns_bm25_search_exhaustive(const ns_bm25 *ix, const char *q, long len, int k, const ns_filter *f, ns_hit *out)
{
    return search_common(ix, q, len, k, f, out, 1);
}

void ns_bm25_get_stats(const ns_bm25 *ixc, ns_bm25_stats *st)
{
    ns_bm25 *ix = (ns_bm25 *)ixc;
    memset(st, 0, sizeof *st);
    pthread_rwlock_rdlock(&ix->rw);
    st->docs = ix->live;
    st->deleted = ix->ndel;
    st->terms = ix->npl;
    size_t bytes = ix->docs_cap * (sizeof(uint32_t) + sizeof(float) + 1 + sizeof(uint64_t)) +
                   ix->fwd_cap * sizeof(uint32_t) + ix->map.cap * 17 + ix->pl_cap * sizeof(ns__plist);
    for (size_t t = 0; t < ix->npl; t++) {
        st->postings += ix->pl[t].n;
        bytes += (size_t)ix->pl[t].cap * 8 + (size_t)ix->pl[t].bcap * 12;
    }
    st->bytes = bytes;
    st->avgdl = ix->live ? ix->total_dl / (double)ix->live : 0;
    pthread_rwlock_unlock(&ix->rw);
}
