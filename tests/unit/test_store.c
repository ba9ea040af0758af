/* test_store.c — the SQLite store: schema and migrations, upserts, event
 * batches (all or nothing), imports (CSV, JSONL, MovieLens) and the
 * durability promise: every acknowledged batch survives kill -9. */
#include "harness.h"
#include "northstar/store.h"
#include "northstar/import.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

static ns_store *open_tmp(const char *name)
{
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, ns_test_tmpfile(name), NULL));
    return st;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    fputs(text, f);
    fclose(f);
}

TEST(open_creates_schema_and_reopens)
{
    ns_store *st = open_tmp("a.db");
    ASSERT_EQ_INT(ns_store_schema_version(st), NS_STORE_SCHEMA_VERSION);
    ASSERT_EQ_INT(ns_store_count(st, "events"), 0);
    ns_store_close(st);
    st = open_tmp("a.db");
    ASSERT_EQ_INT(ns_store_schema_version(st), NS_STORE_SCHEMA_VERSION);
    ns_store_close(st);
    /* WAL mode is on. */
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(ns_test_tmpfile("a.db"), &db), SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    ASSERT_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    ASSERT_STREQ((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
}

TEST(migrates_v1_and_refuses_newer)
{
    /* A version-1 file as an older northstar wrote it (no indexes). */
    const char *path = ns_test_tmpfile("v1.db");
    sqlite3 *db;
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    ASSERT_EQ_INT(sqlite3_exec(db,
                               "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                               "INSERT INTO meta VALUES('schema_version','1');"
                               "CREATE TABLE users(uid INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE, age INTEGER,"
                               " gender TEXT, occupation TEXT, zip TEXT, attrs TEXT, created REAL);"
                               "CREATE TABLE items(iid INTEGER PRIMARY KEY, ext TEXT NOT NULL UNIQUE, title TEXT,"
                               " body TEXT, categories TEXT, attrs TEXT, creator TEXT, created REAL);"
                               "CREATE TABLE events(seq INTEGER PRIMARY KEY, uid INTEGER NOT NULL, iid INTEGER NOT"
                               " NULL, type INTEGER NOT NULL, value REAL, ts REAL NOT NULL, context TEXT);"
                               "INSERT INTO items(ext,title) VALUES('i1','old');",
                               NULL, NULL, NULL),
                  SQLITE_OK);
    sqlite3_close(db);
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, path, NULL));
    ASSERT_EQ_INT(ns_store_schema_version(st), 3);
    ASSERT_EQ_INT(ns_store_count(st, "items"), 1); /* data kept */
    ns_store_close(st);
    ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type='index' AND name='events_user'", -1, &s, NULL);
    ASSERT_EQ_INT(sqlite3_step(s), SQLITE_ROW);
    ASSERT_EQ_INT(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    ASSERT_EQ_INT(sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema_version'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_ERR(ns_store_open(&st, path, NULL), NS_EUNSUPPORTED);
    ASSERT(strstr(ns_err_msg(), "newer"));
}

TEST(refuses_non_sqlite_file)
{
    const char *path = ns_test_tmpfile("junk.db");
    write_file(path, "this is not a database, just text that is long enough to look like a header....\n");
    ns_store *st;
    ASSERT_ERR(ns_store_open(&st, path, NULL), NS_EIO);
    ASSERT(strstr(ns_err_msg(), "not a northstar store"));
}

TEST(upsert_users_items_and_get)
{
    ns_store *st = open_tmp("b.db");
    ns_user_rec u[2] = {{"u1", 24, "M", "technician", "85711", "{\"vip\":true}", 10},
                        {"u2", 53, "F", "other", NULL, NULL, 11}};
    ASSERT_OK(ns_store_put_users(st, u, 2));
    u[0].age = 25;
    ASSERT_OK(ns_store_put_users(st, u, 1)); /* replace, same row */
    ASSERT_EQ_INT(ns_store_count(st, "users"), 2);
    ns_item_rec it = {"m1", "Café Society", "a film about a café", "Comedy|Drama", NULL, "woody", 5};
    ASSERT_OK(ns_store_put_items(st, &it, 1));
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_user_rec got;
    ASSERT_EQ_INT(ns_store_get_user(st, "u1", &got, &a), 1);
    ASSERT_EQ_INT(got.age, 25);
    ASSERT_STREQ(got.occupation, "technician");
    ASSERT_STREQ(got.attrs, "{\"vip\":true}");
    ASSERT_EQ_INT(ns_store_get_user(st, "nobody", &got, &a), 0);
    ns_item_rec gi;
    ASSERT_EQ_INT(ns_store_get_item(st, "m1", &gi, &a), 1);
    ASSERT_STREQ(gi.title, "Café Society");
    ASSERT_STREQ(gi.categories, "Comedy|Drama");
    /* A missing id names the field. */
    ns_user_rec noid = {0};
    ASSERT_ERR(ns_store_put_users(st, &noid, 1), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "users[0].id");
    ns_arena_release(&a);
    ns_store_close(st);
}

static int collect(int64_t seq, const ns_event_rec *e, void *ctx)
{
    ns_buf *b = ctx;
    ns_buf_printf(b, "%lld:%s:%s:%s:%g:%g;", (long long)seq, e->user, e->item, ns_event_type_name(e->type), e->value,
                  e->ts);
    return 0;
}

TEST(events_batch_all_or_nothing)
{
    ns_store *st = open_tmp("c.db");
    ns_item_rec it[2] = {{"i1", "one", NULL, "A", NULL, NULL, 0}, {"i2", "two", NULL, "B", NULL, NULL, 0}};
    ASSERT_OK(ns_store_put_items(st, it, 2));
    ns_event_rec ev[3] = {{"new-user", "i1", NS_EV_IMPRESSION, 1, 100, NULL},
                          {"new-user", "i1", NS_EV_CLICK, 1, 101, "{\"device\":\"mobile\"}"},
                          {"other", "i2", NS_EV_RATING, 4, 102, NULL}};
    int64_t first = 0;
    ASSERT_OK(ns_store_put_events(st, ev, 3, &first));
    ASSERT_EQ_INT(first, 1);
    ASSERT_EQ_INT(ns_store_count(st, "users"), 2); /* created on the fly */
    /* One unknown item fails the whole batch, naming the event. */
    ns_event_rec badb[2] = {{"u9", "i1", NS_EV_CLICK, 1, 200, NULL}, {"u9", "nope", NS_EV_CLICK, 1, 201, NULL}};
    ASSERT_ERR(ns_store_put_events(st, badb, 2, NULL), NS_ENOTFOUND);
    ASSERT_STREQ(ns_err_last()->field, "events[1].item");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 3);
    ASSERT_EQ_INT(ns_store_count(st, "users"), 2); /* u9 rolled back too */
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_store_scan_events(st, 1, collect, &b));
    ASSERT_STREQ(b.data, "2:new-user:i1:click:1:101;3:other:i2:rating:4:102;");
    ns_buf_release(&b);
    ns_buf_init(&b);
    ASSERT_OK(ns_store_user_events(st, "new-user", 1, collect, &b));
    ASSERT_STREQ(b.data, "2:new-user:i1:click:1:101;");
    ns_buf_release(&b);
    ns_store_close(st);
}

