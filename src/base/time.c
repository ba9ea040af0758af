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

/* Units are chosen on the value as printed, so 0.9996 s is "1.0s" and
 * 59.97 s is "1m00s", never "1000ms" or "60.0s"; minutes and hours are
 * truncated like a clock. Huge values (an ETA at a near-zero rate) stay
 * in double: no integer overflow. */
void ns_format_duration(char *buf, size_t n, double s)
{
    if (!(s >= 0) || isinf(s)) { snprintf(buf, n, "?"); return; }
    if (s * 1e3 < 999.5) { snprintf(buf, n, "%.0fms", s * 1e3); return; }
    if (s < 59.95) { snprintf(buf, n, "%.1fs", s); return; }
    if (s < 60.0) s = 60.0;
    if (s < 3600.0) { snprintf(buf, n, "%.0fm%02.0fs", floor(s / 60), floor(fmod(s, 60))); return; }
    snprintf(buf, n, "%.0fh%02.0fm", floor(s / 3600), floor(fmod(s / 60, 60)));
}

/* Suffix chosen on the rounded value: 999999 is "1.00M", not "1000.0k". */
void ns_format_count(char *buf, size_t n, double x)
{
    if (!isfinite(x)) { snprintf(buf, n, "?"); return; }
    double a = fabs(x);
    if (a >= 999995e3) snprintf(buf, n, "%.2fG", x / 1e9);
    else if (a >= 999950.0) snprintf(buf, n, "%.2fM", x / 1e6);
    else if (a >= 9999.995) snprintf(buf, n, "%.1fk", x / 1e3);
    else if (a == floor(a)) snprintf(buf, n, "%.0f", x);
    else snprintf(buf, n, "%.2f", x);
}
