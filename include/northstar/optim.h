/*
 * northstar/optim.h — optimizers, gradient clipping and learning-rate
 * schedules, with PyTorch's update rules (checked in tests/ref).
 *
 * Dense optimizers update n parameters in place from their gradients and
 * per-parameter state buffers the caller owns (zero them before step 1).
 * Sparse-row variants update only the rows named by ids (a COO gradient as
 * produced by ns_embedding_bag_backward_rows + ns_sparse_rows_coalesce):
 * the way large embedding tables and wide linear models are trained.
 * `step` counts from 1.
 *
 * Example (AdamW over all parameters, one allocation of m and v):
 *   ns_adam_cfg cfg = ns_adam_defaults();  cfg.lr = 1e-3f;  cfg.weight_decay = 0.1f;
 *   float lr = ns_lr_warmup_cosine(step, 100, 2000, 1e-3f, 1e-4f);
 *   ns_clip_grad_norm(grads, n, 1.0f);
 *   cfg.lr = lr;  ns_adam_step(&cfg, params, grads, m, v, n, step);
 */
#ifndef NORTHSTAR_OPTIM_H
#define NORTHSTAR_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SGD with momentum (PyTorch semantics: buf = g on the first step, then
 * buf = momentum * buf + (1 - dampening) * g; nesterov uses g + momentum * buf).
 * weight_decay adds wd * p to the gradient. buf may be NULL when momentum = 0. */
typedef struct ns_sgd_cfg {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} ns_sgd_cfg;
void ns_sgd_step(const ns_sgd_cfg *c, float *p, const float *g, float *buf, size_t n, long step);

/* Adam / AdamW. decoupled = 0: Adam with L2 (wd * p added to the gradient);
 * decoupled = 1: AdamW (p *= 1 - lr * wd before the update). */
typedef struct ns_adam_cfg {
    float lr, beta1, beta2, eps, weight_decay;
    int decoupled;
} ns_adam_cfg;
ns_adam_cfg ns_adam_defaults(void); /* lr 1e-3, betas (0.9, 0.999), eps 1e-8, AdamW wd 0.01 */
void ns_adam_step(const ns_adam_cfg *c, float *p, const float *g, float *m, float *v, size_t n,
                  long step);

/* Adagrad: clr = lr / (1 + (step - 1) * lr_decay); acc += g^2;
 * p -= clr * g / (sqrt(acc) + eps). */
typedef struct ns_adagrad_cfg {
    float lr, lr_decay, weight_decay, eps;
} ns_adagrad_cfg;
void ns_adagrad_step(const ns_adagrad_cfg *c, float *p, const float *g, float *acc, size_t n,
                     long step);
/* Rows ids[k] of table[.,D] (and of acc) updated with rows[k,D]; ids unique. */
void ns_adagrad_step_rows(const ns_adagrad_cfg *c, float *table, float *acc, const int32_t *ids,
                          const float *rows, int k, int D, long step);

/* FTRL-proximal (McMahan et al., "Ad Click Prediction: a View from the
 * Trenches", KDD 2013, Algorithm 1), per coordinate with state z and n:
 *   sigma = (sqrt(n + g^2) - sqrt(n)) / alpha;  z += g - sigma * w;  n += g^2
 *   w = 0 if |z| <= l1, else -(z - sign(z) l1) / ((beta + sqrt(n)) / alpha + l2)
 * The weights are a function of (z, n): only the rows that appear change. */
typedef struct ns_ftrl_cfg {
    float alpha, beta, l1, l2;
} ns_ftrl_cfg;
void ns_ftrl_step(const ns_ftrl_cfg *c, float *w, const float *g, float *z, float *nacc, size_t n);
void ns_ftrl_step_rows(const ns_ftrl_cfg *c, float *table, float *z, float *nacc,
                       const int32_t *ids, const float *rows, int k, int D);

/* Global-norm clipping over several gradient buffers (PyTorch's
 * clip_grad_norm_): total = sqrt(sum g^2); if total > max_norm every gradient
 * is scaled by max_norm / (total + 1e-6). Returns total (before clipping). */
double ns_clip_grad_norm_multi(float *const *grads, const size_t *sizes, int count, float max_norm);
double ns_clip_grad_norm(float *grad, size_t n, float max_norm);

/* Linear warmup then cosine decay (nanoGPT's get_lr): step < warmup gives
 * lr_max * (step + 1) / (warmup + 1); step >= total gives lr_min; in
 * between lr_min + 0.5 (1 + cos(pi * (step - warmup) / (total - warmup)))
 * (lr_max - lr_min). Steps count from 0 here. */
float ns_lr_warmup_cosine(long step, long warmup, long total, float lr_max, float lr_min);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_OPTIM_H */
