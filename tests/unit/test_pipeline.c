/* test_pipeline.c — the service state (seen sets, popularity, segments,
 * co-clicks, trending) and the pipeline (config validation, recall merge
 * with provenance, filters, diversity, cold start, extension points, and
 * a scorer's NaN and infinite scores dropped and counted). */
#include "harness.h"
#include "northstar/pipeline.h"

#include <math.h>
#include <pthread.h>

static const double T0 = 1.7e9;

/* 4 users (u0,u1: 25-34 M engineer; u2: 45-49 F artist; u3 no attributes),
 * 12 items i0..i11 in categories A (0-5) and B (6-11), item i11 published
 * in the future. */
static ns_state *make_state(void)
{
    ns_state *s = ns_state_new(NULL);
    ASSERT(s);
    ns_state_set_refresh(s, 0);
    ns_user_rec u[4] = {{"u0", 30, "M", "engineer", NULL, NULL, 0},
                        {"u1", 28, "M", "engineer", NULL, NULL, 0},
                        {"u2", 47, "F", "artist", NULL, NULL, 0},
                        {"u3", 0, NULL, NULL, NULL, NULL, 0}};
    for (int i = 0; i < 4; i++) ASSERT_OK(ns_state_put_user(s, &u[i], NULL));
    for (int i = 0; i < 12; i++) {
        char id[8], title[16];
        snprintf(id, sizeof id, "i%d", i);
        snprintf(title, sizeof title, "Item %d", i);
        ns_item_rec it = {id, title, NULL, i < 6 ? "A" : "B|A", NULL, NULL, i == 11 ? T0 + 1e6 : 0};
        ASSERT_OK(ns_state_put_item(s, &it, NULL));
    }
    return s;
}

static void ev(ns_state *s, const char *u, const char *i, int type, double ts)
{
    ns_event_rec e = {u, i, type, 1, ts, NULL};
    ASSERT_OK(ns_state_event(s, &e));
}

TEST(state_seen_popular_segment_cooc)
{
    ns_state *s = make_state();
    /* u0 clicks i0, i1, i2; u1 clicks i1, i2; u2 clicks i7 three times. */
    ev(s, "u0", "i0", NS_EV_CLICK, T0);
    ev(s, "u0", "i1", NS_EV_CLICK, T0 + 1);
    ev(s, "u0", "i2", NS_EV_CLICK, T0 + 2);
    ev(s, "u1", "i1", NS_EV_CLICK, T0 + 3);
    ev(s, "u1", "i2", NS_EV_CLICK, T0 + 4);
    for (int k = 0; k < 3; k++) ev(s, "u2", "i7", NS_EV_CLICK, T0 + 5 + k);
    ev(s, "u2", "i8", NS_EV_IMPRESSION, T0 + 9); /* impressions are not positives */
    ns_event_rec bad = {"u0", "nope", NS_EV_CLICK, 1, T0, NULL};
    ASSERT_ERR(ns_state_event(s, &bad), NS_ENOTFOUND);
    ev(s, "new-user", "i3", NS_EV_LIKE, T0 + 10); /* created on the fly */
    ASSERT_EQ_INT(ns_state_users(s), 5);
    ASSERT_EQ_INT(ns_state_events(s), 10);

    ns_state_rdlock(s);
    ns_user_view uv;
    ns_state_user(s, 0, &uv);
    ASSERT_EQ_INT(uv.nseen, 3);
    ASSERT_EQ_INT(uv.recent[0], 2); /* newest first */
    ASSERT_EQ_INT(uv.age_bucket, 3);
    ASSERT(ns_state_has_seen(s, 0, 1) && !ns_state_has_seen(s, 0, 7));
    ns_scored top[16];
    int n = ns_state_top_popular(s, top, 16);
    ASSERT(n >= 4);
    ASSERT_EQ_INT(top[0].item, 7); /* 3 clicks */
    ASSERT_NEAR(top[0].score, 3, 0);
    ASSERT_EQ_INT(top[1].item, 1); /* 2 clicks, tie with i2 broken by index */
    ASSERT_EQ_INT(top[2].item, 2);
    /* u0 and u1 share a segment; u2's has only i7. */
    ns_user_view u1v, u2v;
    ns_state_user(s, 1, &u1v);
    ns_state_user(s, 2, &u2v);
    ASSERT_EQ_INT(uv.segment, u1v.segment);
    ASSERT(uv.segment != u2v.segment);
    n = ns_state_top_segment(s, u2v.segment, top, 16);
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(top[0].item, 7);
    n = ns_state_top_segment(s, uv.segment, top, 16);
    ASSERT_EQ_INT(n, 3);
    /* Co-clicks: i1 and i2 were clicked together by two users. */
    n = ns_state_similar(s, 1, top, 16);
    ASSERT(n >= 2);
    ASSERT_EQ_INT(top[0].item, 2);
    ASSERT_NEAR(top[0].score, 2.0 / 2.0, 1e-6); /* count 2 / sqrt(2 * 2) */
    /* Trending over the last hour counts clicks. */
    n = ns_state_top_trending(s, "1h", T0 + 10, top, 16);
    ASSERT_EQ_INT(top[0].item, 7);
    ns_state_unlock(s);
    ASSERT_EQ_INT(ns_state_type_count(s, NS_EV_CLICK, "1h", T0 + 10), 8);
    ASSERT_EQ_INT(ns_state_type_count(s, NS_EV_CLICK, "1h", T0 + 7200), 0);
    ns_state_free(s);
}

