/*
 * safetensors.c — strict reader and atomic writer for safetensors.
 *
 * The reader reads the whole file into memory the handle owns (one read;
 * no mapping), so what it checked is what it hands out however the file
 * changes afterwards: a writer overwriting or truncating it in place
 * cannot reach a loaded model. It trusts nothing in the file: the header
 * length, every dtype, shape and offset is checked before a pointer into
 * the image is handed out, so a corrupt or hostile file gives an error
 * naming the tensor and the problem, never an out-of-bounds read. Format:
 * see safetensors.h.
 */
#include "tensor_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct ns_st_file {
    char *path;
    const unsigned char *img; /* the whole file image */
    size_t img_len;
    int owns_img;             /* read by ns_st_open (freed on close), else borrowed */
    ns_st_tensor *tensors; /* sorted by data offset */
    int count;
    char **meta_keys, **meta_vals;
    int meta_count;
    ns_arena arena; /* names and metadata strings */
};

/* ======================================================================= */
/* reader                                                                    */
/* ======================================================================= */

static int bad(const ns_st_file *f, const char *tensor, int code, const char *msg)
{
    return ns_err_set_at(code, f->path, 0, tensor ? "tensor" : NULL, tensor, "%s", msg);
}

/* Order by (begin, end), then name: an empty tensor sorts before a
 * non-empty one at the same offset, so the tiling check below does not
 * depend on qsort's arbitrary order among equal keys. */
static int cmp_tensor_offset(const void *a, const void *b)
{
    const ns_st_tensor *x = a, *y = b;
    const unsigned char *px = x->data, *py = y->data;
    if (px != py) return px < py ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int parse_tensor(ns_st_file *f, const char *name, json_t *desc, const unsigned char *buf,
                        size_t buf_len, ns_st_tensor *t)
{
    char detail[160];
    if (!json_is_object(desc)) return bad(f, name, NS_EFORMAT, "entry is not a JSON object");
    json_t *jd = json_object_get(desc, "dtype"), *js = json_object_get(desc, "shape"),
           *jo = json_object_get(desc, "data_offsets");
    if (!json_is_string(jd)) return bad(f, name, NS_EFORMAT, "missing or non-string \"dtype\"");
    if (!json_is_array(js)) return bad(f, name, NS_EFORMAT, "missing or non-array \"shape\"");
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return bad(f, name, NS_EFORMAT, "\"data_offsets\" must be [begin, end]");
    if (ns_dtype_from_name(json_string_value(jd), &t->dtype) < 0) {
        snprintf(detail, sizeof detail, "unknown dtype \"%.40s\"", json_string_value(jd));
        return bad(f, name, NS_EUNSUPPORTED, detail);
    }
    size_t nd = json_array_size(js);
    if (nd > NS_ST_MAX_DIMS) {
        snprintf(detail, sizeof detail, "%zu dimensions, at most %d supported", nd, NS_ST_MAX_DIMS);
        return bad(f, name, NS_EUNSUPPORTED, detail);
    }
    t->ndim = (int)nd;
    uint64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return bad(f, name, NS_EFORMAT, "shape entries must be non-negative integers");
        uint64_t v = (uint64_t)json_integer_value(d);
        t->shape[i] = (int64_t)v;
        if (v && numel > (UINT64_MAX / 16) / v)
            return bad(f, name, NS_ERANGE, "shape product overflows");
        numel *= v;
    }
    t->numel = (int64_t)numel;
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < json_integer_value(jb))
        return bad(f, name, NS_EFORMAT, "data_offsets must be integers with 0 <= begin <= end");
    uint64_t b = (uint64_t)json_integer_value(jb), e = (uint64_t)json_integer_value(je);
    if (e > buf_len) {
        snprintf(detail, sizeof detail, "data_offsets [%llu, %llu] run past the data buffer (%zu bytes)",
                 (unsigned long long)b, (unsigned long long)e, buf_len);
        return bad(f, name, NS_ERANGE, detail);
    }
    if (numel * ns_dtype_size(t->dtype) != e - b) {
        snprintf(detail, sizeof detail, "shape needs %llu bytes of %s but data_offsets span %llu",
                 (unsigned long long)(numel * ns_dtype_size(t->dtype)), ns_dtype_name(t->dtype),
                 (unsigned long long)(e - b));
        return bad(f, name, NS_EMISMATCH, detail);
    }
    t->data = buf + b;
    t->nbytes = (size_t)(e - b);
    t->name = ns_arena_strdup(&f->arena, name);
    return t->name ? NS_OK : NS_ENOMEM;
}

