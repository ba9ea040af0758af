/*
 * scorer_blend.c — the "blend" scorer: a transparent weighted blend of
 * recall evidence and real-time feedback. It serves the built-in config,
 * is the fallback of "wide_deep" when its model is missing, and pre-ranks
 * the candidates that model scores.
 *
 *   score(i) = sum_c w_c * s_c(i)  +  ctr_weight * ctr(i) / max_j ctr(j)
 *
 * s_c(i) = 1 - rank/quota of item i in channel c (0 when c did not
 * propose it), so an item several channels agree on rises; ctr(i) is the
 * smoothed click-through rate of the last day (rt.h), normalised over
 * the candidates so the weight means the same whatever the traffic level.
 */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    float w[NS_MAX_CHANNELS];
    double ctr_weight;
} blend_t;

static int blend_create(const json_t *params, const char *path, ns_state *st, const char *const *names,
                        int nchannels, void **self)
{
    (void)st;
    blend_t *b = ns_calloc(1, sizeof *b);
    if (!b) return NS_ENOMEM;
    double dflt;
    int rc = ns__cfg_num(params, path, "default_weight", 0, 1e6, 1.0, &dflt);
    if (rc >= 0) rc = ns__cfg_num(params, path, "ctr_weight", 0, 1e6, 0.5, &b->ctr_weight);
    for (int c = 0; c < nchannels; c++) b->w[c] = (float)dflt;
    const json_t *ws = params ? json_object_get(params, "weights") : NULL;
    if (rc >= 0 && ws) {
        char p[160];
        snprintf(p, sizeof p, "%s.weights", path);
        if (!json_is_object(ws)) rc = ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "expected an object");
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)ws, key, v)
        {
            if (rc < 0) break;
            int c = 0;
            while (c < nchannels && strcmp(names[c], key)) c++;
            snprintf(p, sizeof p, "%s.weights.%s", path, key);
            if (c == nchannels) rc = ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "no recall channel named '%s'", key);
            else if (!json_is_number(v) || json_number_value(v) < 0)
                rc = ns_err_set_at(NS_EINVAL, NULL, 0, p, NULL, "expected a number >= 0");
            else b->w[c] = (float)json_number_value(v);
        }
    }
    if (rc < 0) { free(b); return rc; }
    *self = b;
    return 0;
}

static int blend_score(void *self, const ns_scorer_input *in, float *scores)
{
    const blend_t *b = self;
    double maxctr = 0;
    for (int i = 0; i < in->n; i++)
        if (in->rt[i].ctr > maxctr) maxctr = in->rt[i].ctr;
    for (int i = 0; i < in->n; i++) {
        const ns_candidate *c = &in->cands[i];
        double s = 0;
        for (int k = 0; k < in->nchannels; k++)
            if (c->channels & (1u << k)) s += b->w[k] * c->chan_score[k];
        if (maxctr > 0) s += b->ctr_weight * in->rt[i].ctr / maxctr;
        scores[i] = (float)s;
    }
    return 0;
}

static void blend_free(void *self) { free(self); }

const ns_scorer_type ns__scorer_blend = {"blend", blend_create, blend_score, blend_free, NULL};
