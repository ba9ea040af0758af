/*
 * northstar/import.h — layer 5: filling the store from files: MovieLens-100K
 * directories and generic CSV or JSONL files of users, items or events.
 *
 * By default an import is all or nothing and strict:
 *   - one store transaction (ns_store_begin) over the whole file, written in
 *     batches of NS_IMPORT_BATCH rows (savepoints): a failure rolls it back
 *     and its message says that nothing was written;
 *   - the first bad row fails it, named file:line, field and value: an
 *     unknown column or key, a missing or malformed value, a value outside
 *     the limits every writer shares (store.h's NS_STORE_*_MAX: ids
 *     1..128 bytes, text 65536, ...), a string that is not valid UTF-8 or
 *     holds a NUL byte, an event naming an item the store does not have;
 *   - a file without rows (empty, or a header only) is an error.
 * ns_import_opts turns parts of that off: lenient skips bad rows (counted)
 * and ignores unknown columns and keys (named in a warning); partial commits
 * every batch as it goes, and after a failure stats->committed and
 * stats->last_line say what stayed, so that skip_lines = last_line resumes.
 *
 * Accepted and counted, never an error: events that repeat an earlier row
 * of the file (same user, item, type, value and ts; users and items: the
 * same id, the later row wins), events before their item's created time,
 * events with a negative value, users created because an event named them
 * first (the store does that; they have no attributes).
 */
#ifndef NORTHSTAR_IMPORT_H
#define NORTHSTAR_IMPORT_H

#include "northstar/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_IMPORT_BATCH 5000 /* rows per store call (per transaction with partial) */

typedef struct ns_import_opts {
    int lenient;     /* skip bad rows (counted) and ignore unknown columns/keys */
    int partial;     /* commit every batch as it goes instead of all or nothing */
    long skip_lines; /* pass over the rows that start on lines 1..skip_lines (a
                      * CSV header is still read): resume after last_line */
} ns_import_opts;

/* What an import did; each call fills it (zeroed first). */
typedef struct ns_import_stats {
    int64_t users, items, events; /* rows written (after a failure: 0, or with partial what stayed) */
    int64_t skipped;              /* lenient: bad rows skipped */
    int64_t unknown_items;        /* lenient: events skipped for an unknown item (in skipped) */
    int64_t passed;               /* rows passed over (skip_lines) */
    int64_t duplicates;           /* rows repeating an earlier row of the file (kept) */
    long first_duplicate;         /* line of the first of them */
    int64_t users_created;        /* users created by events that named them first */
    int64_t before_created;       /* events before their item's created time (kept) */
    int64_t negative;             /* events with a negative value (kept) */
    int ignored_fields;           /* lenient: unknown columns or keys ignored */
    char ignored[160];            /* their names (the first that fit), ", "-separated */
    int64_t committed;            /* rows durable in the store when the call returned */
    long last_line;               /* line of the last of them (0: none) */
} ns_import_stats;

/* MovieLens-100K directory: u.user, u.item (ISO-8859-1, converted to
 * UTF-8), u.genre, u.data (ratings as NS_EV_RATING events), all in one
 * transaction, strict. Item ids are "m<id>", user ids "u<id>" when prefix
 * is set, else the plain numbers. */
int ns_import_movielens(ns_store *st, const char *dir, int prefix_ids, ns_import_stats *stats);

/* Generic files. kind is "users", "items" or "events". CSV has a header row
 * naming the columns, RFC 4180 quoting; JSONL has one object per line with
 * the same keys:
 *   users:  id (or user), age, gender, occupation, zip, attrs, created
 *   items:  id (or item), title, text, categories ("a|b", JSONL also an
 *           array of strings), attrs, creator, created
 *   events: user, item, type (a name or number; default click), value
 *           (default 1; required for ratings), ts (required), context
 * attrs and context are JSON objects (in CSV, as text). opts may be NULL
 * (the defaults: all or nothing, strict). */
int ns_import_csv(ns_store *st, const char *path, const char *kind, const ns_import_opts *opts,
                  ns_import_stats *stats);
int ns_import_jsonl(ns_store *st, const char *path, const char *kind, const ns_import_opts *opts,
                    ns_import_stats *stats);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_IMPORT_H */
