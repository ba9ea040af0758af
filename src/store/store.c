/*
 * store.c — the service's durable store on SQLite (WAL mode, one file):
 * open + migrations, batched upserts of users and items, the append-only
 * event log, lookups and scans.
 *
 * Workload: the server appends event batches (tens to thousands of rows per
 * commit) and upserts catalogue rows now and then; at start-up it scans
 * everything once to rebuild its in-memory state. Every write call is one
 * transaction, so the cost of the fsync that makes it durable is shared by
 * the whole batch. Statements are prepared once and reused. An import
 * opens one transaction over many calls (ns_store_begin): the calls become
 * savepoints inside it. Every record is checked before its call writes
 * anything (store_int.h: bytes and limits; numbers in range).
 */
#include "northstar/store.h"

#include "store_int.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* ---- statements ---------------------------------------------------------- */

enum {
    Q_USER_UPSERT,
    Q_ITEM_UPSERT,
    Q_USER_FIND,
    Q_USER_NEW,
    Q_ITEM_FIND,
    Q_EVENT_ADD,
    Q_USER_GET,
    Q_ITEM_GET,
    Q__COUNT
};

static const char *const q_sql[Q__COUNT] = {
    [Q_USER_UPSERT] = "INSERT INTO users(ext,age,gender,occupation,zip,attrs,created) VALUES(?,?,?,?,?,?,?) "
                      "ON CONFLICT(ext) DO UPDATE SET age=excluded.age, gender=excluded.gender, "
                      "occupation=excluded.occupation, zip=excluded.zip, attrs=excluded.attrs, "
                      "created=excluded.created",
    [Q_ITEM_UPSERT] = "INSERT INTO items(ext,title,body,categories,attrs,creator,created) VALUES(?,?,?,?,?,?,?) "
                      "ON CONFLICT(ext) DO UPDATE SET title=excluded.title, body=excluded.body, "
                      "categories=excluded.categories, attrs=excluded.attrs, creator=excluded.creator, "
                      "created=excluded.created",
    [Q_USER_FIND] = "SELECT uid FROM users WHERE ext=?",
    [Q_USER_NEW] = "INSERT INTO users(ext,age,created) VALUES(?,0,?)",
    [Q_ITEM_FIND] = "SELECT iid,created FROM items WHERE ext=?",
    [Q_EVENT_ADD] = "INSERT INTO events(uid,iid,type,value,ts,context) VALUES(?,?,?,?,?,?)",
    [Q_USER_GET] = "SELECT ext,age,gender,occupation,zip,attrs,created FROM users WHERE ext=?",
    [Q_ITEM_GET] = "SELECT ext,title,body,categories,attrs,creator,created FROM items WHERE ext=?",
};

struct ns_store {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    pthread_mutex_t mu;
    char path[1024];
    int version;
    int64_t commits; /* event transactions committed */
    ns_store_tally tally;    /* over accepted events (store.h) */
    int tx;                  /* an ns_store_begin() transaction is open */
    int tx_events;           /* ... and events were appended in it */
    ns_store_tally tx_mark;  /* the tally when it began */
    /* group commit of event batches */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    struct pending *gc_head, *gc_tail;
    int gc_leader;
};

static int db_err(ns_store *st, int code, const char *what)
{
    return ns_err_set_at(code, st->path, 0, NULL, NULL, "%s: %s", what, sqlite3_errmsg(st->db));
}

