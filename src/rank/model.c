/*
 * model.c — the Wide & Deep model: parameters, forward and backward written
 * out from the foundation kernels (embedding bags, matmul, ReLU, BCE with
 * logits). Wide, deep and Wide & Deep are the same code with one part off.
 *
 * Workload: Adult-sized models (a few thousand wide weights, ~14k deep
 * parameters) trained on mini-batches of 256 split across the threads, and
 * serving batches of ~500 candidates on one thread. Everything a batch
 * touches stays in L2; nothing is allocated per example or per batch.
 */
#include "rank_int.h"

#include "northstar/tensor.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ns_rank_cfg ns_rank_defaults(void)
{
    ns_rank_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = NS_RANK_WIDE_DEEP;
    c.hidden[0] = 100;
    c.hidden[1] = 50;
    c.n_hidden = 2;
    c.batch = 256;
    c.epochs = 10;
    c.deep_opt = NS_RANK_ADAM;
    c.lr = 1e-3f;
    c.ftrl.alpha = 1.0f;
    c.ftrl.beta = 1.0f;
    c.ftrl.l1 = 0.1f;
    c.ftrl.l2 = 0.5f;
    c.emb_init_std = 0.05f;
    c.val_fraction = 0.1f;
    c.patience = 2;
    c.class_weight[0] = c.class_weight[1] = 1.0f;
    c.seed = 1;
    c.best_val_auc = NAN;
    return c;
}

static const char *const kind_names[] = {"wide", "deep", "wide_deep"};
const char *ns_rank_kind_name(ns_rank_kind k) { return (unsigned)k < 3 ? kind_names[k] : "?"; }
int ns_rank_kind_from_name(const char *s, ns_rank_kind *out)
{
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, kind_names[i])) {
            *out = (ns_rank_kind)i;
            return NS_OK;
        }
    if (!strcmp(s, "wide-deep") || !strcmp(s, "widedeep")) {
        *out = NS_RANK_WIDE_DEEP;
        return NS_OK;
    }
    return ns_err_set_at(NS_EINVAL, NULL, 0, "model", s, "unknown model (expected wide, deep or wide_deep)");
}

const ns_feature_spec *ns_ranker_spec(const ns_ranker *m) { return m->spec; }
const ns_rank_cfg *ns_ranker_cfg(const ns_ranker *m) { return &m->cfg; }

