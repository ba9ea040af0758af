/*
 * tokenizer.c — the shared word tokenizer (rules in tokenizer.h).
 *
 * Workload: bulk indexing and embedding training read hundreds of MB of
 * mostly-ASCII text, so ASCII bytes take a table-driven fast path; other
 * code points go through utf8proc (category, case folding, decomposition).
 */
#include "northstar/tokenizer.h"
#include "northstar/base.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define TOK_CAP 256

struct ns_tokenizer {
    ns_tokenizer_opts o;
    struct sb_stemmer *stemmer;
    char tok[TOK_CAP + 8];  /* current token, normalised UTF-8 */
    size_t tlen;
    size_t tstart;          /* byte offset of the current token */
    int talpha;             /* token has a letter (so it may be stemmed) */
    int pending_apos;       /* an apostrophe seen after a letter */
    /* CJK run: code points and their byte offsets */
    int32_t cjk[TOK_CAP];
    size_t cjk_off[TOK_CAP];
    int ncjk;
    char out[TOK_CAP * 2 + 8];
};

/* ASCII class table: 1 letter, 2 digit, 3 apostrophe, 0 separator. */
static unsigned char ascii_class[128];
static pthread_once_t ascii_once = PTHREAD_ONCE_INIT;

static void init_ascii(void)
{
    for (int c = 0; c < 128; c++) {
        unsigned char k = 0;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) k = 1;
        else if (c >= '0' && c <= '9') k = 2;
        else if (c == '\'') k = 3;
        ascii_class[c] = k;
    }
}

ns_tokenizer_opts ns_tokenizer_defaults(void)
{
    ns_tokenizer_opts o = {1, 1, 1, NULL, 1, 64};
    return o;
}

ns_tokenizer *ns_tokenizer_new(const ns_tokenizer_opts *opts)
{
    pthread_once(&ascii_once, init_ascii);
    ns_tokenizer *tk = ns_calloc(1, sizeof *tk);
    if (!tk) return NULL;
    tk->o = opts ? *opts : ns_tokenizer_defaults();
    if (tk->o.max_len <= 0 || tk->o.max_len > TOK_CAP - 1) tk->o.max_len = opts && opts->max_len > 0 ? TOK_CAP - 1 : 64;
    if (tk->o.min_len < 1) tk->o.min_len = 1;
    if (tk->o.stem && *tk->o.stem) {
        tk->stemmer = sb_stemmer_new(tk->o.stem, "UTF_8");
        if (!tk->stemmer) {
            ns_err_set_at(NS_EINVAL, NULL, 0, "stemmer", tk->o.stem, "unknown Snowball stemmer language");
            free(tk);
            return NULL;
        }
    }
    return tk;
}

void ns_tokenizer_free(ns_tokenizer *tk)
{
    if (!tk) return;
    if (tk->stemmer) sb_stemmer_delete(tk->stemmer);
    free(tk);
}

static int is_cjk(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2FA1F) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x3040 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) ||
           (c >= 0xAC00 && c <= 0xD7AF) || (c >= 0x1100 && c <= 0x11FF) || (c >= 0x3130 && c <= 0x318F) ||
           (c >= 0xFF66 && c <= 0xFF9F);
}

typedef struct {
    ns_token_fn fn;
    void *ctx;
    long count;
    long stop; /* nonzero: callback's result */
} emit_state;

static void emit(ns_tokenizer *tk, emit_state *st, const char *s, size_t n, size_t off)
{
    if (st->stop || n < (size_t)tk->o.min_len) return;
    memcpy(tk->out, s, n);
    tk->out[n] = 0;
    int r = st->fn(tk->out, n, off, st->ctx);
    st->count++;
    if (r) st->stop = r;
}

static void flush_word(ns_tokenizer *tk, emit_state *st)
{
    if (!tk->tlen) return;
    const char *s = tk->tok;
    size_t n = tk->tlen;
    if (tk->stemmer && tk->talpha) {
        const sb_symbol *r = sb_stemmer_stem(tk->stemmer, (const sb_symbol *)s, (int)n);
        if (r) {
            s = (const char *)r;
            n = (size_t)sb_stemmer_length(tk->stemmer);
        }
    }
    emit(tk, st, s, n, tk->tstart);
    tk->tlen = 0;
    tk->talpha = 0;
    tk->pending_apos = 0;
}

