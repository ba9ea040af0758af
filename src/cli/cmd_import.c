/*
 * cmd_import.c — `northstar import`: fill a store from MovieLens-100K, CSV
 * or JSONL files, all or nothing and strict unless told otherwise.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/import.h"
#include "northstar/store.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar import movielens --db FILE [--prefix-ids] DIR\n"
    "       northstar import csv   --db FILE --kind users|items|events [--lenient] [--partial] [--skip-lines N] FILE\n"
    "       northstar import jsonl --db FILE --kind users|items|events [--lenient] [--partial] [--skip-lines N] FILE\n"
    "\n"
    "Write users, items or events into the service's SQLite store (created\n"
    "if absent, WAL mode). An import is all or nothing: one transaction over\n"
    "the whole input (written in batches of 5,000 rows), so when it fails\n"
    "nothing was written and the same command can simply be run again. Other\n"
    "writers of the store wait for it up to their busy timeout (5 s) and then\n"
    "fail: use --partial to import into a store a running server writes.\n"
    "\n"
    "  movielens DIR   MovieLens-100K: u.user, u.item (ISO-8859-1 -> UTF-8),\n"
    "                  u.genre (item categories), u.data (ratings as events)\n"
    "  csv FILE        header row naming the columns; RFC 4180 quoting\n"
    "  jsonl FILE      one JSON object per line\n"
    "\n"
    "Columns/keys: users: id (or user), age, gender, occupation, zip, attrs\n"
    "(JSON object), created; items: id (or item), title, text, categories\n"
    "('a|b' or a JSON array), attrs, creator, created; events: user, item,\n"
    "type (impression, click, like, purchase, rating, dislike; default click), value\n"
    "(default 1, required for ratings), ts (Unix seconds, required), context\n"
    "(JSON object).\n"
    "\n"
    "Strict by default: the first bad row fails the import, named file:line,\n"
    "field and value: an unknown column or key, a missing or malformed value,\n"
    "text that is not UTF-8 or holds a NUL byte, a value over the limits the\n"
    "HTTP API has (ids 1..128 bytes, title 1024, text 65536, categories 1024,\n"
    "creator 128, gender 32, occupation 64, zip 32, attrs/context 65536;\n"
    "age 0..150, created 0..1e11, ts 0..now+1 day, value -1e12..1e12), an\n"
    "event whose item is not in the store. A file without rows is an error.\n"
    "Kept and counted in the summary: rows repeating an earlier row (events:\n"
    "same user, item, type, value and ts; users and items: same id, the later\n"
    "wins), events before their item's created time, negative values, users\n"
    "that events create (ids not in the store).\n"
    "\n"
    "  --db FILE       the store (required)\n"
    "  --kind K        what the file holds (csv, jsonl)\n"
    "  --lenient       skip bad rows (counted) and ignore unknown columns and\n"
    "                  keys (named in the summary) instead of failing\n"
    "  --partial       commit every batch of 5,000 rows as it goes; on failure\n"
    "                  the message says how many rows were committed, through\n"
    "                  which line: re-run with --skip-lines LINE to resume\n"
    "  --skip-lines N  pass over the rows that start on lines 1..N (the CSV\n"
    "                  header is still read)\n"
    "  --prefix-ids    MovieLens ids as u<N> and m<N> instead of plain numbers\n"
    "  --sync MODE     full (default: every commit fsynced) or normal\n"
    "  -q, --quiet     no progress display\n";

typedef struct {
    const char *db, *kind;
    ns_store_sync sync;
    int lenient, prefix, partial;
    long skip;
} import_opts;

static const cli_opt opts[] = {
    CLI_OPT_DB(import_opts, db),
    CLI_STR("kind", 0, import_opts, kind),
    CLI_FLAG("lenient", 0, import_opts, lenient),
    CLI_FLAG("partial", 0, import_opts, partial),
    CLI_LONG("skip-lines", 0, import_opts, skip, 0, LONG_MAX),
    CLI_FLAG("prefix-ids", 0, import_opts, prefix),
    CLI_OPT_SYNC(import_opts, sync),
};

/* What the import accepted but the user should know. */
static void print_notes(const ns_import_stats *s)
{
    if (s->duplicates)
        printf("  %lld rows repeat an earlier row (kept; the first at line %ld)\n", (long long)s->duplicates,
               s->first_duplicate);
    if (s->before_created)
        printf("  %lld events are older than their item's created time (kept)\n", (long long)s->before_created);
    if (s->negative) printf("  %lld events have a negative value (kept)\n", (long long)s->negative);
    if (s->users_created)
        printf("  %lld users were created by their first event (not in the store before; no attributes)\n",
               (long long)s->users_created);
    if (s->skipped) {
        printf("  %lld bad rows skipped (--lenient)", (long long)s->skipped);
        if (s->unknown_items) printf(", %lld of them for an unknown item", (long long)s->unknown_items);
        printf("\n");
    }
    if (s->ignored_fields)
        printf("  %d unknown columns or keys ignored (--lenient): %s\n", s->ignored_fields, s->ignored);
    if (s->passed) printf("  %lld rows passed over (--skip-lines)\n", (long long)s->passed);
}