TEST(import_csv_quotes_and_errors)
{
    ns_store *st = open_tmp("d.db");
    const char *items = ns_test_tmpfile("items.csv");
    write_file(items,
               "id,title,categories,text\r\n"
               "i1,\"Hello, \"\"world\"\"\",A|B,\"two\nlines\"\r\n"
               "i2,plain,C,\r\n");
    ns_import_stats s = {0};
    ASSERT_OK(ns_import_csv(st, items, "items", NULL, &s));
    ASSERT_EQ_INT(s.items, 2);
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_item_rec it;
    ASSERT_EQ_INT(ns_store_get_item(st, "i1", &it, &a), 1);
    ASSERT_STREQ(it.title, "Hello, \"world\"");
    ASSERT_STREQ(it.text, "two\nlines");
    const char *ev = ns_test_tmpfile("events.csv");
    write_file(ev, "user,item,type,value,ts\nu1,i1,click,1,100\nu1,i2,rating,abc,101\nu2,i2,view,1,102\n");
    memset(&s, 0, sizeof s);
    ASSERT_ERR(ns_import_csv(st, ev, "events", NULL, &s), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ASSERT_STREQ(ns_err_last()->field, "value");
    memset(&s, 0, sizeof s);
    ns_import_opts lenient = {.lenient = 1};
    ASSERT_OK(ns_import_csv(st, ev, "events", &lenient, &s)); /* skip and count */
    ASSERT_EQ_INT(s.events, 1);
    ASSERT_EQ_INT(s.skipped, 2);
    ns_arena_release(&a);
    ns_store_close(st);
}

TEST(import_jsonl)
{
    ns_store *st = open_tmp("e.db");
    const char *users = ns_test_tmpfile("users.jsonl");
    write_file(users, "{\"id\":\"u1\",\"age\":31,\"gender\":\"F\",\"attrs\":{\"plan\":\"pro\"}}\n\n{\"id\":7,\"age\":40}\n");
    const char *items = ns_test_tmpfile("items.jsonl");
    write_file(items, "{\"id\":\"i1\",\"title\":\"T\",\"categories\":[\"x\",\"y\"]}\n");
    const char *ev = ns_test_tmpfile("ev.jsonl");
    write_file(ev, "{\"user\":\"u1\",\"item\":\"i1\",\"type\":\"like\",\"ts\":5,\"context\":{\"page\":\"home\"}}\n"
                   "{\"user\":\"u1\",\"item\":\"i1\",\"type\":\"click\"\n");
    ns_import_stats s = {0};
    ASSERT_OK(ns_import_jsonl(st, users, "users", NULL, &s));
    ASSERT_EQ_INT(s.users, 2);
    ASSERT_OK(ns_import_jsonl(st, items, "items", NULL, &s));
    ASSERT_EQ_INT(s.items, 1);
    ASSERT_EQ_INT(s.users, 0); /* each call fills its own stats */
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_user_rec u;
    ASSERT_EQ_INT(ns_store_get_user(st, "7", &u, &a), 1);
    ASSERT_EQ_INT(u.age, 40);
    ns_item_rec it;
    ASSERT_EQ_INT(ns_store_get_item(st, "i1", &it, &a), 1);
    ASSERT_STREQ(it.categories, "x|y");
    ASSERT_ERR(ns_import_jsonl(st, ev, "events", NULL, &s), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_ERR(ns_import_jsonl(st, ev, "pets", NULL, &s), NS_EINVAL);
    ns_arena_release(&a);
    ns_store_close(st);
}

TEST(latin1_to_utf8)
{
    char out[32];
    size_t n = ns_utf8_from_latin1("Mis\xe9rables \xa9", 13, out);
    ASSERT_EQ_INT(n, 15);
    ASSERT_STREQ(out, "Misérables ©");
}

TEST(import_movielens)
{
    const char *dir = ns_test_data("movielens-100k");
    ns_store_opts o = ns_store_defaults();
    o.sync = NS_SYNC_NORMAL; /* speed; durability is tested elsewhere */
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, ns_test_tmpfile("ml.db"), &o));
    ns_import_stats s = {0};
    ASSERT_OK(ns_import_movielens(st, dir, 0, &s));
    ASSERT_EQ_INT(s.users, 943);
    ASSERT_EQ_INT(s.items, 1682);
    ASSERT_EQ_INT(s.events, 100000);
    ASSERT_EQ_INT(ns_store_count(st, "events"), 100000);
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_item_rec it;
    ASSERT_EQ_INT(ns_store_get_item(st, "543", &it, &a), 1);
    ASSERT_STREQ(it.title, "Misérables, Les (1995)");
    ASSERT_EQ_INT(ns_store_get_item(st, "1", &it, &a), 1);
    ASSERT_STREQ(it.categories, "Animation|Children's|Comedy");
    ns_user_rec u;
    ASSERT_EQ_INT(ns_store_get_user(st, "1", &u, &a), 1);
    ASSERT_EQ_INT(u.age, 24);
    ASSERT_STREQ(u.occupation, "technician");
    ns_arena_release(&a);
    ns_store_close(st);
}

