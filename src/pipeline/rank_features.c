/*
 * rank_features.c — the ranker's input columns, computed from what the
 * pipeline knows about a candidate: the user (profile, activity, real-time
 * clicks), the item (categories, popularity, age, real-time counts and
 * CTR), the request context (hour, weekday, device, page) and the recall
 * evidence (which channels proposed it, at what rank, with what score).
 *
 * One function fills the rows both for serving (scorer_wd.c hands them to
 * ns_ranker_score) and for training (ns_pipeline_examples writes them as
 * TSV for the feature spec to fit), so the features a model is trained on
 * are the features it is served — the same code, the same numbers.
 *
 * Columns (a model's spec reads any subset, by name):
 *   user_age user_gender user_occupation user_seen user_events user_clicks_30m
 *   user_negatives (items whose latest feedback is negative: low ratings, dislikes)
 *   item item_cats item_cat item_positives item_age_days
 *   rt_imp_1h rt_clk_1h rt_imp_1d rt_clk_1d rt_ctr
 *   ctx_hour ctx_weekday ctx_device ctx_page
 *   channels nchannels cat_affinity
 *   ch:<channel>   1 - rank/quota in that channel (0 when it did not propose it)
 *   raw:<channel>  the channel's own score (0 when absent)
 */
#include "pipeline_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_USER_AGE, C_USER_GENDER, C_USER_OCC, C_USER_SEEN, C_USER_EVENTS, C_USER_CLK30, C_USER_NEG,
    C_ITEM, C_ITEM_CATS, C_ITEM_CAT, C_ITEM_POS, C_ITEM_AGE,
    C_RT_IMP1H, C_RT_CLK1H, C_RT_IMP1D, C_RT_CLK1D, C_RT_CTR,
    C_CTX_HOUR, C_CTX_WEEKDAY, C_CTX_DEVICE, C_CTX_PAGE,
    C_CHANNELS, C_NCHANNELS, C_CAT_AFF,
    C_FIXED__COUNT,
    C_CH = 100,  /* + channel index */
    C_RAW = 200, /* + channel index */
    C_MISSING = 300 /* a channel this pipeline does not have: always 0 */
};

static const char *const fixed_names[C_FIXED__COUNT] = {
    "user_age", "user_gender", "user_occupation", "user_seen", "user_events", "user_clicks_30m", "user_negatives",
    "item", "item_cats", "item_cat", "item_positives", "item_age_days",
    "rt_imp_1h", "rt_clk_1h", "rt_imp_1d", "rt_clk_1d", "rt_ctr",
    "ctx_hour", "ctx_weekday", "ctx_device", "ctx_page",
    "channels", "nchannels", "cat_affinity"};

struct ns__fcols {
    int n;
    int *kind; /* per column */
};

int ns__fcols_compile(ns__fcols **out, const char *const *names, int ncols, const char *const *channel_names,
                      int nchannels)
{
    *out = NULL;
    ns__fcols *f = ns_calloc(1, sizeof *f);
    if (!f || !(f->kind = ns_calloc((size_t)(ncols ? ncols : 1), sizeof(int)))) {
        free(f);
        return NS_ENOMEM;
    }
    f->n = ncols;
    for (int j = 0; j < ncols; j++) {
        const char *nm = names[j];
        int k = 0;
        while (k < C_FIXED__COUNT && strcmp(fixed_names[k], nm)) k++;
        if (k < C_FIXED__COUNT) {
            f->kind[j] = k;
            continue;
        }
        int base = !strncmp(nm, "ch:", 3) ? C_CH : !strncmp(nm, "raw:", 4) ? C_RAW : -1;
        if (base < 0) {
            ns__fcols_free(f);
            return ns_err_set_at(NS_EINVAL, NULL, 0, "column", nm, "the ranker's feature spec reads an unknown column");
        }
        const char *ch = nm + (base == C_CH ? 3 : 4);
        int c = 0;
        while (c < nchannels && strcmp(channel_names[c], ch)) c++;
        if (c == nchannels) {
            ns_log_warn("ranker column '%s': the pipeline has no channel '%s'; the feature will be 0", nm, ch);
            f->kind[j] = C_MISSING;
        } else
            f->kind[j] = base + c;
    }
    *out = f;
    return 0;
}

void ns__fcols_free(ns__fcols *f)
{
    if (!f) return;
    free(f->kind);
    free(f);
}

int ns__fcols_count(const ns__fcols *f) { return f->n; }

/* The default column set of a pipeline (what `northstar train` models). */
int ns__fcols_default(const char *const *channel_names, int nchannels, char ***names_out, int *n_out)
{
    int n = C_FIXED__COUNT + 2 * nchannels;
    char **v = ns_calloc((size_t)n, sizeof *v);
    if (!v) return NS_ENOMEM;
    int k = 0;
    for (int j = 0; j < C_FIXED__COUNT; j++) v[k++] = ns_strdup(fixed_names[j]);
    for (int c = 0; c < nchannels; c++) {
        char buf[64];
        snprintf(buf, sizeof buf, "ch:%s", channel_names[c]);
        v[k++] = ns_strdup(buf);
        snprintf(buf, sizeof buf, "raw:%s", channel_names[c]);
        v[k++] = ns_strdup(buf);
    }
    for (int j = 0; j < n; j++)
        if (!v[j]) {
            for (int i = 0; i < n; i++) free(v[i]);
            free(v);
            return NS_ENOMEM;
        }
    *names_out = v;
    *n_out = n;
    return 0;
}

