/*
 * finetune.c — the two fine-tuning recipes on top of a pre-trained model:
 *   classification (GPT-1, Radford et al. 2018): a linear head on the final
 *     hidden state of the last token (an EOS "extract" token when the
 *     tokenizer has one), trained jointly with the whole model;
 *   SFT: prompt/response pairs in a chat template with the loss on the
 *     response tokens only (prompt targets are -1, ignored by the loss).
 *
 * Workload: thousands of short texts (SMS, instructions); batches are
 * right-padded, which is exact for a causal model as long as each row's
 * own last position is the one read (padding only follows it).
 */
#include "llm_int.h"

#include "northstar/optim.h"
#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* classification                                                            */
/* ======================================================================= */

ns_llm_cls_cfg ns_llm_cls_defaults(void)
{
    ns_llm_cls_cfg c;
    memset(&c, 0, sizeof c);
    c.n_classes = 2;
    c.epochs = 2;
    c.batch = 16;
    c.max_len = 64;
    c.lr = 3e-4f;
    c.weight_decay = 0.01f;
    c.seed = 1;
    return c;
}

/* Encode, cut to max_len - 1 tokens, append the extract token (EOS). */
static int cls_encode(const ns_llm *m, const ns_bpe *tok, const char *text, int max_len, int32_t **ids, int *n)
{
    size_t k;
    int rc = ns_bpe_encode(tok, text, strlen(text), 0, ids, &k);
    if (rc < 0) return rc;
    int eos = ns_bpe_eos(tok);
    int lim = max_len - (eos >= 0 ? 1 : 0);
    if ((int)k > lim) k = (size_t)lim;
    if (eos >= 0) (*ids)[k++] = eos;
    if (k == 0) (*ids)[k++] = 0;
    for (size_t i = 0; i < k; i++)
        if ((*ids)[i] >= m->cfg.vocab_size) {
            free(*ids);
            return ns_err_set(NS_EMISMATCH, "token %d outside the model's vocabulary", (*ids)[i]);
        }
    *n = (int)k;
    return NS_OK;
}

typedef struct {
    int32_t **ids;
    int *len;
    int n;
} enc_set;

static void enc_free(enc_set *e)
{
    for (int i = 0; e->ids && i < e->n; i++) free(e->ids[i]);
    free(e->ids);
    free(e->len);
}

static int enc_all(const ns_llm *m, const ns_bpe *tok, const char *const *texts, int n, int max_len, enc_set *e)
{
    e->n = n;
    e->ids = ns_calloc((size_t)n, sizeof(int32_t *));
    e->len = ns_calloc((size_t)n, sizeof(int));
    if (!e->ids || !e->len) return NS_ENOMEM;
    for (int i = 0; i < n; i++) {
        /* room for the appended EOS */
        int rc = cls_encode(m, tok, texts[i], max_len, &e->ids[i], &e->len[i]);
        if (rc < 0) return ns_err_wrap("text %d", i);
    }
    return NS_OK;
}

/* Forward a batch of rows; returns logits [B,K] and keeps the hidden. */
static int cls_forward(ns_llm *m, const enc_set *e, const int *rows, int B, const float *head, int K, float *logits,
                       int *Tout, int32_t *buf)
{
    int T = 1, C = m->cfg.d_model;
    for (int b = 0; b < B; b++) T = e->len[rows[b]] > T ? e->len[rows[b]] : T;
    for (int b = 0; b < B; b++) {
        int r = rows[b], L = e->len[r];
        memcpy(buf + (size_t)b * T, e->ids[r], sizeof(int32_t) * (size_t)L);
        for (int t = L; t < T; t++) buf[(size_t)b * T + t] = e->ids[r][L - 1];
    }
    int rc = ns_llm_forward_hidden(m, buf, B, T);
    if (rc < 0) return rc;
    const float *h = ns_llm_hidden(m);
    for (int b = 0; b < B; b++) {
        const float *hl = h + ((size_t)b * T + e->len[rows[b]] - 1) * C;
        for (int k = 0; k < K; k++) {
            const float *w = head + (size_t)k * (C + 1);
            float s = w[C];
            for (int i = 0; i < C; i++) s += w[i] * hl[i];
            logits[b * K + k] = s;
        }
    }
    *Tout = T;
    return NS_OK;
}

