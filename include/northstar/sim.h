/*
 * northstar/sim.h — layer 6: the traffic simulator that feeds the demo, the
 * tests and the load benchmarks with data the project makes itself.
 *
 * The world (all drawn from one seed, reproducibly):
 *   categories  named, each with its own vocabulary of made-up words, so an
 *               item's text says what it is about and BM25 finds it;
 *   users       age, gender, occupation, an activity level and latent
 *               tastes over categories: half from their segment (age bucket
 *               x gender), half their own, so segments carry signal;
 *               some sign up during the period (cold-start users);
 *   items       a primary and maybe a secondary category, a title and text
 *               from the categories' vocabularies, a creator and a latent
 *               quality; a share exists at the start, the rest arrive over
 *               the period (cold-start items).
 * Traffic: sessions over `days` with a diurnal rate (peak in the evening);
 * each session shows 1..5 pages of `slate` items; an item at position p is
 * examined with probability (1 + p)^-0.8 and, if examined, clicked with
 * probability sigmoid(-3.2 + 1.2 log(affinity + 0.05) + 0.6 quality), where
 * affinity is the user's taste for the item's categories (1 = average).
 * Clicks may be followed by a like, a purchase or a rating.
 * Offline, the slates come from a simple platform policy (favourite
 * categories, popular, random); live, from the server's recommendations.
 * Bots (optional): click farms (accounts that click a few target items
 * round the clock) and bursts (many new accounts clicking one item within
 * minutes); every bot account is listed in the ground-truth file.
 *
 * Example
 *   ns_sim_config c = ns_sim_defaults();
 *   c.users = 1000; c.items = 5000; c.seed = 7;
 *   ns_sim *s; ns_sim_new(&s, &c);
 *   ns_sim_to_store(s, store, &stats);   // users, items, events
 *   ns_sim_free(s);
 */
#ifndef NORTHSTAR_SIM_H
#define NORTHSTAR_SIM_H

#include "northstar/base.h"
#include "northstar/store.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_sim_config {
    uint64_t seed;
    int users, items;          /* default 1000, 5000 */
    int categories;            /* default 20 (at most 32) */
    int vocab;                 /* words per category (default 40) */
    int days;                  /* length of the simulated period (default 7) */
    double start;              /* Unix time of the period's start (default: now - days, on a whole hour) */
    double sessions_per_user_day; /* default 0.5 */
    int slate;                 /* items per page (default 10) */
    double initial_items;      /* share of items existing at the start (default 0.7) */
    double new_users;          /* share of users signing up during the period (default 0.1) */
    double bots;               /* click-farm accounts as a share of users (default 0) */
    int bursts;                /* click bursts (default 0) */
} ns_sim_config;

typedef struct ns_sim_stats {
    int64_t sessions, impressions, clicks, likes, purchases, ratings, bot_events;
} ns_sim_stats;

typedef struct ns_sim ns_sim;

ns_sim_config ns_sim_defaults(void);
/* Build the world. Errors name the config field (NS_EINVAL). */
int ns_sim_new(ns_sim **out, const ns_sim_config *c);
void ns_sim_free(ns_sim *s);
const ns_sim_config *ns_sim_config_of(const ns_sim *s);

int ns_sim_user_count(const ns_sim *s); /* including bot accounts */
int ns_sim_item_count(const ns_sim *s);
/* Records of the world (strings owned by the simulator). */
void ns_sim_user(const ns_sim *s, int u, ns_user_rec *out);
void ns_sim_item(const ns_sim *s, int i, ns_item_rec *out);

/* Run the whole period offline in time order, calling fn for every event
 * (bot = 1 for events of bot accounts). A nonzero return stops the run and
 * is returned. */
typedef int (*ns_sim_event_fn)(const ns_event_rec *ev, int bot, void *ctx);
int ns_sim_run(ns_sim *s, ns_sim_event_fn fn, void *ctx, ns_sim_stats *stats);

/* Everything into a store: users, items, then the events in batches. */
int ns_sim_to_store(ns_sim *s, ns_store *st, ns_sim_stats *stats);

/* Live traffic against a server for `seconds` (or until *stop becomes
 * nonzero): `rate` sessions per second, slates from GET /v1/recommend,
 * events posted with the wall-clock time. The world is sent first unless
 * skip_world. Prints a status line every `report_s` seconds (0 = never). */
typedef struct ns_sim_live_opts {
    const char *host;
    int port;
    double seconds, rate, report_s;
    int skip_world, batch;
    volatile int *stop;
    const char *token; /* the server's write token, or NULL */
} ns_sim_live_opts;
int ns_sim_live(ns_sim *s, const ns_sim_live_opts *o, ns_sim_stats *stats);

/* Send the world and the offline traffic to a server (batches of `batch`),
 * with its write token (NULL when it has none). */
int ns_sim_to_server(ns_sim *s, const char *host, int port, const char *token, int batch, ns_sim_stats *stats);

/* Ground truth, JSONL: {"kind": "bot", "user": ..., "bot": "click_farm" |
 * "burst", "targets": [...]}, {"kind": "burst", "item": ..., "start": ts,
 * "end": ts}, {"kind": "item", "item": ..., "quality": q}. */
int ns_sim_write_truth(const ns_sim *s, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_SIM_H */
