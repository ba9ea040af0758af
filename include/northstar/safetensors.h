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
    const void *data; /* points into the mapping; may be unaligned */
    size_t nbytes;
} ns_st_tensor;

typedef struct ns_st_file ns_st_file;

/* Open and validate a file (mmap, read-only). */
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
/* Zero-copy view of an F32 tensor when it is aligned in the mapping, else NULL. */
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

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_SAFETENSORS_H */
