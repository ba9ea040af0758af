/*
 * embed_int.h — private to src/embed: the inlined RNG step, alias tables,
 * the sigmoid table and the batched update kernels shared by the trainer
 * and the walkers.
 */
#ifndef NS_EMBED_INT_H
#define NS_EMBED_INT_H

#include "northstar/base.h"
#include "northstar/embed.h"

#include <stdint.h>

/* Uniform in [0, n) from 32 random bits (multiply-shift; bias < n / 2^32). */
static inline uint32_t ns__below32(uint32_t bits, uint32_t n)
{
    return (uint32_t)(((uint64_t)bits * n) >> 32);
}

/* ---- alias tables (Walker / Vose) --------------------------------------
 * Sampling index i of n with probability w[i] / sum(w) in O(1): draw a
 * column c uniformly and a 32-bit u; return c if u < thr[c] else alias[c]. */
typedef struct ns__alias {
    uint32_t *thr;   /* [n] acceptance threshold scaled to 2^32 (UINT32_MAX = always) */
    int32_t *alias;  /* [n] */
    int32_t n;
} ns__alias;

/* Build into caller-provided arrays thr[n], alias[n] (n >= 1, weights >= 0
 * with a positive sum). work needs 2 * n int32. */
void ns__alias_build(uint32_t *thr, int32_t *alias, const double *w, int32_t n, int32_t *work);
static inline int32_t ns__alias_draw(const uint32_t *thr, const int32_t *alias, int32_t n,
                                     uint64_t r64)
{
    uint32_t c = ns__below32((uint32_t)(r64 >> 32), (uint32_t)n);
    return (uint32_t)r64 < thr[c] ? (int32_t)c : alias[c];
}

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

/* NS_EFORMAT naming the file when buf[0..len) is not text (NUL bytes,
 * many control bytes, mostly invalid UTF-8). */
int ns__check_text(const char *buf, size_t len, const char *name);

#endif
