/*
 * log.c — the one logging path: leveled lines on stderr with a timestamp.
 * The level comes from $NS_LOG on first use; --quiet lowers it to errors.
 */
#include "northstar/base.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Atomics: the level and quiet flag are read from every thread that logs. */
static _Atomic int g_level = -1;
static _Atomic int g_quiet;
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

static int level_from_env(void)
{
    const char *e = getenv("NS_LOG");
    if (!e) return NS_LOG_INFO;
    if (!strcasecmp(e, "error")) return NS_LOG_ERROR;
    if (!strcasecmp(e, "warn")) return NS_LOG_WARN;
    if (!strcasecmp(e, "debug")) return NS_LOG_DEBUG;
    return NS_LOG_INFO;
}

void ns_log_set_level(ns_log_level lvl)
{
    int l = (int)lvl;
    g_level = l < NS_LOG_ERROR ? NS_LOG_ERROR : l > NS_LOG_DEBUG ? NS_LOG_DEBUG : l;
}

ns_log_level ns_log_get_level(void)
{
    int l = g_level;
    if (l < 0) g_level = l = level_from_env();
    return g_quiet ? NS_LOG_ERROR : (ns_log_level)l;
}

void ns_set_quiet(int quiet) { g_quiet = quiet != 0; }
int ns_is_quiet(void) { return g_quiet; }

void ns_vlog(ns_log_level lvl, const char *fmt, va_list ap)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if ((int)lvl > (int)ns_log_get_level()) return;
    if ((int)lvl < NS_LOG_ERROR) lvl = NS_LOG_ERROR;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    pthread_mutex_lock(&g_log_lock);
    fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, names[lvl], msg);
    pthread_mutex_unlock(&g_log_lock);
}

void ns_log(ns_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ns_vlog(lvl, fmt, ap);
    va_end(ap);
}
