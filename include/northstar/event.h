/*
 * northstar/event.h — layer 3 features: the vocabulary of user events that
 * every layer above speaks: the real-time windows count them, the store
 * logs them, the state, the trainers and the north-star metric read them.
 */
#ifndef NORTHSTAR_EVENT_H
#define NORTHSTAR_EVENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Event types. ns_event_type_name/parse share one table (static_assert). */
typedef enum {
    NS_EV_IMPRESSION = 0,
    NS_EV_CLICK,
    NS_EV_LIKE,
    NS_EV_PURCHASE,
    NS_EV_RATING,
    NS_EV_DISLIKE, /* explicit negative feedback ("not interested") */
    NS_EV__COUNT
} ns_event_type;

const char *ns_event_type_name(int type); /* "impression", ..., "?" */
int ns_event_type_parse(const char *s);   /* type or -1 */
/* Positive feedback: click, like, purchase, or a rating >= 3.5 (on 1..5).
 * The state and the offline jobs read the threshold and whether every
 * rating counts from the bundle's "data" settings (state.h, ns_data_opts);
 * this is their default. */
int ns_event_is_positive(int type, double value);
/* Negative feedback: a dislike, or a rating below 3.5 (the default). */
int ns_event_is_negative(int type, double value);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_EVENT_H */
