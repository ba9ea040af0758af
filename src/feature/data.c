/*
 * data.c — ns_fdata, the storage of encoded examples: growable CSR arrays
 * for the wide indexes and for each embedded field, a dense block, labels
 * and weights. Rows are appended by the encoder (transform.c) and gathered
 * by index into mini-batches by the trainers; memory grows geometrically
 * and is kept across ns_fdata_clear, so a serving context allocates only
 * while it warms up.
 */
#include "feature_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, int *cap, int need, size_t elem)
{
    if (need <= *cap) return NS_OK;
    int nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = ns_realloc(*p, elem * (size_t)nc);
    if (!q) return NS_ENOMEM;
    *p = q;
    *cap = nc;
    return NS_OK;
}

int ns_fdata_init(ns_fdata *d, const ns_feature_spec *s)
{
    memset(d, 0, sizeof *d);
    if (!s->fitted) return ns_err_set(NS_EINVAL, "the feature spec is not fitted");
    d->n_emb = s->n_emb;
    d->dense_dim = s->dense_dim;
    d->emb_off = ns_calloc((size_t)d->n_emb + 1, sizeof *d->emb_off);
    d->emb_ids = ns_calloc((size_t)d->n_emb + 1, sizeof *d->emb_ids);
    d->emb_nnz = ns_calloc((size_t)d->n_emb + 1, sizeof(int));
    d->emb_cap = ns_calloc((size_t)d->n_emb + 1, sizeof(int));
    if (!d->emb_off || !d->emb_ids || !d->emb_nnz || !d->emb_cap) {
        ns_fdata_release(d);
        return NS_ENOMEM;
    }
    return NS_OK;
}

void ns_fdata_release(ns_fdata *d)
{
    if (!d) return;
    free(d->wide_off);
    free(d->wide_ids);
    free(d->wide_vals);
    for (int f = 0; f < d->n_emb; f++) {
        if (d->emb_off) free(d->emb_off[f]);
        if (d->emb_ids) free(d->emb_ids[f]);
    }
    free(d->emb_off);
    free(d->emb_ids);
    free(d->emb_nnz);
    free(d->emb_cap);
    free(d->dense);
    free(d->label);
    free(d->weight);
    memset(d, 0, sizeof *d);
}

void ns_fdata_clear(ns_fdata *d)
{
    d->n = 0;
    d->wide_nnz = 0;
    for (int f = 0; f < d->n_emb; f++) d->emb_nnz[f] = 0;
}

/* Make room for row n (offsets need n + 2 entries). */
static int reserve_rows(ns_fdata *d, int rows)
{
    if (rows + 1 <= d->cap) return NS_OK;
    int nc = d->cap ? d->cap : 64;
    while (nc < rows + 1) nc *= 2;
    int32_t *wo = ns_realloc(d->wide_off, sizeof(int32_t) * ((size_t)nc + 1));
    if (!wo) return NS_ENOMEM;
    d->wide_off = wo;
    for (int f = 0; f < d->n_emb; f++) {
        int32_t *eo = ns_realloc(d->emb_off[f], sizeof(int32_t) * ((size_t)nc + 1));
        if (!eo) return NS_ENOMEM;
        d->emb_off[f] = eo;
    }
    float *de = ns_realloc(d->dense, sizeof(float) * (size_t)nc * (size_t)(d->dense_dim ? d->dense_dim : 1));
    if (!de) return NS_ENOMEM;
    d->dense = de;
    float *la = ns_realloc(d->label, sizeof(float) * (size_t)nc);
    if (!la) return NS_ENOMEM;
    d->label = la;
    float *we = ns_realloc(d->weight, sizeof(float) * (size_t)nc);
    if (!we) return NS_ENOMEM;
    d->weight = we;
    if (d->cap == 0) {
        d->wide_off[0] = 0;
        for (int f = 0; f < d->n_emb; f++) d->emb_off[f][0] = 0;
    }
    d->cap = nc;
    return NS_OK;
}

int ns__fdata_begin_row(ns_fdata *d)
{
    int rc = reserve_rows(d, d->n + 1);
    if (rc < 0) return rc;
    d->wide_off[d->n] = d->wide_nnz;
    for (int f = 0; f < d->n_emb; f++) d->emb_off[f][d->n] = d->emb_nnz[f];
    if (d->dense_dim) memset(d->dense + (size_t)d->n * d->dense_dim, 0, sizeof(float) * (size_t)d->dense_dim);
    return NS_OK;
}

