/*
 * northstar/w2v.h — layer 3 learners: word2vec (skip-gram, CBOW) over a
 * corpus of token ids, the trainer DeepWalk and node2vec share (their walks
 * come from graph.h; the vectors go to vec.h's tables).
 *
 *   ns_w2v_corpus   token ids in memory with sentence boundaries and the
 *                   frequency-sorted vocabulary (id 0 = most frequent word).
 *                   Built from UTF-8 text through the shared tokenizer
 *                   (tokenizer.h) or from any id stream (random walks).
 *   ns_w2v_train    skip-gram or CBOW with negative sampling (unigram^0.75 by default,
 *                   alias table) and/or hierarchical softmax (Huffman tree),
 *                   sub-sampling, random window shrink, linear learning-rate
 *                   decay, Hogwild threads. Skip-gram with negative sampling
 *                   batches each window: the 2b context rows meet the centre
 *                   word and its negatives (shared by the window) as small
 *                   dense products (Ji et al. 2016, "Parallelizing Word2Vec
 *                   in Shared and Distributed Memory"); opts.classic selects
 *                   the one-pair-at-a-time loop of word2vec.c as reference.
 *
 * Reproducibility: with threads = 1 and a seed, training is deterministic
 * (bit-identical vectors). With more threads updates race (Hogwild, as in
 * word2vec.c and gensim) and results vary slightly from run to run.
 *
 * Example
 *   ns_w2v_corpus *c;
 *   const char *files[] = {"corpus.txt"};
 *   ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
 *   if (ns_w2v_corpus_from_files(&c, files, 1, &co) < 0) die(ns_err_msg());
 *   ns_w2v_opts o = ns_w2v_defaults();
 *   ns_w2v_model *m;
 *   ns_w2v_train(&m, c, &o, NULL);
 *   ns_vectors *v = ns_w2v_vectors(m, c, NULL);
 *   ns_vec_write(v, "vectors.bin", 1);
 */
#ifndef NORTHSTAR_W2V_H
#define NORTHSTAR_W2V_H

#include "northstar/base.h"
#include "northstar/vec.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===================================================================== */
/* Corpus and vocabulary                                                  */
/* ===================================================================== */

typedef enum {
    NS_SENT_LINE = 0,      /* every line is a sentence (word2vec.c, gensim LineSentence) */
    NS_SENT_PARAGRAPH = 1  /* blank lines separate sentences (raw books) */
} ns_sent_mode;

typedef struct ns_w2v_corpus_opts {
    int64_t min_count;     /* drop words seen fewer times (5) */
    int64_t max_vocab;     /* keep at most this many words, most frequent first (0 = all) */
    ns_sent_mode sentences;/* NS_SENT_LINE */
    int max_sentence;      /* cut longer sentences into pieces (10000 tokens) */
    int quiet_progress;    /* 1: no progress line while reading */
} ns_w2v_corpus_opts;

typedef struct ns_w2v_corpus {
    ns_strmap *words;      /* id -> word; ids sorted by count, descending */
    int64_t *count;        /* [nwords] occurrences in the input */
    int32_t nwords;
    int32_t *tok;          /* [ntok] ids of the kept tokens, sentence after sentence */
    int64_t ntok;
    int64_t *sent;         /* [nsent + 1] start of each sentence in tok; sent[nsent] = ntok */
    int64_t nsent;
    int64_t tokens_read;   /* tokens in the input, including the dropped rare ones */
} ns_w2v_corpus;

ns_w2v_corpus_opts ns_w2v_corpus_defaults(void);
/* Read and tokenize UTF-8 text files (shared tokenizer, tokenizer.h) into a
 * corpus. Errors name the file: unreadable, empty, binary (NUL bytes or
 * mostly invalid UTF-8), or no word reaching min_count. */
int ns_w2v_corpus_from_files(ns_w2v_corpus **out, const char *const *paths, int npaths,
                             const ns_w2v_corpus_opts *o);
