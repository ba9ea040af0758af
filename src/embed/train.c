/*
 * train.c — the word2vec trainer: skip-gram and CBOW, negative sampling
 * and hierarchical softmax, sub-sampling, random window shrink, linear
 * learning-rate decay, Hogwild threads (OpenMP).
 *
 * Workload: a corpus already in memory as token ids (corpus.c); each thread
 * takes a contiguous slice of sentences (cut by token count, so the slices
 * are even) and runs all epochs over it without waiting for the others, as
 * word2vec.c does; the learning rate follows the shared word counter.
 *
 * Skip-gram with negative sampling runs the batched step (kernels.c): per
 * centre word, its (shrunk) window of context rows against the centre's
 * output row and N negatives drawn once for the window. opts.classic runs
 * the word2vec.c loop instead (fresh negatives for every pair), which is the
 * reference the batched trainer is compared with in docs/BENCHMARKS.md.
 */
#include "embed_int.h"

#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct ns_w2v_model {
    int32_t n;       /* vocabulary size */
    int dim, ld;     /* vector size, padded row length */
    float *syn0;     /* [n, ld] input vectors (the embeddings) */
    float *syn1neg;  /* [n, ld] negative-sampling output vectors, or NULL */
    float *syn1;     /* [n - 1, ld] hierarchical-softmax inner nodes, or NULL */
};

ns_w2v_opts ns_w2v_defaults(void)
{
    ns_w2v_opts o;
    memset(&o, 0, sizeof o);
    o.sg = 1;
    o.dim = 100;
    o.window = 5;
    o.negative = 5;
    o.ns_exponent = 0.75;
    o.hs = 0;
    o.sample = 1e-3;
    o.alpha = 0;
    o.min_alpha = -1;
    o.epochs = 5;
    o.threads = 0;
    o.seed = 1;
    o.cbow_mean = 1;
    o.classic = 0;
    o.vectors = NS_W2V_VEC_IN;
    o.label = "word2vec";
    return o;
}

void ns_w2v_model_free(ns_w2v_model *m)
{
    if (!m) return;
    ns_free_aligned(m->syn0);
    ns_free_aligned(m->syn1neg);
    ns_free_aligned(m->syn1);
    free(m);
}

int ns_w2v_model_dim(const ns_w2v_model *m) { return m->dim; }
const float *ns_w2v_model_row(const ns_w2v_model *m, int32_t id) { return m->syn0 + (size_t)id * (size_t)m->ld; }

/* ---- Huffman tree for hierarchical softmax ------------------------------ */

typedef struct {
    int64_t *off;    /* [n + 1] start of word w's path */
    uint8_t *label;  /* [total] 1 - branch bit (the target of sigma) */
    int32_t *point;  /* [total] inner node (row of syn1) */
    int maxlen;
} huffman;

static void huffman_free(huffman *h)
{
    free(h->off);
    free(h->label);
    free(h->point);
}

/* Counts are sorted descending (corpus ids), so the leaves in increasing
 * count order are n-1, n-2, ...; merged nodes come out in increasing count
 * order too: two queues give the tree in O(n). */
