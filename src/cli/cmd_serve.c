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
    "/v1/recommend/{user}?n=&page=&device=&tz=&exclude=ids&category=names,\n"
    "/v1/items/{id}/similar?n=, /health, /metrics (Prometheus); POST /admin/reload,\n"
    "/admin/retrain, GET /admin/config. Tokens go in 'Authorization: Bearer TOKEN'.\n"
    "\n"
    "Tokens (each from --X-token T, --X-token-file F (its first line) or $NS_X_TOKEN;\n"
    "a token given on the command line is wiped from the process's arguments):\n"
    "  admin   the /admin routes (without it they answer 403); it also opens the rest\n"
    "  write   POST /v1/users, /v1/items, /v1/events; required to listen beyond\n"
    "          loopback (--host other than 127.x) unless --insecure\n"
    "  read    GET /v1/recommend, /v1/items/{id}/similar, /v1/stats, /metrics\n"
    "GET /v1/users/{id} (personal data) takes the read or the admin token, and is\n"
    "refused beyond loopback when neither is set.\n"
    "\n"
    "  --db FILE          the store (required)\n"
    "  --port N           TCP port (default 8080; 0 = any free port, printed)\n"
    "  --host ADDR        IPv4 address to listen on (default 127.0.0.1)\n"
    "  --models DIR       model bundle from 'northstar train --out DIR': serve its\n"
    "                     pipeline.json; POST /admin/retrain trains into DIR\n"
    "  --config FILE      pipeline config (JSON; default: DIR/pipeline.json with\n"
    "                     --models, else built in, see --print-config)\n"
    "  --implicit-ratings, --no-implicit-ratings   whether every rating is positive\n"
    "                     feedback (MovieLens-like stores). With --models the bundle\n"
    "                     says it (pipeline.json \"data\", from northstar train); a flag\n"
    "                     that contradicts it is refused. Default: the bundle's, else no\n"
    "  --admin-token T, --admin-token-file F   the admin token (or $NS_ADMIN_TOKEN)\n"
    "  --write-token T, --write-token-file F   the write token (or $NS_WRITE_TOKEN)\n"
    "  --read-token T, --read-token-file F     the read token (or $NS_READ_TOKEN)\n"
    "  --insecure         allow open write routes beyond loopback\n"
    "  --workers N        HTTP worker threads (default 4)\n"
    "  --max-body BYTES   request body limit (default 4194304)\n"
    "  --max-inflight-bytes BYTES  request bodies held at once, all connections\n"
    "                     (default: an eighth of the RAM, 64 MiB to 1 GiB); past it 503\n"
    "  --max-conns N      open connections at most (default 1024)\n"
    "  --max-batch N      most records per POST (default 10000)\n"
    "  --timeout S        a request must arrive whole within S seconds, and idle\n"
    "                     connections close after S seconds (default 10)\n"
    "  --sync MODE        full (default: each commit fsynced, survives power loss)\n"
    "                     or normal (survives a process crash, not a power loss)\n"
    "  --print-config     print the built-in pipeline config and exit\n"
    "  -q, --quiet        errors only\n"
    "\n"
    "Signals: SIGINT/SIGTERM stop gracefully; SIGHUP reloads the config.\n";

typedef struct {
    ns_service_opts so;
    int print_config;
    const char *token[3], *token_file[3]; /* admin, write, read */
} serve_opts;

static const cli_opt opts[] = {
    CLI_OPT_DB(serve_opts, so.db),
    CLI_INT("port", 0, serve_opts, so.http.port, 0, 65535),
    CLI_STR("host", 0, serve_opts, so.http.host),
    CLI_STR("config", 0, serve_opts, so.config),
    CLI_STR("models", 0, serve_opts, so.models),
    CLI_SET("implicit-ratings", 0, serve_opts, so.implicit_ratings, 1),
    CLI_SET("no-implicit-ratings", 0, serve_opts, so.implicit_ratings, 0),
    CLI_STR("admin-token", 0, serve_opts, token[0]),
    CLI_STR("admin-token-file", 0, serve_opts, token_file[0]),
    CLI_STR("write-token", 0, serve_opts, token[1]),
    CLI_STR("write-token-file", 0, serve_opts, token_file[1]),
    CLI_STR("read-token", 0, serve_opts, token[2]),
    CLI_STR("read-token-file", 0, serve_opts, token_file[2]),
    CLI_FLAG("insecure", 0, serve_opts, so.http.insecure),
    CLI_INT("workers", 0, serve_opts, so.http.threads, 1, 256),
    CLI_SIZE("max-body", 0, serve_opts, so.http.max_body, 1024, 1L << 30),
    CLI_SIZE("max-inflight-bytes", 0, serve_opts, so.http.max_inflight_bytes, 1 << 16, (size_t)1 << 40),
    CLI_INT("max-conns", 0, serve_opts, so.http.max_conns, 1, 65536),
    CLI_INT("max-batch", 0, serve_opts, so.max_batch, 1, 1000000),
    CLI_INT("timeout", 0, serve_opts, so.http.conn_timeout_s, 1, 3600),
    CLI_OPT_SYNC(serve_opts, so.sync),
    CLI_FLAG("print-config", 0, serve_opts, print_config),
};

/* The three tokens, each from its file, option or environment variable. */
static int read_tokens(serve_opts *o, char *tok[3])
{
    static const char *const opt[3] = {"--admin-token", "--write-token", "--read-token"};
    static const char *const env[3] = {"NS_ADMIN_TOKEN", "NS_WRITE_TOKEN", "NS_READ_TOKEN"};
    for (int i = 0; i < 3; i++) {
        if (o->token[i] && o->token_file[i])
            return cli_usage_error("serve", "give %s or %s-file, not both", opt[i], opt[i]);
        int rc = cli_secret("serve", opt[i], o->token[i], o->token_file[i], env[i], &tok[i]);
        if (rc) return rc;
    }
    o->so.http.admin_token = tok[0];
    o->so.http.write_token = tok[1];
    o->so.http.read_token = tok[2];
    return 0;
}

static int serve(const serve_opts *o);

int cmd_serve(int argc, char **argv)
{
    serve_opts o = {ns_service_defaults(), 0, {NULL}, {NULL}};
    int r = CLI_PARSE(argc, argv, "serve", usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[r]);
    if (o.print_config) {
        fputs(ns_pipeline_default_config(), stdout);
        return CLI_OK;
    }
    if (!o.so.db) return cli_usage_error("serve", "--db FILE is required");
    char *tok[3] = {NULL, NULL, NULL};
    int rc = read_tokens(&o, tok);
    if (rc == 0) rc = serve(&o);
    for (int i = 0; i < 3; i++) free(tok[i]);
    return rc;
}

static int serve(const serve_opts *op)
{
    const serve_opts o = *op;
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
