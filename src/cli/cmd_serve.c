/*
 * cmd_serve.c — `northstar serve`: the recommendation service over HTTP.
 * Runs until SIGINT/SIGTERM (graceful: stops accepting, drains requests in
 * flight, checkpoints the store); SIGHUP reloads the pipeline config.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/pipeline.h"
#include "northstar/service.h"

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

static const cli_opt opts[] = {
    CLI_OPT_DB(serve_opts, so.db),
    CLI_INT("port", 0, serve_opts, so.http.port, 0, 65535),
    CLI_STR("host", 0, serve_opts, so.http.host),
    CLI_STR("config", 0, serve_opts, so.config),
    CLI_STR("models", 0, serve_opts, so.models),
    CLI_FLAG("implicit-ratings", 0, serve_opts, so.implicit_ratings),
    CLI_STR("admin-token", 0, serve_opts, so.http.admin_token),
    CLI_INT("workers", 0, serve_opts, so.http.threads, 1, 256),
    CLI_SIZE("max-body", 0, serve_opts, so.http.max_body, 1024, 1L << 30),
    CLI_INT("max-batch", 0, serve_opts, so.max_batch, 1, 1000000),
    CLI_INT("timeout", 0, serve_opts, so.http.conn_timeout_s, 1, 3600),
    CLI_OPT_SYNC(serve_opts, so.sync),
    CLI_FLAG("print-config", 0, serve_opts, print_config),
};

int cmd_serve(int argc, char **argv)
{
    serve_opts o = {ns_service_defaults(), 0};
    o.so.http.admin_token = getenv("NS_ADMIN_TOKEN");
    int r = CLI_PARSE(argc, argv, "serve", usage, opts, &o);
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
