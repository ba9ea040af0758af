/*
 * generate.c — text generation on a context: encode the prompt, prefill,
 * sample until a limit, EOS, a stop sequence or the end of the context
 * (or slide the window), and stream the text as complete UTF-8 pieces
 * that never show a stop sequence (ns_llm_stream).
 */
#include "llm_int.h"

#include "northstar/tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* ======================================================================= */
/* generation                                                                */
/* ======================================================================= */

/* Length of the longest prefix of s[0..n) that ends on a complete UTF-8
 * character (an incomplete trailing sequence is held back). */
static size_t utf8_complete(const char *s, size_t n)
{
    size_t i = n, back = 0;
    while (i > 0 && back < 4) {
        unsigned char ch = (unsigned char)s[i - 1];
        if ((ch & 0xC0) != 0x80) {
            size_t need = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 1;
            return back + 1 >= need ? n : i - 1;
        }
        i--;
        back++;
    }
    return n;
}

void ns_llm_stream_init(ns_llm_stream *s, const char *const *stop, int n_stop, ns_llm_piece_fn fn, void *fn_ctx,
                        ns_buf *out)
{
    memset(s, 0, sizeof *s);
    ns_buf_init(&s->pending);
    s->stop = stop;
    s->n_stop = stop ? n_stop : 0;
    s->fn = fn;
    s->fn_ctx = fn_ctx;
    s->out = out;
}

void ns_llm_stream_release(ns_llm_stream *s) { ns_buf_release(&s->pending); }

static void emit(ns_llm_stream *s, const char *p, size_t n)
{
    if (!n) return;
    if (s->out) ns_buf_append(s->out, p, n);
    if (s->fn && !s->stopped && s->fn(p, n, s->fn_ctx)) s->stopped = 1;
}

/* Push new bytes; returns 1 when a stop sequence completed. */
static int stream_push(ns_llm_stream *s, const char *p, size_t n, int final)
{
    ns_buf *b = &s->pending;
    if (n) ns_buf_append(b, p, n);
    for (int k = 0; k < s->n_stop; k++) {
        const char *st = s->stop[k];
        if (!st || !*st) continue;
        const char *hit = b->len ? memmem(b->data, b->len, st, strlen(st)) : NULL;
        if (hit) {
            emit(s, b->data, (size_t)(hit - b->data));
            b->len = 0;
            return 1;
        }
    }
    size_t keep = 0;
    if (!final) {
        /* hold back a suffix that may still grow into a stop sequence */
        for (int k = 0; k < s->n_stop; k++) {
            const char *st = s->stop[k];
            if (!st || !*st) continue;
            size_t L = strlen(st);
            for (size_t j = L - 1 < b->len ? L - 1 : b->len; j > keep; j--)
                if (!memcmp(b->data + b->len - j, st, j)) {
                    keep = j;
                    break;
                }
        }
    }
    size_t cut = b->len - keep;
    if (!final) cut = utf8_complete(b->data, cut);
    emit(s, b->data, cut);
    if (b->len) {
        memmove(b->data, b->data + cut, b->len - cut);
        b->len -= cut;
        b->data[b->len] = 0;
    }
    return 0;
}

int ns_llm_stream_push(ns_llm_stream *s, const char *p, size_t n) { return stream_push(s, p, n, 0); }
void ns_llm_stream_finish(ns_llm_stream *s) { stream_push(s, NULL, 0, 1); }

