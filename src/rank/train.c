/*
 * train.c — mini-batch training of the rankers: shuffle, gather a batch,
 * split its rows across the OpenMP threads (each runs forward and backward
 * on its rows into its own gradient buffer), then in the same parallel
 * region reduce the gradients and step the optimizers: FTRL-proximal on the
 * wide indexes the batch touched, Adam (dense) or Adagrad (embedding rows
 * touched + dense MLP) on the deep part. Early stopping keeps the epoch
 * with the best validation AUC.
 *
 * Determinism: gradients are summed in thread order and every random draw
 * comes from (seed, stream), so a seed and a thread count give one result.
 */
#include "rank_int.h"

#include "northstar/tensor.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

typedef struct trainer {
    ns_ranker *m;
    int T;
    ns__rank_ws *ws;
    float *adam_m, *adam_v, *acc; /* deep optimizer state [n_params] */
    /* sparse accumulation (wide, and embeddings under Adagrad) */
    float *wg;                    /* [wide_dim] */
    unsigned char *wmark;
    int32_t *wtouch;
    float *wrows;
    float **eg;                   /* [n_emb][card * D] */
    unsigned char **emark;
    int32_t **etouch;
    float *erows;                 /* [max touched * D] */
    long step;
} trainer;

static void trainer_release(trainer *t)
{
    ns_ranker *m = t->m;
    if (t->ws)
        for (int i = 0; i < t->T; i++) ns__rank_ws_release(&t->ws[i], m);
    free(t->ws);
    ns_free_aligned(t->adam_m);
    ns_free_aligned(t->adam_v);
    ns_free_aligned(t->acc);
    free(t->wg);
    free(t->wmark);
    free(t->wtouch);
    free(t->wrows);
    if (t->eg)
        for (int f = 0; f < m->lay.n_emb; f++) {
            free(t->eg[f]);
            free(t->emark[f]);
            free(t->etouch[f]);
        }
    free(t->eg);
    free(t->emark);
    free(t->etouch);
    free(t->erows);
}

static int trainer_init(trainer *t, ns_ranker *m)
{
    memset(t, 0, sizeof *t);
    t->m = m;
    int B = m->cfg.batch;
    int T = m->cfg.threads > 0 ? m->cfg.threads : ns_threads();
    if (m->cfg.threads <= 0 && m->use_deep) {
        /* Splitting a batch costs two synchronisations; on a busy machine a
         * descheduled thread stalls every batch. Auto mode splits only when
         * a batch carries enough work (forward + backward ~ 6 flops a MAC). */
        double macs = (double)m->xdim * m->dims[1];
        for (int l = 1; l < m->n_layers; l++) macs += (double)m->dims[l] * m->dims[l + 1];
        if (6.0 * B * macs < 32e6) T = 1;
    } else if (m->cfg.threads <= 0)
        T = 1;
    if (T > B / 32) T = B / 32; /* fewer than 32 rows a thread costs more than it saves */
    if (T < 1) T = 1;
    t->T = T;
    t->ws = ns_calloc((size_t)T, sizeof *t->ws);
    if (!t->ws) return NS_ENOMEM;
    for (int i = 0; i < T; i++)
        if (ns__rank_ws_init(&t->ws[i], m, (B + T - 1) / T + 1, 1) < 0) return NS_ENOMEM;
    size_t np = m->n_params ? m->n_params : 1;
    if (m->use_deep) {
        if (m->cfg.deep_opt == NS_RANK_ADAM) {
            t->adam_m = ns_malloc_aligned(sizeof(float) * np);
            t->adam_v = ns_malloc_aligned(sizeof(float) * np);
            if (!t->adam_m || !t->adam_v) return NS_ENOMEM;
            memset(t->adam_m, 0, sizeof(float) * np);
            memset(t->adam_v, 0, sizeof(float) * np);
        } else {
            if (!(t->acc = ns_malloc_aligned(sizeof(float) * np))) return NS_ENOMEM;
            memset(t->acc, 0, sizeof(float) * np);
            int ne = m->lay.n_emb;
            t->eg = ns_calloc((size_t)ne + 1, sizeof *t->eg);
            t->emark = ns_calloc((size_t)ne + 1, sizeof *t->emark);
            t->etouch = ns_calloc((size_t)ne + 1, sizeof *t->etouch);
            if (!t->eg || !t->emark || !t->etouch) return NS_ENOMEM;
            size_t maxrows = 0;
            for (int f = 0; f < ne; f++) {
                size_t card = (size_t)m->lay.emb_card[f], D = (size_t)m->lay.emb_dim[f];
                t->eg[f] = ns_calloc(card * D, sizeof(float));
                t->emark[f] = ns_calloc(card, 1);
                t->etouch[f] = ns_calloc(card, sizeof(int32_t));
                if (!t->eg[f] || !t->emark[f] || !t->etouch[f]) return NS_ENOMEM;
                if (card * D > maxrows) maxrows = card * D;
            }
            if (!(t->erows = ns_calloc(maxrows ? maxrows : 1, sizeof(float)))) return NS_ENOMEM;
        }
    }
    if (m->use_wide) {
        size_t W = (size_t)m->wide_dim;
        t->wg = ns_calloc(W, sizeof(float));
        t->wmark = ns_calloc(W, 1);
        t->wtouch = ns_calloc(W, sizeof(int32_t));
        t->wrows = ns_calloc(W, sizeof(float));
        if (!t->wg || !t->wmark || !t->wtouch || !t->wrows) return NS_ENOMEM;
    }
    return NS_OK;
}

