/*
 * northstar/evaluate.h — layer 6: `northstar eval`: the recommendation
 * service judged through the product, on any data set.
 *
 * One path, the one a user would take by hand:
 *   1. the data (a store, MovieLens-100K files, or CSV / JSONL files of
 *      users, items and events as `northstar import` reads them) is read
 *      into a scratch store and a data set;
 *   2. the positive events are split per user with ns_eval_split (eval.h:
 *      ratio 0.75, seed 42 by default) over distinct (user, item) pairs:
 *      an event that repeats a pair goes with the pair's first event;
 *      events that are not positive feedback (impressions, low ratings)
 *      stay in training as history;
 *   3. the catalogue and the training events are written to a training
 *      store, and `northstar train`'s code (ns_bundle_train) trains a
 *      bundle from it;
 *   4. the real service (ns_service_start, what `northstar serve --db
 *      TRAIN --models BUNDLE` runs) listens on a loopback port chosen by
 *      the system, and a few client threads ask GET /v1/recommend/{user}?n=k
 *      over HTTP for every user with test items;
 *   5. the answers are scored: Precision/Recall/nDCG/MAP at k (eval.h),
 *      coverage (distinct items served / catalogue), the items served that
 *      the user had already consumed in training (any event but a bare
 *      impression), failed requests, and the client-side latency p50/p99.
 * Row "served" is the bundle's own pipeline.json, as `serve --models`
 * serves it. With variants, further rows serve a derived config each
 * (through the same service, restarted on it): "popularity", each channel
 * alone ("channel:NAME", blend-ranked), "recall" (every channel, blend),
 * and the ranked pipeline with or without the diversity rule (whichever
 * the bundle does not have).
 *
 * Bad input is counted, never fatal unless nothing is left: events of
 * unknown items are skipped (import lenient), unknown users are created,
 * duplicate events and events older than their item are kept (import.h),
 * duplicate pairs go to one side of the split, and users the split leaves
 * without a test item are not asked (users_no_test).
 */
#ifndef NORTHSTAR_EVALUATE_H
#define NORTHSTAR_EVALUATE_H

#include "northstar/bundle.h"
#include "northstar/eval.h"
#include "northstar/import.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NS_EVALUATE_STORE = 0, /* opts.db */
    NS_EVALUATE_MOVIELENS, /* opts.data_dir */
    NS_EVALUATE_CSV,       /* opts.events, opts.items (required), opts.users (optional) */
    NS_EVALUATE_JSONL
} ns_evaluate_source;

typedef struct ns_evaluate_opts {
    ns_evaluate_source source;
    const char *db, *data_dir, *users, *items, *events;
    int implicit_ratings;  /* every rating is positive feedback (MovieLens: always) */
    const char *work_dir;  /* stores and bundle (default: a fresh temp dir, removed) */
    const char *dump_dir;  /* train.tsv, test.tsv, <row>.tsv, metrics.tsv (NULL: none) */
    int k;                 /* 10 */
    double ratio;          /* 0.75 */
    uint64_t seed;         /* 42 */
    int clients;           /* HTTP client threads (4) */
    int workers;           /* the server's worker threads (2) */
    int variants;          /* also the derived rows (1) */
    ns_bundle_opts bundle; /* `northstar train`'s options (out_dir is set inside) */
} ns_evaluate_opts;

/* `northstar train`'s defaults; MovieLens: implicit ratings, EASE with
 * every weight kept (neighbours 0) and no diversity rule in the bundle. */
ns_evaluate_opts ns_evaluate_defaults(void);
ns_evaluate_opts ns_evaluate_movielens_defaults(void);

/* What the input held and what the split did with it. */
typedef struct ns_evaluate_input {
    ns_import_stats imp;   /* files: the imports' counts summed (skipped = bad rows,
                              unknown_items, duplicates, before_created, users_created) */
    long users, items, events;
    long positives, duplicates; /* positive events; those repeating a (user, item) pair */
    long non_positive;     /* events kept as training history only */
    long train_pairs, test_pairs;
    long test_users;       /* users asked */
    long users_no_test;    /* users with positive events the split left without a test item */
    long users_cold;       /* test users without any training event (cold start) */
} ns_evaluate_input;

typedef struct ns_evaluate_row {
    char name[48];
    ns_eval_topk m;        /* means over the users answered with items */
    long asked, failed;    /* requests; not 200 or not a recommendation answer */
    long slots, distinct;  /* items served; distinct ones */
    double coverage;       /* distinct / catalogue items */
    long consumed;         /* served items the user had consumed in training */
    long unknown;          /* served ids not in the catalogue */
    double cands;          /* mean "candidates" of the answers */
    double p50_ms, p99_ms; /* request latency seen by the client */
    double secs;           /* asking every user */
} ns_evaluate_row;

#define NS_EVALUATE_MAX_ROWS 16

typedef struct ns_evaluate_report {
    ns_evaluate_input in;
    ns_bundle_stats bundle;
    long catalogue;        /* items in the catalogue */
    int bundle_diversity;  /* max_per_category of the served config (0: off) */
    int nrows;
    ns_evaluate_row rows[NS_EVALUATE_MAX_ROWS]; /* rows[0] is "served" */
    double secs;
} ns_evaluate_report;

int ns_evaluate_run(const ns_evaluate_opts *o, ns_evaluate_report *r);
/* The row named `name`, or NULL. */
const ns_evaluate_row *ns_evaluate_row_find(const ns_evaluate_report *r, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_EVALUATE_H */
