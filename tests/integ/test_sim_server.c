/* test_sim_server.c — `northstar sim` talking to a running server: the
 * world and offline traffic over HTTP, then live closed-loop sessions whose
 * slates are the server's recommendations (the north-star metric moves). */
#include "integ_harness.h"

TEST(sim_sends_world_events_and_live_sessions)
{
    server s = start(ns_test_tmpfile("sim.db"), NULL);
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "sim --quiet --server http://127.0.0.1:%d --users 120 --items 400 --days 1 --sessions 2 --seed 5",
                          s.port),
                  0);
    const char *p = strstr(out, " sessions, ");
    ASSERT(p);
    long long imp = atoll(p + 11);
    const char *q = strstr(p, "impressions, ");
    long long clk = atoll(q + 13);
    free(out);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/health", NULL, NULL, 0, &r, &n), 200);
    printf("  health: %s", r);
    ASSERT(strstr(r, "\"users\":120") && strstr(r, "\"items\":400"));
    const char *ev = strstr(r, "\"events\":");
    ASSERT(atoll(ev + 9) >= imp + clk);
    /* Live: 3 s of closed-loop sessions. */
    ASSERT_EQ_INT(cli_run(&out,
                          "sim --quiet --server http://127.0.0.1:%d --users 120 --items 400 --seed 5 --live --skip-world "
                          "--seconds 3 --rate 20 --report 1",
                          s.port),
                  0);
    ASSERT(strstr(out, "sim live:"));
    p = strstr(out, "sim: ");
    ASSERT(p && (p = strstr(p, " sessions, ")));
    free(out);
    double live_imp = metric(c, "northstar_north_star_denominator{name=\"ctr\",window=\"1h\"}");
    printf("  impressions in the last hour (live): %.0f\n", live_imp);
    ASSERT(live_imp >= 20 * 10); /* >= 20 sessions x 10 items */
    ASSERT(metric(c, "northstar_http_requests_total{route=\"recommend\",code=\"2xx\"}") >= 20);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}
