/*
 * hnsw_io.c — save and load HNSW indexes (safetensors; the format is the
 * tables of hnsw.h, checked by ns_st_load).
 *
 * An index of 10^6 vectors takes minutes to build and must open in well
 * under a second: load reads the file once into memory (ns_st_open: a
 * copy, so a writer of the file cannot reach the loaded index) and uses the
 * level-0 block (vectors and links, ~90% of the bytes) in that image; only
 * the small per-slot arrays are copied out. After the schema's checks the
 * loader checks what the tables cannot say (the layout, every vector
 * finite, every link, level and label), because a corrupt link id or level
 * would otherwise send a search outside the arrays, and a NaN coordinate
 * would make every distance to it NaN.
 */
#include "index_int.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int ns_hnsw_save(const ns_hnsw *hc, const char *path)
{
    ns_hnsw *h = (ns_hnsw *)hc;
    int rc = NS_OK;
    int64_t *labels = NULL;
    uint8_t *del = NULL;
    int32_t *up = NULL;
    char *cfg = NULL;
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return ns_err_set(NS_ENOMEM, "hnsw save: out of memory");
    pthread_rwlock_wrlock(&h->rw);
    uint32_t n = atomic_load(&h->nslots);
    size_t nup = 0;
    for (uint32_t i = 0; i < n; i++) nup += (size_t)h->levels[i] * (size_t)(h->p.M + 1);
    labels = malloc(sizeof(int64_t) * (n ? n : 1));
    del = malloc(n ? n : 1);
    up = malloc(sizeof(int32_t) * (nup ? nup : 1));
    if (!labels || !del || !up) {
        rc = ns_err_set(NS_ENOMEM, "hnsw save: out of memory");
        goto done;
    }
    size_t u = 0;
    for (uint32_t i = 0; i < n; i++) {
        labels[i] = h->labels[i];
        del[i] = (atomic_load(&h->flags[i]) & NS__HF_DELETED) ? 1 : 0;
        size_t len = (size_t)h->levels[i] * (size_t)(h->p.M + 1);
        for (size_t j = 0; j < len; j++) up[u + j] = (int32_t)atomic_load_explicit(&h->upper[i][j], memory_order_relaxed);
        u += len;
    }
    uint64_t e = atomic_load(&h->entry);
    json_t *c = json_pack("{s:s,s:i,s:i,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:i,s:I,s:i}", "format", NS_HNSW_FORMAT, "version",
                          NS_HNSW_VERSION, "dim", h->p.dim, "metric", ns_metric_name(h->p.metric), "M", h->p.M,
                          "ef_construction", h->p.ef_construction, "ef_search", h->p.ef_search, "seed",
                          (json_int_t)h->p.seed, "count", (json_int_t)n, "entry",
                          (json_int_t)((uint32_t)e == NS__NO_NODE ? -1 : (json_int_t)(uint32_t)e), "max_level",
                          (int)(e >> 32), "rec", (json_int_t)h->rec, "brute_force_below", h->p.brute_force_below);
    cfg = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    if (!cfg) {
        rc = ns_err_set(NS_ENOMEM, "hnsw save: cannot encode config");
        goto done;
    }
    int64_t s0[2] = {n, (int64_t)h->rec}, s1[1] = {n}, s2[1] = {(int64_t)nup};
    if ((rc = ns_st_writer_add(w, "l0", NS_DT_U8, 2, s0, h->l0)) < 0 ||
        (rc = ns_st_writer_add(w, "labels", NS_DT_I64, 1, s1, labels)) < 0 ||
        (rc = ns_st_writer_add(w, "levels", NS_DT_U8, 1, s1, h->levels)) < 0 ||
        (rc = ns_st_writer_add(w, "deleted", NS_DT_U8, 1, s1, del)) < 0 ||
        (rc = ns_st_writer_add(w, "upper", NS_DT_I32, 1, s2, up)) < 0 ||
        (rc = ns_st_writer_meta(w, "config", cfg)) < 0)
        goto done;
    rc = ns_st_writer_write(w, path);
    if (rc < 0) ns_err_wrap("saving hnsw index %s", path);
done:
    pthread_rwlock_unlock(&h->rw);
    ns_st_writer_free(w);
    free(labels);
    free(del);
    free(up);
    free(cfg);
    return rc;
}

/* ---- load ---------------------------------------------------------------- */

