/*
 * hnsw.c — the HNSW graph: insert, update, delete with slot reuse, search
 * (plain and filtered), exact search over the stored vectors.
 *
 * Why: vector recall over item/user embeddings and knowledge-base chunks
 * must answer in well under a millisecond at recall >= 0.95 while items are
 * added. Workload: 10^4..10^7 vectors of 32..1024 dims, many concurrent
 * readers, a trickle (or a bulk build) of writers.
 *
 * Algorithm: Malkov & Yashunin, "Efficient and robust approximate nearest
 * neighbor search using Hierarchical Navigable Small World graphs" (TPAMI
 * 2018): levels drawn from floor(-ln U * 1/ln M), greedy descent on upper
 * levels, beam search of width ef on the target levels, neighbours chosen
 * by the paper's heuristic (Algorithm 4 without extension or kept pruned
 * connections), neighbour lists shrunk with the same heuristic; a new node
 * that every neighbour pruned takes the place of its nearest neighbour's
 * farthest link, so that no node is left without a way in (not under
 * inner product, where high-norm hubs make every list prune most newcomers
 * and the replacement would cost more recall than it gives).
 *
 * Concurrency (see hnsw.h for the contract): neighbour lists are arrays of
 * _Atomic uint32_t written under a per-node spin lock with release stores
 * and read without a lock with acquire loads (plain moves on x86), so a
 * reader sees a consistent node: its vector and label are written before
 * the node is published by the release store that links it. Operations that
 * rewrite a vector in place (update, slot reuse) or move memory (grow) take
 * the index rwlock exclusively.
 */
#include "index_int.h"
#include "northstar/safetensors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE__)
#include <immintrin.h>
#define PREFETCH(p) _mm_prefetch((const char *)(p), _MM_HINT_T0)
#else
#define PREFETCH(p) __builtin_prefetch(p)
#endif

/* ===================================================================== */
/* Scratch: visited marks + heaps, pooled per index                       */
/* ===================================================================== */

struct ns__scratch {
    uint16_t *mark;      /* [cap] epoch stamp per slot */
    uint16_t epoch;
    size_t cap;
    ns__cand *cq;        /* candidate min-heap */
    int cq_n, cq_cap;
    ns__cand *rs;        /* result max-heap (worst on top) */
    int rs_n, rs_cap;
    ns__cand *tmp;       /* neighbour selection buffers */
    int tmp_cap;
    float *qbuf;         /* normalised query */
};

static void scratch_free(ns__scratch *s)
{
    if (!s) return;
    free(s->mark);
    free(s->cq);
    free(s->rs);
    free(s->tmp);
    free(s->qbuf);
    free(s);
}

static ns__scratch *scratch_get(ns_hnsw *h)
{
    ns__scratch *s = NULL;
    pthread_mutex_lock(&h->pool_mu);
    if (h->npool > 0) s = h->pool[--h->npool];
    pthread_mutex_unlock(&h->pool_mu);
    if (!s) {
        s = calloc(1, sizeof *s);
        if (!s) return NULL;
        s->qbuf = malloc(sizeof(float) * (size_t)h->p.dim);
        s->tmp_cap = 2 * h->M0 + 2;
        s->tmp = malloc(sizeof(ns__cand) * (size_t)s->tmp_cap * 2);
        if (!s->qbuf || !s->tmp) {
            scratch_free(s);
            return NULL;
        }
    }
    if (s->cap < h->capacity) {
        uint16_t *m = realloc(s->mark, sizeof(uint16_t) * h->capacity);
        if (!m) {
            scratch_free(s);
            return NULL;
        }
        memset(m, 0, sizeof(uint16_t) * h->capacity);
        s->mark = m;
        s->cap = h->capacity;
        s->epoch = 0;
    }
    if (++s->epoch == 0) {
        memset(s->mark, 0, sizeof(uint16_t) * s->cap);
        s->epoch = 1;
    }
    return s;
}

static void scratch_put(ns_hnsw *h, ns__scratch *s)
{
    pthread_mutex_lock(&h->pool_mu);
    if (h->npool == h->pool_cap) {
        int nc = h->pool_cap ? 2 * h->pool_cap : 8;
        ns__scratch **np = realloc(h->pool, sizeof *np * (size_t)nc);
        if (!np) {
            pthread_mutex_unlock(&h->pool_mu);
            scratch_free(s);
            return;
        }
        h->pool = np;
        h->pool_cap = nc;
    }
    h->pool[h->npool++] = s;
    pthread_mutex_unlock(&h->pool_mu);
}

/* ---- heaps over ns__cand ------------------------------------------------ */

static int grow_heap(ns__cand **a, int *cap, int need)
{
    if (need <= *cap) return 0;
    int nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    ns__cand *n = realloc(*a, sizeof(ns__cand) * (size_t)nc);
    if (!n) return -1;
    *a = n;
    *cap = nc;
    return 0;
}

/* min-heap (smallest d on top) */
static inline void minh_push(ns__cand *a, int *n, ns__cand c)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) >> 1;
        if (a[p].d <= c.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = c;
}
static inline ns__cand minh_pop(ns__cand *a, int *n)
{
    ns__cand top = a[0], last = a[--(*n)];
    int i = 0, m = *n;
    for (;;) {
        int l = 2 * i + 1;
        if (l >= m) break;
        if (l + 1 < m && a[l + 1].d < a[l].d) l++;
        if (a[l].d >= last.d) break;
        a[i] = a[l];
        i = l;
    }
    a[i] = last;
    return top;
}
/* max-heap (largest d on top) */
static inline void maxh_push(ns__cand *a, int *n, ns__cand c)
{
    int i = (*n)++;
    while (i > 0) {
        int p = (i - 1) >> 1;
        if (a[p].d >= c.d) break;
        a[i] = a[p];
        i = p;
    }
    a[i] = c;
}
static inline void maxh_pop(ns__cand *a, int *n)
{
    ns__cand last = a[--(*n)];
    int i = 0, m = *n;
    for (;;) {
        int l = 2 * i + 1;
        if (l >= m) break;
        if (l + 1 < m && a[l + 1].d > a[l].d) l++;
        if (a[l].d <= last.d) break;
        a[i] = a[l];
        i = l;
    }
    a[i] = last;
}