int ns_llm_cls_train(ns_llm *m, const ns_bpe *tok, const char *const *texts, const int *labels, int n,
                     const ns_llm_cls_cfg *cfg, float *head, float *final_loss)
{
    int K = cfg->n_classes, C = m->cfg.d_model, B = cfg->batch, max_len = cfg->max_len;
    if (K < 2 || n < 1 || B < 1) return ns_err_set(NS_EINVAL, "need >= 2 classes, >= 1 example and batch >= 1");
    if (max_len > m->cfg.max_seq) max_len = m->cfg.max_seq;
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= K) return ns_err_set(NS_ERANGE, "label %d of example %d is not in [0, %d)", labels[i], i, K);
    enc_set e = {0};
    int rc = enc_all(m, tok, texts, n, max_len, &e);
    size_t hn = (size_t)K * (C + 1);
    float *hg = ns_calloc(hn * 3, sizeof(float));
    int *order = ns_malloc(sizeof(int) * (size_t)n);
    int32_t *buf = ns_malloc(sizeof(int32_t) * (size_t)B * max_len);
    float *logits = ns_malloc(sizeof(float) * (size_t)B * K);
    float *dh = NULL;
    ns_llm_trainer t;
    memset(&t, 0, sizeof t);
    if (rc < 0) goto done;
    if (!hg || !order || !buf || !logits) {
        rc = NS_ENOMEM;
        goto done;
    }
    float *hm = hg + hn, *hv = hg + 2 * hn;
    ns_rng r;
    ns_rng_seed(&r, cfg->seed, 3);
    ns_rng_fill_normal(&r, head, hn, 0, 0.02f);
    for (int k = 0; k < K; k++) head[(size_t)k * (C + 1) + C] = 0;
    long steps = (long)cfg->epochs * ((n + B - 1) / B);
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.lr = cfg->lr;
    tc.min_lr = cfg->lr / 10;
    tc.warmup = steps / 10;
    tc.decay_steps = steps;
    tc.weight_decay = cfg->weight_decay;
    tc.batch = B;
    tc.seq = 1;
    rc = ns_llm_trainer_init(&t, m, &tc);
    if (rc < 0) goto done;
    dh = ns_malloc(sizeof(float) * (size_t)B * max_len * C);
    if (!dh) {
        rc = NS_ENOMEM;
        goto done;
    }
    ns_progress p;
    ns_progress_begin(&p, "classify", (double)steps, "steps");
    double ema = 0;
    long s = 0;
    for (int ep = 0; ep < cfg->epochs; ep++) {
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = (int)ns_rng_below(&r, (uint64_t)i + 1), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int o = 0; o < n; o += B, s++) {
            int nb = n - o < B ? n - o : B, T;
            rc = cls_forward(m, &e, order + o, nb, head, K, logits, &T, buf);
            if (rc < 0) goto done;
            ns_llm_zero_grad(m);
            memset(hg, 0, sizeof(float) * hn);
            memset(dh, 0, sizeof(float) * (size_t)nb * T * C);
            const float *h = ns_llm_hidden(m);
            double loss = 0;
            for (int b = 0; b < nb; b++) {
                float *lg = logits + b * K, mx = lg[0], sum = 0;
                for (int k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
                for (int k = 0; k < K; k++) sum += expf(lg[k] - mx);
                int y = labels[order[o + b]];
                loss += (double)(logf(sum) + mx - lg[y]);
                size_t pos = (size_t)b * T + e.len[order[o + b]] - 1;
                const float *hl = h + pos * C;
                float *d = dh + pos * C;
                for (int k = 0; k < K; k++) {
                    float g = (expf(lg[k] - mx) / sum - (k == y)) / (float)nb;
                    float *gw = hg + (size_t)k * (C + 1);
                    const float *w = head + (size_t)k * (C + 1);
                    for (int i = 0; i < C; i++) {
                        gw[i] += g * hl[i];
                        d[i] += g * w[i];
                    }
                    gw[C] += g;
                }
            }
            loss /= nb;
            ema = s == 0 ? loss : 0.98 * ema + 0.02 * loss;
            rc = ns_llm_backward_hidden(m, dh);
            if (rc < 0) goto done;
            ns_llm_trainer_update(&t);
            ns_adam_cfg ac = {t.last_lr, 0.9f, 0.999f, 1e-8f, 0.0f, 1};
            ns_adam_step(&ac, head, hg, hm, hv, hn, s + 1);
            ns_progress_note(&p, "epoch %d loss %.4f", ep + 1, ema);
            ns_progress_add(&p, 1);
        }
    }
    ns_progress_end(&p);
    if (final_loss) *final_loss = (float)ema;
