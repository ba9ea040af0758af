/* test_server.c — `northstar serve --port 0 --db <tmp>` spoken to over
 * HTTP: the API end to end, validation errors naming fields, unknown users
 * and items, oversize bodies, slow clients, admin token and reload,
 * graceful shutdown draining a request in flight, and kill -9 during
 * ingestion with every acknowledged event present after a restart. */
#include "integ_harness.h"
#include "northstar/http.h"
#include "northstar/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>

typedef struct { int status; char *body; } reply;

static reply req(ns_http_client *c, const char *method, const char *path, const char *body)
{
    const char *r;
    size_t n;
    int st = ns_http_client_request(c, method, path, "application/json", body, body ? strlen(body) : 0, &r, &n);
    ASSERT_MSG(st > 0, "%s %s failed: %s", method, path, ns_err_msg());
    reply out = {st, strdup(r)};
    return out;
}

/* Expect an error status and a JSON error naming `field` (NULL: any). */
static void expect_error(ns_http_client *c, const char *method, const char *path, const char *body, int status,
                         const char *field)
{
    reply r = req(c, method, path, body);
    printf("  %s %s -> %d %s", method, path, r.status, r.body);
    ASSERT_EQ_INT(r.status, status);
    json_t *j = json_loads(r.body, 0, NULL);
    ASSERT_MSG(j, "error body is not JSON: %s", r.body);
    json_t *e = json_object_get(j, "error");
    ASSERT(e && json_integer_value(json_object_get(e, "status")) == status);
    if (field) ASSERT_STREQ(json_string_value(json_object_get(e, "field")), field);
    json_decref(j);
    free(r.body);
}

static void post_ok(ns_http_client *c, const char *path, const char *body)
{
    reply r = req(c, "POST", path, body);
    ASSERT_MSG(r.status == 200, "POST %s: %d %s", path, r.status, r.body);
    free(r.body);
}

/* 6 items in two categories, 3 users, a few clicks. */
static void seed(ns_http_client *c)
{
    post_ok(c, "/v1/users",
            "{\"users\": [{\"id\": \"alice\", \"age\": 31, \"gender\": \"F\", \"occupation\": \"writer\"},"
            " {\"id\": \"bob\", \"age\": 33, \"gender\": \"F\", \"occupation\": \"writer\"},"
            " {\"id\": 7, \"age\": 60}]}");
    post_ok(c, "/v1/items",
            "[{\"id\": \"a1\", \"title\": \"Café one\", \"categories\": [\"news\"], \"created\": 1},"
            " {\"id\": \"a2\", \"title\": \"two\", \"categories\": \"news\", \"created\": 1},"
            " {\"id\": \"a3\", \"title\": \"three\", \"categories\": [\"news\"], \"created\": 1},"
            " {\"id\": \"b1\", \"title\": \"four\", \"categories\": [\"sport\"], \"created\": 1},"
            " {\"id\": \"b2\", \"title\": \"five\", \"categories\": [\"sport\"], \"created\": 1}]");
    post_ok(c, "/v1/items", "{\"id\": \"b3\", \"title\": \"six\", \"categories\": [\"sport\"], \"created\": 1}");
    post_ok(c, "/v1/events",
            "{\"events\": [{\"user\": \"alice\", \"item\": \"a1\", \"type\": \"impression\"},"
            " {\"user\": \"alice\", \"item\": \"a1\", \"type\": \"click\"},"
            " {\"user\": \"alice\", \"item\": \"b1\", \"type\": \"click\", \"context\": {\"device\": \"mobile\"}},"
            " {\"user\": \"bob\", \"item\": \"a1\", \"type\": \"click\"},"
            " {\"user\": \"bob\", \"item\": \"b1\", \"type\": \"like\"},"
            " {\"user\": \"bob\", \"item\": \"a2\", \"type\": \"rating\", \"value\": 5}]}");
}