/* Same from a buffer (tests, in-memory text); `name` is used in errors. */
int ns_w2v_corpus_from_text(ns_w2v_corpus **out, const char *text, size_t len, const char *name,
                            const ns_w2v_corpus_opts *o);
/* Build a corpus from a stream of ids 0..nnames-1 (e.g. graph nodes) whose
 * names are keys of `names`. Takes ownership of ids[ntok] and
 * sent[nsent + 1] (malloc'd), remapping them in place; `names` is only read. */
int ns_w2v_corpus_from_ids(ns_w2v_corpus **out, int32_t *ids, int64_t ntok, int64_t *sent,
                           int64_t nsent, const ns_strmap *names, const ns_w2v_corpus_opts *o);
void ns_w2v_corpus_free(ns_w2v_corpus *c);

/* ===================================================================== */
/* Training                                                               */
/* ===================================================================== */

typedef struct ns_w2v_opts {
    int sg;            /* 1 skip-gram (default), 0 CBOW */
    int dim;           /* vector size (100) */
    int window;        /* maximum window (5); each position draws 1..window */
    int negative;      /* negative samples per positive (5); 0 = none */
    double ns_exponent; /* negatives drawn in proportion to count^ns_exponent (0.75,
                        * word2vec.c's; 0 = uniform, 1 = by frequency) */
    int hs;            /* 1 = hierarchical softmax (0) */
    double sample;     /* sub-sampling threshold (1e-3); 0 = keep every word */
    double alpha;      /* starting learning rate; 0 = default (0.05 for both
                        * models: see docs/BENCHMARKS.md, "learning rate") */
    double min_alpha;  /* final learning rate; < 0 = alpha * 1e-4 */
    int epochs;        /* passes over the corpus (5) */
    int threads;       /* 0 = ns_threads() */
    uint64_t seed;     /* 1 */
    int cbow_mean;     /* CBOW: 1 average the context vectors, 0 sum them (1) */
    int classic;       /* 1 = one (centre, context) pair at a time, as word2vec.c */
    int vectors;       /* which vectors the model gives out: NS_W2V_VEC_IN (0, the
                        * input vectors, as word2vec.c) or NS_W2V_VEC_SUM (input +
                        * negative-sampling output vectors, "w + c" in Levy,
                        * Goldberg & Dagan 2015; needs negative > 0) */
    const char *label; /* progress line label ("word2vec") */
} ns_w2v_opts;

enum { NS_W2V_VEC_IN = 0, NS_W2V_VEC_SUM = 1 };

ns_w2v_opts ns_w2v_defaults(void);

typedef struct ns_w2v_stats {
    double seconds;        /* wall time of the training loop alone */
    int64_t words;         /* corpus tokens processed (ntok * epochs) */
    double words_per_sec;  /* words / seconds */
    double final_alpha;
} ns_w2v_stats;

typedef struct ns_w2v_model ns_w2v_model;

/* Train on a corpus (which must outlive nothing: the model copies what it
 * needs). stats may be NULL. Shows a progress line (words/s, ETA) unless
 * quiet. */
int ns_w2v_train(ns_w2v_model **out, const ns_w2v_corpus *c, const ns_w2v_opts *o,
                 ns_w2v_stats *stats);
void ns_w2v_model_free(ns_w2v_model *m);
int ns_w2v_model_dim(const ns_w2v_model *m);
/* Input vector of word id (dim floats, row of the model; do not free). */
const float *ns_w2v_model_row(const ns_w2v_model *m, int32_t id);

/* The trained input vectors, one row per vocabulary word, in vocabulary
 * order. keep (may be NULL) selects the words to copy (keep[id] != 0). */
ns_vectors *ns_w2v_vectors(const ns_w2v_model *m, const ns_w2v_corpus *c, const uint8_t *keep);
#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_W2V_H */
