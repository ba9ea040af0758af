/* test_sim.c — the simulator: same seed, same world and events; different
 * seed, different ones; and the traffic has the shapes it promises
 * (diurnal rate, position bias, taste, cold-start items, bots in the
 * ground truth). */
#include "harness.h"
#include "northstar/sim.h"
#include "sim/sim_int.h"

#include <time.h>

typedef struct {
    uint64_t h;
    long n, bot;
    long hour[24];
    long imp_pos[10], clk_pos[10];
    const ns_sim *s;
    int before_created; /* events on items before they exist */
    double last_ts;
    int out_of_order;
    long slot; /* position within the current page */
    const char *page_user;
    double page_ts;
} acc_t;

static int acc_event(const ns_event_rec *e, int bot, void *ctx)
{
    acc_t *a = ctx;
    char line[256];
    int n = snprintf(line, sizeof line, "%s|%s|%d|%g|%.3f", e->user, e->item, e->type, e->value, e->ts);
    a->h = ns_hash_bytes(line, (size_t)n, a->h);
    a->n++;
    a->bot += bot;
    time_t t = (time_t)e->ts;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (e->type == NS_EV_IMPRESSION && !bot) a->hour[tm.tm_hour]++;
    int item = atoi(e->item + 1);
    ns_item_rec it;
    ns_sim_item(a->s, item, &it);
    if (e->ts < it.created) a->before_created++;
    return 0;
}

static ns_sim_config small(uint64_t seed)
{
    ns_sim_config c = ns_sim_defaults();
    c.users = 300;
    c.items = 1000;
    c.days = 3;
    c.sessions_per_user_day = 2;
    c.seed = seed;
    c.start = 1.7e9;
    return c;
}

static acc_t run(ns_sim_config c)
{
    ns_sim *s;
    ASSERT_OK(ns_sim_new(&s, &c));
    acc_t a;
    memset(&a, 0, sizeof a);
    a.s = s;
    ns_sim_stats st;
    ASSERT_OK(ns_sim_run(s, acc_event, &a, &st));
    ASSERT_EQ_INT(st.impressions + st.clicks + st.likes + st.purchases + st.ratings, a.n);
    ns_sim_free(s);
    return a;
}

TEST(same_seed_same_events)
{
    acc_t a = run(small(11)), b = run(small(11)), c = run(small(12));
    printf("  seed 11: %ld events, hash %016llx; again %016llx; seed 12: %016llx\n", a.n, (unsigned long long)a.h,
           (unsigned long long)b.h, (unsigned long long)c.h);
    ASSERT(a.n > 1000);
    ASSERT_EQ_INT(a.n, b.n);
    ASSERT(a.h == b.h);
    ASSERT(a.h != c.h);
    /* The world alone is reproducible too. */
    ns_sim_config cfg = small(11);
    ns_sim *s1, *s2;
    ASSERT_OK(ns_sim_new(&s1, &cfg));
    ASSERT_OK(ns_sim_new(&s2, &cfg));
    for (int i = 0; i < ns_sim_item_count(s1); i += 97) {
        ns_item_rec x, y;
        ns_sim_item(s1, i, &x);
        ns_sim_item(s2, i, &y);
        ASSERT_STREQ(x.text, y.text);
        ASSERT_STREQ(x.categories, y.categories);
    }
    ns_sim_free(s1);
    ns_sim_free(s2);
}

TEST(traffic_shapes)
{
    acc_t a = run(small(3));
    /* Diurnal: the evening peak carries several times the night trough. */
    long eve = a.hour[19] + a.hour[20] + a.hour[21], night = a.hour[3] + a.hour[4] + a.hour[5];
    printf("  impressions 19-21h %ld vs 3-5h %ld\n", eve, night);
    ASSERT(eve > 3 * night);
    /* No event on an item before it is published (cold-start items arrive). */
    ASSERT_EQ_INT(a.before_created, 0);
    ASSERT_EQ_INT(a.bot, 0);
}

/* Position bias and taste, measured on simulated responses. */
static int count_clicks(const ns_event_rec *e, int bot, void *ctx)
{
    (void)bot;
    if (e->type == NS_EV_CLICK) ++*(long *)ctx;
    return 0;
}

