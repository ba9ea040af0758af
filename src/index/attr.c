/*
 * attr.c — attribute bitmaps (CRoaring) with a small boolean query
 * language, save and load (see attr.h; the file format is its tables,
 * checked by ns_st_load).
 *
 * Why: user-profile recall ("women 25-34 in Lyon") and filters ("in stock,
 * not seen") are set algebra over id sets; compressed bitmaps make both a
 * few microseconds for millions of ids. Workload: 10^2..10^5 keys, up to
 * 10^7 ids, queries of a few terms.
 */
#include "index_int.h"
#include "northstar/attr.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define KEY_SEP '\x1f'

struct ns_attr {
    ns_strmap *keys;           /* "field\x1fvalue" -> key id */
    roaring_bitmap_t **bm;     /* [nbm] by key id */
    size_t nbm, bm_cap;
    roaring_bitmap_t *all;     /* every id with any attribute */
    pthread_rwlock_t rw;
};

int ns_attr_create(ns_attr **out)
{
    *out = NULL;
    ns_attr *a = calloc(1, sizeof *a);
    if (!a) return ns_err_set(NS_ENOMEM, "attr: out of memory");
    a->keys = ns_strmap_new(64);
    a->all = roaring_bitmap_create();
    if (!a->keys || !a->all) {
        ns_strmap_free(a->keys);
        if (a->all) roaring_bitmap_free(a->all);
        free(a);
        return ns_err_set(NS_ENOMEM, "attr: out of memory");
    }
    pthread_rwlock_init(&a->rw, NULL);
    *out = a;
    return NS_OK;
}

void ns_attr_free(ns_attr *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nbm; i++) roaring_bitmap_free(a->bm[i]);
    free(a->bm);
    roaring_bitmap_free(a->all);
    ns_strmap_free(a->keys);
    pthread_rwlock_destroy(&a->rw);
    free(a);
}

static int make_key(char *buf, size_t cap, const char *field, size_t flen, const char *value, size_t vlen)
{
    if (flen == 0) return ns_err_set_at(NS_EINVAL, NULL, 0, "field", NULL, "attr: empty field name");
    if (memchr(field, KEY_SEP, flen) || memchr(value, KEY_SEP, vlen))
        return ns_err_set_at(NS_EINVAL, NULL, 0, "field", NULL, "attr: names may not contain byte 0x1f");
    if (flen + vlen + 2 > cap) return ns_err_set_at(NS_ETOOBIG, NULL, 0, "field", NULL, "attr: field + value over %zu bytes", cap - 2);
    memcpy(buf, field, flen);
    buf[flen] = KEY_SEP;
    memcpy(buf + flen + 1, value, vlen);
    buf[flen + 1 + vlen] = 0;
    return (int)(flen + 1 + vlen);
}

static int64_t find_key(const ns_attr *a, const char *field, size_t flen, const char *value, size_t vlen)
{
    char k[512];
    int n = make_key(k, sizeof k, field, flen, value, vlen);
    if (n < 0) return -1;
    return ns_strmap_find(a->keys, k, (size_t)n);
}

/* Append bitmap r (owned by a from here, freed on failure) for the next key id. */
static int push_bitmap(ns_attr *a, roaring_bitmap_t *r)
{
    if (r && a->nbm == a->bm_cap) {
        size_t nc = a->bm_cap ? 2 * a->bm_cap : 16;
        roaring_bitmap_t **nb = realloc(a->bm, sizeof *nb * nc);
        if (!nb) {
            roaring_bitmap_free(r);
            return ns_err_set(NS_ENOMEM, "attr: out of memory");
        }
        a->bm = nb;
        a->bm_cap = nc;
    }
    if (!r) return ns_err_set(NS_ENOMEM, "attr: out of memory");
    a->bm[a->nbm++] = r;
    return NS_OK;
}

int ns_attr_set(ns_attr *a, uint32_t id, const char *field, const char *value)
{
    if (!a || !field || !value) return ns_err_set(NS_EINVAL, "attr_set: NULL argument");
    char k[512];
    int n = make_key(k, sizeof k, field, strlen(field), value, strlen(value));
    if (n < 0) return n;
    pthread_rwlock_wrlock(&a->rw);
    int rc = NS_OK;
    int64_t i = ns_strmap_intern(a->keys, k, (size_t)n);
    if (i < 0) {
        rc = ns_err_set(NS_ENOMEM, "attr: out of memory");
        goto done;
    }
    if ((size_t)i >= a->nbm && (rc = push_bitmap(a, roaring_bitmap_create())) < 0) goto done;
    roaring_bitmap_add(a->bm[i], id);
    roaring_bitmap_add(a->all, id);
done:
    pthread_rwlock_unlock(&a->rw);
    return rc;
}

