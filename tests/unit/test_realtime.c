/* test_realtime.c — sliding windows against a naive event list, bounded
 * memory, growth, concurrent writers; the feature set; context features. */
#include "harness.h"
#include "northstar/context.h"
#include "northstar/window.h"
#include "northstar/rt.h"
#include "northstar/store.h"

#include <pthread.h>

/* The naive reference: every event kept; the window holds the events whose
 * bucket is among the last nb buckets at `now`. */
typedef struct { uint32_t key; double ts; uint32_t n; } ev_t;

static uint64_t naive(const ev_t *ev, int nev, uint32_t key, double now, double width, int nb)
{
    uint64_t s = 0;
    double nowb = floor(now / width);
    for (int i = 0; i < nev; i++) {
        if (ev[i].key != key) continue;
        double b = floor(ev[i].ts / width);
        if (b <= nowb && b > nowb - nb) s += ev[i].n;
    }
    return s;
}

TEST(window_matches_naive_on_random_stream)
{
    /* Time moves forward with jitter; events never older than the window
     * (late ones are tested separately). */
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    const double span = 600, width = 60;
    const int nb = 10, NEV = 5000;
    ns_window *w = ns_window_new(span, nb, 4);
    ASSERT(w);
    ev_t *ev = malloc(sizeof(ev_t) * NEV);
    double t = 1.7e9;
    int checks = 0;
    for (int i = 0; i < NEV; i++) {
        t += ns_rng_uniform(&r) * 5;
        double ts = t - ns_rng_uniform(&r) * 30; /* slightly out of order */
        ev[i] = (ev_t){(uint32_t)ns_rng_below(&r, 40), ts, 1 + (uint32_t)ns_rng_below(&r, 3)};
        ASSERT_OK(ns_window_add(w, ev[i].key, ev[i].ts, ev[i].n));
        if (i % 97 == 0)
            for (uint32_t k = 0; k < 45; k++) {
                uint64_t got = ns_window_get(w, k, t), want = naive(ev, i + 1, k, t, width, nb);
                if (got != want) FAIL("event %d key %u: window %llu, naive %llu", i, k, (unsigned long long)got,
                                      (unsigned long long)want);
                checks++;
            }
    }
    printf("  %d window reads matched the naive count\n", checks);
    ASSERT(ns_window_capacity(w) >= 40);
    /* Far in the future everything has expired. */
    ASSERT_EQ_INT(ns_window_get(w, 3, t + 2 * span), 0);
    free(ev);
    ns_window_free(w);
}

TEST(window_late_events_and_bounded_memory)
{
    ns_window *w = ns_window_new(3600, 12, 100);
    ASSERT(w);
    size_t bytes = ns_window_bytes(w);
    double t0 = 1.7e9;
    for (int i = 0; i < 200000; i++) ASSERT_OK(ns_window_add(w, (uint32_t)(i % 100), t0 + i * 0.5, 1));
    ASSERT_EQ_INT(ns_window_bytes(w), bytes); /* 200k events, same memory */
    double now = t0 + 200000 * 0.5;
    uint64_t before = ns_window_get(w, 5, now);
    ASSERT(before > 0);
    /* An event two hours late lands in no bucket of the window. */
    ASSERT_OK(ns_window_add(w, 5, now - 7200, 1000));
    ASSERT_EQ_INT(ns_window_get(w, 5, now), before);
    /* Keys beyond the capacity grow the table; unknown keys read 0. */
    ASSERT_EQ_INT(ns_window_get(w, 5000, now), 0);
    ASSERT_OK(ns_window_add(w, 5000, now, 2));
    ASSERT_EQ_INT(ns_window_get(w, 5000, now), 2);
    ASSERT_EQ_INT(ns_window_get(w, 5, now), before);
    ASSERT(ns_window_new(0, 12, 1) == NULL);
    ns_window_free(w);
}

typedef struct { ns_window *w; int id; } thr_arg;

static void *writer(void *p)
{
    thr_arg *a = p;
    for (int i = 0; i < 20000; i++) ns_window_add(a->w, (uint32_t)((i * 7 + a->id) % 3000), 1000.0 + i % 50, 1);
    return NULL;
}

TEST(tsan_window_concurrent_writers_lose_nothing)
{
    ns_window *w = ns_window_new(100, 10, 8); /* small: forces growth under contention */
    pthread_t th[4];
    thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thr_arg){w, i};
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    uint64_t total = 0;
    for (uint32_t k = 0; k < 3000; k++) total += ns_window_get(w, k, 1049);
    ASSERT_EQ_INT(total, 4 * 20000);
    ns_window_free(w);
}

