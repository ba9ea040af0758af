/*
 * import.c — filling a store from files: the MovieLens-100K directory
 * format, and generic CSV (header row, RFC 4180 quoting) or JSONL files of
 * users, items or events.
 *
 * Every source is reduced to "rows" that answer field lookups by name, so
 * the validation (names, types, ranges, bytes, which field is wrong on
 * which line) is written once for all formats, with the limits the store
 * and the HTTP API share (store.h). Rows go to the store in batches of
 * NS_IMPORT_BATCH per call: by default all inside one transaction opened
 * with ns_store_begin (one commit, and nothing written on failure); with
 * `partial` every batch is its own transaction, as it goes.
 *
 * Workload: files of up to millions of rows, read whole into memory; the
 * cost is the store's (index pages), the checks here are one pass over the
 * bytes plus a hash per row (duplicates).
 */
#include "northstar/import.h"
#include "northstar/store.h"

#include "store_int.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = NS_IMPORT_BATCH, MAX_COLS = 64 };

/* ---- kinds: their columns ------------------------------------------------------ */

typedef enum { K_USERS, K_ITEMS, K_EVENTS } kind_t;

static const char *const user_keys[] = {"id", "age", "gender", "occupation", "zip", "attrs", "created", NULL};
static const char *const item_keys[] = {"id", "title", "text", "categories", "attrs", "creator", "created", NULL};
static const char *const event_keys[] = {"user", "item", "type", "value", "ts", "context", NULL};
static const char *const *const kind_keys[] = {user_keys, item_keys, event_keys};
static const char *const id_alias[] = {"user", "item", NULL}; /* another name of the id column */
static const char *const kind_expect[] = {
    "id (or user), age, gender, occupation, zip, attrs, created",
    "id (or item), title, text, categories, attrs, creator, created",
    "user, item, type, value, ts, context",
};

static int known_key(kind_t k, const char *key)
{
    for (int i = 0; kind_keys[k][i]; i++)
        if (!strcmp(kind_keys[k][i], key)) return 1;
    return id_alias[k] && !strcmp(id_alias[k], key);
}

static int parse_kind(const char *kind, kind_t *k)
{
    if (!strcmp(kind, "users")) *k = K_USERS;
    else if (!strcmp(kind, "items")) *k = K_ITEMS;
    else if (!strcmp(kind, "events")) *k = K_EVENTS;
    else return ns_err_set_at(NS_EINVAL, NULL, 0, "kind", kind, "expected users, items or events");
    return 0;
}

/* ---- rows seen before: 64-bit hashes in an open-addressing set ------------------- */

typedef struct {
    uint64_t *slot; /* 0 = empty */
    size_t cap, count;
} hset;

/* 1 if h is new (added), 0 if seen, NS_ENOMEM. */
static int hset_add(hset *s, uint64_t h)
{
    if (!h) h = 1;
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1 << 16;
        uint64_t *ns = ns_calloc(ncap, sizeof *ns);
        if (!ns) return NS_ENOMEM;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                for (size_t j = s->slot[i] & (ncap - 1);; j = (j + 1) & (ncap - 1))
                    if (!ns[j]) {
                        ns[j] = s->slot[i];
                        break;
                    }
        free(s->slot);
        s->slot = ns;
        s->cap = ncap;
    }
    for (size_t j = h & (s->cap - 1);; j = (j + 1) & (s->cap - 1)) {
        if (s->slot[j] == h) return 0;
        if (!s->slot[j]) {
            s->slot[j] = h;
            s->count++;
            return 1;
        }
    }
}

/* ---- batches ------------------------------------------------------------------ */

typedef struct {
    ns_store *st;
    kind_t kind;
    const ns_import_opts *o;
    const char *file;   /* where the rows come from (errors) */
    ns_arena arena;     /* strings of the pending rows */
    size_t n;           /* pending rows */
    long lines[BATCH];  /* the line each pending row starts on */
    ns_user_rec users[BATCH];
    ns_item_rec items[BATCH];
    ns_event_rec events[BATCH];
    int64_t written;    /* rows the store accepted */
    long written_line;  /* the line of the last of them */
    ns_import_stats *stats;
    hset seen;          /* keys of the rows so far (duplicates) */
    ns_strmap *ignored; /* lenient: unknown columns/keys warned about */
    double now;
    ns_progress prog;
} batch;

static batch *batch_new(ns_store *st, kind_t kind, const char *file, const ns_import_opts *o, ns_import_stats *stats,
                        const char *label)
{
    batch *b = ns_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->st = st;
    b->kind = kind;
    b->o = o;
    b->file = file;
    b->stats = stats;
    b->now = ns_wall_time();
    ns_arena_init(&b->arena, 1 << 20);
    ns_progress_begin(&b->prog, label, 0, "rows");
    return b;
}

static void batch_free(batch *b)
{
    if (!b) return;
    ns_progress_end(&b->prog);
    ns_arena_release(&b->arena);
    free(b->seen.slot);
    ns_strmap_free(b->ignored);
    free(b);
}

/* A bad row under lenient: counted, the first few named in a warning. */
static void skip_row(batch *b)
{
    if (b->stats->skipped < 5) ns_log_warn("skipping: %s", ns_err_msg());
    b->stats->skipped++;
}

static int put_rows(batch *b, size_t lo, size_t n)
{
    switch (b->kind) {
    case K_USERS: return ns_store_put_users(b->st, b->users + lo, n);
    case K_ITEMS: return ns_store_put_items(b->st, b->items + lo, n);
    default: return ns_store_put_events(b->st, b->events + lo, n, NULL);
    }
}

static void accepted(batch *b, size_t lo, size_t n)
{
    if (!n) return;
    int64_t *c = b->kind == K_USERS ? &b->stats->users : b->kind == K_ITEMS ? &b->stats->items : &b->stats->events;
    *c += (int64_t)n;
    b->written += (int64_t)n;
    b->written_line = b->lines[lo + n - 1];
}