int ns_attr_unset(ns_attr *a, uint32_t id, const char *field, const char *value)
{
    pthread_rwlock_wrlock(&a->rw);
    int64_t i = find_key(a, field, strlen(field), value, strlen(value));
    if (i >= 0) roaring_bitmap_remove(a->bm[i], id);
    pthread_rwlock_unlock(&a->rw);
    return NS_OK;
}

int ns_attr_remove(ns_attr *a, uint32_t id)
{
    pthread_rwlock_wrlock(&a->rw);
    for (size_t i = 0; i < a->nbm; i++) roaring_bitmap_remove(a->bm[i], id);
    roaring_bitmap_remove(a->all, id);
    pthread_rwlock_unlock(&a->rw);
    return NS_OK;
}

const roaring_bitmap_t *ns_attr_get(const ns_attr *ac, const char *field, const char *value)
{
    ns_attr *a = (ns_attr *)ac;
    pthread_rwlock_rdlock(&a->rw);
    int64_t i = find_key(a, field, strlen(field), value, strlen(value));
    const roaring_bitmap_t *r = i >= 0 ? a->bm[i] : NULL;
    pthread_rwlock_unlock(&a->rw);
    return r;
}

size_t ns_attr_keys(const ns_attr *ac)
{
    ns_attr *a = (ns_attr *)ac;
    pthread_rwlock_rdlock(&a->rw);
    size_t n = a->nbm;
    pthread_rwlock_unlock(&a->rw);
    return n;
}

uint64_t ns_attr_ids(const ns_attr *ac)
{
    ns_attr *a = (ns_attr *)ac;
    pthread_rwlock_rdlock(&a->rw);
    uint64_t n = roaring_bitmap_get_cardinality(a->all);
    pthread_rwlock_unlock(&a->rw);
    return n;
}

/* ===================================================================== */
/* Query parser: recursive descent producing bitmaps                      */
/* ===================================================================== */

typedef struct {
    const ns_attr *a;
    const char *s, *p;
    int err;
    int depth;
} qp;

static void skip_ws(qp *q)
{
    while (*q->p == ' ' || *q->p == '\t' || *q->p == '\n' || *q->p == '\r') q->p++;
}

static roaring_bitmap_t *q_fail(qp *q, const char *what)
{
    if (!q->err) {
        char off[32];
        snprintf(off, sizeof off, "%ld", (long)(q->p - q->s));
        q->err = ns_err_set_at(NS_EFORMAT, NULL, 0, "offset", off, "attr query: %s at byte %ld of \"%.80s\"", what,
                               (long)(q->p - q->s), q->s);
    }
    return NULL;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == ':' || c == '-' || c == '/' || c == '+' || (unsigned char)c >= 0x80;
}

/* Reads a name into buf; returns its length or -1. */
static int q_name(qp *q, char *buf, size_t cap)
{
    skip_ws(q);
    size_t n = 0;
    if (*q->p == '"') {
        q->p++;
        while (*q->p && *q->p != '"') {
            char c = *q->p++;
            if (c == '\\' && (*q->p == '"' || *q->p == '\\')) c = *q->p++;
            if (n + 1 >= cap) return -1;
            buf[n++] = c;
        }
        if (*q->p != '"') return -1;
        q->p++;
    } else {
        while (is_name_char(*q->p)) {
            if (n + 1 >= cap) return -1;
            buf[n++] = *q->p++;
        }
        if (n == 0) return -1;
    }
    buf[n] = 0;
    return (int)n;
}

static roaring_bitmap_t *q_expr(qp *q);

static roaring_bitmap_t *q_factor(qp *q)
{
    skip_ws(q);
    if (++q->depth > 200) return q_fail(q, "nesting too deep");
    roaring_bitmap_t *r = NULL;
    if (*q->p == '!') {
        q->p++;
        roaring_bitmap_t *x = q_factor(q);
        if (!x) return NULL;
        r = roaring_bitmap_andnot(q->a->all, x);
        roaring_bitmap_free(x);
    } else if (*q->p == '(') {
        q->p++;
        r = q_expr(q);
        if (!r) return NULL;
        skip_ws(q);
        if (*q->p != ')') {
            roaring_bitmap_free(r);
            return q_fail(q, "expected ')'");
        }
        q->p++;
    } else if (*q->p == '*') {
        q->p++;
        r = roaring_bitmap_copy(q->a->all);
    } else {
        char field[256], value[256];
        int fl = q_name(q, field, sizeof field);
        if (fl < 0) return q_fail(q, "expected a field name, '(', '!' or '*'");
        skip_ws(q);
        if (*q->p != '=') return q_fail(q, "expected '=' after the field name");
        q->p++;
        r = roaring_bitmap_create();
        for (;;) {
            int vl = q_name(q, value, sizeof value);
            if (vl < 0) {
                roaring_bitmap_free(r);
                return q_fail(q, "expected a value");
            }
            int64_t i = find_key(q->a, field, (size_t)fl, value, (size_t)vl);
            if (i >= 0) roaring_bitmap_or_inplace(r, q->a->bm[i]);
            skip_ws(q);
            if (*q->p != ',') break;
            q->p++;
        }
    }
    q->depth--;
    if (!r) return q_fail(q, "out of memory");
    return r;
}