/* The child appends batches of 50 events and writes the sequence number of
 * the last event of each acknowledged batch to the pipe; the parent kills
 * it with SIGKILL mid-stream, reopens the file and checks that every
 * acknowledged event is there with its content. */
TEST(acknowledged_events_survive_kill9)
{
    const char *path = ns_test_tmpfile("kill.db");
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, path, NULL));
    ns_item_rec it = {"i1", "x", NULL, NULL, NULL, NULL, 0};
    ASSERT_OK(ns_store_put_items(st, &it, 1));
    ns_store_close(st);
    int fd[2];
    ASSERT_EQ_INT(pipe(fd), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        ns_store *cs;
        if (ns_store_open(&cs, path, NULL) < 0) _exit(3);
        ns_event_rec ev[50];
        char users[50][16];
        for (long b = 0;; b++) {
            for (int i = 0; i < 50; i++) {
                long k = b * 50 + i;
                snprintf(users[i], sizeof users[i], "u%ld", k % 97);
                ev[i] = (ns_event_rec){users[i], "i1", NS_EV_CLICK, (double)k, 1000.0 + (double)k, NULL};
            }
            int64_t first;
            if (ns_store_put_events(cs, ev, 50, &first) < 0) _exit(4);
            int64_t last = first + 49;
            if (write(fd[1], &last, sizeof last) != sizeof last) _exit(5);
        }
    }
    close(fd[1]);
    int64_t acked = 0, v;
    int nacks = 0;
    while (nacks < 40 && read(fd[0], &v, sizeof v) == sizeof v) {
        acked = v;
        nacks++;
    }
    kill(pid, SIGKILL);
    /* Acks already in the pipe count too: they were acknowledged. */
    while (read(fd[0], &v, sizeof v) == sizeof v) acked = v;
    int status;
    waitpid(pid, &status, 0);
    ASSERT(WIFSIGNALED(status));
    close(fd[0]);
    printf("  %d batches acknowledged before kill, last seq %lld\n", nacks, (long long)acked);
    ASSERT_OK(ns_store_open(&st, path, NULL));
    int64_t n = ns_store_count(st, "events");
    printf("  after restart: %lld events\n", (long long)n);
    ASSERT(n >= acked);
    ASSERT_EQ_INT(n % 50, 0); /* batches are atomic */
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_store_scan_events(st, acked - 1, collect, &b));
    char want[128];
    snprintf(want, sizeof want, "%lld:u%lld:i1:click:%lld:%lld;", (long long)acked, (long long)((acked - 1) % 97),
             (long long)acked - 1, 1000LL + acked - 1);
    ASSERT(!strncmp(b.data, want, strlen(want)));
    ns_buf_release(&b);
    ns_store_close(st);
}

/* Group commit: concurrent batches share transactions, each batch stays
 * all-or-nothing (one bad batch fails alone, with its own error). */
typedef struct { ns_store *st; int id, failed, ok; char field[64]; } gc_arg;

static void *gc_writer(void *p)
{
    gc_arg *a = p;
    ns_event_rec ev[20];
    for (int b = 0; b < 50; b++) {
        int bad = a->id == 2 && b == 25;
        for (int i = 0; i < 20; i++)
            ev[i] = (ns_event_rec){"g", bad && i == 7 ? "missing" : "i1", NS_EV_CLICK, a->id * 1000 + b, 1, NULL};
        int64_t first;
        if (ns_store_put_events(a->st, ev, 20, &first) < 0) {
            a->failed++;
            snprintf(a->field, sizeof a->field, "%s", ns_err_last()->field);
        } else a->ok++;
    }
    return NULL;
}

