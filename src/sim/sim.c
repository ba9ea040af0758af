/*
 * sim.c — the simulated world (categories with vocabularies, users with
 * tastes, items with text and quality) and its offline traffic: diurnal
 * sessions, slates from a simple platform policy, position-biased clicks,
 * cold-start users and items, click farms and bursts. See sim.h for the
 * model. Everything is drawn from ns_rng streams of one seed: the world from
 * streams 1-3, the traffic from stream 4, so a run is reproducible and the
 * world does not depend on the traffic settings.
 *
 * Workload: 10^4 users x 5 10^4 items x a week ~ 10^6 events in a few
 * seconds; memory is the world plus the session schedule.
 */
#include "sim_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const cat_names[NS_SIM_MAX_CATS] = {
    "news",    "sports",  "music",    "movies",  "tech",      "science",   "travel",      "food",
    "fashion", "health",  "finance",  "gaming",  "books",     "art",       "cars",        "home",
    "garden",  "pets",    "history",  "politics", "comedy",   "nature",    "fitness",     "design",
    "education", "parenting", "photography", "crafts", "space", "weather", "business", "languages"};

static const char *const common_words[] = {"the", "and", "new", "best", "how", "why", "guide", "review",
                                           "story", "week", "today", "first", "great", "top", "inside",
                                           "about", "with", "from", "your", "more"};
enum { NCOMMON = sizeof common_words / sizeof common_words[0] };

static const char *const occupations[] = {"student", "engineer", "teacher", "artist", "doctor", "lawyer",
                                          "writer", "sales", "manager", "retired", "scientist", "other"};
enum { NOCC = sizeof occupations / sizeof occupations[0] };

ns_sim_config ns_sim_defaults(void)
{
    ns_sim_config c;
    memset(&c, 0, sizeof c);
    c.seed = 1;
    c.users = 1000;
    c.items = 5000;
    c.categories = 20;
    c.vocab = 40;
    c.days = 7;
    c.sessions_per_user_day = 0.5;
    c.slate = 10;
    c.initial_items = 0.7;
    c.new_users = 0.1;
    return c;
}

static int bad(const char *field, const char *why) { return ns_err_set_at(NS_EINVAL, NULL, 0, field, NULL, "%s", why); }

static int check_config(ns_sim_config *c)
{
    if (c->users < 1 || c->users > 10000000) return bad("users", "expected 1..10,000,000");
    if (c->items < 1 || c->items > 10000000) return bad("items", "expected 1..10,000,000");
    if (c->categories < 1 || c->categories > NS_SIM_MAX_CATS) return bad("categories", "expected 1..32");
    if (c->vocab < 5 || c->vocab > 1000) return bad("vocab", "expected 5..1000");
    if (c->days < 1 || c->days > 365) return bad("days", "expected 1..365");
    if (!(c->sessions_per_user_day > 0 && c->sessions_per_user_day <= 100))
        return bad("sessions_per_user_day", "expected (0, 100]");
    if (c->slate < 1 || c->slate > 100) return bad("slate", "expected 1..100");
    if (!(c->initial_items > 0 && c->initial_items <= 1)) return bad("initial_items", "expected (0, 1]");
    if (!(c->new_users >= 0 && c->new_users < 1)) return bad("new_users", "expected [0, 1)");
    if (!(c->bots >= 0 && c->bots <= 0.5)) return bad("bots", "expected 0..0.5");
    if (c->bursts < 0 || c->bursts > 1000) return bad("bursts", "expected 0..1000");
    if (c->start <= 0) {
        double now = floor(ns_wall_time() / 3600) * 3600;
        c->start = now - 86400.0 * c->days;
    }
    return 0;
}

/* A made-up word of 2-3 consonant-vowel syllables. */
static void make_word(ns_rng *r, char *out)
{
    static const char cons[] = "bdfgklmnprstvz", vow[] = "aeiou";
    int syl = 2 + (int)ns_rng_below(r, 2), k = 0;
    for (int i = 0; i < syl; i++) {
        out[k++] = cons[ns_rng_below(r, sizeof cons - 1)];
        out[k++] = vow[ns_rng_below(r, sizeof vow - 1)];
    }
    if (ns_rng_below(r, 2)) out[k++] = cons[ns_rng_below(r, sizeof cons - 1)];
    out[k] = 0;
}