int ns__rank_alloc(ns_ranker *m)
{
    ns_fspec_layout(m->spec, &m->lay);
    const ns_rank_cfg *c = &m->cfg;
    m->use_wide = c->kind != NS_RANK_DEEP;
    m->use_deep = c->kind != NS_RANK_WIDE;
    m->wide_dim = m->lay.wide_dim;
    if (m->use_wide) {
        m->wide_w = ns_calloc((size_t)m->wide_dim, sizeof(float));
        m->wide_z = ns_calloc((size_t)m->wide_dim, sizeof(float));
        m->wide_n = ns_calloc((size_t)m->wide_dim, sizeof(float));
        if (!m->wide_w || !m->wide_z || !m->wide_n) return NS_ENOMEM;
    }
    if (!m->use_deep) return NS_OK;
    int ne = m->lay.n_emb;
    m->emb_col = ns_calloc((size_t)ne + 1, sizeof(int));
    m->emb_off = ns_calloc((size_t)ne + 1, sizeof(size_t));
    if (!m->emb_col || !m->emb_off) return NS_ENOMEM;
    size_t off = 0;
    int col = 0;
    for (int f = 0; f < ne; f++) {
        m->emb_col[f] = col;
        col += m->lay.emb_dim[f];
        m->emb_off[f] = off;
        off += (size_t)m->lay.emb_card[f] * (size_t)m->lay.emb_dim[f];
        if (m->lay.emb_dim[f] > m->max_emb_dim) m->max_emb_dim = m->lay.emb_dim[f];
    }
    m->emb_width = col;
    m->in_dim = col + m->lay.dense_dim;
    if (m->in_dim == 0)
        return ns_err_set(NS_EINVAL, "the deep part has no inputs: give features 'embed' or numeric 'deep' outputs");
    m->mlp_off = off;
    m->n_layers = c->n_hidden + 1;
    m->dims[0] = m->in_dim;
    m->max_width = m->in_dim;
    for (int l = 0; l < c->n_hidden; l++) {
        m->dims[l + 1] = c->hidden[l];
        if (c->hidden[l] > m->max_width) m->max_width = c->hidden[l];
    }
    m->dims[m->n_layers] = 1;
    for (int l = 0; l < m->n_layers; l++) {
        m->W_off[l] = off;
        off += (size_t)m->dims[l + 1] * (size_t)m->dims[l];
        m->b_off[l] = off;
        off += (size_t)m->dims[l + 1];
    }
    m->n_params = off;
    m->params = ns_malloc_aligned(sizeof(float) * (off ? off : 1));
    if (!m->params) return NS_ENOMEM;
    memset(m->params, 0, sizeof(float) * off);
    /* Fold a field when its table is small next to a batch (recomputing
     * T_f each step costs card_f * D * H0, the GEMM it replaces B * D * H0)
     * and its gradient is dense (Adam). */
    int H0 = m->dims[1];
    m->fold = ns_calloc((size_t)ne + 1, sizeof(int));
    m->w0col = ns_calloc((size_t)ne + 1, sizeof(int));
    m->T_off = ns_calloc((size_t)ne + 1, sizeof(size_t));
    m->xmap = ns_calloc((size_t)m->in_dim + 1, sizeof(int));
    if (!m->fold || !m->w0col || !m->T_off || !m->xmap) return NS_ENOMEM;
    int xc = 0;
    for (int f = 0; f < ne; f++) {
        m->w0col[f] = m->emb_col[f];
        m->fold[f] = c->deep_opt == NS_RANK_ADAM && m->lay.emb_card[f] <= c->batch;
        if (m->fold[f]) {
            m->any_fold = 1;
            m->T_off[f] = m->T_size;
            m->T_size += (size_t)m->lay.emb_card[f] * (size_t)H0;
            continue;
        }
        m->any_unfolded = 1;
        m->emb_col[f] = xc;
        for (int k = 0; k < m->lay.emb_dim[f]; k++) m->xmap[xc++] = m->w0col[f] + k;
    }
    m->emb_width = xc;
    for (int k = 0; k < m->lay.dense_dim; k++) m->xmap[xc++] = col + k;
    m->xdim = xc;
    m->W0c = ns_malloc_aligned(sizeof(float) * ((size_t)H0 * (size_t)xc + 1));
    m->T = ns_malloc_aligned(sizeof(float) * (m->T_size + 1));
    if (!m->W0c || !m->T) return NS_ENOMEM;
    return NS_OK;
}

void ns__rank_refresh(ns_ranker *m)
{
    if (!m->use_deep) return;
    int H0 = m->dims[1], IN = m->in_dim, X = m->xdim;
    const float *W0 = m->params + m->W_off[0];
    for (int h = 0; h < H0; h++)
        for (int k = 0; k < X; k++) m->W0c[(size_t)h * X + k] = W0[(size_t)h * IN + m->xmap[k]];
    for (int f = 0; f < m->lay.n_emb; f++)
        if (m->fold[f])
            ns_gemm(0, 1, m->lay.emb_card[f], H0, m->lay.emb_dim[f], 1.0f, m->params + m->emb_off[f],
                    m->lay.emb_dim[f], W0 + m->w0col[f], IN, 0.0f, m->T + m->T_off[f], H0);
}

/* PyTorch's defaults for nn.Linear (U(+-1/sqrt(fan_in)) for weight and
 * bias); embeddings N(0, emb_init_std); the wide part starts at zero. */