/* The record a store error names ("events[12].item": 12 and "item"). */
static int failed_record(size_t *i, char *field, size_t cap)
{
    const char *f = strchr(ns_err_last()->field, '[');
    char *end;
    if (!f) return 0;
    unsigned long long v = strtoull(f + 1, &end, 10);
    if (end == f + 1 || *end != ']') return 0;
    *i = (size_t)v;
    snprintf(field, cap, "%s", end[1] == '.' ? end + 2 : "");
    return 1;
}

/* Write the pending rows. A store error about one record is named by its
 * file line; under lenient that row is dropped (counted) and the others
 * are written: the rows before it again (they were rolled back with it),
 * so each row is written at most twice. */
static int batch_flush(batch *b)
{
    size_t lo = 0, n = b->n, i;
    int rc = 0;
    while (lo < n) {
        if ((rc = put_rows(b, lo, n - lo)) >= 0) {
            accepted(b, lo, n - lo);
            break;
        }
        char field[64];
        if (!failed_record(&i, field, sizeof field) || lo + i >= n) break;
        i += lo;
        ns_error_info e = *ns_err_last();
        rc = ns_err_set_at(e.code, b->file, b->lines[i], field[0] ? field : NULL, e.value[0] ? e.value : NULL,
                           "%s%s", e.msg, e.code == NS_ENOTFOUND ? " (not in the store: import the items first)" : "");
        if (!b->o->lenient) break;
        skip_row(b);
        if (e.code == NS_ENOTFOUND) b->stats->unknown_items++;
        if (i > lo && (rc = put_rows(b, lo, i - lo)) < 0) break;
        accepted(b, lo, i - lo);
        lo = i + 1;
        rc = 0;
    }
    ns_progress_add(&b->prog, (long long)n);
    b->n = 0;
    ns_arena_reset(&b->arena);
    return rc;
}

/* ---- the import as a whole: one transaction, or batches as they go ---------------- */

typedef struct {
    ns_store *st;
    const ns_import_opts *o;
    ns_import_stats *stats;
    ns_store_tally tally;   /* the store's when it began */
    int open;               /* the transaction (not partial) */
    int64_t committed;      /* partial: rows committed */
    long last_line;
} run;

static int run_begin(run *r, ns_store *st, const ns_import_opts *o, ns_import_stats *stats)
{
    memset(r, 0, sizeof *r);
    r->st = st;
    r->o = o;
    r->stats = stats;
    ns_store_tally_get(st, &r->tally);
    if (o->partial) return 0;
    int rc = ns_store_begin(st);
    r->open = rc >= 0;
    return rc;
}

/* The rows a batch wrote so far count as committed when each call commits. */
static void run_note(run *r, const batch *b)
{
    if (b->written) {
        r->committed += b->written;
        r->last_line = b->written_line;
    }
}

/* Append "; <suffix>" to the recorded error's message. */
static int err_suffix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int err_suffix(const char *fmt, ...)
{
    ns_error_info e = *ns_err_last();
    char sfx[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sfx, sizeof sfx, fmt, ap);
    va_end(ap);
    return ns_err_set_at(e.code, e.file[0] ? e.file : NULL, e.line, e.field[0] ? e.field : NULL,
                         e.value[0] ? e.value : NULL, "%s; %s", e.msg, sfx);
}

/* Commit (rc >= 0) or roll back, and say in the error what was written. */
static int run_end(run *r, int rc)
{
    ns_import_stats *s = r->stats;
    if (r->open) {
        if (rc >= 0) rc = ns_store_commit(r->st);
        else {
            ns_error_info e = *ns_err_last();
            ns_store_rollback(r->st);
            ns_err_set_at(e.code, e.file[0] ? e.file : NULL, e.line, e.field[0] ? e.field : NULL,
                          e.value[0] ? e.value : NULL, "%s", e.msg);
        }
        if (rc < 0) {
            err_suffix("nothing was written (the import is all or nothing)");
            s->users = s->items = s->events = 0;
            r->committed = 0;
            r->last_line = 0;
        }
    } else if (rc < 0) {
        if (r->committed)
            err_suffix("%lld rows were committed, through line %ld (resume after it)", (long long)r->committed,
                       r->last_line);
        else err_suffix("nothing was committed");
    }
    s->committed = r->committed;
    s->last_line = r->last_line;
    ns_store_tally t;
    ns_store_tally_get(r->st, &t);
    s->users_created = t.users_created - r->tally.users_created;
    s->before_created = t.before_created - r->tally.before_created;
    return rc < 0 ? rc : 0;
}

/* ---- rows: a field lookup over CSV columns or a JSON object -------------------------- */

typedef struct {
    const char *file;
    long line;
    /* CSV: the header's columns, this record's values and their lengths */
    char **hdr, **val;
    size_t *len;
    int ncol;
    /* JSONL */
    json_t *obj;
    ns_arena *a;
} row;

/* A field: text s[0..n) (NUL-terminated; an embedded NUL shows as
 * n > strlen(s)), and for JSON the value (j without s: not a string or
 * number). Absent and empty fields have neither. */
typedef struct {
    const char *s;
    size_t n;
    json_t *j;
} fval;

static fval row_field(const row *r, const char *key)
{
    fval f = {NULL, 0, NULL};
    if (r->obj) {
        json_t *v = json_object_get(r->obj, key);
        if (!v || json_is_null(v)) return f;
        f.j = v;
        if (json_is_string(v)) {
            f.n = json_string_length(v);
            f.s = f.n ? json_string_value(v) : NULL;
            if (!f.s) f.j = NULL;
        } else if (json_is_integer(v)) f.s = ns_arena_sprintf(r->a, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v)) f.s = ns_arena_sprintf(r->a, "%.17g", json_real_value(v));
        if (f.s && !json_is_string(v)) f.n = strlen(f.s);
        return f;
    }
    for (int i = 0; i < r->ncol; i++)
        if (!strcmp(r->hdr[i], key)) {
            if (r->val[i] && r->len[i]) f = (fval){r->val[i], r->len[i], NULL};
            break;
        }
    return f;
}