static int has_item(const ns_rec_result *r, uint32_t item)
{
    for (int i = 0; i < r->n; i++)
        if (r->items[i].item == item) return 1;
    return 0;
}

/* Up to 10 items for u0 at stream time ts, in arena a. */
static void recommend_u0(ns_pipeline *p, double ts, ns_rec_result *r, ns_arena *a)
{
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, ts, 0, NULL, NULL));
    ns_rec_request req = {"u0", 10, &ctx};
    ASSERT_OK(ns_pipeline_recommend(p, &req, r, a));
}

TEST(recommend_filters_diversity_cold_start)
{
    ns_state *s = make_state();
    /* Traffic: everybody clicks items; u0 has seen i0..i2. */
    for (int k = 0; k < 11; k++) {
        char id[8];
        snprintf(id, sizeof id, "i%d", k);
        for (int r = 0; r <= k % 4; r++) ev(s, "u2", id, NS_EV_CLICK, T0 + k);
        ev(s, "u3", id, NS_EV_IMPRESSION, T0 + k);
    }
    ev(s, "u0", "i0", NS_EV_CLICK, T0 + 20);
    ev(s, "u0", "i1", NS_EV_CLICK, T0 + 21);
    ev(s, "u0", "i2", NS_EV_CLICK, T0 + 22);
    ev(s, "u3", "i11", NS_EV_CLICK, T0 + 23); /* unpublished item: never served */
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p, ns_pipeline_default_config(), "default", s));
    ASSERT_EQ_INT(ns_pipeline_channels(p), 5);
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, T0 + 30, 0, "mobile", "home"));
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_rec_result r;
    ns_rec_request req = {"u0", 8, &ctx};
    ASSERT_OK(ns_pipeline_recommend(p, &req, &r, &a));
    ASSERT_EQ_INT(r.cold_start, 0);
    ASSERT_EQ_INT(r.n, 8); /* 11 published items - 3 seen = 8 */
    ASSERT(!has_item(&r, 0) && !has_item(&r, 1) && !has_item(&r, 2) && !has_item(&r, 11));
    ASSERT(r.filtered >= 3);
    for (int i = 0; i < r.n; i++) ASSERT(r.items[i].channels != 0);
    for (int i = 1; i < r.n; i++) ASSERT(r.items[i - 1].score >= r.items[i].score || i >= 6); /* backfill after 6 */
    /* Diversity: with n = 6 at most 3 per primary category. */
    req.n = 6;
    ASSERT_OK(ns_pipeline_recommend(p, &req, &r, &a));
    int na = 0;
    for (int i = 0; i < r.n; i++) na += r.items[i].item < 6;
    ASSERT_EQ_INT(na, 3);
    /* An unknown user gets a cold-start list, not an error. */
    ns_rec_request cold = {"stranger", 5, &ctx};
    ASSERT_OK(ns_pipeline_recommend(p, &cold, &r, &a));
    ASSERT_EQ_INT(r.cold_start, 1);
    ASSERT_EQ_INT(r.n, 5);
    ASSERT_EQ_INT(r.per_channel[0], 0); /* cooc needs history */
    ASSERT(r.per_channel[3] > 0);       /* popular always answers */
    /* n out of range names the field. */
    ns_rec_request big = {"u0", 1000, &ctx};
    ASSERT_ERR(ns_pipeline_recommend(p, &big, &r, &a), NS_ERANGE);
    ASSERT_STREQ(ns_err_last()->field, "n");
    uint64_t num, den;
    double ctr = ns_pipeline_north_star(p, T0 + 30, &num, &den);
    ASSERT_EQ_INT(den, 11);
    ASSERT_NEAR(ctr, (double)num / 11, 1e-12);
    uint64_t prod, served;
    ns_pipeline_channel_counts(p, 3, &prod, &served);
    ASSERT(prod > 0 && served > 0);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    ns_state_free(s);
}