static int exec(ns_store *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = ns_err_set_at(NS_EIO, st->path, 0, NULL, NULL, "sqlite: %s (in: %.60s)", msg ? msg : "?", sql);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

/* ---- migrations ------------------------------------------------------------ */

/* migrations[v] brings a file from version v to v + 1. Append only. */
static const char *const migrations[NS_STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: the tables. */
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE users(uid INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE, age INTEGER, gender TEXT,"
    " occupation TEXT, zip TEXT, attrs TEXT, created REAL);"
    "CREATE TABLE items(iid INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE, title TEXT, body TEXT,"
    " categories TEXT, attrs TEXT, creator TEXT, created REAL);"
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, uid INTEGER NOT NULL, iid INTEGER NOT NULL,"
    " type INTEGER NOT NULL, value REAL, ts REAL NOT NULL, context TEXT);",
    /* 1 -> 2: per-user and per-item event indexes (user history, item stats). */
    "CREATE INDEX events_user ON events(uid, ts);"
    "CREATE INDEX events_item ON events(iid, ts);",
    /* 2 -> 3: no query reads events by item (item statistics live in memory,
     * rebuilt from the log at start), and the index doubled the pages each
     * appended batch dirties: dropped. */
    "DROP INDEX IF EXISTS events_item;",
};

static int read_version(ns_store *st, int *v)
{
    *v = 0;
    sqlite3_stmt *s = NULL;
    /* No meta table yet means a fresh file. */
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='schema_version'", -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return 0;
    }
    if (sqlite3_step(s) == SQLITE_ROW) *v = atoi((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return 0;
}

static int migrate(ns_store *st, int readonly)
{
    int v;
    read_version(st, &v);
    int initial = v;
    if (v > NS_STORE_SCHEMA_VERSION)
        return ns_err_set_at(NS_EUNSUPPORTED, st->path, 0, "schema_version", NULL,
                             "store schema version %d is newer than this northstar understands (%d): "
                             "upgrade northstar",
                             v, NS_STORE_SCHEMA_VERSION);
    if (v < NS_STORE_SCHEMA_VERSION && readonly)
        return ns_err_set_at(NS_EUNSUPPORTED, st->path, 0, "schema_version", NULL,
                             "store schema version %d needs a migration to %d; open it read-write once", v,
                             NS_STORE_SCHEMA_VERSION);
    for (; v < NS_STORE_SCHEMA_VERSION; v++) {
        char setv[128];
        snprintf(setv, sizeof setv, "INSERT OR REPLACE INTO meta(key,value) VALUES('schema_version','%d');", v + 1);
        int rc;
        if ((rc = exec(st, "BEGIN IMMEDIATE")) < 0) return rc;
        if ((rc = exec(st, migrations[v])) < 0 || (rc = exec(st, setv)) < 0) {
            exec(st, "ROLLBACK");
            return ns_err_wrap("migrating the store from schema %d to %d", v, v + 1);
        }
        if ((rc = exec(st, "COMMIT")) < 0) return rc;
        if (initial > 0) ns_log_info("store %s: migrated schema %d -> %d", st->path, v, v + 1);
    }
    st->version = v;
    return 0;
}

/* ---- open / close ------------------------------------------------------------ */

ns_store_opts ns_store_defaults(void) { return (ns_store_opts){NS_SYNC_FULL, 0, 5000}; }

int ns_store_open(ns_store **out, const char *path, const ns_store_opts *opts)
{
    *out = NULL;
    ns_store_opts o = opts ? *opts : ns_store_defaults();
    if (o.busy_timeout_ms <= 0) o.busy_timeout_ms = 5000;
    if (!path || !*path) return ns_err_set(NS_EINVAL, "store: empty path");
    ns_store *st = ns_calloc(1, sizeof *st);
    if (!st) return NS_ENOMEM;
    snprintf(st->path, sizeof st->path, "%s", path);
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->gc_mu, NULL);
    pthread_cond_init(&st->gc_cv, NULL);
    int flags = (o.readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    int rc;
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot open store: %s",
                           st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, o.busy_timeout_ms);
    sqlite3_extended_result_codes(st->db, 1);
    /* Refuse files that are not SQLite before anything else touches them. */
    if ((rc = exec(st, "SELECT count(*) FROM sqlite_schema")) < 0) {
        ns_err_wrap("%s is not a northstar store (SQLite)", path);
        goto fail;
    }
    if (!o.readonly) {
        if ((rc = exec(st, "PRAGMA journal_mode=WAL")) < 0) goto fail;
        const char *sync = o.sync == NS_SYNC_FULL ? "PRAGMA synchronous=FULL"
                           : o.sync == NS_SYNC_NORMAL ? "PRAGMA synchronous=NORMAL"
                                                      : "PRAGMA synchronous=OFF";
        if ((rc = exec(st, sync)) < 0) goto fail;
        /* A 64 MiB page cache and memory-mapped reads: appends touch index
         * pages all over the file, and 2 MiB (the default) re-reads them. */
        if ((rc = exec(st, "PRAGMA cache_size=-65536")) < 0) goto fail;
        if ((rc = exec(st, "PRAGMA mmap_size=1073741824")) < 0) goto fail;
    }
    if ((rc = migrate(st, o.readonly)) < 0) goto fail;
    if (!o.readonly)
        for (int i = 0; i < Q__COUNT; i++)
            if (sqlite3_prepare_v3(st->db, q_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL) != SQLITE_OK) {
                rc = db_err(st, NS_EINTERNAL, "preparing statement");
                goto fail;
            }
    *out = st;
    return 0;
fail:
    ns_store_close(st);
    return rc;
}

void ns_store_close(ns_store *st)
{
    if (!st) return;
    for (int i = 0; i < Q__COUNT; i++) sqlite3_finalize(st->q[i]);
    if (st->db) sqlite3_close(st->db);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->gc_mu);
    pthread_cond_destroy(&st->gc_cv);
    free(st);
}

int ns_store_schema_version(ns_store *st) { return st->version; }
const char *ns_store_path(const ns_store *st) { return st->path; }

int ns_store_checkpoint(ns_store *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    int r = rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : db_err(st, NS_EIO, "checkpoint");
    pthread_mutex_unlock(&st->mu);
    return r;
}

/* ---- helpers --------------------------------------------------------------------- */

static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

static const char *col_text(sqlite3_stmt *s, int i) { return (const char *)sqlite3_column_text(s, i); }

static char *arena_col(ns_arena *a, sqlite3_stmt *s, int i)
{
    const char *t = col_text(s, i);
    return t ? ns_arena_strdup(a, t) : NULL;
}

static int step_done(ns_store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return db_err(st, NS_EIO, what);
    return 0;
}

static int begin(ns_store *st)
{
    if (!st->q[0]) return ns_err_set_at(NS_EUNSUPPORTED, st->path, 0, NULL, NULL, "store is open read-only");
    return exec(st, "BEGIN IMMEDIATE");
}

/* Roll back to savepoint `sp` and release it, keeping the error record. */
static void undo_savepoint(ns_store *st, const char *sp)
{
    ns_error_info saved = *ns_err_last();
    char sql[48];
    snprintf(sql, sizeof sql, "ROLLBACK TO %s", sp);
    exec(st, sql);
    snprintf(sql, sizeof sql, "RELEASE %s", sp);
    exec(st, sql);
    ns_err_set_at(saved.code, saved.file[0] ? saved.file : NULL, saved.line, saved.field[0] ? saved.field : NULL,
                  saved.value[0] ? saved.value : NULL, "%s", saved.msg);
}

static int finish(ns_store *st, int rc)
{
    if (rc < 0) {
        ns_error_info saved = *ns_err_last();
        exec(st, "ROLLBACK");
        ns_err_set_at(saved.code, saved.file, saved.line, saved.field[0] ? saved.field : NULL,
                      saved.value[0] ? saved.value : NULL, "%s", saved.msg);
        return rc;
    }
    return exec(st, "COMMIT");
}

/* ---- checks: every record before its call writes anything ------------------------- */

/* NS_EINVAL naming "<rec>[i].<field>". */
static int refuse(const char *rec, size_t i, const char *field, const char *value, const char *why)
{
    char f[64];
    snprintf(f, sizeof f, "%s[%zu].%s", rec, i, field);
    return ns_err_set_at(NS_EINVAL, NULL, 0, f, value, "%s", why);
}

/* A string field: absent (NULL) unless it is an id, else within max bytes
 * of valid UTF-8; an id is also non-empty. */
static int check_str(const char *rec, size_t i, const char *field, const char *s, size_t max, int is_id)
{
    size_t n = s ? strlen(s) : 0;
    if (is_id && !n) return refuse(rec, i, field, NULL, "missing id");
    if (!s) return 0;
    char why[96], ex[64];
    if (ns__text_check(s, n, max, why, sizeof why) == 0) return 0;
    ns__text_excerpt(s, n, ex, sizeof ex);
    return refuse(rec, i, field, ex, why);
}

static int check_num(const char *rec, size_t i, const char *field, double v, double lo, double hi)
{
    if (v >= lo && v <= hi) return 0; /* false for NaN */
    char ex[32], why[96];
    snprintf(ex, sizeof ex, "%g", v);
    snprintf(why, sizeof why, "%s outside %g..%g", isfinite(v) ? "number" : "not a finite number,", lo, hi);
    return refuse(rec, i, field, ex, why);
}

/* The string fields of a record kind: name, offset of the pointer, limit. */
typedef struct {
    const char *name;
    size_t off, max;
    int is_id;
} str_field;

static const str_field user_strs[] = {
    {"id", offsetof(ns_user_rec, id), NS_STORE_ID_MAX, 1},
    {"gender", offsetof(ns_user_rec, gender), NS_STORE_GENDER_MAX, 0},
    {"occupation", offsetof(ns_user_rec, occupation), NS_STORE_OCCUPATION_MAX, 0},
    {"zip", offsetof(ns_user_rec, zip), NS_STORE_ZIP_MAX, 0},
    {"attrs", offsetof(ns_user_rec, attrs), NS_STORE_JSON_MAX, 0},
};
static const str_field item_strs[] = {
    {"id", offsetof(ns_item_rec, id), NS_STORE_ID_MAX, 1},
    {"title", offsetof(ns_item_rec, title), NS_STORE_TITLE_MAX, 0},
    {"text", offsetof(ns_item_rec, text), NS_STORE_TEXT_MAX, 0},
    {"categories", offsetof(ns_item_rec, categories), NS_STORE_CATEGORIES_MAX, 0},
    {"attrs", offsetof(ns_item_rec, attrs), NS_STORE_JSON_MAX, 0},
    {"creator", offsetof(ns_item_rec, creator), NS_STORE_CREATOR_MAX, 0},
};

static int check_strs(const char *rec, size_t i, const void *r, const str_field *f, size_t nf)
{
    for (size_t k = 0; k < nf; k++) {
        const char *v = *(const char *const *)((const char *)r + f[k].off);
        int rc = check_str(rec, i, f[k].name, v, f[k].max, f[k].is_id);
        if (rc < 0) return rc;
    }
    return 0;
}

static int check_users(const ns_user_rec *u, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        if ((rc = check_strs("users", i, &u[i], user_strs, sizeof user_strs / sizeof *user_strs)) < 0 ||
            (rc = check_num("users", i, "age", u[i].age, 0, NS_STORE_AGE_MAX)) < 0 ||
            (rc = check_num("users", i, "created", u[i].created, 0, NS_STORE_TIME_MAX)) < 0)
            return rc;
    }
    return 0;
}

