/*
 * import.c — filling a store from files: the MovieLens-100K directory
 * format, and generic CSV (header row, RFC 4180 quoting) or JSONL files of
 * users, items or events.
 *
 * Every source is reduced to "rows" that answer field lookups by name, so
 * the validation (types, ranges, which field is wrong on which line) is
 * written once for all formats. Rows are written in batches of BATCH per
 * transaction: one fsync per batch, not per row.
 */
#include "northstar/store.h"
#include "northstar/import.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 5000 };

/* ---- batches ------------------------------------------------------------------ */

typedef enum { K_USERS, K_ITEMS, K_EVENTS } kind_t;

typedef struct {
    ns_store *st;
    kind_t kind;
    ns_arena arena; /* strings of the pending rows */
    size_t n;
    ns_user_rec users[BATCH];
    ns_item_rec items[BATCH];
    ns_event_rec events[BATCH];
    ns_import_stats *stats;
    ns_progress prog;
} batch;

static int batch_flush(batch *b)
{
    if (!b->n) return 0;
    int rc;
    switch (b->kind) {
    case K_USERS: rc = ns_store_put_users(b->st, b->users, b->n); if (rc >= 0) b->stats->users += (int64_t)b->n; break;
    case K_ITEMS: rc = ns_store_put_items(b->st, b->items, b->n); if (rc >= 0) b->stats->items += (int64_t)b->n; break;
    default: rc = ns_store_put_events(b->st, b->events, b->n, NULL); if (rc >= 0) b->stats->events += (int64_t)b->n; break;
    }
    ns_progress_add(&b->prog, (long long)b->n);
    b->n = 0;
    ns_arena_reset(&b->arena);
    return rc;
}

static batch *batch_new(ns_store *st, kind_t kind, ns_import_stats *stats, const char *label)
{
    batch *b = ns_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->st = st;
    b->kind = kind;
    b->stats = stats;
    ns_arena_init(&b->arena, 1 << 20);
    ns_progress_begin(&b->prog, label, 0, "rows");
    return b;
}

static int batch_end(batch *b, int rc)
{
    if (rc >= 0) rc = batch_flush(b);
    ns_progress_end(&b->prog);
    ns_arena_release(&b->arena);
    free(b);
    return rc;
}

/* ---- rows: a field lookup over CSV columns or a JSON object -------------------------- */

typedef struct {
    const char *file;
    long line;
    /* CSV */
    char **hdr, **val;
    int ncol;
    /* JSONL */
    json_t *obj;
    ns_arena *a;
} row;

/* Field value as text (arena-owned for JSON), or NULL when absent/empty. */
static const char *row_get(const row *r, const char *key)
{
    if (r->obj) {
        json_t *v = json_object_get(r->obj, key);
        if (!v || json_is_null(v)) return NULL;
        if (json_is_string(v)) return json_string_value(v);
        if (json_is_integer(v)) return ns_arena_sprintf(r->a, "%lld", (long long)json_integer_value(v));
        if (json_is_real(v)) return ns_arena_sprintf(r->a, "%.17g", json_real_value(v));
        if (json_is_array(v) && !strcmp(key, "categories")) { /* ["a","b"] -> "a|b" */
            ns_buf b;
            ns_buf_init(&b);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) if (json_is_string(e))
            {
                if (b.len) ns_buf_puts(&b, "|");
                ns_buf_puts(&b, json_string_value(e));
            }
            const char *s = ns_arena_strdup(r->a, b.data ? b.data : "");
            ns_buf_release(&b);
            return s;
        }
        char *d = json_dumps(v, JSON_COMPACT);
        const char *s = d ? ns_arena_strdup(r->a, d) : NULL;
        free(d);
        return s;
    }
    for (int i = 0; i < r->ncol; i++)
        if (!strcmp(r->hdr[i], key)) return r->val[i] && *r->val[i] ? r->val[i] : NULL;
    return NULL;
}

static int bad(const row *r, const char *field, const char *value, const char *why)
{
    return ns_err_set_at(NS_EFORMAT, r->file, r->line, field, value, "%s", why);
}

static int row_double(const row *r, const char *key, double dflt, int required, double *out)
{
    const char *s = row_get(r, key);
    if (!s) {
        if (required) return bad(r, key, NULL, "missing value");
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) return bad(r, key, s, "not a number");
    *out = v;
    return 0;
}

static const char *row_str(const row *r, const char *key, const char *alt)
{
    const char *s = row_get(r, key);
    if (!s && alt) s = row_get(r, alt);
    return s ? ns_arena_strdup(r->a, s) : NULL;
}

