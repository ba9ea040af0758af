/*
 * northstar/tokenizer.h — layer 2: the shared word tokenizer.
 *
 * One tokenizer serves word2vec, BM25 and the knowledge base, so a word is
 * the same word everywhere:
 *   - input is UTF-8; invalid bytes are treated as separators (never a crash);
 *   - a token is a run of letters, digits and combining marks; an apostrophe
 *     (' or U+2019) between two letters stays inside ("don't"), leading and
 *     trailing ones are dropped;
 *   - case is folded (Unicode case folding, utf8proc) and, with fold_accents,
 *     accents are stripped after compatibility decomposition ("Café" -> "cafe");
 *   - Han, Hiragana, Katakana and Hangul characters form runs that are
 *     emitted as overlapping character bigrams (a single character alone),
 *     the usual way to index CJK text without a dictionary;
 *   - optional Snowball stemming (libstemmer, e.g. "english") of alphabetic
 *     tokens; numbers are never stemmed.
 * A tokenizer holds a stemmer and buffers: use one per thread.
 *
 * Example
 *   ns_tokenizer *tk = ns_tokenizer_new(NULL);              // defaults
 *   ns_tokenize(tk, text, len, on_token, ctx);              // on_token(tok, n, offset, ctx)
 *   ns_tokenizer_free(tk);
 */
#ifndef NORTHSTAR_TOKENIZER_H
#define NORTHSTAR_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_tokenizer_opts {
    int lowercase;        /* Unicode case folding (default 1) */
    int fold_accents;     /* strip marks after NFKD (default 1) */
    int cjk_bigrams;      /* CJK runs as bigrams (1, default) or single characters (0) */
    const char *stem;     /* Snowball language ("english", ...) or NULL (default NULL) */
    int min_len;          /* drop tokens shorter than this many bytes (default 1) */
    int max_len;          /* cut tokens at this many bytes (default 64, at most 255) */
} ns_tokenizer_opts;

typedef struct ns_tokenizer ns_tokenizer;

ns_tokenizer_opts ns_tokenizer_defaults(void);
/* NULL opts = defaults. Returns NULL with NS_EINVAL recorded for an unknown
 * stemmer language. */
ns_tokenizer *ns_tokenizer_new(const ns_tokenizer_opts *opts);
void ns_tokenizer_free(ns_tokenizer *tk);

/* Called for each token: the normalised token (NUL-terminated, valid until
 * the next call), its length in bytes, and the byte offset of its start in
 * the input. Return nonzero to stop. */
typedef int (*ns_token_fn)(const char *tok, size_t len, size_t offset, void *ctx);
/* Tokenize text[0..len). Returns the number of tokens emitted, or the
 * callback's nonzero value if it stopped early (as a negative number when
 * the callback returned a negative code). */
long ns_tokenize(ns_tokenizer *tk, const char *text, size_t len, ns_token_fn fn, void *ctx);


#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_TOKENIZER_H */