/* ===================================================================== */
/* Creation                                                               */
/* ===================================================================== */

ns_hnsw_params ns_hnsw_defaults(int dim, ns_metric metric)
{
    ns_hnsw_params p;
    memset(&p, 0, sizeof p);
    p.dim = dim;
    p.metric = metric;
    p.M = 16;
    p.ef_construction = 200;
    p.ef_search = 64;
    p.seed = 42;
    p.capacity = 1024;
    p.brute_force_below = 2048;
    return p;
}

int ns__hnsw_layout(ns_hnsw *h)
{
    const ns_hnsw_params *p = &h->p;
    if (p->dim < 1 || p->dim > 65536)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "dim", NULL, "dimension %d out of range 1..65536", p->dim);
    if (p->metric != NS_METRIC_L2 && p->metric != NS_METRIC_IP && p->metric != NS_METRIC_COSINE)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "metric", NULL, "unknown metric %d", (int)p->metric);
    if (p->M < 2 || p->M > 256)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "M", NULL, "M %d out of range 2..256", p->M);
    if (p->ef_construction < 1 || p->ef_construction > 100000)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "ef_construction", NULL, "ef_construction %d out of range 1..100000",
                             p->ef_construction);
    if (p->ef_search < 1 || p->ef_search > 100000)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "ef_search", NULL, "ef_search %d out of range 1..100000", p->ef_search);
    if (p->brute_force_below < 0)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "brute_force_below", NULL, "must not be negative");
    h->M0 = 2 * p->M;
    h->links_off = (size_t)p->dim * sizeof(float);
    h->rec = (h->links_off + sizeof(uint32_t) * (size_t)(1 + h->M0) + 63) & ~(size_t)63;
    h->mult = 1.0 / log((double)p->M);
    return NS_OK;
}

int ns__hnsw_alloc(ns_hnsw **out, const ns_hnsw_params *p, size_t capacity, int alloc_l0)
{
    *out = NULL;
    ns_hnsw *h = calloc(1, sizeof *h);
    if (!h) return ns_err_set(NS_ENOMEM, "hnsw: out of memory");
    h->p = *p;
    int rc = ns__hnsw_layout(h);
    if (rc < 0) {
        free(h);
        return rc;
    }
    if (capacity < 16) capacity = 16;
    if (capacity > UINT32_MAX - 1) capacity = UINT32_MAX - 1;
    h->capacity = capacity;
    h->labels = malloc(sizeof(uint32_t) * capacity);
    h->levels = calloc(capacity, 1);
    h->flags = calloc(capacity, 1);
    h->upper = calloc(capacity, sizeof *h->upper);
    h->locks = calloc(capacity, 1);
    h->indeg = calloc(capacity, sizeof *h->indeg);
    if (alloc_l0) {
        h->l0 = ns_malloc_aligned(capacity * h->rec);
        h->l0_owned = 1;
    }
    int map_ok = ns_u64map_init(&h->map, capacity) == 0;
    if (!h->labels || !h->levels || !h->flags || !h->upper || !h->locks || !h->indeg || (alloc_l0 && !h->l0) || !map_ok) {
        if (map_ok) ns_u64map_release(&h->map);
        else memset(&h->map, 0, sizeof h->map);
        free(h->labels);
        free(h->levels);
        free((void *)h->flags);
        free(h->upper);
        free((void *)h->locks);
        free((void *)h->indeg);
        if (alloc_l0) ns_free_aligned(h->l0);
        size_t rec = h->rec;
        free(h);
        return ns_err_set(NS_ENOMEM, "hnsw: out of memory for %zu slots of %zu bytes", capacity, rec);
    }
    atomic_init(&h->entry, ns__entry_pack(NS__NO_NODE, 0));
    atomic_init(&h->nslots, 0);
    atomic_init(&h->live, 0);
    pthread_mutex_init(&h->entry_mu, NULL);
    pthread_mutex_init(&h->map_mu, NULL);
    pthread_mutex_init(&h->pool_mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    *out = h;
    return NS_OK;
}

int ns_hnsw_create(ns_hnsw **out, const ns_hnsw_params *p)
{
    if (!out || !p) return ns_err_set(NS_EINVAL, "hnsw_create: NULL argument");
    return ns__hnsw_alloc(out, p, p->capacity, 1);
}

void ns_hnsw_free(ns_hnsw *h)
{
    if (!h) return;
    uint32_t n = atomic_load(&h->nslots);
    for (uint32_t i = 0; i < n; i++) free((void *)h->upper[i]);
    for (int i = 0; i < h->npool; i++) scratch_free(h->pool[i]);
    free(h->pool);
    if (h->l0_owned) ns_free_aligned(h->l0);
    if (h->file) ns_st_close(h->file);
    free(h->labels);
    free(h->levels);
    free((void *)h->flags);
    free(h->upper);
    free((void *)h->locks);
    free((void *)h->indeg);
    free(h->freel);
    ns_u64map_release(&h->map);
    pthread_mutex_destroy(&h->entry_mu);
    pthread_mutex_destroy(&h->map_mu);
    pthread_mutex_destroy(&h->pool_mu);
    pthread_rwlock_destroy(&h->rw);
    free(h);
}

const ns_hnsw_params *ns_hnsw_get_params(const ns_hnsw *h) { return &h->p; }

int ns_hnsw_set_ef(ns_hnsw *h, int ef_search)
{
    if (ef_search < 1 || ef_search > 100000)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "ef_search", NULL, "ef_search %d out of range 1..100000", ef_search);
    pthread_rwlock_wrlock(&h->rw);
    h->p.ef_search = ef_search;
    pthread_rwlock_unlock(&h->rw);
    return NS_OK;
}

