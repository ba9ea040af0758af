/*
 * progress.c — one redrawn status line for long jobs (rate and ETA).
 * Drawing is throttled to 10 Hz; a CAS on last_draw makes sure only one
 * thread draws at a time when many threads report progress.
 */
#include "northstar/base.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int progress_enabled(void)
{
    const char *e = getenv("NS_PROGRESS");
    if (e && *e == '0') return 0;
    if (ns_is_quiet()) return 0;
    if (e && *e == '1') return 1;
    return isatty(2);
}

void ns_progress_begin(ns_progress *p, const char *label, double total, const char *unit)
{
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
    p->total = total;
    p->start = ns_now();
    atomic_store(&p->last_draw, p->start);
    atomic_store(&p->done, 0);
    p->enabled = progress_enabled();
}

double ns_progress_rate(const ns_progress *p)
{
    double el = ns_now() - p->start;
    long long d = atomic_load_explicit(&p->done, memory_order_relaxed);
    return el > 0 ? (double)d / el : 0.0;
}

static void lock_extra(ns_progress *p)
{
    int z = 0;
    while (!atomic_compare_exchange_weak(&p->extra_lock, &z, 1)) z = 0;
}

static void unlock_extra(ns_progress *p) { atomic_store(&p->extra_lock, 0); }

static void draw(ns_progress *p, double now)
{
    long long d = atomic_load_explicit(&p->done, memory_order_relaxed);
    double el = now - p->start, rate = el > 0 ? (double)d / el : 0;
    char line[256], dn[32], tn[32], rn[32], eta[32];
    ns_format_count(dn, sizeof dn, (double)d);
    ns_format_count(rn, sizeof rn, rate);
    int k;
    if (p->total > 0) {
        ns_format_count(tn, sizeof tn, p->total);
        double left = rate > 0 ? (p->total - (double)d) / rate : -1;
        if (rate > 0 && left < 0) left = 0; /* past the announced total */
        ns_format_duration(eta, sizeof eta, left);
        k = snprintf(line, sizeof line, "%s %3.0f%%  %s/%s %s  %s %s/s  ETA %s", p->label,
                     100.0 * (double)d / p->total, dn, tn, p->unit, rn, p->unit, eta);
    } else {
        ns_format_duration(eta, sizeof eta, el);
        k = snprintf(line, sizeof line, "%s  %s %s  %s %s/s  %s", p->label, dn, p->unit, rn,
                     p->unit, eta);
    }
    lock_extra(p);
    if (p->extra[0] && k > 0 && (size_t)k < sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, "  %s", p->extra);
    unlock_extra(p);
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static void maybe_draw(ns_progress *p)
{
    if (!p->enabled) return;
    double now = ns_now();
    double last = atomic_load_explicit(&p->last_draw, memory_order_relaxed);
    if (now - last < 0.1) return;
    /* Only the thread that wins the update draws. */
    if (atomic_compare_exchange_strong(&p->last_draw, &last, now)) draw(p, now);
}

void ns_progress_add(ns_progress *p, long long n)
{
    atomic_fetch_add_explicit(&p->done, n, memory_order_relaxed);
    maybe_draw(p);
}

void ns_progress_set(ns_progress *p, long long done)
{
    atomic_store_explicit(&p->done, done, memory_order_relaxed);
    maybe_draw(p);
}

void ns_progress_note(ns_progress *p, const char *fmt, ...)
{
    char buf[sizeof p->extra];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    lock_extra(p);
    memcpy(p->extra, buf, sizeof buf);
    unlock_extra(p);
}

double ns_progress_end(ns_progress *p)
{
    double el = ns_now() - p->start;
    if (p->enabled) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    return el;
}