/* A server on db with seed()'s world in it. */
static server start_seeded(const char *db)
{
    server s = start(db, NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    seed(c);
    ns_http_client_free(c);
    return s;
}

TEST(api_end_to_end)
{
    server s = start(ns_test_tmpfile("svc.db"), NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    seed(c);
    json_t *h = get_json(c, "/health", 200);
    ASSERT_EQ_INT(json_integer_value(json_object_get(h, "items")), 6);
    ASSERT_EQ_INT(json_integer_value(json_object_get(h, "events")), 6);
    json_decref(h);
    /* A known user: seen items are filtered, channels are named. */
    json_t *r = get_json(c, "/v1/recommend/alice?n=4&device=mobile&page=home", 200);
    json_t *items = json_object_get(r, "items");
    ASSERT_EQ_INT(json_array_size(items), 4);
    ASSERT(json_is_false(json_object_get(r, "cold_start")));
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *id = json_string_value(json_object_get(it, "id"));
        ASSERT(strcmp(id, "a1") && strcmp(id, "b1"));
        ASSERT(json_array_size(json_object_get(it, "channels")) >= 1);
    }
    /* bob also clicked a1 and b1, and a2: co-clicks propose a2 to alice first. */
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(items, 0), "id")), "a2");
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "north_star"), "name")), "ctr");
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(r, "context"), "device")), "mobile");
    json_decref(r);
    /* An unknown user: a cold-start list, not an error. */
    r = get_json(c, "/v1/recommend/somebody-new?n=3", 200);
    ASSERT(json_is_true(json_object_get(r, "cold_start")));
    ASSERT_EQ_INT(json_array_size(json_object_get(r, "items")), 3);
    json_decref(r);
    /* Similar items from co-clicks. */
    r = get_json(c, "/v1/items/a1/similar?n=2", 200);
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(r, "similar"), 0), "id")), "b1");
    json_decref(r);
    /* A user's profile and history (UTF-8 round trip of a title too). */
    r = get_json(c, "/v1/users/bob", 200);
    ASSERT_EQ_INT(json_integer_value(json_object_get(r, "events")), 3);
    ASSERT_EQ_INT(json_array_size(json_object_get(r, "history")), 3);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(r, "recent"), 0)), "a2");
    json_decref(r);
    r = get_json(c, "/v1/recommend/7?n=6", 200);
    int found = 0;
    json_array_foreach(json_object_get(r, "items"), i, it) found |=
        !strcmp(json_string_value(json_object_get(it, "title")), "Café one");
    ASSERT(found);
    json_decref(r);
    /* Metrics: requests, latency histograms, channels, north star. */
    reply m = req(c, "GET", "/metrics", NULL);
    ASSERT_EQ_INT(m.status, 200);
    ASSERT(strstr(m.body, "northstar_http_requests_total{route=\"recommend\",code=\"2xx\"} 3"));
    ASSERT(strstr(m.body, "northstar_http_request_duration_seconds_bucket{route=\"recommend\",le=\"+Inf\"} 3"));
    ASSERT(strstr(m.body, "northstar_recall_candidates_total{channel=\"popular\"}"));
    ASSERT(strstr(m.body, "northstar_north_star{name=\"ctr\",window=\"1h\"} 3\n")); /* 3 clicks / 1 impression */
    ASSERT(strstr(m.body, "northstar_events_ingested_total 6"));
    free(m.body);
    ns_http_client_free(c);
    int st = stop(&s, SIGTERM);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(validation_errors_name_the_field)
{
    server s = start(ns_test_tmpfile("v.db"), NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    seed(c);
    expect_error(c, "POST", "/v1/events", "{\"events\": [{\"user\": \"x\"", 400, "body");
    expect_error(c, "POST", "/v1/users", "{\"id\": \"u\", \"age\": \"old\"}", 422, "users[0].age");
    expect_error(c, "POST", "/v1/users", "{\"id\": \"u\", \"age\": 400}", 422, "users[0].age");
    expect_error(c, "POST", "/v1/users", "{\"id\": \"u\", \"colour\": \"red\"}", 422, "users[0].colour");
    expect_error(c, "POST", "/v1/items", "[{\"id\": \"x\"}, {\"title\": \"no id\"}]", 422, "items[1].id");
    expect_error(c, "POST", "/v1/items", "{\"id\": \"x\", \"categories\": [1]}", 422, "items[0].categories");
    expect_error(c, "POST", "/v1/events", "[{\"user\": \"u\", \"item\": \"a1\", \"type\": \"stare\"}]", 422,
                 "events[0].type");
    expect_error(c, "POST", "/v1/events", "[{\"user\": \"u\", \"item\": \"a1\", \"type\": \"click\", \"ts\": -5}]",
                 422, "events[0].ts");
    expect_error(c, "POST", "/v1/events", "{\"events\": []}", 422, "events");
    expect_error(c, "POST", "/v1/events", "[1, 2]", 422, "events[0]");
    /* An unknown item rejects the whole batch: nothing is written. */
    expect_error(c, "POST", "/v1/events",
                 "[{\"user\": \"u\", \"item\": \"a1\", \"type\": \"click\"},"
                 " {\"user\": \"u\", \"item\": \"nope\", \"type\": \"click\"}]",
                 422, "events[1].item");
    json_t *h = get_json(c, "/health", 200);
    ASSERT_EQ_INT(json_integer_value(json_object_get(h, "events")), 6);
    json_decref(h);
    expect_error(c, "GET", "/v1/users/nobody", NULL, 404, "id");
    expect_error(c, "GET", "/v1/items/nope/similar", NULL, 404, "id");
    expect_error(c, "GET", "/v1/recommend/alice?n=0", NULL, 422, "n");
    expect_error(c, "GET", "/v1/recommend/alice?n=5000", NULL, 422, "n");
    expect_error(c, "GET", "/v1/recommend/alice?n=abc", NULL, 422, "n");
    expect_error(c, "GET", "/v1/recommend/alice?device=toaster", NULL, 422, "device");
    expect_error(c, "GET", "/v1/nothing", NULL, 404, NULL);
    expect_error(c, "DELETE", "/v1/users", NULL, 405, NULL);
    expect_error(c, "POST", "/v1/users", NULL, 400, "body");
    /* Still serving. */
    json_decref(get_json(c, "/v1/recommend/alice", 200));
    ns_http_client_free(c);
    stop(&s, SIGTERM);
}

TEST(oversize_body_is_refused)
{
    server s = start(ns_test_tmpfile("o.db"), "--max-body 4096");
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    size_t n = 100000;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = 0;
    const char *r;
    size_t rl;
    int st = ns_http_client_request(c, "POST", "/v1/events", "application/json", big, n, &r, &rl);
    /* The server answers 413 and may close before reading the body. */
    if (st > 0) {
        printf("  oversize -> %d %s", st, r);
        ASSERT_EQ_INT(st, 413);
        ASSERT(strstr(r, "\"field\":\"body\""));
    } else printf("  oversize -> connection closed before the reply was read (%s)\n", ns_err_msg());
    free(big);
    ns_http_client_free(c);
    /* Chunked: no declared length, the limit is enforced while reading. */
    int fd = raw_connect(s.port);
    const char *head = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT(send(fd, head, strlen(head), 0) > 0);
    char chunk[1100];
    memset(chunk, ' ', sizeof chunk);
    memcpy(chunk, "3e8\r\n", 5);
    memcpy(chunk + 5 + 1000, "\r\n", 2);
    for (int i = 0; i < 10; i++) send(fd, chunk, 1007, MSG_NOSIGNAL);
    send(fd, "0\r\n\r\n", 5, MSG_NOSIGNAL);
    char buf[1024] = {0};
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT(recv(fd, buf, sizeof buf - 1, 0) > 0);
    printf("  chunked oversize -> %.12s\n", buf);
    ASSERT(strstr(buf, " 413 "));
    close(fd);
    c = ns_http_client_new("127.0.0.1", s.port, 10);
    json_decref(get_json(c, "/health", 200)); /* still fine */
    /* Counted once the server has closed that connection. */
    int counted = 0;
    for (int i = 0; i < 50 && !counted && st > 0; i++) {
        reply m = req(c, "GET", "/metrics", NULL);
        counted = strstr(m.body, "route=\"unmatched\",code=\"4xx\"} 2") != NULL; /* both 413s */
        free(m.body);
        if (!counted) usleep(20000);
    }
    ASSERT(counted || st <= 0);
    ns_http_client_free(c);
    stop(&s, SIGTERM);
}

TEST(slow_clients_do_not_block_and_time_out)
{
    server s = start(ns_test_tmpfile("slow.db"), "--timeout 1 --workers 2");
    /* Ten clients that send half a request and stall. */
    int fds[10];
    for (int i = 0; i < 10; i++) {
        fds[i] = raw_connect(s.port);
        const char *part = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[{\"us";
        ASSERT(send(fds[i], part, strlen(part), 0) > 0);
    }
    /* Others are served at once. */
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 5);
    double t0 = ns_now();
    for (int i = 0; i < 20; i++) json_decref(get_json(c, "/health", 200));
    double dt = ns_now() - t0;
    printf("  20 requests beside 10 stalled clients: %.1f ms\n", dt * 1e3);
    ASSERT(dt < 0.5);
    /* The stalled connections are closed by the server after the timeout. */
    struct timeval tv = {5, 0};
    for (int i = 0; i < 10; i++) {
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char buf[256];
        ssize_t r = recv(fds[i], buf, sizeof buf, 0);
        ASSERT_MSG(r == 0 || (r < 0 && errno == ECONNRESET), "stalled client %d: recv %zd (%s)", i, r,
                   r < 0 ? strerror(errno) : "data");
        close(fds[i]);
    }
    printf("  stalled clients closed after %.1f s\n", ns_now() - t0);
    ns_http_client_free(c);
    stop(&s, SIGTERM);
}

TEST(admin_token_and_reload)
{
    const char *cfg = ns_test_tmpfile("pipe.json");
    FILE *f = fopen(cfg, "w");
    fputs("{\"recall\": [{\"name\": \"pop\", \"type\": \"popular\", \"quota\": 50}]}", f);
    fclose(f);
    char extra[1400];
    snprintf(extra, sizeof extra, "--admin-token s3cret --config %s", cfg);
    server s = start(ns_test_tmpfile("adm.db"), extra);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    seed(c);
    expect_error(c, "POST", "/admin/reload", NULL, 401, "Authorization");
    /* The client sends no Authorization header: use a raw request. */
    char buf[1024];
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/reload", "wrong", buf, sizeof buf), 401);
    /* Now change the config: two channels; reload with the right token. */
    f = fopen(cfg, "w");
    fputs("{\"recall\": [{\"name\": \"pop\", \"type\": \"popular\", \"quota\": 50},"
          " {\"name\": \"hot\", \"type\": \"trending\", \"quota\": 50}]}",
          f);
    fclose(f);
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/reload", "s3cret", buf, sizeof buf), 200);
    printf("  reload: %s\n", strstr(buf, "{"));
    ASSERT(strstr(buf, "\"channels\":2"));
    json_t *j = get_json(c, "/v1/recommend/alice", 200);
    ASSERT(json_object_get(json_object_get(j, "recall"), "hot"));
    json_decref(j);
    /* A broken config is refused and the one in force keeps serving. */
    f = fopen(cfg, "w");
    fputs("{\"recall\": [{\"type\": \"popular\", \"quota\": -1}]}", f);
    fclose(f);
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/reload", "s3cret", buf, sizeof buf), 422);
    printf("  bad reload: %s\n", strstr(buf, "{"));
    ASSERT(strstr(buf, "recall[0].quota"));
    j = get_json(c, "/v1/recommend/alice", 200);
    ASSERT(json_object_get(json_object_get(j, "recall"), "hot"));
    json_decref(j);
    ns_http_client_free(c);
    stop(&s, SIGTERM);
}

TEST(graceful_shutdown_drains_request_in_flight)
{
    const char *db = ns_test_tmpfile("drain.db");
    server s = start_seeded(db);
    const char *body = "[{\"user\": \"late\", \"item\": \"b2\", \"type\": \"click\"}]";
    char head[256];
    snprintf(head, sizeof head, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(body));
    int fd = raw_connect(s.port);
    ASSERT(send(fd, head, strlen(head), 0) > 0);
    ASSERT(send(fd, body, 10, 0) > 0); /* half the body: the request is in flight */
    usleep(200000);
    kill(s.pid, SIGTERM);
    usleep(300000);
    /* Draining: a new connection is closed unanswered (or refused). */
    int fd2 = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)s.port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd2, (struct sockaddr *)&sa, sizeof sa) == 0) {
        const char *get = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
        (void)!send(fd2, get, strlen(get), MSG_NOSIGNAL);
        struct timeval tv2 = {5, 0};
        setsockopt(fd2, SOL_SOCKET, SO_RCVTIMEO, &tv2, sizeof tv2);
        char b2[256];
        ASSERT_MSG(recv(fd2, b2, sizeof b2, 0) <= 0, "a new connection was answered while draining");
    }
    close(fd2);
    ASSERT(send(fd, body + 10, strlen(body) - 10, MSG_NOSIGNAL) > 0);
    char buf[1024] = {0};
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ASSERT(recv(fd, buf, sizeof buf - 1, 0) > 0);
    printf("  in-flight request answered during shutdown: %.40s...\n", buf);
    ASSERT(strstr(buf, "200 OK") && strstr(buf, "\"accepted\":1"));
    close(fd);
    int st = reap(&s);
    ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The event answered during the drain was kept. */
    ns_store *store;
    ASSERT_OK(ns_store_open(&store, db, NULL));
    ASSERT_EQ_INT(ns_store_count(store, "events"), 7);
    ns_store_close(store);
}