TEST(config_errors_name_the_setting)
{
    ns_state *s = make_state();
    ns_pipeline *p;
    struct { const char *cfg, *field; } cases[] = {
        {"{\"recall\": [{\"type\": \"popular\", \"quota\": 0}]}", "recall[0].quota"},
        {"{\"recall\": [{\"type\": \"nope\"}]}", "recall[0].type"},
        {"{\"recall\": [{\"type\": \"popular\"}], \"rank\": {\"params\": {\"weights\": {\"x\": 1}}}}",
         "rank.params.weights.x"},
        {"{\"recall\": [{\"type\": \"trending\", \"params\": {\"window\": \"1y\"}}]}", "recall[0].params.window"},
        {"{\"recall\": [{\"type\": \"popular\"}], \"limits\": {\"max_n\": 5, \"default_n\": 10}}", "limits.default_n"},
        {"{\"recall\": [{\"type\": \"popular\"}], \"colour\": 1}", "colour"},
        {"{\"recall\": []}", "recall"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ASSERT_ERR(ns_pipeline_new(&p, cases[i].cfg, "test.json", s), NS_EINVAL);
        ASSERT_STREQ(ns_err_last()->field, cases[i].field);
        ASSERT_STREQ(ns_err_last()->file, "test.json");
    }
    ASSERT_ERR(ns_pipeline_new(&p, "{\"recall\": [", "test.json", s), NS_EFORMAT);
    ns_state_free(s);
}

/* Engines plug in as channel types: a registered type is usable from the
 * config like a built-in one. */
static int fixed_create(const json_t *params, const char *path, ns_state *st, void **self)
{
    (void)params; (void)path; (void)st;
    *self = NULL;
    return 0;
}
static int fixed_recall(void *self, const ns_recall_req *req, int quota, ns_scored *out)
{
    (void)self; (void)req;
    int n = 0;
    for (uint32_t i = 9; i >= 3 && n < quota; i -= 2) out[n++] = (ns_scored){i, 1.0f};
    return n;
}
static const ns_channel_type fixed_type = {"fixed-test", fixed_create, fixed_recall, NULL};

TEST(registered_channel_type_and_provenance)
{
    ASSERT_OK(ns_channel_register(&fixed_type));
    ASSERT_ERR(ns_channel_register(&fixed_type), NS_EEXISTS);
    ns_state *s = make_state();
    ev(s, "u2", "i3", NS_EV_CLICK, T0);
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p,
                              "{\"recall\": [{\"name\": \"f\", \"type\": \"fixed-test\", \"quota\": 4},"
                              " {\"name\": \"pop\", \"type\": \"popular\", \"quota\": 4}],"
                              " \"diversity\": {\"max_per_category\": 0}}",
                              "inline", s));
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_rec_result r;
    recommend_u0(p, T0, &r, &a);
    ASSERT_EQ_INT(r.n, 4); /* i9, i7, i5, i3 */
    ASSERT_EQ_INT(r.items[0].item, 3); /* in both channels: ranked first */
    ASSERT_EQ_INT(r.items[0].channels, 3);
    ASSERT_EQ_INT(r.items[1].item, 9);
    ASSERT_EQ_INT(r.items[1].channels, 1);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    ns_state_free(s);
}

/* Scorers plug in the same way: a registered scorer type ranks the
 * candidates (here by item index, largest first, whatever the recall). */
static int byitem_create(const json_t *params, const char *path, ns_state *st, const char *const *names,
                         int nchannels, void **self)
{
    (void)params; (void)path; (void)st; (void)names; (void)nchannels;
    *self = NULL;
    return 0;
}
static int byitem_score(void *self, const ns_scorer_input *in, float *scores)
{
    (void)self;
    for (int i = 0; i < in->n; i++) scores[i] = (float)in->cands[i].item;
    return 0;
}
static const ns_scorer_type byitem_type = {"byitem-test", byitem_create, byitem_score, NULL, NULL};

TEST(registered_scorer_type_ranks)
{
    ASSERT_OK(ns_scorer_register(&byitem_type));
    ASSERT_ERR(ns_scorer_register(&byitem_type), NS_EEXISTS);
    ASSERT(ns_scorer_find("byitem-test") == &byitem_type);
    ASSERT(ns_scorer_find("no-such-scorer") == NULL);
    ns_state *s = make_state();
    ev(s, "u2", "i3", NS_EV_CLICK, T0);
    ev(s, "u3", "i3", NS_EV_CLICK, T0);
    ev(s, "u2", "i5", NS_EV_CLICK, T0);
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p,
                              "{\"recall\": [{\"name\": \"pop\", \"type\": \"popular\", \"quota\": 4}],"
                              " \"rank\": {\"type\": \"byitem-test\"}, \"diversity\": {\"max_per_category\": 0}}",
                              "inline", s));
    ASSERT_STREQ(ns_pipeline_scorer_name(p), "byitem-test");
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_rec_result r;
    recommend_u0(p, T0, &r, &a);
    ASSERT_EQ_INT(r.n, 2); /* popular proposes i3 (2 clicks), then i5; the scorer puts i5 first */
    ASSERT_EQ_INT(r.items[0].item, 5);
    ASSERT_EQ_INT(r.items[1].item, 3);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    ns_state_free(s);
}