/* Skewed pick in [0, n): small indexes are frequent (Zipf-like). */
static int skewed(ns_rng *r, int n) { double u = ns_rng_uniform(r); return (int)(u * u * n); }

static const char *word_of(const ns_sim *s, int cat, int k) { return s->words + ((size_t)cat * (size_t)s->c.vocab + (size_t)k) * 8; }

static char *make_text(ns_sim *s, ns_rng *r, int c1, int c2, int nwords, int title)
{
    ns_buf b;
    ns_buf_init(&b);
    for (int w = 0; w < nwords; w++) {
        double u = ns_rng_uniform(r);
        const char *word = title || u < 0.65 ? word_of(s, c1, skewed(r, s->c.vocab))
                           : u < 0.8         ? word_of(s, c2 >= 0 ? c2 : c1, skewed(r, s->c.vocab))
                                             : common_words[ns_rng_below(r, NCOMMON)];
        if (w) ns_buf_puts(&b, " ");
        size_t at = b.len;
        ns_buf_puts(&b, word);
        if (title && b.data[at] >= 'a' && b.data[at] <= 'z') b.data[at] = (char)(b.data[at] - 'a' + 'A');
    }
    return b.data;
}

static int cmp_item_created(const void *a, const void *b, void *ctx)
{
    const ns_sim *s = ctx;
    double x = s->it[*(const int *)a].created, y = s->it[*(const int *)b].created;
    return x < y ? -1 : x > y ? 1 : *(const int *)a - *(const int *)b;
}