/* FTRL on the wide indexes the batch touched (thread order, then row order). */
static void wide_step(trainer *t)
{
    ns_ranker *m = t->m;
    int nt = 0;
    for (int i = 0; i < t->T; i++) {
        const ns__rank_ws *w = &t->ws[i];
        for (int k = 0; k < w->nw; k++) {
            int32_t id = w->wid[k];
            if (!t->wmark[id]) {
                t->wmark[id] = 1;
                t->wtouch[nt++] = id;
            }
            t->wg[id] += w->wg[k];
        }
    }
    for (int j = 0; j < nt; j++) t->wrows[j] = t->wg[t->wtouch[j]];
    ns_ftrl_step_rows(&m->cfg.ftrl, m->wide_w, m->wide_z, m->wide_n, t->wtouch, t->wrows, nt, 1);
    for (int j = 0; j < nt; j++) {
        t->wg[t->wtouch[j]] = 0;
        t->wmark[t->wtouch[j]] = 0;
    }
}

/* Adagrad on the embedding rows the batch touched. */
static void emb_adagrad_step(trainer *t, const ns_adagrad_cfg *ac)
{
    ns_ranker *m = t->m;
    for (int f = 0; f < m->lay.n_emb; f++) {
        int D = m->lay.emb_dim[f], nt = 0;
        float *g = t->eg[f];
        for (int i = 0; i < t->T; i++) {
            const ns__rank_ws *w = &t->ws[i];
            for (int k = 0; k < w->ne[f]; k++) {
                int32_t id = w->eid[f][k];
                if (!t->emark[f][id]) {
                    t->emark[f][id] = 1;
                    t->etouch[f][nt++] = id;
                }
                const float *src = w->erow[f] + (size_t)k * D;
                float *dst = g + (size_t)id * D;
                for (int dd = 0; dd < D; dd++) dst[dd] += src[dd];
            }
        }
        for (int j = 0; j < nt; j++) {
            float *src = g + (size_t)t->etouch[f][j] * D;
            memcpy(t->erows + (size_t)j * D, src, sizeof(float) * (size_t)D);
            memset(src, 0, sizeof(float) * (size_t)D);
            t->emark[f][t->etouch[f][j]] = 0;
        }
        ns_adagrad_step_rows(ac, m->params + m->emb_off[f], t->acc + m->emb_off[f], t->etouch[f], t->erows, nt, D,
                             t->step);
    }
}

