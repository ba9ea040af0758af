/* als_int.h — internals shared by als.c (training, solves) and als_io.c
 * (files). */
#ifndef NS_ALS_INT_H
#define NS_ALS_INT_H

#include "northstar/als.h"

/* G = Q'Q (k x k, full, row-major) of the n x k rows Q, summed in double in
 * row order (the same result for any thread count). */
void ns__als_gram(const float *Q, int64_t n, int k, float *G);

/* Training rows NS__ALS_LANES at a time (als_batch.c), for k up to
 * NS__ALS_BATCH_DIM (the interleaved systems take k * k * 16 floats):
 * rows r0 .. r0 + nb - 1 (nb <= NS__ALS_LANES) of one side into out (row r at
 * out + r * k). work: ns__als_batch_floats(k, longest) floats, longest the
 * most entries of any row. -1 if a system is not positive definite. */
enum { NS__ALS_LANES = 16, NS__ALS_BATCH_DIM = 128 };
size_t ns__als_batch_floats(int k, int64_t longest);
int ns__als_solve_batch(const float *G, int k, float lambda, float alpha, const float *Q, const int64_t *off,
                        const uint32_t *idx, uint32_t r0, int nb, float *out, float *work, int64_t longest);

#endif