void ns__rank_init_params(ns_ranker *m)
{
    if (!m->use_deep) return;
    ns_rng r;
    ns_rng_seed(&r, m->cfg.seed, 0x72616e6b /* "rank" */);
    for (int f = 0; f < m->lay.n_emb; f++)
        ns_rng_fill_normal(&r, m->params + m->emb_off[f], (size_t)m->lay.emb_card[f] * (size_t)m->lay.emb_dim[f],
                           0.0f, m->cfg.emb_init_std);
    for (int l = 0; l < m->n_layers; l++) {
        float bound = 1.0f / sqrtf((float)m->dims[l]);
        ns_rng_fill_uniform(&r, m->params + m->W_off[l], (size_t)m->dims[l + 1] * (size_t)m->dims[l], -bound, bound);
        ns_rng_fill_uniform(&r, m->params + m->b_off[l], (size_t)m->dims[l + 1], -bound, bound);
    }
}

int ns_ranker_new(ns_ranker **out, const ns_rank_cfg *cfg, ns_feature_spec *spec)
{
    *out = NULL;
    if (!ns_fspec_is_fitted(spec)) return ns_err_set(NS_EINVAL, "the feature spec must be fitted before the model is made");
    if (cfg->n_hidden < 0 || cfg->n_hidden > NS_RANK_MAX_HIDDEN || cfg->batch < 1 || cfg->epochs < 0)
        return ns_err_set(NS_EINVAL, "bad model configuration (hidden layers 0..%d, batch >= 1)", NS_RANK_MAX_HIDDEN);
    for (int l = 0; l < cfg->n_hidden; l++)
        if (cfg->hidden[l] < 1 || cfg->hidden[l] > 65536)
            return ns_err_set(NS_EINVAL, "hidden layer %d has width %d (1..65536)", l, cfg->hidden[l]);
    ns_ranker *m = ns_calloc(1, sizeof *m);
    if (!m) return NS_ENOMEM;
    m->cfg = *cfg;
    m->spec = spec;
    int rc = ns__rank_alloc(m);
    if (rc < 0) {
        m->spec = NULL; /* the caller keeps the spec on failure */
        ns_ranker_free(m);
        return rc;
    }
    ns__rank_init_params(m);
    ns__rank_refresh(m);
    *out = m;
    return NS_OK;
}

void ns_ranker_free(ns_ranker *m)
{
    if (!m) return;
    ns_fspec_free(m->spec);
    free(m->wide_w);
    free(m->wide_z);
    free(m->wide_n);
    free(m->emb_col);
    free(m->emb_off);
    free(m->fold);
    free(m->w0col);
    free(m->T_off);
    free(m->xmap);
    ns_free_aligned(m->W0c);
    ns_free_aligned(m->T);
    ns_free_aligned(m->params);
    free(m);
}

/* ---- workspace ------------------------------------------------------------ */

