/*
 * embed_int.h — private to src/embed: the negative-sampling table, the
 * sigmoid table, the batched update kernels of the trainer and the corpus
 * builder they share.
 */
#ifndef NS_EMBED_INT_H
#define NS_EMBED_INT_H

#include "northstar/base.h"
#include "northstar/vec.h"
#include "northstar/w2v.h"

#include <stdint.h>

/* Negative-sampling table: an alias table (base.h) over the vocabulary. */
typedef struct ns__alias {
    uint32_t *thr;   /* [n] acceptance threshold scaled to 2^32 (UINT32_MAX = always) */
    int32_t *alias;  /* [n] */
    int32_t n;
} ns__alias;

/* ---- sigmoid -------------------------------------------------------------
 * sigma(x) from a table over [-NS__SIG_MAX, NS__SIG_MAX] (saturating
 * outside), as word2vec.c and fastText do: ~60 lookups per word instead of
 * 60 expf calls. */
#define NS__SIG_MAX 8.0f
#define NS__SIG_N 2048
extern float ns__sig_table[NS__SIG_N + 1];
void ns__sig_init(void);
static inline float ns__sigmoid(float x)
{
    if (x <= -NS__SIG_MAX) return 0.0f;
    if (x >= NS__SIG_MAX) return 1.0f;
    int i = (int)((x + NS__SIG_MAX) * (NS__SIG_N / (2 * NS__SIG_MAX)) + 0.5f);
    return ns__sig_table[i];
}

/* ---- batched update kernels -------------------------------------------- */

/*
 * One negative-sampling / hierarchical-softmax step for k input rows
 * against m output rows (pWord2Vec). Rows hold ld floats (ld % 8 == 0,
 * 32-byte aligned; padding columns are zero and stay zero).
 *   S[j][o] = in[j] . out[o]
 *   G[j][o] = alpha * (label[o] - sigma(S[j][o]))
 *   in[j]  += sum_o G[j][o] out[o]      (with the old out)
 *   out[o] += sum_j G[j][o] in[j]       (with the old in)
 * Rows may repeat in `in` or in `out` (their updates add up). Returns the
 * sum of log-likelihood terms when want_loss, else 0. scratch needs
 * k * m + m * ld floats (aligned).
 */
void ns__w2v_step(float *const *in, int k, float *const *out, int m, const float *label, int ld,
                  float alpha, float *scratch);
/* The straightforward version of the same step, kept as the reference. */
void ns__w2v_step_ref(float *const *in, int k, float *const *out, int m, const float *label,
                      int ld, float alpha, float *scratch);
/* CBOW step: h[ld] is the (averaged) context vector; out rows are updated
 * and the input gradient sum_o G[o] out[o] is ADDED to dh[ld]. */
void ns__w2v_step_cbow(const float *h, float *dh, float *const *out, int m, const float *label,
                       int ld, float alpha);

/* A whole CBOW window: h = mean (or sum) of the k context rows, the step
 * above against the m outputs, then every context row += the gradient of h
 * (as word2vec.c does, undivided). h and dh are ld-float scratch rows. */
void ns__w2v_cbow(float *const *in, int k, float *const *out, int m, const float *label, int ld,
                  float alpha, int mean, float *h, float *dh);

/* Padded row length: a multiple of 8 floats (one AVX register). */
static inline int ns__w2v_ld(int dim) { return (dim + 7) & ~7; }

/* Corpus internals shared by text and walk builders: count ids, sort by
 * frequency, drop rare ones, remap tokens and compact sentences. Takes
 * ownership of ids and sent. */
int ns__corpus_finish(ns_w2v_corpus **out, int32_t *ids, int64_t ntok, int64_t *sent,
                      int64_t nsent, const ns_strmap *names, int64_t tokens_read,
                      const ns_w2v_corpus_opts *o, const char *what);

#endif