enum {
#define K(name, ...) HK_##name,
    NS_HNSW_FILE_CONFIG(K)
#undef K
    HK__COUNT
};
enum {
#define T(id, ...) HT_##id,
    NS_HNSW_FILE_TENSORS(T)
#undef T
    HT__COUNT
};
static const ns_st_keydef hnsw_keys[] = {NS_HNSW_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef hnsw_tensors[] = {NS_HNSW_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema hnsw_schema = {.what = "an hnsw index", .format = NS_HNSW_FORMAT,
                                         .version = NS_HNSW_VERSION, .min_version = 1, .keys = hnsw_keys,
                                         .nkeys = HK__COUNT, .tensors = hnsw_tensors, .ntensors = HT__COUNT};
_Static_assert(NS__MAX_LEVEL == 31, "the max_level row of NS_HNSW_FILE_CONFIG allows 0..31");

#define bad(f, field, ...) ns_st_bad(f, &hnsw_schema, field, __VA_ARGS__)

/* The parameters of the config; the record size they imply must be rec. */
static int load_params(const ns_st_file *f, const ns_st_value *v, ns_hnsw_params *p)
{
    *p = ns_hnsw_defaults((int)v[HK_dim].i, NS_METRIC_L2);
    if (ns_metric_parse(v[HK_metric].str, &p->metric) < 0)
        return bad(f, "metric", "unknown metric \"%s\"", v[HK_metric].str);
    p->M = (int)v[HK_M].i;
    p->ef_construction = (int)v[HK_ef_construction].i;
    p->ef_search = (int)v[HK_ef_search].i;
    p->seed = (uint64_t)v[HK_seed].i;
    p->brute_force_below = (int)v[HK_brute_force_below].i;
    ns_hnsw lay;
    memset(&lay, 0, sizeof lay);
    lay.p = *p;
    if (ns__hnsw_layout(&lay) < 0) return bad(f, ns_err_last()->field, "%s", ns_err_last()->msg); /* may alias */
    if ((long long)lay.rec != v[HK_rec].i)
        return bad(f, "rec", "record size %lld does not match the layout of dim and M (%zu)", (long long)v[HK_rec].i,
                   lay.rec);
    return NS_OK;
}

/* Levels and flags in range, the entry on the top level, and the length of
 * "upper" (*nup) the levels imply. */
static int check_levels(const ns_st_file *f, const ns_st_value *v, const ns_st_tensor *const *t, size_t *nup)
{
    const uint8_t *lev = t[HT_levels]->data, *del = t[HT_deleted]->data;
    size_t n = (size_t)v[HK_count].i, M1 = (size_t)v[HK_M].i + 1;
    long long maxl = v[HK_max_level].i, entry = v[HK_entry].i;
    *nup = 0;
    for (size_t i = 0; i < n; i++) {
        if (lev[i] > maxl) return bad(f, "levels", "slot %zu has level %d above max_level %lld", i, lev[i], maxl);
        if (del[i] > 1) return bad(f, "deleted", "slot %zu has flag %d (expected 0 or 1)", i, del[i]);
        *nup += (size_t)lev[i] * M1;
    }
    if ((size_t)t[HT_upper]->shape[0] != *nup)
        return bad(f, "upper", "has %lld entries, the levels need %zu", (long long)t[HT_upper]->shape[0], *nup);
    if (n == 0 && entry != -1) return bad(f, "entry", "empty index with entry %lld", entry);
    if (n > 0 && (entry < 0 || (size_t)entry >= n || lev[entry] != maxl))
        return bad(f, "entry", "entry slot %lld is not a slot on max_level %lld", entry, maxl);
    return NS_OK;
}

/* The level-0 block, in place in the file image when aligned, else copied;
 * then in one pass over the records every vector element finite and every
 * link count and id in range. */
static int load_l0(const ns_st_file *f, ns_hnsw *h, const ns_st_tensor *tl0, size_t n)
{
    if (n > 0 && ((uintptr_t)tl0->data & 3) == 0) {
        h->l0 = (char *)tl0->data;
        h->l0_owned = 0;
    } else {
        if (!(h->l0 = ns_malloc_aligned((n ? n : 1) * h->rec))) return ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
        h->l0_owned = 1;
        if (n) memcpy(h->l0, tl0->data, n * h->rec);
    }
    for (size_t i = 0; i < n; i++) {
        const float *x = (const float *)(h->l0 + i * h->rec);
        int64_t e = ns_dtype_find_nonfinite(NS_DT_F32, x, (size_t)h->p.dim);
        if (e >= 0)
            return bad(f, "l0", "slot %zu: vector element %lld is %g (vectors must be finite)", i, (long long)e,
                       (double)x[e]);
        const uint32_t *ln = (const uint32_t *)(h->l0 + i * h->rec + h->links_off);
        if (ln[0] > (uint32_t)h->M0) return bad(f, "l0", "slot %zu has %u level-0 links", i, ln[0]);
        for (uint32_t j = 0; j < ln[0]; j++)
            if (ln[1 + j] >= n) return bad(f, "l0", "slot %zu links to slot %u (out of range)", i, ln[1 + j]);
    }
    return NS_OK;
}

/* Slot i's upper lists from ub (unaligned), each link to a slot on that level. */
static int load_upper_slot(const ns_st_file *f, ns_hnsw *h, size_t i, const uint8_t *ub, size_t n)
{
    size_t M1 = (size_t)h->p.M + 1, len = (size_t)h->levels[i] * M1;
    if (!(h->upper[i] = malloc(sizeof(uint32_t) * len))) return ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
    for (size_t j = 0; j < len; j++) {
        int32_t x;
        memcpy(&x, ub + 4 * j, 4);
        atomic_init(&h->upper[i][j], (uint32_t)x);
    }
    for (int l = 1; l <= h->levels[i]; l++) {
        _Atomic uint32_t *ln = h->upper[i] + (size_t)(l - 1) * M1;
        uint32_t cnt = atomic_load(&ln[0]);
        if (cnt > (uint32_t)h->p.M) return bad(f, "upper", "slot %zu has %u links on level %d", i, cnt, l);
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t x = atomic_load(&ln[1 + j]);
            if (x >= n || h->levels[x] < l)
                return bad(f, "upper", "slot %zu links to slot %u, which is not on level %d", i, x, l);
        }
    }
    return NS_OK;
}

/* Labels, flags, the id map and the free list of deleted slots. */
static int load_labels(const ns_st_file *f, ns_hnsw *h, const ns_st_tensor *const *t, size_t n)
{
    const uint8_t *lb = t[HT_labels]->data, *del = t[HT_deleted]->data;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        memcpy(&id, lb + 8 * i, 8);
        if (id < 0 || id > (int64_t)UINT32_MAX) return bad(f, "labels", "slot %zu has id %lld outside 0..2^32-1", i, (long long)id);
        h->labels[i] = (uint32_t)id;
        atomic_init(&h->flags[i], del[i] ? NS__HF_READY | NS__HF_DELETED : NS__HF_READY);
        uint64_t prev;
        if (del[i]) {
            if (h->nfree == h->free_cap) {
                size_t nc = h->free_cap ? 2 * h->free_cap : 64;
                uint32_t *nf = realloc(h->freel, sizeof(uint32_t) * nc);
                if (!nf) return ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
                h->freel = nf;
                h->free_cap = nc;
            }
            h->freel[h->nfree++] = (uint32_t)i;
        } else if (ns_u64map_get(&h->map, (uint64_t)id, &prev) && prev != NS__MAP_DELETED) {
            return bad(f, "labels", "id %lld is stored twice (slot %zu)", (long long)id, i);
        } else if (ns_u64map_put(&h->map, (uint64_t)id, i) < 0) {
            return ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
        } else {
            live++;
        }
    }
    atomic_store(&h->live, live);
    return NS_OK;
}