int ns__rank_ws_init(ns__rank_ws *ws, const ns_ranker *m, int cap, int with_grad)
{
    memset(ws, 0, sizeof *ws);
    ws->cap = cap;
    size_t c = (size_t)cap;
    ws->logit = ns_calloc(c, sizeof(float));
    ws->dlogit = ns_calloc(c, sizeof(float));
    ws->yw = ns_calloc(c, sizeof(float));
    ws->ylab = ns_calloc(c, sizeof(float));
    ws->rec = ns_calloc(c, sizeof *ws->rec);
    ws->off = ns_calloc(c + 1, sizeof(int32_t));
    if (!ws->logit || !ws->dlogit || !ws->yw || !ws->ylab || !ws->rec || !ws->off) return NS_ENOMEM;
    if (m->use_deep) {
        size_t wmax = (size_t)m->max_width;
        ws->x = ns_malloc_aligned(sizeof(float) * (c * (size_t)m->xdim + 1));
        ws->da = ns_malloc_aligned(sizeof(float) * c * wmax);
        ws->db = ns_malloc_aligned(sizeof(float) * c * wmax);
        ws->eout = ns_malloc_aligned(sizeof(float) * c * (size_t)(m->max_emb_dim ? m->max_emb_dim : 1));
        if (!ws->x || !ws->da || !ws->db || !ws->eout) return NS_ENOMEM;
        for (int l = 0; l < m->n_layers; l++)
            if (!(ws->h[l] = ns_malloc_aligned(sizeof(float) * c * (size_t)m->dims[l + 1]))) return NS_ENOMEM;
        if (with_grad && !(ws->grad = ns_malloc_aligned(sizeof(float) * (m->n_params ? m->n_params : 1))))
            return NS_ENOMEM;
        if (with_grad && (!(ws->G = ns_malloc_aligned(sizeof(float) * (m->T_size + 1))) ||
                          !(ws->dW0c = ns_malloc_aligned(sizeof(float) * ((size_t)m->dims[1] * m->xdim + 1)))))
            return NS_ENOMEM;
        int ne = m->lay.n_emb;
        if (with_grad && m->cfg.deep_opt == NS_RANK_ADAGRAD) {
            ws->eid = ns_calloc((size_t)ne + 1, sizeof *ws->eid);
            ws->erow = ns_calloc((size_t)ne + 1, sizeof *ws->erow);
            ws->ne = ns_calloc((size_t)ne + 1, sizeof(int));
            ws->ecap = ns_calloc((size_t)ne + 1, sizeof(int));
            if (!ws->eid || !ws->erow || !ws->ne || !ws->ecap) return NS_ENOMEM;
        }
    }
    return NS_OK;
}

void ns__rank_ws_release(ns__rank_ws *ws, const ns_ranker *m)
{
    free(ws->logit);
    free(ws->dlogit);
    free(ws->yw);
    free(ws->ylab);
    free(ws->rec);
    free(ws->off);
    ns_free_aligned(ws->x);
    ns_free_aligned(ws->da);
    ns_free_aligned(ws->db);
    ns_free_aligned(ws->eout);
    for (int l = 0; l < NS__RANK_MAXL; l++) ns_free_aligned(ws->h[l]);
    ns_free_aligned(ws->grad);
    ns_free_aligned(ws->G);
    ns_free_aligned(ws->dW0c);
    free(ws->wid);
    free(ws->wg);
    if (ws->eid)
        for (int f = 0; f < m->lay.n_emb; f++) {
            free(ws->eid[f]);
            free(ws->erow[f]);
        }
    free(ws->eid);
    free(ws->erow);
    free(ws->ne);
    free(ws->ecap);
    memset(ws, 0, sizeof *ws);
}

/* Row j of the range: idx[lo + j], or lo + j without an index. */
#define ROW(j) (idx ? idx[lo + (j)] : lo + (j))

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- forward -------------------------------------------------------------- */

/*
 * Layer 0 sees concat(mean-bag embeddings, dense). Unfolded fields are
 * gathered (what ns_embedding_bag_forward computes, mode NS_BAG_MEAN) straight
 * into their columns of the compact input x, reading packed rows through idx;
 * x goes through the GEMM with W0's matching columns (W0c). A folded field
 * adds the mean of its rows of T_f = E_f W0_f^T to the pre-activation
 * instead: the same sum, regrouped, and for Adult-sized vocabularies ~8x
 * fewer multiply-adds than the GEMM on its columns. tests/unit/test_rank.c
 * checks both paths against the kernels and finite differences.
 */
