/*
 * test_import_cli.c — `northstar import` end to end through the real
 * binary: all or nothing by default (a failed import leaves the store as it
 * was and says so), --partial says what it committed and --skip-lines
 * resumes from there, strict columns and --lenient, files without rows,
 * the HTTP limits, bad bytes named file:line:field, and the help text.
 * Rows are counted with the store API on the file the command wrote.
 */
#include "integ_harness.h"
#include "northstar/store.h"

static void write_bytes(const char *path, const char *data, size_t len)
{
    if (ns_file_write_atomic(path, data, len) < 0) FAIL("%s", ns_err_msg());
}

static void write_text(const char *path, const char *s) { write_bytes(path, s, strlen(s)); }

static int64_t count(const char *db, const char *table)
{
    ns_store_opts o = ns_store_defaults();
    o.readonly = 1;
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, db, &o));
    int64_t n = ns_store_count(st, table);
    ns_store_close(st);
    return n;
}

/* A store with items i0..i9. */
static const char *store_with_items(void)
{
    const char *db = ns_test_tmpfile("s.db"), *items = ns_test_tmpfile("items.csv");
    write_text(items, "id,title,created\ni0,a,1000\ni1,b,1000\ni2,c,1000\ni3,d,1000\ni4,e,1000\n"
                      "i5,f,1000\ni6,g,1000\ni7,h,1000\ni8,i,1000\ni9,j,1000\n");
    free(cli_expect(0, "import csv --db '%s' --kind items --sync normal '%s'", db, items));
    return db;
}

/* Events on lines 2..last; line `bad` has the value "abc" (0: none). */
static const char *events_csv(const char *name, long last, long bad)
{
    const char *path = ns_test_tmpfile(name);
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_puts(&b, "user,item,type,value,ts\n");
    for (long l = 2; l <= last; l++)
        ns_buf_printf(&b, "u%ld,i%ld,click,%s,%ld\n", l % 97, l % 10, l == bad ? "abc" : "1", 2000 + l);
    write_bytes(path, b.data, b.len);
    ns_buf_release(&b);
    return path;
}

TEST(failed_import_writes_nothing_and_partial_resumes)
{
    const char *db = store_with_items();
    const char *bad = events_csv("bad.csv", 11001, 11000);
    char *out = cli_expect(1, "import csv --db '%s' --kind events --sync normal '%s'", db, bad);
    ASSERT_HAS(out, "bad.csv:11000: value 'abc': not a number");
    ASSERT_HAS(out, "nothing was written");
    free(out);
    ASSERT_EQ_INT(count(db, "events"), 0); /* two batches of 5,000 were rolled back */
    ASSERT_EQ_INT(count(db, "users"), 0);
    /* into a store that did not exist: no file is left behind (the existing one above stays) */
    const char *fresh = ns_test_tmpfile("fresh.db");
    free(cli_expect(1, "import csv --db '%s' --kind events --sync normal '%s'", fresh, bad));
    ASSERT(!ns_file_exists(fresh));
    ASSERT(ns_file_exists(db));
    /* --partial: the batches before the bad row stay, and so do the rows between. */
    out = cli_expect(1, "import csv --db '%s' --kind events --sync normal --partial '%s'", db, bad);
    ASSERT_HAS(out, "10998 rows were committed, through line 10999");
    ASSERT_HAS(out, "--skip-lines 10999");
    free(out);
    ASSERT_EQ_INT(count(db, "events"), 10998);
    const char *fixed = events_csv("fixed.csv", 11001, 0);
    out = cli_expect(0, "import csv --db '%s' --kind events --sync normal --partial --skip-lines 10999 '%s'", db,
                     fixed);
    ASSERT_HAS(out, "imported 0 users, 0 items, 2 events");
    ASSERT_HAS(out, "10998 rows passed over (--skip-lines)");
    free(out);
    ASSERT_EQ_INT(count(db, "events"), 11000);
}