size_t ns_hnsw_count(const ns_hnsw *h) { return atomic_load(&h->live); }

/* ===================================================================== */
/* Memory: grow and own (write lock held)                                 */
/* ===================================================================== */

static int make_owned_and_room(ns_hnsw *h, size_t need)
{
    size_t n = atomic_load(&h->nslots);
    size_t cap = h->capacity;
    if (h->l0_owned && need <= cap) return NS_OK;
    if (need > cap) {
        cap = cap * 2 > need ? cap * 2 : need;
        if (cap > (size_t)UINT32_MAX - 1) cap = (size_t)UINT32_MAX - 1;
        if (need > cap) return ns_err_set(NS_ETOOBIG, "hnsw: more than 2^32-2 slots");
    }
    char *l0 = ns_malloc_aligned(cap * h->rec);
    if (!l0) return ns_err_set(NS_ENOMEM, "hnsw: cannot grow to %zu slots (%zu bytes)", cap, cap * h->rec);
    if (n) memcpy(l0, h->l0, n * h->rec);
    if (cap != h->capacity) {
        uint32_t *labels = realloc(h->labels, sizeof(uint32_t) * cap);
        if (labels) h->labels = labels;
        uint8_t *levels = realloc(h->levels, cap);
        if (levels) h->levels = levels;
        _Atomic uint8_t *flags = realloc((void *)h->flags, cap);
        if (flags) h->flags = flags;
        _Atomic uint32_t **upper = realloc(h->upper, sizeof *upper * cap);
        if (upper) h->upper = upper;
        _Atomic uint8_t *locks = realloc((void *)h->locks, cap);
        if (locks) h->locks = locks;
        _Atomic uint32_t *indeg = realloc((void *)h->indeg, sizeof *indeg * cap);
        if (indeg) h->indeg = indeg;
        if (!labels || !levels || !flags || !upper || !locks || !indeg) {
            ns_free_aligned(l0);
            return ns_err_set(NS_ENOMEM, "hnsw: cannot grow to %zu slots", cap);
        }
        memset(h->levels + h->capacity, 0, cap - h->capacity);
        memset((void *)(h->flags + h->capacity), 0, cap - h->capacity);
        memset(h->upper + h->capacity, 0, sizeof *upper * (cap - h->capacity));
        memset((void *)(h->locks + h->capacity), 0, cap - h->capacity);
        memset((void *)(h->indeg + h->capacity), 0, sizeof *indeg * (cap - h->capacity));
    }
    if (h->l0_owned) ns_free_aligned(h->l0);
    h->l0 = l0;
    h->l0_owned = 1;
    h->capacity = cap;
    if (h->file) {
        ns_st_close(h->file);
        h->file = NULL;
    }
    return NS_OK;
}

/* ===================================================================== */
/* Search on one level                                                    */
/* ===================================================================== */

static inline void node_lock(ns_hnsw *h, uint32_t i)
{
    while (atomic_exchange_explicit(&h->locks[i], 1, memory_order_acquire))
        while (atomic_load_explicit(&h->locks[i], memory_order_relaxed)) {
#if defined(__SSE2__)
            _mm_pause();
#endif
        }
}
static inline void node_unlock(ns_hnsw *h, uint32_t i) { atomic_store_explicit(&h->locks[i], 0, memory_order_release); }

static inline float dist_to(const ns_hnsw *h, const float *q, uint32_t i)
{
    const float *v = ns__vec(h, i);
    return h->p.metric == NS_METRIC_L2 ? ns_fvec_l2sq(q, v, (size_t)h->p.dim) : 1.0f - ns_fvec_dot(q, v, (size_t)h->p.dim);
}

static inline void prefetch_vec(const ns_hnsw *h, uint32_t i)
{
    const char *p = (const char *)ns__vec(h, i);
    size_t lines = (h->links_off + 63) / 64;
    if (lines > 8) lines = 8;
    for (size_t l = 0; l < lines; l++) PREFETCH(p + 64 * l);
}

/* Does slot i count as a result? (not deleted, not `skip`, passes filter).
 * While linking a node (skip != NS__NO_NODE) deleted nodes are accepted as
 * neighbours: they still route searches, and a node added after every
 * other one was deleted must still get links. */
static inline int accept(const ns_hnsw *h, uint32_t i, uint32_t skip, const ns_filter *f)
{
    if (i == skip) return 0;
    if (skip == NS__NO_NODE && (atomic_load_explicit(&h->flags[i], memory_order_acquire) & NS__HF_DELETED)) return 0;
    return f ? ns_filter_pass(f, h->labels[i]) : 1;
}

/* Greedy descent: the closest node to q on level lvl starting from *cur. */
static void greedy(const ns_hnsw *h, const float *q, int lvl, uint32_t *cur, float *curd)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        _Atomic uint32_t *ln = ns__links(h, *cur, lvl);
        uint32_t cnt = atomic_load_explicit(&ln[0], memory_order_acquire);
        uint32_t maxc = (uint32_t)(lvl ? h->p.M : h->M0);
        if (cnt > maxc) cnt = maxc;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = atomic_load_explicit(&ln[1 + j], memory_order_acquire);
            float d = dist_to(h, q, v);
            if (d < *curd) {
                *curd = d;
                *cur = v;
                changed = 1;
            }
        }
    }
}

/* Beam search of width ef on level lvl from entry ep (distance epd).
 * On return s->rs holds up to ef accepted nodes as a max-heap. */
