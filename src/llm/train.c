/*
 * train.c — optimisation around the model: batch sampling (nanoGPT's
 * get_batch), AdamW with weight-decay groups (matrices and embeddings
 * decay; norms and biases do not), warmup + cosine schedule, global-norm
 * clipping, gradient accumulation, evaluation loss, and checkpoints that
 * resume exactly (weights, Adam moments, step, RNG state, train config).
 */
#include "llm_int.h"

#include "northstar/optim.h"
#include "northstar/safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

ns_llm_train_cfg ns_llm_train_defaults(void)
{
    ns_llm_train_cfg c;
    memset(&c, 0, sizeof c);
    c.lr = 1e-3f;
    c.min_lr = 1e-4f;
    c.warmup = 100;
    c.decay_steps = 2000;
    c.beta1 = 0.9f;
    c.beta2 = 0.99f;
    c.eps = 1e-8f;
    c.weight_decay = 0.1f;
    c.grad_clip = 1.0f;
    c.grad_accum = 1;
    c.batch = 12;
    c.seq = 64;
    c.seed = 1337;
    return c;
}

int ns_llm_trainer_init(ns_llm_trainer *t, ns_llm *m, const ns_llm_train_cfg *cfg)
{
    memset(t, 0, sizeof *t);
    if (cfg->batch < 1 || cfg->seq < 1 || cfg->grad_accum < 1)
        return ns_err_set(NS_EINVAL, "batch, seq and grad_accum must be >= 1");
    if (cfg->seq > m->cfg.max_seq)
        return ns_err_set(NS_ERANGE, "training sequence length %d exceeds the model's context %d", cfg->seq,
                          m->cfg.max_seq);
    int rc = ns__llm_alloc_grads(m);
    if (rc < 0) return rc;
    t->m = m;
    t->cfg = *cfg;
    size_t n = m->n_params ? m->n_params : 1;
    t->adam_m = ns_malloc_aligned(sizeof(float) * n);
    t->adam_v = ns_malloc_aligned(sizeof(float) * n);
    if (!t->adam_m || !t->adam_v) {
        ns_llm_trainer_release(t);
        return NS_ENOMEM;
    }
    memset(t->adam_m, 0, sizeof(float) * n);
    memset(t->adam_v, 0, sizeof(float) * n);
    ns_rng_seed(&t->rng, cfg->seed, 0);
    return NS_OK;
}

void ns_llm_trainer_release(ns_llm_trainer *t)
{
    if (!t) return;
    ns_free_aligned(t->adam_m);
    ns_free_aligned(t->adam_v);
    t->adam_m = t->adam_v = NULL;
}

void ns_llm_sample_batch(ns_llm_trainer *t, const int32_t *tokens, size_t n, int32_t *x, int32_t *y)
{
    int B = t->cfg.batch, T = t->cfg.seq;
    for (int b = 0; b < B; b++) {
        size_t i = (size_t)ns_rng_below(&t->rng, n - (size_t)T);
        memcpy(x + (size_t)b * T, tokens + i, sizeof(int32_t) * (size_t)T);
        memcpy(y + (size_t)b * T, tokens + i + 1, sizeof(int32_t) * (size_t)T);
    }
}

/* One parallel region: each thread takes a slice of the flat parameters,
 * the squared gradient norm is reduced, and each thread clips and applies
 * AdamW to its slice (ns_adam_step on the pieces of each tensor it owns,
 * with that tensor's decay). Same arithmetic as ns_clip_grad_norm_multi +
 * ns_adam_step, without a fork/join per tensor. */
void ns_llm_trainer_update(ns_llm_trainer *t)
{
    ns_llm *m = t->m;
    const ns_llm_train_cfg *c = &t->cfg;
    float *g = m->grads;
    size_t np = m->n_params;
    float lr = ns_lr_warmup_cosine(t->step, c->warmup, c->decay_steps, c->lr, c->min_lr);
    t->last_lr = lr;
    int nt = ns_threads();
    if ((size_t)nt * 4096 > np) nt = 1;
    double ss = 0;
    long step = t->step + 1;
#pragma omp parallel num_threads(nt) reduction(+ : ss)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        size_t lo = np * (size_t)tid / (size_t)nth, hi = np * (size_t)(tid + 1) / (size_t)nth;
        double part = 0;
        for (size_t i = lo; i < hi; i++) part += (double)g[i] * g[i];
        ss += part;
    }
    double total = sqrt(ss);
    t->last_norm = total;
    double coef = c->grad_clip > 0 ? c->grad_clip / (total + 1e-6) : 1.0;
    float cf = (float)coef;
    int clip = coef < 1.0;
