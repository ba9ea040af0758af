/* test_demo.c — `northstar demo`: the playground end to end (simulate ->
 * store -> train -> serve -> live traffic -> summary), the north-star metric
 * counting the simulated users' impressions and clicks while they flow, its
 * work-directory guard, Ctrl-C, the web dashboard and GET /v1/stats of the
 * server; and `demo mlp`, the tensor demo (trains, saves, reloads). */
#include "integ_harness.h"

#include <jansson.h>
#include <sys/stat.h>

/* The number after `key` in s (which must be there). */
static double num_after(const char *s, const char *key)
{
    ASSERT_MSG(s, "no text to look for '%s' in", key);
    const char *p = strstr(s, key);
    ASSERT_MSG(p, "'%s' missing", key);
    return atof(p + strlen(key));
}

/* The demo summary's live run (what the simulated users sent) and the
 * north-star metric's counts before and after it (what the server's window
 * held), from the lines
 *   live        3.0 s: 61 sessions, 610 impressions, 5 clicks (CTR 0.0082)
 *   north-star  ctr over 1h: before 0.0267 (4/150), after 0.0123 (9/730) */
typedef struct {
    double seconds, sessions, impressions, clicks;
    double num_before, den_before, num_after, den_after;
} summary;

static summary parse_summary(const char *out)
{
    const char *sum = strstr(out, "demo summary");
    ASSERT_MSG(sum, "no demo summary in the output");
    summary m;
    const char *live = strstr(sum, "  live        ");
    m.seconds = num_after(live, "  live        ");
    m.sessions = num_after(live, " s: ");
    m.impressions = num_after(live, " sessions, ");
    m.clicks = num_after(live, " impressions, ");
    const char *ns = strstr(sum, "  north-star  ctr over 1h: before ");
    ASSERT_MSG(ns, "no north-star line in the summary");
    m.num_before = num_after(ns, "(");
    m.den_before = num_after(ns, "/");
    const char *after = strstr(ns, "after ");
    m.num_after = num_after(after, "(");
    m.den_after = num_after(after, "/");
    return m;
}

/* Every impression and click the simulated users sent during the live run
 * is in the north-star window at the end (they are seconds old in a
 * one-hour window), and nothing else was added: the simulated history in
 * the window can only shrink as the window moves on to real time. Exact
 * counts, so no margin: they hold however many sessions a loaded machine
 * managed. */
static void check_live_counted(const summary *m)
{
    printf("  live: %.0f sessions, %.0f impressions, %.0f clicks; north-star %.0f/%.0f before, %.0f/%.0f after\n",
           m->sessions, m->impressions, m->clicks, m->num_before, m->den_before, m->num_after, m->den_after);
    ASSERT_MSG(m->impressions >= m->sessions * 10, "%.0f impressions for %.0f sessions of 10", m->impressions,
               m->sessions);
    ASSERT_MSG(m->den_after >= m->impressions, "the window holds %.0f impressions, the users sent %.0f live",
               m->den_after, m->impressions);
    ASSERT_MSG(m->num_after >= m->clicks, "the window holds %.0f clicks, the users sent %.0f live", m->num_after,
               m->clicks);
    ASSERT_MSG(m->den_after <= m->den_before + m->impressions, "impressions %.0f > %.0f before + %.0f live",
               m->den_after, m->den_before, m->impressions);
    ASSERT_MSG(m->num_after <= m->num_before + m->clicks, "clicks %.0f > %.0f before + %.0f live", m->num_after,
               m->num_before, m->clicks);
}

/* `northstar demo ARGS` (no --seconds: until a signal) left running; returns
 * once its live traffic has started, with the server's port. */
