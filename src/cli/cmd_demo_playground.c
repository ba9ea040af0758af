/*
 * cmd_demo_playground.c — `northstar demo`: the playground. One command
 * builds a small recommendation platform from nothing and runs it:
 *
 *   1. a fresh SQLite store in the work directory, filled by the simulator
 *      (users, items, a week of sessions; no download);
 *   2. the model bundle trained from it (i2i/EASE, item vectors + HNSW,
 *      BM25 keyword index, Wide & Deep ranker; ns_bundle_train);
 *   3. the service started in this process on 127.0.0.1:PORT with that
 *      bundle, the web dashboard at / and an admin token for retraining;
 *   4. the simulator running live, closed-loop sessions against it (a
 *      thread: slates are the server's recommendations, clicks go back as
 *      events), while this thread prints the URLs, example curl commands
 *      and a status line (north-star metric, requests/s, p50/p99) read
 *      from GET /v1/stats, the same JSON the dashboard draws.
 * Ctrl-C (or --seconds) stops the traffic, then the server (drain,
 * checkpoint). --once runs the same end to end on a small world for a few
 * seconds and prints a summary (what the tests check).
 *
 * The work directory is recreated on every run; a directory that holds
 * anything and lacks the marker file this command writes is never wiped.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/dataset.h"
#include "northstar/bundle.h"
#include "northstar/http.h"
#include "northstar/service.h"
#include "northstar/sim.h"
#include "northstar/store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: northstar demo [options]        the playground (this help)\n"
    "       northstar demo mlp [options]    the tensor-library demo (spiral MLP)\n"
    "\n"
    "Build a recommendation platform from nothing and run it: simulate users,\n"
    "items and a week of traffic into a fresh SQLite store, train the models\n"
    "(i2i/EASE, item vectors + HNSW, BM25 keywords, Wide & Deep ranker), serve\n"
    "them on 127.0.0.1:PORT with the web dashboard at http://127.0.0.1:PORT/,\n"
    "and run simulated users live against the server (their slates are its\n"
    "recommendations; their clicks flow back as events), printing the north-star\n"
    "metric, requests/s and latency as it goes. Ctrl-C stops everything cleanly.\n"
    "\n"
    "  --dir DIR       work directory (default ./northstar-demo), recreated on each\n"
    "                  run; a non-empty directory not made by this command is refused\n"
    "  --port N        TCP port (default 8080; 0 = any free port)\n"
    "  --users N       simulated users (default 10000; 1000 with --once)\n"
    "  --items N       simulated items (default 50000; 5000 with --once)\n"
    "  --days N        simulated history before the live run (default 7)\n"
    "  --seed S        random seed of the world and the traffic (default 1)\n"
    "  --rate R        live sessions per second (default 20)\n"
    "  --seconds S     stop after S seconds of live traffic (default 0 = until\n"
    "                  Ctrl-C; 5 with --once)\n"
    "  --report S      status line every S seconds (default 5)\n"
    "  --token T       admin token for /admin/* (default: a random one, printed)\n"
    "  --once          a small world, a short live run, a summary, exit (for tests)\n"
    "  -j, --threads N threads for training (default: all CPUs)\n"
    "  -q, --quiet     no progress display or status lines (the summary still prints)\n";

typedef struct {
    const char *dir, *token;
    long port, users, items, days;
    uint64_t seed;
    double rate, seconds, report;
    int once;
} pg_opts;

static const cli_opt opts[] = {
    CLI_STR("dir", 0, pg_opts, dir),
    CLI_LONG("port", 0, pg_opts, port, 0, 65535),
    CLI_LONG("users", 0, pg_opts, users, 10, 10000000),
    CLI_LONG("items", 0, pg_opts, items, 10, 10000000),
    CLI_LONG("days", 0, pg_opts, days, 1, 365),
    CLI_OPT_SEED(pg_opts, seed),
    CLI_DOUBLE("rate", 0, pg_opts, rate, 0.1, 10000),
    CLI_DOUBLE("seconds", 0, pg_opts, seconds, 0, 1e7),
    CLI_DOUBLE("report", 0, pg_opts, report, 0.5, 3600),
    CLI_STR("token", 0, pg_opts, token),
    CLI_FLAG("once", 0, pg_opts, once),
};

/* ---- the work directory ------------------------------------------------------------------------- */

#define MARKER ".northstar-demo"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    if (ftw->level == 0) return 0; /* keep the directory itself */
    if (remove(path) != 0) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot remove: %s", strerror(errno));
    return 0;
}

/* Make `dir` an empty demo directory: create it, or empty it when it is
 * empty already or carries the marker of an earlier run. */
