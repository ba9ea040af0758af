/* sim_int.h — the simulator's world, shared by sim.c (model, offline
 * traffic) and sink.c (store, server, live traffic). */
#ifndef NS_SIM_INT_H
#define NS_SIM_INT_H

#include "northstar/pipeline.h"
#include "northstar/sim.h"

#define NS_SIM_MAX_CATS 32
#define NS_SIM_BURST_ACCOUNTS 50 /* accounts per burst */
#define NS_SIM_POPULAR 300       /* size of the offline policy's popular list */

enum { NS_SIM_BOT_NONE = 0, NS_SIM_BOT_FARM, NS_SIM_BOT_BURST };

typedef struct {
    char id[16];
    int age, occ;
    char gender; /* 'M' or 'F' */
    double activity, created;
    float taste[NS_SIM_MAX_CATS]; /* sums to 1 */
    int bot;                      /* NS_SIM_BOT_* */
    int targets[3], ntargets;
} suser;

typedef struct {
    char id[16];
    int cat1, cat2; /* cat2 = -1: none */
    float quality;
    double created;
    char creator[24];
    char cats[40];
    char *title, *text;
} sitem;

struct ns_sim {
    ns_sim_config c;
    char *words; /* categories * vocab words of 8 bytes */
    suser *u;
    int nu;
    sitem *it;
    int ni;
    int *by_created;                   /* item indexes by creation time */
    int *cat_items;                    /* by primary category, each by creation time */
    int cat_off[NS_SIM_MAX_CATS + 1];
    struct { int item; double start; int first_user; } *burst;
};

double ns__sim_affinity(const ns_sim *s, int u, int i);
double ns__sim_click_prob(const ns_sim *s, int u, int i, int pos);
int ns__sim_respond(ns_sim *s, ns_rng *r, int u, int i, int pos, double ts, ns_sim_event_fn fn, void *ctx,
                    ns_sim_stats *st);
double *ns__sim_activity_cum(const ns_sim *s);
int ns__sim_pick_user(const ns_sim *s, ns_rng *r, const double *cum, double t);

#endif
