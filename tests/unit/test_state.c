/* test_state.c — what the state keeps of a user's history: the seen set
 * (every consumed item), the positive and negative sets, what negatives do
 * not count (popularity, co-clicks, recent items), per-type weights, the
 * seen filter's event types; the config's "data" object and filters.seen;
 * the request filters exclude= and category= of the pipeline. */
#include "harness.h"
#include "northstar/pipeline.h"

static const double T0 = 1.7e9;

enum { NU = 23, NI = 151 };

static ns_state *make_state(const ns_state_opts *o)
{
    ns_state *s = ns_state_new(o);
    ASSERT(s);
    ns_state_set_refresh(s, 0);
    for (int i = 0; i < NI; i++) {
        char id[16];
        snprintf(id, sizeof id, "i%d", i);
        ns_item_rec it = {id, id, NULL, i % 3 == 0 ? "A" : i % 3 == 1 ? "B" : "C|A", NULL, NULL, 0};
        ASSERT_OK(ns_state_put_item(s, &it, NULL));
    }
    return s;
}

static void event(ns_state *s, int u, int i, int type, double value, double ts)
{
    char uid[16], iid[16];
    snprintf(uid, sizeof uid, "u%d", u);
    snprintf(iid, sizeof iid, "i%d", i);
    ns_event_rec e = {uid, iid, type, value, ts, NULL};
    ASSERT_OK(ns_state_event(s, &e));
}

/* The naive twin: a dense table of what each user sent about each item. */
typedef struct {
    unsigned types[NU][NI]; /* 1u << type, impressions left out */
    int last[NU][NI];       /* latest polarity: 1, -1, 0 none */
    uint64_t positives[NI];
    double weight[NI];
} twin_t;

static void twin_event(twin_t *t, const ns_state_data *d, int u, int i, int type, double value)
{
    if (type != NS_EV_IMPRESSION) t->types[u][i] |= 1u << type;
    int pol = type == NS_EV_DISLIKE ? -1
              : type == NS_EV_RATING ? (d->implicit_ratings || value >= d->positive_threshold ? 1 : -1)
              : type == NS_EV_IMPRESSION ? 0 : 1;
    if (pol) t->last[u][i] = pol;
    if (pol > 0) {
        t->positives[i]++;
        t->weight[i] += d->weights[type];
    }
}

/* Every set of every user equals the twin's, sorted and distinct. */
static void check_against_twin(ns_state *s, const twin_t *t)
{
    ns_state_rdlock(s);
    for (int u = 0; u < NU; u++) {
        char uid[16];
        snprintf(uid, sizeof uid, "u%d", u);
        uint32_t ui;
        if (!ns_state_find_user_locked(s, uid, &ui)) continue;
        ns_user_view v;
        ns_state_user(s, ui, &v);
        uint32_t ks = 0, kp = 0, kn = 0;
        for (uint32_t i = 0; i < NI; i++) {
            if (t->types[u][i]) {
                ASSERT_MSG(ks < v.nseen && v.seen[ks] == i, "user %d: seen item %u missing", u, i);
                ks++;
            }
            ASSERT_EQ_INT(ns_state_seen_types(s, ui, i), t->types[u][i]);
            ASSERT_EQ_INT(ns_state_has_seen(s, ui, i), t->types[u][i] != 0);
            if (t->last[u][i] > 0) {
                ASSERT_MSG(kp < v.npos && v.pos[kp] == i, "user %d: positive item %u missing", u, i);
                kp++;
            }
            if (t->last[u][i] < 0) {
                ASSERT_MSG(kn < v.nneg && v.neg[kn] == i, "user %d: negative item %u missing", u, i);
                kn++;
            }
        }
        ASSERT_EQ_INT(v.nseen, ks);
        ASSERT_EQ_INT(v.npos, kp);
        ASSERT_EQ_INT(v.nneg, kn);
        for (int r = 0; r < v.nrecent; r++) /* recent items are positives */
            ASSERT_MSG(t->last[u][v.recent[r]] > 0, "user %d: recent item %u is not positive", u, v.recent[r]);
    }
    for (uint32_t i = 0; i < NI; i++) {
        ns_item_view iv;
        ns_state_item(s, i, &iv);
        ASSERT_EQ_INT(iv.positives, t->positives[i]);
        ASSERT_NEAR(iv.weight, t->weight[i], 1e-9);
    }
    ns_state_unlock(s);
}

