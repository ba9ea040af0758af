/*
 * hnsw_io.c — save and load HNSW indexes (safetensors; layout in hnsw.h).
 *
 * Why: an index of 10^6 vectors takes minutes to build and must open in
 * milliseconds: load maps the file and uses the level-0 block (vectors and
 * links, ~90% of the bytes) in place; only the small per-slot arrays are
 * copied. Every field is validated first, because a corrupt link id or level
 * would otherwise send a search outside the arrays.
 */
#include "index_int.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define HNSW_FORMAT "northstar-hnsw"
#define HNSW_VERSION 1

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
    json_t *c = json_pack("{s:s,s:i,s:i,s:s,s:i,s:i,s:i,s:I,s:I,s:I,s:i,s:I,s:i}", "format", HNSW_FORMAT, "version",
                          HNSW_VERSION, "dim", h->p.dim, "metric", ns_metric_name(h->p.metric), "M", h->p.M,
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

#define bad(path, field, ...) ns__bad_file(path, field, "hnsw", __VA_ARGS__)

static int cfg_int(json_t *c, const char *path, const char *key, long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(c, key);
    if (!json_is_integer(v))
        return ns_err_set_at(NS_EFORMAT, path, 0, key, NULL, "hnsw config: missing or non-integer \"%s\"", key);
    long long x = json_integer_value(v);
    if (x < lo || x > hi)
        return ns_err_set_at(NS_EFORMAT, path, 0, key, NULL, "hnsw config: \"%s\" = %lld outside %lld..%lld", key, x, lo, hi);
    *out = x;
    return NS_OK;
}

static const ns_st_tensor *need(const ns_st_file *f, const char *path, const char *name, ns_dtype dt, int64_t d0,
                                int64_t d1)
{
    const ns_st_tensor *t = ns_st_find(f, name);
    if (!t) {
        ns_err_set_at(NS_EFORMAT, path, 0, name, NULL, "not a valid hnsw index: tensor \"%s\" is missing", name);
        return NULL;
    }
    int ndim = d1 < 0 ? 1 : 2;
    if (t->dtype != dt || t->ndim != ndim || t->shape[0] != d0 || (ndim == 2 && t->shape[1] != d1)) {
        ns_err_set_at(NS_EFORMAT, path, 0, name, NULL,
                      "not a valid hnsw index: tensor \"%s\" is %s with %d dims, expected %s [%lld%s]", name,
                      ns_dtype_name(t->dtype), t->ndim, ns_dtype_name(dt), (long long)d0, ndim == 2 ? ", rec" : "");
        return NULL;
    }
    return t;
}

int ns_hnsw_load(ns_hnsw **out, const char *path)
{
    *out = NULL;
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    ns_hnsw *h = NULL;
    json_t *c = NULL;
    const char *cfg = ns_st_meta(f, "config");
    if (!cfg) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "config", NULL, "not an hnsw index: no \"config\" metadata");
        goto fail;
    }
    json_error_t je;
    c = json_loads(cfg, 0, &je);
    const char *fmt = c ? json_string_value(json_object_get(c, "format")) : NULL;
    if (!fmt || strcmp(fmt, HNSW_FORMAT)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "config", NULL, "not an hnsw index (config format is not \"%s\")",
                           HNSW_FORMAT);
        goto fail;
    }
    long long ver, dim, M, efc, efs, seed, count, entry, maxl, rec, bfb;
    if ((rc = cfg_int(c, path, "version", 1, HNSW_VERSION, &ver)) < 0 ||
        (rc = cfg_int(c, path, "dim", 1, 65536, &dim)) < 0 || (rc = cfg_int(c, path, "M", 2, 256, &M)) < 0 ||
        (rc = cfg_int(c, path, "ef_construction", 1, 100000, &efc)) < 0 ||
        (rc = cfg_int(c, path, "ef_search", 1, 100000, &efs)) < 0 ||
        (rc = cfg_int(c, path, "seed", INT64_MIN, INT64_MAX, &seed)) < 0 ||
        (rc = cfg_int(c, path, "count", 0, UINT32_MAX - 1, &count)) < 0 ||
        (rc = cfg_int(c, path, "entry", -1, count - 1, &entry)) < 0 ||
        (rc = cfg_int(c, path, "max_level", 0, NS__MAX_LEVEL, &maxl)) < 0 ||
        (rc = cfg_int(c, path, "rec", 1, 1 << 30, &rec)) < 0 ||
        (rc = cfg_int(c, path, "brute_force_below", 0, INT32_MAX, &bfb)) < 0)
        goto fail;
    ns_hnsw_params p = ns_hnsw_defaults((int)dim, NS_METRIC_L2);
    const char *ms = json_string_value(json_object_get(c, "metric"));
    if (!ms || ns_metric_parse(ms, &p.metric) < 0) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "metric", ms, "hnsw config: bad metric");
        goto fail;
    }
    p.M = (int)M;
    p.ef_construction = (int)efc;
    p.ef_search = (int)efs;
    p.seed = (uint64_t)seed;
    p.brute_force_below = (int)bfb;
    size_t n = (size_t)count;
    /* check the layout and the tensor shapes before allocating anything, so
     * a lying count cannot make us allocate more than the file holds */
    ns_hnsw lay;
    memset(&lay, 0, sizeof lay);
    lay.p = p;
    if ((rc = ns__hnsw_layout(&lay)) < 0) {
        ns_err_wrap("%s: bad config", path);
        rc = NS_EFORMAT;
        goto fail;
    }
    if ((long long)lay.rec != rec) {
        rc = bad(path, "rec", "record size %lld does not match the layout (%lld)", rec, (long long)lay.rec);
        goto fail;
    }
    const ns_st_tensor *tl0 = need(f, path, "l0", NS_DT_U8, (int64_t)n, rec);
    const ns_st_tensor *tlab = need(f, path, "labels", NS_DT_I64, (int64_t)n, -1);
    const ns_st_tensor *tlev = need(f, path, "levels", NS_DT_U8, (int64_t)n, -1);
    const ns_st_tensor *tdel = need(f, path, "deleted", NS_DT_U8, (int64_t)n, -1);
    const ns_st_tensor *tup = ns_st_find(f, "upper");
    if (!tl0 || !tlab || !tlev || !tdel) {
        rc = NS_EFORMAT;
        goto fail;
    }
    if (!tup || tup->dtype != NS_DT_I32 || tup->ndim != 1) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "upper", NULL, "not a valid hnsw index: tensor \"upper\" missing or not I32 [u]");
        goto fail;
    }
    rc = ns__hnsw_alloc(&h, &p, n, 0);
    if (rc < 0) goto fail;
    const uint8_t *lev = tlev->data, *del = tdel->data;
    size_t nup = 0;
    for (size_t i = 0; i < n; i++) {
        if (lev[i] > maxl) {
            rc = bad(path, "levels", "slot %lld has level %lld above max_level", (long long)i, (long long)lev[i]);
            goto fail;
        }
        if (del[i] > 1) {
            rc = bad(path, "deleted", "slot %lld has flag %lld (expected 0 or 1)", (long long)i, (long long)del[i]);
            goto fail;
        }
        nup += (size_t)lev[i] * (size_t)(M + 1);
    }
    if ((size_t)tup->shape[0] != nup) {
        rc = bad(path, "upper", "has %lld entries, the levels need %lld", (long long)tup->shape[0], (long long)nup);
        goto fail;
    }
    if (n > 0 && (entry < 0 || lev[entry] != maxl)) {
        rc = bad(path, "entry", "entry slot %lld is not on max_level %lld", entry, maxl);
        goto fail;
    }
    if (n == 0 && entry != -1) {
        rc = bad(path, "entry", "empty index with entry %lld", entry);
        goto fail;
    }
    /* level-0 block: in place when aligned, else copied */
    if (n > 0 && ((uintptr_t)tl0->data & 3) == 0) {
        h->l0 = (char *)tl0->data;
        h->l0_owned = 0;
    } else {
        h->l0 = ns_malloc_aligned((n ? n : 1) * h->rec);
        if (!h->l0) {
            rc = ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
            goto fail;
        }
        h->l0_owned = 1;
        if (n) memcpy(h->l0, tl0->data, n * h->rec);
    }
    for (size_t i = 0; i < n; i++) {
        const uint32_t *ln = (const uint32_t *)(h->l0 + i * h->rec + h->links_off);
        if (ln[0] > (uint32_t)h->M0) {
            rc = bad(path, "l0", "slot %lld has %lld level-0 links", (long long)i, (long long)ln[0]);
            goto fail;
        }
        for (uint32_t j = 0; j < ln[0]; j++)
            if (ln[1 + j] >= n) {
                rc = bad(path, "l0", "slot %lld links to slot %lld (out of range)", (long long)i, (long long)ln[1 + j]);
                goto fail;
            }
    }
    const uint8_t *ub = tup->data; /* may be unaligned: copy with memcpy */
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        h->levels[i] = lev[i];
        if (!lev[i]) continue;
        size_t len = (size_t)lev[i] * (size_t)(M + 1);
        h->upper[i] = malloc(sizeof(uint32_t) * len);
        if (!h->upper[i]) {
            rc = ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
            atomic_store(&h->nslots, (uint32_t)i);
            goto fail;
        }
        for (size_t j = 0; j < len; j++) {
            int32_t v;
            memcpy(&v, ub + 4 * (u + j), 4);
            atomic_init(&h->upper[i][j], (uint32_t)v);
        }
        u += len;
        for (int l = 1; l <= lev[i]; l++) {
            _Atomic uint32_t *ln = h->upper[i] + (size_t)(l - 1) * (size_t)(M + 1);
            uint32_t cnt = atomic_load(&ln[0]);
            if (cnt > (uint32_t)M) {
                atomic_store(&h->nslots, (uint32_t)i + 1);
                rc = bad(path, "upper", "slot %lld has %lld links on an upper level", (long long)i, (long long)cnt);
                goto fail;
            }
            for (uint32_t j = 0; j < cnt; j++) {
                uint32_t v = atomic_load(&ln[1 + j]);
                if (v >= n || lev[v] < l) {
                    atomic_store(&h->nslots, (uint32_t)i + 1);
                    rc = bad(path, "upper", "slot %lld links to slot %lld, which is not on that level", (long long)i, (long long)v);
                    goto fail;
                }
            }
        }
    }
    atomic_store(&h->nslots, (uint32_t)n);
    const uint8_t *lb = tlab->data;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t id;
        memcpy(&id, lb + 8 * i, 8);
        if (id < 0 || id > (int64_t)UINT32_MAX) {
            rc = bad(path, "labels", "slot %lld has id %lld outside 0..2^32-1", (long long)i, (long long)id);
            goto fail;
        }
        h->labels[i] = (uint32_t)id;
        if (del[i]) {
            atomic_init(&h->flags[i], NS__HF_READY | NS__HF_DELETED);
            if (h->nfree == h->free_cap) {
                size_t nc = h->free_cap ? 2 * h->free_cap : 64;
                uint32_t *nf = realloc(h->freel, sizeof(uint32_t) * nc);
                if (!nf) {
                    rc = ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
                    goto fail;
                }
                h->freel = nf;
                h->free_cap = nc;
            }
            h->freel[h->nfree++] = (uint32_t)i;
            continue;
        }
        atomic_init(&h->flags[i], NS__HF_READY);
        uint64_t prev;
        if (ns_u64map_get(&h->map, (uint64_t)id, &prev) && prev != NS__MAP_DELETED) {
            rc = bad(path, "labels", "id %lld is stored twice (slot %lld)", (long long)id, (long long)i);
            goto fail;
        }
        if (ns_u64map_put(&h->map, (uint64_t)id, i) < 0) {
            rc = ns_err_set(NS_ENOMEM, "hnsw load: out of memory");
            goto fail;
        }
        live++;
    }
    atomic_store(&h->live, live);
    atomic_store(&h->entry, ns__entry_pack(n ? (uint32_t)entry : NS__NO_NODE, n ? (int)maxl : 0));
    json_decref(c);
    if (h->l0_owned) ns_st_close(f);
    else h->file = f;
    *out = h;
    return NS_OK;
fail:
    json_decref(c);
    if (h) {
        if (!h->l0_owned) h->l0 = NULL;
        ns_hnsw_free(h);
    }
    ns_st_close(f);
    return rc < 0 ? rc : NS_EFORMAT;
}
