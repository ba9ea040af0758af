/*
 * alias.c — Walker's alias method (Vose's stable construction): after an
 * O(n) build, drawing from any discrete distribution costs one random
 * number and at most two table reads. Used for negative sampling
 * (unigram^0.75, word2vec) and for weighted random-walk steps (one table
 * per node, DeepWalk / node2vec).
 *
 * Why not word2vec.c's 1e8-entry unigram table: it is 400 MB, and each draw
 * is a cache miss; an alias table over a 13k-word vocabulary is 100 KB.
 */
#include "embed_int.h"

#include <stdlib.h>

void ns__alias_build(uint32_t *thr, int32_t *alias, const double *w, int32_t n, int32_t *work)
{
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += w[i];
    int32_t *small = work, *large = work + n;
    int32_t ns = 0, nl = 0;
    /* Scaled probabilities n * w[i] / sum, in double for exact pairing. */
    double *p = NULL;
    double pstack[256];
    if (n <= 256) p = pstack;
    else p = ns_malloc(sizeof(double) * (size_t)n);
    if (!p) { /* out of memory: fall back to exact-but-slow uniform columns */
        for (int32_t i = 0; i < n; i++) {
            thr[i] = UINT32_MAX;
            alias[i] = i;
        }
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        p[i] = sum > 0 ? w[i] * (double)n / sum : 1.0;
        alias[i] = i;
        if (p[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], l = large[nl - 1];
        double ps = p[s];
        thr[s] = ps >= 1.0 ? UINT32_MAX : (uint32_t)(ps * 4294967296.0);
        alias[s] = l;
        p[l] = (p[l] + ps) - 1.0;
        if (p[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* What remains has probability 1 up to rounding. */
    while (nl > 0) thr[large[--nl]] = UINT32_MAX;
    while (ns > 0) thr[small[--ns]] = UINT32_MAX;
    if (p != pstack) free(p);
}