TEST(group_commit_keeps_batches_atomic)
{
    ns_store *st = open_tmp("gc.db");
    ns_item_rec it = {"i1", "x", NULL, NULL, NULL, NULL, 0};
    ASSERT_OK(ns_store_put_items(st, &it, 1));
    pthread_t th[4];
    gc_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (gc_arg){st, i, 0, 0, ""};
        pthread_create(&th[i], NULL, gc_writer, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) ASSERT_EQ_INT(args[i].failed, i == 2);
    ASSERT_STREQ(args[2].field, "events[7].item");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 199 * 20);
    int64_t commits = ns_store_commits(st);
    printf("  200 batches from 4 threads in %lld commits\n", (long long)commits);
    ASSERT(commits <= 200);
    /* Each batch's events are contiguous and carry its value. */
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_store_scan_events(st, 0, collect, &b));
    ASSERT(!strstr(b.data, ":2025:")); /* the failed batch left nothing */
    ns_buf_release(&b);
    ns_store_close(st);
}

/* ---- what the store refuses, and transactions over several calls ---------------- */

static void write_bytes(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    ASSERT_EQ_INT(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The recorded message is printable UTF-8 (refused bytes appear as \xHH). */
static void assert_msg_clean(void)
{
    const char *m = ns_err_msg();
    ASSERT(ns_utf8_valid(m, strlen(m)));
    for (const char *c = m; *c; c++) ASSERT((unsigned char)*c >= 0x20);
}

TEST(store_refuses_bad_bytes_and_limits)
{
    ns_store *st = open_tmp("bytes.db");
    char longid[NS_STORE_ID_MAX + 2];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = 0;
    ns_user_rec u[2] = {{"ok", 30, "F", NULL, NULL, NULL, 1}, {"u1", 20, "\xff\xfe", NULL, NULL, NULL, 1}};
    ASSERT_ERR(ns_store_put_users(st, u, 2), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "users[1].gender");
    ASSERT_HAS(ns_err_msg(), "not valid UTF-8");
    ASSERT_HAS(ns_err_last()->value, "\\xFF\\xFE");
    assert_msg_clean();
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0); /* the good record was not written either */
    u[1].gender = "M";
    u[1].id = longid;
    ASSERT_ERR_HAS(ns_store_put_users(st, u, 2), NS_EINVAL, "over the limit of 128");
    ASSERT_STREQ(ns_err_last()->field, "users[1].id");
    longid[NS_STORE_ID_MAX] = 0; /* exactly 128 bytes: fine */
    ASSERT_OK(ns_store_put_users(st, u, 2));
    u[0].age = 151;
    ASSERT_ERR(ns_store_put_users(st, u, 1), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "users[0].age");
    u[0].age = 30;
    u[0].occupation = "\xed\xa0\x80"; /* a surrogate */
    ASSERT_ERR(ns_store_put_users(st, u, 1), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "users[0].occupation");

    char *text = malloc(NS_STORE_TEXT_MAX + 2);
    memset(text, 'a', NS_STORE_TEXT_MAX + 1);
    text[NS_STORE_TEXT_MAX + 1] = 0;
    ns_item_rec it = {"i1", "t", text, NULL, NULL, NULL, 0};
    ASSERT_ERR_HAS(ns_store_put_items(st, &it, 1), NS_EINVAL, "65537 bytes, over the limit of 65536");
    ASSERT_STREQ(ns_err_last()->field, "items[0].text");
    text[NS_STORE_TEXT_MAX] = 0;
    ASSERT_OK(ns_store_put_items(st, &it, 1));
    free(text);
    it.text = NULL;
    it.categories = "A|\xc3"; /* a cut sequence */
    ASSERT_ERR(ns_store_put_items(st, &it, 1), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "items[0].categories");
    it.categories = NULL;
    it.created = NAN;
    ASSERT_ERR(ns_store_put_items(st, &it, 1), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "items[0].created");

    ns_event_rec ev[2] = {{"u1", "i1", NS_EV_CLICK, 1, 10, NULL}, {"u\xff", "i1", NS_EV_CLICK, 1, 10, NULL}};
    ASSERT_ERR(ns_store_put_events(st, ev, 2, NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "events[1].user");
    assert_msg_clean();
    ev[1].user = "u2";
    ev[1].value = NAN;
    ASSERT_ERR(ns_store_put_events(st, ev, 2, NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "events[1].value");
    ev[1].value = 1;
    ev[1].ts = -1;
    ASSERT_ERR(ns_store_put_events(st, ev, 2, NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "events[1].ts");
    ev[1].ts = 10;
    ev[1].context = "{\"p\":\"\xc0\xaf\"}"; /* an overlong form */
    ASSERT_ERR(ns_store_put_events(st, ev, 2, NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "events[1].context");
    ev[1].context = NULL;
    ev[1].item = "";
    ASSERT_ERR(ns_store_put_events(st, ev, 2, NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "events[1].item");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 0);
    ev[1].item = "i1";
    ASSERT_OK(ns_store_put_events(st, ev, 2, NULL));
    ASSERT_EQ_INT(ns_store_count(st, "events"), 2);
    ns_store_close(st);
}

TEST(store_transaction_spans_calls)
{
    ns_store *st = open_tmp("tx.db");
    ns_item_rec it = {"i1", "x", NULL, NULL, NULL, NULL, 50};
    ASSERT_OK(ns_store_put_items(st, &it, 1));
    ASSERT_ERR(ns_store_commit(st), NS_EINVAL); /* none open */
    ASSERT_OK(ns_store_begin(st));
    ASSERT_ERR(ns_store_begin(st), NS_EINVAL); /* one at a time */
    ns_event_rec ev[2] = {{"u1", "i1", NS_EV_CLICK, 1, 10, NULL}, {"u2", "i1", NS_EV_CLICK, 1, 60, NULL}};
    ASSERT_OK(ns_store_put_events(st, ev, 2, NULL));
    ns_store_tally t;
    ns_store_tally_get(st, &t);
    ASSERT_EQ_INT(t.users_created, 2);
    ASSERT_EQ_INT(t.before_created, 1); /* ts 10 < the item's created 50 */
    /* A failing call inside is rolled back alone; the transaction goes on. */
    ns_event_rec badb[2] = {{"u3", "i1", NS_EV_CLICK, 1, 70, NULL}, {"u3", "nope", NS_EV_CLICK, 1, 71, NULL}};
    ASSERT_ERR(ns_store_put_events(st, badb, 2, NULL), NS_ENOTFOUND);
    ASSERT_EQ_INT(ns_store_count(st, "events"), 2);
    ASSERT_EQ_INT(ns_store_count(st, "users"), 2);
    ns_user_rec u = {"u9", 40, NULL, NULL, NULL, NULL, 0};
    ASSERT_OK(ns_store_put_users(st, &u, 1));
    /* Another handle sees none of it before the commit. */
    ns_store_opts ro = ns_store_defaults();
    ro.readonly = 1;
    ns_store *other;
    ASSERT_OK(ns_store_open(&other, ns_test_tmpfile("tx.db"), &ro));
    ASSERT_EQ_INT(ns_store_count(other, "events"), 0);
    ASSERT_OK(ns_store_rollback(st));
    ASSERT_EQ_INT(ns_store_count(st, "events"), 0);
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0);
    ns_store_tally_get(st, &t);
    ASSERT_EQ_INT(t.users_created, 0); /* the rollback took its counts back */
    int64_t commits = ns_store_commits(st);
    ASSERT_OK(ns_store_begin(st));
    ASSERT_OK(ns_store_put_events(st, ev, 2, NULL));
    ASSERT_OK(ns_store_put_events(st, ev, 2, NULL));
    ASSERT_OK(ns_store_commit(st));
    ASSERT_EQ_INT(ns_store_commits(st), commits + 1);
    ASSERT_EQ_INT(ns_store_count(other, "events"), 4);
    ns_store_close(other);
    /* Closing with one open rolls it back. */
    ASSERT_OK(ns_store_begin(st));
    ASSERT_OK(ns_store_put_events(st, ev, 2, NULL));
    ns_store_close(st);
    st = open_tmp("tx.db");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 4);
    ns_store_close(st);
}

/* ---- imports: all or nothing, strict, byte-clean ----------------------------------- */

/* A store with items i0..i9 (created at 1000). */
static ns_store *store_with_items(const char *name)
{
    ns_store_opts o = ns_store_defaults();
    o.sync = NS_SYNC_NORMAL;
    ns_store *st;
    ASSERT_OK(ns_store_open(&st, ns_test_tmpfile(name), &o));
    ns_item_rec it[10];
    char ids[10][8];
    for (int i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "i%d", i);
        it[i] = (ns_item_rec){ids[i], "t", NULL, NULL, NULL, NULL, 1000};
    }
    ASSERT_OK(ns_store_put_items(st, it, 10));
    return st;
}

/* An events CSV with rows on lines 2..last; the row on line `bad` has
 * value "abc" (0: none). */
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

TEST(import_is_all_or_nothing_and_partial_resumes)
{
    ns_store *st = store_with_items("atomic.db");
    const char *bad = events_csv("bad.csv", 12001, 11000);
    int64_t users = ns_store_count(st, "users"), events = ns_store_count(st, "events");
    ns_import_stats s = {0};
    ASSERT_ERR(ns_import_csv(st, bad, "events", NULL, &s), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 11000);
    ASSERT_STREQ(ns_err_last()->field, "value");
    ASSERT_HAS(ns_err_msg(), "nothing was written");
    ASSERT_EQ_INT(ns_store_count(st, "events"), events); /* two batches were written, then rolled back */
    ASSERT_EQ_INT(ns_store_count(st, "users"), users);
    ASSERT_EQ_INT(s.events, 0);
    ASSERT_EQ_INT(s.committed, 0);
    ASSERT_EQ_INT(s.users_created, 0);

    /* --partial: batches stay, and so do the good rows before the bad one. */
    ns_import_opts partial = {.partial = 1};
    memset(&s, 0, sizeof s);
    ASSERT_ERR(ns_import_csv(st, bad, "events", &partial, &s), NS_EFORMAT);
    ASSERT_HAS(ns_err_msg(), "10998 rows were committed, through line 10999");
    ASSERT_EQ_INT(s.committed, 10998);
    ASSERT_EQ_INT(s.last_line, 10999);
    ASSERT_EQ_INT(ns_store_count(st, "events"), 10998);
    /* The row fixed, resume after the last committed line. */
    const char *fixed = events_csv("fixed.csv", 12001, 0);
    partial.skip_lines = s.last_line;
    memset(&s, 0, sizeof s);
    ASSERT_OK(ns_import_csv(st, fixed, "events", &partial, &s));
    ASSERT_EQ_INT(s.passed, 10998);
    ASSERT_EQ_INT(s.events, 1002);
    ASSERT_EQ_INT(ns_store_count(st, "events"), 12000);
    /* A store error (an unknown item) names its line, all or nothing too. */
    const char *unk = ns_test_tmpfile("unk.csv");
    write_file(unk, "user,item,ts\nu1,i1,5000\nu2,nope,5001\nnewuser,i2,5002\n");
    ASSERT_ERR(ns_import_csv(st, unk, "events", NULL, &s), NS_ENOTFOUND);
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ASSERT_STREQ(ns_err_last()->field, "item");
    ASSERT_STREQ(ns_err_last()->value, "nope");
    ASSERT_HAS(ns_err_msg(), "nothing was written");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 12000);
    ns_import_opts lenient = {.lenient = 1};
    memset(&s, 0, sizeof s);
    ASSERT_OK(ns_import_csv(st, unk, "events", &lenient, &s));
    ASSERT_EQ_INT(s.events, 2);
    ASSERT_EQ_INT(s.skipped, 1);
    ASSERT_EQ_INT(s.unknown_items, 1);
    ASSERT_EQ_INT(s.users_created, 1); /* newuser */
    ns_store_close(st);
}

TEST(import_unknown_columns_strict_and_lenient)
{
    ns_store *st = store_with_items("cols.db");
    const char *csv = ns_test_tmpfile("extra.csv");
    write_file(csv, "user,item,ts,colour\nu1,i1,5000,red\n");
    ns_import_stats s = {0};
    ASSERT_ERR_HAS(ns_import_csv(st, csv, "events", NULL, &s), NS_EFORMAT, "unknown column");
    ASSERT_EQ_INT(ns_err_last()->line, 1);
    ASSERT_STREQ(ns_err_last()->field, "colour");
    ns_import_opts lenient = {.lenient = 1};
    ASSERT_OK(ns_import_csv(st, csv, "events", &lenient, &s));
    ASSERT_EQ_INT(s.events, 1);
    ASSERT_EQ_INT(s.ignored_fields, 1);
    ASSERT_STREQ(s.ignored, "colour");
    /* A column named twice (an id and its alias count as one) is never fine. */
    write_file(csv, "id,title,user\nu1,x,u1\n");
    ASSERT_ERR(ns_import_csv(st, csv, "users", &lenient, &s), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "user");
    const char *jl = ns_test_tmpfile("extra.jsonl");
    write_file(jl, "{\"id\":\"u5\",\"age\":30}\n{\"id\":\"u6\",\"shoe\":42}\n");
    memset(&s, 0, sizeof s);
    ASSERT_ERR_HAS(ns_import_jsonl(st, jl, "users", NULL, &s), NS_EFORMAT, "unknown key");
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_STREQ(ns_err_last()->field, "shoe");
    ASSERT_OK(ns_import_jsonl(st, jl, "users", &lenient, &s));
    ASSERT_EQ_INT(s.users, 2);
    ASSERT_STREQ(s.ignored, "shoe");
    /* Duplicate keys in an object: strict refuses them. */
    write_file(jl, "{\"id\":\"u5\",\"age\":30,\"age\":31}\n");
    ASSERT_ERR_HAS(ns_import_jsonl(st, jl, "users", NULL, &s), NS_EFORMAT, "duplicate");
    ns_store_close(st);
}

TEST(import_without_rows_is_an_error)
{
    ns_store *st = store_with_items("norows.db");
    const char *p = ns_test_tmpfile("h.csv");
    ns_import_stats s = {0};
    write_file(p, "user,item,ts\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "no rows (header only)");
    write_file(p, "user,item,ts\n\n\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "no rows");
    write_file(p, "");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "no rows (the file is empty)");
    ASSERT_ERR_HAS(ns_import_jsonl(st, p, "events", NULL, &s), NS_EFORMAT, "no rows");
    write_file(p, "\n  \n");
    ASSERT_ERR_HAS(ns_import_jsonl(st, p, "events", NULL, &s), NS_EFORMAT, "no rows");
    /* Under lenient, a file whose every row is bad imports nothing: an error too. */
    write_file(p, "user,item,ts\nu1,i1,never\n");
    ns_import_opts lenient = {.lenient = 1};
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", &lenient, &s), NS_EFORMAT, "all 1 were skipped");
    ASSERT_EQ_INT(ns_store_count(st, "events"), 0);
    ns_store_close(st);
}

TEST(import_fields_have_the_http_limits)
{
    ns_store *st = store_with_items("limits.db");
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_puts(&b, "id,title,text\nok,t,short\nbig,t,");
    for (int i = 0; i < NS_STORE_TEXT_MAX + 1; i++) ns_buf_puts(&b, "a");
    ns_buf_puts(&b, "\n");
    const char *p = ns_test_tmpfile("big.csv");
    write_bytes(p, b.data, b.len);
    ns_import_stats s = {0};
    ASSERT_ERR_HAS(ns_import_csv(st, p, "items", NULL, &s), NS_EFORMAT, "over the limit of 65536");
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ASSERT_STREQ(ns_err_last()->field, "text");
    ASSERT_STREQ(ns_err_last()->file, p);
    ASSERT_EQ_INT(ns_store_count(st, "items"), 10); /* "ok" was not written either */
    ns_buf_release(&b);
    /* ids: 1..128 bytes */
    ns_buf_init(&b);
    ns_buf_puts(&b, "{\"id\":\"");
    for (int i = 0; i < NS_STORE_ID_MAX + 1; i++) ns_buf_puts(&b, "x");
    ns_buf_puts(&b, "\"}\n");
    p = ns_test_tmpfile("longid.jsonl");
    write_bytes(p, b.data, b.len);
    ASSERT_ERR_HAS(ns_import_jsonl(st, p, "users", NULL, &s), NS_EFORMAT, "over the limit of 128");
    ASSERT_STREQ(ns_err_last()->field, "id");
    ns_buf_release(&b);
    p = ns_test_tmpfile("u.csv");
    write_file(p, "id,zip\nu1,123456789012345678901234567890123\n");
    ASSERT_ERR(ns_import_csv(st, p, "users", NULL, &s), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "zip");
    write_file(p, "id,age\nu1,151\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "users", NULL, &s), NS_EFORMAT, "outside 0..150");
    p = ns_test_tmpfile("e.csv");
    write_file(p, "user,item,value,ts\nu1,i1,nan,5000\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "not a finite number");
    write_file(p, "user,item,value,ts\nu1,i1,1,-5\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "outside 0..");
    write_file(p, "user,item,value,ts\nu1,i1,1,99999999999\n"); /* past now + a day */
    ASSERT_ERR(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "ts");
    write_file(p, "user,item,ts\n,i1,5000\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "missing id");
    ASSERT_STREQ(ns_err_last()->field, "user");
    write_file(p, "user,item,ts\n\"u1\"x,i1,5000\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "events", NULL, &s), NS_EFORMAT, "after the closing quote");
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0);
    ns_store_close(st);
}

TEST(import_refuses_bad_bytes_naming_file_line_field)
{
    ns_store *st = store_with_items("badbytes.db");
    ns_import_stats s = {0};
    /* CSV: invalid UTF-8 in an attribute, a NUL inside a user id. */
    const char *p = ns_test_tmpfile("users.csv");
    write_file(p, "id,gender\nu0,F\nu1,\xff\xfe\n");
    ASSERT_ERR_HAS(ns_import_csv(st, p, "users", NULL, &s), NS_EFORMAT, "not valid UTF-8");
    ASSERT_STREQ(ns_err_last()->file, p);
    ASSERT_EQ_INT(ns_err_last()->line, 3);
    ASSERT_STREQ(ns_err_last()->field, "gender");
    assert_msg_clean();
    static const char nul_csv[] = "id,gender\nu1\0x,M\n";
    write_bytes(p, nul_csv, sizeof nul_csv - 1);
    ASSERT_ERR_HAS(ns_import_csv(st, p, "users", NULL, &s), NS_EFORMAT, "NUL byte");
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_STREQ(ns_err_last()->field, "id");
    ASSERT_STREQ(ns_err_last()->value, "u1\\x00x");
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0); /* not stored as "u1" */
    static const char nul_num[] = "user,item,ts\nu1,i1,50\0001\n";
    const char *e = ns_test_tmpfile("ev.csv");
    write_bytes(e, nul_num, sizeof nul_num - 1);
    ASSERT_ERR_HAS(ns_import_csv(st, e, "events", NULL, &s), NS_EFORMAT, "NUL");
    ASSERT_STREQ(ns_err_last()->field, "ts");
    write_file(e, "user,item,ts,context\nu1,i1,5000,\"{\"\"a\"\":\"\"\\u0000\"\"}\"\n");
    ASSERT_ERR(ns_import_csv(st, e, "events", NULL, &s), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "context");

    /* JSONL: \u0000 in a value, in a nested attribute, raw bytes. */
    const char *j = ns_test_tmpfile("users.jsonl");
    write_file(j, "{\"id\":\"u0\"}\n{\"id\":\"u1\\u0000x\",\"age\":3}\n");
    ASSERT_ERR_HAS(ns_import_jsonl(st, j, "users", NULL, &s), NS_EFORMAT, "NUL byte");
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_STREQ(ns_err_last()->field, "id");
    write_file(j, "{\"id\":\"u1\",\"attrs\":{\"k\":[\"a\\u0000\"]}}\n");
    ASSERT_ERR(ns_import_jsonl(st, j, "users", NULL, &s), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "attrs");
    write_file(j, "{\"id\":\"u1\",\"zip\":\"12\xff\"}\n");
    ASSERT_ERR_HAS(ns_import_jsonl(st, j, "users", NULL, &s), NS_EFORMAT, "not valid UTF-8");
    ASSERT_STREQ(ns_err_last()->field, "zip");
    assert_msg_clean();
    static const char raw_nul[] = "{\"id\":\"u1\",\"gender\":\"M\0\"}\n";
    write_bytes(j, raw_nul, sizeof raw_nul - 1);
    ASSERT_ERR_HAS(ns_import_jsonl(st, j, "users", NULL, &s), NS_EFORMAT, "NUL byte");
    ASSERT_STREQ(ns_err_last()->field, "gender");
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0);

    /* Under lenient: skipped and counted. */
    write_file(p, "id,gender\nu0,F\nu1,\xff\xfe\nu2,M\n");
    ns_import_opts lenient = {.lenient = 1};
    memset(&s, 0, sizeof s);
    ASSERT_OK(ns_import_csv(st, p, "users", &lenient, &s));
    ASSERT_EQ_INT(s.users, 2);
    ASSERT_EQ_INT(s.skipped, 1);
    ns_store_close(st);
}

TEST(import_counts_what_it_accepts)
{
    ns_store *st = store_with_items("counts.db");
    const char *p = ns_test_tmpfile("ev.csv");
    write_file(p, "user,item,type,value,ts\n"
                  "u1,i1,click,1,5000\n"
                  "u1,i1,click,1,5000\n"   /* a duplicate of line 2 */
                  "u1,i1,click,1,500\n"    /* before i1 was created (1000) */
                  "u2,i2,rating,-2,6000\n" /* negative */
                  "u1,i1,like,1,5000\n");  /* another type: not a duplicate */
    ns_import_stats s = {0};
    ASSERT_OK(ns_import_csv(st, p, "events", NULL, &s));
    ASSERT_EQ_INT(s.events, 5);
    ASSERT_EQ_INT(s.duplicates, 1);
    ASSERT_EQ_INT(s.first_duplicate, 3);
    ASSERT_EQ_INT(s.before_created, 1);
    ASSERT_EQ_INT(s.negative, 1);
    ASSERT_EQ_INT(s.users_created, 2);
    ASSERT_EQ_INT(s.committed, 5);
    ASSERT_EQ_INT(s.last_line, 6);
    ns_store_close(st);
}

/* A MovieLens-100K directory of a few lines, with `user_line` as u.user's
 * second line and `data` as u.data. */
static const char *mini_movielens(const char *user_line, size_t ulen, const char *data, size_t dlen)
{
    const char *dir = ns_test_tmpdir();
    char path[1024];
    snprintf(path, sizeof path, "%s/u.genre", dir);
    write_file(path, "unknown|0\nAction|1\n");
    snprintf(path, sizeof path, "%s/u.item", dir);
    write_file(path, "1|Mis\xe9rables (1995)|01-Jan-1995||http://x|0|1\n");
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_puts(&b, "1|24|M|technician|85711\n");
    ns_buf_append(&b, user_line, ulen);
    snprintf(path, sizeof path, "%s/u.user", dir);
    write_bytes(path, b.data, b.len);
    ns_buf_release(&b);
    snprintf(path, sizeof path, "%s/u.data", dir);
    write_bytes(path, data, dlen);
    return dir;
}

TEST(import_movielens_checks_bytes_all_or_nothing)
{
    ns_store *st = open_tmp("mlbad.db");
    static const char ok_data[] = "1\t1\t5\t881250949\n2\t1\t3\t881250950\n";
    static const char bad_user[] = "2|30|F|\xff" "artist|12345\n";
    const char *dir = mini_movielens(bad_user, sizeof bad_user - 1, ok_data, sizeof ok_data - 1);
    ns_import_stats s = {0};
    ASSERT_ERR_HAS(ns_import_movielens(st, dir, 0, &s), NS_EFORMAT, "not valid UTF-8");
    ASSERT_HAS(ns_err_last()->file, "u.user");
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_STREQ(ns_err_last()->field, "occupation");
    static const char good_user[] = "2|30|F|artist|12345\n";
    static const char nul_data[] = "1\t1\t5\t881250949\n2\t1\0\t3\t881250950\n";
    dir = mini_movielens(good_user, sizeof good_user - 1, nul_data, sizeof nul_data - 1);
    ASSERT_ERR_HAS(ns_import_movielens(st, dir, 0, &s), NS_EFORMAT, "nothing was written");
    ASSERT_HAS(ns_err_last()->file, "u.data");
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ASSERT_STREQ(ns_err_last()->field, "item");
    ASSERT_EQ_INT(ns_store_count(st, "users"), 0); /* u.user and u.item were rolled back */
    ASSERT_EQ_INT(ns_store_count(st, "items"), 0);
    dir = mini_movielens(good_user, sizeof good_user - 1, ok_data, sizeof ok_data - 1);
    ASSERT_OK(ns_import_movielens(st, dir, 0, &s));
    ASSERT_EQ_INT(ns_store_count(st, "events"), 2);
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_item_rec it;
    ASSERT_EQ_INT(ns_store_get_item(st, "1", &it, &a), 1);
    ASSERT_STREQ(it.title, "Misérables (1995)");
    ASSERT_STREQ(it.categories, "Action");
    ns_arena_release(&a);
    ns_store_close(st);
}
