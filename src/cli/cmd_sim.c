/*
 * cmd_sim.c — `northstar sim`: generate users, items and traffic (seeded,
 * reproducible) into a store, to a running server, or live against one.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/http.h"
#include "northstar/sim.h"
#include "northstar/store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar sim (--db FILE | --server URL [--live]) [options]\n"
    "\n"
    "Simulate a recommendation platform: users with attributes and latent tastes,\n"
    "items with categories, text and quality (some arriving during the period),\n"
    "diurnal sessions with position-biased clicks, likes, purchases and ratings,\n"
    "and optional bots (click farms, bursts) listed in a ground-truth file.\n"
    "The same seed gives the same world and the same events.\n"
    "\n"
    "Output (one of):\n"
    "  --db FILE           write users, items and events into the store FILE\n"
    "  --server URL        send them to a running server (http://HOST:PORT)\n"
    "  --token T, --token-file F  the server's write token (or $NS_WRITE_TOKEN)\n"
    "  --live              with --server: live sessions whose slates are the\n"
    "                      server's recommendations (closed loop), events posted\n"
    "                      with the wall-clock time; prints the CTR as it goes\n"
    "\n"
    "World and traffic:\n"
    "  --users N           users (default 1000)\n"
    "  --items N           items (default 5000)\n"
    "  --categories N      item categories, at most 32 (default 20)\n"
    "  --days N            simulated period (default 7)\n"
    "  --sessions X        sessions per user per day (default 0.5)\n"
    "  --slate N           items per page (default 10)\n"
    "  --bots X            click-farm accounts as a share of users (default 0)\n"
    "  --bursts N          click bursts on single items (default 0)\n"
    "  --seed S            random seed (default 1)\n"
    "  --start TS          Unix time the period starts (default: now - days)\n"
    "  --truth FILE        write the ground truth (bots, bursts, item quality) as JSONL\n"
    "\n"
    "Live mode:\n"
    "  --seconds S         run for S seconds (default 60; 0 = until SIGINT)\n"
    "  --rate R            sessions per second (default 10)\n"
    "  --skip-world        the server already has the users and items\n"
    "  --report S          status line every S seconds (default 5)\n"
    "\n"
    "  --batch N           records per HTTP request (default 500)\n"
    "  --sync MODE         store durability: full (default) or normal\n"
    "  -q, --quiet         no progress display\n";

typedef struct {
    ns_sim_config c;
    const char *db, *server, *truth, *token, *token_file;
    ns_store_sync sync;
    int live, skip_world, batch;
    double seconds, rate, report;
} sim_opts;

static const cli_opt opts[] = {
    CLI_OPT_DB(sim_opts, db),
    CLI_STR("server", 0, sim_opts, server),
    CLI_STR("token", 0, sim_opts, token),
    CLI_STR("token-file", 0, sim_opts, token_file),
    CLI_FLAG("live", 0, sim_opts, live),
    CLI_FLAG("skip-world", 0, sim_opts, skip_world),
    CLI_STR("truth", 0, sim_opts, truth),
    CLI_OPT_SYNC(sim_opts, sync),
    CLI_INT("users", 0, sim_opts, c.users, 1, 10000000),
    CLI_INT("items", 0, sim_opts, c.items, 1, 10000000),
    CLI_INT("categories", 0, sim_opts, c.categories, 1, 32),
    CLI_INT("days", 0, sim_opts, c.days, 1, 365),
    CLI_DOUBLE("sessions", 0, sim_opts, c.sessions_per_user_day, 1e-6, 100),
    CLI_INT("slate", 0, sim_opts, c.slate, 1, 100),
    CLI_DOUBLE("bots", 0, sim_opts, c.bots, 0, 0.5),
    CLI_INT("bursts", 0, sim_opts, c.bursts, 0, 1000),
    CLI_OPT_SEED(sim_opts, c.seed),
    CLI_DOUBLE("start", 0, sim_opts, c.start, 1, 1e11),
    CLI_DOUBLE("seconds", 0, sim_opts, seconds, 0, 1e7),
    CLI_DOUBLE("rate", 0, sim_opts, rate, 0.01, 1e6),
    CLI_DOUBLE("report", 0, sim_opts, report, 0, 1e6),
    CLI_INT("batch", 0, sim_opts, batch, 1, 100000),
};

static volatile int g_stop;
static void on_sigint(int sig) { (void)sig; g_stop = 1; }

static int run_sim(const sim_opts *op, const char *host, int port, const char *token);

int cmd_sim(int argc, char **argv)
{
    sim_opts o = {ns_sim_defaults(), NULL, NULL, NULL, NULL, NULL, ns_store_defaults().sync, 0, 0, 500, 60, 10, 5};
    int r = CLI_PARSE(argc, argv, "sim", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("sim", "unexpected argument '%s'", argv[r]);
    if (!o.db == !o.server) return cli_usage_error("sim", "give exactly one of --db FILE or --server URL");
    if (o.live && !o.server) return cli_usage_error("sim", "--live needs --server URL");
    if (o.token && o.token_file) return cli_usage_error("sim", "give --token or --token-file, not both");
    char host[256];
    int port = 0;
    if (o.server && ns_http_parse_url(o.server, host, sizeof host, &port) < 0)
        return cli_usage_error("sim", "--server: %s", ns_err_msg());
    char *token = NULL;
    if (o.server && (r = cli_secret("sim", "--token", o.token, o.token_file, "NS_WRITE_TOKEN", &token)) != 0) return r;
    r = run_sim(&o, host, port, token);
    free(token);
    return r;
}

static int run_sim(const sim_opts *op, const char *host, int port, const char *token)
{
    sim_opts o = *op;
    ns_store_opts so = ns_store_defaults();
    so.sync = o.sync;

    ns_sim *s;
    if (ns_sim_new(&s, &o.c) < 0) return cli_fail("sim");
    const ns_sim_config *c = ns_sim_config_of(s);
    int rc = 0;
    ns_sim_stats st;
    ns_timer t;
    ns_timer_start(&t);
    if (o.truth && ns_sim_write_truth(s, o.truth) < 0) {
        ns_sim_free(s);
        return cli_fail("sim");
    }
    if (o.db) {
        ns_store *store;
        if ((rc = ns_store_open(&store, o.db, &so)) >= 0) {
            rc = ns_sim_to_store(s, store, &st);
            ns_store_close(store);
        }
    } else if (o.live) {
        signal(SIGINT, on_sigint);
        signal(SIGTERM, on_sigint);
        ns_sim_live_opts lo = {host, port, o.seconds, o.rate, o.report, o.skip_world, o.batch, &g_stop, token};
        rc = ns_sim_live(s, &lo, &st);
    } else rc = ns_sim_to_server(s, host, port, token, o.batch, &st);
    double secs = ns_timer_elapsed(&t);
    if (rc < 0) {
        ns_sim_free(s);
        return cli_fail("sim");
    }
    printf("sim: seed %llu, %d users (%d bot accounts), %d items in %d categories, %d days from %.0f\n",
           (unsigned long long)c->seed, ns_sim_user_count(s), ns_sim_user_count(s) - c->users, ns_sim_item_count(s),
           c->categories, c->days, c->start);
    printf("sim: %lld sessions, %lld impressions, %lld clicks (CTR %.4f), %lld likes, %lld purchases, %lld ratings, "
           "%lld bot events; %.2f s\n",
           (long long)st.sessions, (long long)st.impressions, (long long)st.clicks,
           st.impressions ? (double)st.clicks / (double)st.impressions : 0.0, (long long)st.likes,
           (long long)st.purchases, (long long)st.ratings, (long long)st.bot_events, secs);
    ns_sim_free(s);
    return CLI_OK;
}