static proc live_demo(const char *args)
{
    proc p = cli_spawn("demo --quiet --port 0 %s", args);
    char line[1024];
    int live_started = 0;
    while (!live_started && fgets(line, sizeof line, p.out)) {
        printf("%s", line);
        const char *u = strstr(line, "serving on http://127.0.0.1:");
        if (u) p.port = atoi(u + strlen("serving on http://127.0.0.1:"));
        live_started = strstr(line, "[4/4] live traffic") != NULL;
    }
    ASSERT_MSG(live_started, "the demo never reached the live step");
    ASSERT_MSG(p.port > 0, "the demo did not say where it serves");
    return p;
}

/* SIGINT the demo, collect the rest of its output (the summary); it must
 * exit 0. Returns the output (caller frees). */
static char *interrupt_demo(proc *p)
{
    kill(p->pid, SIGINT);
    ns_buf b;
    ns_buf_init(&b);
    char line[1024];
    while (fgets(line, sizeof line, p->out)) {
        printf("%s", line);
        ns_buf_puts(&b, line);
    }
    int st = reap(p);
    ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
    ns_buf_puts(&b, "");
    return b.data;
}

TEST(demo_mlp_trains_and_reloads)
{
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "demo mlp --quiet --steps 1500 --out %s", ns_test_tmpfile("demo.safetensors")), 0);
    ASSERT(strstr(out, "reloaded model predicts identically"));
    const char *acc = strstr(out, ", test ");
    ASSERT(acc);
    double a = atof(acc + 7);
    ASSERT_MSG(a >= 0.9, "test accuracy %.3f below 0.9", a);
    free(out);
}

TEST(demo_usage_errors)
{
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "demo mlp --steps abc"), 2);
    ASSERT(strstr(out, "--steps"));
    free(out);
    ASSERT_EQ_INT(cli_run(&out, "demo --users many"), 2);
    ASSERT(strstr(out, "--users"));
    free(out);
    ASSERT_EQ_INT(cli_run(&out, "demo --help"), 0);
    ASSERT(strstr(out, "--once") && strstr(out, "demo mlp"));
    free(out);
}

TEST(demo_once_end_to_end)
{
    const char *dir = ns_test_tmpfile("pg");
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "demo --once --quiet --port 0 --dir %s --users 300 --items 1500 --days 3 --seconds 3 "
                                "--rate 20 -j 2",
                          dir),
                  0);
    const char *sum = strstr(out, "demo summary");
    ASSERT(sum);
    ASSERT(strstr(sum, "world       300 users, 1500 items"));
    ASSERT(strstr(sum, "ranker wide_deep"));
    ASSERT(num_after(strstr(sum, "world"), "1500 items, ") > 1000); /* events simulated */
    summary m = parse_summary(out);
    ASSERT(m.seconds >= 2.5); /* of live traffic */
    ASSERT_MSG(m.sessions >= 20, "only %.0f live sessions", m.sessions);
    double recs = num_after(sum, "  served      ");
    ASSERT_MSG(recs >= m.sessions, "%.0f recommendations for %.0f sessions", recs, m.sessions);
    ASSERT(num_after(sum, " server errors") >= 0 && strstr(sum, "requests, 0 server errors"));
    /* The north-star metric before and after: ratios of counts in the
     * window, which holds what the simulated users sent. */
    const char *ns = strstr(sum, "  north-star  ctr over 1h: before ");
    double before = num_after(ns, "before "), after = num_after(ns, "after ");
    ASSERT(before > 0 && before < 1 && after > 0 && after < 1);
    check_live_counted(&m);
    /* The work dir holds the store, the bundle and the marker. */
    char path[1024];
    snprintf(path, sizeof path, "%s/models/pipeline.json", dir);
    ASSERT(ns_file_exists(path));
    snprintf(path, sizeof path, "%s/.northstar-demo", dir);
    ASSERT(ns_file_exists(path));
    free(out);
}

TEST(demo_refuses_a_foreign_dir)
{
    const char *dir = ns_test_tmpfile("mine");
    ASSERT_EQ_INT(mkdir(dir, 0755), 0);
    char keep[1024];
    snprintf(keep, sizeof keep, "%s/precious.txt", dir);
    FILE *f = fopen(keep, "w");
    ASSERT(f);
    fputs("not the demo's\n", f);
    fclose(f);
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "demo --once --quiet --port 0 --dir %s --users 50 --items 100", dir), 1);
    ASSERT(strstr(out, "refusing to wipe"));
    ASSERT(ns_file_exists(keep));
    free(out);
}