/* A scorer that computes garbage for some candidates: NaN for even items,
 * +Inf for i3, -Inf for i5; the pipeline drops those and counts them. */
static int garbage_score(void *self, const ns_scorer_input *in, float *scores)
{
    (void)self;
    for (int i = 0; i < in->n; i++) {
        uint32_t it = in->cands[i].item;
        scores[i] = it % 2 == 0 ? NAN : it == 3 ? INFINITY : it == 5 ? -INFINITY : (float)it;
    }
    return 0;
}
static const ns_scorer_type garbage_type = {"garbage-test", byitem_create, garbage_score, NULL, NULL};

TEST(nonfinite_scores_dropped_and_counted)
{
    ASSERT_OK(ns_scorer_register(&garbage_type));
    ns_state *s = make_state();
    for (int k = 0; k < 11; k++) {
        char id[8];
        snprintf(id, sizeof id, "i%d", k);
        ev(s, "u2", id, NS_EV_CLICK, T0 + k);
    }
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p,
                              "{\"recall\": [{\"name\": \"pop\", \"type\": \"popular\", \"quota\": 20}],"
                              " \"rank\": {\"type\": \"garbage-test\"}, \"diversity\": {\"max_per_category\": 0}}",
                              "inline", s));
    ASSERT(ns_pipeline_scorer_fallback(p) == NULL);
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_rec_result r;
    recommend_u0(p, T0 + 20, &r, &a);
    /* i0..i10 proposed: i0, i2, ..., i10 (NaN), i3 (+Inf) and i5 (-Inf) dropped; i1, i7, i9 kept */
    ASSERT_EQ_INT(r.nonfinite, 8);
    ASSERT_EQ_INT(r.n, 3);
    for (int i = 0; i < r.n; i++) ASSERT(isfinite(r.items[i].score) && r.items[i].item % 2 == 1);
    ASSERT_EQ_INT(r.items[0].item, 9);
    ASSERT_EQ_INT(ns_pipeline_nonfinite_scores(p), 8);
    recommend_u0(p, T0 + 20, &r, &a);
    ASSERT_EQ_INT(ns_pipeline_nonfinite_scores(p), 16);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    ns_state_free(s);
}

/* Events (writers) and recommendations (readers, sharing the top-list
 * caches) at once on one state; run under ThreadSanitizer by `make tsan`. */
typedef struct { ns_state *s; ns_pipeline *p; int id; int errors; } conc_t;

static void *conc_writer(void *arg)
{
    conc_t *c = arg;
    for (int k = 0; k < 3000; k++) {
        char u[16], i[16];
        snprintf(u, sizeof u, "w%d", k % 50);
        snprintf(i, sizeof i, "i%d", (k * 7 + c->id) % 11);
        ns_event_rec e = {u, i, k % 3 ? NS_EV_IMPRESSION : NS_EV_CLICK, 1, T0 + k, NULL};
        if (ns_state_event(c->s, &e) < 0) c->errors++;
    }
    return NULL;
}

static void *conc_reader(void *arg)
{
    conc_t *c = arg;
    ns_context ctx;
    ns_context_make(&ctx, T0, 0, NULL, NULL);
    ns_arena a;
    ns_arena_init(&a, 0);
    for (int k = 0; k < 300; k++) {
        char u[16];
        snprintf(u, sizeof u, "w%d", k % 60);
        ns_rec_request req = {u, 5, &ctx};
        ns_rec_result r;
        if (ns_pipeline_recommend(c->p, &req, &r, &a) < 0 || r.n < 0 || r.n > 5) c->errors++;
        ns_arena_reset(&a);
    }
    ns_arena_release(&a);
    return NULL;
}

TEST(tsan_events_and_recommendations_concurrently)
{
    ns_state *s = make_state();
    ev(s, "u0", "i1", NS_EV_CLICK, T0);
    ns_pipeline *p;
    ASSERT_OK(ns_pipeline_new(&p, ns_pipeline_default_config(), "default", s));
    pthread_t th[4];
    conc_t c[4];
    for (int k = 0; k < 4; k++) {
        c[k] = (conc_t){s, p, k, 0};
        pthread_create(&th[k], NULL, k < 2 ? conc_writer : conc_reader, &c[k]);
    }
    for (int k = 0; k < 4; k++) pthread_join(th[k], NULL);
    for (int k = 0; k < 4; k++) ASSERT_EQ_INT(c[k].errors, 0);
    ASSERT_EQ_INT(ns_state_events(s), 1 + 2 * 3000);
    ns_pipeline_free(p);
    ns_state_free(s);
}