done:
    ns_llm_trainer_release(&t);
    enc_free(&e);
    free(hg);
    free(order);
    free(buf);
    free(logits);
    free(dh);
    return rc;
}

int ns_llm_cls_predict(ns_llm *m, const ns_bpe *tok, const char *const *texts, int n, int max_len,
                       const float *head, int K, int *pred)
{
    if (max_len > m->cfg.max_seq) max_len = m->cfg.max_seq;
    enc_set e = {0};
    int rc = enc_all(m, tok, texts, n, max_len, &e);
    int B = 32;
    int32_t *buf = ns_malloc(sizeof(int32_t) * (size_t)B * max_len);
    float *logits = ns_malloc(sizeof(float) * (size_t)B * K);
    int *rows = ns_malloc(sizeof(int) * (size_t)B);
    if (rc >= 0 && (!buf || !logits || !rows)) rc = NS_ENOMEM;
    for (int o = 0; rc >= 0 && o < n; o += B) {
        int nb = n - o < B ? n - o : B, T;
        for (int b = 0; b < nb; b++) rows[b] = o + b;
        rc = cls_forward(m, &e, rows, nb, head, K, logits, &T, buf);
        for (int b = 0; rc >= 0 && b < nb; b++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (logits[b * K + k] > logits[b * K + best]) best = k;
            pred[o + b] = best;
        }
    }
    enc_free(&e);
    free(buf);
    free(logits);
    free(rows);
    return rc;
}

int ns_llm_cls_save(const ns_llm *m, const ns_bpe *tok, const float *head, int K, const char *path)
{
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return NS_ENOMEM;
    int rc = ns__llm_add_tensors(m, w, tok);
    int64_t shape[2] = {K, m->cfg.d_model + 1};
    if (rc >= 0) rc = ns_st_writer_add(w, "cls.head", NS_DT_F32, 2, shape, head);
    if (rc >= 0) rc = ns_st_writer_write(w, path);
    ns_st_writer_free(w);
    return rc;
}

/* ======================================================================= */
/* SFT                                                                       */
/* ======================================================================= */

int ns_llm_sft_encode(const ns_bpe *tok, const char *prompt, const char *response, int max_len, ns_llm_sft_ex *ex)
{
    memset(ex, 0, sizeof *ex);
    ns_buf pre;
    ns_buf_init(&pre);
    ns_buf_printf(&pre, "<|user|>\n%s\n<|assistant|>\n", prompt);
    int32_t *a = NULL, *b = NULL;
    size_t na, nb;
    int rc = ns_bpe_encode(tok, pre.data, pre.len, 1, &a, &na);
    ns_buf_release(&pre);
    if (rc < 0) return rc;
    /* the response is text: special-token strings in it stay plain text */
    rc = ns_bpe_encode(tok, response, strlen(response), 0, &b, &nb);
    if (rc < 0) {
        free(a);
        return rc;
    }
    int eos = ns_bpe_eos(tok);
    size_t total = na + nb + (eos >= 0 ? 1 : 0);
    int32_t *seq = ns_malloc(sizeof(int32_t) * (total + 1));
    if (!seq) {
        free(a);
        free(b);
        return NS_ENOMEM;
    }
    memcpy(seq, a, sizeof(int32_t) * na);
    memcpy(seq + na, b, sizeof(int32_t) * nb);
    if (eos >= 0) seq[na + nb] = eos;
    free(a);
    free(b);
    if (total > (size_t)max_len + 1) total = (size_t)max_len + 1; /* cut from the end of the response */
    if (total < 2 || na >= total) {
        free(seq);
        return ns_err_set(NS_ERANGE, "prompt (%zu tokens) leaves no room for the response within %d tokens", na, max_len);
    }
    ex->n = (int)total - 1;
    ex->ids = ns_malloc(sizeof(int32_t) * (size_t)ex->n);
    ex->tgt = ns_malloc(sizeof(int32_t) * (size_t)ex->n);
    if (!ex->ids || !ex->tgt) {
        free(seq);
        free(ex->ids);
        free(ex->tgt);
        return NS_ENOMEM;
    }
    for (int i = 0; i < ex->n; i++) {
        ex->ids[i] = seq[i];
        ex->tgt[i] = (size_t)(i + 1) >= na ? seq[i + 1] : -1; /* predict response tokens only */
    }
    free(seq);
    return NS_OK;
}

