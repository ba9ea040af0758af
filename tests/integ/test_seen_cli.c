/*
 * test_seen_cli.c — what the service serves is what the user has not
 * consumed, through the real binary: a generic CSV store with ratings
 * 1..5 (and a few dislikes), `northstar train` (no --implicit-ratings),
 * `northstar serve --models DIR` with no flag: no user is ever served an
 * item they rated, whatever the rating (the bundle's pipeline.json says
 * how to read the data; a contradicting serve flag is refused). Then the
 * request filters exclude= and category=, and a dislike posted live.
 */
#include "integ_harness.h"

#include <jansson.h>

enum { NUSERS = 40, NITEMS = 120, PER_USER = 30 };
static const char *const cats[] = {"drama", "comedy", "action"};

/* rated[u][i]: user u sent an event about item i (rating, or dislike). */
static unsigned char rated[NUSERS][NITEMS];
/* The latest feedback: stars 1..5, -1 a dislike. */
static int last_stars[NUSERS][NITEMS];

static void write_store(const char *db)
{
    const char *items = ns_test_tmpfile("seen-items.csv"), *events = ns_test_tmpfile("seen-events.csv");
    FILE *f = fopen(items, "w");
    ASSERT(f);
    fprintf(f, "id,title,categories\n");
    for (int i = 0; i < NITEMS; i++) fprintf(f, "m%d,Film %d,%s\n", i, i, cats[i % 3]);
    fclose(f);
    f = fopen(events, "w");
    ASSERT(f);
    fprintf(f, "user,item,type,value,ts\n");
    ns_rng rng;
    ns_rng_seed(&rng, 7, 1);
    double ts = 1.6e9;
    for (int u = 0; u < NUSERS; u++) {
        for (int k = 0; k < PER_USER; k++) {
            /* popular items first: the head is what popularity would serve back */
            int i = (int)(ns_rng_below(&rng, 4) ? ns_rng_below(&rng, 40) : ns_rng_below(&rng, NITEMS));
            int stars = 1 + (int)ns_rng_below(&rng, 5);
            fprintf(f, "u%d,m%d,rating,%d,%.0f\n", u, i, stars, ts += 60);
            rated[u][i] = 1;
            last_stars[u][i] = stars;
        }
        if (u % 4 == 0) { /* explicit negative feedback, imported */
            int i = (int)ns_rng_below(&rng, 40);
            fprintf(f, "u%d,m%d,dislike,1,%.0f\n", u, i, ts += 60);
            rated[u][i] = 1;
            last_stars[u][i] = -1;
        }
    }
    fclose(f);
    free(cli_expect(0, "import csv --db '%s' --kind items --sync normal '%s'", db, items));
    free(cli_expect(0, "import csv --db '%s' --kind events --sync normal '%s'", db, events));
}

static int item_index(const char *id)
{
    ASSERT_MSG(id && id[0] == 'm', "unexpected item id %s", id ? id : "(null)");
    return atoi(id + 1);
}

/* GET /v1/recommend for every user: no rated item ever; returns the served count. */
static int serve_all_users(ns_http_client *c, int *already_rated)
{
    int served = 0;
    *already_rated = 0;
    for (int u = 0; u < NUSERS; u++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/recommend/u%d?n=20", u);
        json_t *j = get_json(c, path, 200);
        json_t *items = json_object_get(j, "items"), *it;
        size_t k;
        json_array_foreach(items, k, it)
        {
            int i = item_index(json_string_value(json_object_get(it, "id")));
            served++;
            if (rated[u][i]) (*already_rated)++;
        }
        json_decref(j);
    }
    return served;
}