static void random_stream(const ns_state_opts *o, uint64_t seed)
{
    ns_state *s = make_state(o);
    ns_state_data d = ns_state_data_defaults();
    if (o) {
        d = o->data;
        ns_state_data_complete(&d);
    }
    twin_t *t = ns_calloc(1, sizeof *t);
    ASSERT(t);
    ns_rng rng;
    ns_rng_seed(&rng, seed, 1);
    for (int k = 0; k < 6000; k++) {
        int u = (int)ns_rng_below(&rng, NU), i = (int)ns_rng_below(&rng, NI);
        int type = (int)ns_rng_below(&rng, NS_EV__COUNT);
        double value = type == NS_EV_RATING ? (double)(1 + ns_rng_below(&rng, 5)) : 1;
        event(s, u, i, type, value, T0 + k);
        twin_event(t, &d, u, i, type, value);
        if (k % 1500 == 1499) check_against_twin(s, t);
    }
    check_against_twin(s, t);
    free(t);
    ns_state_free(s);
}

TEST(seen_pos_neg_equal_naive_twin)
{
    random_stream(NULL, 1);
    ns_state_opts o = {0};
    o.data.implicit_ratings = 1;
    random_stream(&o, 2);
    ns_state_opts w = {0};
    w.data.positive_threshold = 4;
    w.data.weights[NS_EV_PURCHASE] = 5;
    w.data.weights[NS_EV_CLICK] = 0.5;
    random_stream(&w, 3);
}

TEST(low_rating_is_seen_negative_and_counts_nothing)
{
    ns_state *s = make_state(NULL);
    event(s, 0, 5, NS_EV_RATING, 1, T0);     /* u0 hated i5 */
    event(s, 0, 6, NS_EV_RATING, 5, T0 + 1); /* and loved i6 */
    event(s, 1, 6, NS_EV_RATING, 5, T0 + 2);
    event(s, 1, 5, NS_EV_RATING, 2, T0 + 3);
    event(s, 2, 7, NS_EV_CLICK, 1, T0 + 4);
    event(s, 2, 7, NS_EV_DISLIKE, 1, T0 + 5); /* clicked, then "not interested" */
    ns_state_rdlock(s);
    ns_user_view v;
    ns_state_user(s, 0, &v);
    ASSERT_EQ_INT(v.nseen, 2);
    ASSERT_EQ_INT(v.npos, 1);
    ASSERT_EQ_INT(v.pos[0], 6);
    ASSERT_EQ_INT(v.nneg, 1);
    ASSERT_EQ_INT(v.neg[0], 5);
    ASSERT_EQ_INT(v.nrecent, 1);
    ASSERT(ns_state_has_seen(s, 0, 5));
    ns_scored top[8];
    int n = ns_state_top_popular(s, top, 8);
    ASSERT_EQ_INT(n, 2); /* i6 (2) and i7 (its click) */
    ASSERT_EQ_INT(top[0].item, 6);
    /* No co-click between i5 and i6: u1 rated i5 low after i6. */
    n = ns_state_similar(s, 6, top, 8);
    ASSERT_EQ_INT(n, 0);
    ns_state_user(s, 2, &v);
    ASSERT_EQ_INT(v.npos, 0);
    ASSERT_EQ_INT(v.nneg, 1);
    ASSERT_EQ_INT(v.nrecent, 0); /* the disliked item left the recent items */
    ASSERT_EQ_INT(ns_state_seen_types(s, 2, 7), (1u << NS_EV_CLICK) | (1u << NS_EV_DISLIKE));
    ns_state_unlock(s);
    ns_state_free(s);
}

TEST(weights_count_in_popularity_and_cooc)
{
    ns_state_opts o = {0};
    o.data.weights[NS_EV_PURCHASE] = 4;
    ns_state *s = make_state(&o);
    event(s, 0, 1, NS_EV_CLICK, 1, T0);
    event(s, 1, 1, NS_EV_CLICK, 1, T0 + 1);
    event(s, 2, 2, NS_EV_PURCHASE, 1, T0 + 2); /* one purchase outweighs two clicks */
    ns_state_rdlock(s);
    ns_scored top[4];
    int n = ns_state_top_popular(s, top, 4);
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(top[0].item, 2);
    ASSERT_NEAR(top[0].score, 4, 1e-6);
    ASSERT_NEAR(top[1].score, 2, 1e-6);
    ns_state_unlock(s);
    ns_state_free(s);
}