static int search_level(const ns_hnsw *h, ns__scratch *s, const float *q, uint32_t ep, float epd, int ef, int lvl,
                        uint32_t skip, const ns_filter *f)
{
    if (grow_heap(&s->rs, &s->rs_cap, ef + 1) < 0 || grow_heap(&s->cq, &s->cq_cap, ef + h->M0 + 1) < 0)
        return ns_err_set(NS_ENOMEM, "hnsw search: out of memory (ef %d)", ef);
    uint16_t *mark = s->mark, epoch = s->epoch;
    ns__cand *cq = s->cq, *rs = s->rs;
    int cqn = 0, rsn = 0;
    float lb = INFINITY;
    mark[ep] = epoch;
    minh_push(cq, &cqn, (ns__cand){epd, ep});
    if (accept(h, ep, skip, f)) {
        maxh_push(rs, &rsn, (ns__cand){epd, ep});
        lb = epd;
    }
    uint32_t maxc = (uint32_t)(lvl ? h->p.M : h->M0);
    uint32_t todo[2 * 256 + 1];
    while (cqn > 0) {
        if (cq[0].d > lb && rsn >= ef) break;
        ns__cand c = minh_pop(cq, &cqn);
        _Atomic uint32_t *ln = ns__links(h, c.id, lvl);
        uint32_t cnt = atomic_load_explicit(&ln[0], memory_order_acquire);
        if (cnt > maxc) cnt = maxc;
        int nt = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t v = atomic_load_explicit(&ln[1 + j], memory_order_acquire);
            if (mark[v] == epoch) continue;
            mark[v] = epoch;
            todo[nt++] = v;
            prefetch_vec(h, v);
        }
        for (int j = 0; j < nt; j++) {
            uint32_t v = todo[j];
            if (j + 1 < nt) PREFETCH(&h->flags[todo[j + 1]]);
            float d = dist_to(h, q, v);
            if (rsn < ef || d < lb) {
                if (cqn >= s->cq_cap) {
                    if (grow_heap(&s->cq, &s->cq_cap, cqn + 1) < 0)
                        return ns_err_set(NS_ENOMEM, "hnsw search: out of memory");
                    cq = s->cq;
                }
                minh_push(cq, &cqn, (ns__cand){d, v});
                if (accept(h, v, skip, f)) {
                    maxh_push(rs, &rsn, (ns__cand){d, v});
                    if (rsn > ef) maxh_pop(rs, &rsn);
                    lb = rs[0].d;
                }
            }
        }
    }
    s->cq_n = cqn;
    s->rs_n = rsn;
    return NS_OK;
}

/* ===================================================================== */
/* Neighbour selection and linking                                        */
/* ===================================================================== */

/* Heuristic of Malkov & Yashunin: from candidates c[0..n) sorted by
 * distance to the base point, keep c if it is closer to the base than to
 * every kept one. Writes at most m kept into out; returns how many. */
static int select_heuristic(const ns_hnsw *h, const ns__cand *c, int n, int m, ns__cand *out)
{
    int k = 0;
    for (int i = 0; i < n && k < m; i++) {
        int good = 1;
        const float *cv = ns__vec(h, c[i].id);
        for (int j = 0; j < k; j++) {
            if (dist_to(h, cv, out[j].id) < c[i].d) {
                good = 0;
                break;
            }
        }
        if (good) out[k++] = c[i];
    }
    return k;
}

/* Write n's list on level lvl (node lock held): entries, then the count,
 * keeping the level-0 in-degrees of the slots it drops and adds. */
static void set_links(ns_hnsw *h, _Atomic uint32_t *ln, int lvl, const uint32_t *ids, uint32_t k)
{
    if (lvl == 0) {
        uint32_t cnt = atomic_load_explicit(&ln[0], memory_order_relaxed);
        for (uint32_t j = 0; j < cnt; j++)
            atomic_fetch_sub_explicit(&h->indeg[atomic_load_explicit(&ln[1 + j], memory_order_relaxed)], 1,
                                      memory_order_relaxed);
        for (uint32_t j = 0; j < k; j++) atomic_fetch_add_explicit(&h->indeg[ids[j]], 1, memory_order_relaxed);
    }
    for (uint32_t j = 0; j < k; j++) atomic_store_explicit(&ln[1 + j], ids[j], memory_order_release);
    atomic_store_explicit(&ln[0], k, memory_order_release);
}

static inline uint32_t indeg_of(const ns_hnsw *h, uint32_t v)
{
    return atomic_load_explicit(&h->indeg[v], memory_order_relaxed);
}

/* On level 0, a candidate the heuristic dropped whose only way in is this
 * list stays, in place of the farthest kept slot that has another way in
 * (never the newcomer s). kept[0..k) is sorted by distance. */
static int keep_sole_links(const ns_hnsw *h, const ns__cand *c, int nc, ns__cand *kept, int k, int maxc, uint32_t s)
{
    int r = k - 1;
    for (int i = 0; i < nc; i++) {
        uint32_t v = c[i].id;
        int in = 0;
        for (int j = 0; j < k && !in; j++) in = kept[j].id == v;
        if (in || v == s || indeg_of(h, v) > 1) continue;
        if (k < maxc) {
            kept[k++] = c[i];
            continue;
        }
        while (r >= 0 && (kept[r].id == s || indeg_of(h, kept[r].id) <= 1)) r--;
        if (r < 0) break;
        kept[r--] = c[i];
    }
    return k;
}

/* Add link (n -> s) on level lvl, shrinking n's list with the heuristic when
 * full. Returns 1 when s is in n's list afterwards, 0 when it was pruned. */
