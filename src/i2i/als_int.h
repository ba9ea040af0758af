/* als_int.h — internals shared by als.c (training, solves) and als_io.c
 * (files). */
#ifndef NS_ALS_INT_H
#define NS_ALS_INT_H

#include "northstar/als.h"

/* G = Q'Q (k x k, full, row-major) of the n x k rows Q, summed in double in
 * row order (the same result for any thread count). */
void ns__als_gram(const float *Q, int64_t n, int k, float *G);

#endif