static int prepare_dir(const char *dir)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (ns_mkdirs(dir) < 0) return NS_EIO;
    } else {
        if (!S_ISDIR(sb.st_mode))
            return ns_err_set_at(NS_EEXISTS, dir, 0, "--dir", NULL, "exists and is not a directory");
        char marker[4096];
        snprintf(marker, sizeof marker, "%s/" MARKER, dir);
        if (!ns_file_exists(marker)) {
            DIR *d = opendir(dir);
            if (!d) return ns_err_set_at(NS_EIO, dir, 0, "--dir", NULL, "cannot read: %s", strerror(errno));
            int empty = 1;
            struct dirent *e;
            while ((e = readdir(d)) && empty) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
            closedir(d);
            if (!empty)
                return ns_err_set_at(NS_EEXISTS, dir, 0, "--dir", NULL,
                                     "is not empty and was not made by 'northstar demo' (no " MARKER
                                     " file): refusing to wipe it; choose another --dir");
        }
        if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
            if (ns_err_last()->code == NS_OK) ns_err_set_at(NS_EIO, dir, 0, "--dir", NULL, "cannot empty it");
            return NS_EIO;
        }
    }
    char marker[4096];
    snprintf(marker, sizeof marker, "%s/" MARKER, dir);
    FILE *f = fopen(marker, "w");
    if (!f) return ns_err_set_at(NS_EIO, marker, 0, NULL, NULL, "cannot create: %s", strerror(errno));
    fputs("made by 'northstar demo': this directory is wiped and rebuilt on every run\n", f);
    fclose(f);
    return 0;
}

/* Fail before a minute of set-up rather than after it: can we listen on
 * 127.0.0.1:port? (The server binds it for real later; SO_REUSEADDR as MHD.) */
static int check_port(int port)
{
    if (port == 0) return 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0; /* let the server report it */
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    int e = errno;
    close(fd);
    if (!ok)
        return ns_err_set_at(NS_EBUSY, NULL, 0, "--port", NULL, "cannot listen on 127.0.0.1:%d (%s): choose another --port",
                             port, strerror(e));
    return 0;
}

/* ---- live traffic on a thread ------------------------------------------------------------------------- */

typedef struct {
    ns_sim *sim;
    ns_sim_live_opts lo;
    ns_sim_stats st;
    int rc;
    char err[512];
    volatile int done;
} live_job;

static void *live_main(void *arg)
{
    live_job *j = arg;
    j->rc = ns_sim_live(j->sim, &j->lo, &j->st);
    if (j->rc < 0) snprintf(j->err, sizeof j->err, "%s", ns_err_msg());
    __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- GET /v1/stats -------------------------------------------------------------------------------- */

typedef struct {
    double ns, rps, p50, p99;
    uint64_t num, den, recs, events_in, requests, server_errors;
    const char *ns_name, *ns_window;
    char ranker[64], name[32], window[16];
    int ok, retraining;
} stats_view;

static double jnum(json_t *o, const char *k)
{
    json_t *x = json_object_get(o, k);
    return json_is_number(x) ? json_number_value(x) : -1;
}

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "?";
}

static int fetch_stats(ns_http_client *c, stats_view *v)
{
    memset(v, 0, sizeof *v);
    const char *body;
    size_t len;
    int st = ns_http_client_request(c, "GET", "/v1/stats", NULL, NULL, 0, &body, &len);
    if (st != 200) return st < 0 ? st : ns_err_set(NS_EIO, "GET /v1/stats: HTTP %d", st);
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    if (!j) return ns_err_set(NS_EFORMAT, "GET /v1/stats: malformed JSON: %s", je.text);
    json_t *nsm = json_object_get(j, "north_star"), *r = json_object_get(j, "rates"), *h = json_object_get(j, "http");
    v->ns = jnum(nsm, "value");
    v->num = (uint64_t)jnum(nsm, "numerator");
    v->den = (uint64_t)jnum(nsm, "denominator");
    snprintf(v->name, sizeof v->name, "%s", jstr(nsm, "name"));
    snprintf(v->window, sizeof v->window, "%s", jstr(nsm, "window"));
    snprintf(v->ranker, sizeof v->ranker, "%s", jstr(j, "ranker"));
    v->rps = jnum(r, "rps");
    v->p50 = jnum(r, "p50_ms");
    v->p99 = jnum(r, "p99_ms");
    v->recs = (uint64_t)jnum(j, "recommendations");
    v->events_in = (uint64_t)jnum(j, "events_ingested");
    v->requests = (uint64_t)jnum(h, "requests");
    v->server_errors = (uint64_t)jnum(h, "server_errors");
    v->retraining = json_is_true(json_object_get(json_object_get(j, "retrain"), "running"));
    v->ok = 1;
    json_decref(j);
    return 0;
}

