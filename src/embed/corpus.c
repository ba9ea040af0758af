/*
 * corpus.c — text (or any id stream) to a word2vec corpus: token ids in
 * memory, sentence boundaries, and the vocabulary sorted by frequency.
 *
 * Workload: corpora of a few million to a few hundred million tokens. Text
 * is tokenized once (shared tokenizer, tokenizer.h) while words are interned in
 * first-seen order; one counting pass then sorts the vocabulary, drops rare
 * words and renumbers the tokens in place. Holding the ids in memory (4
 * bytes a token) lets every epoch and every thread read them at memory
 * speed instead of re-tokenizing the text each epoch as word2vec.c does.
 */
#include "embed_int.h"
#include "northstar/tokenizer.h"

#include <stdlib.h>
#include <string.h>

ns_w2v_corpus_opts ns_w2v_corpus_defaults(void)
{
    ns_w2v_corpus_opts o = {5, 0, NS_SENT_LINE, 10000, 0};
    return o;
}

void ns_w2v_corpus_free(ns_w2v_corpus *c)
{
    if (!c) return;
    ns_strmap_free(c->words);
    free(c->count);
    free(c->tok);
    free(c->sent);
    free(c);
}

/* ---- counting, sorting, renumbering ------------------------------------ */

typedef struct { int64_t count; int32_t id; } idcount;

static int by_count_desc(const void *a, const void *b)
{
    const idcount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id; /* first seen first: deterministic */
}

int ns__corpus_finish(ns_w2v_corpus **out, int32_t *ids, int64_t ntok, int64_t *sent,
                      int64_t nsent, const ns_strmap *names, int64_t tokens_read,
                      const ns_w2v_corpus_opts *o, const char *what)
{
    *out = NULL;
    int rc = NS_OK;
    size_t nn = ns_strmap_count(names);
    int64_t *cnt = NULL;
    idcount *ord = NULL;
    int32_t *remap = NULL;
    ns_w2v_corpus *c = NULL;
    if (nn > INT32_MAX) {
        rc = ns_err_set_at(NS_ETOOBIG, what, 0, NULL, NULL, "more than 2^31 distinct words");
        goto done;
    }
    cnt = ns_calloc(nn ? nn : 1, sizeof *cnt);
    ord = ns_malloc(sizeof *ord * (nn ? nn : 1));
    remap = ns_malloc(sizeof *remap * (nn ? nn : 1));
    c = ns_calloc(1, sizeof *c);
    if (!cnt || !ord || !remap || !c) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int64_t i = 0; i < ntok; i++) cnt[ids[i]]++;
    for (size_t i = 0; i < nn; i++) ord[i] = (idcount){cnt[i], (int32_t)i};
    qsort(ord, nn, sizeof *ord, by_count_desc);
    int64_t keep = 0;
    int64_t minc = o->min_count > 0 ? o->min_count : 1;
    while ((size_t)keep < nn && ord[keep].count >= minc) keep++;
    if (o->max_vocab > 0 && keep > o->max_vocab) keep = o->max_vocab;
    if (keep == 0) {
        if (ntok == 0)
            rc = ns_err_set_at(NS_EFORMAT, what, 0, NULL, NULL,
                               "no words in the input (empty, or no letters or digits)");
        else
            rc = ns_err_set_at(NS_EFORMAT, what, 0, "min-count", NULL,
                               "no word occurs at least %lld times (%lld tokens, %zu distinct "
                               "words; lower --min-count)",
                               (long long)minc, (long long)ntok, nn);
        goto done;
    }
    c->words = ns_strmap_new((size_t)keep);
    c->count = ns_malloc(sizeof *c->count * (size_t)keep);
    if (!c->words || !c->count) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nn; i++) remap[i] = -1;
    for (int64_t r = 0; r < keep; r++) {
        size_t len;
        const char *w = ns_strmap_key(names, ord[r].id, &len);
        if (ns_strmap_intern(c->words, w, len) != r) {
            rc = ns_err_set(NS_ENOMEM, "building the vocabulary");
            goto done;
        }
        c->count[r] = ord[r].count;
        remap[ord[r].id] = (int32_t)r;
    }
    c->nwords = (int32_t)keep;
    /* Renumber in place, drop rare tokens, drop empty sentences and cut
     * long ones. The new sentence array can have more entries than the old
     * one (cuts), so it is built separately. */
    int maxs = o->max_sentence > 0 ? o->max_sentence : 10000;
    int64_t cap = nsent + ntok / maxs + 2, ns = 0, w = 0;
    int64_t *ns_sent = ns_malloc(sizeof *ns_sent * (size_t)cap);
    if (!ns_sent) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int64_t s = 0; s < nsent; s++) {
        int64_t start = w;
        for (int64_t i = sent[s]; i < sent[s + 1]; i++) {
            int32_t r = remap[ids[i]];
            if (r < 0) continue;
            if (w - start == maxs) {
                ns_sent[ns++] = start;
                start = w;
            }
            ids[w++] = r;
        }
        if (w > start) ns_sent[ns++] = start;
    }
    ns_sent[ns] = w;
    c->tok = ids;
    c->ntok = w;
    c->sent = ns_sent;
    c->nsent = ns;
    c->tokens_read = tokens_read;
    ids = NULL;
    if (w > 0) {
        int32_t *t = realloc(c->tok, sizeof *c->tok * (size_t)w);
        if (t) c->tok = t;
    }
    *out = c;
    c = NULL;