static int parse_metadata(ns_st_file *f, json_t *meta)
{
    if (!json_is_object(meta))
        return ns_err_set_at(NS_EFORMAT, f->path, 0, "__metadata__", NULL, "must be a JSON object");
    size_t n = json_object_size(meta);
    f->meta_keys = ns_arena_calloc(&f->arena, n ? n : 1, sizeof(char *));
    f->meta_vals = ns_arena_calloc(&f->arena, n ? n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_vals) return NS_ENOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) {
        if (!json_is_string(val))
            return ns_err_set_at(NS_EFORMAT, f->path, 0, "__metadata__", key, "metadata values must be strings");
        f->meta_keys[f->meta_count] = ns_arena_strdup(&f->arena, key);
        f->meta_vals[f->meta_count] = ns_arena_strndup(&f->arena, json_string_value(val), json_string_length(val));
        if (!f->meta_keys[f->meta_count] || !f->meta_vals[f->meta_count]) return NS_ENOMEM;
        f->meta_count++;
    }
    return NS_OK;
}

static int parse(ns_st_file *f)
{
    const unsigned char *p = f->img;
    size_t len = f->img_len;
    char detail[160];
    if (len < 8) {
        snprintf(detail, sizeof detail, "file is %zu bytes, shorter than the 8-byte header length", len);
        return ns_err_set_at(NS_ETRUNCATED, f->path, 0, NULL, NULL, "%s", detail);
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | p[i];
    if (n > NS_ST_MAX_HEADER)
        return ns_err_set_at(NS_ETOOBIG, f->path, 0, NULL, NULL,
                             "header length %llu exceeds the %u-byte limit (not a safetensors file?)",
                             (unsigned long long)n, NS_ST_MAX_HEADER);
    if (n > len - 8)
        return ns_err_set_at(NS_ETRUNCATED, f->path, 0, NULL, NULL,
                             "header length %llu runs past the end of the file (%zu bytes)",
                             (unsigned long long)n, len);
    if (n < 2 || p[8] != '{')
        return ns_err_set_at(NS_EFORMAT, f->path, 0, NULL, NULL, "header is not a JSON object");
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ns_err_set_at(NS_EFORMAT, f->path, 0, NULL, NULL, "header JSON: %s (byte %d)", jerr.text,
                             jerr.position);
    int rc = NS_OK;
    if (!json_is_object(root)) {
        rc = ns_err_set_at(NS_EFORMAT, f->path, 0, NULL, NULL, "header is not a JSON object");
        goto done;
    }
    const unsigned char *buf = p + 8 + n;
    size_t buf_len = len - 8 - (size_t)n;
    size_t cap = json_object_size(root);
    f->tensors = ns_arena_calloc(&f->arena, cap ? cap : 1, sizeof(ns_st_tensor));
    if (!f->tensors) { rc = NS_ENOMEM; goto done; }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if ((rc = parse_metadata(f, val)) < 0) goto done;
            continue;
        }
        if ((rc = parse_tensor(f, key, val, buf, buf_len, &f->tensors[f->count])) < 0) goto done;
        f->count++;
    }
    qsort(f->tensors, (size_t)f->count, sizeof(ns_st_tensor), cmp_tensor_offset);
    /* Tensors must tile the buffer exactly: no overlap, no hole, no tail. */
    const unsigned char *cursor = buf;
    for (int i = 0; i < f->count; i++) {
        const ns_st_tensor *t = &f->tensors[i];
        const unsigned char *tb = t->data;
        if (tb < cursor) {
            rc = ns_err_set_at(NS_EFORMAT, f->path, 0, "tensor", t->name,
                               "data overlaps the previous tensor (%s)", i ? f->tensors[i - 1].name : "?");
            goto done;
        }
        if (tb > cursor) {
            rc = ns_err_set_at(NS_EFORMAT, f->path, 0, "tensor", t->name,
                               "%zu unused bytes before this tensor (the buffer must have no holes)",
                               (size_t)(tb - cursor));
            goto done;
        }
        cursor = tb + t->nbytes;
    }
    if (cursor != buf + buf_len) {
        rc = ns_err_set_at(NS_EFORMAT, f->path, 0, NULL, NULL,
                           "%zu trailing bytes after the last tensor", (size_t)(buf + buf_len - cursor));
        goto done;
    }
done:
    json_decref(root);
    return rc;
}

static int open_common(ns_st_file **out, ns_st_file *f)
{
    int rc = parse(f);
    if (rc < 0) {
        ns_st_close(f);
        *out = NULL;
        return rc;
    }
    *out = f;
    return NS_OK;
}