static int bad(const row *r, const char *field, const char *value, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(const row *r, const char *field, const char *value, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ns_err_set_at(NS_EFORMAT, r->file, r->line, field, value, "%s", msg);
}

/* An error naming s[0..n) as printable text. */
static int bad_bytes(const row *r, const char *field, const char *s, size_t n, const char *why)
{
    char ex[64];
    ns__text_excerpt(s, n, ex, sizeof ex);
    return bad(r, field, ex, "%s", why);
}

/* *out = an arena copy of s[0..n) once it passed the byte check. */
static int checked_copy(const row *r, const char *key, const char *s, size_t n, size_t max, const char **out)
{
    char why[96];
    if (ns__text_check(s, n, max, why, sizeof why) < 0) return bad_bytes(r, key, s, n, why);
    if (!(*out = ns_arena_strndup(r->a, s, n))) return NS_ENOMEM;
    return 0;
}

/* A string field (NULL when absent): checked bytes within max. */
static int row_text(const row *r, const char *key, size_t max, const char **out)
{
    fval f = row_field(r, key);
    *out = NULL;
    if (!f.s) return f.j ? bad(r, key, NULL, "expected a string") : 0;
    return checked_copy(r, key, f.s, f.n, max, out);
}

/* An id: a non-empty string (or a JSON integer) within NS_STORE_ID_MAX,
 * under `key` or its alias (not both). */
static int row_id(const row *r, const char *key, const char *alias, const char **out)
{
    fval f = row_field(r, key);
    if (alias) {
        fval g = row_field(r, alias);
        if ((f.s || f.j) && (g.s || g.j)) return bad(r, key, NULL, "both '%s' and '%s' given", key, alias);
        if (g.s || g.j) {
            key = alias;
            f = g;
        }
    }
    *out = NULL;
    if (f.j && (json_is_real(f.j) || !f.s)) return bad(r, key, NULL, "expected a string or integer id");
    if (!f.s) return bad(r, key, NULL, "missing id");
    return checked_copy(r, key, f.s, f.n, NS_STORE_ID_MAX, out);
}

/* A number in lo..hi (dflt when absent and not required). */
static int row_num(const row *r, const char *key, double lo, double hi, double dflt, int required, double *out)
{
    fval f = row_field(r, key);
    if (!f.s && !f.j) {
        if (required) return bad(r, key, NULL, "missing value");
        *out = dflt;
        return 0;
    }
    double v;
    if (f.j && json_is_number(f.j)) v = json_number_value(f.j);
    else if (!f.s) return bad(r, key, NULL, "expected a number");
    else {
        if (strlen(f.s) != f.n) return bad_bytes(r, key, f.s, f.n, "not a number (it holds a NUL byte)");
        char *end;
        errno = 0;
        v = strtod(f.s, &end);
        if (end == f.s || *end || errno == ERANGE) return bad_bytes(r, key, f.s, f.n, "not a number");
    }
    if (!isfinite(v)) return bad_bytes(r, key, f.s ? f.s : "", f.s ? f.n : 0, "not a finite number");
    if (!(v >= lo && v <= hi)) {
        char ex[40];
        snprintf(ex, sizeof ex, "%.17g", v);
        return bad(r, key, ex, "%.15g is outside %.15g..%.15g", v, lo, hi);
    }
    *out = v;
    return 0;
}

/* 1 if a string anywhere inside v holds a NUL (JSONL is parsed with
 * JSON_ALLOW_NUL so that the error can name the field). */
static int json_has_nul(json_t *v)
{
    if (json_is_string(v)) return strlen(json_string_value(v)) != json_string_length(v);
    const char *k;
    size_t i;
    json_t *e;
    if (json_is_object(v)) {
        json_object_foreach(v, k, e) if (json_has_nul(e)) return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, e) if (json_has_nul(e)) return 1;
    }
    return 0;
}

/* attrs/context: a JSON object (JSONL) or the text of one, within
 * NS_STORE_JSON_MAX; NULL when absent. */
static int row_obj(const row *r, const char *key, const char **out)
{
    fval f = row_field(r, key);
    *out = NULL;
    if (f.j && json_is_object(f.j)) {
        if (json_has_nul(f.j)) return bad(r, key, NULL, "holds a string with a NUL (\\u0000)");
        char *d = json_dumps(f.j, JSON_COMPACT);
        if (!d) return bad(r, key, NULL, "cannot encode the object");
        int rc = checked_copy(r, key, d, strlen(d), NS_STORE_JSON_MAX, out);
        free(d);
        return rc;
    }
    if (!f.s) return f.j ? bad(r, key, NULL, "expected a JSON object") : 0;
    int rc = checked_copy(r, key, f.s, f.n, NS_STORE_JSON_MAX, out);
    if (rc < 0) return rc;
    json_error_t je;
    json_t *j = json_loadb(*out, f.n, 0, &je);
    int ok = j && json_is_object(j);
    json_decref(j);
    if (ok) return 0;
    char why[200];
    snprintf(why, sizeof why, "not a JSON object%s%s", j ? "" : ": ", j ? "" : je.text);
    return bad_bytes(r, key, f.s, f.n, why);
}

