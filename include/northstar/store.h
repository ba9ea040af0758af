/*
 * northstar/store.h — layer 5: the durable store of the recommendation
 * service. One SQLite file in WAL mode holds users, items and the event log.
 *
 * Schema (version NS_STORE_SCHEMA_VERSION; older files are migrated on open,
 * newer ones are refused with a hint):
 *   meta(key TEXT PRIMARY KEY, value TEXT)           "schema_version", ...
 *   users(uid INTEGER PRIMARY KEY, ext TEXT UNIQUE,  external id
 *         age INTEGER, gender TEXT, occupation TEXT, zip TEXT,
 *         attrs TEXT (JSON object), created REAL)
 *   items(iid INTEGER PRIMARY KEY, ext TEXT UNIQUE, title TEXT, body TEXT,
 *         categories TEXT ('|'-separated), attrs TEXT (JSON object),
 *         creator TEXT, created REAL)
 *   events(seq INTEGER PRIMARY KEY, uid INTEGER, iid INTEGER, type INTEGER,
 *          value REAL, ts REAL (Unix seconds), context TEXT (JSON or NULL))
 *   index events_user(uid, ts)                                  (v2; v2 also had
 *   events_item(iid, ts), dropped in v3: nothing read it and it doubled the
 *   pages an append dirties)
 *
 * Durability: an acknowledged write (a put_* call that returned >= 0)
 * survives `kill -9` of the process, and with NS_SYNC_FULL (the default)
 * also a power loss: WAL mode with synchronous=FULL fsyncs the WAL on every
 * commit. NS_SYNC_NORMAL fsyncs only at checkpoints: still safe against a
 * process crash (the WAL is in the OS page cache), not against power loss.
 * Each put_* call is one transaction: all rows or none, so batch writes.
 * ns_store_begin() opens a longer one (an import): the put_* calls made
 * until ns_store_commit() or ns_store_rollback() join it, each still all or
 * nothing on its own (a savepoint), and none is durable before the commit.
 *
 * What is stored: every string is NUL-terminated (an embedded NUL cannot
 * reach the store; parsers of bytes refuse it: the importers and jansson),
 * valid UTF-8 and within the field's limit below, every number finite and in
 * range; put_* refuses anything else with NS_EINVAL naming the record and
 * field ("items[3].text"), before writing any row of the call.
 *
 * Threads: a store handle serialises its calls with an internal mutex; open
 * one handle per process (readers of the same file from other processes are
 * fine: WAL lets them read while one writes).
 *
 * Example
 *   ns_store *st;
 *   if (ns_store_open(&st, "svc.db", NULL) < 0) die(ns_err_msg());
 *   ns_event_rec ev = {.user = "u1", .item = "m42", .type = NS_EV_CLICK, .value = 1, .ts = now};
 *   ns_store_put_events(st, &ev, 1, NULL);
 *   ns_store_close(st);
 */
#ifndef NORTHSTAR_STORE_H
#define NORTHSTAR_STORE_H

#include "northstar/base.h"
#include "northstar/event.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_STORE_SCHEMA_VERSION 3

/* Field limits, the same for every writer: the store refuses what breaks
 * them, and the importers and the HTTP API check them first so that an
 * error names the file line or request field. Lengths are bytes of UTF-8
 * (the NUL not counted). */
#define NS_STORE_ID_MAX 128            /* user and item ids: 1..128 bytes */
#define NS_STORE_GENDER_MAX 32
#define NS_STORE_OCCUPATION_MAX 64
#define NS_STORE_ZIP_MAX 32
#define NS_STORE_TITLE_MAX 1024
#define NS_STORE_TEXT_MAX 65536
#define NS_STORE_CATEGORIES_MAX 1024   /* the '|'-joined list */
#define NS_STORE_CREATOR_MAX 128
#define NS_STORE_JSON_MAX 65536        /* attrs and context, as JSON text */
#define NS_STORE_EVENT_TYPE_MAX 32     /* an event type's name in input */
#define NS_STORE_AGE_MAX 150           /* age: 0 (unknown) .. 150 */
#define NS_STORE_TIME_MAX 1e11         /* created and ts: 0 .. 1e11 Unix seconds */
#define NS_STORE_TS_AHEAD_MAX 86400.0  /* input ts at most a day past now (HTTP, import) */
#define NS_STORE_VALUE_MAX 1e12        /* event value: -1e12 .. 1e12 */

typedef enum { NS_SYNC_FULL = 0, NS_SYNC_NORMAL, NS_SYNC_OFF } ns_store_sync;

