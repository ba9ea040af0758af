/*
 * northstar/safetensors.h — read and write safetensors files, the format
 * every northstar model, index and checkpoint is saved in.
 *
 * File layout (little-endian), as specified by Hugging Face:
 *   bytes 0..7      u64 N, the length of the JSON header
 *   bytes 8..8+N    UTF-8 JSON object (may be padded with trailing spaces):
 *                     "<tensor name>": {"dtype": "F32" | "F16" | "BF16" | "F64" |
 *                                       "I32" | "I64" | "I8" | "U8" | "BOOL",
 *                                       "shape": [d0, d1, ...],
 *                                       "data_offsets": [begin, end]}
 *                     "__metadata__": {"key": "string value", ...}   (optional)
 *   bytes 8+N..     the data buffer; offsets are relative to its start.
 * Rules enforced on read (each violation is its own error naming the tensor):
 *   N <= 100 MiB and 8 + N <= file size; the header is a JSON object; every
 *   dtype is known; prod(shape) * sizeof(dtype) == end - begin; offsets lie
 *   inside the buffer; tensors do not overlap and cover the whole buffer (no
 *   holes, no trailing bytes); names are unique; metadata values are strings.
 * Writer: the header is padded with spaces so the buffer starts on an
 *   8-byte boundary; tensors follow in the order added, back to back (the
 *   format allows no gaps), so a tensor after an odd-sized one may be
 *   unaligned — the readers here copy, and ns_st_view_f32 says NULL. Files
 *   are written atomically (temp + fsync + rename). Model configs are stored
 *   as JSON text under the metadata key "config".
 * Reader: ns_st_open reads the whole file into memory the handle owns (one
 *   read, no mapping). An open handle, and every model loaded from one, no
 *   longer depends on the file: overwriting it in place, truncating it or
 *   removing it changes nothing that was loaded.
 *
 * Example
 *   ns_st_file *f;
 *   if (ns_st_open(&f, "model.safetensors") < 0) { puts(ns_err_msg()); return 1; }
 *   float *w = malloc(...);
 *   ns_st_read_f32(f, "wte", w, 65 * 128);          // converts F16/BF16 too
 *   const char *cfg = ns_st_meta(f, "config");
 *   ns_st_close(f);
 */
#ifndef NORTHSTAR_SAFETENSORS_H
#define NORTHSTAR_SAFETENSORS_H

#include "northstar/base.h"
#include "northstar/tensor.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_ST_MAX_DIMS 8
#define NS_ST_MAX_HEADER (100u << 20)