#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        size_t lo = np * (size_t)tid / (size_t)nth, hi = np * (size_t)(tid + 1) / (size_t)nth;
        if (clip)
            for (size_t i = lo; i < hi; i++) g[i] *= cf;
        ns_adam_cfg ac = {lr, c->beta1, c->beta2, c->eps, 0, 1};
        for (int k = 0; k < P__COUNT; k++) {
            const ns__llm_tensor *tt = &m->t[k];
            size_t a = tt->offset > lo ? tt->offset : lo, b = tt->offset + tt->numel < hi ? tt->offset + tt->numel : hi;
            if (!tt->numel || a >= b) continue;
            ac.weight_decay = tt->decay ? c->weight_decay : 0.0f;
            ns_adam_step(&ac, m->params + a, g + a, t->adam_m + a, t->adam_v + a, b - a, step);
        }
    }
    t->step++;
}

int ns_llm_train_step(ns_llm_trainer *t, const int32_t *tokens, size_t n, float *loss)
{
    const ns_llm_train_cfg *c = &t->cfg;
    if (n <= (size_t)c->seq + 1)
        return ns_err_set(NS_EINVAL, "training data has %zu tokens, need more than seq + 1 = %d", n, c->seq + 1);
    size_t N = (size_t)c->batch * c->seq;
    int32_t *x = ns_malloc(sizeof(int32_t) * N * 2);
    if (!x) return NS_ENOMEM;
    int32_t *y = x + N;
    ns_llm_zero_grad(t->m);
    double total = 0;
    int rc = NS_OK;
    for (int a = 0; a < c->grad_accum; a++) {
        ns_llm_sample_batch(t, tokens, n, x, y);
        float l = 0;
        rc = ns_llm_forward(t->m, x, y, c->batch, c->seq, &l);
        if (rc < 0) break;
        rc = ns_llm_backward(t->m, 1.0f / (float)c->grad_accum);
        if (rc < 0) break;
        total += l;
    }
    free(x);
    if (rc < 0) return rc;
    ns_llm_trainer_update(t);
    if (loss) *loss = (float)(total / c->grad_accum);
    return NS_OK;
}

int ns_llm_eval_loss(ns_llm *m, const int32_t *tokens, size_t n, int B, int T, int iters, uint64_t seed,
                     float *loss)
{
    if (n <= (size_t)T + 1) return ns_err_set(NS_EINVAL, "evaluation data has %zu tokens, need more than %d", n, T + 1);
    size_t N = (size_t)B * T;
    int32_t *x = ns_malloc(sizeof(int32_t) * N * 2);
    if (!x) return NS_ENOMEM;
    int32_t *y = x + N;
    ns_llm_trainer tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg.batch = B;
    tmp.cfg.seq = T;
    ns_rng_seed(&tmp.rng, seed, 1);
    double total = 0;
    int rc = NS_OK;
    for (int i = 0; i < iters; i++) {
        ns_llm_sample_batch(&tmp, tokens, n, x, y);
        float l;
        rc = ns_llm_forward(m, x, y, B, T, &l);
        if (rc < 0) break;
        total += l;
    }
    free(x);
    if (rc < 0) return rc;
    *loss = (float)(total / (iters > 0 ? iters : 1));
    return NS_OK;
}

/* ======================================================================= */
/* checkpoints                                                               */
/* ======================================================================= */

static char *train_json(const ns_llm_trainer *t)
{
    const ns_llm_train_cfg *c = &t->cfg;
    json_t *o = json_object();
    json_object_set_new(o, "lr", json_real(c->lr));
    json_object_set_new(o, "min_lr", json_real(c->min_lr));
    json_object_set_new(o, "warmup", json_integer(c->warmup));
    json_object_set_new(o, "decay_steps", json_integer(c->decay_steps));
    json_object_set_new(o, "beta1", json_real(c->beta1));
    json_object_set_new(o, "beta2", json_real(c->beta2));
    json_object_set_new(o, "eps", json_real(c->eps));
    json_object_set_new(o, "weight_decay", json_real(c->weight_decay));
    json_object_set_new(o, "grad_clip", json_real(c->grad_clip));
    json_object_set_new(o, "grad_accum", json_integer(c->grad_accum));
    json_object_set_new(o, "batch", json_integer(c->batch));
    json_object_set_new(o, "seq", json_integer(c->seq));
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, c->seed);
    json_object_set_new(o, "seed", json_string(buf));
    json_object_set_new(o, "step", json_integer(t->step));
    char rng[80];
    snprintf(rng, sizeof rng, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, t->rng.s[0], t->rng.s[1],
             t->rng.s[2], t->rng.s[3]);
    json_object_set_new(o, "rng", json_string(rng));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