static void fmt_ms(char *out, size_t n, double ms)
{
    if (ms < 0) snprintf(out, n, "-");
    else snprintf(out, n, "%.2f ms", ms);
}

/* ---- the command ------------------------------------------------------------------------------------ */

static void print_urls(const char *dir, int port, const char *token, int uid, int iid)
{
    printf("\n"
           "  dashboard     http://127.0.0.1:%d/\n"
           "  metrics       http://127.0.0.1:%d/metrics   (Prometheus)   stats: /v1/stats (JSON)\n"
           "  store, models %s/store.db, %s/models\n"
           "\n"
           "  try:\n"
           "    curl 'http://127.0.0.1:%d/v1/recommend/u%d?n=5'\n"
           "    curl 'http://127.0.0.1:%d/v1/items/i%d/similar?n=5'\n"
           "    curl -X POST http://127.0.0.1:%d/v1/events -H 'Content-Type: application/json' \\\n"
           "         -d '{\"user\": \"u%d\", \"item\": \"i%d\", \"type\": \"click\"}'\n"
           "    curl http://127.0.0.1:%d/v1/users/u%d\n"
           "    curl -s http://127.0.0.1:%d/metrics | grep north_star\n"
           "    curl -X POST http://127.0.0.1:%d/admin/retrain -H 'Authorization: Bearer %s'\n"
           "\n",
           port, port, dir, dir, port, uid, port, iid, port, uid, iid, port, uid, port, port, token);
}

/* One run of the playground: what it made, in the order it made it. */
typedef struct {
    const pg_opts *o;
    char token[64], db[4096], models[4096];
    ns_sim *sim;
    ns_service *svc;
    ns_http_client *cl;
    int port;
    int64_t nev;
    ns_bundle_stats bs;
    stats_view before;
    double secs_sim, secs_train, secs_serve;
} pg_run;

/* 1. The simulated world and its history into a fresh store. */
static int simulate(pg_run *R)
{
    const pg_opts *o = R->o;
    ns_sim_config sc = ns_sim_defaults();
    sc.users = (int)o->users;
    sc.items = (int)o->items;
    sc.days = (int)o->days;
    sc.seed = o->seed;
    ns_timer t;
    ns_timer_start(&t);
    if (ns_sim_new(&R->sim, &sc) < 0) return NS_EINTERNAL;
    ns_store_opts so = ns_store_defaults();
    so.sync = NS_SYNC_NORMAL; /* bulk load of throwaway data: no fsync per batch */
    ns_store *store = NULL;
    ns_sim_stats ss;
    int rc = ns_store_open(&store, R->db, &so);
    if (rc >= 0) rc = ns_sim_to_store(R->sim, store, &ss);
    ns_store_close(store);
    if (rc < 0) return rc;
    R->secs_sim = ns_timer_elapsed(&t);
    R->nev = ss.impressions + ss.clicks + ss.likes + ss.purchases + ss.ratings;
    printf("[1/4] simulated %d users, %d items, %lld sessions, %lld events (CTR %.4f) into %s in %.1f s\n",
           ns_sim_user_count(R->sim), ns_sim_item_count(R->sim), (long long)ss.sessions, (long long)R->nev,
           ss.impressions ? (double)ss.clicks / (double)ss.impressions : 0.0, R->db, R->secs_sim);
    fflush(stdout);
    return NS_OK;
}

/* 2. The model bundle trained from the store. */
static int train_models(pg_run *R)
{
    ns_timer t;
    ns_timer_start(&t);
    ns_dataset d;
    if (ns_dataset_init(&d) < 0) return NS_ENOMEM;
    ns_store_opts so = ns_store_defaults();
    so.readonly = 1;
    ns_store *store = NULL;
    int rc = ns_store_open(&store, R->db, &so);
    if (rc >= 0) rc = ns_dataset_from_store(&d, store);
    ns_store_close(store);
    ns_bundle_opts bo = ns_bundle_defaults();
    bo.out_dir = R->models;
    bo.seed = R->o->seed;
    memset(&R->bs, 0, sizeof R->bs);
    if (rc >= 0) rc = ns_bundle_train(&d, NULL, &bo, &R->bs);
    ns_dataset_release(&d);
    if (rc < 0) return rc;
    R->secs_train = ns_timer_elapsed(&t);
    const ns_bundle_stats *bs = &R->bs;
    printf("[2/4] trained the models into %s in %.1f s: i2i (%s) %u items %.1f s, item vectors %u items %.1f s, "
           "keyword index %.1f s, ranker %s (%ld examples, validation AUC %.4f) %.1f s\n",
           R->models, R->secs_train, ns_i2i_method_name(bo.i2i.method), bs->i2i_items, bs->secs_i2i, bs->vec_items,
           bs->secs_vectors, bs->secs_keyword,
           bs->ranker_mode == 2 ? "Wide & Deep on impressions" : bs->ranker_mode ? "Wide & Deep on ratings" : "none",
           bs->examples, bs->val_auc, bs->secs_examples + bs->secs_ranker);
    fflush(stdout);
    return NS_OK;
}

