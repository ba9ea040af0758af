/*
 * test_eval.c — `northstar eval` through the real binary on small data
 * sets the test generates (a few seconds each): the served path (import,
 * train, the service on a loopback port, GET /v1/recommend over HTTP) on
 * MovieLens-format files, the Python reference (bench/service/ml_reference.py,
 * written without northstar code) re-deriving the split and every metric
 * from the dumped lists, generic CSV input with bad rows (unknown users and
 * items, duplicates, events older than their item, a user left without a
 * test item) counted rather than fatal, a store as input, and an input with
 * nothing left to evaluate refused with a message.
 */
#include "integ_harness.h"

#include <stdarg.h>
#include <sys/stat.h>

#define NU 60
#define NI 90

static FILE *create(const char *dir, const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (!f) FAIL("cannot write %s", p);
    return f;
}

/* User u likes genre u % 3 (item i is of genre i % 3): 12..23 items, 80% of
 * them of the liked genre; deterministic. */
static int rated(int u, int i) { return ((unsigned)(u * 7919 + i * 104729) % 97u) < (i % 3 == u % 3 ? 40u : 5u); }

static const char *ml_dir(void)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/ml", ns_test_tmpdir());
    mkdir(dir, 0755);
    FILE *f = create(dir, "u.genre");
    fprintf(f, "Drama|0\nComedy|1\nAction|2\n\n");
    fclose(f);
    f = create(dir, "u.user");
    for (int u = 1; u <= NU; u++) fprintf(f, "%d|%d|%c|student|%05d\n", u, 18 + u % 40, u % 2 ? 'M' : 'F', u);
    fclose(f);
    f = create(dir, "u.item");
    for (int i = 1; i <= NI; i++)
        fprintf(f, "%d|Film %d (1990)|01-Jan-1990||http://x/%d|%d|%d|%d\n", i, i, i, i % 3 == 0, i % 3 == 1, i % 3 == 2);
    fclose(f);
    f = create(dir, "u.data");
    for (int u = 1; u <= NU; u++)
        for (int i = 1; i <= NI; i++)
            if (rated(u, i)) fprintf(f, "%d\t%d\t%d\t%d\n", u, i, 1 + (u + i) % 5, 880000000 + u * 1000 + i);
    fclose(f);
    return dir;
}

static json_t *run_json(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *run_json(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char *out = cli_expect(0, "%s", cmd);
    const char *last = NULL; /* the JSON is the last line that starts with '{' */
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (*p == '{') last = p;
    json_t *j = last ? json_loads(last, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    free(out);
    ASSERT_MSG(j, "eval --json printed no JSON");
    return j;
}

static json_t *row(json_t *j, const char *name)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(j, "rows"), i, r) if (!strcmp(json_string_value(json_object_get(r, "name")), name))
        return r;
    FAIL("no row '%s'", name);
    return NULL;
}

static long num(json_t *o, const char *key) { return (long)json_number_value(json_object_get(o, key)); }

TEST(movielens_files_served_over_http)
{
    const char *d = ml_dir();
    char dump[1024];
    snprintf(dump, sizeof dump, "%s/dump", ns_test_tmpdir());
    json_t *j = run_json("eval movielens --data '%s' --dump '%s' --json -q --clients 3", d, dump);
    json_t *in = json_object_get(j, "input"), *served = row(j, "served"), *pop = row(j, "popularity");
    ASSERT_EQ_INT(num(in, "users"), NU);
    ASSERT_EQ_INT(num(in, "test_users"), NU);
    ASSERT_EQ_INT(num(served, "asked"), NU);
    ASSERT_EQ_INT(num(served, "users"), NU);
    ASSERT_EQ_INT(num(served, "failed"), 0);
    ASSERT_EQ_INT(num(served, "consumed"), 0); /* every rating counts as consumed: none served back */
    ASSERT_EQ_INT(num(served, "unknown"), 0);
    ASSERT_EQ_INT(num(served, "slots"), NU * 10);
    double cov = json_number_value(json_object_get(served, "coverage"));
    ASSERT(cov > 0 && cov <= 1);
    ASSERT(json_number_value(json_object_get(served, "p99_ms")) > 0);
    /* the users' taste is their genre: the served lists must beat popularity */
    ASSERT_MSG(json_number_value(json_object_get(served, "ndcg")) > json_number_value(json_object_get(pop, "ndcg")),
               "served nDCG %.4f <= popularity %.4f", json_number_value(json_object_get(served, "ndcg")),
               json_number_value(json_object_get(pop, "ndcg")));
    json_decref(j);
}

