/*
 * data.c — what describes the data (state.h, ns_state_data): which events
 * are positive or negative feedback and what each type weighs.
 */
#include "northstar/state.h"

ns_state_data ns_state_data_defaults(void)
{
    ns_state_data d = {0};
    ns_state_data_complete(&d);
    return d;
}

void ns_state_data_complete(ns_state_data *d)
{
    if (!(d->positive_threshold > 0)) d->positive_threshold = 3.5;
    for (int t = 0; t < NS_EV__COUNT; t++)
        if (!(d->weights[t] > 0)) d->weights[t] = 1.0;
}

int ns_state_data_polarity(const ns_state_data *d, int type, double value)
{
    switch (type) {
    case NS_EV_CLICK:
    case NS_EV_LIKE:
    case NS_EV_PURCHASE: return 1;
    case NS_EV_DISLIKE: return -1;
    case NS_EV_RATING:
        if (d->implicit_ratings) return 1;
        return value >= d->positive_threshold ? 1 : -1;
    default: return 0;
    }
}