/* categories: "a|b", or in JSONL an array of non-empty strings without '|'. */
static int row_categories(const row *r, const char **out)
{
    fval f = row_field(r, "categories");
    if (!f.j || !json_is_array(f.j)) return row_text(r, "categories", NS_STORE_CATEGORIES_MAX, out);
    ns_buf b;
    ns_buf_init(&b);
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(f.j, i, e)
    {
        if (!json_is_string(e) || !json_string_length(e) || strchr(json_string_value(e), '|')) {
            rc = bad(r, "categories", NULL, "categories are non-empty strings without '|'");
            break;
        }
        if (b.len) ns_buf_puts(&b, "|");
        ns_buf_append(&b, json_string_value(e), json_string_length(e));
    }
    if (rc >= 0) rc = checked_copy(r, "categories", b.data ? b.data : "", b.len, NS_STORE_CATEGORIES_MAX, out);
    ns_buf_release(&b);
    return rc;
}

/* Under lenient, an unknown column or key is named once and ignored. */
static int unknown_field(batch *b, long line, const char *what, const char *name)
{
    char ex[64];
    ns__text_excerpt(name, strlen(name), ex, sizeof ex);
    if (!b->o->lenient)
        return ns_err_set_at(NS_EFORMAT, b->file, line, ex, NULL, "unknown %s (expected: %s)", what,
                             kind_expect[b->kind]);
    if (!b->ignored && !(b->ignored = ns_strmap_new(16))) return NS_ENOMEM;
    size_t had = ns_strmap_count(b->ignored);
    if (ns_strmap_intern(b->ignored, name, strlen(name)) < 0) return NS_ENOMEM;
    if (ns_strmap_count(b->ignored) > had) {
        ns_log_warn("%s:%ld: ignoring unknown %s '%s' (expected: %s)", b->file, line, what, ex,
                    kind_expect[b->kind]);
        b->stats->ignored_fields++;
        size_t at = strlen(b->stats->ignored);
        if (at + strlen(ex) + 3 < sizeof b->stats->ignored)
            snprintf(b->stats->ignored + at, sizeof b->stats->ignored - at, "%s%s", at ? ", " : "", ex);
    }
    return 0;
}

static uint64_t hash_str(const char *s, uint64_t seed) { return ns_hash_bytes(s, strlen(s) + 1, seed); }

/* Check one row into the next batch slot; write the batch when full. */
static int row_to_batch(batch *b, const row *r)
{
    int rc;
    uint64_t key;
    if (b->kind == K_USERS) {
        ns_user_rec *u = &b->users[b->n];
        memset(u, 0, sizeof *u);
        double age = 0;
        if ((rc = row_id(r, "id", "user", &u->id)) < 0 ||
            (rc = row_num(r, "age", 0, NS_STORE_AGE_MAX, 0, 0, &age)) < 0 ||
            (rc = row_text(r, "gender", NS_STORE_GENDER_MAX, &u->gender)) < 0 ||
            (rc = row_text(r, "occupation", NS_STORE_OCCUPATION_MAX, &u->occupation)) < 0 ||
            (rc = row_text(r, "zip", NS_STORE_ZIP_MAX, &u->zip)) < 0 || (rc = row_obj(r, "attrs", &u->attrs)) < 0 ||
            (rc = row_num(r, "created", 0, NS_STORE_TIME_MAX, 0, 0, &u->created)) < 0)
            return rc;
        u->age = (int)age;
        key = hash_str(u->id, 1);
    } else if (b->kind == K_ITEMS) {
        ns_item_rec *it = &b->items[b->n];
        memset(it, 0, sizeof *it);
        if ((rc = row_id(r, "id", "item", &it->id)) < 0 ||
            (rc = row_text(r, "title", NS_STORE_TITLE_MAX, &it->title)) < 0 ||
            (rc = row_text(r, "text", NS_STORE_TEXT_MAX, &it->text)) < 0 ||
            (rc = row_categories(r, &it->categories)) < 0 ||
            (rc = row_text(r, "creator", NS_STORE_CREATOR_MAX, &it->creator)) < 0 ||
            (rc = row_obj(r, "attrs", &it->attrs)) < 0 ||
            (rc = row_num(r, "created", 0, NS_STORE_TIME_MAX, 0, 0, &it->created)) < 0)
            return rc;
        key = hash_str(it->id, 2);
    } else {
        ns_event_rec *e = &b->events[b->n];
        memset(e, 0, sizeof *e);
        const char *t;
        if ((rc = row_id(r, "user", NULL, &e->user)) < 0 || (rc = row_id(r, "item", NULL, &e->item)) < 0 ||
            (rc = row_text(r, "type", NS_STORE_EVENT_TYPE_MAX, &t)) < 0)
            return rc;
        e->type = t ? ns_event_type_parse(t) : NS_EV_CLICK;
        if (e->type < 0) {
            char *end;
            long v = strtol(t, &end, 10);
            if (end != t && !*end && v >= 0 && v < NS_EV__COUNT) e->type = (int)v;
            else return bad(r, "type", t, "unknown event type (impression, click, like, purchase, rating, dislike)");
        }
        if ((rc = row_num(r, "value", -NS_STORE_VALUE_MAX, NS_STORE_VALUE_MAX, 1, e->type == NS_EV_RATING,
                          &e->value)) < 0 ||
            (rc = row_num(r, "ts", 0, b->now + NS_STORE_TS_AHEAD_MAX, 0, 1, &e->ts)) < 0 ||
            (rc = row_obj(r, "context", &e->context)) < 0)
            return rc;
        if (e->value < 0) b->stats->negative++;
        double num[2] = {e->value, e->ts};
        key = ns_hash_bytes(num, sizeof num, hash_str(e->item, hash_str(e->user, 3 + (uint64_t)e->type)));
    }
    if ((rc = hset_add(&b->seen, key)) < 0) return rc;
    if (!rc && !b->stats->duplicates++) b->stats->first_duplicate = r->line;
    b->lines[b->n++] = r->line;
    return b->n == BATCH ? batch_flush(b) : 0;
}

/* A row's result: a bad row fails the import, or under lenient is counted
 * and passed over. Store and memory errors always fail. */