TEST(rt_features_and_smoothed_ctr)
{
    ns_rt *rt = ns_rt_new(10, 10);
    ASSERT(rt);
    double t = 1.7e9;
    /* Item 1: 100 impressions, 10 clicks; item 2: 100 impressions, 0 clicks. */
    for (int i = 0; i < 100; i++) {
        ASSERT_OK(ns_rt_event(rt, 0, 1, NS_EV_IMPRESSION, t + i));
        ASSERT_OK(ns_rt_event(rt, 0, 2, NS_EV_IMPRESSION, t + i));
        if (i % 10 == 0) ASSERT_OK(ns_rt_event(rt, 3, 1, NS_EV_CLICK, t + i));
    }
    ASSERT_NEAR(ns_rt_now(rt), t + 99, 0);
    double now = ns_rt_now(rt);
    ns_rt_item a, b, c;
    ns_rt_item_stats(rt, 1, now, &a);
    ns_rt_item_stats(rt, 2, now, &b);
    ns_rt_item_stats(rt, 7, now, &c);
    ASSERT_EQ_INT(a.imp_1h, 100);
    ASSERT_EQ_INT(a.clk_1h, 10);
    ASSERT_EQ_INT(a.clk_1d, 10);
    /* global CTR p = 10/200; a = 50 */
    ASSERT_NEAR(a.ctr, (10 + 50 * 0.05) / (100 + 50), 1e-9);
    ASSERT_NEAR(b.ctr, (0 + 50 * 0.05) / (100 + 50), 1e-9);
    ASSERT_NEAR(c.ctr, 0.05, 1e-9); /* no data: the prior */
    ASSERT_EQ_INT(ns_rt_user_clicks_30m(rt, 3, now), 10);
    ASSERT_EQ_INT(ns_rt_user_clicks_30m(rt, 3, now + 1900), 0); /* 30 min later */
    ns_rt_item_stats(rt, 1, now + 3700, &a);                    /* out of the hour, in the day */
    ASSERT_EQ_INT(a.clk_1h, 0);
    ASSERT_EQ_INT(a.clk_1d, 10);
    ns_rt_global g;
    ns_rt_global_stats(rt, now, &g);
    ASSERT_EQ_INT(g.imp_1h, 200);
    ASSERT_EQ_INT(g.clk_total, 10);
    ns_rt_free(rt);
}

TEST(context_features)
{
    ns_context c;
    /* 2024-01-01 was a Monday; 13:30 UTC. */
    ASSERT_OK(ns_context_make(&c, 1704115800.0, 0, "Mobile", "Detail"));
    ASSERT_EQ_INT(c.hour, 13);
    ASSERT_EQ_INT(c.weekday, 0);
    ASSERT_EQ_INT(c.device, NS_DEVICE_MOBILE);
    ASSERT_STREQ(c.page, "detail");
    ASSERT(c.page_id < NS_CONTEXT_PAGE_BUCKETS);
    ASSERT_OK(ns_context_make(&c, 1704115800.0, 11 * 60, NULL, NULL)); /* UTC+11h: Tuesday 00:30 */
    ASSERT_EQ_INT(c.hour, 0);
    ASSERT_EQ_INT(c.weekday, 1);
    ASSERT_OK(ns_context_make(&c, 1704115800.0 - 14 * 3600, 0, NULL, NULL)); /* Sunday 23:30 */
    ASSERT_EQ_INT(c.hour, 23);
    ASSERT_EQ_INT(c.weekday, 6);
    ASSERT_STREQ(c.page, "home");
    ASSERT_ERR(ns_context_make(&c, 1704115800.0, -14 * 60, NULL, NULL), NS_EINVAL);
    ASSERT_ERR(ns_context_make(&c, 1704115800.0, 0, "toaster", NULL), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "device");
    ASSERT_ERR(ns_context_make(&c, 1704115800.0, 0, NULL, "a/b"), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "page");
}

TEST(rt_item_counts_saturate_per_bucket)
{
    ns_rt *rt = ns_rt_new(1, 1);
    double t = 1.7e9;
    for (int i = 0; i < (1 << 20) + 5; i++) ASSERT_OK(ns_rt_event(rt, 0, 0, NS_EV_IMPRESSION, t));
    ASSERT_OK(ns_rt_event(rt, 0, 0, NS_EV_CLICK, t));
    ns_rt_item s;
    ns_rt_item_stats(rt, 0, t, &s);
    ASSERT_EQ_INT(s.imp_1h, (1 << 20) - 1); /* documented saturation */
    ASSERT_EQ_INT(s.clk_1h, 1);             /* the other half of the word is intact */
    ns_rt_global g;
    ns_rt_global_stats(rt, t, &g);
    ASSERT_EQ_INT(g.imp_total, (1 << 20) + 5);
    ns_rt_free(rt);
}