void ns__rank_forward(const ns_ranker *m, ns__rank_ws *ws, const ns__packed *d, const int *idx, int lo, int hi)
{
    int nb = hi - lo, X = m->xdim, DD = m->lay.dense_dim, ne = m->lay.n_emb;
    /* Shuffled rows miss the cache; fetch a few rows ahead (the first four
     * lines of the record cover an Adult row). */
    enum { AHEAD = 8 };
    for (int j = 0; j < AHEAD && j < nb; j++) {
        const uint32_t *q = d->pool + d->start[ROW(j)];
        for (int k = 0; k < 4; k++) __builtin_prefetch(q + 16 * k);
    }
    for (int j = 0; j < nb; j++) {
        if (j + 2 * AHEAD < nb) __builtin_prefetch(&d->start[ROW(j + 2 * AHEAD)]);
        if (j + AHEAD < nb) {
            const uint32_t *q = d->pool + d->start[ROW(j + AHEAD)];
            for (int k = 0; k < 4; k++) __builtin_prefetch(q + 16 * k);
        }
        const uint32_t *p = d->pool + d->start[ROW(j)];
        ws->rec[j] = p;
        float *xr = ws->x ? ws->x + (size_t)j * X : NULL;
        for (int f = 0; f < ne; f++) {
            int cnt = (int)*p++;
            const uint32_t *ids = p;
            p += cnt;
            if (!m->use_deep || m->fold[f]) continue;
            int D = m->lay.emb_dim[f];
            const float *tab = m->params + m->emb_off[f];
            float *o = xr + m->emb_col[f];
            if (cnt == 1) {
                const float *t = tab + (size_t)ids[0] * D;
                for (int k = 0; k < D; k++) o[k] = t[k];
                continue;
            }
            for (int k = 0; k < D; k++) o[k] = 0;
            for (int i = 0; i < cnt; i++) {
                const float *t = tab + (size_t)ids[i] * D;
                for (int k = 0; k < D; k++) o[k] += t[k];
            }
            if (cnt > 1) {
                float inv = 1.0f / (float)cnt;
                for (int k = 0; k < D; k++) o[k] *= inv;
            }
        }
        int nw = (int)*p++;
        const uint32_t *wid = p;
        const uint32_t *wv = p + nw;
        p += 2 * nw;
        float s = 0;
        if (m->use_wide)
            for (int k = 0; k < nw; k++) s += m->wide_w[wid[k]] * u2f(wv[k]);
        ws->logit[j] = s;
        if (m->use_deep) memcpy(xr + m->emb_width, p, sizeof(float) * (size_t)DD);
    }
    if (!m->use_deep) return;
    int H0 = m->dims[1];
    const float *b0 = m->params + m->b_off[0];
    if (X) ns_matmul_forward(ws->h[0], ws->x, m->W0c, b0, nb, X, H0);
    else
        for (int j = 0; j < nb; j++) memcpy(ws->h[0] + (size_t)j * H0, b0, sizeof(float) * (size_t)H0);
    if (m->any_fold)
        for (int j = 0; j < nb; j++) {
            const uint32_t *p = ws->rec[j];
            float *h = ws->h[0] + (size_t)j * H0;
            for (int f = 0; f < ne; f++) {
                int cnt = (int)*p++;
                const uint32_t *ids = p;
                p += cnt;
                if (!m->fold[f] || !cnt) continue;
                const float *T = m->T + m->T_off[f];
                float sc = 1.0f / (float)cnt;
                for (int i = 0; i < cnt; i++) {
                    const float *t = T + (size_t)ids[i] * H0;
                    if (cnt == 1)
                        for (int k = 0; k < H0; k++) h[k] += t[k];
                    else
                        for (int k = 0; k < H0; k++) h[k] += sc * t[k];
                }
            }
        }
    for (int l = 0; l < m->n_layers; l++) {
        if (l) ns_matmul_forward(ws->h[l], ws->h[l - 1], m->params + m->W_off[l], m->params + m->b_off[l], nb,
                                 m->dims[l], m->dims[l + 1]);
        if (l + 1 < m->n_layers) ns_relu_forward(ws->h[l], ws->h[l], (size_t)nb * (size_t)m->dims[l + 1]);
    }
    for (int j = 0; j < nb; j++) ws->logit[j] += ws->h[m->n_layers - 1][j];
}

/* ---- backward ------------------------------------------------------------- */

static int grow_i32(int32_t **p, int *cap, int need)
{
    if (need <= *cap) return NS_OK;
    int nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    int32_t *q = ns_realloc(*p, sizeof(int32_t) * (size_t)nc);
    if (!q) return NS_ENOMEM;
    *p = q;
    *cap = nc;
    return NS_OK;
}

