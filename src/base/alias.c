/*
 * alias.c — Walker's alias method with Vose's stable construction
 * (base.h): after an O(n) build, drawing from a discrete distribution costs
 * one random number and at most two table reads. word2vec draws its
 * negatives from one (unigram^0.75), the random walks their weighted steps
 * from one per node.
 *
 * Why not word2vec.c's 1e8-entry unigram table: it is 400 MB and every draw
 * is a cache miss; an alias table over a 13k-word vocabulary is 100 KB.
 */
#include "northstar/base.h"

void ns_alias_build(uint32_t *thr, int32_t *alias, double *w, int32_t n, int32_t *work)
{
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += w[i];
    int32_t *small = work, *large = work + n;
    int32_t ns = 0, nl = 0;
    /* w becomes the scaled probabilities n * w[i] / sum (double, for exact pairing) */
    for (int32_t i = 0; i < n; i++) {
        w[i] = sum > 0 ? w[i] * (double)n / sum : 1.0;
        alias[i] = i;
        if (w[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], l = large[nl - 1];
        double ps = w[s];
        thr[s] = ps >= 1.0 ? UINT32_MAX : (uint32_t)(ps * 4294967296.0);
        alias[s] = l;
        w[l] = (w[l] + ps) - 1.0;
        if (w[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What remains has probability 1 up to rounding. */
    while (nl > 0) thr[large[--nl]] = UINT32_MAX;
    while (ns > 0) thr[small[--ns]] = UINT32_MAX;
}
