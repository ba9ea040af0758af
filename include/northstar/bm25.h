/*
 * northstar/bm25.h — BM25 keyword index (inverted index over the shared
 * tokenizer of tokenizer.h) with field weights, add/delete, save/load and
 * block-max WAND top-k.
 *
 * Scoring. Documents have up to NS_BM25_MAX_FIELDS text fields (default
 * "title" and "body", weight 1 each). With w_f the field weights:
 *   tf(t,d)  = sum_f w_f * (occurrences of t in field f of d)
 *   dl(d)    = sum_f w_f * (tokens in field f of d)
 *   avgdl    = mean of dl over live documents, N = live documents
 *   df(t)    = live documents containing t
 *   idf(t)   = ln(1 + (N - df + 0.5) / (df + 0.5))
 *   score(q,d) = sum over query tokens t (repeats count) of
 *                idf(t) * tf(k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
 * (BM25 of Robertson & Zaragoza; the weighted tf/dl form of BM25F with one
 * b for all fields). Field weights are fixed when the index is created.
 * Tokens come from ns_tokenize with the index's stemmer (default
 * "english"): Unicode folding, CJK bigrams, Snowball stems.
 *
 * Top-k. Posting lists are doc-ordered arrays cut in blocks of 128 with the
 * block's largest tf and smallest dl; search runs WAND (Broder et al. 2003)
 * with block-max bounds (Ding & Suel 2011): a document is scored only when
 * the sum of its terms' block bounds can beat the k-th best score, so long
 * posting lists of common words are mostly skipped. Queries whose lists are
 * short in total (params.wand_min_postings) are scored term-at-a-time
 * instead, which is faster on small collections. Both give the same results
 * as exhaustive scoring, ties included (tests/unit/test_bm25.c checks it).
 *
 * Deletes mark the document (its postings stay in memory and are left out
 * of the next saved file) and
 * update N, df and avgdl at once. Adding an id that exists replaces it.
 *
 * Thread safety: searches run concurrently with each other (a pool of
 * tokenizers and buffers inside); add, delete and save take the index's
 * write lock and wait for running searches.
 *
 * File format (safetensors, see safetensors.h), written atomically. The
 * two lists below ARE the format: bm25_io.c expands them into the schema
 * its loader checks with ns_st_load.
 *   metadata "config": a JSON object {"format": NS_BM25_FORMAT, "version":
 *     NS_BM25_VERSION} plus the keys of NS_BM25_FILE_CONFIG, each row
 *     X(key, kind, REQ | OPT, min, max, meaning);
 *   tensors: the rows of NS_BM25_FILE_TENSORS, X(id, name, dtype, REQ | OPT,
 *     shape in config keys, meaning).
 *   Beyond the tables load checks every term, offset, document number,
 *   frequency, length and id: a bad file is an error naming the tensor or
 *   field.
 *
 * Example
 *   ns_bm25_params p = ns_bm25_defaults();
 *   ns_bm25 *ix; ns_bm25_create(&ix, &p);
 *   const char *f[2] = {"Wing flutter", "experimental study of ..."};
 *   ns_bm25_add(ix, 17, f, NULL);
 *   ns_hit hits[10];
 *   int n = ns_bm25_search(ix, "flutter of wings", -1, 10, NULL, hits);
 */
#ifndef NORTHSTAR_BM25_H
#define NORTHSTAR_BM25_H

#include "northstar/index.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NS_BM25_MAX_FIELDS 8

/* ---- file format (see the comment at the top) --------------------------- */

#define NS_BM25_FORMAT "northstar-bm25"
#define NS_BM25_VERSION 1
#define NS_BM25_FILE_CONFIG(X)                                                                   \
    X(k1, NUM, REQ, 0, 100, "term-frequency saturation")                                         \
    X(b, NUM, REQ, 0, 1, "document-length normalisation")                                        \
    X(stem, STR, REQ, 0, 31, "Snowball language of the tokenizer, \"\" for none")                  \
    X(fields, ARR, REQ, 1, NS_BM25_MAX_FIELDS,                                                   \
      "[{\"name\": 1..31 bytes, \"weight\": (0, 1000]}, ...], names distinct")                    \
    X(docs, INT, REQ, 0, UINT32_MAX - 1, "documents D (live ones only: deletes are compacted)")  \
    X(terms, INT, REQ, 0, UINT32_MAX - 1, "terms T")                                             \
    X(postings, INT, REQ, 0, INT64_MAX / 8, "postings P")