/* The store file a failed import created, and SQLite's side files. */
static void remove_store(const char *db)
{
    char p[4096];
    remove(db);
    snprintf(p, sizeof p, "%s-wal", db);
    remove(p);
    snprintf(p, sizeof p, "%s-shm", db);
    remove(p);
}

int cmd_import(int argc, char **argv)
{
    import_opts o = {NULL, NULL, ns_store_defaults().sync, 0, 0, 0, 0};
    int r = CLI_PARSE(argc, argv, "import", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r != 2) return cli_usage_error("import", "expected a format (movielens, csv, jsonl) and a path");
    const char *fmt = argv[r], *src = argv[r + 1];
    if (!o.db) return cli_usage_error("import", "--db FILE is required");
    int is_ml = !strcmp(fmt, "movielens");
    if (!is_ml && strcmp(fmt, "csv") && strcmp(fmt, "jsonl"))
        return cli_usage_error("import", "unknown format '%s' (movielens, csv or jsonl)", fmt);
    if (!is_ml && !o.kind) return cli_usage_error("import", "--kind users|items|events is required for %s", fmt);
    if (is_ml && (o.lenient || o.partial || o.skip || o.kind))
        return cli_usage_error("import", "movielens takes neither --kind, --lenient, --partial nor --skip-lines");
    ns_store_opts so = ns_store_defaults();
    so.sync = o.sync;
    ns_store *st;
    int fresh = !ns_file_exists(o.db); /* a failed import into a new store leaves no file */
    if (ns_store_open(&st, o.db, &so) < 0) return cli_fail("import");
    ns_import_stats s = {0};
    ns_import_opts io = {o.lenient, o.partial, o.skip};
    ns_timer t;
    ns_timer_start(&t);
    int rc = is_ml                 ? ns_import_movielens(st, src, o.prefix, &s)
             : !strcmp(fmt, "csv") ? ns_import_csv(st, src, o.kind, &io, &s)
                                   : ns_import_jsonl(st, src, o.kind, &io, &s);
    double secs = ns_timer_elapsed(&t);
    ns_store_close(st);
    if (rc < 0) {
        cli_fail("import");
        if (fresh && !s.committed) remove_store(o.db);
        if (o.partial && s.committed)
            fprintf(stderr, "northstar import: to resume, run the same command with --skip-lines %ld\n", s.last_line);
        return CLI_FAIL;
    }
    long long rows = (long long)(s.users + s.items + s.events);
    printf("imported %lld users, %lld items, %lld events into %s in %.2f s (%.0f rows/s)\n", (long long)s.users,
           (long long)s.items, (long long)s.events, o.db, secs, secs > 0 ? (double)rows / secs : 0.0);
    print_notes(&s);
    return CLI_OK;
}
