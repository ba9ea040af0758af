/* time.c — monotonic clocks, timers and human formatting of durations and counts. */
#include "northstar/base.h"

#include <math.h>
#include <time.h>

double ns_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double ns_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ns_timer_start(ns_timer *t) { t->start = ns_now(); }
double ns_timer_elapsed(const ns_timer *t) { return ns_now() - t->start; }

void ns_format_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0) || isinf(s)) { snprintf(buf, n, "?"); return; }
    if (s < 1.0) snprintf(buf, n, "%.0fms", s * 1e3);
    else if (s < 60.0) snprintf(buf, n, "%.1fs", s);
    else if (s < 3600.0) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
    else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}

void ns_format_count(char *buf, size_t n, double x)
{
    double a = fabs(x);
    if (a >= 1e9) snprintf(buf, n, "%.2fG", x / 1e9);
    else if (a >= 1e6) snprintf(buf, n, "%.2fM", x / 1e6);
    else if (a >= 1e4) snprintf(buf, n, "%.1fk", x / 1e3);
    else if (a == floor(a)) snprintf(buf, n, "%.0f", x);
    else snprintf(buf, n, "%.2f", x);
}