/* kill -9 during ingestion. A child posts batches of BATCH events as fast
 * as it can and reports each acknowledged batch (its first seq, its number)
 * through a pipe; once MIN_ACKED batches are acknowledged the server is
 * killed with SIGKILL while the child keeps posting. After a restart on the
 * same file every acknowledged event must be in the store with the values
 * sent. So that the case cannot pass with nothing to check, it fails when
 * fewer than MIN_ACKED batches were acknowledged before the kill and counts
 * the events it compared against what was sent. */
#define BATCH 25
#define MIN_ACKED 60

typedef struct {
    long long first, batch; /* the batch's first seq and its number */
    int seen, bad;          /* events compared from `first`; those that differ */
} ack_check;

/* Scan callback: the BATCH events from k->first carry user "k<batch % 13>",
 * item b3 and the values batch * BATCH + i. */
static int check_acked(int64_t seq, const ns_event_rec *e, void *ctx)
{
    ack_check *k = ctx;
    long long i = seq - k->first;
    if (i >= BATCH) return 1;
    k->seen++;
    char user[32];
    snprintf(user, sizeof user, "k%lld", k->batch % 13);
    if (e->value != (double)(k->batch * BATCH + i) || strcmp(e->user, user) || strcmp(e->item, "b3")) k->bad++;
    return 0;
}