TEST(no_rated_item_is_served_and_contradicting_flag_is_refused)
{
    const char *db = ns_test_tmpfile("seen.db"), *models = ns_test_tmpfile("seen-models");
    write_store(db);
    free(cli_expect(0, "train --quiet --db '%s' --out '%s' --no-vectors --epochs 2 -j 2", db, models));
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/pipeline.json", models);
    json_t *pj = json_load_file(cfg, 0, NULL);
    ASSERT(pj);
    json_t *data = json_object_get(pj, "data");
    ASSERT_MSG(data, "the bundle's pipeline.json has no data object");
    ASSERT(json_is_false(json_object_get(data, "implicit_ratings")));
    ASSERT_NEAR(json_number_value(json_object_get(data, "positive_threshold")), 3.5, 0);
    json_decref(pj);

    char extra[1024];
    snprintf(extra, sizeof extra, "--models '%s'", models);
    server s = start(db, extra);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    int bad, served = serve_all_users(c, &bad);
    printf("  %d items served to %d users, %d already rated\n", served, NUSERS, bad);
    ASSERT(served >= NUSERS * 10); /* lists are there: the filter is not emptying them */
    ASSERT_EQ_INT(bad, 0);
    json_t *u0 = get_json(c, "/v1/users/u0", 200);
    ASSERT(json_integer_value(json_object_get(u0, "negative")) >= 1);
    ASSERT(json_integer_value(json_object_get(u0, "seen")) ==
           json_integer_value(json_object_get(u0, "positive")) + json_integer_value(json_object_get(u0, "negative")));
    json_decref(u0);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);

    /* The bundle says ratings are not all positive: the contrary flag is refused, naming both. */
    char *out = cli_expect(1, "serve --quiet --port 0 --db '%s' --models '%s' --implicit-ratings", db, models);
    ASSERT_HAS(out, "--implicit-ratings");
    ASSERT_HAS(out, "data.implicit_ratings is false");
    free(out);

    /* A bundle trained with --implicit-ratings: --no-implicit-ratings is refused, the same flag accepted. */
    const char *models2 = ns_test_tmpfile("seen-models-implicit");
    free(cli_expect(0, "train --quiet --db '%s' --out '%s' --implicit-ratings --no-vectors --no-ranker -j 2", db,
                    models2));
    out = cli_expect(1, "serve --quiet --port 0 --db '%s' --models '%s' --no-implicit-ratings", db, models2);
    ASSERT_HAS(out, "--no-implicit-ratings");
    ASSERT_HAS(out, "data.implicit_ratings is true");
    free(out);
    snprintf(extra, sizeof extra, "--models '%s' --implicit-ratings", models2);
    s = start(db, extra);
    c = ns_http_client_new("127.0.0.1", s.port, 10);
    served = serve_all_users(c, &bad);
    ASSERT(served >= NUSERS * 10);
    ASSERT_EQ_INT(bad, 0); /* consumed means seen, whatever counts as positive */
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}

static json_t *recommend(ns_http_client *c, const char *path, int want)
{
    json_t *j = get_json(c, path, want);
    ASSERT(j);
    return j;
}

static int served_has(json_t *j, const char *id)
{
    json_t *it;
    size_t k;
    json_array_foreach(json_object_get(j, "items"), k, it) if (!strcmp(json_string_value(json_object_get(it, "id")), id))
        return 1;
    return 0;
}

TEST(exclude_category_and_dislike)
{
    const char *db = ns_test_tmpfile("seen2.db"), *models = ns_test_tmpfile("seen2-models");
    write_store(db);
    free(cli_expect(0, "train --quiet --db '%s' --out '%s' --no-vectors --no-ranker -j 2", db, models));
    char extra[1024];
    snprintf(extra, sizeof extra, "--models '%s'", models);
    server s = start(db, extra);
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);

    json_t *j = recommend(c, "/v1/recommend/u1?n=10", 200);
    ASSERT(json_array_size(json_object_get(j, "items")) >= 3);
    char first[32], second[32];
    snprintf(first, sizeof first, "%s", json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id")));
    snprintf(second, sizeof second, "%s", json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 1), "id")));
    json_decref(j);

    /* exclude=: given ids leave the list; unknown ones are ignored and counted. */
    char path[8192];
    snprintf(path, sizeof path, "/v1/recommend/u1?n=10&exclude=%s,no-such-film,%s,", first, second);
    j = recommend(c, path, 200);
    ASSERT(!served_has(j, first) && !served_has(j, second));
    ASSERT_EQ_INT(json_integer_value(json_object_get(j, "exclude_unknown")), 1);
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "items")), 10);
    json_decref(j);
    int k = snprintf(path, sizeof path, "/v1/recommend/u1?exclude=");
    for (int i = 0; i < 1001; i++) k += snprintf(path + k, sizeof path - (size_t)k, "%sx", i ? "," : "");
    j = recommend(c, path, 400);
    ASSERT_HAS(json_string_value(json_object_get(json_object_get(j, "error"), "field")), "exclude");
    json_decref(j);

    /* category=: only items in one of them; an unknown category is 400 naming it. */
    j = recommend(c, "/v1/recommend/u1?n=10&category=comedy,action", 200);
    json_t *it;
    size_t x;
    ASSERT(json_array_size(json_object_get(j, "items")) >= 5);
    json_array_foreach(json_object_get(j, "items"), x, it)
    {
        const char *cat = json_string_value(json_array_get(json_object_get(it, "categories"), 0));
        ASSERT_MSG(cat && (!strcmp(cat, "comedy") || !strcmp(cat, "action")), "category=comedy,action served %s",
                   cat ? cat : "(none)");
    }
    json_decref(j);
    j = recommend(c, "/v1/recommend/u1?category=comedy,westerns", 400);
    ASSERT_HAS(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "westerns");
    json_decref(j);

    /* A dislike posted live: the item is seen (never served again) and negative. */
    char body[256];
    int blen = snprintf(body, sizeof body, "{\"user\": \"u1\", \"item\": \"%s\", \"type\": \"dislike\", \"ts\": 1700000000}", first);
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "POST", "/v1/events", "application/json", body, (size_t)blen, &r, &n), 200);
    j = recommend(c, "/v1/recommend/u1?n=20", 200);
    ASSERT(!served_has(j, first));
    json_decref(j);
    json_t *u = get_json(c, "/v1/users/u1", 200);
    ASSERT(json_integer_value(json_object_get(u, "negative")) >= 1);
    json_decref(u);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}

