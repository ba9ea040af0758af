/*
 * test_retrain.c — POST /admin/retrain on a running server: a simulated
 * store, `serve --models DIR` with DIR not trained yet (the built-in config
 * serves meanwhile), the retrain trains the bundle in the background from
 * the store while the server keeps answering, then swaps the trained
 * pipeline in (i2i, vector, keyword channels and the Wide & Deep ranker).
 */
#include "harness.h"
#include "northstar/server.h"
#include "svc_harness.h"

#include <jansson.h>

/* One admin request on a raw socket (the client sends no Authorization). */
static int admin(int port, const char *method, const char *path, const char *token, char *buf, size_t cap)
{
    int fd = raw_connect(port);
    char rq[512];
    int n = snprintf(rq, sizeof rq, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%sContent-Length: 0\r\n\r\n",
                     method, path, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    ASSERT_EQ_INT(send(fd, rq, (size_t)n, 0), n);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0) got += (size_t)r;
    buf[got] = 0;
    close(fd);
    return atoi(buf + 9); /* "HTTP/1.1 NNN" */
}

static long long metric(ns_http_client *c, const char *name)
{
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/metrics", NULL, NULL, 0, &r, &n), 200);
    const char *p = strstr(r, name);
    ASSERT_MSG(p, "metric %s missing", name);
    return atoll(p + strlen(name) + 1);
}

TEST(retrain_trains_in_background_and_swaps_pipeline)
{
    const char *db = ns_test_tmpfile("rt.db"), *models = ns_test_tmpfile("rt-models");
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s sim --quiet --db %s --users 200 --items 500 --days 3 --sessions 1 --seed 3",
             ns_test_northstar_bin(), db);
    ASSERT_EQ_INT(ns_test_run(cmd, &out), 0);
    free(out);
    char extra[1200];
    snprintf(extra, sizeof extra, "--admin-token tok --models %s", models);
    server s = start(db, extra);
    static char buf[1 << 16];
    ASSERT_EQ_INT(admin(s.port, "GET", "/admin/config", "tok", buf, sizeof buf), 200);
    ASSERT_MSG(!strstr(buf, "wide_deep"), "untrained models dir should serve the built-in config");
    ASSERT_EQ_INT(admin(s.port, "POST", "/admin/retrain", NULL, buf, sizeof buf), 401);
    ASSERT_EQ_INT(admin(s.port, "POST", "/admin/retrain", "tok", buf, sizeof buf), 202);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    const char *r;
    size_t n;
    /* The server answers while the retrain runs. */
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/v1/recommend/u7?n=5", NULL, NULL, 0, &r, &n), 200);
    double t0 = ns_now();
    while (metric(c, "northstar_retrains_total{result=\"ok\"}") == 0) {
        ASSERT_EQ_INT(metric(c, "northstar_retrains_total{result=\"failed\"}"), 0);
        ASSERT_MSG(ns_now() - t0 < 120, "retrain did not finish in 120 s");
        usleep(100000);
    }
    printf("  retrain finished in %.1f s\n", ns_now() - t0);
    ASSERT_EQ_INT(metric(c, "northstar_retraining"), 0);
    ASSERT_EQ_INT(admin(s.port, "GET", "/admin/config", "tok", buf, sizeof buf), 200);
    ASSERT(strstr(buf, "wide_deep") && strstr(buf, "\"i2i\""));
    char path[256];
    snprintf(path, sizeof path, "%s/pipeline.json", models);
    ASSERT(access(path, F_OK) == 0);
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/v1/recommend/u7?n=10", NULL, NULL, 0, &r, &n), 200);
    json_t *j = json_loadb(r, n, 0, NULL);
    ASSERT(j);
    ASSERT_EQ_INT((long)json_array_size(json_object_get(j, "items")), 10);
    char *rs = json_dumps(json_object_get(j, "recall"), JSON_COMPACT);
    printf("  recall after retrain: %s\n", rs);
    free(rs);
    ASSERT(json_object_get(json_object_get(j, "recall"), "i2i"));
    json_decref(j);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}

TEST(retrain_without_models_dir_is_refused)
{
    server s = start(ns_test_tmpfile("rt2.db"), "--admin-token tok");
    static char buf[4096];
    ASSERT_EQ_INT(admin(s.port, "POST", "/admin/retrain", "tok", buf, sizeof buf), 422);
    printf("  %s\n", strstr(buf, "{"));
    ASSERT(strstr(buf, "models"));
    stop(&s, SIGTERM);
}