int ns_sim_new(ns_sim **out, const ns_sim_config *cfg)
{
    *out = NULL;
    ns_sim *s = ns_calloc(1, sizeof *s);
    if (!s) return NS_ENOMEM;
    s->c = cfg ? *cfg : ns_sim_defaults();
    int rc = check_config(&s->c);
    if (rc < 0) {
        free(s);
        return rc;
    }
    const ns_sim_config *c = &s->c;
    double end = c->start + 86400.0 * c->days;
    int C = c->categories;
    ns_rng r;

    /* Vocabularies (stream 1). */
    ns_rng_seed(&r, c->seed, 1);
    if (!(s->words = ns_calloc((size_t)C * (size_t)c->vocab, 8))) goto nomem;
    for (int k = 0; k < C * c->vocab; k++) make_word(&r, s->words + (size_t)k * 8);

    /* Users (stream 2): segment tastes, then individual ones. */
    ns_rng_seed(&r, c->seed, 2);
    float seg_taste[8][2][NS_SIM_MAX_CATS];
    for (int a = 0; a < 8; a++)
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < C; k++) seg_taste[a][g][k] = (float)pow(ns_rng_uniform(&r), 3.0);
    int nbots = (int)lround(c->bots * c->users);
    s->nu = c->users + nbots + c->bursts * NS_SIM_BURST_ACCOUNTS;
    if (!(s->u = ns_calloc((size_t)s->nu, sizeof *s->u))) goto nomem;
    for (int i = 0; i < s->nu; i++) {
        suser *u = &s->u[i];
        snprintf(u->id, sizeof u->id, "u%d", i);
        u->age = 16 + (int)(ns_rng_uniform(&r) * ns_rng_uniform(&r) * 60 + ns_rng_uniform(&r) * 10);
        u->gender = ns_rng_below(&r, 2) ? 'F' : 'M';
        u->occ = (int)ns_rng_below(&r, NOCC);
        u->activity = exp(ns_rng_normal(&r));
        u->created = ns_rng_uniform(&r) < c->new_users ? c->start + ns_rng_uniform(&r) * (end - c->start)
                                                        : c->start - 86400.0 * (1 + (double)ns_rng_below(&r, 365));
        int ab = u->age < 25 ? 0 : u->age < 35 ? 1 : u->age < 45 ? 2 : u->age < 55 ? 3 : 4;
        const float *st = seg_taste[ab][u->gender == 'F'];
        double sum = 0;
        for (int k = 0; k < C; k++) {
            u->taste[k] = 0.5f * st[k] + 0.5f * (float)pow(ns_rng_uniform(&r), 3.0);
            sum += u->taste[k];
        }
        for (int k = 0; k < C; k++) u->taste[k] = (float)(u->taste[k] / sum);
        if (i >= c->users) u->bot = i < c->users + nbots ? NS_SIM_BOT_FARM : NS_SIM_BOT_BURST;
    }

    /* Items (stream 3). */
    ns_rng_seed(&r, c->seed, 3);
    s->ni = c->items;
    if (!(s->it = ns_calloc((size_t)s->ni, sizeof *s->it))) goto nomem;
    for (int i = 0; i < s->ni; i++) {
        sitem *it = &s->it[i];
        snprintf(it->id, sizeof it->id, "i%d", i);
        it->cat1 = skewed(&r, C);
        it->cat2 = ns_rng_uniform(&r) < 0.3 ? (int)ns_rng_below(&r, (uint64_t)C) : -1;
        if (it->cat2 == it->cat1) it->cat2 = -1;
        it->quality = (float)ns_rng_normal(&r);
        it->created = ns_rng_uniform(&r) < c->initial_items ? c->start - 86400.0 * 30 * ns_rng_uniform(&r)
                                                             : c->start + ns_rng_uniform(&r) * (end - c->start);
        snprintf(it->creator, sizeof it->creator, "creator%d", (int)ns_rng_below(&r, (uint64_t)(s->ni / 20 + 1)));
        if (it->cat2 >= 0) snprintf(it->cats, sizeof it->cats, "%s|%s", cat_names[it->cat1], cat_names[it->cat2]);
        else snprintf(it->cats, sizeof it->cats, "%s", cat_names[it->cat1]);
        if (!(it->title = make_text(s, &r, it->cat1, it->cat2, 2 + (int)ns_rng_below(&r, 3), 1))) goto nomem;
        if (!(it->text = make_text(s, &r, it->cat1, it->cat2, 20 + (int)ns_rng_below(&r, 21), 0))) goto nomem;
    }
    /* Items by creation time, overall and per primary category. */
    if (!(s->by_created = ns_malloc(sizeof(int) * (size_t)s->ni)) ||
        !(s->cat_items = ns_malloc(sizeof(int) * (size_t)s->ni)))
        goto nomem;
    for (int i = 0; i < s->ni; i++) s->by_created[i] = i;
    qsort_r(s->by_created, (size_t)s->ni, sizeof(int), cmp_item_created, s);
    int fill[NS_SIM_MAX_CATS + 1] = {0};
    for (int i = 0; i < s->ni; i++) s->cat_off[s->it[i].cat1 + 1]++;
    for (int k = 0; k < C; k++) s->cat_off[k + 1] += s->cat_off[k];
    for (int j = 0; j < s->ni; j++) { /* in creation order, so each category's list is sorted */
        int i = s->by_created[j], k = s->it[i].cat1;
        s->cat_items[s->cat_off[k] + fill[k]++] = i;
    }
    /* Click-farm targets and bursts also come from the world stream. */
    for (int i = c->users; i < c->users + nbots; i++) {
        suser *u = &s->u[i];
        u->ntargets = 3;
        for (int t = 0; t < u->ntargets; t++) u->targets[t] = (int)ns_rng_below(&r, (uint64_t)s->ni);
    }
    if (c->bursts && !(s->burst = ns_calloc((size_t)c->bursts, sizeof *s->burst))) goto nomem;
    for (int b = 0; b < c->bursts; b++) {
        s->burst[b].item = (int)ns_rng_below(&r, (uint64_t)s->ni);
        s->burst[b].start = c->start + ns_rng_uniform(&r) * (end - c->start - 600);
        s->burst[b].first_user = c->users + nbots + b * NS_SIM_BURST_ACCOUNTS;
        for (int k = 0; k < NS_SIM_BURST_ACCOUNTS; k++) {
            suser *u = &s->u[s->burst[b].first_user + k];
            u->created = s->burst[b].start - 60;
            u->ntargets = 1;
            u->targets[0] = s->burst[b].item;
        }
    }
    *out = s;
    return 0;
nomem:
    ns_sim_free(s);
    return NS_ENOMEM;
}