static int add_back_link(ns_hnsw *h, ns__scratch *sc, uint32_t n, uint32_t s, int lvl)
{
    int maxc = lvl ? h->p.M : h->M0;
    node_lock(h, n);
    _Atomic uint32_t *ln = ns__links(h, n, lvl);
    uint32_t cnt = atomic_load_explicit(&ln[0], memory_order_relaxed);
    uint32_t ids[NS__MAX_M0 + 1];
    for (uint32_t j = 0; j < cnt; j++) {
        ids[j] = atomic_load_explicit(&ln[1 + j], memory_order_relaxed);
        if (ids[j] == s) {
            node_unlock(h, n);
            return 1;
        }
    }
    int in = 1;
    ids[cnt] = s;
    if ((int)cnt < maxc) {
        set_links(h, ln, lvl, ids, cnt + 1);
    } else {
        ns__cand *c = sc->tmp, *kept = sc->tmp + sc->tmp_cap;
        const float *nv = ns__vec(h, n);
        int nc = 0;
        for (uint32_t j = 0; j <= cnt; j++) c[nc++] = (ns__cand){dist_to(h, nv, ids[j]), ids[j]};
        ns__cand_sort(c, nc);
        int k = select_heuristic(h, c, nc, maxc, kept);
        if (lvl == 0 && h->p.metric != NS_METRIC_IP) k = keep_sole_links(h, c, nc, kept, k, maxc, s);
        in = 0;
        for (int j = 0; j < k; j++) {
            ids[j] = kept[j].id;
            in |= ids[j] == s;
        }
        set_links(h, ln, lvl, ids, (uint32_t)k);
    }
    node_unlock(h, n);
    return in;
}

/* Put link (n -> s) into n's list on level lvl: appended when there is
 * room, else in place of n's farthest link whose target has another way
 * in (level 0) or its farthest (upper levels). 1 when done. */
static int force_back_link(ns_hnsw *h, uint32_t n, uint32_t s, int lvl)
{
    uint32_t maxc = (uint32_t)(lvl ? h->p.M : h->M0), ids[NS__MAX_M0 + 1];
    node_lock(h, n);
    _Atomic uint32_t *ln = ns__links(h, n, lvl);
    uint32_t cnt = atomic_load_explicit(&ln[0], memory_order_relaxed);
    int at = cnt < maxc ? (int)cnt : -1, present = 0;
    for (uint32_t j = 0; j < cnt; j++) present |= (ids[j] = atomic_load_explicit(&ln[1 + j], memory_order_relaxed)) == s;
    if (!present && at < 0) { /* full: the farthest link that can be spared */
        const float *nv = ns__vec(h, n);
        float fd = -1;
        for (uint32_t j = 0; j < cnt; j++) {
            if (lvl == 0 && indeg_of(h, ids[j]) <= 1) continue;
            float d = dist_to(h, nv, ids[j]);
            if (d > fd) fd = d, at = (int)j;
        }
    }
    if (!present && at >= 0) {
        ids[at] = s;
        set_links(h, ln, lvl, ids, at == (int)cnt ? cnt + 1 : cnt);
    }
    node_unlock(h, n);
    return present || at >= 0;
}

/* Link slot s (vector already written, level L) into the graph. */
static int link_node(ns_hnsw *h, ns__scratch *sc, uint32_t s, int L)
{
    const float *q = ns__vec(h, s);
    uint64_t e = atomic_load(&h->entry);
    int locked = 0;
    if (L > (int)(e >> 32) || (uint32_t)e == NS__NO_NODE) {
        pthread_mutex_lock(&h->entry_mu);
        locked = 1;
        e = atomic_load(&h->entry);
    }
    uint32_t ep = (uint32_t)e;
    int maxl = (int)(e >> 32);
    if (ep == NS__NO_NODE) {
        atomic_store(&h->entry, ns__entry_pack(s, L));
        pthread_mutex_unlock(&h->entry_mu);
        return NS_OK;
    }
    if (!locked || L <= maxl) {
        if (locked) {
            pthread_mutex_unlock(&h->entry_mu);
            locked = 0;
        }
    }
    uint32_t cur = ep;
    float curd = dist_to(h, q, cur);
    for (int lvl = maxl; lvl > L; lvl--) greedy(h, q, lvl, &cur, &curd);
    int rc = NS_OK;
    for (int lvl = L < maxl ? L : maxl; lvl >= 0; lvl--) {
        rc = search_level(h, sc, q, cur, curd, h->p.ef_construction, lvl, s, NULL);
        if (rc < 0) break;
        int n = sc->rs_n;
        ns__cand *c = sc->rs; /* heap -> sorted ascending */
        ns__cand_sort(c, n);
        if (n > 0) {
            cur = c[0].id;
            curd = c[0].d;
        }
        ns__cand *kept = sc->tmp;
        int m = h->p.M;
        int k = select_heuristic(h, c, n, m, kept);
        uint32_t ids[256];
        for (int j = 0; j < k; j++) ids[j] = kept[j].id;
        node_lock(h, s);
        set_links(h, ns__links(h, s, lvl), lvl, ids, (uint32_t)k);
        node_unlock(h, s);
        int linked = 0;
        for (int j = 0; j < k; j++) linked += add_back_link(h, sc, ids[j], s, lvl);
        for (int j = 0; j < k && !linked && h->p.metric != NS_METRIC_IP; j++) linked = force_back_link(h, ids[j], s, lvl);
        sc->epoch++;
        if (sc->epoch == 0) {
            memset(sc->mark, 0, sizeof(uint16_t) * sc->cap);
            sc->epoch = 1;
        }
    }
    if (locked) {
        if (rc == NS_OK && L > maxl) atomic_store(&h->entry, ns__entry_pack(s, L));
        pthread_mutex_unlock(&h->entry_mu);
    }
    return rc;
}

/* ===================================================================== */
/* Add, update, delete                                                    */
/* ===================================================================== */

static int draw_level(const ns_hnsw *h, uint32_t id)
{
    ns_rng r;
    ns_rng_seed(&r, h->p.seed, id);
    double u = ns_rng_uniform(&r);
    if (u <= 0) u = 1e-300;
    int l = (int)(-log(u) * h->mult);
    return l > NS__MAX_LEVEL ? NS__MAX_LEVEL : l;
}