static const char *const weekdays[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static inline ns_fvalue num(double x) { return (ns_fvalue){NULL, 0, x}; }
static inline ns_fvalue str(const char *s) { return s ? (ns_fvalue){s, (int)strlen(s), 0} : (ns_fvalue){NULL, 0, NAN}; }

int ns__fcols_fill(const ns__fcols *f, const ns_scorer_input *in, ns_fvalue *rows, ns_arena *a)
{
    ns_state *st = in->state;
    const ns_user_view *uv = in->req->uv;
    const ns_context *cx = in->req->ctx;
    double now = in->req->now;
    /* Per request: the primary categories of the user's recent items. */
    enum { NCAT = 256 };
    uint16_t catn[NCAT];
    int nrec = 0;
    memset(catn, 0, sizeof catn);
    if (uv)
        for (int k = 0; k < uv->nrecent; k++) {
            ns_item_view iv;
            ns_state_item(st, uv->recent[k], &iv);
            if (iv.ncats) catn[iv.cats[0] % NCAT]++;
            nrec++;
        }
    size_t chlen = 0;
    for (int c = 0; c < in->nchannels; c++) chlen += strlen(in->channel_names[c]) + 1;
    for (int i = 0; i < in->n; i++) {
        const ns_candidate *cd = &in->cands[i];
        const ns_rt_item *rt = &in->rt[i];
        ns_item_view iv;
        ns_state_item(st, cd->item, &iv);
        const char *chans = NULL;
        ns_fvalue *row = rows + (size_t)i * (size_t)f->n;
        for (int j = 0; j < f->n; j++) {
            int k = f->kind[j];
            ns_fvalue v;
            switch (k) {
            case C_USER_AGE: v = num(uv && uv->age > 0 ? uv->age : NAN); break;
            case C_USER_GENDER: v = str(uv ? uv->gender : NULL); break;
            case C_USER_OCC: v = str(uv ? uv->occupation : NULL); break;
            case C_USER_SEEN: v = num(uv ? (double)uv->nseen : 0); break;
            case C_USER_NEG: v = num(uv ? (double)uv->nneg : 0); break;
            case C_USER_EVENTS: v = num(uv ? (double)uv->nevents : 0); break;
            case C_USER_CLK30: v = num((double)in->user_clicks_30m); break;
            case C_ITEM: v = str(iv.id); break;
            case C_ITEM_CAT: v = str(iv.ncats ? ns_state_category_name(st, iv.cats[0]) : NULL); break;
            case C_ITEM_CATS:
                if (iv.ncats <= 1) v = str(iv.ncats ? ns_state_category_name(st, iv.cats[0]) : NULL);
                else {
                    ns_buf b;
                    ns_buf_init(&b);
                    for (int c = 0; c < iv.ncats; c++) {
                        if (c) ns_buf_puts(&b, "|"); /* the multi separator */
                        ns_buf_puts(&b, ns_state_category_name(st, iv.cats[c]));
                    }
                    char *s = b.data ? ns_arena_strndup(a, b.data, b.len) : NULL;
                    ns_buf_release(&b);
                    if (!s) return NS_ENOMEM;
                    v = (ns_fvalue){s, (int)strlen(s), 0};
                }
                break;
            case C_ITEM_POS: v = num((double)iv.positives); break;
            case C_ITEM_AGE: v = num(iv.created > 0 && now > iv.created ? (now - iv.created) / 86400.0 : NAN); break;
            case C_RT_IMP1H: v = num((double)rt->imp_1h); break;
            case C_RT_CLK1H: v = num((double)rt->clk_1h); break;
            case C_RT_IMP1D: v = num((double)rt->imp_1d); break;
            case C_RT_CLK1D: v = num((double)rt->clk_1d); break;
            case C_RT_CTR: v = num(rt->ctr); break;
            case C_CTX_HOUR: v = num(cx->hour); break;
            case C_CTX_WEEKDAY: v = str(cx->weekday >= 0 && cx->weekday < 7 ? weekdays[cx->weekday] : NULL); break;
            case C_CTX_DEVICE: v = str(ns_device_name(cx->device)); break;
            case C_CTX_PAGE: v = str(cx->page[0] ? cx->page : NULL); break;
            case C_CHANNELS:
                if (!chans) {
                    char *s = ns_arena_alloc(a, chlen + 1, 1);
                    if (!s) return NS_ENOMEM;
                    size_t len = 0;
                    for (int c = 0; c < in->nchannels; c++)
                        if (cd->channels & (1u << c)) {
                            size_t l = strlen(in->channel_names[c]);
                            if (len) s[len++] = '|';
                            memcpy(s + len, in->channel_names[c], l);
                            len += l;
                        }
                    s[len] = 0;
                    chans = s;
                }
                v = chans[0] ? str(chans) : str(NULL);
                break;
            case C_NCHANNELS: v = num(__builtin_popcount(cd->channels)); break;
            case C_CAT_AFF: v = num(nrec && iv.ncats ? (double)catn[iv.cats[0] % NCAT] / nrec : 0); break;
            case C_MISSING: v = num(0); break;
            default:
                if (k >= C_RAW) v = num(cd->channels & (1u << (k - C_RAW)) ? cd->chan_raw[k - C_RAW] : 0);
                else v = num(cd->chan_score[k - C_CH]);
            }
            row[j] = v;
        }
    }
    return 0;
}