static int check_items(const ns_item_rec *it, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        if ((rc = check_strs("items", i, &it[i], item_strs, sizeof item_strs / sizeof *item_strs)) < 0 ||
            (rc = check_num("items", i, "created", it[i].created, 0, NS_STORE_TIME_MAX)) < 0)
            return rc;
    }
    return 0;
}

static int check_events(const ns_event_rec *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc;
        if ((rc = check_str("events", i, "user", ev[i].user, NS_STORE_ID_MAX, 1)) < 0 ||
            (rc = check_str("events", i, "item", ev[i].item, NS_STORE_ID_MAX, 1)) < 0)
            return rc;
        if (ev[i].type < 0 || ev[i].type >= NS_EV__COUNT) {
            char f[48];
            snprintf(f, sizeof f, "events[%zu].type", i);
            return ns_err_set_at(NS_EINVAL, NULL, 0, f, NULL, "unknown event type %d", ev[i].type);
        }
        if ((rc = check_num("events", i, "value", ev[i].value, -NS_STORE_VALUE_MAX, NS_STORE_VALUE_MAX)) < 0 ||
            (rc = check_num("events", i, "ts", ev[i].ts, 0, NS_STORE_TIME_MAX)) < 0 ||
            (rc = check_str("events", i, "context", ev[i].context, NS_STORE_JSON_MAX, 0)) < 0)
            return rc;
    }
    return 0;
}