static roaring_bitmap_t *q_term(qp *q)
{
    roaring_bitmap_t *r = q_factor(q);
    while (r) {
        skip_ws(q);
        if (*q->p != '&') break;
        q->p++;
        roaring_bitmap_t *x = q_factor(q);
        if (!x) {
            roaring_bitmap_free(r);
            return NULL;
        }
        roaring_bitmap_and_inplace(r, x);
        roaring_bitmap_free(x);
    }
    return r;
}

static roaring_bitmap_t *q_expr(qp *q)
{
    roaring_bitmap_t *r = q_term(q);
    while (r) {
        skip_ws(q);
        if (*q->p != '|') break;
        q->p++;
        roaring_bitmap_t *x = q_term(q);
        if (!x) {
            roaring_bitmap_free(r);
            return NULL;
        }
        roaring_bitmap_or_inplace(r, x);
        roaring_bitmap_free(x);
    }
    return r;
}

roaring_bitmap_t *ns_attr_query(const ns_attr *ac, const char *expr)
{
    ns_attr *a = (ns_attr *)ac;
    if (!a || !expr) {
        ns_err_set(NS_EINVAL, "attr_query: NULL argument");
        return NULL;
    }
    pthread_rwlock_rdlock(&a->rw);
    qp q = {a, expr, expr, 0, 0};
    roaring_bitmap_t *r = q_expr(&q);
    if (r) {
        skip_ws(&q);
        if (*q.p) {
            roaring_bitmap_free(r);
            r = q_fail(&q, "unexpected character");
        }
    }
    pthread_rwlock_unlock(&a->rw);
    return r;
}

/* ===================================================================== */
/* Save / load                                                            */
/* ===================================================================== */

int ns_attr_save(ns_attr *a, const char *path)
{
    pthread_rwlock_wrlock(&a->rw);
    int rc = NS_OK;
    size_t kb = 0, bb = 0;
    for (size_t i = 0; i < a->nbm; i++) {
        size_t len;
        ns_strmap_key(a->keys, (int64_t)i, &len);
        kb += len + 1;
        roaring_bitmap_run_optimize(a->bm[i]);
        bb += roaring_bitmap_portable_size_in_bytes(a->bm[i]);
    }
    char *keys = malloc(kb + 1), *bms = malloc(bb + 1), *cfg = NULL;
    int64_t *off = malloc(sizeof(int64_t) * (a->nbm + 1));
    ns_st_writer *w = ns_st_writer_new();
    if (!keys || !bms || !off || !w) {
        rc = ns_err_set(NS_ENOMEM, "attr save: out of memory");
        goto done;
    }
    size_t kp = 0, bp = 0;
    for (size_t i = 0; i < a->nbm; i++) {
        size_t len;
        const char *k = ns_strmap_key(a->keys, (int64_t)i, &len);
        memcpy(keys + kp, k, len + 1);
        kp += len + 1;
        off[i] = (int64_t)bp;
        bp += roaring_bitmap_portable_serialize(a->bm[i], bms + bp);
    }
    off[a->nbm] = (int64_t)bp;
    json_t *c = json_pack("{s:s,s:i,s:I}", "format", NS_ATTR_FORMAT, "version", NS_ATTR_VERSION, "keys", (json_int_t)a->nbm);
    cfg = c ? json_dumps(c, JSON_COMPACT) : NULL;
    json_decref(c);
    int64_t sk[1] = {(int64_t)kb}, so[1] = {(int64_t)a->nbm + 1}, sb[1] = {(int64_t)bb};
    if (!cfg) rc = ns_err_set(NS_ENOMEM, "attr save: out of memory");
    else if ((rc = ns_st_writer_add(w, "keys", NS_DT_U8, 1, sk, keys)) < 0 ||
             (rc = ns_st_writer_add(w, "bm_off", NS_DT_I64, 1, so, off)) < 0 ||
             (rc = ns_st_writer_add(w, "bitmaps", NS_DT_U8, 1, sb, bms)) < 0 ||
             (rc = ns_st_writer_meta(w, "config", cfg)) < 0)
        ;
    else if ((rc = ns_st_writer_write(w, path)) < 0)
        ns_err_wrap("saving attribute index %s", path);
done:
    pthread_rwlock_unlock(&a->rw);
    free(keys);
    free(bms);
    free(off);
    free(cfg);
    ns_st_writer_free(w);
    return rc;
}