static int grow_f32(float **p, int cap, int need)
{
    if (need <= cap) return NS_OK;
    float *q = ns_realloc(*p, sizeof(float) * (size_t)need);
    if (!q) return NS_ENOMEM;
    *p = q;
    return NS_OK;
}

int ns__rank_backward(const ns_ranker *m, ns__rank_ws *ws, int nb, int B)
{
    const float *cw = m->cfg.class_weight;
    int ne = m->lay.n_emb, DD = m->lay.dense_dim;
    int need_w = 0, adam = m->cfg.deep_opt == NS_RANK_ADAM;
    for (int j = 0; j < nb; j++) {
        const uint32_t *p = ws->rec[j];
        for (int f = 0; f < ne; f++) {
            int cnt = (int)*p++;
            if (!adam && m->use_deep) ws->ne[f] += cnt; /* count first, fill below */
            p += cnt;
        }
        int nw = (int)*p++;
        need_w += nw;
        p += 2 * nw + DD;
        float y = u2f(p[0]);
        ws->ylab[j] = y;
        ws->yw[j] = u2f(p[1]) * cw[y > 0.5f];
    }
    ws->loss = ns_bce_logits_forward(NULL, ws->logit, ws->ylab, ws->yw, (size_t)nb) * nb;
    memset(ws->dlogit, 0, sizeof(float) * (size_t)nb);
    /* mean over the whole batch B: dloss = nb / B gives w_i / B per row */
    ns_bce_logits_backward(ws->dlogit, ws->logit, ws->ylab, ws->yw, (float)nb / (float)B, (size_t)nb);
    if (m->use_wide) {
        if (need_w > ws->wcap) {
            int cap = ws->wcap;
            if (grow_i32(&ws->wid, &cap, need_w) < 0 || grow_f32(&ws->wg, ws->wcap, cap) < 0) return NS_ENOMEM;
            ws->wcap = cap;
        }
        ws->nw = 0;
        for (int j = 0; j < nb; j++) {
            const uint32_t *p = ws->rec[j];
            for (int f = 0; f < ne; f++) p += 1 + *p;
            int nw = (int)*p++;
            float g = ws->dlogit[j];
            for (int k = 0; k < nw; k++) {
                ws->wid[ws->nw] = (int32_t)p[k];
                ws->wg[ws->nw++] = g * u2f(p[nw + k]);
            }
        }
    }
    if (!m->use_deep) return NS_OK;
    /* output and hidden layers, top down; dcur holds dL/d(output of layer l) */
    float *dcur = ws->da, *dnext = ws->db;
    memcpy(dcur, ws->dlogit, sizeof(float) * (size_t)nb);
    for (int l = m->n_layers - 1; l >= 1; l--) {
        int IN = m->dims[l], OUT = m->dims[l + 1];
        if (l + 1 < m->n_layers) /* ReLU: h[l] > 0 exactly where its input was > 0 */
            for (size_t k = 0; k < (size_t)nb * OUT; k++)
                if (ws->h[l][k] <= 0) dcur[k] = 0;
        memset(dnext, 0, sizeof(float) * (size_t)nb * IN);
        ns_matmul_backward(dnext, ws->grad + m->W_off[l], ws->grad + m->b_off[l], dcur, ws->h[l - 1],
                           m->params + m->W_off[l], nb, IN, OUT);
        float *t = dcur;
        dcur = dnext;
        dnext = t;
    }
    /* layer 0: dcur = dL/d(pre-activation) after the mask */
    int H0 = m->dims[1], X = m->xdim, IN0 = m->in_dim;
    if (m->n_layers > 1)
        for (size_t k = 0; k < (size_t)nb * H0; k++)
            if (ws->h[0][k] <= 0) dcur[k] = 0;
    float *gW0 = ws->grad + m->W_off[0];
    if (X) {
        memset(ws->dW0c, 0, sizeof(float) * (size_t)H0 * X);
        if (m->any_unfolded) memset(dnext, 0, sizeof(float) * (size_t)nb * X);
        ns_matmul_backward(m->any_unfolded ? dnext : NULL, ws->dW0c, ws->grad + m->b_off[0], dcur, ws->x, m->W0c, nb,
                           X, H0);
        for (int h = 0; h < H0; h++)
            for (int k = 0; k < X; k++) gW0[(size_t)h * IN0 + m->xmap[k]] += ws->dW0c[(size_t)h * X + k];
    } else
        for (int j = 0; j < nb; j++)
            for (int k = 0; k < H0; k++) ws->grad[m->b_off[0] + k] += dcur[(size_t)j * H0 + k];
    if (m->any_fold) {
        /* G_f[id] = sum over occurrences of dL/dh0 / bag size; then
         * dE_f += G_f W0_f and dW0_f += G_f^T E_f */
        memset(ws->G, 0, sizeof(float) * m->T_size);
        for (int j = 0; j < nb; j++) {
            const uint32_t *p = ws->rec[j];
            const float *g = dcur + (size_t)j * H0;
            for (int f = 0; f < ne; f++) {
                int cnt = (int)*p++;
                const uint32_t *ids = p;
                p += cnt;
                if (!m->fold[f] || !cnt) continue;
                float sc = 1.0f / (float)cnt;
                for (int i = 0; i < cnt; i++) {
                    float *G = ws->G + m->T_off[f] + (size_t)ids[i] * H0;
                    for (int k = 0; k < H0; k++) G[k] += sc * g[k];
                }
            }
        }
        for (int f = 0; f < ne; f++) {
            if (!m->fold[f]) continue;
            int card = m->lay.emb_card[f], D = m->lay.emb_dim[f];
            const float *G = ws->G + m->T_off[f], *W0f = m->params + m->W_off[0] + m->w0col[f];
            ns_gemm(0, 0, card, D, H0, 1.0f, G, H0, W0f, IN0, 1.0f, ws->grad + m->emb_off[f], D);
            ns_gemm(1, 0, H0, D, card, 1.0f, G, H0, m->params + m->emb_off[f], D, 1.0f, gW0 + m->w0col[f], IN0);
        }
    }
    if (!m->any_unfolded) return NS_OK;
    dcur = dnext; /* dL/dx [nb, xdim] */
    /* unfolded fields: dL/dx -> embedding rows (the scatter of
     * ns_embedding_bag_backward, or its COO form for Adagrad) */
    int C = X;
    if (!adam)
        for (int f = 0; f < ne; f++) {
            int nnz = ws->ne[f], D = m->lay.emb_dim[f];
            int cap = ws->ecap[f];
            if (grow_i32(&ws->eid[f], &cap, nnz) < 0 || grow_f32(&ws->erow[f], ws->ecap[f] * D, cap * D) < 0)
                return NS_ENOMEM;
            ws->ecap[f] = cap;
            ws->ne[f] = 0;
        }
    for (int j = 0; j < nb; j++) {
        const uint32_t *p = ws->rec[j];
        const float *gx = dcur + (size_t)j * C;
        for (int f = 0; f < ne; f++) {
            int cnt = (int)*p++, D = m->lay.emb_dim[f];
            const uint32_t *ids = p;
            p += cnt;
            if (!cnt || m->fold[f]) continue;
            float sc = 1.0f / (float)cnt;
            const float *g = gx + m->emb_col[f];
            for (int i = 0; i < cnt; i++) {
                float *dst;
                if (adam) dst = ws->grad + m->emb_off[f] + (size_t)ids[i] * D;
                else {
                    ws->eid[f][ws->ne[f]] = (int32_t)ids[i];
                    dst = ws->erow[f] + (size_t)ws->ne[f]++ * D;
                    for (int k = 0; k < D; k++) dst[k] = 0;
                }
                for (int k = 0; k < D; k++) dst[k] += sc * g[k];
            }
        }
    }
    return NS_OK;
}