int ns_hnsw_load(ns_hnsw **out, const char *path)
{
    *out = NULL;
    ns_st_value v[HK__COUNT];
    const ns_st_tensor *t[HT__COUNT];
    ns_st_file *f;
    int rc = ns_st_load(&f, path, &hnsw_schema, v, t);
    if (rc < 0) return rc;
    ns_hnsw *h = NULL;
    ns_hnsw_params p;
    size_t n = (size_t)v[HK_count].i, nup;
    /* everything the tables cannot say is checked before allocating, so a
     * lying count cannot make us allocate more than the file holds */
    if ((rc = load_params(f, v, &p)) < 0 || (rc = check_levels(f, v, t, &nup)) < 0 ||
        (rc = ns__hnsw_alloc(&h, &p, n, 0)) < 0)
        goto fail;
    memcpy(h->levels, t[HT_levels]->data, n);
    atomic_store(&h->nslots, (uint32_t)n); /* ns_hnsw_free frees upper[0..n) */
    if ((rc = load_l0(f, h, t[HT_l0], n)) < 0) goto fail;
    for (size_t i = 0, u = 0; i < n; i++) {
        if (h->levels[i] && (rc = load_upper_slot(f, h, i, (const uint8_t *)t[HT_upper]->data + 4 * u, n)) < 0)
            goto fail;
        u += (size_t)h->levels[i] * (size_t)(p.M + 1);
    }
    if ((rc = load_labels(f, h, t, n)) < 0) goto fail;
    ns__hnsw_count_indeg(h);
    atomic_store(&h->entry, ns__entry_pack(n ? (uint32_t)v[HK_entry].i : NS__NO_NODE, n ? (int)v[HK_max_level].i : 0));
    if (h->l0_owned) ns_st_close(f);
    else h->file = f;
    *out = h;
    return NS_OK;
fail:
    if (h && !h->l0_owned) h->l0 = NULL;
    ns_hnsw_free(h);
    ns_st_close(f);
    return rc;
}
