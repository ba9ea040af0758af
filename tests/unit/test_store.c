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
    ASSERT_OK(ns_import_jsonl(st, items, "items", NULL, &s));
    ASSERT_EQ_INT(s.users, 2);
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