done:
    free(ids);
    free(sent);
    free(cnt);
    free(ord);
    free(remap);
    ns_w2v_corpus_free(c);
    return rc;
}

int ns_w2v_corpus_from_ids(ns_w2v_corpus **out, int32_t *ids, int64_t ntok, int64_t *sent,
                           int64_t nsent, const ns_strmap *names, const ns_w2v_corpus_opts *o)
{
    size_t nn = ns_strmap_count(names);
    for (int64_t i = 0; i < ntok; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= nn) {
            int32_t bad = ids[i];
            free(ids);
            free(sent);
            *out = NULL;
            return ns_err_set(NS_EINVAL, "token %lld has id %d outside [0, %zu)", (long long)i, bad, nn);
        }
    return ns__corpus_finish(out, ids, ntok, sent, nsent, names, ntok, o, "ids");
}

/* ---- text ------------------------------------------------------------- */

typedef struct {
    ns_strmap *words;
    int32_t *ids;
    int64_t n, cap;
    int64_t *sent;
    int64_t nsent, sent_cap;
    int rc;
} text_state;

static int on_token(const char *tok, size_t len, size_t off, void *ctx)
{
    (void)off;
    text_state *st = ctx;
    if (st->n == st->cap) {
        int64_t nc = st->cap ? st->cap * 2 : 1 << 16;
        int32_t *p = ns_realloc(st->ids, sizeof *p * (size_t)nc);
        if (!p) return st->rc = NS_ENOMEM;
        st->ids = p;
        st->cap = nc;
    }
    int64_t id = ns_strmap_intern(st->words, tok, len);
    if (id < 0) return st->rc = (int)id;
    if (id > INT32_MAX) return st->rc = ns_err_set(NS_ETOOBIG, "more than 2^31 distinct words");
    st->ids[st->n++] = (int32_t)id;
    return 0;
}

/* sent[] holds sentence boundaries: 0, end of sentence 1, end of 2, ... */
static int sentence_break(text_state *st)
{
    if (st->nsent && st->sent[st->nsent - 1] == st->n) return 0; /* nothing since the last break */
    if (st->nsent + 2 > st->sent_cap) {
        int64_t nc = st->sent_cap ? st->sent_cap * 2 : 1024;
        int64_t *p = ns_realloc(st->sent, sizeof *p * (size_t)nc);
        if (!p) return NS_ENOMEM;
        st->sent = p;
        st->sent_cap = nc;
    }
    st->sent[st->nsent++] = st->n;
    return 0;
}

