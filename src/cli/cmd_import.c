/*
 * cmd_import.c — `northstar import`: fill a store from MovieLens-100K, CSV
 * or JSONL files.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/import.h"
#include "northstar/store.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar import movielens --db FILE [--prefix-ids] DIR\n"
    "       northstar import csv   --db FILE --kind users|items|events [--lenient] FILE\n"
    "       northstar import jsonl --db FILE --kind users|items|events [--lenient] FILE\n"
    "\n"
    "Write users, items or events into the service's SQLite store (created\n"
    "if absent, WAL mode, batches of 5,000 rows per transaction).\n"
    "\n"
    "  movielens DIR   MovieLens-100K: u.user, u.item (ISO-8859-1 -> UTF-8),\n"
    "                  u.genre (item categories), u.data (ratings as events)\n"
    "  csv FILE        header row naming the columns; RFC 4180 quoting\n"
    "  jsonl FILE      one JSON object per line\n"
    "\n"
    "Columns/keys: users: id, age, gender, occupation, zip, attrs (JSON object),\n"
    "created; items: id, title, text, categories ('a|b' or a JSON array), attrs,\n"
    "creator, created; events: user, item, type (impression, click, like,\n"
    "purchase, rating), value, ts (Unix seconds), context (JSON object).\n"
    "\n"
    "  --db FILE       the store (required)\n"
    "  --kind K        what the file holds (csv, jsonl)\n"
    "  --lenient       skip malformed rows (counted) instead of failing\n"
    "  --prefix-ids    MovieLens ids as u<N> and m<N> instead of plain numbers\n"
    "  --sync MODE     full (default: every commit fsynced) or normal\n"
    "  -q, --quiet     no progress display\n";

typedef struct {
    const char *db, *kind;
    ns_store_sync sync;
    int lenient, prefix;
} import_opts;

static const cli_opt opts[] = {
    CLI_OPT_DB(import_opts, db),
    CLI_STR("kind", 0, import_opts, kind),
    CLI_FLAG("lenient", 0, import_opts, lenient),
    CLI_FLAG("prefix-ids", 0, import_opts, prefix),
    CLI_OPT_SYNC(import_opts, sync),
};

int cmd_import(int argc, char **argv)
{
    import_opts o = {NULL, NULL, ns_store_defaults().sync, 0, 0};
    int r = CLI_PARSE(argc, argv, "import", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (argc - r != 2) return cli_usage_error("import", "expected a format (movielens, csv, jsonl) and a path");
    const char *fmt = argv[r], *src = argv[r + 1];
    if (!o.db) return cli_usage_error("import", "--db FILE is required");
    int is_ml = !strcmp(fmt, "movielens");
    if (!is_ml && strcmp(fmt, "csv") && strcmp(fmt, "jsonl"))
        return cli_usage_error("import", "unknown format '%s' (movielens, csv or jsonl)", fmt);
    if (!is_ml && !o.kind) return cli_usage_error("import", "--kind users|items|events is required for %s", fmt);
    ns_store_opts so = ns_store_defaults();
    so.sync = o.sync;
    ns_store *st;
    if (ns_store_open(&st, o.db, &so) < 0) return cli_fail("import");
    ns_import_stats s = {0};
    ns_timer t;
    ns_timer_start(&t);
    int rc = is_ml                    ? ns_import_movielens(st, src, o.prefix, &s)
             : !strcmp(fmt, "csv")    ? ns_import_csv(st, src, o.kind, !o.lenient, &s)
                                      : ns_import_jsonl(st, src, o.kind, !o.lenient, &s);
    double secs = ns_timer_elapsed(&t);
    ns_store_close(st);
    if (rc < 0) return cli_fail("import");
    printf("imported %lld users, %lld items, %lld events into %s in %.2f s", (long long)s.users, (long long)s.items,
           (long long)s.events, o.db, secs);
    if (s.skipped) printf(" (%lld malformed rows skipped)", (long long)s.skipped);
    printf("\n");
    return CLI_OK;
}