static int prepare_vector(const ns_hnsw *h, const float *x, float *out)
{
    for (int i = 0; i < h->p.dim; i++)
        if (!isfinite(x[i])) return ns_err_set_at(NS_EINVAL, NULL, 0, "vector", NULL, "component %d is not finite", i);
    memcpy(out, x, sizeof(float) * (size_t)h->p.dim);
    if (h->p.metric == NS_METRIC_COSINE) return ns_fvec_normalize(out, (size_t)h->p.dim);
    return NS_OK;
}

/* Fill a fresh slot's per-slot data (vector v, label id, level L). */
static int init_slot(ns_hnsw *h, uint32_t s, uint32_t id, const float *v, int L)
{
    memset(h->l0 + (size_t)s * h->rec, 0, h->rec);
    memcpy(ns__vec(h, s), v, sizeof(float) * (size_t)h->p.dim);
    h->labels[s] = id;
    h->levels[s] = (uint8_t)L;
    h->upper[s] = NULL;
    if (L > 0) {
        h->upper[s] = calloc((size_t)L * (size_t)(h->p.M + 1), sizeof(uint32_t));
        if (!h->upper[s]) return ns_err_set(NS_ENOMEM, "hnsw: out of memory for upper levels");
    }
    atomic_store_explicit(&h->flags[s], NS__HF_READY, memory_order_release);
    return NS_OK;
}

/* Update of an existing id, or insert into a reused slot; write lock held. */
static int add_exclusive(ns_hnsw *h, uint32_t id, const float *v)
{
    int rc = make_owned_and_room(h, (size_t)atomic_load(&h->nslots) + 1);
    if (rc < 0) return rc;
    uint64_t slot;
    int fresh = 0;
    if (ns_u64map_get(&h->map, id, &slot) && slot != NS__MAP_DELETED) {
        /* update in place */
    } else if (h->nfree > 0) {
        slot = h->freel[--h->nfree];
        if (ns_u64map_put(&h->map, id, slot) < 0) {
            h->nfree++;
            return ns_err_set(NS_ENOMEM, "hnsw: out of memory for the id map");
        }
        atomic_fetch_add(&h->live, 1);
    } else {
        slot = atomic_load(&h->nslots);
        if (ns_u64map_put(&h->map, id, slot) < 0) return ns_err_set(NS_ENOMEM, "hnsw: out of memory for the id map");
        atomic_store(&h->nslots, (uint32_t)slot + 1);
        atomic_fetch_add(&h->live, 1);
        fresh = 1;
    }
    uint32_t s = (uint32_t)slot;
    ns__scratch *sc = scratch_get(h);
    if (!sc) return ns_err_set(NS_ENOMEM, "hnsw: out of memory for search buffers");
    if (fresh) {
        int L = draw_level(h, id);
        rc = init_slot(h, s, id, v, L);
        if (rc == NS_OK) rc = link_node(h, sc, s, L);
    } else {
        /* Rewrite the vector and re-link: the search from the entry point
         * still walks the slot's old lists, then they are replaced. Stale
         * in-links from other nodes stay (they only add a routing edge). */
        memcpy(ns__vec(h, s), v, sizeof(float) * (size_t)h->p.dim);
        h->labels[s] = id;
        atomic_store_explicit(&h->flags[s], NS__HF_READY, memory_order_release);
        rc = link_node(h, sc, s, h->levels[s]);
    }
    scratch_put(h, sc);
    return rc;
}

int ns_hnsw_add(ns_hnsw *h, uint32_t id, const float *x)
{
    if (!h || !x) return ns_err_set(NS_EINVAL, "hnsw_add: NULL argument");
    float vbuf[256];
    float *v = h->p.dim <= 256 ? vbuf : malloc(sizeof(float) * (size_t)h->p.dim);
    if (!v) return ns_err_set(NS_ENOMEM, "hnsw_add: out of memory");
    int rc = prepare_vector(h, x, v);
    if (rc < 0) goto done;
    pthread_rwlock_rdlock(&h->rw);
    pthread_mutex_lock(&h->map_mu);
    uint64_t slot;
    int exists = ns_u64map_get(&h->map, id, &slot) && slot != NS__MAP_DELETED;
    uint32_t n = atomic_load(&h->nslots);
    if (exists || h->nfree > 0 || !h->l0_owned || (size_t)n >= h->capacity) {
        pthread_mutex_unlock(&h->map_mu);
        pthread_rwlock_unlock(&h->rw);
        pthread_rwlock_wrlock(&h->rw);
        rc = add_exclusive(h, id, v);
        pthread_rwlock_unlock(&h->rw);
        goto done;
    }
    if (ns_u64map_put(&h->map, id, n) < 0) {
        pthread_mutex_unlock(&h->map_mu);
        pthread_rwlock_unlock(&h->rw);
        rc = ns_err_set(NS_ENOMEM, "hnsw: out of memory for the id map");
        goto done;
    }
    atomic_store(&h->nslots, n + 1);
    atomic_fetch_add(&h->live, 1);
    pthread_mutex_unlock(&h->map_mu);
    int L = draw_level(h, id);
    rc = init_slot(h, n, id, v, L);
    ns__scratch *sc = rc == NS_OK ? scratch_get(h) : NULL;
    if (rc == NS_OK && !sc) rc = ns_err_set(NS_ENOMEM, "hnsw: out of memory for search buffers");
    if (rc == NS_OK) rc = link_node(h, sc, n, L);
    if (sc) scratch_put(h, sc);
    pthread_rwlock_unlock(&h->rw);
done:
    if (v != vbuf) free(v);
    return rc;
}

