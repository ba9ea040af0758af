/*
 * bm25_io.c — save and load BM25 indexes (safetensors; layout in bm25.h).
 *
 * Save writes only live documents, renumbered densely, so deletes are
 * compacted away. Load checks every offset, document number, frequency and
 * id before building the in-memory lists: a corrupt file is refused with the
 * tensor named, never half-loaded.
 */
#include "bm25_int.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define BM25_FORMAT "northstar-bm25"
#define BM25_VERSION 1

int ns_bm25_save(ns_bm25 *ix, const char *path)
{
    pthread_rwlock_wrlock(&ix->rw);
    int rc = NS_OK;
    ns_st_writer *w = ns_st_writer_new();
    uint32_t *newno = malloc(sizeof(uint32_t) * (ix->ndocs + 1));
    int64_t *ids = malloc(sizeof(int64_t) * (ix->live + 1));
    float *dls = malloc(sizeof(float) * (ix->live + 1));
    int64_t *off = malloc(sizeof(int64_t) * (ix->npl + 1));
    size_t np = 0, tb = 0;
    for (size_t t = 0; t < ix->npl; t++) np += ix->pl[t].n;
    int32_t *pd = malloc(sizeof(int32_t) * (np + 1));
    float *ptf = malloc(sizeof(float) * (np + 1));
    for (size_t t = 0; t < ix->npl; t++) {
        size_t len;
        ns_strmap_key(ix->terms, (int64_t)t, &len);
        tb += len + 1;
    }
    char *terms = malloc(tb + 1);
    char *cfg = NULL;
    if (!w || !newno || !ids || !dls || !off || !pd || !ptf || !terms) {
        rc = ns_err_set(NS_ENOMEM, "bm25 save: out of memory");
        goto done;
    }
    uint32_t nl = 0;
    for (uint32_t d = 0; d < ix->ndocs; d++) {
        if (ix->del[d]) {
            newno[d] = UINT32_MAX;
            continue;
        }
        ids[nl] = ix->ext[d];
        dls[nl] = ix->dl[d];
        newno[d] = nl++;
    }
    size_t k = 0, tp = 0;
    for (size_t t = 0; t < ix->npl; t++) {
        off[t] = (int64_t)k;
        const ns__plist *l = &ix->pl[t];
        for (uint32_t j = 0; j < l->n; j++) {
            if (newno[l->doc[j]] == UINT32_MAX) continue;
            pd[k] = (int32_t)newno[l->doc[j]];
            ptf[k] = l->tf[j];
            k++;
        }
        size_t len;
        const char *key = ns_strmap_key(ix->terms, (int64_t)t, &len);
        memcpy(terms + tp, key, len + 1);
        tp += len + 1;
    }
    off[ix->npl] = (int64_t)k;
    json_t *fields = json_array();
    for (int i = 0; i < ix->p.nfields; i++)
        json_array_append_new(fields, json_pack("{s:s,s:f}", "name", ix->p.field_names[i], "weight",
                                                (double)ix->p.field_weights[i]));
    json_t *c = json_pack("{s:s,s:i,s:f,s:f,s:s,s:o,s:I,s:I,s:I}", "format", BM25_FORMAT, "version", BM25_VERSION,
                          "k1", (double)ix->p.k1, "b", (double)ix->p.b, "stem", ix->p.stem, "fields", fields, "docs",
                          (json_int_t)nl, "terms", (json_int_t)ix->npl, "postings", (json_int_t)k);
    cfg = c ? json_dumps(c, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(c);
    if (!cfg) {
        rc = ns_err_set(NS_ENOMEM, "bm25 save: cannot encode config");
        goto done;
    }
    int64_t st[1] = {(int64_t)tb}, so[1] = {(int64_t)ix->npl + 1}, sp[1] = {(int64_t)k}, sd[1] = {(int64_t)nl};
    if ((rc = ns_st_writer_add(w, "terms", NS_DT_U8, 1, st, terms)) < 0 ||
        (rc = ns_st_writer_add(w, "post_off", NS_DT_I64, 1, so, off)) < 0 ||
        (rc = ns_st_writer_add(w, "post_docs", NS_DT_I32, 1, sp, pd)) < 0 ||
        (rc = ns_st_writer_add(w, "post_tf", NS_DT_F32, 1, sp, ptf)) < 0 ||
        (rc = ns_st_writer_add(w, "doc_ids", NS_DT_I64, 1, sd, ids)) < 0 ||
        (rc = ns_st_writer_add(w, "doc_len", NS_DT_F32, 1, sd, dls)) < 0 ||
        (rc = ns_st_writer_meta(w, "config", cfg)) < 0)
        goto done;
    rc = ns_st_writer_write(w, path);
    if (rc < 0) ns_err_wrap("saving bm25 index %s", path);
done:
    pthread_rwlock_unlock(&ix->rw);
    ns_st_writer_free(w);
    free(newno);
    free(ids);
    free(dls);
    free(off);
    free(pd);
    free(ptf);
    free(terms);
    free(cfg);
    return rc;
}

#define bad(path, field, ...) ns__bad_file(path, field, "bm25", __VA_ARGS__)

static const ns_st_tensor *need(const ns_st_file *f, const char *path, const char *name, ns_dtype dt, int64_t n)
{
    const ns_st_tensor *t = ns_st_find(f, name);
    if (!t) {
        bad(path, name, "tensor \"%s\" is missing", name);
        return NULL;
    }
    if (t->dtype != dt || t->ndim != 1 || (n >= 0 && t->shape[0] != n)) {
        bad(path, name, "tensor \"%s\" is %s with %d dims, expected %s [%lld]", name, ns_dtype_name(t->dtype), t->ndim,
            ns_dtype_name(dt), (long long)n);
        return NULL;
    }
    return t;
}

static int cfg_int(json_t *c, const char *path, const char *key, long long hi, long long *out)
{
    json_t *v = json_object_get(c, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > hi)
        return bad(path, key, "config \"%s\" missing or outside 0..%lld", key, hi);
    *out = json_integer_value(v);
    return NS_OK;
}

int ns_bm25_load(ns_bm25 **out, const char *path)
{
    *out = NULL;
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    ns_bm25 *ix = NULL;
    json_t *c = NULL;
    const char *cfg = ns_st_meta(f, "config");
    json_error_t je;
    c = cfg ? json_loads(cfg, 0, &je) : NULL;
    const char *fmt = c ? json_string_value(json_object_get(c, "format")) : NULL;
    if (!fmt || strcmp(fmt, BM25_FORMAT)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "config", NULL, "not a bm25 index (no config with format \"%s\")",
                           BM25_FORMAT);
        goto fail;
    }
    ns_bm25_params p = ns_bm25_defaults();
    json_t *k1 = json_object_get(c, "k1"), *b = json_object_get(c, "b"), *fields = json_object_get(c, "fields");
    const char *stem = json_string_value(json_object_get(c, "stem"));
    long long ver = 0, nd = 0, nt = 0, np = 0;
    if ((rc = cfg_int(c, path, "version", BM25_VERSION, &ver)) < 0 || (rc = cfg_int(c, path, "docs", UINT32_MAX - 1, &nd)) < 0 ||
        (rc = cfg_int(c, path, "terms", UINT32_MAX - 1, &nt)) < 0 ||
        (rc = cfg_int(c, path, "postings", INT64_MAX / 8, &np)) < 0)
        goto fail;
    if (!json_is_number(k1) || !json_is_number(b) || !stem || strlen(stem) >= sizeof p.stem || !json_is_array(fields) ||
        json_array_size(fields) < 1 || json_array_size(fields) > NS_BM25_MAX_FIELDS) {
        rc = bad(path, "config", "k1, b, stem or fields missing or malformed");
        goto fail;
    }
    p.k1 = (float)json_number_value(k1);
    p.b = (float)json_number_value(b);
    snprintf(p.stem, sizeof p.stem, "%s", stem);
    p.nfields = (int)json_array_size(fields);
    for (int i = 0; i < p.nfields; i++) {
        json_t *fi = json_array_get(fields, (size_t)i);
        const char *nm = json_string_value(json_object_get(fi, "name"));
        json_t *wt = json_object_get(fi, "weight");
        if (!nm || strlen(nm) >= sizeof p.field_names[i] || !json_is_number(wt)) {
            rc = bad(path, "fields", "field %d malformed", i);
            goto fail;
        }
        snprintf(p.field_names[i], sizeof p.field_names[i], "%s", nm);
        p.field_weights[i] = (float)json_number_value(wt);
    }
    if ((rc = ns_bm25_create(&ix, &p)) < 0) {
        ns_err_wrap("%s: bad config", path);
        rc = NS_EFORMAT;
        goto fail;
    }
    const ns_st_tensor *tt = need(f, path, "terms", NS_DT_U8, -1), *to = need(f, path, "post_off", NS_DT_I64, nt + 1),
                       *tdoc = need(f, path, "post_docs", NS_DT_I32, np), *ttf = need(f, path, "post_tf", NS_DT_F32, np),
                       *tid = need(f, path, "doc_ids", NS_DT_I64, nd), *tdl = need(f, path, "doc_len", NS_DT_F32, nd);
    if (!tt || !to || !tdoc || !ttf || !tid || !tdl) {
        rc = NS_EFORMAT;
        goto fail;
    }
    /* terms: exactly nt NUL-terminated, distinct strings */
    const char *tb = tt->data;
    size_t tlen = tt->nbytes, pos = 0;
    for (long long t = 0; t < nt; t++) {
        const char *z = pos < tlen ? memchr(tb + pos, 0, tlen - pos) : NULL;
        if (!z) {
            rc = bad(path, "terms", "term %lld is not NUL-terminated inside the tensor", t);
            goto fail;
        }
        size_t len = (size_t)(z - (tb + pos));
        if (ns_strmap_find(ix->terms, tb + pos, len) >= 0) {
            rc = bad(path, "terms", "term %lld (\"%.40s\") appears twice", t, tb + pos);
            goto fail;
        }
        if (ns_strmap_intern(ix->terms, tb + pos, len) != t) {
            rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
            goto fail;
        }
        pos += len + 1;
    }
    if (pos != tlen) {
        rc = bad(path, "terms", "%zu bytes after the last term", tlen - pos);
        goto fail;
    }
    /* documents */
    size_t cap = (size_t)nd + 2;
    ix->ext = malloc(sizeof(uint32_t) * cap);
    ix->dl = malloc(sizeof(float) * cap);
    ix->del = calloc(cap, 1);
    ix->fwd_off = calloc(cap, sizeof(uint64_t));
    ix->pl = calloc((size_t)nt + 1, sizeof(ns__plist));
    ix->acc = calloc((size_t)nt + 1, sizeof(float));
    ix->fwd = malloc(sizeof(uint32_t) * ((size_t)np + 1));
    if (!ix->ext || !ix->dl || !ix->del || !ix->fwd_off || !ix->pl || !ix->acc || !ix->fwd) {
        rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        goto fail;
    }
    ix->docs_cap = cap;
    ix->pl_cap = ix->acc_cap = (size_t)nt + 1;
    ix->fwd_cap = (size_t)np + 1;
    ix->npl = (size_t)nt;
    const unsigned char *idb = tid->data, *dlb = tdl->data;
    for (long long d = 0; d < nd; d++) {
        int64_t id;
        float dl;
        memcpy(&id, idb + 8 * d, 8);
        memcpy(&dl, dlb + 4 * d, 4);
        if (id < 0 || id > (int64_t)UINT32_MAX) {
            rc = bad(path, "doc_ids", "document %lld has id %lld outside 0..2^32-1", d, (long long)id);
            goto fail;
        }
        if (!isfinite(dl) || dl < 0) {
            rc = bad(path, "doc_len", "document %lld has length %g", d, (double)dl);
            goto fail;
        }
        uint64_t prev;
        if (ns_u64map_get(&ix->map, (uint64_t)id, &prev)) {
            rc = bad(path, "doc_ids", "id %lld is stored twice", (long long)id);
            goto fail;
        }
        if (ns_u64map_put(&ix->map, (uint64_t)id, (uint64_t)d) < 0) {
            rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
            goto fail;
        }
        ix->ext[d] = (uint32_t)id;
        ix->dl[d] = dl;
        ix->total_dl += dl;
    }
    ix->ndocs = (uint32_t)nd;
    ix->live = (size_t)nd;
    /* postings */
    const unsigned char *ob = to->data, *pdb = tdoc->data, *ptb = ttf->data;
    int64_t prev_off = 0;
    memcpy(&prev_off, ob, 8);
    if (prev_off != 0) {
        rc = bad(path, "post_off", "first offset is %lld, not 0", (long long)prev_off);
        goto fail;
    }
    uint32_t *cnt = ix->fwd; /* reuse as per-document counts first */
    memset(cnt, 0, sizeof(uint32_t) * ((size_t)np + 1));
    uint32_t *dcount = calloc((size_t)nd + 1, sizeof(uint32_t));
    if (!dcount) {
        rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        goto fail;
    }
    for (long long t = 0; t < nt && rc == NS_OK; t++) {
        int64_t o1;
        memcpy(&o1, ob + 8 * (t + 1), 8);
        if (o1 < prev_off || o1 > np) {
            rc = bad(path, "post_off", "offset %lld of term %lld outside %lld..%lld", (long long)o1, t,
                     (long long)prev_off, np);
            break;
        }
        int32_t last = -1;
        for (int64_t j = prev_off; j < o1; j++) {
            int32_t d;
            float tf;
            memcpy(&d, pdb + 4 * j, 4);
            memcpy(&tf, ptb + 4 * j, 4);
            if (d <= last || d >= nd) {
                rc = bad(path, "post_docs", "term %lld: document %d out of order or range", t, d);
                break;
            }
            if (!isfinite(tf) || tf <= 0) {
                rc = bad(path, "post_tf", "term %lld: frequency %g", t, (double)tf);
                break;
            }
            last = d;
            if (ns__bm25_append_posting(&ix->pl[t], (uint32_t)d, tf, ix->dl[d]) < 0) {
                rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
                break;
            }
            dcount[d]++;
        }
        ix->pl[t].df = ix->pl[t].n;
        prev_off = o1;
    }
    if (rc == NS_OK && prev_off != np) rc = bad(path, "post_off", "last offset %lld, expected %lld", (long long)prev_off, np);
    if (rc == NS_OK) {
        /* forward lists: term ids of each document, by counting sort */
        uint64_t acc = 0;
        for (long long d = 0; d < nd; d++) {
            ix->fwd_off[d] = acc;
            acc += dcount[d];
            dcount[d] = 0;
        }
        ix->fwd_off[nd] = acc;
        for (size_t t = 0; t < (size_t)nt; t++)
            for (uint32_t j = 0; j < ix->pl[t].n; j++) {
                uint32_t d = ix->pl[t].doc[j];
                ix->fwd[ix->fwd_off[d] + dcount[d]++] = (uint32_t)t;
            }
        ix->nfwd = (size_t)acc;
    }
    free(dcount);
    if (rc < 0) goto fail;
    json_decref(c);
    ns_st_close(f);
    *out = ix;
    return NS_OK;
fail:
    json_decref(c);
    ns_bm25_free(ix);
    ns_st_close(f);
    return rc < 0 ? rc : NS_EFORMAT;
}