static void flush_cjk(ns_tokenizer *tk, emit_state *st)
{
    int n = tk->ncjk;
    if (!n) return;
    char buf[16];
    if (n == 1 || !tk->o.cjk_bigrams) {
        for (int i = 0; i < n; i++) {
            utf8proc_ssize_t k = utf8proc_encode_char(tk->cjk[i], (utf8proc_uint8_t *)buf);
            emit(tk, st, buf, (size_t)k, tk->cjk_off[i]);
        }
    } else {
        for (int i = 0; i + 1 < n; i++) {
            utf8proc_ssize_t a = utf8proc_encode_char(tk->cjk[i], (utf8proc_uint8_t *)buf);
            utf8proc_ssize_t b = utf8proc_encode_char(tk->cjk[i + 1], (utf8proc_uint8_t *)buf + a);
            emit(tk, st, buf, (size_t)(a + b), tk->cjk_off[i]);
        }
    }
    tk->ncjk = 0;
}

static void push_bytes(ns_tokenizer *tk, const char *b, size_t n, size_t off)
{
    if (tk->tlen == 0) tk->tstart = off;
    if (tk->pending_apos) {
        if (tk->tlen + 1 <= (size_t)tk->o.max_len) tk->tok[tk->tlen++] = '\'';
        tk->pending_apos = 0;
    }
    if (tk->tlen + n <= (size_t)tk->o.max_len) {
        memcpy(tk->tok + tk->tlen, b, n);
        tk->tlen += n;
    }
}

static void push_cp(ns_tokenizer *tk, int32_t c, size_t off)
{
    char buf[8];
    utf8proc_ssize_t k = utf8proc_encode_char(c, (utf8proc_uint8_t *)buf);
    if (k > 0) push_bytes(tk, buf, (size_t)k, off);
}

long ns_tokenize(ns_tokenizer *tk, const char *text, size_t len, ns_token_fn fn, void *ctx)
{
    emit_state st = {fn, ctx, 0, 0};
    const unsigned char *p = (const unsigned char *)text;
    size_t i = 0;
    tk->tlen = 0;
    tk->ncjk = 0;
    tk->talpha = 0;
    tk->pending_apos = 0;
    while (i < len && !st.stop) {
        unsigned char c = p[i];
        if (c < 128) {
            unsigned char k = ascii_class[c];
            if (k == 1 || k == 2) {
                if (tk->ncjk) flush_cjk(tk, &st);
                char ch = (char)((tk->o.lowercase && c >= 'A' && c <= 'Z') ? c + 32 : c);
                if (k == 1) tk->talpha = 1;
                push_bytes(tk, &ch, 1, i);
            } else if (k == 3 && tk->tlen && tk->talpha && !tk->pending_apos) {
                tk->pending_apos = 1; /* kept only if a letter follows */
            } else {
                flush_word(tk, &st);
                flush_cjk(tk, &st);
            }
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) { /* invalid byte: a separator */
            flush_word(tk, &st);
            flush_cjk(tk, &st);
            i++;
            continue;
        }
        size_t off = i;
        i += (size_t)n;
        if (cp == 0x2019 || cp == 0x02BC) { /* typographic apostrophes */
            if (tk->tlen && tk->talpha && !tk->pending_apos) tk->pending_apos = 1;
            else { flush_word(tk, &st); flush_cjk(tk, &st); }
            continue;
        }
        if (is_cjk(cp)) {
            flush_word(tk, &st);
            if (tk->ncjk == TOK_CAP) flush_cjk(tk, &st);
            tk->cjk[tk->ncjk] = cp;
            tk->cjk_off[tk->ncjk] = off;
            tk->ncjk++;
            continue;
        }
        utf8proc_category_t cat = utf8proc_category(cp);
        int letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
        int mark = cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
        int digit = cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
        if (!letter && !digit && !(mark && tk->tlen)) {
            flush_word(tk, &st);
            flush_cjk(tk, &st);
            continue;
        }
        if (tk->ncjk) flush_cjk(tk, &st);
        if (letter) tk->talpha = 1;
        if (tk->o.fold_accents || tk->o.lowercase) {
            utf8proc_int32_t dst[16];
            int last = 0;
            int opt = UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE;
            if (tk->o.lowercase) opt |= UTF8PROC_CASEFOLD;
            if (tk->o.fold_accents) opt |= UTF8PROC_STRIPMARK;
            utf8proc_ssize_t m = utf8proc_decompose_char(cp, dst, 16, (utf8proc_option_t)opt, &last);
            if (m < 0 || m > 16) {
                push_cp(tk, cp, off);
            } else if (!tk->o.fold_accents) {
                /* Case folding alone: keep the composed form. */
                push_cp(tk, tk->o.lowercase ? utf8proc_tolower(cp) : cp, off);
            } else {
                for (utf8proc_ssize_t k = 0; k < m; k++) push_cp(tk, dst[k], off);
            }
        } else {
            push_cp(tk, cp, off);
        }
    }
    if (!st.stop) {
        flush_word(tk, &st);
        flush_cjk(tk, &st);
    }
    if (st.stop) return st.stop < 0 ? st.stop : st.count;
    return st.count;
}