TEST(seen_filter_types)
{
    ns_state *s = make_state(NULL);
    event(s, 0, 1, NS_EV_CLICK, 1, T0);
    event(s, 0, 2, NS_EV_PURCHASE, 1, T0 + 1);
    event(s, 0, 3, NS_EV_IMPRESSION, 1, T0 + 2);
    ns_state_rdlock(s);
    ASSERT(ns_state_has_seen(s, 0, 1) && ns_state_has_seen(s, 0, 2) && !ns_state_has_seen(s, 0, 3));
    ns_state_set_seen_filter(s, 1u << NS_EV_PURCHASE);
    ASSERT(!ns_state_has_seen(s, 0, 1) && ns_state_has_seen(s, 0, 2));
    ns_state_set_seen_filter(s, 0);
    ASSERT(!ns_state_has_seen(s, 0, 2));
    ns_state_unlock(s);
    ns_state_free(s);
}

static const char cfg_head[] = "{\"recall\": [{\"name\": \"popular\", \"type\": \"popular\", \"quota\": 200}], "
                               "\"diversity\": {\"max_per_category\": 0}";

static ns_pipeline *pipeline_with(ns_state *s, const char *tail)
{
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s%s}", cfg_head, tail);
    ns_pipeline *p = NULL;
    ASSERT_OK(ns_pipeline_new(&p, cfg, "test", s));
    return p;
}

TEST(config_data_and_seen_filter)
{
    ns_state_data d;
    int present = -1;
    ASSERT_OK(ns_pipeline_config_data("{}", "t", &d, &present));
    ASSERT_EQ_INT(present, 0);
    ASSERT_NEAR(d.positive_threshold, 3.5, 0);
    ASSERT_OK(ns_pipeline_config_data("{\"data\": {\"implicit_ratings\": true, \"positive_threshold\": 4, "
                                      "\"weights\": {\"purchase\": 3}}}",
                                      "t", &d, &present));
    ASSERT(present && d.implicit_ratings);
    ASSERT_NEAR(d.positive_threshold, 4, 0);
    ASSERT_NEAR(d.weights[NS_EV_PURCHASE], 3, 0);
    ASSERT_NEAR(d.weights[NS_EV_CLICK], 1, 0);
    ASSERT_ERR_HAS(ns_pipeline_config_data("{\"data\": {\"implicit\": true}}", "t", &d, &present), NS_EINVAL,
                   "data.implicit");
    ASSERT_ERR_HAS(ns_pipeline_config_data("{\"data\": {\"weights\": {\"impression\": 2}}}", "t", &d, &present),
                   NS_EINVAL, "impression");
    ASSERT_ERR_HAS(ns_pipeline_config_data("{\"data\": {\"weights\": {\"click\": -1}}}", "t", &d, &present),
                   NS_EINVAL, "click");

    ns_state *s = make_state(NULL);
    ns_pipeline *p;
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s, \"filters\": {\"seen\": [\"impression\"]}}", cfg_head);
    ASSERT_ERR_HAS(ns_pipeline_new(&p, cfg, "t", s), NS_EINVAL, "filters.seen");
    snprintf(cfg, sizeof cfg, "%s, \"filters\": {\"seen\": [\"clik\"]}}", cfg_head);
    ASSERT_ERR_HAS(ns_pipeline_new(&p, cfg, "t", s), NS_EINVAL, "filters.seen");
    snprintf(cfg, sizeof cfg, "%s, \"filters\": {\"seen\": 1}}", cfg_head);
    ASSERT_ERR_HAS(ns_pipeline_new(&p, cfg, "t", s), NS_EINVAL, "filters.seen");

    /* u0 clicked i0, purchased i1, rated i2 one star; everyone clicks i0..i9. */
    for (int u = 1; u < 5; u++)
        for (int i = 0; i < 10; i++) event(s, u, i, NS_EV_CLICK, 1, T0 + i);
    event(s, 0, 0, NS_EV_CLICK, 1, T0 + 20);
    event(s, 0, 1, NS_EV_PURCHASE, 1, T0 + 21);
    event(s, 0, 2, NS_EV_RATING, 1, T0 + 22);
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, T0 + 30, 0, NULL, NULL));
    ns_rec_request rq = {"u0", 50, &ctx};
    ns_arena a;
    ns_arena_init(&a, 0);
    struct { const char *filters; int served[3]; } cases[] = {
        {"", {0, 0, 0}},
        {", \"filters\": {\"seen\": true}", {0, 0, 0}},
        {", \"filters\": {\"seen\": false}", {1, 1, 1}},
        {", \"filters\": {\"seen\": [\"purchase\"]}", {1, 0, 1}},
        {", \"filters\": {\"seen\": [\"click\", \"rating\"]}", {0, 1, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        p = pipeline_with(s, cases[c].filters);
        ns_rec_result r;
        ASSERT_OK(ns_pipeline_recommend(p, &rq, &r, &a));
        for (uint32_t i = 0; i < 3; i++) {
            int got = 0;
            for (int k = 0; k < r.n; k++) got |= r.items[k].item == i;
            ASSERT_MSG(got == cases[c].served[i], "config%s: item i%u served %d, want %d", cases[c].filters, i, got,
                       cases[c].served[i]);
        }
        ns_pipeline_free(p);
    }
    ns_arena_release(&a);
    ns_state_free(s);
}

TEST(request_exclude_and_category)
{
    ns_state *s = make_state(NULL);
    for (int u = 1; u < 5; u++)
        for (int i = 0; i < 30; i++) event(s, u, i, NS_EV_CLICK, 1, T0 + i);
    ns_pipeline *p = pipeline_with(s, "");
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, T0 + 40, 0, NULL, NULL));
    ns_rec_request rq = {"u0", 50, &ctx};
    ns_arena a;
    ns_arena_init(&a, 0);
    uint32_t excl[] = {3, 4, 17};
    uint32_t cat;
    ASSERT(ns_state_find_category(s, "B", &cat));
    ASSERT(!ns_state_find_category(s, "Z", &(uint32_t){0}));
    ns_rec_filters f = {excl, 3, NULL, 0};
    ns_rec_result r;
    ASSERT_OK(ns_pipeline_recommend_filtered(p, &rq, &f, &r, &a));
    ASSERT_EQ_INT(r.n, 27);
    for (int k = 0; k < r.n; k++) ASSERT(r.items[k].item != 3 && r.items[k].item != 4 && r.items[k].item != 17);
    ns_rec_filters fc = {NULL, 0, &cat, 1};
    ASSERT_OK(ns_pipeline_recommend_filtered(p, &rq, &fc, &r, &a));
    ASSERT_EQ_INT(r.n, 10); /* i1, i4, ..., i28 */
    for (int k = 0; k < r.n; k++) ASSERT_EQ_INT(r.items[k].item % 3, 1);
    ns_pipeline_free(p);
    ns_arena_release(&a);
    ns_state_free(s);
}