/* Replace the first occurrence of `from` in the file with `to`. */
static void edit_file(const char *path, const char *from, const char *to)
{
    char *text;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &text, &len, 1 << 20));
    char *at = strstr(text, from);
    ASSERT_MSG(at, "%s has no '%s'", path, from);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fprintf(f, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    fclose(f);
    free(text);
}

TEST(train_records_data_and_reload_keeps_it)
{
    const char *db = ns_test_tmpfile("seen3.db"), *models = ns_test_tmpfile("seen3-models");
    write_store(db);
    char *out = cli_expect(2, "train --quiet --db '%s' --out '%s' --weights impression=2", db, models);
    ASSERT_HAS(out, "--weights");
    free(out);
    free(cli_expect(2, "train --quiet --db '%s' --out '%s' --weights purchase=x", db, models));
    free(cli_expect(0, "train --quiet --db '%s' --out '%s' --no-vectors --no-ranker --positive-threshold 5 "
                       "--weights click=1,purchase=3 -j 2",
                    db, models));
    char cfg[512];
    snprintf(cfg, sizeof cfg, "%s/pipeline.json", models);
    json_t *pj = json_load_file(cfg, 0, NULL), *data = json_object_get(pj, "data");
    ASSERT(data);
    ASSERT_NEAR(json_number_value(json_object_get(data, "positive_threshold")), 5, 0);
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(data, "weights"), "purchase")), 3, 0);
    ASSERT_NEAR(json_number_value(json_object_get(json_object_get(data, "weights"), "click")), 1, 0);
    json_decref(pj);

    char extra[1024];
    snprintf(extra, sizeof extra, "--models '%s' --admin-token tok", models);
    server s = start(db, extra);
    static char buf[1 << 16];
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/reload", "tok", buf, sizeof buf), 200);
    /* The served state reads ratings by the bundle's threshold (5): 4 stars and less are negative. */
    ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
    for (int u = 0; u < NUSERS; u += 7) {
        int pos = 0, neg = 0;
        for (int i = 0; i < NITEMS; i++) {
            if (!rated[u][i]) continue;
            if (last_stars[u][i] >= 5) pos++;
            else neg++;
        }
        char path[64];
        snprintf(path, sizeof path, "/v1/users/u%d", u);
        json_t *j = get_json(c, path, 200);
        ASSERT_EQ_INT(json_integer_value(json_object_get(j, "positive")), pos);
        ASSERT_EQ_INT(json_integer_value(json_object_get(j, "negative")), neg);
        json_decref(j);
    }
    /* The state was built with these settings: a config that reads the data otherwise is refused. */
    edit_file(cfg, "\"implicit_ratings\": false", "\"implicit_ratings\": true");
    ASSERT_EQ_INT(raw_request(s.port, "POST", "/admin/reload", "tok", buf, sizeof buf), 422);
    ASSERT_MSG(strstr(buf, "restart"), "reload refusal should say to restart: %s", buf);
    int bad, served = serve_all_users(c, &bad); /* the pipeline in force still serves */
    ASSERT(served >= NUSERS * 10);
    ASSERT_EQ_INT(bad, 0);
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}