TEST(dashboard_and_stats_served)
{
    /* A small world into a store, then a plain server over it. */
    const char *db = ns_test_tmpfile("dash.db");
    ASSERT_EQ_INT(cli_run(NULL, "sim --quiet --db %s --users 100 --items 300 --days 1 --sync normal", db), 0);
    server s = start(db, NULL);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/", NULL, NULL, 0, &r, &n), 200);
    ASSERT(strstr(r, "<title>northstar dashboard</title>") && strstr(r, "/ui/app.js"));
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/ui/app.js", NULL, NULL, 0, &r, &n), 200);
    ASSERT(strstr(r, "/v1/stats") && strstr(r, "/v1/recommend/"));
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/ui/style.css", NULL, NULL, 0, &r, &n), 200);
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/ui/nope.js", NULL, NULL, 0, &r, &n), 404);
    ASSERT(strstr(r, "\"error\""));

    json_t *j = get_json(c, "/v1/stats", 200);
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(j, "users")), 100);
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(j, "items")), 300);
    json_t *nsm = json_object_get(j, "north_star");
    ASSERT(json_is_string(json_object_get(nsm, "name")) && json_is_number(json_object_get(nsm, "value")));
    ASSERT(json_is_array(json_object_get(j, "channels")) && json_array_size(json_object_get(j, "channels")) > 0);
    ASSERT(json_is_object(json_object_get(j, "retrain")) && json_is_object(json_object_get(j, "rates")));
    ASSERT(json_is_array(json_object_get(j, "history")));
    json_decref(j);

    /* Traffic, then a second sample >= 2 s later: rates and one history point. */
    for (int i = 0; i < 20; i++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/recommend/u%d?n=5", i);
        ASSERT_EQ_INT(ns_http_client_request(c, "GET", path, NULL, NULL, 0, &r, &n), 200);
    }
    const char *ev = "[{\"user\":\"u1\",\"item\":\"i2\",\"type\":\"impression\"},"
                     "{\"user\":\"u1\",\"item\":\"i2\",\"type\":\"click\"}]";
    ASSERT_EQ_INT(ns_http_client_request(c, "POST", "/v1/events", "application/json", ev, strlen(ev), &r, &n), 200);
    usleep(2100 * 1000);
    j = get_json(c, "/v1/stats", 200);
    printf("  /v1/stats: recommendations %lld, events_ingested %lld, rps %g, p99 %g ms\n",
           (long long)json_integer_value(json_object_get(j, "recommendations")),
           (long long)json_integer_value(json_object_get(j, "events_ingested")),
           json_number_value(json_object_get(json_object_get(j, "rates"), "rps")),
           json_number_value(json_object_get(json_object_get(j, "rates"), "p99_ms")));
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(j, "recommendations")), 20);
    ASSERT_EQ_INT((int)json_integer_value(json_object_get(j, "events_ingested")), 2);
    json_t *rates = json_object_get(j, "rates");
    ASSERT(json_number_value(json_object_get(rates, "rps")) > 0);
    double p50 = json_number_value(json_object_get(rates, "p50_ms")), p99 = json_number_value(json_object_get(rates, "p99_ms"));
    ASSERT(p50 > 0 && p99 >= p50);
    json_t *h = json_object_get(j, "history");
    ASSERT_EQ_INT((int)json_array_size(h), 1);
    ASSERT(json_is_number(json_object_get(json_array_get(h, 0), "north_star")));
    long long cands = 0;
    size_t k;
    json_t *ch;
    json_array_foreach(json_object_get(j, "channels"), k, ch)
    {
        ASSERT(json_is_string(json_object_get(ch, "name")));
        cands += json_integer_value(json_object_get(ch, "candidates"));
    }
    ASSERT(cands > 0);
    json_decref(j);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}

