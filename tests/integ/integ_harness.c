/* integ_harness.c — see integ_harness.h. */
#include "integ_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/time.h>

/* ---- the command, run to completion ------------------------------------ */

#define SHOWN 4000 /* bytes of a command's output copied into the log */

static int vrun(char **out, const char *fmt, va_list ap)
{
    char args[6144], cmd[8192];
    if ((size_t)vsnprintf(args, sizeof args, fmt, ap) >= sizeof args)
        FAIL("cli_run: arguments longer than %zu bytes", sizeof args);
    snprintf(cmd, sizeof cmd, "NS_PROGRESS=0 '%s' %s", ns_test_northstar_bin(), args);
    char *o = NULL;
    int st = ns_test_run(cmd, &o);
    size_t n = o ? strlen(o) : 0;
    printf("$ northstar %s  -> %d\n%.*s%s", args, st, (int)(n < SHOWN ? n : SHOWN), o ? o : "",
           n > SHOWN ? "\n  [... output cut for the log]\n" : "");
    if (out) *out = o;
    else free(o);
    return st;
}

int cli_run(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vrun(out, fmt, ap);
    va_end(ap);
    return st;
}

char *cli_expect(int want, const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    int st = vrun(&out, fmt, ap);
    va_end(ap);
    ASSERT_MSG(st == want, "exit status %d, wanted %d", st, want);
    return out;
}

/* ---- the command, left running ----------------------------------------- */

/* Children still running when the test process exits are killed. */
#define MAX_LIVE 16
static pid_t g_live[MAX_LIVE];
static int g_nlive;

static void kill_live(void)
{
    for (int i = 0; i < g_nlive; i++)
        if (g_live[i] > 0) kill(g_live[i], SIGKILL);
}

static void forget(pid_t pid)
{
    for (int i = 0; i < g_nlive; i++)
        if (g_live[i] == pid) g_live[i] = 0;
}

proc cli_spawn(const char *fmt, ...)
{
    char args[6144], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if ((size_t)n >= sizeof args) FAIL("cli_spawn: arguments longer than %zu bytes", sizeof args);
    snprintf(cmd, sizeof cmd, "NS_PROGRESS=0 exec '%s' %s", ns_test_northstar_bin(), args);
    int slot = 0;
    while (slot < g_nlive && g_live[slot] > 0) slot++;
    ASSERT_MSG(slot < MAX_LIVE, "more than %d children running in one case", MAX_LIVE);
    int fd[2];
    ASSERT_EQ_INT(pipe(fd), 0);
    fflush(stdout); /* the log shows our lines before the child's stderr */
    proc p = {0};
    p.pid = fork();
    ASSERT(p.pid >= 0);
    if (p.pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    if (!g_nlive) atexit(kill_live);
    g_live[slot] = p.pid;
    if (slot == g_nlive) g_nlive++;
    printf("$ northstar %s &  (pid %d)\n", args, (int)p.pid);
    p.out = fdopen(fd[0], "r");
    ASSERT(p.out);
    return p;
}

int reap(proc *p)
{
    int st = 0;
    while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {}
    forget(p->pid);
    fclose(p->out);
    p->out = NULL;
    return st;
}

int stop(proc *p, int sig)
{
    kill(p->pid, sig);
    return reap(p);
}

/* ---- servers ------------------------------------------------------------ */

server start(const char *db, const char *extra)
{
    server s = cli_spawn("serve --quiet --port 0 --db '%s' %s", db, extra ? extra : "");
    char line[512];
    ASSERT_MSG(fgets(line, sizeof line, s.out), "server printed nothing (did it start?)");
    const char *p = strstr(line, "http://");
    p = p ? strchr(p + 7, ':') : NULL; /* any listening address: the port follows it */
    ASSERT_MSG(p, "unexpected first line: %s", line);
    s.port = atoi(p + 1);
    ASSERT(s.port > 0);
    return s;
}

int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

int raw_request(int port, const char *method, const char *path, const char *token, char *buf, size_t cap)
{
    ASSERT(cap > 16);
    int fd = raw_connect(port);
    char rq[1024];
    int n = snprintf(rq, sizeof rq, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s%sContent-Length: 0\r\n\r\n",
                     method, path, token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    ASSERT_MSG((size_t)n < sizeof rq, "raw_request: request longer than %zu bytes", sizeof rq);
    ASSERT_EQ_INT(send(fd, rq, (size_t)n, MSG_NOSIGNAL), n);
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0) got += (size_t)r;
    buf[got] = 0;
    close(fd);
    ASSERT_MSG(!strncmp(buf, "HTTP/1.1 ", 9), "%s %s: not an HTTP reply: %.80s", method, path, buf);
    return atoi(buf + 9);
}

json_t *get_json(ns_http_client *c, const char *path, int want_status)
{
    const char *r;
    size_t n;
    int st = ns_http_client_request(c, "GET", path, NULL, NULL, 0, &r, &n);
    ASSERT_MSG(st > 0, "GET %s failed: %s", path, ns_err_msg());
    ASSERT_MSG(st == want_status, "GET %s: %d, wanted %d: %.300s", path, st, want_status, r);
    json_error_t je;
    json_t *j = json_loadb(r, n, 0, &je);
    ASSERT_MSG(j, "GET %s: not JSON (%s): %.200s", path, je.text, r);
    return j;
}

double metric(ns_http_client *c, const char *series)
{
    const char *r;
    size_t n;
    ASSERT_EQ_INT(ns_http_client_request(c, "GET", "/metrics", NULL, NULL, 0, &r, &n), 200);
    size_t k = strlen(series);
    /* A sample line is "<series> <value>"; # HELP / # TYPE lines and longer
     * names that start with `series` do not match. */
    for (const char *l = r; *l;) {
        if (!strncmp(l, series, k) && l[k] == ' ') return atof(l + k + 1);
        const char *e = strchr(l, '\n');
        if (!e) break;
        l = e + 1;
    }
    FAIL("metric %s missing from /metrics", series);
}
