/*
 * integ_harness.h — what the integration tests (tests/integ/) share on top of
 * harness.h: the northstar command run through a shell with its exit status
 * and output, long-running children (servers, the demo) started with their
 * stdout on a pipe, `northstar serve --port 0` started and stopped, raw TCP
 * connections and requests, and GETs of JSON replies and Prometheus series.
 *
 * Every child started here is killed with SIGKILL when the test process
 * exits (a failed ASSERT exits at once), so no orphan server keeps the
 * test's output open or its port bound; reap() and stop() take it off that
 * list. Compiled into every integ program (tests/CMakeLists.txt).
 *
 *   char *out;
 *   ASSERT_EQ_INT(cli_run(&out, "index stats --json '%s'", idx), 0);
 *   server s = start(db, "--workers 2");
 *   ns_http_client *c = ns_http_client_new("127.0.0.1", s.port, 10);
 *   json_t *j = get_json(c, "/v1/stats", 200);
 *   ASSERT(metric(c, "northstar_events_ingested_total") >= 6);
 *   ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
 */
#ifndef NS_TEST_INTEG_HARNESS_H
#define NS_TEST_INTEG_HARNESS_H

#include "harness.h"
#include "northstar/http.h"

#include <jansson.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the command, run to completion ------------------------------------ */

/* Run `northstar <args>` (args printf-style, in /bin/sh syntax: quoting and
 * redirections apply) with NS_PROGRESS=0. Output is stdout+stderr unless
 * the args redirect; it is malloc'd into *out (caller frees) when out is
 * non-NULL. Prints the command, its exit status and the first 4000 bytes of
 * output for the log. Returns the exit status (-1: killed by a signal). */
int cli_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, and FAIL unless the exit status is `want`; returns the output
 * (caller frees). */
char *cli_expect(int want, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- the command, left running ----------------------------------------- */

typedef struct {
    pid_t pid; /* sh exec'd into `northstar ...` */
    FILE *out; /* its stdout (stderr goes to the test's) */
    int port;  /* servers: the port from their first line */
} proc;

/* Start `northstar <args>` with its stdout on a pipe, killed at exit unless
 * reaped first. */
proc cli_spawn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Wait for p to end, close its pipe; returns the wait status. */
int reap(proc *p);
/* Send sig, then reap. */
int stop(proc *p, int sig);

/* ---- servers ------------------------------------------------------------ */

typedef proc server;

/* `northstar serve --quiet --port 0 --db DB EXTRA`; the port is read from
 * its first stdout line. */
server start(const char *db, const char *extra);
/* A plain TCP connection to 127.0.0.1:port (for requests the client cannot
 * make: raw headers, slow or broken bodies). */
int raw_connect(int port);
/* One body-less request on its own connection (Connection: close), with an
 * `Authorization: Bearer token` header unless token is NULL; the reply
 * (headers and body) lands in buf, NUL-terminated. Returns the HTTP status. */
int raw_request(int port, const char *method, const char *path, const char *token, char *buf, size_t cap);
/* GET path: FAIL unless the status is want_status and the body is JSON. */
json_t *get_json(ns_http_client *c, const char *path, int want_status);
/* The value of one series of GET /metrics, named with its labels exactly as
 * exported ("northstar_retrains_total{result=\"ok\"}"); FAILs when absent. */
double metric(ns_http_client *c, const char *series);

#endif