void ns__hnsw_count_indeg(ns_hnsw *h)
{
    uint32_t ns = atomic_load(&h->nslots);
    for (uint32_t i = 0; i < ns; i++) atomic_store_explicit(&h->indeg[i], 0, memory_order_relaxed);
    for (uint32_t i = 0; i < ns; i++) {
        _Atomic uint32_t *ln = ns__links0(h, i);
        for (uint32_t j = 0, c = atomic_load(&ln[0]); j < c; j++)
            atomic_fetch_add_explicit(&h->indeg[atomic_load(&ln[1 + j])], 1, memory_order_relaxed);
    }
}

/* After a parallel build (index held exclusively), recount the in-degrees
 * and give every live slot without a level-0 in-link one from the nearest
 * of its neighbours that can spare a link: two inserts that prune the same
 * list at once can both read the other's target as still linked. */
static void link_orphans(ns_hnsw *h)
{
    if (h->p.metric == NS_METRIC_IP) return;
    ns__hnsw_count_indeg(h);
    uint32_t ns = atomic_load(&h->nslots), ep = (uint32_t)atomic_load(&h->entry);
    for (uint32_t i = 0; i < ns; i++) {
        if (indeg_of(h, i) || i == ep || (atomic_load(&h->flags[i]) & NS__HF_DELETED)) continue;
        _Atomic uint32_t *ln = ns__links0(h, i);
        for (uint32_t j = 0, c = atomic_load(&ln[0]); j < c; j++)
            if (force_back_link(h, atomic_load(&ln[1 + j]), i, 0)) break;
    }
}

typedef struct { int code; char msg[512]; } batch_err;

int ns_hnsw_add_batch(ns_hnsw *h, const uint32_t *ids, const float *x, size_t n)
{
    if (!h || (!x && n)) return ns_err_set(NS_EINVAL, "hnsw_add_batch: NULL argument");
    /* Make room once, up front, instead of growing under contention. */
    pthread_rwlock_wrlock(&h->rw);
    int rc = make_owned_and_room(h, (size_t)atomic_load(&h->nslots) + n);
    pthread_rwlock_unlock(&h->rw);
    if (rc < 0) return rc;
    ns_progress pr;
    ns_progress_begin(&pr, "hnsw build", (double)n, "vectors");
    batch_err err = {0, ""};
    _Atomic int stop = 0;
#pragma omp parallel for schedule(dynamic, 64) num_threads(ns_threads())
    for (size_t i = 0; i < n; i++) {
        if (atomic_load_explicit(&stop, memory_order_relaxed)) continue;
        uint32_t id = ids ? ids[i] : (uint32_t)i;
        int r = ns_hnsw_add(h, id, x + i * (size_t)h->p.dim);
        if (r < 0) {
#pragma omp critical(ns_hnsw_batch_err)
            if (!err.code) {
                err.code = r;
                snprintf(err.msg, sizeof err.msg, "row %zu (id %u): %s", i, id, ns_err_msg());
            }
            atomic_store(&stop, 1);
        }
        ns_progress_add(&pr, 1);
    }
    ns_progress_end(&pr);
    if (err.code) return ns_err_set(err.code, "%s", err.msg);
    pthread_rwlock_wrlock(&h->rw);
    link_orphans(h);
    pthread_rwlock_unlock(&h->rw);
    return NS_OK;
}

int ns_hnsw_delete(ns_hnsw *h, uint32_t id)
{
    pthread_rwlock_rdlock(&h->rw);
    pthread_mutex_lock(&h->map_mu);
    uint64_t slot;
    int rc = NS_OK;
    if (!ns_u64map_get(&h->map, id, &slot) || slot == NS__MAP_DELETED) {
        rc = ns_err_set_at(NS_ENOTFOUND, NULL, 0, "id", NULL, "hnsw: id %u is not in the index", id);
    } else if (h->nfree == h->free_cap &&
               !(h->freel = realloc(h->freel, sizeof(uint32_t) * (h->free_cap = h->free_cap ? 2 * h->free_cap : 64)))) {
        rc = ns_err_set(NS_ENOMEM, "hnsw: out of memory for the free list");
    } else {
        ns_u64map_put(&h->map, id, NS__MAP_DELETED); /* key exists: no allocation */
        atomic_fetch_or_explicit(&h->flags[slot], NS__HF_DELETED, memory_order_release);
        h->freel[h->nfree++] = (uint32_t)slot;
        atomic_fetch_sub(&h->live, 1);
    }
    pthread_mutex_unlock(&h->map_mu);
    pthread_rwlock_unlock(&h->rw);
    return rc;
}

int ns_hnsw_get(const ns_hnsw *hc, uint32_t id, float *out)
{
    ns_hnsw *h = (ns_hnsw *)hc;
    pthread_rwlock_rdlock(&h->rw);
    pthread_mutex_lock(&h->map_mu);
    uint64_t slot;
    int found = ns_u64map_get(&h->map, id, &slot) && slot != NS__MAP_DELETED;
    pthread_mutex_unlock(&h->map_mu);
    if (found && out) memcpy(out, ns__vec(h, (uint32_t)slot), sizeof(float) * (size_t)h->p.dim);
    pthread_rwlock_unlock(&h->rw);
    return found;
}

/* ===================================================================== */
/* Search                                                                 */
/* ===================================================================== */

static int prep_query(const ns_hnsw *h, ns__scratch *sc, const float *q, const float **qv)
{
    *qv = q;
    if (h->p.metric != NS_METRIC_COSINE) return NS_OK;
    memcpy(sc->qbuf, q, sizeof(float) * (size_t)h->p.dim);
    *qv = sc->qbuf;
    return ns_fvec_normalize(sc->qbuf, (size_t)h->p.dim);
}