int ns_llm_checkpoint_save(const ns_llm_trainer *t, const ns_bpe *tok, const char *path)
{
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return NS_ENOMEM;
    char *tj = NULL;
    int rc = ns__llm_add_tensors(t->m, w, tok);
    int64_t shape[1] = {(int64_t)t->m->n_params};
    if (rc >= 0) rc = ns_st_writer_add(w, "adam.m", NS_DT_F32, 1, shape, t->adam_m);
    if (rc >= 0) rc = ns_st_writer_add(w, "adam.v", NS_DT_F32, 1, shape, t->adam_v);
    if (rc >= 0) {
        tj = train_json(t);
        rc = tj ? ns_st_writer_meta(w, "train", tj) : NS_ENOMEM;
    }
    if (rc >= 0) rc = ns_st_writer_write(w, path);
    free(tj);
    ns_st_writer_free(w);
    return rc;
}

static int jnum(json_t *o, const char *k, double *out, const char *path)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v)) return ns_err_set_at(NS_EFORMAT, path, 0, k, NULL, "checkpoint train state lacks a number '%s'", k);
    *out = json_number_value(v);
    return 0;
}

int ns_llm_checkpoint_load(ns_llm_trainer *t, ns_llm **mout, ns_bpe **tok, const char *path)
{
    *mout = NULL;
    if (tok) *tok = NULL;
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    ns_llm *m = NULL;
    ns_bpe *tk = NULL;
    json_t *o = NULL;
    rc = ns__llm_from_st(&m, &tk, f, path);
    if (rc < 0) goto done;
    const char *tj = ns_st_meta(f, "train");
    if (!tj) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "train", NULL, "not a training checkpoint (a model file): no train state");
        goto done;
    }
    json_error_t je;
    o = json_loads(tj, 0, &je);
    if (!json_is_object(o)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "train", NULL, "train state is not a JSON object");
        goto done;
    }
    ns_llm_train_cfg c = ns_llm_train_defaults();
    double v = 0;
#define GETF(k) if ((rc = jnum(o, #k, &v, path)) < 0) goto done; c.k = (float)v
#define GETI(k) if ((rc = jnum(o, #k, &v, path)) < 0) goto done; c.k = (int)v
    GETF(lr); GETF(min_lr); GETF(beta1); GETF(beta2); GETF(eps); GETF(weight_decay); GETF(grad_clip);
    GETI(grad_accum); GETI(batch); GETI(seq);
    if ((rc = jnum(o, "warmup", &v, path)) < 0) goto done;
    c.warmup = (long)v;
    if ((rc = jnum(o, "decay_steps", &v, path)) < 0) goto done;
    c.decay_steps = (long)v;
#undef GETF
#undef GETI
    const char *seed = json_string_value(json_object_get(o, "seed"));
    const char *rng = json_string_value(json_object_get(o, "rng"));
    if (!seed || !rng || strlen(rng) != 64) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "rng", NULL, "checkpoint lacks the seed or RNG state");
        goto done;
    }
    c.seed = strtoull(seed, NULL, 10);
    if ((rc = jnum(o, "step", &v, path)) < 0) goto done;
    rc = ns_llm_trainer_init(t, m, &c);
    if (rc < 0) goto done;
    t->step = (long)v;
    for (int i = 0; i < 4; i++) {
        char part[17];
        memcpy(part, rng + 16 * i, 16);
        part[16] = 0;
        t->rng.s[i] = strtoull(part, NULL, 16);
    }
    rc = ns_st_read_f32(f, "adam.m", t->adam_m, (int64_t)m->n_params);
    if (rc >= 0) rc = ns_st_read_f32(f, "adam.v", t->adam_v, (int64_t)m->n_params);
    if (rc < 0) {
        ns_llm_trainer_release(t);
        goto done;
    }
done:
    json_decref(o);
    ns_st_close(f);
    if (rc < 0) {
        ns_llm_free(m);
        ns_bpe_free(tk);
        return rc;
    }
    *mout = m;
    if (tok) *tok = tk;
    else ns_bpe_free(tk);
    return NS_OK;
}