static ns_st_file *new_file(const char *path)
{
    ns_st_file *f = ns_calloc(1, sizeof *f);
    if (!f) return NULL;
    ns_arena_init(&f->arena, 16384);
    f->path = ns_strdup(path ? path : "<memory>");
    if (!f->path) { free(f); return NULL; }
    return f;
}

int ns_st_open(ns_st_file **out, const char *path)
{
    *out = NULL;
    ns_st_file *f = new_file(path);
    if (!f) return NS_ENOMEM;
    char *img;
    size_t len;
    int rc = ns_file_read_regular(path, &img, &len);
    if (rc < 0) { ns_st_close(f); return rc; }
    f->img = (const unsigned char *)img;
    f->img_len = len;
    f->owns_img = 1;
    return open_common(out, f);
}

int ns_st_open_memory(ns_st_file **out, const void *data, size_t len, const char *name)
{
    *out = NULL;
    ns_st_file *f = new_file(name);
    if (!f) return NS_ENOMEM;
    f->img = data;
    f->img_len = len;
    return open_common(out, f);
}

void ns_st_close(ns_st_file *f)
{
    if (!f) return;
    if (f->owns_img) free((void *)f->img);
    ns_arena_release(&f->arena);
    free(f->path);
    free(f);
}

ns_arena *ns__st_arena(ns_st_file *f) { return &f->arena; }
int ns_st_count(const ns_st_file *f) { return f->count; }
const ns_st_tensor *ns_st_at(const ns_st_file *f, int i) { return i >= 0 && i < f->count ? &f->tensors[i] : NULL; }
const char *ns_st_path(const ns_st_file *f) { return f->path; }
int ns_st_meta_count(const ns_st_file *f) { return f->meta_count; }
const char *ns_st_meta_key(const ns_st_file *f, int i) { return i >= 0 && i < f->meta_count ? f->meta_keys[i] : NULL; }