void ns_sim_free(ns_sim *s)
{
    if (!s) return;
    if (s->it)
        for (int i = 0; i < s->ni; i++) {
            free(s->it[i].title);
            free(s->it[i].text);
        }
    free(s->it);
    free(s->u);
    free(s->words);
    free(s->by_created);
    free(s->cat_items);
    free(s->burst);
    free(s);
}

const ns_sim_config *ns_sim_config_of(const ns_sim *s) { return &s->c; }
int ns_sim_user_count(const ns_sim *s) { return s->nu; }
int ns_sim_item_count(const ns_sim *s) { return s->ni; }

void ns_sim_user(const ns_sim *s, int i, ns_user_rec *out)
{
    const suser *u = &s->u[i];
    static const char *const gender[2] = {"M", "F"};
    *out = (ns_user_rec){u->id, u->age, gender[u->gender == 'F'], occupations[u->occ], NULL, NULL, u->created};
}

void ns_sim_item(const ns_sim *s, int i, ns_item_rec *out)
{
    const sitem *it = &s->it[i];
    *out = (ns_item_rec){it->id, it->title, it->text, it->cats, NULL, it->creator, it->created};
}

/* ---- the click model ---------------------------------------------------------------------------- */

double ns__sim_affinity(const ns_sim *s, int u, int i)
{
    const suser *us = &s->u[u];
    const sitem *it = &s->it[i];
    double a = us->taste[it->cat1] * s->c.categories;
    if (it->cat2 >= 0) a = 0.7 * a + 0.3 * us->taste[it->cat2] * s->c.categories;
    return a;
}

double ns__sim_click_prob(const ns_sim *s, int u, int i, int pos)
{
    double exam = pow(1.0 + pos, -0.8);
    double z = -3.2 + 1.2 * log(ns__sim_affinity(s, u, i) + 0.05) + 0.6 * s->it[i].quality;
    return exam / (1.0 + exp(-z));
}

/* Events after a shown item: impression, maybe a click and what follows.
 * Returns the callback's nonzero value, if any. */
int ns__sim_respond(ns_sim *s, ns_rng *r, int u, int i, int pos, double ts, ns_sim_event_fn fn, void *ctx,
                    ns_sim_stats *st)
{
    const char *uid = s->u[u].id, *iid = s->it[i].id;
    int bot = s->u[u].bot != 0, rc;
    ns_event_rec ev = {uid, iid, NS_EV_IMPRESSION, 1, ts, NULL};
    st->impressions++;
    st->bot_events += bot;
    if ((rc = fn(&ev, bot, ctx))) return rc;
    double p;
    if (s->u[u].bot) { /* bots click their targets, rarely anything else */
        int target = 0;
        for (int t = 0; t < s->u[u].ntargets; t++) target |= s->u[u].targets[t] == i;
        p = target ? 0.9 : 0.01;
    } else p = ns__sim_click_prob(s, u, i, pos);
    if (ns_rng_uniform(r) >= p) return 0;
    ev.type = NS_EV_CLICK;
    ev.ts = ts + 1 + ns_rng_uniform(r) * 3;
    st->clicks++;
    st->bot_events += bot;
    if ((rc = fn(&ev, bot, ctx))) return rc;
    if (bot) return 0;
    double a = ns__sim_affinity(s, u, i), q = s->it[i].quality;
    if (ns_rng_uniform(r) < 0.2 + 0.1 * q) {
        ev.type = NS_EV_LIKE;
        ev.ts += 20;
        st->likes++;
        if ((rc = fn(&ev, 0, ctx))) return rc;
    }
    if (ns_rng_uniform(r) < 0.04) {
        ev.type = NS_EV_PURCHASE;
        ev.ts += 5;
        st->purchases++;
        if ((rc = fn(&ev, 0, ctx))) return rc;
    }
    if (ns_rng_uniform(r) < 0.1) {
        double v = round(2.5 + 0.5 * log(a + 0.05) + 0.8 * q + 0.7 * ns_rng_normal(r));
        ev.type = NS_EV_RATING;
        ev.value = v < 1 ? 1 : v > 5 ? 5 : v;
        ev.ts += 5;
        st->ratings++;
        if ((rc = fn(&ev, 0, ctx))) return rc;
    }
    return 0;
}

/* ---- offline traffic ------------------------------------------------------------------------------------- */

typedef struct {
    double t;
    int user;
} session;