static int row_result(batch *b, int rc)
{
    if (rc >= 0) return 0;
    if (b->o->lenient && rc == NS_EFORMAT) {
        skip_row(b);
        return 0;
    }
    return rc;
}

/* The end of one file's rows: write what is pending; no row written is an
 * error ("no rows"). */
static int batch_finish(batch *b, int rc, int64_t rows, const char *what)
{
    if (rc < 0 && b->o->partial && b->n) {
        /* The pending rows passed their checks: commit them too, so that a
         * resume starts right at the bad row. */
        ns_error_info e = *ns_err_last();
        int fr = batch_flush(b);
        if (fr < 0) return fr; /* an earlier row failed in the store */
        ns_err_set_at(e.code, e.file[0] ? e.file : NULL, e.line, e.field[0] ? e.field : NULL,
                      e.value[0] ? e.value : NULL, "%s", e.msg);
        return rc;
    }
    if (rc >= 0) rc = batch_flush(b);
    if (rc >= 0 && !b->written) {
        if (rows) rc = ns_err_set_at(NS_EFORMAT, b->file, 0, NULL, NULL, "no rows imported: all %lld were skipped",
                                     (long long)rows);
        else if (b->o->skip_lines > 0)
            rc = ns_err_set_at(NS_EFORMAT, b->file, 0, NULL, NULL, "no rows after line %ld", b->o->skip_lines);
        else rc = ns_err_set_at(NS_EFORMAT, b->file, 0, NULL, NULL, "no rows (%s)", what);
    }
    return rc;
}

static const ns_import_opts default_opts = {0, 0, 0};

/* What both file importers do first: zero the stats, check the kind, read
 * the whole file into *buf, make the batch writer labelled `label` and open
 * the run (the transaction unless partial). On failure nothing is left to
 * free. */
static int import_open(ns_store *st, const char *path, const char *kind, const ns_import_opts *opts,
                       ns_import_stats *stats, const char *label, char **buf, size_t *len, batch **b, run *R)
{
    memset(stats, 0, sizeof *stats);
    kind_t k = K_EVENTS;
    *buf = NULL;
    *b = NULL;
    int rc = parse_kind(kind, &k);
    if (rc < 0 || (rc = ns_file_read_all(path, buf, len, 0)) < 0) return rc;
    if (!(*b = batch_new(st, k, path, opts, stats, label))) rc = NS_ENOMEM;
    else rc = run_begin(R, st, opts, stats);
    if (rc < 0) {
        batch_free(*b);
        free(*buf);
    }
    return rc;
}

/* ---- CSV ------------------------------------------------------------------------------ */

/* Parse one CSV record at *p (RFC 4180: quoted fields may hold commas,
 * doubled quotes and newlines; a CR before a newline is dropped). Unquotes
 * in place: fields[i] points into the buffer, NUL-terminated, its length in
 * lens[i] (an embedded NUL byte shows as lens[i] > strlen). Returns the
 * field count (only the first max are stored), or -1 for an unterminated
 * quote. *junk gets the first field with text after its closing quote
 * (the text is dropped), or -1. *lines gets the number of newlines
 * consumed. */
static int csv_record(char **p, char *end, char **fields, size_t *lens, int max, long *lines, int *junk)
{
    char *s = *p;
    int n = 0;
    *lines = 0;
    *junk = -1;
    for (;;) {
        char *w = s, *start = s;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) return -1;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        *w++ = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                if (*s == '\n') (*lines)++;
                *w++ = *s++;
            }
            if (s < end && *s == '\r' && (s + 1 == end || s[1] == '\n')) s++;
            if (s < end && *s != ',' && *s != '\n' && *junk < 0) *junk = n;
            while (s < end && *s != ',' && *s != '\n') s++;
        } else {
            while (s < end && *s != ',' && *s != '\n') s++;
            w = s;
            if (w > start && w[-1] == '\r') w--;
        }
        char sep = s < end ? *s : '\n';
        *w = 0;
        if (n < max) {
            fields[n] = start;
            lens[n] = (size_t)(w - start);
        }
        n++;
        if (s < end) s++;
        if (sep == '\n') {
            (*lines)++;
            break;
        }
    }
    *p = s;
    return n;
}

/* The header: 1..MAX_COLS names, each valid UTF-8 without NUL, none twice
 * (an id and its alias count as the same), unknown ones an error unless
 * lenient. */