int ns_llm_generate_ctx(ns_llm_ctx *c, const ns_bpe *tok, const char *prompt, const ns_llm_gen_cfg *g,
                        ns_llm_piece_fn fn, void *fn_ctx, ns_buf *out, ns_llm_gen_stats *stats)
{
    const ns_llm *m = ns__llm_ctx_model(c);
    int V = m->cfg.vocab_size, Tm = m->cfg.max_seq;
    ns_llm_gen_stats st;
    memset(&st, 0, sizeof st);
    size_t plen = strlen(prompt);
    if (!ns_utf8_valid(prompt, plen)) return ns_err_set_at(NS_EFORMAT, "", 0, "prompt", NULL, "prompt is not valid UTF-8");
    if (ns_bpe_vocab_size(tok) > V)
        return ns_err_set(NS_EMISMATCH, "tokenizer has %d ids but the model only %d", ns_bpe_vocab_size(tok), V);
    if (g->int8) {
        int rc = ns_llm_ctx_quantize_int8(c);
        if (rc < 0) return rc;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = ns_bpe_encode(tok, prompt, plen, 1, &ids, &n);
    if (rc < 0) return rc;
    /* BOS starts an empty prompt, and every prompt of a llama2.c
     * (sentencepiece) tokenizer, as its models were trained that way. */
    int bos = ns_bpe_bos(tok);
    if (bos >= 0 && (n == 0 || (ns_bpe_type(tok) == NS_BPE_SCORES && ids[0] != bos))) {
        int32_t *t2 = ns_realloc(ids, sizeof(int32_t) * (n + 1));
        if (!t2) {
            free(ids);
            return NS_ENOMEM;
        }
        ids = t2;
        memmove(ids + 1, ids, sizeof(int32_t) * n);
        ids[0] = bos;
        n++;
    }
    if (n == 0) {
        free(ids);
        return ns_err_set(NS_EINVAL, "empty prompt and the tokenizer has no BOS token to start from");
    }
    if (n > (size_t)Tm - 1) {
        st.truncated = (int)(n - (size_t)(Tm - 1));
        ns_log_warn("prompt has %zu tokens, the context holds %d: dropping the first %d", n, Tm, st.truncated);
        memmove(ids, ids + st.truncated, sizeof(int32_t) * (size_t)(Tm - 1));
        n = (size_t)Tm - 1;
    }
    st.prompt_tokens = (int)n;
    int win = g->repeat_last_n > 0 ? g->repeat_last_n : 0;
    int32_t *hist = NULL; /* the tokens in the window, for sliding */
    int hist_n = 0;
    int32_t *recent = ns_malloc(sizeof(int32_t) * (size_t)(win + 1));
    float *lg = ns_malloc(sizeof(float) * (size_t)V);
    ns_llm_stream s;
    ns_llm_stream_init(&s, g->stop, g->n_stop, fn, fn_ctx, out);
    if (!recent || !lg) {
        rc = NS_ENOMEM;
        goto done;
    }
    int nrec = 0;
    for (size_t i = n > (size_t)win ? n - (size_t)win : 0; i < n; i++) recent[nrec++] = ids[i];
    ns_rng rng;
    ns_rng_seed(&rng, g->seed, 7);
    ns_llm_ctx_reset(c);
    double t0 = ns_now();
    const float *logits;
    rc = ns_llm_ctx_feed(c, ids, (int)n, &logits);
    if (rc < 0) goto done;
    double t1 = ns_now();
    hist = ns_malloc(sizeof(int32_t) * (size_t)(Tm + 1));
    if (!hist) {
        rc = NS_ENOMEM;
        goto done;
    }
    memcpy(hist, ids, sizeof(int32_t) * n);
    hist_n = (int)n;
    st.prefill_s = t1 - t0;
    int eos = ns_bpe_eos(tok);
    st.finish = "length";
    for (int k = 0; k < g->max_tokens; k++) {
        memcpy(lg, logits, sizeof(float) * (size_t)V);
        int next = ns_llm_sample(lg, V, g, recent, nrec, &rng);
        if (next < 0) {
            rc = next;
            goto done;
        }
        st.gen_tokens++;
        if (g->stop_at_eos && next == eos) {
            st.finish = "eos";
            break;
        }
        if (win > 0) {
            if (nrec == win) memmove(recent, recent + 1, sizeof(int32_t) * (size_t)(win - 1)), nrec--;
            recent[nrec++] = next;
        }
        size_t pl = 0;
        const char *piece = next < ns_bpe_vocab_size(tok) ? ns_bpe_piece(tok, next, &pl) : "";
        if (ns_llm_stream_push(&s, piece, pl)) {
            st.finish = "stop";
            break;
        }
        if (s.stopped) {
            st.finish = "callback";
            break;
        }
        if (k + 1 == g->max_tokens) break;
        if (ns_llm_ctx_pos(c) >= Tm) {
            if (!g->slide) {
                st.finish = "context";
                break;
            }
            /* keep the last half of the window (the token just sampled is
             * its last) and re-prefill it at positions 0.. */
            int keep = Tm / 2 > 1 ? Tm / 2 : 1;
            if (hist_n >= keep) memmove(hist, hist + hist_n - keep + 1, sizeof(int32_t) * (size_t)(keep - 1));
            hist_n = keep - 1;
            ns_llm_ctx_reset(c);
            if (hist_n > 0 && (rc = ns_llm_ctx_feed(c, hist, hist_n, &logits)) < 0) goto done;
        }
        if (hist_n < Tm) hist[hist_n++] = next;
        rc = ns_llm_ctx_feed(c, (int32_t[]){next}, 1, &logits);
        if (rc < 0) goto done;
    }
    if (strcmp(st.finish, "stop")) ns_llm_stream_finish(&s);
    st.gen_s = ns_now() - t1;
done:
    ns_llm_stream_release(&s);
    free(hist);
    free(recent);
    free(lg);
    free(ids);
    if (stats) *stats = st;
    return rc;
}

int ns_llm_generate(const ns_llm *m, const ns_bpe *tok, const char *prompt, const ns_llm_gen_cfg *g,
                    ns_llm_piece_fn fn, void *fn_ctx, ns_buf *out, ns_llm_gen_stats *stats)
{
    ns_llm_ctx *c;
    int rc = ns_llm_ctx_new(&c, m);
    if (rc < 0) return rc;
    rc = ns_llm_generate_ctx(c, tok, prompt, g, fn, fn_ctx, out, stats);
    ns_llm_ctx_free(c);
    return rc;
}