static int huffman_build(huffman *h, const int64_t *count, int32_t n)
{
    memset(h, 0, sizeof *h);
    if (n < 2) {
        h->off = ns_calloc((size_t)n + 1, sizeof *h->off);
        return h->off ? 0 : NS_ENOMEM;
    }
    size_t tot = 2 * (size_t)n - 1;
    int64_t *cnt = ns_malloc(sizeof *cnt * tot);
    int32_t *parent = ns_malloc(sizeof *parent * tot);
    uint8_t *bit = ns_calloc(tot, 1);
    int32_t *depth = ns_calloc(tot, sizeof *depth);
    int rc = NS_ENOMEM;
    if (!cnt || !parent || !bit || !depth) goto done;
    for (int32_t i = 0; i < n; i++) cnt[i] = count[i];
    int64_t leaf = n - 1, inner = n;
    for (int32_t a = 0; a < n - 1; a++) {
        int32_t pick[2];
        for (int t = 0; t < 2; t++) {
            if (leaf >= 0 && (inner >= n + a || cnt[leaf] <= cnt[inner])) pick[t] = (int32_t)leaf--;
            else pick[t] = (int32_t)inner++;
        }
        cnt[n + a] = cnt[pick[0]] + cnt[pick[1]];
        parent[pick[0]] = parent[pick[1]] = n + a;
        bit[pick[1]] = 1;
    }
    int32_t root = (int32_t)tot - 1;
    depth[root] = 0;
    for (int32_t v = root - 1; v >= 0; v--) depth[v] = depth[parent[v]] + 1; /* parents have larger ids */
    h->off = ns_malloc(sizeof *h->off * ((size_t)n + 1));
    if (!h->off) goto done;
    h->off[0] = 0;
    for (int32_t w = 0; w < n; w++) {
        h->off[w + 1] = h->off[w] + depth[w];
        if (depth[w] > h->maxlen) h->maxlen = depth[w];
    }
    h->label = ns_malloc((size_t)h->off[n]);
    h->point = ns_malloc(sizeof *h->point * (size_t)h->off[n]);
    if (!h->label || !h->point) goto done;
    for (int32_t w = 0; w < n; w++) {
        /* Walk up from the leaf, filling the path from its end. */
        int64_t i = h->off[w + 1];
        for (int32_t v = w; v != root; v = parent[v]) {
            i--;
            h->label[i] = (uint8_t)(1 - bit[v]);
            h->point[i] = parent[v] - n;
        }
    }
    rc = 0;
done:
    free(cnt);
    free(parent);
    free(bit);
    free(depth);
    if (rc) huffman_free(h);
    return rc;
}

/* ---- trainer ------------------------------------------------------------ */

typedef struct {
    const ns_w2v_corpus *c;
    ns_w2v_model *m;
    ns_w2v_opts o;
    uint32_t *keep;      /* [n] sub-sampling: keep a token if rand32 < keep[w] */
    ns__alias neg;       /* unigram^ns_exponent */
    huffman hs;
    int64_t total;       /* ntok * epochs */
    _Atomic int64_t done;
    double alpha0, alpha1;
    ns_progress pr;
    int nthreads;
    int err;
} trainer;

static float alpha_at(const trainer *t, int64_t done)
{
    double f = t->total > 0 ? (double)done / (double)t->total : 1.0;
    if (f > 1) f = 1;
    double a = t->alpha0 - (t->alpha0 - t->alpha1) * f;
    return (float)(a < t->alpha1 ? t->alpha1 : a);
}

/* Draw the centre's negatives into out[1..]; returns m (outputs used). */
static int draw_negatives(const trainer *t, ns_rng *r, int32_t centre, float **out, int32_t *ids)
{
    int N = t->o.negative, m = 1;
    float *syn1neg = t->m->syn1neg;
    size_t ld = (size_t)t->m->ld;
    for (int i = 0; i < N; i++) {
        int32_t w = centre;
        for (int tries = 0; tries < 16 && w == centre; tries++)
            w = ns_alias_draw(t->neg.thr, t->neg.alias, t->neg.n, ns_rng_u64(r));
        if (w == centre) continue; /* degenerate vocabulary: skip */
        ids[m] = w;
        out[m++] = syn1neg + (size_t)w * ld;
    }
    return m;
}