TEST(position_bias_and_taste)
{
    ns_sim_config c = small(4);
    ns_sim *s;
    ASSERT_OK(ns_sim_new(&s, &c));
    ns_rng r;
    ns_rng_seed(&r, 1, 99);
    ns_sim_stats st = {0};
    long top = 0, bottom = 0, liked = 0, disliked = 0, nl = 0, nd = 0;
    for (int k = 0; k < 20000; k++) {
        int u = (int)ns_rng_below(&r, 300), i = (int)ns_rng_below(&r, 1000);
        ns__sim_respond(s, &r, u, i, 0, 1.8e9, count_clicks, &top, &st);
        ns__sim_respond(s, &r, u, i, 9, 1.8e9, count_clicks, &bottom, &st);
        double a = ns__sim_affinity(s, u, i);
        if (a > 2) { ns__sim_respond(s, &r, u, i, 0, 1.8e9, count_clicks, &liked, &st); nl++; }
        if (a < 0.5) { ns__sim_respond(s, &r, u, i, 0, 1.8e9, count_clicks, &disliked, &st); nd++; }
    }
    printf("  clicks at position 0: %ld, at 9: %ld; CTR liked categories %.3f, disliked %.3f\n", top, bottom,
           (double)liked / nl, (double)disliked / nd);
    ASSERT(top > 4 * bottom);                            /* examination (1 + p)^-0.8: 6.3x */
    ASSERT((double)liked / nl > 3 * (double)disliked / nd); /* taste drives clicks */
    ns_sim_free(s);
}

TEST(text_reflects_category_and_items_arrive)
{
    ns_sim_config c = small(5);
    ns_sim *s;
    ASSERT_OK(ns_sim_new(&s, &c));
    /* Items of one category share their vocabulary; different categories
     * barely overlap. */
    int same = 0, diff = 0, ns_ = 0, nd = 0, later = 0;
    for (int i = 0; i < 200; i++) {
        ns_item_rec a, b;
        ns_sim_item(s, i, &a);
        ns_sim_item(s, i + 200, &b);
        later += a.created > c.start;
        char wa[64];
        sscanf(a.text, "%63s", wa);
        int shared = strstr(b.text, wa) != NULL;
        if (!strcmp(a.categories, b.categories)) { same += shared; ns_++; }
        else if (!strchr(a.categories, '|') && !strchr(b.categories, '|') &&
                 strncmp(a.categories, b.categories, 3)) { diff += shared; nd++; }
    }
    printf("  first word shared: same category %d/%d, different %d/%d; %d of 200 items arrive later\n", same, ns_,
           diff, nd, later);
    ASSERT(ns_ > 5 && nd > 20);
    ASSERT((double)same / ns_ > 2.0 * diff / nd);
    ASSERT(later > 20 && later < 120); /* initial_items 0.7 */
    ns_sim_free(s);
}

TEST(bots_in_ground_truth)
{
    ns_sim_config c = small(9);
    c.bots = 0.02;
    c.bursts = 2;
    acc_t a = run(c);
    printf("  %ld of %ld events from bot accounts\n", a.bot, a.n);
    ASSERT(a.bot > 100);
    ns_sim *s;
    ASSERT_OK(ns_sim_new(&s, &c));
    const char *path = ns_test_tmpfile("truth.jsonl");
    ASSERT_OK(ns_sim_write_truth(s, path));
    char *text;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &text, &len, 0));
    int farms = 0, burst_accts = 0, bursts = 0;
    for (char *p = text; (p = strstr(p, "\"bot\":\"click_farm\"")); p++) farms++;
    for (char *p = text; (p = strstr(p, "\"bot\":\"burst\"")); p++) burst_accts++;
    for (char *p = text; (p = strstr(p, "\"kind\":\"burst\"")); p++) bursts++;
    ASSERT_EQ_INT(farms, 6);
    ASSERT_EQ_INT(bursts, 2);
    ASSERT_EQ_INT(burst_accts, 100);
    ASSERT_EQ_INT(ns_sim_user_count(s), 300 + 6 + 100);
    free(text);
    ns_sim_free(s);
}

TEST(config_errors)
{
    ns_sim_config c = ns_sim_defaults();
    c.categories = 40;
    ns_sim *s;
    ASSERT_ERR(ns_sim_new(&s, &c), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "categories");
    c = ns_sim_defaults();
    c.bots = 0.9;
    ASSERT_ERR(ns_sim_new(&s, &c), NS_EINVAL);
    ASSERT_STREQ(ns_err_last()->field, "bots");
}
