/*
 * northstar/context.h — layer 3 features: the request context the recall
 * channels and the scorer read: hour of day and weekday (UTC, or with a tz
 * offset) of the request time, device and page from the request.
 */
#ifndef NORTHSTAR_CONTEXT_H
#define NORTHSTAR_CONTEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NS_DEVICE_UNKNOWN = 0,
    NS_DEVICE_MOBILE,
    NS_DEVICE_DESKTOP,
    NS_DEVICE_TABLET,
    NS_DEVICE_TV,
    NS_DEVICE__COUNT
} ns_device;

typedef struct ns_context {
    double ts;        /* request time, Unix seconds */
    int hour;         /* 0..23 local to tz_offset */
    int weekday;      /* 0 = Monday .. 6 = Sunday */
    int device;       /* ns_device */
    char page[32];    /* "home", "detail", "search", ... (lowercased, [a-z0-9_-]) */
    uint32_t page_id; /* hash bucket of page, 0..NS_CONTEXT_PAGE_BUCKETS-1 */
} ns_context;

#define NS_CONTEXT_PAGE_BUCKETS 64

const char *ns_device_name(int device);
/* NULL or "" -> NS_DEVICE_UNKNOWN; unknown names -> -1. Case-insensitive. */
int ns_device_parse(const char *s);
/* Build a context. device/page may be NULL. tz_offset_min shifts hour and
 * weekday (-720..840). Errors (NS_EINVAL, naming "device" or "page"): an
 * unknown device, a page longer than 31 bytes or with other characters. */
int ns_context_make(ns_context *c, double ts, int tz_offset_min, const char *device, const char *page);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_CONTEXT_H */