TEST(reference_agrees_on_dumped_lists)
{
    if (access("/usr/bin/python3", X_OK) != 0) SKIP("no /usr/bin/python3");
    const char *d = ml_dir();
    char dump[1024];
    snprintf(dump, sizeof dump, "%s/dump", ns_test_tmpdir());
    json_decref(run_json("eval movielens --data '%s' --dump '%s' --json -q", d, dump));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/bench/service/ml_reference.py '%s' '%s'", NS_SOURCE_DIR, d, dump);
    FILE *p = popen(cmd, "r");
    ASSERT(p);
    char line[512];
    int rows = 0;
    while (fgets(line, sizeof line, p)) {
        printf("  %s", line);
        rows += strstr(line, " ok") != NULL;
    }
    int st = pclose(p);
    ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ml_reference.py: split or metrics differ (status %d)", st);
    ASSERT_MSG(rows >= 5, "the reference checked %d rows", rows);
}

/* Generic CSV with every kind of bad row the evaluator must count. */
static const char *csv_dir(void)
{
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s/csv", ns_test_tmpdir());
    mkdir(dir, 0755);
    FILE *f = create(dir, "users.csv");
    fprintf(f, "id,age,gender\n");
    for (int u = 1; u < NU; u++) fprintf(f, "user %d,%d,F\n", u, 20 + u % 30); /* "user 60" is not listed */
    fclose(f);
    f = create(dir, "items.csv");
    fprintf(f, "id,title,categories,created\n");
    for (int i = 1; i <= NI; i++) fprintf(f, "it%d,Item %d,%s,%d\n", i, i, i % 3 ? "a" : "b", i == 5 ? 890000000 : 0);
    fclose(f);
    f = create(dir, "events.csv");
    fprintf(f, "user,item,type,value,ts\n");
    for (int u = 1; u <= NU; u++)
        for (int i = 1; i <= NI; i++)
            if (rated(u, i)) fprintf(f, "user %d,it%d,rating,%d,%d\n", u, i, 1 + (u + i) % 5, 880000000 + u * 10 + i);
    fprintf(f, "user 1,it1,rating,4,880000001\nuser 1,it1,rating,4,880000001\n"); /* duplicates of a row */
    fprintf(f, "user 2,nosuch,rating,4,880000002\nuser 3,ghost,click,1,880000003\n"); /* unknown items */
    fprintf(f, "user 2,it5,rating,5,880000100\n"); /* older than it5's created time */
    fprintf(f, "loner,it7,rating,5,880000200\n");  /* one event: no test item */
    fclose(f);
    return dir;
}

TEST(csv_bad_rows_counted_not_fatal)
{
    const char *d = csv_dir();
    char args[2048];
    snprintf(args, sizeof args, "--events '%s/events.csv' --items '%s/items.csv' --users '%s/users.csv'", d, d, d);
    json_t *j = run_json("eval csv %s --implicit-ratings --no-variants --json -q", args);
    json_t *in = json_object_get(j, "input"), *imp = json_object_get(in, "import"), *served = row(j, "served");
    ASSERT_EQ_INT(num(imp, "unknown_items"), 2);
    ASSERT_EQ_INT(num(imp, "skipped"), 2);
    ASSERT_EQ_INT(num(imp, "duplicates"), 1); /* the second of the two identical rows */
    ASSERT(num(imp, "before_created") >= 1);
    ASSERT(num(imp, "users_created") >= 2); /* "user 60" and "loner" */
    ASSERT(num(in, "duplicate_pairs") >= 1); /* the pair (user 1, it1) seen again */
    ASSERT(num(in, "users_no_test") >= 1);
    ASSERT_EQ_INT(num(in, "test_users"), NU); /* the loner is not asked */
    ASSERT_EQ_INT(num(served, "asked"), NU);
    ASSERT_EQ_INT(num(served, "failed"), 0); /* ids with a space went through the URL */
    ASSERT_EQ_INT(num(served, "consumed"), 0);
    ASSERT_EQ_INT(num(served, "users"), NU);
    json_decref(j);
}

