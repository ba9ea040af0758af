/*
 * event.c — names of the event types and which events count as positive
 * feedback (event.h).
 */
#include "northstar/event.h"

#include <string.h>

static const char *const ev_names[NS_EV__COUNT] = {"impression", "click", "like", "purchase", "rating", "dislike"};
_Static_assert(sizeof ev_names / sizeof ev_names[0] == NS_EV__COUNT, "event type names");

const char *ns_event_type_name(int type) { return type >= 0 && type < NS_EV__COUNT ? ev_names[type] : "?"; }

int ns_event_type_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < NS_EV__COUNT; i++)
        if (!strcmp(s, ev_names[i])) return i;
    return -1;
}

int ns_event_is_positive(int type, double value)
{
    switch (type) {
    case NS_EV_CLICK:
    case NS_EV_LIKE:
    case NS_EV_PURCHASE: return 1;
    case NS_EV_RATING: return value >= 3.5;
    default: return 0;
    }
}

int ns_event_is_negative(int type, double value)
{
    return type == NS_EV_DISLIKE || (type == NS_EV_RATING && value < 3.5);
}