static int csv_header(batch *b, char **hdr, size_t *len, int nh)
{
    const char *path = b->file;
    for (int i = 0; i < nh; i++) {
        char why[96];
        if (ns__text_check(hdr[i], len[i], 256, why, sizeof why) < 0) {
            char ex[64];
            ns__text_excerpt(hdr[i], len[i], ex, sizeof ex);
            return ns_err_set_at(NS_EFORMAT, path, 1, ex, NULL, "column name %s", why);
        }
        for (int j = 0; j < i; j++) {
            const char *a = hdr[i], *c = hdr[j];
            const char *id = kind_keys[b->kind][0], *alias = id_alias[b->kind];
            int same = !strcmp(a, c) ||
                       (alias && ((!strcmp(a, id) && !strcmp(c, alias)) || (!strcmp(a, alias) && !strcmp(c, id))));
            if (same) return ns_err_set_at(NS_EFORMAT, path, 1, hdr[i], NULL, "column named twice (as '%s')", c);
        }
        if (!known_key(b->kind, hdr[i])) {
            int rc = unknown_field(b, 1, "column", hdr[i]);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

int ns_import_csv(ns_store *st, const char *path, const char *kind, const ns_import_opts *opts, ns_import_stats *stats)
{
    ns_import_stats dummy;
    if (!stats) stats = &dummy;
    if (!opts) opts = &default_opts;
    char *buf;
    size_t len;
    batch *b;
    run R;
    int rc = import_open(st, path, kind, opts, stats, "import csv", &buf, &len, &b, &R);
    if (rc < 0) return rc;
    char *p = buf, *end = buf + len, *hdr[MAX_COLS], *val[MAX_COLS];
    size_t hlen[MAX_COLS], vlen[MAX_COLS];
    long line = 1, nl;
    int64_t rows = 0;
    int junk = 0;
    if (!len) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no rows (the file is empty)");
        goto end;
    }
    int nh = csv_record(&p, end, hdr, hlen, MAX_COLS, &nl, &junk);
    if (nh <= 0 || nh > MAX_COLS || junk >= 0) {
        rc = ns_err_set_at(NS_EFORMAT, path, 1, NULL, NULL, "bad header row (expected 1..%d column names)", MAX_COLS);
        goto end;
    }
    if (hlen[0] >= 3 && !memcmp(hdr[0], "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM */
        hdr[0] += 3;
        hlen[0] -= 3;
    }
    if ((rc = csv_header(b, hdr, hlen, nh)) < 0) goto end;
    line += nl;
    while (p < end) {
        long at = line;
        int nv = csv_record(&p, end, val, vlen, MAX_COLS, &nl, &junk);
        line += nl;
        if (nv == -1) {
            rc = ns_err_set_at(NS_EFORMAT, path, at, NULL, NULL, "unterminated quoted field");
            break;
        }
        if (nv == 1 && !vlen[0]) continue; /* blank line */
        if (at <= opts->skip_lines) {
            stats->passed++;
            continue;
        }
        rows++;
        row r = {path, at, hdr, val, vlen, nv < nh ? nv : nh, NULL, &b->arena};
        int r2 = nv != nh    ? ns_err_set_at(NS_EFORMAT, path, at, NULL, NULL, "%d fields, header has %d", nv, nh)
                 : junk >= 0 ? bad(&r, hdr[junk], NULL, "text after the closing quote")
                             : row_to_batch(b, &r);
        if ((rc = row_result(b, r2)) < 0) break;
    }
end:
    rc = batch_finish(b, rc, rows, "header only");
    run_note(&R, b);
    rc = run_end(&R, rc);
    batch_free(b);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ---- JSONL ---------------------------------------------------------------------------- */

/* A line that is not valid UTF-8 or holds a NUL byte: name the key whose
 * value holds the first bad byte when the line parses once the bad bytes
 * are replaced (U+FFFD), else the column. */
static int jsonl_bad_bytes(const row *r, const char *ln, size_t n)
{
    char why[96];
    if (ns__text_check(ln, n, SIZE_MAX, why, sizeof why) == 0) return 0;
    ns_buf fixed;
    ns_buf_init(&fixed);
    size_t at = SIZE_MAX;
    for (size_t i = 0; i < n;) {
        size_t k = ln[i] ? ns_utf8_seq(ln + i, n - i) : 0;
        if (k) ns_buf_append(&fixed, ln + i, k);
        else {
            if (at == SIZE_MAX) at = i;
            ns_buf_puts(&fixed, "\xEF\xBF\xBD");
        }
        i += k ? k : 1;
    }
    json_t *o = json_loadb(fixed.data ? fixed.data : "", fixed.len, 0, NULL);
    const char *key = NULL, *k;
    json_t *v;
    if (json_is_object(o)) {
        json_object_foreach(o, k, v)
        {
            char *d = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            const char *t = d ? d : json_is_string(v) ? json_string_value(v) : "";
            int hit = strstr(k, "\xEF\xBF\xBD") || strstr(t, "\xEF\xBF\xBD");
            free(d);
            if (hit) {
                key = k;
                break;
            }
        }
    }
    int rc = bad(r, key, NULL, "%s (column %zu)", ln[at] ? "is not valid UTF-8" : "holds a NUL byte", at + 1);
    json_decref(o);
    ns_buf_release(&fixed);
    return rc;
}

static int jsonl_row(batch *b, const char *path, long lineno, const char *ln, size_t n)
{
    row r = {path, lineno, NULL, NULL, NULL, 0, NULL, &b->arena};
    int rc = jsonl_bad_bytes(&r, ln, n);
    if (rc < 0) return rc;
    json_error_t je;
    size_t flags = JSON_ALLOW_NUL | (b->o->lenient ? 0 : JSON_REJECT_DUPLICATES);
    json_t *o = json_loadb(ln, n, flags, &je);
    if (!o || !json_is_object(o)) {
        rc = o ? bad(&r, NULL, NULL, "not a JSON object")
               : bad(&r, NULL, NULL, "not a JSON object: %s (column %d)", je.text, je.column);
        json_decref(o);
        return rc;
    }
    r.obj = o;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!known_key(b->kind, key) && (rc = unknown_field(b, lineno, "key", key)) < 0) break;
    }
    if (rc >= 0) rc = row_to_batch(b, &r);
    json_decref(o);
    return rc;
}

int ns_import_jsonl(ns_store *st, const char *path, const char *kind, const ns_import_opts *opts,
                    ns_import_stats *stats)
{
    ns_import_stats dummy;
    if (!stats) stats = &dummy;
    if (!opts) opts = &default_opts;
    char *buf;
    size_t len;
    batch *b;
    run R;
    int64_t rows = 0;
    int rc = import_open(st, path, kind, opts, stats, "import jsonl", &buf, &len, &b, &R);
    if (rc < 0) return rc;
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *ln;
    size_t n;
    while (ns_lines_next(&it, &ln, &n)) {
        size_t i = 0;
        while (i < n && (ln[i] == ' ' || ln[i] == '\t')) i++;
        if (i == n) continue;
        if (it.lineno <= opts->skip_lines) {
            stats->passed++;
            continue;
        }
        rows++;
        if ((rc = row_result(b, jsonl_row(b, path, it.lineno, ln, n))) < 0) break;
    }
    rc = batch_finish(b, rc, rows, "the file is empty");
    run_note(&R, b);
    rc = run_end(&R, rc);
    batch_free(b);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ---- MovieLens-100K ------------------------------------------------------------------- */

static int read_file(const char *dir, const char *name, char **buf, size_t *len, char *path, size_t pathsz)
{
    snprintf(path, pathsz, "%s/%s", dir, name);
    return ns_file_read_all(path, buf, len, 0);
}

/* A line with a NUL byte is refused naming the field it falls in (fields
 * are `sep`-separated, named by names[], NULL-terminated). */
static int ml_nul(const char *path, long line, const char *ln, size_t n, char sep, const char *const *names)
{
    const char *z = memchr(ln, 0, n);
    if (!z) return 0;
    int f = 0;
    for (const char *c = ln; c < z; c++) f += *c == sep;
    const char *name = NULL;
    for (int i = 0; names[i]; i++)
        if (i == f) name = names[i];
    return ns_err_set_at(NS_EFORMAT, path, line, name, NULL, "holds a NUL byte (column %zu)", (size_t)(z - ln) + 1);
}

/* The byte check of one field of a MovieLens line. */
static int ml_text(const char *path, long line, const char *field, const char *s, size_t max)
{
    char why[96], ex[64];
    if (ns__text_check(s, strlen(s), max, why, sizeof why) == 0) return 0;
    ns__text_excerpt(s, strlen(s), ex, sizeof ex);
    return ns_err_set_at(NS_EFORMAT, path, line, field, ex, "%s", why);
}

/* An integer field in lo..hi, all of it digits. */
static int ml_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static const char *const ml_user_fields[] = {"id", "age", "gender", "occupation", "zip", NULL};
static const char *const ml_item_fields[] = {"id", "title", "release", "video release", "url", NULL};
static const char *const ml_data_fields[] = {"user", "item", "rating", "timestamp", NULL};
static const char *const ml_genre_fields[] = {"name", "index", NULL};

static int ml_users(batch *b, const char *path, const char *buf, size_t len, const char *up)
{
    ns_lines it;
    const char *ln;
    size_t n;
    int rc = 0;
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        long line = it.lineno, age;
        if ((rc = ml_nul(path, line, ln, n, '|', ml_user_fields)) < 0) break;
        char *s = ns_arena_strndup(&b->arena, ln, n), *f[6];
        if (ns_split(s, '|', f, 6) != 5) {
            rc = ns_err_set_at(NS_EFORMAT, path, line, NULL, NULL, "expected 5 '|'-separated fields");
            break;
        }
        if (ml_int(f[1], 1, NS_STORE_AGE_MAX, &age) < 0) {
            rc = ns_err_set_at(NS_EFORMAT, path, line, "age", f[1], "bad age (expected 1..%d)", NS_STORE_AGE_MAX);
            break;
        }
        ns_user_rec *u = &b->users[b->n];
        *u = (ns_user_rec){ns_arena_sprintf(&b->arena, "%s%s", up, f[0]), (int)age, f[2], f[3], f[4], NULL, 0};
        if ((rc = ml_text(path, line, "id", u->id, NS_STORE_ID_MAX)) < 0 ||
            (rc = ml_text(path, line, "gender", f[2], NS_STORE_GENDER_MAX)) < 0 ||
            (rc = ml_text(path, line, "occupation", f[3], NS_STORE_OCCUPATION_MAX)) < 0 ||
            (rc = ml_text(path, line, "zip", f[4], NS_STORE_ZIP_MAX)) < 0)
            break;
        if (!*f[0]) {
            rc = ns_err_set_at(NS_EFORMAT, path, line, "id", NULL, "missing id");
            break;
        }
        b->lines[b->n++] = line;
        if (b->n == BATCH) rc = batch_flush(b);
    }
    return batch_finish(b, rc, 0, "u.user is empty");
}

static int ml_items(batch *b, const char *path, const char *buf, size_t len, const char *ip, char *const *genres,
                    int ngenres)
{
    ns_lines it;
    const char *ln;
    size_t n;
    int rc = 0;
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        long line = it.lineno;
        if ((rc = ml_nul(path, line, ln, n, '|', ml_item_fields)) < 0) break;
        char *s = ns_arena_alloc(&b->arena, 2 * n + 1, 1), *f[5 + 32];
        if (!s) {
            rc = NS_ENOMEM;
            break;
        }
        ns_utf8_from_latin1(ln, n, s); /* valid UTF-8 from here on */
        int nf = ns_split(s, '|', f, 5 + 32);
        if (nf != 5 + ngenres) {
            rc = ns_err_set_at(NS_EFORMAT, path, line, NULL, NULL, "expected %d '|'-separated fields, got %d",
                               5 + ngenres, nf);
            break;
        }
        ns_buf cats, attrs;
        ns_buf_init(&cats);
        ns_buf_init(&attrs);
        for (int g = 0; g < ngenres; g++)
            if (f[5 + g][0] == '1' && genres[g]) {
                if (cats.len) ns_buf_puts(&cats, "|");
                ns_buf_puts(&cats, genres[g]);
            }
        ns_buf_puts(&attrs, "{\"release\":");
        ns_buf_json_str(&attrs, f[2], strlen(f[2]));
        ns_buf_puts(&attrs, ",\"url\":");
        ns_buf_json_str(&attrs, f[4], strlen(f[4]));
        ns_buf_puts(&attrs, "}");
        ns_item_rec *r = &b->items[b->n];
        *r = (ns_item_rec){ns_arena_sprintf(&b->arena, "%s%s", ip, f[0]), f[1], f[1],
                           ns_arena_strdup(&b->arena, cats.data ? cats.data : ""),
                           ns_arena_strdup(&b->arena, attrs.data), NULL, 0};
        ns_buf_release(&cats);
        ns_buf_release(&attrs);
        if (!*f[0]) rc = ns_err_set_at(NS_EFORMAT, path, line, "id", NULL, "missing id");
        if (rc < 0 || (rc = ml_text(path, line, "id", r->id, NS_STORE_ID_MAX)) < 0 ||
            (rc = ml_text(path, line, "title", r->title, NS_STORE_TITLE_MAX)) < 0 ||
            (rc = ml_text(path, line, "genres", r->categories, NS_STORE_CATEGORIES_MAX)) < 0 ||
            (rc = ml_text(path, line, "release, url", r->attrs, NS_STORE_JSON_MAX)) < 0)
            break;
        b->lines[b->n++] = line;
        if (b->n == BATCH) rc = batch_flush(b);
    }
    return batch_finish(b, rc, 0, "u.item is empty");
}

static int ml_ratings(batch *b, const char *path, const char *buf, size_t len, const char *up, const char *ip)
{
    ns_lines it;
    const char *ln;
    size_t n;
    int rc = 0;
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        long line = it.lineno, rating, ts;
        if ((rc = ml_nul(path, line, ln, n, '\t', ml_data_fields)) < 0) break;
        char *s = ns_arena_strndup(&b->arena, ln, n), *f[5];
        if (ns_split(s, '\t', f, 5) != 4 || !*f[0] || !*f[1] || ml_int(f[2], 1, 5, &rating) < 0 ||
            ml_int(f[3], 0, (long)NS_STORE_TIME_MAX, &ts) < 0) {
            rc = ns_err_set_at(NS_EFORMAT, path, line, NULL, NULL,
                               "expected 'user<TAB>item<TAB>rating 1..5<TAB>timestamp'");
            break;
        }
        ns_event_rec *e = &b->events[b->n];
        *e = (ns_event_rec){ns_arena_sprintf(&b->arena, "%s%s", up, f[0]),
                            ns_arena_sprintf(&b->arena, "%s%s", ip, f[1]), NS_EV_RATING, (double)rating,
                            (double)ts, NULL};
        if ((rc = ml_text(path, line, "user", e->user, NS_STORE_ID_MAX)) < 0 ||
            (rc = ml_text(path, line, "item", e->item, NS_STORE_ID_MAX)) < 0)
            break;
        b->lines[b->n++] = line;
        if (b->n == BATCH) rc = batch_flush(b);
    }
    return batch_finish(b, rc, 0, "u.data is empty");
}

