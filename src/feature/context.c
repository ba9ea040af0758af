/*
 * context.c — request context features: hour of day and weekday of the
 * request time (with the client's time-zone offset), device class and page.
 * Cheap enough to build on every request; validation names the field.
 */
#include "northstar/context.h"

#include "northstar/base.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const device_names[NS_DEVICE__COUNT] = {"unknown", "mobile", "desktop", "tablet", "tv"};
_Static_assert(sizeof device_names / sizeof device_names[0] == NS_DEVICE__COUNT, "device names");

const char *ns_device_name(int device)
{
    return device >= 0 && device < NS_DEVICE__COUNT ? device_names[device] : "?";
}

int ns_device_parse(const char *s)
{
    if (!s || !*s) return NS_DEVICE_UNKNOWN;
    for (int i = 0; i < NS_DEVICE__COUNT; i++)
        if (!strcasecmp(s, device_names[i])) return i;
    return -1;
}

int ns_context_make(ns_context *c, double ts, int tz_offset_min, const char *device, const char *page)
{
    memset(c, 0, sizeof *c);
    if (!isfinite(ts) || ts < 0) return ns_err_set_at(NS_EINVAL, NULL, 0, "ts", NULL, "request time must be >= 0");
    if (tz_offset_min < -720 || tz_offset_min > 840)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "tz", NULL, "time-zone offset %d min outside -720..840",
                             tz_offset_min);
    c->ts = ts;
    time_t t = (time_t)floor(ts) + (time_t)tz_offset_min * 60;
    struct tm tm;
    gmtime_r(&t, &tm);
    c->hour = tm.tm_hour;
    c->weekday = (tm.tm_wday + 6) % 7;
    c->device = ns_device_parse(device);
    if (c->device < 0)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "device", device,
                             "unknown device (expected mobile, desktop, tablet, tv or unknown)");
    const char *p = page && *page ? page : "home";
    size_t n = strlen(p);
    if (n >= sizeof c->page)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "page", p, "page name longer than %zu bytes", sizeof c->page - 1);
    for (size_t i = 0; i < n; i++) {
        char ch = (char)tolower((unsigned char)p[i]);
        if (!(isalnum((unsigned char)ch) || ch == '_' || ch == '-'))
            return ns_err_set_at(NS_EINVAL, NULL, 0, "page", p, "page names use letters, digits, '_' and '-'");
        c->page[i] = ch;
    }
    c->page_id = (uint32_t)(ns_hash_bytes(c->page, n, 0x9a6e) % NS_CONTEXT_PAGE_BUCKETS);
    return 0;
}
