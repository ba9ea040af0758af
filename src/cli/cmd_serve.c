/*
 * cmd_serve.c — `northstar serve`: the recommendation service over HTTP.
 * Runs until SIGINT/SIGTERM (graceful: stops accepting, drains requests in
 * flight, checkpoints the store); SIGHUP reloads the pipeline config.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/pipeline.h"
#include "northstar/server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar serve --db FILE [--port N] [--host ADDR] [--config FILE] [options]\n"
    "\n"
    "Serve recommendations over HTTP/JSON from the store FILE (SQLite, created if\n"
    "absent). At start the in-memory state is rebuilt from the store.\n"
    "\n"
    "Routes: POST /v1/users, /v1/items, /v1/events (batches); GET /v1/users/{id},\n"
    "/v1/recommend/{user}?n=&page=&device=&tz=, /v1/items/{id}/similar?n=,\n"
    "/health, /metrics (Prometheus); POST /admin/reload, /admin/retrain,\n"
    "GET /admin/config (with 'Authorization: Bearer TOKEN').\n"
    "\n"
    "  --db FILE          the store (required)\n"
    "  --port N           TCP port (default 8080; 0 = any free port, printed)\n"
    "  --host ADDR        IPv4 address to listen on (default 127.0.0.1)\n"
    "  --models DIR       model bundle from 'northstar train --out DIR': serve its\n"
    "                     pipeline.json; POST /admin/retrain trains into DIR\n"
    "  --config FILE      pipeline config (JSON; default: DIR/pipeline.json with\n"
    "                     --models, else built in, see --print-config)\n"
    "  --implicit-ratings every rating is positive feedback (MovieLens-like stores)\n"
    "  --admin-token T    enable the admin routes (or $NS_ADMIN_TOKEN)\n"
    "  --workers N        HTTP worker threads (default 4)\n"
    "  --max-body BYTES   request body limit (default 4194304)\n"
    "  --max-batch N      most records per POST (default 10000)\n"
    "  --timeout S        close idle or slow connections after S seconds (default 10)\n"
    "  --sync MODE        full (default: each commit fsynced, survives power loss)\n"
    "                     or normal (survives a process crash, not a power loss)\n"
    "  --print-config     print the built-in pipeline config and exit\n"
    "  -q, --quiet        errors only\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully; SIGHUP reloads the config.\n";

typedef struct {
    ns_service_opts so;
    int print_config;
} serve_opts;

static int on_opt(int c, const char *arg, void *ctx)
{
    serve_opts *o = ctx;
    long v;
    int r;
    switch (c) {
    case 'd': o->so.db = arg; return 0;
    case 'p': r = cli_int("serve", "--port", arg, 0, 65535, &v); o->so.http.port = (int)v; return r;
    case 'H': o->so.http.host = arg; return 0;
    case 'c': o->so.config = arg; return 0;
    case 'm': o->so.models = arg; return 0;
    case 'i': o->so.implicit_ratings = 1; return 0;
    case 'a': o->so.http.admin_token = arg; return 0;
    case 'w': r = cli_int("serve", "--workers", arg, 1, 256, &v); o->so.http.threads = (int)v; return r;
    case 'b': r = cli_int("serve", "--max-body", arg, 1024, 1L << 30, &v); o->so.http.max_body = (size_t)v; return r;
    case 'B': r = cli_int("serve", "--max-batch", arg, 1, 1000000, &v); o->so.max_batch = (int)v; return r;
    case 't': r = cli_int("serve", "--timeout", arg, 1, 3600, &v); o->so.http.conn_timeout_s = (int)v; return r;
    case 's':
        if (!strcmp(arg, "full")) o->so.sync = NS_SYNC_FULL;
        else if (!strcmp(arg, "normal")) o->so.sync = NS_SYNC_NORMAL;
        else return cli_usage_error("serve", "--sync must be full or normal");
        return 0;
    case 'P': o->print_config = 1; return 0;
    }
    return 1;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o = {ns_service_defaults(), 0};
    o.so.http.admin_token = getenv("NS_ADMIN_TOKEN");
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"host", required_argument, NULL, 'H'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"models", required_argument, NULL, 'm'},
                                         {"implicit-ratings", no_argument, NULL, 'i'},
                                         {"admin-token", required_argument, NULL, 'a'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"max-body", required_argument, NULL, 'b'},
                                         {"max-batch", required_argument, NULL, 'B'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"sync", required_argument, NULL, 's'},
                                         {"print-config", no_argument, NULL, 'P'},
                                         {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "serve", usage, "", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[r]);
    if (o.print_config) {
        fputs(ns_pipeline_default_config(), stdout);
        return CLI_OK;
    }
    if (!o.so.db) return cli_usage_error("serve", "--db FILE is required");

    /* Signals are taken synchronously by this thread; every thread started
     * from here on inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    ns_service *s;
    if (ns_service_start(&s, &o.so) < 0) return cli_fail("serve");
    printf("northstar serve: listening on http://%s:%d (store %s%s%s)\n", o.so.http.host, ns_service_port(s), o.so.db,
           o.so.models ? ", models " : "", o.so.models ? o.so.models : "");
    fflush(stdout);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            if (ns_service_reload(s) < 0) ns_log_error("reload: %s", ns_err_msg());
            continue;
        }
        ns_log_info("%s: draining requests in flight and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    ns_service_stop(s);
    printf("northstar serve: stopped\n");
    return CLI_OK;
}