TEST(kill9_during_ingestion_keeps_acknowledged_events)
{
    const char *db = ns_test_tmpfile("k9.db");
    server s = start_seeded(db);
    int fd[2];
    ASSERT_EQ_INT(pipe(fd), 0);
    pid_t kid = fork();
    ASSERT(kid >= 0);
    if (kid == 0) {
        close(fd[0]);
        ns_http_client *k = ns_http_client_new("127.0.0.1", s.port, 10);
        ns_buf b;
        ns_buf_init(&b);
        for (long batch = 0;; batch++) {
            b.len = 0;
            ns_buf_puts(&b, "[");
            for (int i = 0; i < BATCH; i++)
                ns_buf_printf(&b, "%s{\"user\": \"k%ld\", \"item\": \"b3\", \"type\": \"click\", \"value\": %ld}",
                              i ? "," : "", batch % 13, batch * BATCH + i);
            ns_buf_puts(&b, "]");
            const char *r;
            size_t rl;
            int st = ns_http_client_request(k, "POST", "/v1/events", NULL, b.data, b.len, &r, &rl);
            if (st != 200) _exit(0); /* server gone */
            const char *fs = strstr(r, "\"first_seq\":");
            long long rec[2] = {fs ? atoll(fs + 12) : -1, batch};
            if (write(fd[1], rec, sizeof rec) != sizeof rec) _exit(1);
        }
    }
    close(fd[1]);
    static long long acked[4096][2];
    long long rec[2];
    int n = 0;
    while (n < MIN_ACKED && read(fd[0], rec, sizeof rec) == sizeof rec) {
        acked[n][0] = rec[0];
        acked[n][1] = rec[1];
        n++;
    }
    int before_kill = n;
    kill(s.pid, SIGKILL);
    while (n < 4096 && read(fd[0], rec, sizeof rec) == sizeof rec) {
        acked[n][0] = rec[0];
        acked[n][1] = rec[1];
        n++;
    }
    close(fd[0]);
    int kst = 0;
    waitpid(kid, &kst, 0);
    int st = reap(&s);
    ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    printf("  %d batches (%d events) acknowledged before kill -9, %d in all\n", before_kill, before_kill * BATCH, n);
    ASSERT_MSG(before_kill == MIN_ACKED, "only %d of %d batches acknowledged before the kill: nothing to check",
               before_kill, MIN_ACKED);
    ASSERT_MSG(WIFEXITED(kst) && WEXITSTATUS(kst) == 0, "the posting child ended with status %d", kst);
    /* Each acknowledgement names where its batch went: in order, no overlap. */
    for (int b = 0; b < n; b++) {
        ASSERT_MSG(acked[b][1] == b, "acknowledgement %d is for batch %lld", b, acked[b][1]);
        ASSERT_MSG(acked[b][0] > 0, "batch %d: the reply carried no first_seq", b);
        ASSERT_MSG(!b || acked[b][0] >= acked[b - 1][0] + BATCH, "batch %d: first_seq %lld overlaps batch %d's %lld", b,
                   acked[b][0], b - 1, acked[b - 1][0]);
    }
    /* Restart on the same file: state rebuilt, every acknowledged event there. */
    s = start(db, NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    json_t *h = get_json(c, "/health", 200);
    long long events = json_integer_value(json_object_get(h, "events"));
    printf("  after restart: %lld events\n", events);
    ASSERT(events >= 6 + (long long)n * BATCH);
    json_decref(h);
    ns_store *store;
    ns_store_opts ro = ns_store_defaults();
    ro.readonly = 1;
    ASSERT_OK(ns_store_open(&store, db, &ro));
    long long verified = 0;
    for (int b = 0; b < n; b++) {
        ack_check k = {acked[b][0], acked[b][1], 0, 0};
        ASSERT_OK(ns_store_scan_events(store, acked[b][0] - 1, check_acked, &k));
        ASSERT_MSG(k.seen == BATCH && !k.bad, "batch %lld: %d of %d events found, %d wrong", k.batch, k.seen, BATCH,
                   k.bad);
        verified += k.seen - k.bad;
    }
    printf("  %lld acknowledged events found in the store with the values sent\n", verified);
    ASSERT_EQ_INT(verified, (long long)n * BATCH);
    ASSERT(verified >= MIN_ACKED * BATCH);
    ns_store_close(store);
    ns_http_client_free(c);
    stop(&s, SIGTERM);
}

/* /metrics in the Prometheus text format: every sample's family has its
 * # HELP and # TYPE lines (histogram samples end in _bucket, _sum, _count),
 * every value is a number or NaN, the north-star gauge is NaN while its
 * denominator is 0, and the build and process series are there. */
TEST(metrics_follow_the_exposition_format)
{
    server s = start(ns_test_tmpfile("prom.db"), NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/v1/recommend/nobody?n=3", NULL, NULL, 0, &r, &n), 200);
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/metrics", NULL, NULL, 0, &r, &n), 200);
    char *text = strndup(r, n);
    ns_strmap *help = ns_strmap_new(64), *type = ns_strmap_new(64);
    int samples = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char name[128];
        if (!strncmp(line, "# HELP ", 7) || !strncmp(line, "# TYPE ", 7)) {
            ASSERT_EQ_INT(sscanf(line + 7, "%127s", name), 1);
            ns_strmap_intern(line[2] == 'H' ? help : type, name, strlen(name));
            continue;
        }
        size_t k = strcspn(line, "{ ");
        ASSERT(k > 0 && k < sizeof name);
        memcpy(name, line, k);
        name[k] = 0;
        const char *sfx[] = {"_bucket", "_sum", "_count"};
        for (int i = 0; i < 3; i++) {
            size_t l = strlen(sfx[i]);
            if (k > l && !strcmp(name + k - l, sfx[i]) && ns_strmap_find(type, name, k - l) >= 0) name[k - l] = 0;
        }
        ASSERT_MSG(ns_strmap_find(help, name, strlen(name)) >= 0, "no # HELP for %s", name);
        ASSERT_MSG(ns_strmap_find(type, name, strlen(name)) >= 0, "no # TYPE for %s", name);
        const char *v = strrchr(line, ' ') + 1;
        char *end;
        strtod(v, &end);
        ASSERT_MSG(*end == 0 || !strcmp(v, "NaN"), "not a number: %s", line);
        samples++;
    }
    free(text);
    ASSERT(samples > 30);
    ASSERT(isnan(metric(c, "northstar_north_star{name=\"ctr\",window=\"1h\"}")));
    ASSERT_EQ_INT(metric(c, "northstar_build_info{version=\"" NS_VERSION "\"}"), 1);
    ASSERT(metric(c, "process_resident_memory_bytes") > 1e6);
    ASSERT(metric(c, "process_open_fds") > 2);
    ns_strmap_free(help);
    ns_strmap_free(type);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}