/* Validate an attrs/context field: a JSON object or absent. */
static int row_json_obj(const row *r, const char *key, const char **out)
{
    *out = row_str(r, key, NULL);
    if (!*out) return 0;
    json_error_t je;
    json_t *j = json_loads(*out, 0, &je);
    int ok = j && json_is_object(j);
    json_decref(j);
    return ok ? 0 : bad(r, key, *out, "not a JSON object");
}

static int row_to_batch(batch *b, const row *r)
{
    int rc;
    if (b->kind == K_USERS) {
        ns_user_rec *u = &b->users[b->n];
        memset(u, 0, sizeof *u);
        double age = 0;
        if (!(u->id = row_str(r, "id", "user"))) return bad(r, "id", NULL, "missing user id");
        if ((rc = row_double(r, "age", 0, 0, &age)) < 0) return rc;
        if (age < 0 || age > 150) return bad(r, "age", row_get(r, "age"), "age out of range 0..150");
        u->age = (int)age;
        u->gender = row_str(r, "gender", NULL);
        u->occupation = row_str(r, "occupation", NULL);
        u->zip = row_str(r, "zip", NULL);
        if ((rc = row_json_obj(r, "attrs", &u->attrs)) < 0) return rc;
        if ((rc = row_double(r, "created", 0, 0, &u->created)) < 0) return rc;
    } else if (b->kind == K_ITEMS) {
        ns_item_rec *it = &b->items[b->n];
        memset(it, 0, sizeof *it);
        if (!(it->id = row_str(r, "id", "item"))) return bad(r, "id", NULL, "missing item id");
        it->title = row_str(r, "title", NULL);
        it->text = row_str(r, "text", NULL);
        it->categories = row_str(r, "categories", NULL);
        it->creator = row_str(r, "creator", NULL);
        if ((rc = row_json_obj(r, "attrs", &it->attrs)) < 0) return rc;
        if ((rc = row_double(r, "created", 0, 0, &it->created)) < 0) return rc;
    } else {
        ns_event_rec *e = &b->events[b->n];
        memset(e, 0, sizeof *e);
        if (!(e->user = row_str(r, "user", NULL))) return bad(r, "user", NULL, "missing user id");
        if (!(e->item = row_str(r, "item", NULL))) return bad(r, "item", NULL, "missing item id");
        const char *t = row_get(r, "type");
        e->type = t ? ns_event_type_parse(t) : NS_EV_CLICK;
        if (e->type < 0) {
            char *end;
            long v = strtol(t, &end, 10);
            if (end != t && !*end && v >= 0 && v < NS_EV__COUNT) e->type = (int)v;
            else return bad(r, "type", t, "unknown event type (impression, click, like, purchase, rating)");
        }
        if ((rc = row_double(r, "value", 1, e->type == NS_EV_RATING, &e->value)) < 0) return rc;
        if ((rc = row_double(r, "ts", 0, 1, &e->ts)) < 0) return rc;
        if ((rc = row_json_obj(r, "context", &e->context)) < 0) return rc;
    }
    b->n++;
    if (b->n == BATCH) return batch_flush(b);
    return 0;
}

static int parse_kind(const char *kind, kind_t *k)
{
    if (!strcmp(kind, "users")) *k = K_USERS;
    else if (!strcmp(kind, "items")) *k = K_ITEMS;
    else if (!strcmp(kind, "events")) *k = K_EVENTS;
    else return ns_err_set_at(NS_EINVAL, NULL, 0, "kind", kind, "expected users, items or events");
    return 0;
}

/* A bad row: fail (strict) or count it and go on. Store errors always fail. */
static int row_result(int rc, int strict, ns_import_stats *stats)
{
    if (rc >= 0) return 0;
    if (!strict && rc == NS_EFORMAT) {
        if (stats->skipped < 5) ns_log_warn("skipping: %s", ns_err_msg());
        stats->skipped++;
        return 0;
    }
    return rc;
}

/* ---- CSV ------------------------------------------------------------------------------ */

/* Parse one CSV record starting at *p (RFC 4180: quoted fields may hold
 * commas, doubled quotes and newlines). Unquotes in place; fields point into
 * the buffer. Returns the field count, or -1 for an unterminated quote.
 * *lines gets the number of newlines consumed. */
