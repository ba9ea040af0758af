/*
 * bench_i2i_history.c — cost of one recommendation from the "i2i" channel
 * for a user with a long history, through the in-process API the service
 * calls (ns_pipeline_recommend: recall, merge, seen filter, blend rank).
 * An EASE model is trained on a random log over ITEMS items (NEIGHBOURS
 * weights kept per row, 0 = all: the dense model of `eval movielens`); one
 * user then clicks HISTORY distinct items; the request is repeated REPS
 * times on ONE thread. Prints p50 / p90 / p99 / max in ms as one JSON line.
 *
 * usage: bench_i2i_history [ITEMS] [HISTORY] [NEIGHBOURS] [REPS]
 *        (defaults 5000 2000 200 2000)
 */
#include "northstar/base.h"
#include "northstar/i2i.h"
#include "northstar/pipeline.h"
#include "northstar/state.h"

#include <stdio.h>
#include <stdlib.h>

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_i2i_history: %s: %s\n", what, ns_err_msg());
    return 1;
}

/* EASE on a random log: 4 users per item, 30 items each. */
static int train_model(int items, int neighbours, const char *path)
{
    ns_ilog l;
    ns_ilog_init(&l);
    char u[32], it[32];
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    for (int i = 0; i < items; i++) {
        snprintf(it, sizeof it, "i%d", i);
        ns_ilog_item(&l, it);
    }
    for (int k = 0; k < 4 * items; k++) {
        snprintf(u, sizeof u, "u%d", k);
        for (int j = 0; j < 30; j++) {
            snprintf(it, sizeof it, "i%u", (unsigned)(ns_rng_u64(&r) % (uint64_t)items));
            if (ns_ilog_add(&l, u, it, j) < 0) return -1;
        }
    }
    ns_i2i_opts o = ns_i2i_defaults();
    o.neighbours = neighbours;
    o.max_items = items;
    ns_i2i *m;
    int rc = ns_ilog_index(&l);
    if (rc >= 0) rc = ns_i2i_train(&m, &l, &o);
    ns_ilog_release(&l);
    if (rc < 0) return rc;
    rc = ns_i2i_save(m, path);
    ns_i2i_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    int items = argc > 1 ? atoi(argv[1]) : 5000, hist = argc > 2 ? atoi(argv[2]) : 2000;
    int neighbours = argc > 3 ? atoi(argv[3]) : 200, reps = argc > 4 ? atoi(argv[4]) : 2000;
    if (items < 2 || hist < 1 || hist >= items || neighbours < 0 || reps < 1) {
        fprintf(stderr, "usage: bench_i2i_history [ITEMS] [HISTORY < ITEMS] [NEIGHBOURS] [REPS]\n");
        return 2;
    }
    ns_log_set_level(NS_LOG_WARN);
    ns_set_quiet(1);
    char path[] = "/tmp/bench_i2i_history.safetensors";
    if (train_model(items, neighbours, path) < 0) return die("train");
    ns_set_threads(1);
    ns_state *st = ns_state_new(NULL);
    char it[32];
    for (int i = 0; i < items; i++) {
        snprintf(it, sizeof it, "i%d", i);
        if (ns_state_put_item(st, &(ns_item_rec){.id = it}, NULL) < 0) return die("item");
    }
    for (int i = 0; i < hist; i++) { /* every other item, then on from the start */
        snprintf(it, sizeof it, "i%d", (2 * i) % items + (2 * i >= items));
        ns_event_rec ev = {.user = "heavy", .item = it, .type = NS_EV_CLICK, .value = 1, .ts = 1000 + i};
        if (ns_state_event(st, &ev) < 0) return die("event");
    }
    char cfg[512];
    snprintf(cfg, sizeof cfg,
             "{\"recall\": [{\"name\": \"ease\", \"type\": \"i2i\", \"quota\": 200, \"params\": {\"model_file\": \"%s\"}}],"
             " \"rank\": {\"type\": \"blend\"}, \"diversity\": {\"max_per_category\": 0}}",
             path);
    ns_pipeline *p;
    if (ns_pipeline_new(&p, cfg, "bench", st) < 0) return die("pipeline");
    ns_context ctx = {.ts = 2000};
    ns_rec_request rq = {.user = "heavy", .n = 10, .ctx = &ctx};
    ns_arena a;
    ns_arena_init(&a, 0);
    double *ms = malloc(sizeof *ms * (size_t)reps);
    int got = 0;
    for (int k = 0; k < reps; k++) {
        ns_rec_result res;
        double t0 = ns_now();
        if (ns_pipeline_recommend(p, &rq, &res, &a) < 0) return die("recommend");
        ms[k] = (ns_now() - t0) * 1e3;
        got = res.n;
        ns_arena_reset(&a);
    }
    qsort(ms, (size_t)reps, sizeof *ms, cmp_d);
    ns_user_view uv;
    uint32_t ui;
    ns_state_find_user(st, "heavy", &ui);
    ns_state_rdlock(st);
    ns_state_user(st, ui, &uv);
    ns_state_unlock(st);
    printf("{\"bench\":\"i2i_history\",\"items\":%d,\"history\":%u,\"neighbours\":%d,\"served\":%d,\"reps\":%d,"
           "\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f}\n",
           items, uv.nseen, neighbours, got, reps, ms[reps / 2], ms[reps * 9 / 10], ms[reps * 99 / 100], ms[reps - 1]);
    free(ms);
    ns_arena_release(&a);
    ns_pipeline_free(p);
    ns_state_free(st);
    remove(path);
    return 0;
}