static int cmp_session(const void *a, const void *b)
{
    const session *x = a, *y = b;
    if (x->t != y->t) return x->t < y->t ? -1 : 1;
    return x->user - y->user;
}

static int cmp_pop(const void *a, const void *b)
{
    const ns_scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* Number of items created at or before t in a creation-sorted list. */
static int published(const ns_sim *s, const int *list, int n, double t)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s->it[list[mid]].created <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int ns__sim_pick_user(const ns_sim *s, ns_rng *r, const double *cum, double t)
{
    for (int tries = 0; tries < 20; tries++) {
        double x = ns_rng_uniform(r) * cum[s->c.users - 1];
        int lo = 0, hi = s->c.users - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cum[mid] <= x) lo = mid + 1;
            else hi = mid;
        }
        if (s->u[lo].created <= t) return lo;
    }
    return -1;
}

/* Diurnal weight of an hour of the day: trough at 4h, peak at 20h. */
static double hour_weight(int h) { return 1.0 + 0.8 * cos(2 * M_PI * (h - 20) / 24.0); }

double *ns__sim_activity_cum(const ns_sim *s)
{
    double *cum = ns_malloc(sizeof(double) * (size_t)s->c.users);
    if (!cum) return NULL;
    double acc = 0;
    for (int i = 0; i < s->c.users; i++) cum[i] = acc += s->u[i].activity;
    return cum;
}

int ns_sim_run(ns_sim *s, ns_sim_event_fn fn, void *ctx, ns_sim_stats *stats)
{
    ns_sim_stats dummy;
    if (!stats) stats = &dummy;
    memset(stats, 0, sizeof *stats);
    const ns_sim_config *c = &s->c;
    ns_rng r;
    ns_rng_seed(&r, c->seed, 4);
    double hw[24], hsum = 0;
    for (int h = 0; h < 24; h++) hsum += hw[h] = hour_weight(h);
    int nbots = (int)lround(c->bots * c->users);
    int64_t nnorm = (int64_t)llround(c->users * c->sessions_per_user_day * c->days);
    int64_t nfarm = (int64_t)llround(nbots * 10 * c->sessions_per_user_day * c->days);
    int64_t nburst = (int64_t)c->bursts * NS_SIM_BURST_ACCOUNTS;
    int64_t ns = nnorm + nfarm + nburst;
    session *sess = ns_malloc(sizeof(session) * (size_t)(ns ? ns : 1));
    double *cum = ns__sim_activity_cum(s);
    uint32_t *clicks = ns_calloc((size_t)s->ni, sizeof(uint32_t));
    ns_scored *pop = ns_malloc(sizeof(ns_scored) * (size_t)s->ni);
    int *slate = ns_malloc(sizeof(int) * (size_t)c->slate);
    int rc = 0;
    if (!sess || !cum || !clicks || !pop || !slate) {
        rc = NS_ENOMEM;
        goto out;
    }
    /* The schedule: normal sessions follow the diurnal curve; farm sessions
     * come at any hour; burst accounts act within ten minutes. */
    int64_t k = 0;
    for (int64_t j = 0; j < nnorm; j++) {
        double x = ns_rng_uniform(&r) * hsum;
        int h = 0;
        while (h < 23 && x >= hw[h]) x -= hw[h++];
        double t = c->start + 86400.0 * (double)ns_rng_below(&r, (uint64_t)c->days) + 3600.0 * h +
                   3600.0 * ns_rng_uniform(&r);
        sess[k++] = (session){t, ns__sim_pick_user(s, &r, cum, t)};
    }
    for (int64_t j = 0; j < nfarm; j++)
        sess[k++] = (session){c->start + ns_rng_uniform(&r) * 86400.0 * c->days,
                              c->users + (int)ns_rng_below(&r, (uint64_t)nbots)};
    for (int b = 0; b < c->bursts; b++)
        for (int a = 0; a < NS_SIM_BURST_ACCOUNTS; a++)
            sess[k++] = (session){s->burst[b].start + ns_rng_uniform(&r) * 600, s->burst[b].first_user + a};
    qsort(sess, (size_t)k, sizeof *sess, cmp_session);

    int npop = 0;
    for (int64_t j = 0; j < k && !rc; j++) {
        int u = sess[j].user;
        if (u < 0) continue;
        double t = sess[j].t;
        int npub = published(s, s->by_created, s->ni, t);
        if (!npub) continue;
        if (j % 500 == 0) { /* the policy's popular list, from clicks so far */
            npop = 0;
            for (int i = 0; i < s->ni; i++)
                if (clicks[i] && s->it[i].created <= t) pop[npop++] = (ns_scored){(uint32_t)i, (float)clicks[i]};
            qsort(pop, (size_t)npop, sizeof *pop, cmp_pop);
            if (npop > NS_SIM_POPULAR) npop = NS_SIM_POPULAR;
        }
        stats->sessions++;
        const suser *us = &s->u[u];
        int pages = us->bot == NS_SIM_BOT_BURST ? 1 + (int)ns_rng_below(&r, 4) : 1;
        while (!us->bot && pages < 5 && ns_rng_uniform(&r) < 0.5) pages++;
        for (int pg = 0; pg < pages && !rc; pg++) {
            int n = 0;
            if (us->bot) /* bots go straight for their targets */
                for (int t2 = 0; t2 < us->ntargets && n < c->slate; t2++) slate[n++] = us->targets[t2];
            for (int tries = 0; n < c->slate && tries < 4 * c->slate; tries++) {
                double x = ns_rng_uniform(&r);
                int cand;
                if (x < 0.4) { /* a favourite category */
                    double y = ns_rng_uniform(&r), acc = 0;
                    int cat = 0;
                    while (cat < c->categories - 1 && (acc += us->taste[cat]) < y) cat++;
                    int m = published(s, s->cat_items + s->cat_off[cat], s->cat_off[cat + 1] - s->cat_off[cat], t);
                    if (!m) continue;
                    cand = s->cat_items[s->cat_off[cat] + (int)ns_rng_below(&r, (uint64_t)m)];
                } else if (x < 0.7 && npop) cand = (int)pop[ns_rng_below(&r, (uint64_t)npop)].item;
                else cand = s->by_created[ns_rng_below(&r, (uint64_t)npub)];
                if (s->it[cand].created > t) continue;
                int dup = 0;
                for (int q = 0; q < n && !dup; q++) dup = slate[q] == cand;
                if (!dup) slate[n++] = cand;
            }
            double tp = t + 40.0 * pg;
            for (int pos = 0; pos < n && !rc; pos++) {
                int64_t before = stats->clicks;
                rc = ns__sim_respond(s, &r, u, slate[pos], pos, tp + 2.0 * pos, fn, ctx, stats);
                if (stats->clicks > before) clicks[slate[pos]]++;
            }
        }
    }
out:
    free(sess);
    free(cum);
    free(clicks);
    free(pop);
    free(slate);
    return rc;
}