#define NS_BM25_FILE_TENSORS(X)                                                                  \
    X(terms, "terms", U8, REQ, "[*]", "the T terms in id order, each NUL-terminated, distinct") \
    X(post_off, "post_off", I64, REQ, "[terms+1]",                                               \
      "list t is post_docs[post_off[t]..post_off[t+1]); from 0 up to P")                         \
    X(post_docs, "post_docs", I32, REQ, "[postings]", "document numbers, strictly increasing per list") \
    X(post_tf, "post_tf", F32, REQ, "[postings]", "weighted term frequencies (> 0)")             \
    X(doc_ids, "doc_ids", I64, REQ, "[docs]", "caller id of document number i (unique, 0..2^32-1)") \
    X(doc_len, "doc_len", F32, REQ, "[docs]", "weighted length dl (>= 0)")

typedef struct ns_bm25_params {
    float k1;                                   /* default 1.2 */
    float b;                                    /* default 0.75 */
    int nfields;                                /* default 2 */
    char field_names[NS_BM25_MAX_FIELDS][32];   /* default "title", "body" */
    float field_weights[NS_BM25_MAX_FIELDS];    /* > 0; default 1, 1 */
    char stem[32];                              /* Snowball language or "" for none; default "english" */
    int wand_min_postings;                      /* queries whose lists hold fewer postings in all are
                                                   scored exhaustively (faster there); default 50000,
                                                   0 = always WAND. Not saved. */
} ns_bm25_params;

typedef struct ns_bm25 ns_bm25;

typedef struct ns_bm25_stats {
    size_t docs;        /* live documents */
    size_t deleted;     /* deleted documents whose postings remain until save */
    size_t terms;       /* distinct terms */
    size_t postings;    /* postings stored */
    double avgdl;       /* mean weighted length */
    size_t bytes;       /* memory held */
} ns_bm25_stats;

ns_bm25_params ns_bm25_defaults(void);
int ns_bm25_create(ns_bm25 **out, const ns_bm25_params *p);
void ns_bm25_free(ns_bm25 *ix);
const ns_bm25_params *ns_bm25_get_params(const ns_bm25 *ix);
/* Add (or replace) document id. fields[i] is the text of field i (NULL =
 * empty); lens[i] its length in bytes, or lens == NULL for NUL-terminated. */
int ns_bm25_add(ns_bm25 *ix, uint32_t id, const char *const *fields, const size_t *lens);
/* NS_ENOTFOUND if id is absent. */
int ns_bm25_delete(ns_bm25 *ix, uint32_t id);

/* Top-k documents for the query text (len < 0: NUL-terminated), best first;
 * score = BM25. Returns the number of hits (0 when no query term is
 * indexed) or a negative NS_E* code. */
int ns_bm25_search(const ns_bm25 *ix, const char *query, long len, int k, const ns_filter *f, ns_hit *out);
/* Same, scoring every document that has a query term (no skipping): the
 * reference the WAND search is tested against. */
int ns_bm25_search_exhaustive(const ns_bm25 *ix, const char *query, long len, int k, const ns_filter *f,
                              ns_hit *out);

void ns_bm25_get_stats(const ns_bm25 *ix, ns_bm25_stats *st);
/* Written atomically (temp + rename). Load checks the file against the
 * tables above (every float finite) and the lists; the loaded index is a
 * copy that no longer depends on the file (it may be rewritten or
 * truncated meanwhile). Errors name the file and the tensor. */
int ns_bm25_save(ns_bm25 *ix, const char *path);
int ns_bm25_load(ns_bm25 **out, const char *path);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_BM25_H */
