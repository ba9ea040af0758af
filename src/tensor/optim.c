/*
 * optim.c — optimizer updates, gradient clipping, learning-rate schedules.
 * Update rules follow PyTorch's (torch.optim) so a model trained here and
 * its PyTorch twin take the same steps; tests/ref checks them step by step.
 */
#include "northstar/optim.h"
#include "northstar/base.h"

#include <math.h>

#define OPT_PAR_MIN 65536

void ns_sgd_step(const ns_sgd_cfg *c, float *p, const float *g, float *buf, size_t n, long step)
{
    float mom = c->momentum, damp = c->dampening, wd = c->weight_decay, lr = c->lr;
#pragma omp parallel for if (n > OPT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (mom != 0) {
            buf[i] = step <= 1 ? d : mom * buf[i] + (1 - damp) * d;
            d = c->nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] -= lr * d;
    }
}

ns_adam_cfg ns_adam_defaults(void)
{
    ns_adam_cfg c = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 1};
    return c;
}

void ns_adam_step(const ns_adam_cfg *c, float *p, const float *g, float *m, float *v, size_t n,
                  long step)
{
    float b1 = c->beta1, b2 = c->beta2, lr = c->lr, eps = c->eps, wd = c->weight_decay;
    /* Same arithmetic order as torch.optim's single-tensor Adam. */
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float decay = 1.0f - lr * wd;
    int decoupled = c->decoupled;
#pragma omp parallel for if (n > OPT_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        if (wd != 0) {
            if (decoupled) p[i] *= decay;
            else gi += wd * p[i];
        }
        m[i] = m[i] * b1 + (1 - b1) * gi;
        v[i] = v[i] * b2 + (1 - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * m[i] / denom;
    }
}

static inline void adagrad_one(float *p, float gi, float *acc, float clr, float wd, float eps)
{
    if (wd != 0) gi += wd * *p;
    *acc += gi * gi;
    *p -= clr * gi / (sqrtf(*acc) + eps);
}

void ns_adagrad_step(const ns_adagrad_cfg *c, float *p, const float *g, float *acc, size_t n,
                     long step)
{
    float clr = c->lr / (1 + (float)(step - 1) * c->lr_decay);
#pragma omp parallel for if (n > OPT_PAR_MIN)
    for (size_t i = 0; i < n; i++) adagrad_one(&p[i], g[i], &acc[i], clr, c->weight_decay, c->eps);
}

void ns_adagrad_step_rows(const ns_adagrad_cfg *c, float *table, float *acc, const int32_t *ids,
                          const float *rows, int k, int D, long step)
{
    float clr = c->lr / (1 + (float)(step - 1) * c->lr_decay);
#pragma omp parallel for if ((size_t)k * D > OPT_PAR_MIN)
    for (int r = 0; r < k; r++) {
        size_t off = (size_t)ids[r] * D;
        for (int d = 0; d < D; d++)
            adagrad_one(&table[off + d], rows[(size_t)r * D + d], &acc[off + d], clr,
                        c->weight_decay, c->eps);
    }
}

static inline void ftrl_one(const ns_ftrl_cfg *c, float *w, float g, float *z, float *n)
{
    float n_new = *n + g * g;
    float sigma = (sqrtf(n_new) - sqrtf(*n)) / c->alpha;
    *z += g - sigma * *w;
    *n = n_new;
    float zz = *z;
    if (fabsf(zz) <= c->l1) {
        *w = 0;
    } else {
        float sgn = zz < 0 ? -1.0f : 1.0f;
        *w = -(zz - sgn * c->l1) / ((c->beta + sqrtf(n_new)) / c->alpha + c->l2);
    }
}

void ns_ftrl_step(const ns_ftrl_cfg *c, float *w, const float *g, float *z, float *nacc, size_t n)
{
#pragma omp parallel for if (n > OPT_PAR_MIN)
    for (size_t i = 0; i < n; i++) ftrl_one(c, &w[i], g[i], &z[i], &nacc[i]);
}

void ns_ftrl_step_rows(const ns_ftrl_cfg *c, float *table, float *z, float *nacc,
                       const int32_t *ids, const float *rows, int k, int D)
{
#pragma omp parallel for if ((size_t)k * D > OPT_PAR_MIN)
    for (int r = 0; r < k; r++) {
        size_t off = (size_t)ids[r] * D;
        for (int d = 0; d < D; d++)
            ftrl_one(c, &table[off + d], rows[(size_t)r * D + d], &z[off + d], &nacc[off + d]);
    }
}

double ns_clip_grad_norm_multi(float *const *grads, const size_t *sizes, int count, float max_norm)
{
    double ss = 0;
    for (int k = 0; k < count; k++) {
        const float *g = grads[k];
        size_t n = sizes[k];
        double part = 0;
#pragma omp parallel for reduction(+ : part) if (n > OPT_PAR_MIN)
        for (size_t i = 0; i < n; i++) part += (double)g[i] * g[i];
        ss += part;
    }
    double total = sqrt(ss);
    double coef = max_norm / (total + 1e-6);
    if (coef < 1.0) {
        float cf = (float)coef;
        for (int k = 0; k < count; k++) {
            float *g = grads[k];
            size_t n = sizes[k];
#pragma omp parallel for if (n > OPT_PAR_MIN)
            for (size_t i = 0; i < n; i++) g[i] *= cf;
        }
    }
    return total;
}

double ns_clip_grad_norm(float *grad, size_t n, float max_norm)
{
    return ns_clip_grad_norm_multi(&grad, &n, 1, max_norm);
}

float ns_lr_warmup_cosine(long step, long warmup, long total, float lr_max, float lr_min)
{
    if (step < warmup) return lr_max * (float)(step + 1) / (float)(warmup + 1);
    if (step >= total) return lr_min;
    double ratio = (double)(step - warmup) / (double)(total - warmup);
    double coeff = 0.5 * (1.0 + cos(M_PI * ratio));
    return (float)(lr_min + coeff * (lr_max - lr_min));
}