/* Without --seconds the demo runs until Ctrl-C: SIGINT stops the traffic
 * and the server cleanly (exit 0, a summary). */
TEST(demo_stops_on_sigint)
{
    char args[1400];
    snprintf(args, sizeof args, "--dir %s --users 200 --items 600 --days 2 -j 2", ns_test_tmpfile("pg-int"));
    proc p = live_demo(args);
    usleep(1500 * 1000);
    char *out = interrupt_demo(&p);
    ASSERT(strstr(out, "demo summary"));
    free(out);
}

/* The north-star metric (ctr over 1h: clicks / impressions in the server's
 * one-hour window) counts the simulated users while they use the service:
 * GET /v1/stats sampled twice during live traffic, 5 s apart, shows its
 * denominator grown by >= 200 impressions and its numerator by >= 1 click;
 * after Ctrl-C the summary's exact accounting holds too.
 *
 * Why these bounds cannot flake on a loaded 2-core machine: at --rate 50 the
 * users start ~250 sessions of 10 impressions in those 5 s, and this world's
 * live CTR is ~2.7% (43 clicks in 1,610 impressions measured), so the
 * interval carries ~2,500 impressions and ~65 clicks: 12x the impressions
 * asked for, and a machine 4x slower still brings ~16 clicks where 1 is
 * asked. Meanwhile the window can lose only the oldest 5-minute bucket of the
 * simulated history (one bucket boundary at most in 5 s; the whole simulated
 * last hour holds ~130 impressions and ~7 clicks). */
TEST(demo_north_star_counts_live_traffic)
{
    char args[1400];
    snprintf(args, sizeof args, "--dir %s --users 300 --items 600 --days 7 --rate 50 -j 2", ns_test_tmpfile("pg-ns"));
    proc p = live_demo(args);
    ns_http_client *c = ns_http_client_new("127.0.0.1", p.port, 10);
    /* The first point once live events are in (the window has moved from
     * the simulated history's last hour to real time). */
    json_t *a = NULL;
    for (double t0 = ns_now();;) {
        a = get_json(c, "/v1/stats", 200);
        if (json_integer_value(json_object_get(a, "events_ingested")) >= 10) break;
        json_decref(a);
        ASSERT_MSG(ns_now() - t0 < 60, "no live event reached the server in 60 s");
        usleep(100 * 1000);
    }
    usleep(5000 * 1000);
    json_t *b = get_json(c, "/v1/stats", 200);
    json_t *na = json_object_get(a, "north_star"), *nb = json_object_get(b, "north_star");
    ASSERT_STREQ(json_string_value(json_object_get(nb, "name")), "ctr");
    long long num_a = json_integer_value(json_object_get(na, "numerator")),
              den_a = json_integer_value(json_object_get(na, "denominator")),
              num_b = json_integer_value(json_object_get(nb, "numerator")),
              den_b = json_integer_value(json_object_get(nb, "denominator"));
    long long ev_a = json_integer_value(json_object_get(a, "events_ingested")),
              ev_b = json_integer_value(json_object_get(b, "events_ingested"));
    printf("  north-star ctr(1h) during live traffic: %lld/%lld, 5 s later %lld/%lld (events ingested %lld -> %lld)\n",
           num_a, den_a, num_b, den_b, ev_a, ev_b);
    ASSERT_MSG(den_b - den_a >= 200, "impressions in the window grew by %lld in 5 s of live traffic", den_b - den_a);
    ASSERT_MSG(num_b - num_a >= 1, "clicks in the window grew by %lld in 5 s of live traffic", num_b - num_a);
    ASSERT(ev_b - ev_a >= den_b - den_a); /* impressions are events the server ingested */
    json_decref(a);
    json_decref(b);
    ns_http_client_free(c);
    char *out = interrupt_demo(&p);
    summary m = parse_summary(out);
    check_live_counted(&m);
    free(out);
}