/* 3. The service on 127.0.0.1 with that bundle, and a client of it. */
static int serve(pg_run *R, const ns_timer *total)
{
    ns_timer t;
    ns_timer_start(&t);
    ns_service_opts svo = ns_service_defaults();
    svo.db = R->db;
    svo.models = R->models;
    svo.http.port = (int)R->o->port;
    svo.http.admin_token = R->token;
    int rc = ns_service_start(&R->svc, &svo);
    if (rc < 0) return rc;
    R->port = ns_service_port(R->svc);
    R->secs_serve = ns_timer_elapsed(&t);
    if (!(R->cl = ns_http_client_new("127.0.0.1", R->port, 10))) return ns_err_set(NS_ENOMEM, "http client");
    if ((rc = fetch_stats(R->cl, &R->before)) < 0) return rc;
    printf("[3/4] serving on http://127.0.0.1:%d (state loaded, ranker %s) in %.1f s; set-up took %.1f s\n", R->port,
           R->before.ranker, R->secs_serve, ns_timer_elapsed(total));
    printf("      north-star before live traffic: %s over %s = %.4f (%llu/%llu, the simulated platform's last hour)\n",
           R->before.name, R->before.window, R->before.ns, (unsigned long long)R->before.num,
           (unsigned long long)R->before.den);
    print_urls(R->o->dir, R->port, R->token, 1, 7);
    fflush(stdout);
    return NS_OK;
}

static void status_line(double el, const stats_view *now)
{
    char p50[32], p99[32];
    fmt_ms(p50, sizeof p50, now->p50);
    fmt_ms(p99, sizeof p99, now->p99);
    printf("  %6.0f s  %s(%s) %.4f (%llu/%llu)  %6.1f req/s  recommend p50 %s p99 %s  %llu recs  %llu "
           "events in\n",
           el, now->name, now->window, now->ns, (unsigned long long)now->num, (unsigned long long)now->den,
           now->rps < 0 ? 0 : now->rps, p50, p99, (unsigned long long)now->recs, (unsigned long long)now->events_in);
    fflush(stdout);
}

/* 4. Live traffic on a thread until --seconds or a signal, with a status
 * line every --report seconds; the seconds it ran. */
static int live(pg_run *R, live_job *job, double *secs_live)
{
    const pg_opts *o = R->o;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    job->sim = R->sim;
    job->lo = (ns_sim_live_opts){"127.0.0.1", R->port, o->seconds, o->rate, 0, 1, 500, (volatile int *)&g_stop, NULL};
    pthread_t thr;
    if (pthread_create(&thr, NULL, live_main, job) != 0)
        return ns_err_set(NS_EINTERNAL, "cannot start the live traffic thread");
    if (o->seconds > 0)
        printf("[4/4] live traffic: %.0f sessions/s for %.0f s (Ctrl-C stops early)\n", o->rate, o->seconds);
    else printf("[4/4] live traffic: %.0f sessions/s until Ctrl-C\n", o->rate);
    fflush(stdout);
    ns_timer live_t;
    ns_timer_start(&live_t);
    double next_poll = 2, next_report = o->report;
    while (!g_stop && !__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double el = ns_timer_elapsed(&live_t);
        if (el < next_poll) continue;
        next_poll = el + 2; /* keeps the server's history sampled for the dashboard */
        stats_view now;
        if (fetch_stats(R->cl, &now) < 0) {
            ns_log_warn("status: %s", ns_err_msg());
            continue;
        }
        if (el >= next_report) {
            next_report = el + o->report;
            if (!ns_is_quiet()) status_line(el, &now);
        }
    }
    *secs_live = ns_timer_elapsed(&live_t);
    g_stop = 1;
    pthread_join(thr, NULL);
    if (job->rc < 0) return ns_err_set(NS_EIO, "live traffic stopped: %s", job->err);
    return NS_OK;
}