static int csv_record(char **p, char *end, char **fields, int max, long *lines)
{
    char *s = *p;
    int n = 0;
    *lines = 0;
    for (;;) {
        char *w = s, *start = s;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                if (s >= end) return -1;
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') { *w++ = '"'; s += 2; continue; }
                    s++;
                    break;
                }
                if (*s == '\n') (*lines)++;
                *w++ = *s++;
            }
            while (s < end && *s != ',' && *s != '\n') s++; /* junk after a closing quote */
        } else {
            while (s < end && *s != ',' && *s != '\n') s++;
            w = s;
            if (w > start && w[-1] == '\r') w--;
        }
        char sep = s < end ? *s : '\n';
        *w = 0;
        if (n < max) fields[n] = start;
        n++;
        if (s < end) s++;
        if (sep == '\n') { (*lines)++; break; }
    }
    *p = s;
    return n;
}

enum { MAX_COLS = 64 };

/* What both file importers do first: check the kind, read the whole file
 * into *buf and open a batch writer labelled `label`. */
static int import_begin(ns_store *st, const char *path, const char *kind, ns_import_stats *stats, const char *label,
                        char **buf, size_t *len, batch **b)
{
    kind_t k = K_EVENTS;
    int rc = parse_kind(kind, &k);
    if (rc < 0 || (rc = ns_file_read_all(path, buf, len, 0)) < 0) return rc;
    if (!(*b = batch_new(st, k, stats, label))) {
        free(*buf);
        return NS_ENOMEM;
    }
    return 0;
}

int ns_import_csv(ns_store *st, const char *path, const char *kind, int strict, ns_import_stats *stats)
{
    ns_import_stats dummy = {0};
    if (!stats) stats = &dummy;
    char *buf;
    size_t len;
    batch *b;
    int rc = import_begin(st, path, kind, stats, "import csv", &buf, &len, &b);
    if (rc < 0) return rc;
    char *p = buf, *end = buf + len, *hdr[MAX_COLS], *val[MAX_COLS];
    long line = 1, nl;
    int nh = csv_record(&p, end, hdr, MAX_COLS, &nl);
    if (nh <= 0 || nh > MAX_COLS) {
        rc = ns_err_set_at(NS_EFORMAT, path, 1, NULL, NULL, "bad header row (expected 1..%d column names)", MAX_COLS);
        goto done;
    }
    if (nh && !strncmp(hdr[0], "\xEF\xBB\xBF", 3)) hdr[0] += 3; /* UTF-8 BOM */
    line += nl;
    while (p < end) {
        long at = line;
        int nv = csv_record(&p, end, val, MAX_COLS, &nl);
        line += nl;
        if (nv < 0) { rc = ns_err_set_at(NS_EFORMAT, path, at, NULL, NULL, "unterminated quoted field"); break; }
        if (nv == 1 && !*val[0]) continue; /* blank line */
        row r = {path, at, hdr, val, nv < nh ? nv : nh, NULL, &b->arena};
        int r2 = 0;
        if (nv != nh) r2 = ns_err_set_at(NS_EFORMAT, path, at, NULL, NULL, "%d fields, header has %d", nv, nh);
        else r2 = row_to_batch(b, &r);
        if ((rc = row_result(r2, strict, stats)) < 0) break;
    }
done:
    rc = batch_end(b, rc);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ---- JSONL ---------------------------------------------------------------------------- */

int ns_import_jsonl(ns_store *st, const char *path, const char *kind, int strict, ns_import_stats *stats)
{
    ns_import_stats dummy = {0};
    if (!stats) stats = &dummy;
    char *buf;
    size_t len;
    batch *b;
    int rc = import_begin(st, path, kind, stats, "import jsonl", &buf, &len, &b);
    if (rc < 0) return rc;
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *ln;
    size_t n;
    while (ns_lines_next(&it, &ln, &n)) {
        size_t i = 0;
        while (i < n && (ln[i] == ' ' || ln[i] == '\t')) i++;
        if (i == n) continue;
        json_error_t je;
        json_t *o = json_loadb(ln, n, 0, &je);
        int r2;
        if (!o || !json_is_object(o))
            r2 = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "not a JSON object%s%s", o ? "" : ": ",
                               o ? "" : je.text);
        else {
            row r = {path, it.lineno, NULL, NULL, 0, o, &b->arena};
            r2 = row_to_batch(b, &r);
        }
        json_decref(o);
        if ((rc = row_result(r2, strict, stats)) < 0) break;
    }
    rc = batch_end(b, rc);
    free(buf);
    return rc < 0 ? rc : 0;
}

/* ---- MovieLens-100K ------------------------------------------------------------------- */

static int read_file(const char *dir, const char *name, char **buf, size_t *len, char *path, size_t pathsz)
{
    snprintf(path, pathsz, "%s/%s", dir, name);
    return ns_file_read_all(path, buf, len, 0);
}