int ns__fdata_push_wide(ns_fdata *d, int32_t id, float v)
{
    if (d->wide_nnz + 1 > d->wide_cap) {
        int cap = d->wide_cap;
        if (grow((void **)&d->wide_ids, &cap, d->wide_nnz + 1, sizeof(int32_t)) < 0) return NS_ENOMEM;
        cap = d->wide_cap;
        if (grow((void **)&d->wide_vals, &cap, d->wide_nnz + 1, sizeof(float)) < 0) return NS_ENOMEM;
        d->wide_cap = cap;
    }
    d->wide_ids[d->wide_nnz] = id;
    d->wide_vals[d->wide_nnz] = v;
    d->wide_nnz++;
    return NS_OK;
}

int ns__fdata_push_emb(ns_fdata *d, int f, int32_t id)
{
    if (grow((void **)&d->emb_ids[f], &d->emb_cap[f], d->emb_nnz[f] + 1, sizeof(int32_t)) < 0)
        return NS_ENOMEM;
    d->emb_ids[f][d->emb_nnz[f]++] = id;
    return NS_OK;
}

int ns__fdata_end_row(ns_fdata *d, float y, float w)
{
    d->label[d->n] = y;
    d->weight[d->n] = w;
    d->n++;
    d->wide_off[d->n] = d->wide_nnz;
    for (int f = 0; f < d->n_emb; f++) d->emb_off[f][d->n] = d->emb_nnz[f];
    return NS_OK;
}

void ns__fdata_abort_row(ns_fdata *d)
{
    d->wide_nnz = d->wide_off[d->n];
    for (int f = 0; f < d->n_emb; f++) d->emb_nnz[f] = d->emb_off[f][d->n];
}

int ns_fdata_gather(ns_fdata *dst, const ns_fdata *src, const int *idx, int k)
{
    int rc = reserve_rows(dst, dst->n + k);
    if (rc < 0) return rc;
    int nnz = dst->wide_nnz;
    for (int j = 0; j < k; j++) nnz += src->wide_off[idx[j] + 1] - src->wide_off[idx[j]];
    int cap = dst->wide_cap;
    if (grow((void **)&dst->wide_ids, &cap, nnz, sizeof(int32_t)) < 0) return NS_ENOMEM;
    cap = dst->wide_cap;
    if (grow((void **)&dst->wide_vals, &cap, nnz, sizeof(float)) < 0) return NS_ENOMEM;
    dst->wide_cap = cap;
    for (int f = 0; f < src->n_emb; f++) {
        int en = dst->emb_nnz[f];
        for (int j = 0; j < k; j++) en += src->emb_off[f][idx[j] + 1] - src->emb_off[f][idx[j]];
        if (grow((void **)&dst->emb_ids[f], &dst->emb_cap[f], en, sizeof(int32_t)) < 0) return NS_ENOMEM;
    }
    int D = src->dense_dim;
    for (int j = 0; j < k; j++) {
        int r = idx[j], n = dst->n;
        int a = src->wide_off[r], b = src->wide_off[r + 1];
        memcpy(dst->wide_ids + dst->wide_nnz, src->wide_ids + a, sizeof(int32_t) * (size_t)(b - a));
        memcpy(dst->wide_vals + dst->wide_nnz, src->wide_vals + a, sizeof(float) * (size_t)(b - a));
        dst->wide_nnz += b - a;
        dst->wide_off[n + 1] = dst->wide_nnz;
        for (int f = 0; f < src->n_emb; f++) {
            int ea = src->emb_off[f][r], eb = src->emb_off[f][r + 1];
            memcpy(dst->emb_ids[f] + dst->emb_nnz[f], src->emb_ids[f] + ea, sizeof(int32_t) * (size_t)(eb - ea));
            dst->emb_nnz[f] += eb - ea;
            dst->emb_off[f][n + 1] = dst->emb_nnz[f];
        }
        if (D) memcpy(dst->dense + (size_t)n * D, src->dense + (size_t)r * D, sizeof(float) * (size_t)D);
        dst->label[n] = src->label[r];
        dst->weight[n] = src->weight[r];
        dst->n++;
    }
    return NS_OK;
}