/* One mini-batch: forward/backward split over threads, then the updates. */
static int train_batch(trainer *t, const ns__packed *d, const int *idx, int bsz, double *loss)
{
    ns_ranker *m = t->m;
    int T = t->T, err = 0;
    size_t z0 = m->cfg.deep_opt == NS_RANK_ADAM ? 0 : m->mlp_off; /* dense-gradient region */
    size_t np = m->use_deep ? m->n_params : 0;
    ns_adam_cfg adam = {m->cfg.lr, 0.9f, 0.999f, 1e-8f, 0.0f, 0};
    ns_adagrad_cfg ada = {m->cfg.lr, 0.0f, 0.0f, 1e-10f};
    t->step++;
    ns__rank_refresh(m); /* the folded tables follow the last update */
#pragma omp parallel num_threads(T) reduction(| : err)
    {
        int i = omp_get_thread_num(), nth = omp_get_num_threads();
        ns__rank_ws *w = &t->ws[i];
        int lo = (int)((long)bsz * i / nth), hi = (int)((long)bsz * (i + 1) / nth);
        if (np) memset(w->grad + z0, 0, sizeof(float) * (np - z0));
        w->nw = 0;
        w->loss = 0;
        if (w->ne)
            for (int f = 0; f < m->lay.n_emb; f++) w->ne[f] = 0;
        if (hi > lo) {
            ns__rank_forward(m, w, d, idx, lo, hi);
            if (ns__rank_backward(m, w, hi - lo, bsz) < 0) err = 1;
        }
#pragma omp barrier
        if (np) {
            /* reduce and step this thread's slice of the dense parameters */
            size_t span = np - z0, a = z0 + span * (size_t)i / (size_t)nth, b = z0 + span * (size_t)(i + 1) / (size_t)nth;
            float *g0 = t->ws[0].grad;
            for (int k = 1; k < nth; k++) {
                const float *gk = t->ws[k].grad;
                for (size_t j = a; j < b; j++) g0[j] += gk[j];
            }
            if (b > a) {
                if (m->cfg.deep_opt == NS_RANK_ADAM)
                    ns_adam_step(&adam, m->params + a, g0 + a, t->adam_m + a, t->adam_v + a, b - a, t->step);
                else
                    ns_adagrad_step(&ada, m->params + a, g0 + a, t->acc + a, b - a, t->step);
            }
        }
        if (i == 0 && !err) {
            if (m->use_wide) wide_step(t);
            if (m->use_deep && m->cfg.deep_opt == NS_RANK_ADAGRAD) emb_adagrad_step(t, &ada);
        }
    }
    if (err) return ns_err_set(NS_ENOMEM, "training workspace");
    for (int i = 0; i < T; i++) *loss += t->ws[i].loss;
    return NS_OK;
}

typedef struct snapshot {
    float *params, *w, *z, *n;
} snapshot;

static void snap_take(const ns_ranker *m, snapshot *s)
{
    if (m->use_deep) memcpy(s->params, m->params, sizeof(float) * m->n_params);
    if (m->use_wide) {
        memcpy(s->w, m->wide_w, sizeof(float) * (size_t)m->wide_dim);
        memcpy(s->z, m->wide_z, sizeof(float) * (size_t)m->wide_dim);
        memcpy(s->n, m->wide_n, sizeof(float) * (size_t)m->wide_dim);
    }
}

static void snap_restore(ns_ranker *m, const snapshot *s)
{
    if (m->use_deep) memcpy(m->params, s->params, sizeof(float) * m->n_params);
    if (m->use_wide) {
        memcpy(m->wide_w, s->w, sizeof(float) * (size_t)m->wide_dim);
        memcpy(m->wide_z, s->z, sizeof(float) * (size_t)m->wide_dim);
        memcpy(m->wide_n, s->n, sizeof(float) * (size_t)m->wide_dim);
    }
}