int ns_import_movielens(ns_store *st, const char *dir, int prefix_ids, ns_import_stats *stats)
{
    ns_import_stats dummy = {0};
    if (!stats) stats = &dummy;
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
        const char *bar = memchr(ln, '|', n);
        int idx = bar ? atoi(bar + 1) : -1;
        if (!bar || idx < 0 || idx >= 32 || genres[idx]) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "expected 'name|index' (index < 32)");
            goto done;
        }
        genres[idx] = malloc((size_t)(bar - ln) + 1);
        if (!genres[idx]) { rc = ns_err_set(NS_ENOMEM, "out of memory"); goto done; }
        memcpy(genres[idx], ln, (size_t)(bar - ln));
        genres[idx][bar - ln] = 0;
        if (idx + 1 > ngenres) ngenres = idx + 1;
    }
    free(buf);
    buf = NULL;

    /* u.user: "id|age|gender|occupation|zip" */
    if ((rc = read_file(dir, "u.user", &buf, &len, path, sizeof path)) < 0) goto done;
    batch *b = batch_new(st, K_USERS, stats, "import users");
    if (!b) { rc = NS_ENOMEM; goto done; }
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        char *s = ns_arena_strndup(&b->arena, ln, n), *f[6];
        if (ns_split(s, '|', f, 6) != 5) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "expected 5 '|'-separated fields");
            break;
        }
        ns_user_rec *u = &b->users[b->n];
        *u = (ns_user_rec){ns_arena_sprintf(&b->arena, "%s%s", up, f[0]), atoi(f[1]), f[2], f[3], f[4], NULL, 0};
        if (u->age <= 0 || u->age > 150) rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, "age", f[1], "bad age");
        else if (++b->n == BATCH) rc = batch_flush(b);
    }
    rc = batch_end(b, rc);
    free(buf);
    buf = NULL;
    if (rc < 0) goto done;

    /* u.item: "id|title|release|video release|url|g0|...|g18", ISO-8859-1 */
    if ((rc = read_file(dir, "u.item", &buf, &len, path, sizeof path)) < 0) goto done;
    b = batch_new(st, K_ITEMS, stats, "import items");
    if (!b) { rc = NS_ENOMEM; goto done; }
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        char *s = ns_arena_alloc(&b->arena, 2 * n + 1, 1), *f[5 + 32];
        ns_utf8_from_latin1(ln, n, s);
        int nf = ns_split(s, '|', f, 5 + 32);
        if (nf != 5 + ngenres) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "expected %d '|'-separated fields, got %d",
                               5 + ngenres, nf);
            break;
        }
        ns_buf cats;
        ns_buf_init(&cats);
        for (int g = 0; g < ngenres; g++)
            if (f[5 + g][0] == '1' && genres[g]) {
                if (cats.len) ns_buf_puts(&cats, "|");
                ns_buf_puts(&cats, genres[g]);
            }
        ns_buf attrs;
        ns_buf_init(&attrs);
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
        if (++b->n == BATCH) rc = batch_flush(b);
    }
    rc = batch_end(b, rc);
    free(buf);
    buf = NULL;
    if (rc < 0) goto done;

    /* u.data: "user \t item \t rating \t timestamp" */
    if ((rc = read_file(dir, "u.data", &buf, &len, path, sizeof path)) < 0) goto done;
    b = batch_new(st, K_EVENTS, stats, "import ratings");
    if (!b) { rc = NS_ENOMEM; goto done; }
    ns_lines_init(&it, buf, len);
    while (rc >= 0 && ns_lines_next(&it, &ln, &n)) {
        if (!n) continue;
        char *s = ns_arena_strndup(&b->arena, ln, n), *f[5];
        int rating;
        if (ns_split(s, '\t', f, 5) != 4 || (rating = atoi(f[2])) < 1 || rating > 5) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL,
                               "expected 'user<TAB>item<TAB>rating 1..5<TAB>timestamp'");
            break;
        }
        b->events[b->n] = (ns_event_rec){ns_arena_sprintf(&b->arena, "%s%s", up, f[0]),
                                         ns_arena_sprintf(&b->arena, "%s%s", ip, f[1]), NS_EV_RATING, rating,
                                         atof(f[3]), NULL};
        if (++b->n == BATCH) {
            rc = batch_flush(b);
            if (rc < 0) ns_err_wrap("%s: batch ending at line %ld", path, it.lineno);
        }
    }
    rc = batch_end(b, rc);
done:
    free(buf);
    for (int g = 0; g < 32; g++) free(genres[g]);
    return rc < 0 ? rc : 0;
}