/* Exact top-k over the slots of the ids in `allow` (or all slots). */
static int exact_locked(ns_hnsw *h, ns__scratch *sc, const float *q, int k, const ns_filter *f, int over_allow,
                        ns_hit *out)
{
    if (grow_heap(&sc->rs, &sc->rs_cap, k) < 0) return ns_err_set(NS_ENOMEM, "hnsw: out of memory");
    ns__cand *heap = sc->rs;
    int hn = 0;
    if (over_allow) {
        roaring_uint32_iterator_t it;
        roaring_init_iterator(f->allow, &it);
        pthread_mutex_lock(&h->map_mu);
        for (; it.has_value; roaring_advance_uint32_iterator(&it)) {
            uint64_t slot;
            if (!ns_u64map_get(&h->map, it.current_value, &slot) || slot == NS__MAP_DELETED) continue;
            uint32_t s = (uint32_t)slot;
            if (!(atomic_load_explicit(&h->flags[s], memory_order_acquire) & NS__HF_READY)) continue;
            if (!accept(h, s, NS__NO_NODE, f)) continue;
            ns__topk_push(heap, &hn, k, dist_to(h, q, s), s);
        }
        pthread_mutex_unlock(&h->map_mu);
    } else {
        uint32_t n = atomic_load(&h->nslots);
        for (uint32_t s = 0; s < n; s++) {
            uint8_t fl = atomic_load_explicit(&h->flags[s], memory_order_acquire);
            if (!(fl & NS__HF_READY) || (fl & NS__HF_DELETED)) continue;
            if (f && !ns_filter_pass(f, h->labels[s])) continue;
            ns__topk_push(heap, &hn, k, dist_to(h, q, s), s);
        }
    }
    ns__cand_sort(heap, hn);
    for (int i = 0; i < hn; i++) out[i] = (ns_hit){h->labels[heap[i].id], heap[i].d};
    return hn;
}

int ns_hnsw_search(const ns_hnsw *hc, const float *q, int k, int ef, const ns_filter *f, ns_hit *out)
{
    ns_hnsw *h = (ns_hnsw *)hc;
    if (!h || !q || !out || k <= 0) return ns_err_set(NS_EINVAL, "hnsw_search: bad argument (k %d)", k);
    if (f && !f->allow && !f->deny && !f->pred) f = NULL;
    pthread_rwlock_rdlock(&h->rw);
    if (ef <= 0) ef = h->p.ef_search;
    if (ef < k) ef = k;
    int rc;
    ns__scratch *sc = scratch_get(h);
    if (!sc) {
        pthread_rwlock_unlock(&h->rw);
        return ns_err_set(NS_ENOMEM, "hnsw: out of memory for search buffers");
    }
    const float *qv;
    rc = prep_query(h, sc, q, &qv);
    if (rc < 0) goto done;
    if (f && f->allow && roaring_bitmap_get_cardinality(f->allow) <= (uint64_t)h->p.brute_force_below) {
        rc = exact_locked(h, sc, qv, k, f, 1, out);
        goto done;
    }
    uint64_t e = atomic_load(&h->entry);
    uint32_t cur = (uint32_t)e;
    if (cur == NS__NO_NODE) {
        rc = 0;
        goto done;
    }
    float curd = dist_to(h, qv, cur);
    for (int lvl = (int)(e >> 32); lvl > 0; lvl--) greedy(h, qv, lvl, &cur, &curd);
    rc = search_level(h, sc, qv, cur, curd, ef, 0, NS__NO_NODE, f);
    if (rc < 0) goto done;
    int n = sc->rs_n;
    while (n > k) maxh_pop(sc->rs, &n);
    ns__cand_sort(sc->rs, n);
    for (int i = 0; i < n; i++) out[i] = (ns_hit){h->labels[sc->rs[i].id], sc->rs[i].d};
    rc = n;
done:
    scratch_put(h, sc);
    pthread_rwlock_unlock(&h->rw);
    return rc;
}

int ns_hnsw_search_exact(const ns_hnsw *hc, const float *q, int k, const ns_filter *f, ns_hit *out)
{
    ns_hnsw *h = (ns_hnsw *)hc;
    if (!h || !q || !out || k <= 0) return ns_err_set(NS_EINVAL, "hnsw_search_exact: bad argument (k %d)", k);
    pthread_rwlock_rdlock(&h->rw);
    ns__scratch *sc = scratch_get(h);
    int rc;
    if (!sc) {
        rc = ns_err_set(NS_ENOMEM, "hnsw: out of memory for search buffers");
    } else {
        const float *qv;
        rc = prep_query(h, sc, q, &qv);
        if (rc == NS_OK) rc = exact_locked(h, sc, qv, k, f, 0, out);
        scratch_put(h, sc);
    }
    pthread_rwlock_unlock(&h->rw);
    return rc;
}

void ns_hnsw_get_stats(const ns_hnsw *hc, ns_hnsw_stats *st)
{
    ns_hnsw *h = (ns_hnsw *)hc;
    memset(st, 0, sizeof *st);
    pthread_rwlock_rdlock(&h->rw);
    uint32_t n = atomic_load(&h->nslots);
    st->count = atomic_load(&h->live);
    st->slots = n;
    pthread_mutex_lock(&h->map_mu);
    st->deleted = h->nfree;
    size_t mapb = h->map.cap * (2 * sizeof(uint64_t) + 1) + h->free_cap * sizeof(uint32_t);
    pthread_mutex_unlock(&h->map_mu);
    st->capacity = h->capacity;
    st->max_level = (int)(atomic_load(&h->entry) >> 32);
    st->file_image = !h->l0_owned;
    size_t bytes = h->capacity * (h->rec + sizeof(uint32_t) + 3 + sizeof(void *)) + mapb;
    double deg = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!(atomic_load_explicit(&h->flags[i], memory_order_acquire) & NS__HF_READY)) continue;
        if (h->levels[i]) bytes += (size_t)h->levels[i] * (size_t)(h->p.M + 1) * sizeof(uint32_t);
        deg += atomic_load_explicit(ns__links0(h, i), memory_order_acquire);
    }
    st->bytes = bytes;
    st->avg_degree0 = n ? deg / n : 0;
    pthread_rwlock_unlock(&h->rw);
}
