/*
 * als_io.c — ALS models (als.h) in safetensors: the save, and the one
 * checked load through the schema of als.h's tables (ns_st_load), then the
 * ids (distinct, non-empty). Y'Y for fold-in is recomputed at load.
 */
#include "als_int.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int ids_buf(const ns_strmap *ids, uint32_t n, ns_buf *b)
{
    for (uint32_t k = 0; k < n; k++) {
        size_t len;
        const char *id = ns_strmap_key(ids, k, &len);
        if (ns_buf_append(b, id, len + 1) < 0) return NS_ENOMEM;
    }
    return 0;
}

int ns_als_save(const ns_als *m, const char *path)
{
    ns_buf uids, iids;
    ns_buf_init(&uids);
    ns_buf_init(&iids);
    ns_st_writer *w = ns_st_writer_new();
    char *cs = NULL;
    int rc = w ? 0 : NS_ENOMEM;
    if (rc >= 0) rc = ids_buf(m->users, m->nusers, &uids);
    if (rc >= 0) rc = ids_buf(m->items, m->nitems, &iids);
    if (rc >= 0) {
        json_t *cfg = json_pack("{s:s, s:i, s:i, s:f, s:f, s:i, s:I, s:I}", "format", NS_ALS_FORMAT, "version",
                                NS_ALS_VERSION, "dim", m->dim, "alpha", m->alpha, "lambda", m->lambda, "iters", m->iters,
                                "users", (json_int_t)m->nusers, "items", (json_int_t)m->nitems);
        cs = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
        json_decref(cfg);
        if (!cs) rc = NS_ENOMEM;
    }
    int64_t su = (int64_t)uids.len, si = (int64_t)iids.len;
    int64_t shu[2] = {m->nusers, m->dim}, shi[2] = {m->nitems, m->dim};
    if (rc >= 0) rc = ns_st_writer_add(w, "user_ids", NS_DT_U8, 1, &su, uids.data ? uids.data : "");
    if (rc >= 0) rc = ns_st_writer_add(w, "item_ids", NS_DT_U8, 1, &si, iids.data ? iids.data : "");
    if (rc >= 0) rc = ns_st_writer_add(w, "user_factors", NS_DT_F32, 2, shu, m->uf);
    if (rc >= 0) rc = ns_st_writer_add(w, "item_factors", NS_DT_F32, 2, shi, m->itf);
    if (rc >= 0) rc = ns_st_writer_meta(w, "config", cs);
    if (rc >= 0) rc = ns_st_writer_write(w, path);
    free(cs);
    ns_st_writer_free(w);
    ns_buf_release(&uids);
    ns_buf_release(&iids);
    return rc;
}

enum {
#define K(name, ...) AK_##name,
    NS_ALS_FILE_CONFIG(K)
#undef K
    AK__COUNT
};
enum {
#define T(id, ...) AT_##id,
    NS_ALS_FILE_TENSORS(T)
#undef T
    AT__COUNT
};
static const ns_st_keydef als_keys[] = {NS_ALS_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef als_tensors[] = {NS_ALS_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema als_schema = {.what = "an ALS model", .format = NS_ALS_FORMAT, .version = NS_ALS_VERSION,
                                        .min_version = 1, .keys = als_keys, .nkeys = AK__COUNT,
                                        .tensors = als_tensors, .ntensors = AT__COUNT};

/* n distinct non-empty NUL-terminated ids filling the tensor exactly. */
static int load_ids(const ns_st_file *f, const ns_st_tensor *t, uint32_t n, ns_strmap **out)
{
    ns_strmap *m = *out = ns_strmap_new((size_t)n + 1);
    if (!m) return NS_ENOMEM;
    const char *p = t->data, *end = p + t->nbytes;
    for (uint32_t k = 0; k < n; k++) {
        const char *z = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        if (!z || z == p || ns_strmap_intern(m, p, (size_t)(z - p)) != (int64_t)k)
            return ns_st_bad(f, &als_schema, t->name, "expected %u distinct non-empty NUL-terminated ids", n);
        p = z + 1;
    }
    if (p != end) return ns_st_bad(f, &als_schema, t->name, "bytes after the %u ids", n);
    return 0;
}

static float *copy_f32(const ns_st_tensor *t)
{
    float *x = ns_malloc(t->nbytes ? t->nbytes : 1);
    if (x && t->nbytes) memcpy(x, t->data, t->nbytes);
    return x;
}

int ns_als_load(ns_als **out, const char *path)
{
    *out = NULL;
    ns_st_value v[AK__COUNT];
    const ns_st_tensor *t[AT__COUNT];
    ns_st_file *f;
    int rc = ns_st_load(&f, path, &als_schema, v, t);
    if (rc < 0) return rc;
    ns_als *m = ns_calloc(1, sizeof *m);
    if (!m) {
        ns_st_close(f);
        return NS_ENOMEM;
    }
    m->dim = (int)v[AK_dim].i;
    m->alpha = v[AK_alpha].num;
    m->lambda = v[AK_lambda].num;
    m->iters = (int)v[AK_iters].i;
    m->nusers = (uint32_t)v[AK_users].i;
    m->nitems = (uint32_t)v[AK_items].i;
    rc = load_ids(f, t[AT_user_ids], m->nusers, &m->users);
    if (rc >= 0) rc = load_ids(f, t[AT_item_ids], m->nitems, &m->items);
    if (rc >= 0) {
        m->uf = copy_f32(t[AT_user_factors]);
        m->itf = copy_f32(t[AT_item_factors]);
        m->yty = ns_malloc(sizeof *m->yty * (size_t)m->dim * m->dim);
        if (!m->uf || !m->itf || !m->yty) rc = NS_ENOMEM;
    }
    if (rc >= 0) ns__als_gram(m->itf, m->nitems, m->dim, m->yty);
    ns_st_close(f);
    if (rc < 0) {
        ns_als_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