TEST(strict_by_default_lenient_on_request)
{
    const char *db = store_with_items();
    const char *p = ns_test_tmpfile("ev.csv");
    write_text(p, "user,item,ts\n");
    char *out = cli_expect(1, "import csv --db '%s' --kind events '%s'", db, p);
    ASSERT_HAS(out, "no rows (header only)");
    free(out);
    write_text(p, "user,item,ts,colour\nu1,i1,5000,red\nu2,i2,5001,blue\n");
    out = cli_expect(1, "import csv --db '%s' --kind events '%s'", db, p);
    ASSERT_HAS(out, "ev.csv:1: colour: unknown column");
    free(out);
    ASSERT_EQ_INT(count(db, "events"), 0);
    out = cli_expect(0, "import csv --db '%s' --kind events --lenient '%s'", db, p);
    ASSERT_HAS(out, "imported 0 users, 0 items, 2 events");
    ASSERT_HAS(out, "1 unknown columns or keys ignored (--lenient): colour");
    free(out);
    /* Bad rows: the first fails the import; --lenient skips and counts them. */
    write_text(p, "user,item,ts\nu1,i1,5000\nu2,nope,5001\nu3,i3,later\nu4,i4,5003\n");
    out = cli_expect(1, "import csv --db '%s' --kind events '%s'", db, p);
    ASSERT_HAS(out, "ev.csv:4: ts 'later': not a number");
    free(out);
    out = cli_expect(0, "import csv --db '%s' --kind events --lenient '%s'", db, p);
    ASSERT_HAS(out, "2 events");
    ASSERT_HAS(out, "2 bad rows skipped (--lenient), 1 of them for an unknown item");
    free(out);
    ASSERT_EQ_INT(count(db, "events"), 4);
    /* Kept and counted. */
    write_text(p, "user,item,value,ts\nu1,i1,1,5000\nu1,i1,1,5000\nu9,i1,-1,10\n");
    out = cli_expect(0, "import csv --db '%s' --kind events '%s'", db, p);
    ASSERT_HAS(out, "1 rows repeat an earlier row (kept; the first at line 3)");
    ASSERT_HAS(out, "1 events are older than their item's created time (kept)");
    ASSERT_HAS(out, "1 events have a negative value (kept)");
    ASSERT_HAS(out, "1 users were created by their first event");
    free(out);
}

TEST(limits_and_bytes_named_file_line_field)
{
    const char *db = store_with_items();
    /* A 10 MB text: HTTP caps it at 65,536 bytes, so does the import. */
    const char *p = ns_test_tmpfile("big.csv");
    size_t n = 10u << 20;
    char *big = malloc(n + 64);
    ASSERT(big);
    size_t k = (size_t)sprintf(big, "id,text\nbig,");
    memset(big + k, 'a', n);
    big[k + n] = '\n';
    write_bytes(p, big, k + n + 1);
    free(big);
    char *out = cli_expect(1, "import csv --db '%s' --kind items '%s'", db, p);
    ASSERT_HAS(out, "big.csv:2: text");
    ASSERT_HAS(out, "over the limit of 65536");
    free(out);
    /* Invalid UTF-8 in a user attribute, a NUL in a user id (CSV, JSONL). */
    p = ns_test_tmpfile("users.csv");
    write_text(p, "id,occupation\nu1,\xff\xfe\n");
    out = cli_expect(1, "import csv --db '%s' --kind users '%s'", db, p);
    ASSERT_HAS(out, "users.csv:2: occupation '\\xFF\\xFE': is not valid UTF-8");
    free(out);
    static const char nul_csv[] = "id,age\nu1\0x,30\n";
    write_bytes(p, nul_csv, sizeof nul_csv - 1);
    out = cli_expect(1, "import csv --db '%s' --kind users '%s'", db, p);
    ASSERT_HAS(out, "users.csv:2: id 'u1\\x00x': contains a NUL byte");
    free(out);
    const char *j = ns_test_tmpfile("users.jsonl");
    write_text(j, "{\"id\":\"u1\\u0000x\"}\n");
    out = cli_expect(1, "import jsonl --db '%s' --kind users '%s'", db, j);
    ASSERT_HAS(out, "users.jsonl:1: id 'u1\\x00x': contains a NUL byte");
    free(out);
    write_text(j, "{\"id\":\"u1\",\"zip\":\"\xff\"}\n");
    out = cli_expect(1, "import jsonl --db '%s' --kind users '%s'", db, j);
    ASSERT_HAS(out, "users.jsonl:1: zip: is not valid UTF-8");
    ASSERT(ns_utf8_valid(out, strlen(out))); /* the message itself is clean */
    free(out);
    ASSERT_EQ_INT(count(db, "users"), 0);
}

TEST(help_and_usage)
{
    char *out = cli_expect(0, "import --help");
    ASSERT_HAS(out, "all or nothing");
    ASSERT_HAS(out, "--partial");
    ASSERT_HAS(out, "--skip-lines N");
    ASSERT_HAS(out, "--lenient");
    ASSERT_HAS(out, "ignore unknown columns");
    free(out);
    const char *db = ns_test_tmpfile("u.db");
    out = cli_expect(2, "import movielens --db '%s' --partial /nonexistent", db);
    ASSERT_HAS(out, "movielens takes neither");
    free(out);
}