const ns_st_tensor *ns_st_find(const ns_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *ns_st_meta(const ns_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

static int get_checked(const ns_st_file *f, const char *name, int64_t numel, const ns_st_tensor **out)
{
    const ns_st_tensor *t = ns_st_find(f, name);
    *out = t;
    if (!t) return ns_err_set_at(NS_ENOTFOUND, f->path, 0, "tensor", name, "no such tensor in the file");
    if (t->numel != numel)
        return ns_err_set_at(NS_EMISMATCH, f->path, 0, "tensor", name,
                             "has %lld elements, expected %lld", (long long)t->numel, (long long)numel);
    return NS_OK;
}

int ns_st_read_f32(const ns_st_file *f, const char *name, float *dst, int64_t numel)
{
    const ns_st_tensor *t;
    int rc = get_checked(f, name, numel, &t);
    if (rc < 0) return rc;
    const unsigned char *s = t->data;
    switch (t->dtype) {
    case NS_DT_F32: memcpy(dst, s, t->nbytes); break;
    case NS_DT_F64:
        for (int64_t i = 0; i < numel; i++) { double d; memcpy(&d, s + 8 * i, 8); dst[i] = (float)d; }
        break;
    case NS_DT_F16:
        for (int64_t i = 0; i < numel; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = ns_f16_to_f32(h); }
        break;
    case NS_DT_BF16:
        for (int64_t i = 0; i < numel; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = ns_bf16_to_f32(h); }
        break;
    default:
        return ns_err_set_at(NS_EMISMATCH, f->path, 0, "tensor", name, "dtype %s is not a float type",
                             ns_dtype_name(t->dtype));
    }
    return NS_OK;
}

int ns_st_read_f32_shape(const ns_st_file *f, const char *name, float *dst, int ndim, const int64_t *shape)
{
    const ns_st_tensor *t = ns_st_find(f, name);
    if (!t) return ns_err_set_at(NS_ENOTFOUND, f->path, 0, "tensor", name, "no such tensor in the file");
    int same = t->ndim == ndim;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        numel *= shape[i];
        if (same && t->shape[i] != shape[i]) same = 0;
    }
    if (!same) {
        char want[128] = "", have[128] = "";
        for (int i = 0; i < ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++) snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return ns_err_set_at(NS_EMISMATCH, f->path, 0, "tensor", name, "shape [%s], expected [%s]", have, want);
    }
    return ns_st_read_f32(f, name, dst, numel);
}

int ns_st_read_i64(const ns_st_file *f, const char *name, int64_t *dst, int64_t numel)
{
    const ns_st_tensor *t;
    int rc = get_checked(f, name, numel, &t);
    if (rc < 0) return rc;
    const unsigned char *s = t->data;
    if (t->dtype == NS_DT_I64) {
        memcpy(dst, s, t->nbytes);
    } else if (t->dtype == NS_DT_I32) {
        for (int64_t i = 0; i < numel; i++) { int32_t v; memcpy(&v, s + 4 * i, 4); dst[i] = v; }
    } else {
        return ns_err_set_at(NS_EMISMATCH, f->path, 0, "tensor", name, "dtype %s is not I32/I64",
                             ns_dtype_name(t->dtype));
    }
    return NS_OK;
}

int ns_st_read_i32(const ns_st_file *f, const char *name, int32_t *dst, int64_t numel)
{
    const ns_st_tensor *t;
    int rc = get_checked(f, name, numel, &t);
    if (rc < 0) return rc;
    const unsigned char *s = t->data;
    if (t->dtype == NS_DT_I32) {
        memcpy(dst, s, t->nbytes);
    } else if (t->dtype == NS_DT_I64) {
        for (int64_t i = 0; i < numel; i++) {
            int64_t v;
            memcpy(&v, s + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return ns_err_set_at(NS_ERANGE, f->path, 0, "tensor", name,
                                     "element %lld = %lld does not fit in 32 bits", (long long)i, (long long)v);
            dst[i] = (int32_t)v;
        }
    } else {
        return ns_err_set_at(NS_EMISMATCH, f->path, 0, "tensor", name, "dtype %s is not I32/I64",
                             ns_dtype_name(t->dtype));
    }
    return NS_OK;
}

const float *ns_st_view_f32(const ns_st_file *f, const char *name, int64_t numel)
{
    const ns_st_tensor *t = ns_st_find(f, name);
    if (!t || t->dtype != NS_DT_F32 || t->numel != numel || ((uintptr_t)t->data & 3)) return NULL;
    return t->data;
}

/* ======================================================================= */
/* writer                                                                    */
/* ======================================================================= */

typedef struct wtensor {
    char *name;
    ns_dtype dtype;
    int ndim;
    int64_t shape[NS_ST_MAX_DIMS];
    const void *data;
    const float *convert_from; /* F32 source converted to dtype at write time */
    size_t nbytes;
} wtensor;

struct ns_st_writer {
    wtensor *t;
    int count, cap;
    json_t *meta;
};

ns_st_writer *ns_st_writer_new(void)
{
    ns_st_writer *w = ns_calloc(1, sizeof *w);
    if (!w) return NULL;
    w->meta = json_object();
    if (!w->meta) { free(w); ns_err_set(NS_ENOMEM, "cannot allocate metadata"); return NULL; }
    return w;
}

void ns_st_writer_free(ns_st_writer *w)
{
    if (!w) return;
    for (int i = 0; i < w->count; i++) free(w->t[i].name);
    free(w->t);
    json_decref(w->meta);
    free(w);
}

static int add_common(ns_st_writer *w, const char *name, ns_dtype dtype, int ndim,
                      const int64_t *shape, const void *data, const float *conv)
{
    if (!name || !*name || !strcmp(name, "__metadata__"))
        return ns_err_set(NS_EINVAL, "invalid tensor name \"%s\"", name ? name : "(null)");
    if ((unsigned)dtype >= NS_DT__COUNT) return ns_err_set(NS_EINVAL, "invalid dtype %d", (int)dtype);
    if (ndim < 0 || ndim > NS_ST_MAX_DIMS)
        return ns_err_set(NS_EINVAL, "tensor %s: %d dimensions (max %d)", name, ndim, NS_ST_MAX_DIMS);
    if (ndim > 0 && !shape) return ns_err_set(NS_EINVAL, "tensor %s: no shape", name);
    json_t *probe = json_string(name); /* NULL unless valid UTF-8 */
    if (!probe) return ns_err_set(NS_EINVAL, "tensor name is not valid UTF-8");
    json_decref(probe);
    for (int i = 0; i < w->count; i++)
        if (!strcmp(w->t[i].name, name)) return ns_err_set(NS_EEXISTS, "duplicate tensor name \"%s\"", name);
    if (w->count == w->cap) {
        int nc = w->cap ? w->cap * 2 : 16;
        wtensor *nt = ns_realloc(w->t, sizeof(wtensor) * (size_t)nc);
        if (!nt) return NS_ENOMEM;
        w->t = nt;
        w->cap = nc;
    }
    wtensor *t = &w->t[w->count];
    memset(t, 0, sizeof *t);
    t->name = ns_strdup(name);
    if (!t->name) return NS_ENOMEM;
    t->dtype = dtype;
    t->ndim = ndim;
    uint64_t numel = 1;
    int zero = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) { free(t->name); return ns_err_set(NS_EINVAL, "tensor %s: negative dimension", name); }
        t->shape[i] = shape[i];
        zero |= shape[i] == 0;
        if (!zero && numel > ((uint64_t)1 << 60) / (uint64_t)shape[i]) {
            free(t->name);
            return ns_err_set(NS_ERANGE, "tensor %s: shape product overflows", name);
        }
        numel = zero ? 0 : numel * (uint64_t)shape[i];
    }
    t->nbytes = (size_t)(numel * ns_dtype_size(dtype));
    if (t->nbytes && !data && !conv) {
        free(t->name);
        return ns_err_set(NS_EINVAL, "tensor %s: no data for %zu bytes", name, t->nbytes);
    }
    t->data = data;
    t->convert_from = conv;
    w->count++;
    return NS_OK;
}