/* Text or binary? Binary files have NUL bytes, many control characters or
 * mostly invalid UTF-8; Latin-1 text (a few invalid bytes) passes. */
static int tokenize_into(text_state *st, ns_tokenizer *tk, const char *buf, size_t len,
                         const char *name, const ns_w2v_corpus_opts *o, ns_progress *pr)
{
    if (len == 0) return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL, "empty file");
    int rc = ns_utf8_check_text(buf, len, name);
    if (rc < 0) return rc;
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *line;
    size_t ll;
    size_t done = 0;
    while (ns_lines_next(&it, &line, &ll)) {
        int blank = 1;
        for (size_t i = 0; i < ll && blank; i++)
            if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\f' && line[i] != '\v')
                blank = 0;
        if (blank) {
            if ((rc = sentence_break(st)) < 0) return rc;
        } else {
            long r = ns_tokenize(tk, line, ll, on_token, st);
            if (r < 0 || st->rc < 0) return st->rc < 0 ? st->rc : (int)r;
            if (o->sentences == NS_SENT_LINE && (rc = sentence_break(st)) < 0) return rc;
        }
        size_t pos = (size_t)(it.p - buf);
        if (pos - done > (1u << 20)) {
            ns_progress_add(pr, (long long)(pos - done));
            done = pos;
        }
    }
    ns_progress_add(pr, (long long)(len - done));
    return sentence_break(st); /* files never share a sentence */
}

static int from_buffers(ns_w2v_corpus **out, const char *const *bufs, const size_t *lens,
                        const char *const *names, int n, const ns_w2v_corpus_opts *o,
                        const char *const *paths)
{
    *out = NULL;
    ns_w2v_corpus_opts def = ns_w2v_corpus_defaults();
    if (!o) o = &def;
    text_state st;
    memset(&st, 0, sizeof st);
    ns_tokenizer *tk = ns_tokenizer_new(NULL);
    st.words = ns_strmap_new(1 << 16);
    int rc = NS_OK;
    char *owned = NULL;
    ns_progress pr;
    double total = 0;
    for (int i = 0; i < n; i++) total += lens ? (double)lens[i] : 0;
    ns_progress_begin(&pr, "reading", total, "B");
    if (o->quiet_progress) pr.enabled = 0;
    if (!tk || !st.words || (rc = sentence_break(&st)) < 0) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const char *buf = bufs ? bufs[i] : NULL;
        size_t len = lens ? lens[i] : 0;
        if (paths) {
            if ((rc = ns_file_read_all(paths[i], &owned, &len, 0)) < 0) goto done;
            buf = owned;
        }
        rc = tokenize_into(&st, tk, buf, len, names[i], o, &pr);
        free(owned);
        owned = NULL;
        if (rc < 0) goto done;
    }
    ns_progress_end(&pr);
    /* Every file ended with a break, so sent[] = 0, ..., n: nsent - 1 sentences. */
    rc = ns__corpus_finish(out, st.ids, st.n, st.sent, st.nsent - 1, st.words, st.n, o,
                           n == 1 ? names[0] : "input");
    st.ids = NULL;
    st.sent = NULL;
done:
    ns_progress_end(&pr);
    free(owned);
    free(st.ids);
    free(st.sent);
    ns_strmap_free(st.words);
    ns_tokenizer_free(tk);
    return rc;
}

int ns_w2v_corpus_from_files(ns_w2v_corpus **out, const char *const *paths, int npaths,
                             const ns_w2v_corpus_opts *o)
{
    if (npaths <= 0) {
        *out = NULL;
        return ns_err_set(NS_EINVAL, "no input files");
    }
    return from_buffers(out, NULL, NULL, paths, npaths, o, paths);
}

int ns_w2v_corpus_from_text(ns_w2v_corpus **out, const char *text, size_t len, const char *name,
                            const ns_w2v_corpus_opts *o)
{
    const char *bufs[1] = {text};
    const char *names[1] = {name ? name : "text"};
    return from_buffers(out, bufs, &len, names, 1, o, NULL);
}