static void train_slice(trainer *t, int tid, int64_t s_lo, int64_t s_hi, float *buf,
                        int32_t *sen, float **in, float **out, int32_t *oid, float *lab,
                        float *scratch)
{
    const ns_w2v_corpus *c = t->c;
    const ns_w2v_opts *o = &t->o;
    ns_w2v_model *m = t->m;
    size_t ld = (size_t)m->ld;
    int W = o->window, N = o->negative;
    ns_rng r;
    ns_rng_seed(&r, o->seed, (uint64_t)tid + 1);
    for (int o1 = 1; o1 <= N + 1; o1++) lab[o1] = 0.0f;
    lab[0] = 1.0f;
    float *h = buf, *dh = buf + ld;
    int64_t pending = 0;
    for (int ep = 0; ep < o->epochs; ep++) {
        for (int64_t s = s_lo; s < s_hi; s++) {
            const int32_t *tok = c->tok + c->sent[s];
            int64_t len0 = c->sent[s + 1] - c->sent[s];
            int len = 0;
            for (int64_t i = 0; i < len0; i++) {
                int32_t w = tok[i];
                if (t->keep[w] != UINT32_MAX && (uint32_t)ns_rng_u64(&r) >= t->keep[w]) continue;
                sen[len++] = w;
            }
            pending += len0;
            int64_t done_now = atomic_load_explicit(&t->done, memory_order_relaxed) + pending;
            float alpha = alpha_at(t, done_now);
            if (pending >= 10000) {
                atomic_fetch_add_explicit(&t->done, pending, memory_order_relaxed);
                ns_progress_add(&t->pr, pending);
                pending = 0;
            }
            for (int i = 0; i < len; i++) {
                int32_t centre = sen[i];
                int b = 1 + (int)ns_below32((uint32_t)(ns_rng_u64(&r) >> 32), (uint32_t)W);
                int lo = i - b < 0 ? 0 : i - b, hi = i + b >= len ? len - 1 : i + b;
                int k = 0;
                for (int j = lo; j <= hi; j++)
                    if (j != i) in[k++] = m->syn0 + (size_t)sen[j] * ld;
                if (k == 0) continue;
                int hm = 0;
                if (o->hs) {
                    int64_t a = t->hs.off[centre];
                    hm = (int)(t->hs.off[centre + 1] - a);
                    const int32_t *hp = t->hs.point + a;
                    for (int q = 0; q < hm; q++) {
                        out[N + 1 + q] = m->syn1 + (size_t)hp[q] * ld;
                        lab[N + 1 + q] = (float)t->hs.label[a + q];
                    }
                }
                if (o->sg && !o->classic) {
                    if (N > 0) {
                        out[0] = m->syn1neg + (size_t)centre * ld;
                        int mm = draw_negatives(t, &r, centre, out, oid);
                        ns__w2v_step(in, k, out, mm, lab, (int)ld, alpha, scratch);
                    }
                    if (hm) ns__w2v_step(in, k, out + N + 1, hm, lab + N + 1, (int)ld, alpha, scratch);
                } else if (o->sg) {
                    /* word2vec.c: each (centre, context) pair on its own, fresh negatives. */
                    for (int j = 0; j < k; j++) {
                        if (N > 0) {
                            out[0] = m->syn1neg + (size_t)centre * ld;
                            int mm = draw_negatives(t, &r, centre, out, oid);
                            ns__w2v_step(in + j, 1, out, mm, lab, (int)ld, alpha, scratch);
                        }
                        if (hm) ns__w2v_step(in + j, 1, out + N + 1, hm, lab + N + 1, (int)ld, alpha, scratch);
                    }
                } else {
                    /* CBOW: the (averaged) context predicts the centre. */
                    if (N > 0) {
                        out[0] = m->syn1neg + (size_t)centre * ld;
                        int mm = draw_negatives(t, &r, centre, out, oid);
                        ns__w2v_cbow(in, k, out, mm, lab, (int)ld, alpha, o->cbow_mean, h, dh);
                    }
                    if (hm)
                        ns__w2v_cbow(in, k, out + N + 1, hm, lab + N + 1, (int)ld, alpha, o->cbow_mean, h, dh);
                }
            }
        }
    }
    atomic_fetch_add_explicit(&t->done, pending, memory_order_relaxed);
    ns_progress_add(&t->pr, pending);
}

static int check_opts(const ns_w2v_opts *o)
{
    if (o->dim < 1 || o->dim > 10000)
        return ns_err_set_at(NS_ERANGE, NULL, 0, "dim", NULL, "dim must be in [1, 10000], got %d", o->dim);
    if (o->window < 1 || o->window > 1000)
        return ns_err_set_at(NS_ERANGE, NULL, 0, "window", NULL, "window must be in [1, 1000], got %d", o->window);
    if (o->negative < 0 || o->negative > 1000)
        return ns_err_set_at(NS_ERANGE, NULL, 0, "negative", NULL, "negative must be in [0, 1000], got %d", o->negative);
    if (o->negative == 0 && !o->hs)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "negative", NULL,
                             "nothing to train: negative is 0 and hierarchical softmax is off");
    if (!(o->ns_exponent >= -2 && o->ns_exponent <= 2))
        return ns_err_set_at(NS_ERANGE, NULL, 0, "ns_exponent", NULL, "ns_exponent must be in [-2, 2], got %g",
                             o->ns_exponent);
    if (o->epochs < 1 || o->epochs > 100000)
        return ns_err_set_at(NS_ERANGE, NULL, 0, "epochs", NULL, "epochs must be in [1, 100000], got %d", o->epochs);
    if (!(o->sample >= 0 && o->sample < 1))
        return ns_err_set_at(NS_ERANGE, NULL, 0, "sample", NULL, "sample must be in [0, 1), got %g", o->sample);
    if (!(o->alpha >= 0 && o->alpha <= 10))
        return ns_err_set_at(NS_ERANGE, NULL, 0, "alpha", NULL, "alpha must be in (0, 10], got %g", o->alpha);
    if (o->vectors != NS_W2V_VEC_IN && o->vectors != NS_W2V_VEC_SUM)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "vectors", NULL, "vectors must be in (0) or sum (1), got %d", o->vectors);
    if (o->vectors == NS_W2V_VEC_SUM && o->negative == 0)
        return ns_err_set_at(NS_EINVAL, NULL, 0, "vectors", NULL,
                             "sum of input and output vectors needs negative sampling (negative > 0)");
    return 0;
}

