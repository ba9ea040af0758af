/*
 * bm25_io.c — save and load BM25 indexes (safetensors; the format is the
 * tables of bm25.h, checked by ns_st_load).
 *
 * Save writes only live documents, renumbered densely, so deletes are
 * compacted away. Load lets the schema check the config and the tensors'
 * shapes, then checks every term, offset, document number, frequency and
 * id while building the in-memory lists: a corrupt file is refused with
 * the tensor named, never half-loaded.
 */
#include "bm25_int.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    json_t *c = json_pack("{s:s,s:i,s:f,s:f,s:s,s:o,s:I,s:I,s:I}", "format", NS_BM25_FORMAT, "version", NS_BM25_VERSION,
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

/* ---- load ---------------------------------------------------------------- */

enum {
#define K(name, ...) BK_##name,
    NS_BM25_FILE_CONFIG(K)
#undef K
    BK__COUNT
};
enum {
#define T(id, ...) BT_##id,
    NS_BM25_FILE_TENSORS(T)
#undef T
    BT__COUNT
};
static const ns_st_keydef bm25_keys[] = {NS_BM25_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef bm25_tensors[] = {NS_BM25_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema bm25_schema = {.what = "a bm25 index", .format = NS_BM25_FORMAT,
                                         .version = NS_BM25_VERSION, .min_version = 1, .keys = bm25_keys,
                                         .nkeys = BK__COUNT, .tensors = bm25_tensors, .ntensors = BT__COUNT};

#define bad(f, field, ...) ns_st_bad(f, &bm25_schema, field, __VA_ARGS__)

/* The parameters of the config ("fields" is checked here, the rest by the
 * table and ns_bm25_create). */
static int load_params(const ns_st_file *f, const ns_st_value *v, ns_bm25_params *p)
{
    *p = ns_bm25_defaults();
    p->k1 = (float)v[BK_k1].num;
    p->b = (float)v[BK_b].num;
    snprintf(p->stem, sizeof p->stem, "%s", v[BK_stem].str);
    json_t *fields = json_loads(v[BK_fields].str, 0, NULL);
    p->nfields = (int)v[BK_fields].i;
    int rc = fields ? NS_OK : ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
    for (int i = 0; i < p->nfields && rc == NS_OK; i++) {
        json_t *fi = json_array_get(fields, (size_t)i);
        const char *nm = json_string_value(json_object_get(fi, "name"));
        json_t *wt = json_object_get(fi, "weight");
        if (!nm || strlen(nm) >= sizeof p->field_names[i] || !json_is_number(wt))
            rc = bad(f, "fields", "field %d is not {\"name\": up to 31 bytes, \"weight\": a number}", i);
        else snprintf(p->field_names[i], sizeof p->field_names[i], "%s", nm);
        p->field_weights[i] = (float)json_number_value(wt);
    }
    json_decref(fields);
    return rc;
}

/* Exactly nt NUL-terminated, distinct terms fill the tensor. */
static int load_terms(const ns_st_file *f, ns_bm25 *ix, const ns_st_tensor *tt, size_t nt)
{
    const char *tb = tt->data;
    size_t tlen = tt->nbytes, pos = 0;
    for (size_t t = 0; t < nt; t++) {
        const char *z = pos < tlen ? memchr(tb + pos, 0, tlen - pos) : NULL;
        if (!z) return bad(f, "terms", "term %zu is not NUL-terminated inside the tensor", t);
        size_t len = (size_t)(z - (tb + pos));
        if (ns_strmap_find(ix->terms, tb + pos, len) >= 0)
            return bad(f, "terms", "term %zu (\"%.40s\") appears twice", t, tb + pos);
        if (ns_strmap_intern(ix->terms, tb + pos, len) != (int64_t)t) return ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        pos += len + 1;
    }
    if (pos != tlen) return bad(f, "terms", "%zu bytes after the last term", tlen - pos);
    return NS_OK;
}

/* The arrays of nd documents, nt terms and np postings. */
static int alloc_lists(ns_bm25 *ix, size_t nd, size_t nt, size_t np)
{
    size_t cap = nd + 2;
    ix->ext = malloc(sizeof(uint32_t) * cap);
    ix->dl = malloc(sizeof(float) * cap);
    ix->del = calloc(cap, 1);
    ix->fwd_off = calloc(cap, sizeof(uint64_t));
    ix->pl = calloc(nt + 1, sizeof(ns__plist));
    ix->acc = calloc(nt + 1, sizeof(float));
    ix->fwd = malloc(sizeof(uint32_t) * (np + 1));
    if (!ix->ext || !ix->dl || !ix->del || !ix->fwd_off || !ix->pl || !ix->acc || !ix->fwd)
        return ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
    ix->docs_cap = cap;
    ix->pl_cap = ix->acc_cap = nt + 1;
    ix->fwd_cap = np + 1;
    ix->npl = nt;
    return NS_OK;
}

/* Ids (unique, 32-bit) and lengths (>= 0; finite, as the schema checked)
 * of the documents. */
static int load_docs(const ns_st_file *f, ns_bm25 *ix, const ns_st_tensor *const *t, size_t nd)
{
    const unsigned char *idb = t[BT_doc_ids]->data, *dlb = t[BT_doc_len]->data;
    for (size_t d = 0; d < nd; d++) {
        int64_t id;
        float dl;
        memcpy(&id, idb + 8 * d, 8);
        memcpy(&dl, dlb + 4 * d, 4);
        uint64_t prev;
        if (id < 0 || id > (int64_t)UINT32_MAX)
            return bad(f, "doc_ids", "document %zu has id %lld outside 0..2^32-1", d, (long long)id);
        if (dl < 0) return bad(f, "doc_len", "document %zu has length %g", d, (double)dl);
        if (ns_u64map_get(&ix->map, (uint64_t)id, &prev)) return bad(f, "doc_ids", "id %lld is stored twice", (long long)id);
        if (ns_u64map_put(&ix->map, (uint64_t)id, (uint64_t)d) < 0) return ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        ix->ext[d] = (uint32_t)id;
        ix->dl[d] = dl;
        ix->total_dl += dl;
    }
    ix->ndocs = (uint32_t)nd;
    ix->live = nd;
    return NS_OK;
}

/* Term t's postings [o0, o1): documents strictly increasing and in range,
 * frequencies positive (finite: the schema); dcount[d] counts each document's terms. */
static int load_list(const ns_st_file *f, ns_bm25 *ix, const ns_st_tensor *const *t, size_t term, int64_t o0,
                     int64_t o1, uint32_t *dcount)
{
    const unsigned char *pdb = t[BT_post_docs]->data, *ptb = t[BT_post_tf]->data;
    int32_t last = -1;
    for (int64_t j = o0; j < o1; j++) {
        int32_t d;
        float tf;
        memcpy(&d, pdb + 4 * j, 4);
        memcpy(&tf, ptb + 4 * j, 4);
        if (d <= last || (uint32_t)d >= ix->ndocs)
            return bad(f, "post_docs", "term %zu: document %d out of order or range", term, d);
        if (tf <= 0) return bad(f, "post_tf", "term %zu: frequency %g", term, (double)tf);
        last = d;
        if (ns__bm25_append_posting(&ix->pl[term], (uint32_t)d, tf, ix->dl[d]) < 0)
            return ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        dcount[d]++;
    }
    ix->pl[term].df = ix->pl[term].n;
    return NS_OK;
}

/* Every list; the offsets run from 0 to np without going back. */
static int load_postings(const ns_st_file *f, ns_bm25 *ix, const ns_st_tensor *const *t, int64_t np, uint32_t *dcount)
{
    const unsigned char *ob = t[BT_post_off]->data;
    int64_t o0, o1;
    memcpy(&o0, ob, 8);
    if (o0 != 0) return bad(f, "post_off", "first offset is %lld, not 0", (long long)o0);
    for (size_t term = 0; term < ix->npl; term++, o0 = o1) {
        memcpy(&o1, ob + 8 * (term + 1), 8);
        if (o1 < o0 || o1 > np)
            return bad(f, "post_off", "offset %lld of term %zu outside %lld..%lld", (long long)o1, term, (long long)o0,
                       (long long)np);
        int rc = load_list(f, ix, t, term, o0, o1, dcount);
        if (rc < 0) return rc;
    }
    if (o0 != np) return bad(f, "post_off", "last offset %lld, expected %lld", (long long)o0, (long long)np);
    return NS_OK;
}

/* Forward lists (the term ids of each document) by counting sort. */
static void build_forward(ns_bm25 *ix, uint32_t *dcount)
{
    uint64_t acc = 0;
    for (uint32_t d = 0; d < ix->ndocs; d++) {
        ix->fwd_off[d] = acc;
        acc += dcount[d];
        dcount[d] = 0;
    }
    ix->fwd_off[ix->ndocs] = acc;
    for (size_t t = 0; t < ix->npl; t++)
        for (uint32_t j = 0; j < ix->pl[t].n; j++) {
            uint32_t d = ix->pl[t].doc[j];
            ix->fwd[ix->fwd_off[d] + dcount[d]++] = (uint32_t)t;
        }
    ix->nfwd = (size_t)acc;
}

int ns_bm25_load(ns_bm25 **out, const char *path)
{
    *out = NULL;
    ns_st_value v[BK__COUNT];
    const ns_st_tensor *t[BT__COUNT];
    ns_st_file *f;
    int rc = ns_st_load(&f, path, &bm25_schema, v, t);
    if (rc < 0) return rc;
    ns_bm25 *ix = NULL;
    ns_bm25_params p;
    uint32_t *dcount = NULL;
    size_t nd = (size_t)v[BK_docs].i, nt = (size_t)v[BK_terms].i, np = (size_t)v[BK_postings].i;
    if ((rc = load_params(f, v, &p)) < 0) goto done;
    if ((rc = ns_bm25_create(&ix, &p)) < 0) { /* the record may be passed back in */
        rc = bad(f, ns_err_last()->field[0] ? ns_err_last()->field : "config", "%s", ns_err_last()->msg);
        goto done;
    }
    if ((rc = load_terms(f, ix, t[BT_terms], nt)) < 0 || (rc = alloc_lists(ix, nd, nt, np)) < 0 ||
        (rc = load_docs(f, ix, t, nd)) < 0)
        goto done;
    if (!(dcount = calloc(nd + 1, sizeof(uint32_t)))) {
        rc = ns_err_set(NS_ENOMEM, "bm25 load: out of memory");
        goto done;
    }
    if ((rc = load_postings(f, ix, t, (int64_t)np, dcount)) < 0) goto done;
    build_forward(ix, dcount);
    *out = ix;
    ix = NULL;
done:
    free(dcount);
    ns_bm25_free(ix);
    ns_st_close(f);
    return rc;
}