int ns_ranker_train(ns_ranker *m, const ns_fdata *train, const ns_fdata *val, ns_rank_train_stats *st)
{
    ns_rank_train_stats dummy;
    if (!st) st = &dummy;
    memset(st, 0, sizeof *st);
    st->best_val_auc = NAN;
    int n = train->n;
    if (n < 1) return ns_err_set(NS_EINVAL, "no training rows");
    long npos = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(train->label[i])) return ns_err_set(NS_EINVAL, "training row %d has no label", i + 1);
        npos += train->label[i] > 0.5f;
    }
    if (m->cfg.balanced) {
        if (npos == 0 || npos == n) return ns_err_set(NS_EINVAL, "balanced class weights need both classes in the training rows");
        m->cfg.class_weight[0] = (float)((double)n / (2.0 * (double)(n - npos)));
        m->cfg.class_weight[1] = (float)((double)n / (2.0 * (double)npos));
    }
    trainer t;
    memset(&t, 0, sizeof t);
    t.m = m;
    snapshot snap = {0};
    ns__packed packed = {0};
    int *perm = ns_malloc(sizeof(int) * (size_t)n);
    float *vprob = val && val->n ? ns_malloc(sizeof(float) * (size_t)val->n) : NULL;
    int rc = perm ? trainer_init(&t, m) : NS_ENOMEM;
    if (rc < 0 || (val && val->n && !vprob)) {
        rc = rc < 0 ? rc : NS_ENOMEM;
        goto done;
    }
    if (vprob) {
        if (m->use_deep && !(snap.params = ns_malloc(sizeof(float) * (m->n_params ? m->n_params : 1)))) rc = NS_ENOMEM;
        if (m->use_wide) {
            size_t W = sizeof(float) * (size_t)m->wide_dim;
            if (!(snap.w = ns_malloc(W)) || !(snap.z = ns_malloc(W)) || !(snap.n = ns_malloc(W))) rc = NS_ENOMEM;
        }
        if (rc < 0) goto done;
    }
    if ((rc = ns__rank_pack(&packed, train)) < 0) goto done;
    for (int i = 0; i < n; i++) perm[i] = i;
    /* One training thread: keep BLAS on this thread too. OpenBLAS (OpenMP
     * build) sizes its team from the caller's OpenMP thread count outside a
     * parallel region, and a 1-thread region is not "in parallel". */
    int icv = omp_get_max_threads();
    if (t.T == 1) omp_set_num_threads(1);
    ns_progress pr;
    ns_progress_begin(&pr, "rank train", (double)n * m->cfg.epochs, "ex");
    int B = m->cfg.batch, bad_epochs = 0;
    double best = -INFINITY;
    for (int ep = 0; ep < m->cfg.epochs; ep++) {
        ns_rng r;
        ns_rng_seed(&r, m->cfg.seed, 1000 + (uint64_t)ep);
        ns_rng_shuffle_u32(&r, (uint32_t *)perm, (size_t)n);
        double t0 = ns_now(), loss = 0;
        for (int s = 0; s < n; s += B) {
            int bsz = n - s < B ? n - s : B;
            if ((rc = train_batch(&t, &packed, perm + s, bsz, &loss)) < 0) goto end_progress;
            ns_progress_add(&pr, bsz);
        }
        st->train_seconds += ns_now() - t0;
        st->epochs = ep + 1;
        st->last_loss = loss / n;
        if (vprob) {
            ns__rank_refresh(m);
            if ((rc = ns_ranker_predict_all(m, val, vprob)) < 0) goto end_progress;
            double auc = ns_rank_auc(vprob, val->label, val->n);
            ns_progress_note(&pr, "loss %.4f val auc %.4f", st->last_loss, auc);
            ns_log_debug("rank: epoch %d loss %.5f val auc %.5f", ep + 1, st->last_loss, auc);
            if (auc > best) {
                best = auc;
                st->best_epoch = ep + 1;
                st->best_val_auc = auc;
                snap_take(m, &snap);
                bad_epochs = 0;
            } else if (++bad_epochs >= m->cfg.patience) {
                ns_log_debug("rank: early stop after epoch %d (best %d)", ep + 1, st->best_epoch);
                break;
            }
        } else {
            ns_progress_note(&pr, "loss %.4f", st->last_loss);
            st->best_epoch = ep + 1;
        }
    }
    if (vprob && st->best_epoch && st->best_epoch != st->epochs) snap_restore(m, &snap);
    ns__rank_refresh(m);
    rc = NS_OK;
end_progress:
    omp_set_num_threads(icv);
    ns__rank_refresh(m);
    ns_progress_end(&pr);
    st->threads = t.T;
    st->examples_per_s = st->train_seconds > 0 ? (double)n * st->epochs / st->train_seconds : 0;
    m->cfg.trained_epochs = st->best_epoch;
    m->cfg.best_val_auc = st->best_val_auc;
done:
    trainer_release(&t);
    ns__packed_release(&packed);
    free(perm);
    free(vprob);
    free(snap.params);
    free(snap.w);
    free(snap.z);
    free(snap.n);
    return rc;
}