int ns_w2v_train(ns_w2v_model **out, const ns_w2v_corpus *c, const ns_w2v_opts *opts,
                 ns_w2v_stats *stats)
{
    *out = NULL;
    ns_w2v_opts o = opts ? *opts : ns_w2v_defaults();
    int rc = check_opts(&o);
    if (rc < 0) return rc;
    if (o.alpha == 0) o.alpha = 0.05;
    if (o.min_alpha < 0) o.min_alpha = o.alpha * 1e-4;
    if (!o.label) o.label = "word2vec";
    ns__sig_init();

    trainer t;
    memset(&t, 0, sizeof t);
    t.c = c;
    t.o = o;
    t.alpha0 = o.alpha;
    t.alpha1 = o.min_alpha;
    t.total = c->ntok * (int64_t)o.epochs;
    int32_t n = c->nwords;
    ns_w2v_model *m = ns_calloc(1, sizeof *m);
    double *wt = NULL;
    int32_t *work = NULL;
    if (!m) return NS_ENOMEM;
    t.m = m;
    m->n = n;
    m->dim = o.dim;
    m->ld = ns__w2v_ld(o.dim);
    size_t rowb = sizeof(float) * (size_t)m->ld;
    m->syn0 = ns_malloc_aligned(rowb * (size_t)n);
    if (o.negative) m->syn1neg = ns_malloc_aligned(rowb * (size_t)n);
    if (o.hs && n > 1) m->syn1 = ns_malloc_aligned(rowb * (size_t)(n - 1));
    t.keep = ns_malloc(sizeof *t.keep * (size_t)n);
    if (!m->syn0 || (o.negative && !m->syn1neg) || (o.hs && n > 1 && !m->syn1) || !t.keep) {
        rc = NS_ENOMEM;
        goto done;
    }
    /* Initial vectors: uniform in +-0.5/dim (word2vec.c), outputs zero. */
    {
        ns_rng r;
        ns_rng_seed(&r, o.seed, 0);
        memset(m->syn0, 0, rowb * (size_t)n);
        for (int32_t w = 0; w < n; w++)
            ns_rng_fill_uniform(&r, m->syn0 + (size_t)w * m->ld, (size_t)o.dim, -0.5f / (float)o.dim,
                                0.5f / (float)o.dim);
        if (m->syn1neg) memset(m->syn1neg, 0, rowb * (size_t)n);
        if (m->syn1) memset(m->syn1, 0, rowb * (size_t)(n - 1));
    }
    /* Sub-sampling (word2vec.c's formula): keep with probability
     * (sqrt(f / s) + 1) * s / f, f = count / total. */
    for (int32_t w = 0; w < n; w++) {
        double keepp = 1.0;
        if (o.sample > 0 && c->ntok > 0) {
            double st = o.sample * (double)c->ntok, f = (double)c->count[w];
            keepp = (sqrt(f / st) + 1.0) * st / f;
        }
        t.keep[w] = keepp >= 1.0 ? UINT32_MAX : (uint32_t)(keepp * 4294967296.0);
    }
    if (o.negative) {
        wt = ns_malloc(sizeof *wt * (size_t)n);
        work = ns_malloc(sizeof *work * 2 * (size_t)n);
        t.neg.thr = ns_malloc(sizeof *t.neg.thr * (size_t)n);
        t.neg.alias = ns_malloc(sizeof *t.neg.alias * (size_t)n);
        if (!wt || !work || !t.neg.thr || !t.neg.alias) {
            rc = NS_ENOMEM;
            goto done;
        }
        for (int32_t w = 0; w < n; w++) wt[w] = pow((double)c->count[w], o.ns_exponent);
        ns_alias_build(t.neg.thr, t.neg.alias, wt, n, work);
        t.neg.n = n;
    }
    if (o.hs && (rc = huffman_build(&t.hs, c->count, n)) < 0) goto done;

    int T = o.threads > 0 ? o.threads : ns_threads();
    if (T > 1 && c->nsent < T) T = c->nsent > 0 ? (int)c->nsent : 1;
    t.nthreads = T;
    ns_progress_begin(&t.pr, o.label, (double)t.total, "words");
    double t0 = ns_now();
    int W = o.window, N = o.negative, HM = o.hs ? t.hs.maxlen : 0;
    int maxs = 0;
    for (int64_t s = 0; s < c->nsent; s++)
        if (c->sent[s + 1] - c->sent[s] > maxs) maxs = (int)(c->sent[s + 1] - c->sent[s]);
    int mmax = N + 1 > HM ? N + 1 : HM;
    size_t kmax = 2 * (size_t)W;
    size_t scratch_n = kmax * (size_t)(mmax > 8 ? mmax : 8) + (size_t)mmax * (size_t)m->ld + 64;
    _Atomic int failed = 0;
#pragma omp parallel num_threads(T)
    {
        int tid = omp_get_thread_num();
        float *buf = ns_malloc_aligned(sizeof(float) * (2 * (size_t)m->ld + scratch_n));
        int32_t *sen = ns_malloc(sizeof *sen * ((size_t)maxs + 1));
        float **in = ns_malloc(sizeof *in * kmax);
        float **outp = ns_malloc(sizeof *outp * (size_t)(N + 1 + HM + 1));
        int32_t *oid = ns_malloc(sizeof *oid * (size_t)(N + 1));
        float *lab = ns_malloc(sizeof *lab * (size_t)(N + 1 + HM + 1));
        if (!buf || !sen || !in || !outp || !oid || !lab) {
            atomic_store(&failed, 1);
        } else {
            /* Slice by token count, aligned to sentence starts. */
            int64_t lo_tok = c->ntok * tid / T, hi_tok = c->ntok * (tid + 1) / T;
            int64_t s_lo = 0, s_hi = 0;
            {
                int64_t a = 0, b = c->nsent;
                while (a < b) { int64_t mid = (a + b) / 2; if (c->sent[mid] < lo_tok) a = mid + 1; else b = mid; }
                s_lo = a;
                a = 0, b = c->nsent;
                while (a < b) { int64_t mid = (a + b) / 2; if (c->sent[mid] < hi_tok) a = mid + 1; else b = mid; }
                s_hi = tid == T - 1 ? c->nsent : a;
            }
            train_slice(&t, tid, s_lo, s_hi, buf, sen, in, outp, oid, lab,
                        buf + 2 * (size_t)m->ld);
        }
        ns_free_aligned(buf);
        free(sen);
        free(in);
        free(outp);
        free(oid);
        free(lab);
    }
    double secs = ns_now() - t0;
    ns_progress_end(&t.pr);
    if (failed) {
        rc = ns_err_set(NS_ENOMEM, "out of memory for the training threads' buffers");
        goto done;
    }
    if (stats) {
        stats->seconds = secs;
        stats->words = t.total;
        stats->words_per_sec = secs > 0 ? (double)t.total / secs : 0;
        stats->final_alpha = alpha_at(&t, atomic_load(&t.done));
    }
    if (o.vectors == NS_W2V_VEC_SUM) {
        /* w + c: each row's input vector plus its output vector. */
        for (size_t i = 0; i < (size_t)n * (size_t)m->ld; i++) m->syn0[i] += m->syn1neg[i];
    }
    *out = m;
    m = NULL;
done:
    ns_w2v_model_free(m);
    free(wt);
    free(work);
    free(t.keep);
    free(t.neg.thr);
    free(t.neg.alias);
    huffman_free(&t.hs);
    return rc;
}
