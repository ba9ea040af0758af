/*
 * northstar/vec.h — layer 3 learners: word -> vector tables, as word2vec,
 * DeepWalk and item2vec produce them: written and read in the word2vec text
 * and binary formats (gensim's load_word2vec_format and fastText's .vec read
 * and write the same), queried (cosine neighbours, 3CosAdd analogies) and
 * evaluated (WordSim-353 / SimLex-999 Spearman, questions-words).
 */
#ifndef NORTHSTAR_VEC_H
#define NORTHSTAR_VEC_H

#include "northstar/base.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Vector tables and their files                                          */
/* ===================================================================== */

/*
 * word2vec text format:   "<n> <dim>\n" then n lines "<word> <v1> ... <vdim>\n"
 *                         (fastText's .vec is the same, with a trailing space).
 * word2vec binary format: "<n> <dim>\n" then n records "<word> " followed by
 *                         dim little-endian IEEE-754 float32 and "\n".
 * Words are UTF-8 without spaces or newlines. Rows are written in table
 * order; tables made by training are sorted by frequency, so "the 30k most
 * frequent words" are the first 30k rows.
 */
typedef struct ns_vectors {
    int64_t n;         /* rows */
    int dim;
    float *v;          /* [n, dim] */
    ns_strmap *words;  /* row i's word is key i */
    float *unit;       /* [n, dim] rows scaled to unit length (made on first query) */
} ns_vectors;

void ns_vec_free(ns_vectors *v);
/* Keep only the rows whose word starts with prefix, and drop the prefix
 * from their names ("i:42" -> "42"). */
int ns_vec_strip_prefix(ns_vectors *v, const char *prefix);
/* Write atomically, text (binary = 0) or binary (binary = 1). */
int ns_vec_write(const ns_vectors *v, const char *path, int binary);
/* Read either format (detected from the content) into memory of its own
 * (the file may change afterwards). Errors name the file and line / record:
 * bad header, truncated record, wrong number of values, non-numeric or
 * non-finite value, duplicate word. */
int ns_vec_read(ns_vectors **out, const char *path);
int ns_vec_read_memory(ns_vectors **out, const char *data, size_t len, const char *name);

/* Row of a word, or -1. ns_vec_lookup also tries the tokenizer's
 * normalisation (case folding) when the exact word is absent. */
int64_t ns_vec_find(const ns_vectors *v, const char *word);
int64_t ns_vec_lookup(const ns_vectors *v, const char *word);
/* Make v->unit (idempotent). */
int ns_vec_normalize(ns_vectors *v);
/* The k rows with the highest cosine to q[dim] among the first `limit` rows
 * (0 = all), skipping rows in exclude[nexclude]. Returns how many were
 * found (<= k), sorted by decreasing similarity. */
int ns_vec_nearest(ns_vectors *v, const float *q, int64_t limit, const int64_t *exclude,
                   int nexclude, int k, int64_t *idx, float *sim);
/* 3CosAdd: b - a + c on unit vectors ("a is to b as c is to ?"). Unknown
 * words are NS_ENOTFOUND naming the word. */
int ns_vec_analogy(ns_vectors *v, const char *a, const char *b, const char *c, int k,
                   int64_t *idx, float *sim);

typedef struct ns_wordsim_result {
    double spearman;   /* over the pairs found */
    int pairs;         /* pairs in the file */
    int found;         /* pairs with both words in the table */
} ns_wordsim_result;
/* Word-pair similarity file: WordSim-353 (combined.csv / .tab: word1, word2,
 * score) or SimLex-999 (tab-separated with a header naming a "SimLex999"
 * column). Spearman between human scores and cosines, ties ranked by their
 * average, pairs with an unknown word left out (as gensim does). */
int ns_vec_eval_wordsim(ns_vectors *v, const char *path, ns_wordsim_result *r);

typedef struct ns_analogy_result {
    int questions;     /* questions in the file */
    int covered;       /* questions whose four words are in the first `restrict` rows */
    int correct;       /* covered questions answered right (top-1, question words excluded) */
    int sem_covered, sem_correct; /* the first five sections (semantic) */
    double accuracy;   /* correct / covered */
} ns_analogy_result;
/* questions-words.txt: ": section" headers, then "A B C D" lines. */
int ns_vec_eval_analogy(ns_vectors *v, const char *path, int64_t restrict_rows,
                        ns_analogy_result *r);

/* Spearman rank correlation (average ranks for ties); NaN when n < 2 or a
 * side is constant. */
double ns_spearman(const double *x, const double *y, int n);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_VEC_H */
