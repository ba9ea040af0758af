/*
 * northstar/attr.h — attribute index: one CRoaring bitmap of ids per
 * (field, value), for recall by user-profile segment and for filters.
 *
 * Typical use: items or users carry attributes such as age bucket, gender,
 * region, category; "recall everyone in segment X" is one bitmap, and a
 * search filter is a boolean combination handed to the BM25 or vector index
 * as ns_filter.allow / .deny (index.h).
 *
 * Query language (ns_attr_query):
 *   expr   := term ('|' term)*           union
 *   term   := factor ('&' factor)*       intersection
 *   factor := '!' factor                 complement within every id the index knows
 *           | '(' expr ')'
 *           | FIELD '=' VALUE (',' VALUE)*   any of the values
 *           | '*'                        every id the index knows
 *   FIELD and VALUE are runs of letters, digits and _ . : - / + or "quoted"
 *   strings (with \" and \\). White space is ignored. Example:
 *     age=18-24,25-34 & gender=f & !seen=1
 * A syntax error is NS_EFORMAT naming the byte offset.
 *
 * Thread safety: queries, ns_attr_get and stats may run concurrently with
 * each other; set/unset/remove/save take the write lock. The bitmap returned
 * by ns_attr_get belongs to the index and is valid until the next write;
 * ns_attr_query returns a new bitmap the caller frees (roaring_bitmap_free).
 *
 * File format (safetensors, see safetensors.h), written atomically. The
 * two lists below ARE the format: attr.c expands them into the schema its
 * loader checks with ns_st_load.
 *   metadata "config": a JSON object {"format": NS_ATTR_FORMAT, "version":
 *     NS_ATTR_VERSION} plus the keys of NS_ATTR_FILE_CONFIG, each row
 *     X(key, kind, REQ | OPT, min, max, meaning);
 *   tensors: the rows of NS_ATTR_FILE_TENSORS, X(id, name, dtype, REQ | OPT,
 *     shape in config keys, meaning).
 *   Beyond the tables load checks every key string, offset and bitmap.
 */
#ifndef NORTHSTAR_ATTR_H
#define NORTHSTAR_ATTR_H

#include "northstar/index.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_ATTR_FORMAT "northstar-attr"
#define NS_ATTR_VERSION 1
#define NS_ATTR_FILE_CONFIG(X) X(keys, INT, REQ, 0, UINT32_MAX - 1, "(field, value) pairs K")
#define NS_ATTR_FILE_TENSORS(X)                                                                  \
    X(keys, "keys", U8, REQ, "[*]", "the K \"field\\x1fvalue\" strings, each NUL-terminated, distinct") \
    X(bm_off, "bm_off", I64, REQ, "[keys+1]",                                                    \
      "bitmap i is bitmaps[bm_off[i]..bm_off[i+1]); from 0 to the end of bitmaps")               \
    X(bitmaps, "bitmaps", U8, REQ, "[*]", "CRoaring portable serialisations, back to back")

typedef struct ns_attr ns_attr;

int ns_attr_create(ns_attr **out);
void ns_attr_free(ns_attr *a);

/* Add id to the bitmap of (field, value); an id may have several values. */
int ns_attr_set(ns_attr *a, uint32_t id, const char *field, const char *value);
/* Remove id from (field, value) (no error if it was not there). */
int ns_attr_unset(ns_attr *a, uint32_t id, const char *field, const char *value);
/* Remove id from every bitmap. */
int ns_attr_remove(ns_attr *a, uint32_t id);

/* The bitmap of (field, value), or NULL if no id has it (owned by a). */
const roaring_bitmap_t *ns_attr_get(const ns_attr *a, const char *field, const char *value);
/* Evaluate a query (see above); NULL with NS_EFORMAT/NS_ENOMEM recorded on error. */
roaring_bitmap_t *ns_attr_query(const ns_attr *a, const char *expr);

size_t ns_attr_keys(const ns_attr *a);  /* distinct (field, value) pairs */
uint64_t ns_attr_ids(const ns_attr *a); /* distinct ids with any attribute */

/* Save is atomic; the loaded index is a copy that no longer depends on
 * the file (it may be rewritten or truncated meanwhile). */
int ns_attr_save(ns_attr *a, const char *path);
int ns_attr_load(ns_attr **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_ATTR_H */
