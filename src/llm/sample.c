/*
 * sample.c — choosing the next token from logits: greedy, temperature,
 * top-k (quickselect), top-p (nucleus over the candidates that can matter)
 * and a CTRL-style repetition penalty; the generation defaults.
 */
#include "llm_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* sampling                                                                  */
/* ======================================================================= */

ns_llm_gen_cfg ns_llm_gen_defaults(void)
{
    ns_llm_gen_cfg g;
    memset(&g, 0, sizeof g);
    g.max_tokens = 256;
    g.temperature = 0.8f;
    g.top_k = 40;
    g.top_p = 0.95f;
    g.repeat_penalty = 1.0f;
    g.repeat_last_n = 64;
    g.seed = 42;
    g.stop_at_eos = 1;
    return g;
}

typedef struct { float p; int id; } cand;

static int cand_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id;
}

int ns_llm_sample(float *logits, int V, const ns_llm_gen_cfg *g, const int32_t *recent, int n_recent, ns_rng *rng)
{
    if (g->repeat_penalty != 1.0f && g->repeat_penalty > 0) {
        for (int i = 0; i < n_recent; i++) {
            int t = recent[i];
            if (t < 0 || t >= V) continue;
            int seen = 0;
            for (int j = 0; j < i; j++) seen |= recent[j] == t;
            if (seen) continue;
            logits[t] = logits[t] > 0 ? logits[t] / g->repeat_penalty : logits[t] * g->repeat_penalty;
        }
    }
    if (!(g->temperature > 0)) {
        int best = 0;
        for (int i = 1; i < V; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    float inv_t = 1.0f / g->temperature;
    /* top-k threshold by partial selection on a copy */
    float kth = -INFINITY;
    if (g->top_k > 0 && g->top_k < V) {
        /* counting the k-th largest: repeated max over a small k is fine for
         * k <= 64; otherwise sort a copy. */
        float *cp = ns_malloc(sizeof(float) * (size_t)V);
        if (!cp) return NS_ENOMEM;
        memcpy(cp, logits, sizeof(float) * (size_t)V);
        /* quickselect for the (top_k)-th largest */
        int lo = 0, hi = V - 1, k = g->top_k - 1;
        while (lo < hi) {
            float piv = cp[(lo + hi) / 2];
            int i = lo, j = hi;
            while (i <= j) {
                while (cp[i] > piv) i++;
                while (cp[j] < piv) j--;
                if (i <= j) {
                    float t = cp[i];
                    cp[i] = cp[j];
                    cp[j] = t;
                    i++;
                    j--;
                }
            }
            if (k <= j) hi = j;
            else if (k >= i) lo = i;
            else break;
        }
        kth = cp[k];
        free(cp);
    }
    double sum = 0;
    for (int i = 0; i < V; i++) {
        float p = logits[i] >= kth ? expf((logits[i] - mx) * inv_t) : 0.0f;
        logits[i] = p;
        sum += p;
    }
    float isum = (float)(1.0 / sum);
    for (int i = 0; i < V; i++) logits[i] *= isum;
    float r = ns_rng_uniformf(rng);
    if (g->top_p > 0 && g->top_p < 1) {
        /* nucleus: candidates above a cutoff that cannot matter, sorted */
        float cutoff = (1.0f - g->top_p) / (float)(V > 1 ? V - 1 : 1);
        cand *cs = ns_malloc(sizeof(cand) * (size_t)V);
        if (!cs) return NS_ENOMEM;
        int n = 0;
        for (int i = 0; i < V; i++)
            if (logits[i] >= cutoff && logits[i] > 0) cs[n++] = (cand){logits[i], i};
        qsort(cs, (size_t)n, sizeof(cand), cand_desc);
        float cum = 0;
        int last = n - 1;
        for (int i = 0; i < n; i++) {
            cum += cs[i].p;
            if (cum > g->top_p) {
                last = i;
                break;
            }
        }
        float acc = 0, target = r * cum;
        int pick = cs[last].id;
        for (int i = 0; i <= last; i++) {
            acc += cs[i].p;
            if (target < acc) {
                pick = cs[i].id;
                break;
            }
        }
        free(cs);
        return pick;
    }
    float acc = 0;
    for (int i = 0; i < V; i++) {
        acc += logits[i];
        if (r < acc) return i;
    }
    for (int i = V - 1; i >= 0; i--)
        if (logits[i] > 0) return i;
    return 0;
}