typedef struct ns_st_tensor {
    const char *name;
    ns_dtype dtype;
    int ndim;
    int64_t shape[NS_ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* points into the file image; may be unaligned */
    size_t nbytes;
} ns_st_tensor;

typedef struct ns_st_file ns_st_file;

/* Read a regular file whole into memory owned by the handle, and validate it. */
int ns_st_open(ns_st_file **out, const char *path);
/* Validate and use an in-memory image (borrowed; must outlive the handle). */
int ns_st_open_memory(ns_st_file **out, const void *data, size_t len, const char *name);
void ns_st_close(ns_st_file *f);

int ns_st_count(const ns_st_file *f);
const ns_st_tensor *ns_st_at(const ns_st_file *f, int i); /* in file order */
const ns_st_tensor *ns_st_find(const ns_st_file *f, const char *name);
const char *ns_st_meta(const ns_st_file *f, const char *key); /* NULL if absent */
int ns_st_meta_count(const ns_st_file *f);
const char *ns_st_meta_key(const ns_st_file *f, int i);
const char *ns_st_path(const ns_st_file *f);

/* Copy tensor `name` into dst as float (F32, F16, BF16 and F64 convert).
 * numel must equal the tensor's element count, else NS_EMISMATCH naming
 * both; a missing tensor is NS_ENOTFOUND. */
int ns_st_read_f32(const ns_st_file *f, const char *name, float *dst, int64_t numel);
/* Same, also checking the exact shape. */
int ns_st_read_f32_shape(const ns_st_file *f, const char *name, float *dst, int ndim,
                         const int64_t *shape);
/* Integer tensors (I32 or I64, range-checked on narrowing). */
int ns_st_read_i32(const ns_st_file *f, const char *name, int32_t *dst, int64_t numel);
int ns_st_read_i64(const ns_st_file *f, const char *name, int64_t *dst, int64_t numel);
/* Zero-copy view of an F32 tensor when it is aligned in the image, else NULL
 * (valid while the handle is open). */
const float *ns_st_view_f32(const ns_st_file *f, const char *name, int64_t numel);

/* ---- writer ------------------------------------------------------------ */

typedef struct ns_st_writer ns_st_writer;
ns_st_writer *ns_st_writer_new(void);
void ns_st_writer_free(ns_st_writer *w);
/* The data is copied only at write time: it must stay valid until then.
 * Returns NS_EEXISTS for a duplicate name. */
int ns_st_writer_add(ns_st_writer *w, const char *name, ns_dtype dtype, int ndim,
                     const int64_t *shape, const void *data);
/* Convenience: an F32 tensor stored as F32, F16 or BF16 (converted at write). */
int ns_st_writer_add_f32(ns_st_writer *w, const char *name, ns_dtype stored_as, int ndim,
                         const int64_t *shape, const float *data);
int ns_st_writer_meta(ns_st_writer *w, const char *key, const char *value);
int ns_st_writer_write(ns_st_writer *w, const char *path);
/* The file image in memory (caller frees *out). */
int ns_st_writer_serialize(ns_st_writer *w, unsigned char **out, size_t *len);

/* ---- schemas: a file format as a table ----------------------------------- */
/*
 * Every northstar model and index file is safetensors with a JSON config
 * under the metadata key "config", a format tag with a version, and tensors
 * whose dtypes and shapes follow from the config. A schema says all of that
 * in two tables, and ns_st_load checks a file against it before the loader
 * reads a byte:
 *   - the tag: format name and version (NS_EFORMAT when the file is another
 *     format or has no tag, NS_EUNSUPPORTED when its version is one this
 *     build does not read);
 *   - the config: a JSON object; every key of the table present unless
 *     optional, of its kind, inside its range; no key the table lacks;
 *   - the tensors: every row present unless optional, of its dtype, rank
 *     and dimensions (each dimension a config key, key+N, a number, or "*"
 *     when the loader checks it); no tensor the table lacks;
 *   - the numbers: every element of every float tensor (F32, F16, BF16,
 *     F64) finite: a NaN or an infinity is an error naming the tensor and
 *     its first bad element ("tensor \"wide.w\" element 17 is nan"), so no
 *     loader hands a model NaN weights. One vectorised pass over the data.
 * A violation is NS_EFORMAT (dimensions: see NS_ST_SHAPE_MISMATCH) naming
 * the file, the key or tensor (ns_err_last()->field), what the table wants
 * and what the file has. What a table cannot say (ids in range, lists
 * sorted, sizes computed from the data) the loader checks afterwards,
 * reporting with ns_st_bad.
 *
 * The tables of each format live in its public header as X-macro lists, so
 * the header's documentation of the format is the table the loader checks:
 *
 *   // hnsw.h: X(key, kind, REQ | OPT, min, max, meaning)
 *   #define NS_HNSW_FILE_CONFIG(X) \
 *       X(dim,   INT, REQ, 1, 65536,          "vector dimension") \
 *       X(count, INT, REQ, 0, UINT32_MAX - 1, "slots n") ...
 *   // X(id, "name", dtype, REQ | OPT, "[shape]", meaning)
 *   #define NS_HNSW_FILE_TENSORS(X) \
 *       X(labels, "labels", I64, REQ, "[count]", "caller id of each slot") ...
 *
 *   // hnsw_io.c
 *   enum { HK_dim, HK_count, ..., HK__COUNT };   // generated from the list
 *   static const ns_st_keydef keys[] = {NS_HNSW_FILE_CONFIG(NS_ST_KEYDEF)};
 *   static const ns_st_tensordef tensors[] = {NS_HNSW_FILE_TENSORS(NS_ST_TENSORDEF)};
 *   static const ns_st_schema schema = {"an hnsw index", "northstar-hnsw", 1, 1,
 *       .keys = keys, .nkeys = HK__COUNT, .tensors = tensors, .ntensors = HT__COUNT};
 *   ns_st_value cfg[HK__COUNT];
 *   const ns_st_tensor *t[HT__COUNT];
 *   if (ns_st_load(&f, path, &schema, cfg, t) < 0) return ns_err_last()->code;
 *   size_t n = (size_t)cfg[HK_count].i;   // t[HT_labels] is I64 [n], checked
 */

typedef enum {
    NS_ST_INT, /* JSON integer (true / false read as 1 / 0); range: the value */
    NS_ST_NUM, /* JSON number; range: the value */
    NS_ST_STR, /* JSON string without NUL bytes; range: its length in bytes */
    NS_ST_ARR, /* JSON array, elements checked by the loader; range: its length */
    NS_ST_OBJ  /* JSON object, checked by the loader; range unused */
} ns_st_kind;

/* REQ | OPT in the tables: a required row, or one a file may leave out. */
enum { NS_ST_REQ = 0, NS_ST_OPT = 1 };

typedef struct ns_st_keydef {
    const char *name;  /* key of the config object */
    ns_st_kind kind;
    int optional;      /* NS_ST_REQ or NS_ST_OPT */
    double min, max;   /* inclusive (integers are exact up to 2^53) */
    const char *doc;   /* what it means */
} ns_st_keydef;

typedef struct ns_st_tensordef {
    const char *name;  /* tensor name; one '*' makes a pattern ("emb.*") that
                          any number of tensors may match (optional rows only;
                          a tensor with an exact row is checked by that row) */
    ns_dtype dtype;
    int optional;      /* NS_ST_REQ or NS_ST_OPT */
    const char *shape; /* "[count, rec]", "[terms+1]", "[*]", "[]": each dimension an
                          INT config key (+ N), a number, or * (checked by the loader) */
    const char *doc;
} ns_st_tensordef;

/* Rows of the tables from X-macro lists (see above). */
#define NS_ST_KEYDEF(name, kind, req, min, max, doc) \
    {#name, NS_ST_##kind, NS_ST_##req, (double)(min), (double)(max), doc},
#define NS_ST_TENSORDEF(id, name, dtype, req, shape, doc) {name, NS_DT_##dtype, NS_ST_##req, shape, doc},

enum {
    /* A file without its tag is read as the current version (formats whose
     * tag came after their first files). */
    NS_ST_TAG_OPTIONAL = 1,
    /* A tensor whose rank or dimensions disagree with the config is
     * NS_EMISMATCH (the code ns_st_read_f32_shape gives), not NS_EFORMAT. */
    NS_ST_SHAPE_MISMATCH = 2
};

typedef struct ns_st_schema {
    const char *what;        /* the kind of file with its article, for messages:
                                "an hnsw index" -> "not an hnsw index: ..." */
    const char *format;      /* format name, "northstar-hnsw" */
    int version;             /* the version written, and the newest read */
    int min_version;         /* the oldest version read */
    const char *tag;         /* NULL: the config holds "format" and "version" keys;
                                else the metadata key whose value is
                                format, tag_sep, version ("northstar-rank/1") */
    char tag_sep;
    unsigned flags;          /* NS_ST_TAG_OPTIONAL, NS_ST_SHAPE_MISMATCH */
    const ns_st_keydef *keys;
    int nkeys;
    const ns_st_tensordef *tensors;
    int ntensors;
} ns_st_schema;

/* A config value, by row of the schema's key table. */
typedef struct ns_st_value {
    int present;     /* 0: an optional key the file leaves out */
    int64_t i;       /* INT: the value; ARR: the element count */
    double num;      /* NUM: the value; INT: the value as a double */
    const char *str; /* STR: the string; ARR, OBJ: the value as compact JSON
                        text (owned by the file, or by the arena given) */
} ns_st_value;

/* Open path and check it against the schema. On success *out is the open
 * file, cfg[s->nkeys] the config values and t[s->ntensors] the tensors by
 * row (NULL for an optional tensor the file leaves out and for pattern
 * rows; t may be NULL). On failure nothing is left open and the error names
 * the file, the key or tensor, and what was expected. */
int ns_st_load(ns_st_file **out, const char *path, const ns_st_schema *s, ns_st_value *cfg,
               const ns_st_tensor **t);
/* The same checks on a file already open (strings are kept in f). */
int ns_st_check(ns_st_file *f, const ns_st_schema *s, ns_st_value *cfg, const ns_st_tensor **t);
/* Check a config given as JSON text (a file's, or one a user wrote) against
 * the schema's key table, without the tag; strings go to arena a. src names
 * the input in errors. */
int ns_st_config_parse(const ns_st_schema *s, const char *json, const char *src, ns_arena *a,
                       ns_st_value *cfg);
/* Record NS_EFORMAT for a check a loader makes itself: "<file>: <field>:
 * not a valid hnsw index: <message>", and return it. */
int ns_st_bad(const ns_st_file *f, const ns_st_schema *s, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_SAFETENSORS_H */