TEST(store_input_and_nothing_to_evaluate)
{
    const char *d = csv_dir();
    char db[1024], bad[1024];
    snprintf(db, sizeof db, "%s/store.db", ns_test_tmpdir());
    free(cli_expect(0, "import csv -q --db '%s' --kind items '%s/items.csv'", db, d));
    free(cli_expect(0, "import csv -q --db '%s' --kind events --lenient '%s/events.csv'", db, d));
    json_t *j = run_json("eval store --db '%s' --implicit-ratings --no-variants --json -q", db);
    ASSERT_EQ_INT(num(row(j, "served"), "failed"), 0);
    ASSERT_EQ_INT(num(row(j, "served"), "asked"), NU);
    json_decref(j);
    /* every event names an unknown item: a message, exit 1, no crash */
    snprintf(bad, sizeof bad, "%s/bad.csv", ns_test_tmpdir());
    FILE *f = fopen(bad, "w");
    ASSERT(f);
    fprintf(f, "user,item,type,value,ts\na,zz1,click,1,880000000\nb,zz2,click,1,880000001\n");
    fclose(f);
    char *out = cli_expect(1, "eval csv --events '%s' --items '%s/items.csv' -q", bad, d);
    ASSERT(strstr(out, "northstar eval:"));
    free(out);
}

/* MovieLens files are imported as `northstar import movielens` does: a
 * rating of a user u.user lacks creates the user (counted; with one rating
 * the split leaves it no test item: counted, not asked); a rating of an item
 * u.item lacks fails the import with its line named (all or nothing). */
TEST(movielens_unknown_ids)
{
    const char *d = ml_dir();
    char path[1100];
    snprintf(path, sizeof path, "%s/u.data", d);
    FILE *f = fopen(path, "a");
    ASSERT(f);
    fprintf(f, "999\t1\t4\t880000000\n");
    fclose(f);
    json_t *j = run_json("eval movielens '%s' --no-variants --json -q", d);
    json_t *in = json_object_get(j, "input");
    ASSERT_EQ_INT(num(json_object_get(in, "import"), "users_created"), 1);
    ASSERT_EQ_INT(num(in, "users_no_test"), 1);
    ASSERT_EQ_INT(num(in, "test_users"), NU);
    ASSERT_EQ_INT(num(row(j, "served"), "failed"), 0);
    json_decref(j);
    f = fopen(path, "a");
    ASSERT(f);
    fprintf(f, "1\t9999\t4\t880000000\n");
    fclose(f);
    char *out = cli_expect(1, "eval movielens '%s' -q", d);
    ASSERT_MSG(strstr(out, "u.data:"), "the error names the file and line: %s", out);
    free(out);
}

/* JSONL input takes the same path (string ids with non-ASCII bytes go
 * through the URL percent-encoded). */
TEST(jsonl_input)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/jsonl", ns_test_tmpdir());
    mkdir(dir, 0755);
    FILE *f = create(dir, "items.jsonl");
    for (int i = 1; i <= NI; i++) fprintf(f, "{\"id\": \"art%d\", \"title\": \"Art %d\", \"categories\": [\"c%d\"]}\n", i, i, i % 3);
    fclose(f);
    f = create(dir, "events.jsonl");
    for (int u = 1; u <= NU; u++)
        for (int i = 1; i <= NI; i++)
            if (rated(u, i))
                fprintf(f, "{\"user\": \"b\\u00fcrger %d\", \"item\": \"art%d\", \"type\": \"like\", \"ts\": %d}\n", u, i,
                        880000000 + u * 100 + i);
    fclose(f);
    json_t *j = run_json("eval jsonl --events '%s/events.jsonl' --items '%s/items.jsonl' --no-variants --json -q", dir, dir);
    json_t *served = row(j, "served");
    ASSERT_EQ_INT(num(json_object_get(j, "input"), "test_users"), NU);
    ASSERT_EQ_INT(num(served, "asked"), NU);
    ASSERT_EQ_INT(num(served, "failed"), 0);
    ASSERT_EQ_INT(num(served, "consumed"), 0);
    ASSERT_EQ_INT(num(served, "users"), NU);
    json_decref(j);
}
