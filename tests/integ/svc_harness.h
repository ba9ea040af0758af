/* svc_harness.h — starting and stopping `northstar serve --port 0` from a
 * test case (included by the integration tests of the service). */
#ifndef NS_SVC_HARNESS_H
#define NS_SVC_HARNESS_H

#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    FILE *out;
} server;

/* Servers still running when a case fails are killed at exit, so no
 * orphan keeps the test's output open. */
static pid_t live[8];
static int nlive;

static inline void kill_live(void)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] > 0) kill(live[i], SIGKILL);
}

/* Start the server; the port is read from its first stdout line. */
static inline server start(const char *db, const char *extra)
{
    int fd[2];
    ASSERT_EQ_INT(pipe(fd), 0);
    server s = {0};
    s.pid = fork();
    ASSERT(s.pid >= 0);
    if (s.pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec %s serve --quiet --port 0 --db %s %s", ns_test_northstar_bin(), db,
                 extra ? extra : "");
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    if (!nlive) atexit(kill_live);
    if (nlive < 8) live[nlive++] = s.pid;
    s.out = fdopen(fd[0], "r");
    char line[512];
    ASSERT_MSG(fgets(line, sizeof line, s.out), "server printed nothing (did it start?)");
    const char *p = strstr(line, "127.0.0.1:");
    ASSERT_MSG(p, "unexpected first line: %s", line);
    s.port = atoi(p + 10);
    ASSERT(s.port > 0);
    return s;
}

static inline void forget(pid_t pid)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == pid) live[i] = 0;
}

static inline int stop(server *s, int sig)
{
    kill(s->pid, sig);
    int st = 0;
    waitpid(s->pid, &st, 0);
    forget(s->pid);
    fclose(s->out);
    return st;
}

/* A plain TCP connection to the server (for requests the client cannot
 * make: raw headers, slow or broken bodies). */
static inline int raw_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

#endif