int ns_st_writer_add(ns_st_writer *w, const char *name, ns_dtype dtype, int ndim,
                     const int64_t *shape, const void *data)
{
    return add_common(w, name, dtype, ndim, shape, data, NULL);
}

int ns_st_writer_add_f32(ns_st_writer *w, const char *name, ns_dtype stored_as, int ndim,
                         const int64_t *shape, const float *data)
{
    if (stored_as != NS_DT_F32 && stored_as != NS_DT_F16 && stored_as != NS_DT_BF16)
        return ns_err_set(NS_EINVAL, "tensor %s: can store float data as F32, F16 or BF16 only", name);
    return add_common(w, name, stored_as, ndim, shape, stored_as == NS_DT_F32 ? data : NULL,
                      stored_as == NS_DT_F32 ? NULL : data);
}

int ns_st_writer_meta(ns_st_writer *w, const char *key, const char *value)
{
    if (!key || !value) return ns_err_set(NS_EINVAL, "metadata key and value must not be NULL");
    json_t *v = json_string(value);
    if (!v) return ns_err_set_at(NS_EINVAL, NULL, 0, "metadata", key, "value is not valid UTF-8");
    if (json_object_set_new(w->meta, key, v) < 0)
        return ns_err_set(NS_EINVAL, "metadata key is not valid UTF-8");
    return NS_OK;
}

int ns_st_writer_serialize(ns_st_writer *w, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    json_t *root = json_object();
    if (!root) return ns_err_set(NS_ENOMEM, "cannot build header");
    int rc = NS_OK;
    char *hdr = NULL;
    if (json_object_size(w->meta) > 0) json_object_set(root, "__metadata__", w->meta);
    size_t off = 0;
    for (int i = 0; i < w->count; i++) {
        wtensor *t = &w->t[i];
        if (t->nbytes > ((size_t)1 << 62) - off) {
            rc = ns_err_set(NS_ERANGE, "tensor %s: the file would exceed 2^62 bytes", t->name);
            goto done;
        }
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *desc = json_pack("{s:s, s:o, s:[I,I]}", "dtype", ns_dtype_name(t->dtype), "shape", shape,
                                 "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes));
        if (!desc || json_object_set_new(root, t->name, desc) < 0) {
            rc = ns_err_set(NS_EINVAL, "tensor %s: cannot encode header entry (name must be UTF-8)", t->name);
            goto done;
        }
        off += t->nbytes;
    }
    hdr = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!hdr) { rc = ns_err_set(NS_ENOMEM, "cannot serialize header"); goto done; }
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    size_t total = 8 + padded + off;
    unsigned char *img = ns_malloc(total);
    if (!img) { rc = NS_ENOMEM; goto done; }
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    memcpy(img + 8, hdr, hl);
    memset(img + 8 + hl, ' ', padded - hl);
    unsigned char *dp = img + 8 + padded;
    for (int i = 0; i < w->count; i++) {
        wtensor *t = &w->t[i];
        if (t->convert_from) {
            size_t n = t->nbytes / 2;
            for (size_t k = 0; k < n; k++) {
                uint16_t h = t->dtype == NS_DT_F16 ? ns_f32_to_f16(t->convert_from[k]) : ns_f32_to_bf16(t->convert_from[k]);
                memcpy(dp + 2 * k, &h, 2);
            }
        } else if (t->nbytes) {
            memcpy(dp, t->data, t->nbytes);
        }
        dp += t->nbytes;
    }
    *out = img;
    *len = total;
done:
    free(hdr);
    json_decref(root);
    return rc;
}

int ns_st_writer_write(ns_st_writer *w, const char *path)
{
    unsigned char *img;
    size_t len;
    int rc = ns_st_writer_serialize(w, &img, &len);
    if (rc < 0) return rc;
    rc = ns_file_write_atomic(path, img, len);
    free(img);
    return rc;
}