/* ---- transactions ------------------------------------------------------------------ */

int ns_store_begin(ns_store *st)
{
    pthread_mutex_lock(&st->mu);
    int rc = st->tx ? ns_err_set_at(NS_EINVAL, st->path, 0, NULL, NULL, "a transaction is open already")
                    : begin(st);
    if (rc >= 0) {
        st->tx = 1;
        st->tx_events = 0;
        st->tx_mark = st->tally;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* End the open transaction with COMMIT (commit = 1) or ROLLBACK. */
static int end_tx(ns_store *st, int commit)
{
    pthread_mutex_lock(&st->mu);
    int rc = 0;
    if (!st->tx) rc = ns_err_set_at(NS_EINVAL, st->path, 0, NULL, NULL, "no transaction is open");
    else {
        if (commit && (rc = exec(st, "COMMIT")) < 0) finish(st, rc); /* roll back what did not commit */
        else if (!commit) rc = exec(st, "ROLLBACK");
        if (commit && rc >= 0) st->commits += st->tx_events;
        else st->tally = st->tx_mark;
        st->tx = 0;
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int ns_store_commit(ns_store *st) { return end_tx(st, 1); }
int ns_store_rollback(ns_store *st) { return end_tx(st, 0); }

void ns_store_tally_get(ns_store *st, ns_store_tally *out)
{
    pthread_mutex_lock(&st->mu);
    *out = st->tally;
    pthread_mutex_unlock(&st->mu);
}

/* ---- writes ----------------------------------------------------------------------- */

static void bind_user(sqlite3_stmt *s, const void *row)
{
    const ns_user_rec *u = row;
    bind_text(s, 1, u->id);
    sqlite3_bind_int(s, 2, u->age);
    bind_text(s, 3, u->gender);
    bind_text(s, 4, u->occupation);
    bind_text(s, 5, u->zip);
    bind_text(s, 6, u->attrs);
    sqlite3_bind_double(s, 7, u->created);
}

static void bind_item(sqlite3_stmt *s, const void *row)
{
    const ns_item_rec *it = row;
    bind_text(s, 1, it->id);
    bind_text(s, 2, it->title);
    bind_text(s, 3, it->text);
    bind_text(s, 4, it->categories);
    bind_text(s, 5, it->attrs);
    bind_text(s, 6, it->creator);
    sqlite3_bind_double(s, 7, it->created);
}

/* Insert or replace n catalogue rows of `stride` bytes with statement q,
 * all or nothing: one transaction, or a savepoint inside the open one. The
 * rows are checked already; `kind` ("user", "item") names the step. */
static int upsert_rows(ns_store *st, int q, const char *kind, const void *rows, size_t n, size_t stride,
                       void (*bind)(sqlite3_stmt *, const void *))
{
    pthread_mutex_lock(&st->mu);
    int outer = st->tx;
    int rc = outer ? exec(st, "SAVEPOINT w") : begin(st);
    if (rc < 0) goto out;
    sqlite3_stmt *s = st->q[q];
    char what[32];
    snprintf(what, sizeof what, "writing %s", kind);
    for (size_t i = 0; i < n && rc >= 0; i++) {
        bind(s, (const char *)rows + i * stride);
        rc = step_done(st, s, what);
    }
    if (!outer) rc = finish(st, rc);
    else if (rc < 0) undo_savepoint(st, "w");
    else rc = exec(st, "RELEASE w");
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int ns_store_put_users(ns_store *st, const ns_user_rec *u, size_t n)
{
    int rc = check_users(u, n);
    return rc < 0 ? rc : upsert_rows(st, Q_USER_UPSERT, "user", u, n, sizeof *u, bind_user);
}

int ns_store_put_items(ns_store *st, const ns_item_rec *it, size_t n)
{
    int rc = check_items(it, n);
    return rc < 0 ? rc : upsert_rows(st, Q_ITEM_UPSERT, "item", it, n, sizeof *it, bind_item);
}

/* Row id (and, when created is not NULL, the second column) for an
 * external id: 1 found, 0 not. */
static int find_id(sqlite3_stmt *s, const char *ext, int64_t *id, double *created)
{
    sqlite3_bind_text(s, 1, ext, -1, SQLITE_STATIC);
    int found = sqlite3_step(s) == SQLITE_ROW;
    if (found) {
        *id = sqlite3_column_int64(s, 0);
        if (created) *created = sqlite3_column_double(s, 1);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return found;
}

/* Append one checked batch inside the open transaction; *t gets what it
 * found (store.h's tally). */
static int append_events(ns_store *st, const ns_event_rec *ev, size_t n, int64_t *first_seq, ns_store_tally *t)
{
    int rc = 0;
    /* Consecutive events of one user/item are common (sessions): reuse the
     * last lookup. */
    const char *last_user = NULL, *last_item = NULL;
    int64_t uid = 0, iid = 0;
    double item_created = 0;
    *t = (ns_store_tally){0, 0};
    for (size_t i = 0; i < n && rc >= 0; i++) {
        char f[48];
        if (!last_user || strcmp(last_user, ev[i].user)) {
            if (!find_id(st->q[Q_USER_FIND], ev[i].user, &uid, NULL)) {
                sqlite3_stmt *s = st->q[Q_USER_NEW];
                bind_text(s, 1, ev[i].user);
                sqlite3_bind_double(s, 2, ev[i].ts);
                if ((rc = step_done(st, s, "creating user")) < 0) break;
                uid = sqlite3_last_insert_rowid(st->db);
                t->users_created++;
            }
            last_user = ev[i].user;
        }
        if (!last_item || strcmp(last_item, ev[i].item)) {
            if (!find_id(st->q[Q_ITEM_FIND], ev[i].item, &iid, &item_created)) {
                snprintf(f, sizeof f, "events[%zu].item", i);
                rc = ns_err_set_at(NS_ENOTFOUND, NULL, 0, f, ev[i].item, "unknown item");
                break;
            }
            last_item = ev[i].item;
        }
        if (ev[i].ts < item_created) t->before_created++;
        sqlite3_stmt *s = st->q[Q_EVENT_ADD];
        sqlite3_bind_int64(s, 1, uid);
        sqlite3_bind_int64(s, 2, iid);
        sqlite3_bind_int(s, 3, ev[i].type);
        sqlite3_bind_double(s, 4, ev[i].value);
        sqlite3_bind_double(s, 5, ev[i].ts);
        bind_text(s, 6, ev[i].context);
        if ((rc = step_done(st, s, "appending event")) < 0) break;
        if (i == 0 && first_seq) *first_seq = sqlite3_last_insert_rowid(st->db);
    }
    return rc;
}

/* Group commit. Concurrent callers queue their batches; the first one to
 * find no commit in progress becomes the leader: it writes every queued
 * batch in one transaction, each inside its own savepoint (a bad batch is
 * rolled back alone and gets its own error), and commits once, so one
 * fsync acknowledges them all. The others wait for their batch to be done.
 * Under concurrent writers this turns N fsyncs into about one. */
typedef struct pending {
    const ns_event_rec *ev;
    size_t n;
    int64_t first;
    int rc, done;
    ns_store_tally tally;
    ns_error_info err;
    struct pending *next;
} pending;

/* Inside a handle transaction (ns_store_begin) the group joins it: no
 * BEGIN or COMMIT of its own, and nothing durable until ns_store_commit. */
static void lead_group(ns_store *st, pending *batch)
{
    pthread_mutex_lock(&st->mu);
    int outer = st->tx;
    int rc = outer ? 0 : begin(st);
    for (pending *p = batch; p && rc >= 0; p = p->next) {
        if ((rc = exec(st, "SAVEPOINT b")) < 0) break;
        p->rc = append_events(st, p->ev, p->n, &p->first, &p->tally);
        if (p->rc < 0) {
            p->err = *ns_err_last();
            exec(st, "ROLLBACK TO b");
        }
        if ((rc = exec(st, "RELEASE b")) < 0) break;
    }
    if (outer) st->tx_events = 1;
    else {
        if (rc >= 0) rc = exec(st, "COMMIT");
        else finish(st, rc);
        st->commits++;
    }
    if (rc >= 0)
        for (pending *p = batch; p; p = p->next)
            if (p->rc >= 0) {
                st->tally.users_created += p->tally.users_created;
                st->tally.before_created += p->tally.before_created;
            }
    if (rc < 0) /* nothing was committed: every batch fails with this error */
        for (pending *p = batch; p; p = p->next) {
            p->rc = rc;
            p->err = *ns_err_last();
        }
    pthread_mutex_unlock(&st->mu);
}

int ns_store_put_events(ns_store *st, const ns_event_rec *ev, size_t n, int64_t *first_seq)
{
    int rc = check_events(ev, n);
    if (rc < 0) return rc;
    pending me = {ev, n, 0, 0, 0, {0, 0}, {0}, NULL};
    pthread_mutex_lock(&st->gc_mu);
    if (st->gc_tail) st->gc_tail->next = &me;
    else st->gc_head = &me;
    st->gc_tail = &me;
    while (!me.done) {
        if (st->gc_leader) {
            pthread_cond_wait(&st->gc_cv, &st->gc_mu);
            continue;
        }
        st->gc_leader = 1;
        pending *batch = st->gc_head;
        st->gc_head = st->gc_tail = NULL;
        pthread_mutex_unlock(&st->gc_mu);
        lead_group(st, batch);
        pthread_mutex_lock(&st->gc_mu);
        for (pending *p = batch; p; p = p->next) p->done = 1;
        st->gc_leader = 0;
        pthread_cond_broadcast(&st->gc_cv);
    }
    pthread_mutex_unlock(&st->gc_mu);
    if (me.rc < 0) {
        ns_err_set_at(me.err.code, me.err.file[0] ? me.err.file : NULL, me.err.line,
                      me.err.field[0] ? me.err.field : NULL, me.err.value[0] ? me.err.value : NULL, "%s",
                      me.err.msg);
        return me.rc;
    }
    if (first_seq) *first_seq = me.first;
    return 0;
}

int64_t ns_store_commits(ns_store *st)
{
    pthread_mutex_lock(&st->mu);
    int64_t n = st->commits;
    pthread_mutex_unlock(&st->mu);
    return n;
}

/* ---- reads -------------------------------------------------------------------------- */

static void user_from_row(sqlite3_stmt *s, ns_user_rec *u, ns_arena *a)
{
    u->id = a ? arena_col(a, s, 0) : col_text(s, 0);
    u->age = sqlite3_column_int(s, 1);
    u->gender = a ? arena_col(a, s, 2) : col_text(s, 2);
    u->occupation = a ? arena_col(a, s, 3) : col_text(s, 3);
    u->zip = a ? arena_col(a, s, 4) : col_text(s, 4);
    u->attrs = a ? arena_col(a, s, 5) : col_text(s, 5);
    u->created = sqlite3_column_double(s, 6);
}

static void item_from_row(sqlite3_stmt *s, ns_item_rec *it, ns_arena *a)
{
    it->id = a ? arena_col(a, s, 0) : col_text(s, 0);
    it->title = a ? arena_col(a, s, 1) : col_text(s, 1);
    it->text = a ? arena_col(a, s, 2) : col_text(s, 2);
    it->categories = a ? arena_col(a, s, 3) : col_text(s, 3);
    it->attrs = a ? arena_col(a, s, 4) : col_text(s, 4);
    it->creator = a ? arena_col(a, s, 5) : col_text(s, 5);
    it->created = sqlite3_column_double(s, 6);
}

/* A statement for reads: the cached one in read-write mode, else a fresh one. */
static sqlite3_stmt *read_stmt(ns_store *st, int q, int *fresh)
{
    *fresh = 0;
    if (st->q[q]) return st->q[q];
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, q_sql[q], -1, &s, NULL) != SQLITE_OK) return NULL;
    *fresh = 1;
    return s;
}

static int get_one(ns_store *st, int q, const char *id, void *out, ns_arena *a, int is_user)
{
    pthread_mutex_lock(&st->mu);
    int fresh, rc = 0;
    sqlite3_stmt *s = read_stmt(st, q, &fresh);
    if (!s) {
        rc = db_err(st, NS_EIO, "lookup");
        goto out;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_TRANSIENT);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
        if (is_user) user_from_row(s, out, a);
        else item_from_row(s, out, a);
        rc = 1;
    } else if (r != SQLITE_DONE) rc = db_err(st, NS_EIO, "lookup");
    if (fresh) sqlite3_finalize(s);
    else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int ns_store_get_user(ns_store *st, const char *id, ns_user_rec *out, ns_arena *a)
{
    return get_one(st, Q_USER_GET, id, out, a, 1);
}

int ns_store_get_item(ns_store *st, const char *id, ns_item_rec *out, ns_arena *a)
{
    return get_one(st, Q_ITEM_GET, id, out, a, 0);
}

typedef enum { SCAN_USERS, SCAN_ITEMS, SCAN_EVENTS } scan_kind;

static int scan(ns_store *st, const char *sql, scan_kind kind, int64_t arg, const char *text_arg, void *fn,
                void *ctx)
{
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
        rc = db_err(st, NS_EIO, "scan");
        goto out;
    }
    if (text_arg) {
        sqlite3_bind_text(s, 1, text_arg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, arg);
    } else if (kind == SCAN_EVENTS) sqlite3_bind_int64(s, 1, arg);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (kind == SCAN_USERS) {
            ns_user_rec u;
            user_from_row(s, &u, NULL);
            rc = ((ns_store_user_fn)fn)(&u, ctx);
        } else if (kind == SCAN_ITEMS) {
            ns_item_rec it;
            item_from_row(s, &it, NULL);
            rc = ((ns_store_item_fn)fn)(&it, ctx);
        } else {
            ns_event_rec e = {col_text(s, 1), col_text(s, 2), sqlite3_column_int(s, 3), sqlite3_column_double(s, 4),
                              sqlite3_column_double(s, 5), col_text(s, 6)};
            rc = ((ns_store_event_fn)fn)(sqlite3_column_int64(s, 0), &e, ctx);
        }
        if (rc) break;
    }
    if (!rc && r != SQLITE_DONE) rc = db_err(st, NS_EIO, "scan");
out:
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int ns_store_scan_users(ns_store *st, ns_store_user_fn fn, void *ctx)
{
    return scan(st, "SELECT ext,age,gender,occupation,zip,attrs,created FROM users ORDER BY uid", SCAN_USERS, 0, NULL,
                (void *)fn, ctx);
}

int ns_store_scan_items(ns_store *st, ns_store_item_fn fn, void *ctx)
{
    return scan(st, "SELECT ext,title,body,categories,attrs,creator,created FROM items ORDER BY iid", SCAN_ITEMS, 0,
                NULL, (void *)fn, ctx);
}

int ns_store_scan_events(ns_store *st, int64_t after_seq, ns_store_event_fn fn, void *ctx)
{
    return scan(st,
                "SELECT e.seq,u.ext,i.ext,e.type,e.value,e.ts,e.context FROM events e "
                "JOIN users u ON u.uid=e.uid JOIN items i ON i.iid=e.iid WHERE e.seq>? ORDER BY e.seq",
                SCAN_EVENTS, after_seq, NULL, (void *)fn, ctx);
}

int ns_store_user_events(ns_store *st, const char *user, int limit, ns_store_event_fn fn, void *ctx)
{
    return scan(st,
                "SELECT e.seq,u.ext,i.ext,e.type,e.value,e.ts,e.context FROM events e "
                "JOIN users u ON u.uid=e.uid JOIN items i ON i.iid=e.iid WHERE u.ext=? "
                "ORDER BY e.ts DESC, e.seq DESC LIMIT ?",
                SCAN_EVENTS, limit, user, (void *)fn, ctx);
}

int64_t ns_store_count(ns_store *st, const char *table)
{
    const char *sql = !strcmp(table, "users")    ? "SELECT count(*) FROM users"
                      : !strcmp(table, "items")  ? "SELECT count(*) FROM items"
                      : !strcmp(table, "events") ? "SELECT count(*) FROM events"
                                                 : NULL;
    if (!sql) return ns_err_set(NS_EINVAL, "store: no table '%s'", table);
    pthread_mutex_lock(&st->mu);
    sqlite3_stmt *s = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    else n = db_err(st, NS_EIO, "count");
    sqlite3_finalize(s);
    pthread_mutex_unlock(&st->mu);
    return n;
}