typedef struct {
    int col, rows;
    double v;
} neg_col;

static int read_neg(uint32_t item, int is_cand, const ns_fvalue *row, int ncols, void *ctx)
{
    (void)item;
    (void)is_cand;
    neg_col *x = ctx;
    ASSERT(x->col < ncols);
    x->v = row[x->col].num;
    x->rows++;
    return 0;
}

TEST(ranker_feature_user_negatives)
{
    ns_state *s = make_state(NULL);
    for (int i = 0; i < 20; i++) event(s, 1, i, NS_EV_CLICK, 1, T0 + i);
    event(s, 0, 1, NS_EV_RATING, 2, T0 + 30);
    event(s, 0, 2, NS_EV_DISLIKE, 1, T0 + 31);
    event(s, 0, 3, NS_EV_RATING, 5, T0 + 32);
    ns_pipeline *p = pipeline_with(s, "");
    char **names;
    int n;
    ASSERT_OK(ns_pipeline_feature_columns(p, &names, &n));
    neg_col x = {-1, 0, -1};
    for (int j = 0; j < n; j++) {
        if (!strcmp(names[j], "user_negatives")) x.col = j;
        free(names[j]);
    }
    free(names);
    ASSERT(x.col >= 0);
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, T0 + 40, 0, NULL, NULL));
    ns_example_req r = {"u0", &ctx, NULL, 0, 1};
    ASSERT_OK(ns_pipeline_examples(p, &r, read_neg, &x));
    ASSERT(x.rows > 0);
    ASSERT_NEAR(x.v, 2, 0);
    ns_pipeline_free(p);
    ns_state_free(s);
}