static int summary(const pg_run *R, const live_job *job, double secs_live)
{
    stats_view now;
    int rc = fetch_stats(R->cl, &now);
    if (rc < 0) return rc;
    char p50[32], p99[32];
    fmt_ms(p50, sizeof p50, now.p50);
    fmt_ms(p99, sizeof p99, now.p99);
    const stats_view *b = &R->before;
    const ns_sim_stats *st = &job->st;
    printf("\ndemo summary\n"
           "  world       %d users, %d items, %lld events over %ld days (simulated in %.1f s)\n"
           "  models      ranker %s, i2i %u items, item vectors %u items (trained in %.1f s)\n"
           "  server      http://127.0.0.1:%d, started in %.1f s; %llu requests, %llu server errors\n"
           "  live        %.1f s: %lld sessions, %lld impressions, %lld clicks (CTR %.4f)\n"
           "  served      %llu recommendations, %llu events ingested, recommend p50 %s p99 %s\n"
           "  north-star  %s over %s: before %.4f (%llu/%llu), after %.4f (%llu/%llu)\n",
           ns_sim_user_count(R->sim), ns_sim_item_count(R->sim), (long long)R->nev, R->o->days, R->secs_sim, now.ranker,
           R->bs.i2i_items, R->bs.vec_items, R->secs_train, R->port, R->secs_serve, (unsigned long long)now.requests,
           (unsigned long long)now.server_errors, secs_live, (long long)st->sessions, (long long)st->impressions,
           (long long)st->clicks, st->impressions ? (double)st->clicks / (double)st->impressions : 0.0,
           (unsigned long long)now.recs, (unsigned long long)now.events_in, p50, p99, now.name, now.window, b->ns,
           (unsigned long long)b->num, (unsigned long long)b->den, now.ns, (unsigned long long)now.num,
           (unsigned long long)now.den);
    fflush(stdout);
    return NS_OK;
}

/* Stop the server (drain, checkpoint) once a retraining in progress ends. */
static void stop_server(pg_run *R)
{
    if (!R->svc) return;
    stats_view last;
    if (R->cl && fetch_stats(R->cl, &last) == 0 && last.retraining)
        printf("waiting for the retraining in progress to finish (a second Ctrl-C kills)\n");
    if (!ns_is_quiet()) printf("stopping the server (drain, checkpoint)\n");
    fflush(stdout);
    ns_service_stop(R->svc);
}

int cmd_demo_playground(int argc, char **argv)
{
    /* users, items, seconds < 0: their defaults, which depend on --once */
    pg_opts o = {"northstar-demo", NULL, 8080, -1, -1, 7, 1, 20, -1, 5, 0};
    int r = CLI_PARSE(argc, argv, "demo", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("demo", "unexpected argument '%s' (the subcommand is 'mlp')", argv[r]);
    if (o.users < 0) o.users = o.once ? 1000 : 10000;
    if (o.items < 0) o.items = o.once ? 5000 : 50000;
    if (o.seconds < 0) o.seconds = o.once ? 5 : 0;
    if (o.once && o.seconds <= 0) return cli_usage_error("demo", "--once needs --seconds > 0");
    pg_run R;
    memset(&R, 0, sizeof R);
    R.o = &o;
    if (o.token) snprintf(R.token, sizeof R.token, "%s", o.token);
    else {
        ns_rng tr;
        ns_rng_seed(&tr, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), 9);
        snprintf(R.token, sizeof R.token, "demo-%016llx", (unsigned long long)ns_rng_u64(&tr));
    }
    snprintf(R.db, sizeof R.db, "%s/store.db", o.dir);
    snprintf(R.models, sizeof R.models, "%s/models", o.dir);
    ns_timer total;
    ns_timer_start(&total);
    printf("northstar demo: %ld users, %ld items, %ld days of history, seed %llu, work dir %s\n", o.users, o.items,
           o.days, (unsigned long long)o.seed, o.dir);
    fflush(stdout);
    live_job job;
    memset(&job, 0, sizeof job);
    double secs_live = 0;
    int rc = check_port((int)o.port);
    if (rc >= 0) rc = prepare_dir(o.dir);
    if (rc >= 0) rc = simulate(&R);
    if (rc >= 0) rc = train_models(&R);
    if (rc >= 0) rc = serve(&R, &total);
    if (rc >= 0) rc = live(&R, &job, &secs_live);
    if (rc >= 0) rc = summary(&R, &job, secs_live);
    if (rc < 0) cli_fail("demo");
    stop_server(&R);
    ns_http_client_free(R.cl);
    ns_sim_free(R.sim);
    return rc < 0 ? CLI_FAIL : CLI_OK;
}
