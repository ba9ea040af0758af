/*
 * test_retrain.c — POST /admin/retrain on a running server: a simulated
 * store, `serve --models DIR` with DIR not trained yet (the built-in config
 * serves meanwhile), the retrain trains the bundle in the background from
 * the store while the server keeps answering, then swaps the trained
 * pipeline in (i2i, vector, keyword channels and the Wide & Deep ranker).
 */
#include "integ_harness.h"

#include <jansson.h>

TEST(retrain_trains_in_background_and_swaps_pipeline)
{
    const char *db = ns_test_tmpfile("rt.db"), *models = ns_test_tmpfile("rt-models");
    ASSERT_EQ_INT(cli_run(NULL, "sim --quiet --db %s --users 200 --items 500 --days 3 --sessions 1 --seed 3", db), 0);
    char extra[1200];
    snprintf(extra, sizeof extra, "--admin-token tok --models %s", models);
    server s = start(db, extra);
    static char buf[1 << 16];
    ASSERT_EQ_INT(raw_request(s.port, "GET", "/admin/config", "tok", buf, sizeof buf), 200);
    ASSERT_MSG(!strstr(buf, "wide_deep"), "untrained models dir should serve the built-in config");
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/retrain", NULL, buf, sizeof buf), 401);
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/retrain", "tok", buf, sizeof buf), 202);
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
    ASSERT_EQ_INT(raw_request(s.port, "GET", "/admin/config", "tok", buf, sizeof buf), 200);
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
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/retrain", "tok", buf, sizeof buf), 422);
    printf("  %s\n", strstr(buf, "{"));
    ASSERT(strstr(buf, "models"));
    stop(&s, SIGTERM);
}