typedef struct ns_store_opts {
    ns_store_sync sync;  /* default NS_SYNC_FULL */
    int readonly;        /* open without writing (no migration) */
    int busy_timeout_ms; /* wait for other writers (default 5000) */
} ns_store_opts;

typedef struct ns_store ns_store;

/* Records. Strings are borrowed (put) or arena-owned (get/scan); NULL means
 * absent. attrs/context are JSON object texts. Times are Unix seconds. */
typedef struct ns_user_rec {
    const char *id;
    int age;                /* 0 = unknown */
    const char *gender;     /* "M", "F", ... */
    const char *occupation;
    const char *zip;
    const char *attrs;
    double created;
} ns_user_rec;

typedef struct ns_item_rec {
    const char *id;
    const char *title;
    const char *text;
    const char *categories; /* "Action|Comedy" */
    const char *attrs;
    const char *creator;
    double created;
} ns_item_rec;

typedef struct ns_event_rec {
    const char *user;
    const char *item;
    int type;     /* ns_event_type */
    double value; /* rating, price, dwell...; 1 for plain clicks */
    double ts;
    const char *context;
} ns_event_rec;

ns_store_opts ns_store_defaults(void);
int ns_store_open(ns_store **out, const char *path, const ns_store_opts *opts);
void ns_store_close(ns_store *st);
int ns_store_schema_version(ns_store *st);
const char *ns_store_path(const ns_store *st);

/* Insert or replace users/items by external id, in one transaction. */
int ns_store_put_users(ns_store *st, const ns_user_rec *u, size_t n);
int ns_store_put_items(ns_store *st, const ns_item_rec *it, size_t n);
/* Append events in one transaction. Unknown users are created (no
 * attributes); an unknown item fails the whole batch with NS_ENOTFOUND
 * naming "events[i].item". *first_seq (may be NULL) gets the sequence number
 * of the first event; the others follow consecutively. Concurrent calls are
 * group-committed: batches queued while a commit runs share the next
 * transaction (each in its own savepoint, so each stays all-or-nothing) and
 * its one fsync. */
int ns_store_put_events(ns_store *st, const ns_event_rec *ev, size_t n, int64_t *first_seq);
/* Event transactions committed so far (batches / commits = grouping). */
int64_t ns_store_commits(ns_store *st);
/* What the appends found, counted over the events accepted since the
 * handle was opened (a rolled-back ns_store_begin() transaction takes its
 * counts back): users created because an event named them first, and
 * events whose ts precedes their item's created time (both accepted). */
typedef struct ns_store_tally {
    int64_t users_created;
    int64_t before_created;
} ns_store_tally;
void ns_store_tally_get(ns_store *st, ns_store_tally *out);

/* One transaction over several put_* calls (an import): BEGIN IMMEDIATE, so
 * other writers of the file wait (their busy timeout) until it ends. While
 * it is open every write through this handle, from any thread, joins it.
 * ns_store_begin fails with NS_EINVAL if one is open already; commit and
 * rollback with NS_EINVAL if none is. Closing the handle rolls it back. */
int ns_store_begin(ns_store *st);
int ns_store_commit(ns_store *st);
int ns_store_rollback(ns_store *st);

/* Look one up by external id: 1 found (strings in *a), 0 absent, < 0 error. */
int ns_store_get_user(ns_store *st, const char *id, ns_user_rec *out, ns_arena *a);
int ns_store_get_item(ns_store *st, const char *id, ns_item_rec *out, ns_arena *a);

/* Scans in insertion order. The record's strings live until the callback
 * returns. A nonzero return from the callback stops the scan and is
 * returned. Events: only those with seq > after_seq. */
typedef int (*ns_store_user_fn)(const ns_user_rec *u, void *ctx);
typedef int (*ns_store_item_fn)(const ns_item_rec *it, void *ctx);
typedef int (*ns_store_event_fn)(int64_t seq, const ns_event_rec *ev, void *ctx);
int ns_store_scan_users(ns_store *st, ns_store_user_fn fn, void *ctx);
int ns_store_scan_items(ns_store *st, ns_store_item_fn fn, void *ctx);
int ns_store_scan_events(ns_store *st, int64_t after_seq, ns_store_event_fn fn, void *ctx);
/* Events of one user, newest first, at most `limit`. */
int ns_store_user_events(ns_store *st, const char *user, int limit, ns_store_event_fn fn, void *ctx);

/* Row counts; table is "users", "items" or "events". */
int64_t ns_store_count(ns_store *st, const char *table);
/* Checkpoint the WAL into the main file (on clean shutdown). */
int ns_store_checkpoint(ns_store *st);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_STORE_H */