enum {
#define K(name, ...) AK_##name,
    NS_ATTR_FILE_CONFIG(K)
#undef K
    AK__COUNT
};
enum {
#define T(id, ...) AT_##id,
    NS_ATTR_FILE_TENSORS(T)
#undef T
    AT__COUNT
};
static const ns_st_keydef attr_keys[] = {NS_ATTR_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef attr_tensors[] = {NS_ATTR_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema attr_schema = {.what = "an attribute index", .format = NS_ATTR_FORMAT,
                                         .version = NS_ATTR_VERSION, .min_version = 1, .keys = attr_keys,
                                         .nkeys = AK__COUNT, .tensors = attr_tensors, .ntensors = AT__COUNT};

#define bad(f, field, ...) ns_st_bad(f, &attr_schema, field, __VA_ARGS__)

/* Bitmap i from bitmaps[o0..o1), which must decode to exactly that span. */
static int load_bitmap(const ns_st_file *f, const ns_st_tensor *tb, long long i, int64_t o0, int64_t o1,
                       roaring_bitmap_t **out)
{
    if (o1 < o0 || (uint64_t)o1 > tb->nbytes)
        return bad(f, "bm_off", "bitmap %lld spans %lld..%lld of %zu bytes", i, (long long)o0, (long long)o1, tb->nbytes);
    const char *bp = (const char *)tb->data + o0;
    size_t blen = (size_t)(o1 - o0);
    *out = roaring_bitmap_portable_deserialize_size(bp, blen) == blen ? roaring_bitmap_portable_deserialize_safe(bp, blen)
                                                                       : NULL;
    return *out ? NS_OK : bad(f, "bitmaps", "bitmap %lld does not decode", i);
}

/* K keys ("field\x1fvalue", distinct) and their bitmaps, filling both
 * tensors exactly. */
static int load_keys(const ns_st_file *f, ns_attr *a, const ns_st_tensor *const *t, long long K)
{
    const char *kb = t[AT_keys]->data;
    size_t kp = 0, klen = t[AT_keys]->nbytes;
    const unsigned char *ob = t[AT_bm_off]->data;
    int64_t o0, o1;
    memcpy(&o0, ob, 8);
    if (o0 != 0) return bad(f, "bm_off", "first offset is %lld, not 0", (long long)o0);
    for (long long i = 0; i < K; i++, o0 = o1) {
        const char *z = kp < klen ? memchr(kb + kp, 0, klen - kp) : NULL;
        size_t len = z ? (size_t)(z - (kb + kp)) : 0;
        if (!z || !memchr(kb + kp, KEY_SEP, len) || ns_strmap_find(a->keys, kb + kp, len) >= 0)
            return bad(f, "keys", "key %lld is not a distinct NUL-terminated \"field\\x1fvalue\"", i);
        memcpy(&o1, ob + 8 * (i + 1), 8);
        roaring_bitmap_t *r;
        int rc = load_bitmap(f, t[AT_bitmaps], i, o0, o1, &r);
        if (rc < 0) return rc;
        if (ns_strmap_intern(a->keys, kb + kp, len) != i) {
            roaring_bitmap_free(r);
            return ns_err_set(NS_ENOMEM, "attr load: out of memory");
        }
        if ((rc = push_bitmap(a, r)) < 0) return rc;
        roaring_bitmap_or_inplace(a->all, r);
        kp += len + 1;
    }
    if (kp != klen) return bad(f, "keys", "%zu bytes after the last key", klen - kp);
    if ((uint64_t)o0 != t[AT_bitmaps]->nbytes) return bad(f, "bitmaps", "%llu bytes after the last bitmap",
                                                          (unsigned long long)(t[AT_bitmaps]->nbytes - (uint64_t)o0));
    return NS_OK;
}

int ns_attr_load(ns_attr **out, const char *path)
{
    *out = NULL;
    ns_st_value v[AK__COUNT];
    const ns_st_tensor *t[AT__COUNT];
    ns_st_file *f;
    int rc = ns_st_load(&f, path, &attr_schema, v, t);
    if (rc < 0) return rc;
    ns_attr *a = NULL;
    if ((rc = ns_attr_create(&a)) >= 0) rc = load_keys(f, a, t, v[AK_keys].i);
    ns_st_close(f);
    if (rc < 0) {
        ns_attr_free(a);
        return rc;
    }
    *out = a;
    return NS_OK;
}
