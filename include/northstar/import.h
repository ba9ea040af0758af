/*
 * northstar/import.h — layer 5: filling the store from files: MovieLens-100K
 * directories and generic CSV or JSONL files of users, items or events.
 */
#ifndef NORTHSTAR_IMPORT_H
#define NORTHSTAR_IMPORT_H

#include "northstar/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_import_stats {
    int64_t users, items, events; /* rows written */
    int64_t skipped;              /* malformed rows skipped (non-strict) */
} ns_import_stats;

/* MovieLens-100K directory: u.user, u.item (ISO-8859-1, converted to
 * UTF-8), u.genre, u.data (ratings as NS_EV_RATING events). Item ids are
 * "m<id>", user ids "u<id>" when prefix is set, else the plain numbers. */
int ns_import_movielens(ns_store *st, const char *dir, int prefix_ids, ns_import_stats *stats);

/* Generic files. kind is "users", "items" or "events". CSV has a header row
 * naming the columns (user/id, item, type, value, ts, context; id, age,
 * gender, occupation, zip, attrs; id, title, text, categories, attrs,
 * creator, created), RFC 4180 quoting. JSONL has one object per line with
 * the same keys. strict: the first bad row fails the import (naming file,
 * line and field); otherwise bad rows are counted in stats->skipped. */
int ns_import_csv(ns_store *st, const char *path, const char *kind, int strict, ns_import_stats *stats);
int ns_import_jsonl(ns_store *st, const char *path, const char *kind, int strict, ns_import_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_IMPORT_H */