void ns_llm_sft_free(ns_llm_sft_ex *ex, int n)
{
    for (int i = 0; ex && i < n; i++) {
        free(ex[i].ids);
        free(ex[i].tgt);
    }
    free(ex);
}

int ns_llm_sft_load(const char *path, const ns_bpe *tok, int max_len, ns_llm_sft_ex **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    char *s;
    size_t len;
    int rc = ns_file_read_all(path, &s, &len, (size_t)1 << 30);
    if (rc < 0) return rc;
    ns_lines it;
    ns_lines_init(&it, s, len);
    const char *line;
    size_t ll;
    ns_llm_sft_ex *ex = NULL;
    int n = 0, cap = 0;
    while (ns_lines_next(&it, &line, &ll)) {
        if (!ll) continue;
        json_error_t je;
        json_t *o = json_loadb(line, ll, 0, &je);
        const char *p = json_string_value(json_object_get(o, "prompt"));
        const char *r = json_string_value(json_object_get(o, "response"));
        if (!o || !json_is_object(o) || !p || !r) {
            json_decref(o);
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, o ? (!p ? "prompt" : "response") : NULL, NULL,
                               o ? "each line needs string fields \"prompt\" and \"response\"" : "not JSON: %s", je.text);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            ns_llm_sft_ex *e2 = ns_realloc(ex, sizeof(*ex) * (size_t)cap);
            if (!e2) {
                json_decref(o);
                rc = NS_ENOMEM;
                goto fail;
            }
            ex = e2;
        }
        rc = ns_llm_sft_encode(tok, p, r, max_len, &ex[n]);
        json_decref(o);
        if (rc < 0) {
            ns_err_set_at(rc, path, it.lineno, NULL, NULL, "%s", ns_err_last()->msg);
            goto fail;
        }
        n++;
    }
    free(s);
    if (!n) {
        ns_llm_sft_free(ex, 0);
        return ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no examples");
    }
    *out = ex;
    *nout = n;
    return NS_OK;
fail:
    free(s);
    ns_llm_sft_free(ex, n);
    return rc;
}

int ns_llm_sft_step(ns_llm_trainer *t, const ns_llm_sft_ex *ex, int n, float *loss)
{
    int B = t->cfg.batch;
    int *rows = ns_malloc(sizeof(int) * (size_t)B);
    if (!rows) return NS_ENOMEM;
    int T = 1;
    for (int b = 0; b < B; b++) {
        rows[b] = (int)ns_rng_below(&t->rng, (uint64_t)n);
        T = ex[rows[b]].n > T ? ex[rows[b]].n : T;
    }
    int32_t *x = ns_malloc(sizeof(int32_t) * (size_t)B * T * 2);
    if (!x) {
        free(rows);
        return NS_ENOMEM;
    }
    int32_t *y = x + (size_t)B * T;
    for (int b = 0; b < B; b++) {
        const ns_llm_sft_ex *e = &ex[rows[b]];
        for (int i = 0; i < T; i++) {
            x[(size_t)b * T + i] = i < e->n ? e->ids[i] : 0;
            y[(size_t)b * T + i] = i < e->n ? e->tgt[i] : -1;
        }
    }
    ns_llm_zero_grad(t->m);
    float l = 0;
    int rc = ns_llm_forward(t->m, x, y, B, T, &l);
    if (rc >= 0) rc = ns_llm_backward(t->m, 1.0f);
    if (rc >= 0) ns_llm_trainer_update(t);
    if (loss) *loss = l;
    free(x);
    free(rows);
    return rc;
}