/* ---- ground truth ------------------------------------------------------------------------------------------ */

int ns_sim_write_truth(const ns_sim *s, const char *path)
{
    ns_buf b;
    ns_buf_init(&b);
    for (int i = s->c.users; i < s->nu; i++) {
        const suser *u = &s->u[i];
        ns_buf_printf(&b, "{\"kind\":\"bot\",\"user\":\"%s\",\"bot\":\"%s\",\"targets\":[", u->id,
                      u->bot == NS_SIM_BOT_FARM ? "click_farm" : "burst");
        for (int t = 0; t < u->ntargets; t++) ns_buf_printf(&b, "%s\"%s\"", t ? "," : "", s->it[u->targets[t]].id);
        ns_buf_puts(&b, "]}\n");
    }
    for (int k = 0; k < s->c.bursts; k++)
        ns_buf_printf(&b, "{\"kind\":\"burst\",\"item\":\"%s\",\"start\":%.3f,\"end\":%.3f,\"accounts\":%d}\n",
                      s->it[s->burst[k].item].id, s->burst[k].start, s->burst[k].start + 600,
                      NS_SIM_BURST_ACCOUNTS);
    for (int i = 0; i < s->ni; i++)
        ns_buf_printf(&b, "{\"kind\":\"item\",\"item\":\"%s\",\"quality\":%.4f}\n", s->it[i].id, s->it[i].quality);
    int rc = ns_file_write_atomic(path, b.data ? b.data : "", b.len);
    ns_buf_release(&b);
    return rc;
}
