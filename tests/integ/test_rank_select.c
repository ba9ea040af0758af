/*
 * test_rank_select.c — `northstar train` on ratings (no impressions) keeps
 * 15% of the users out of the ranker's rows and compares, on them, the
 * ranker with each recall channel alone (nDCG@10 through the serving
 * code); the ranker is served only when it beats every channel (by twice
 * the standard error of the paired difference), else the best channel;
 * pipeline.json records every figure, the choice and why. --no-rank-select skips it; --ranker-drop leaves
 * columns out of the ranker.
 */
#include "integ_harness.h"

#include <jansson.h>
#include <signal.h>

/* 300 users in 3 taste groups, 120 items in 3 blocks: a user rates 25
 * items, mostly of the group's block (ratings all 4-5: positive). */
static void make_store(const char *dir)
{
    char path[1024];
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_puts(&b, "id,title,categories\n");
    for (int i = 0; i < 120; i++) ns_buf_printf(&b, "i%d,Item %d,g%d\n", i, i, i / 40);
    snprintf(path, sizeof path, "%s/items.csv", dir);
    ASSERT_OK(ns_file_write_atomic(path, b.data, b.len));
    ns_buf_release(&b);
    ns_buf_init(&b);
    ns_buf_puts(&b, "user,item,type,value,ts\n");
    ns_rng r;
    ns_rng_seed(&r, 3, 0);
    for (int u = 0; u < 300; u++) {
        uint8_t had[120] = {0};
        for (int k = 0; k < 25; k++) {
            int block = ns_rng_uniform(&r) < 0.85 ? u % 3 : (int)ns_rng_below(&r, 3);
            int i = block * 40 + (int)(ns_rng_uniform(&r) * ns_rng_uniform(&r) * 40); /* skewed within */
            if (had[i]++) continue;
            ns_buf_printf(&b, "u%d,i%d,rating,%d,%d\n", u, i, 4 + (int)ns_rng_below(&r, 2), 1000000 + u * 100 + k);
        }
    }
    snprintf(path, sizeof path, "%s/events.csv", dir);
    ASSERT_OK(ns_file_write_atomic(path, b.data, b.len));
    ns_buf_release(&b);
    ASSERT_EQ_INT(cli_run(NULL, "import csv --db %s/s.db --kind items %s/items.csv", dir, dir), 0);
    ASSERT_EQ_INT(cli_run(NULL, "import csv --db %s/s.db --kind events %s/events.csv", dir, dir), 0);
}

static json_t *load_config(const char *dir, const char *bundle)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/pipeline.json", dir, bundle);
    json_error_t je;
    json_t *c = json_load_file(path, 0, &je);
    ASSERT_MSG(c, "%s: %s", path, je.text);
    return c;
}

TEST(ranker_is_served_only_when_it_beats_every_channel)
{
    const char *dir = ns_test_tmpdir();
    make_store(dir);
    char *out = NULL;
    ASSERT_EQ_INT(cli_run(&out, "train --quiet --db %s/s.db --out %s/b --epochs 2 -j 2 --no-keyword", dir, dir), 0);
    ASSERT_HAS(out, "served order: ");
    free(out);
    json_t *c = load_config(dir, "b");
    json_t *sel = json_object_get(c, "selection"), *nd = json_object_get(sel, "ndcg");
    ASSERT(sel && json_is_object(nd));
    ASSERT_STREQ(json_string_value(json_object_get(sel, "metric")), "ndcg@10");
    ASSERT(json_integer_value(json_object_get(sel, "users")) >= 20);
    /* a figure for the ranker and for every recall channel; the choice is the best */
    size_t nch = json_array_size(json_object_get(c, "recall"));
    ASSERT_EQ_INT(json_object_size(nd), nch + 1);
    /* the ranker only above every channel; else the best channel */
    const char *best = NULL;
    double bv = -1;
    const char *key;
    json_t *v;
    json_object_foreach(nd, key, v) {
        ASSERT(json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) <= 1);
        if (strcmp(key, "ranker") && json_number_value(v) > bv) bv = json_number_value(v), best = key;
    }
    const char *chosen = json_string_value(json_object_get(sel, "chosen"));
    ASSERT(chosen && best);
    if (!strcmp(chosen, "ranker"))
        ASSERT(json_number_value(json_object_get(nd, "ranker")) > bv);
    else
        ASSERT_STREQ(chosen, best);
    ASSERT(json_number_value(json_object_get(nd, "i2i")) > json_number_value(json_object_get(nd, "popular")));
    const char *rank_type = json_string_value(json_object_get(json_object_get(c, "rank"), "type"));
    ASSERT_STREQ(rank_type, !strcmp(chosen, "ranker") ? "wide_deep" : "blend");
    if (strcmp(chosen, "ranker")) { /* ordered by the winner alone */
        json_t *pr = json_object_get(json_object_get(c, "rank"), "params"), *w = json_object_get(pr, "weights");
        ASSERT_EQ_INT(json_object_size(w), 1);
        ASSERT(json_object_get(w, chosen));
        ASSERT_NEAR(json_number_value(json_object_get(pr, "default_weight")), 0, 0);
        ASSERT_NEAR(json_number_value(json_object_get(pr, "ctr_weight")), 0, 0);
    }
    json_decref(c);
    /* the stage-1 models are gone; a turned-down ranker fails --strict, writing no config */
    char p1[1200];
    snprintf(p1, sizeof p1, "%s/b/stage1", dir);
    ASSERT(!ns_file_exists(p1));
    /* a ranker without the channels' evidence cannot beat them */
    ASSERT_EQ_INT(cli_run(&out, "train --quiet --db %s/s.db --out %s/st --epochs 2 -j 2 --no-keyword --strict "
                                "--ranker-drop raw:,ch:,channels,nchannels",
                          dir, dir),
                  1);
    ASSERT_HAS(out, "the ranker is weak");
    free(out);
    snprintf(p1, sizeof p1, "%s/st/pipeline.json", dir);
    ASSERT(!ns_file_exists(p1));
    /* the bundle serves, and says what ranks */
    char db[1200], extra[1300];
    snprintf(db, sizeof db, "%s/s.db", dir);
    snprintf(extra, sizeof extra, "--models %s/b", dir);
    server s = start(db, extra);
    ns_http_client *hc = ns_http_client_new("127.0.0.1", s.port, 10);
    json_t *rj = get_json(hc, "/v1/recommend/u1?n=10", 200);
    ASSERT_EQ_INT(json_array_size(json_object_get(rj, "items")), 10);
    json_decref(rj);
    ns_http_client_free(hc);
    ASSERT_EQ_INT(stop(&s, SIGTERM), 0);
    /* without the comparison: the ranker, no "selection" */
    ASSERT_EQ_INT(cli_run(NULL, "train --quiet --db %s/s.db --out %s/n --epochs 2 -j 2 --no-keyword --no-rank-select "
                                "--ranker-drop raw:,item",
                          dir, dir),
                  0);
    c = load_config(dir, "n");
    ASSERT(!json_object_get(c, "selection"));
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(c, "rank"), "type")), "wide_deep");
    json_decref(c);
    ASSERT_EQ_INT(cli_run(&out, "rank inspect %s/n/ranker.safetensors", dir), 0);
    ASSERT(!strstr(out, "raw:i2i"));
    ASSERT_HAS(out, "ch:i2i");
    free(out);
}