int ns_import_movielens(ns_store *st, const char *dir, int prefix_ids, ns_import_stats *stats)
{
    ns_import_stats dummy;
    if (!stats) stats = &dummy;
    memset(stats, 0, sizeof *stats);
    char path[1200], *buf = NULL, *genres[32] = {0};
    size_t len;
    int ngenres = 0, rc;
    const char *up = prefix_ids ? "u" : "", *ip = prefix_ids ? "m" : "";

    /* u.genre: "name|index" */
    if ((rc = read_file(dir, "u.genre", &buf, &len, path, sizeof path)) < 0) return rc;
    ns_lines it;
    const char *ln;
    size_t n;
    ns_lines_init(&it, buf, len);
    while (ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        if ((rc = ml_nul(path, it.lineno, ln, n, '|', ml_genre_fields)) < 0) goto done;
        const char *bar = memchr(ln, '|', n);
        long idx = -1;
        char num[16] = "";
        if (bar && (size_t)(ln + n - bar) < sizeof num) memcpy(num, bar + 1, (size_t)(ln + n - bar - 1));
        if (!bar || bar == ln || ml_int(num, 0, 31, &idx) < 0 || genres[idx]) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL,
                               "expected 'name|index' (a new index < 32)");
            goto done;
        }
        if (!(genres[idx] = ns_malloc((size_t)(bar - ln) + 1))) {
            rc = NS_ENOMEM;
            goto done;
        }
        memcpy(genres[idx], ln, (size_t)(bar - ln));
        genres[idx][bar - ln] = 0;
        if ((rc = ml_text(path, it.lineno, "name", genres[idx], NS_STORE_CATEGORIES_MAX)) < 0) goto done;
        if (idx + 1 > ngenres) ngenres = (int)idx + 1;
    }
    free(buf);
    buf = NULL;

    /* All three files in one transaction. */
    static const ns_import_opts ml_opts = {0, 0, 0};
    run R;
    batch *b = NULL;
    if ((rc = run_begin(&R, st, &ml_opts, stats)) < 0) goto done;
    /* u.user: "id|age|gender|occupation|zip" */
    if ((rc = read_file(dir, "u.user", &buf, &len, path, sizeof path)) >= 0) {
        if (!(b = batch_new(st, K_USERS, path, &ml_opts, stats, "import users"))) rc = NS_ENOMEM;
        else rc = ml_users(b, path, buf, len, up);
        batch_free(b);
        free(buf);
        buf = NULL;
    }
    /* u.item: "id|title|release|video release|url|g0|...|g18", ISO-8859-1 */
    if (rc >= 0 && (rc = read_file(dir, "u.item", &buf, &len, path, sizeof path)) >= 0) {
        if (!(b = batch_new(st, K_ITEMS, path, &ml_opts, stats, "import items"))) rc = NS_ENOMEM;
        else rc = ml_items(b, path, buf, len, ip, genres, ngenres);
        batch_free(b);
        free(buf);
        buf = NULL;
    }
    /* u.data: "user \t item \t rating \t timestamp" */
    if (rc >= 0 && (rc = read_file(dir, "u.data", &buf, &len, path, sizeof path)) >= 0) {
        if (!(b = batch_new(st, K_EVENTS, path, &ml_opts, stats, "import ratings"))) rc = NS_ENOMEM;
        else {
            rc = ml_ratings(b, path, buf, len, up, ip);
            R.last_line = b->written_line;
        }
        batch_free(b);
    }
    R.committed = stats->users + stats->items + stats->events;
    rc = run_end(&R, rc);
done:
    free(buf);
    for (int g = 0; g < 32; g++) free(genres[g]);
    return rc < 0 ? rc : 0;
}
