/*
 * scored.c — selecting and ordering scored candidates (index.h): a bounded
 * min-heap keeps the best k of a stream in O(log k) per item, so a recall
 * channel or a top list never sorts everything it looked at.
 */
#include "northstar/index.h"

#include <stdlib.h>

/* The heap's order: a is worse than b (lower score, or the same score and
 * a larger item, so ties resolve to the smaller item everywhere). */
static int worse(ns_scored a, ns_scored b) { return a.score < b.score || (a.score == b.score && a.item > b.item); }

static void swap(ns_scored *h, int i, int j)
{
    ns_scored t = h[i];
    h[i] = h[j];
    h[j] = t;
}

void ns_scored_push(ns_scored *h, int *n, int k, ns_scored x)
{
    if (*n < k) {
        int i = (*n)++;
        h[i] = x;
        for (; i > 0 && worse(h[i], h[(i - 1) / 2]); i = (i - 1) / 2) swap(h, i, (i - 1) / 2);
        return;
    }
    if (!worse(h[0], x)) return;
    h[0] = x;
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && worse(h[l], h[m])) m = l;
        if (r < *n && worse(h[r], h[m])) m = r;
        if (m == i) break;
        swap(h, i, m);
        i = m;
    }
}

static int cmp_best_first(const void *a, const void *b)
{
    const ns_scored *x = a, *y = b;
    return worse(*x, *y) ? 1 : worse(*y, *x) ? -1 : 0;
}

void ns_scored_sort(ns_scored *h, int n) { qsort(h, (size_t)n, sizeof *h, cmp_best_first); }

static int cmp_item(const void *a, const void *b)
{
    uint32_t x = ((const ns_scored *)a)->item, y = ((const ns_scored *)b)->item;
    return x < y ? -1 : x > y;
}

void ns_scored_sort_by_item(ns_scored *h, int n) { qsort(h, (size_t)n, sizeof *h, cmp_item); }
