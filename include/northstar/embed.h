/*
 * northstar/embed.h — layer 3: word2vec (skip-gram, CBOW) and graph
 * embeddings (DeepWalk, node2vec) with one trainer, plus the vector files
 * they produce and the queries and evaluations run on them.
 *
 * Pieces, in the order data flows through them:
 *   ns_w2v_corpus   token ids in memory with sentence boundaries and the
 *                   frequency-sorted vocabulary (id 0 = most frequent word).
 *                   Built from UTF-8 text through the shared tokenizer
 *                   (text.h) or from any id stream (random walks).
 *   ns_w2v_train    skip-gram or CBOW with negative sampling (unigram^0.75 by default,
 *                   alias table) and/or hierarchical softmax (Huffman tree),
 *                   sub-sampling, random window shrink, linear learning-rate
 *                   decay, Hogwild threads. Skip-gram with negative sampling
 *                   batches each window: the 2b context rows meet the centre
 *                   word and its negatives (shared by the window) as small
 *                   dense products (Ji et al. 2016, "Parallelizing Word2Vec
 *                   in Shared and Distributed Memory"); opts.classic selects
 *                   the one-pair-at-a-time loop of word2vec.c as reference.
 *   ns_vectors      a word -> vector table: written and read in the word2vec
 *                   text and binary formats (gensim's load_word2vec_format
 *                   and fastText's .vec read and write the same), queried
 *                   (cosine neighbours, 3CosAdd analogies) and evaluated
 *                   (WordSim-353 / SimLex-999 Spearman, questions-words).
 *   ns_graph        edge lists, adjacency lists and user-item interaction
 *                   logs as a CSR graph with per-node alias tables; DeepWalk
 *                   and node2vec (p, q by rejection sampling) walks go
 *                   straight into a corpus, no temporary file.
 *
 * Reproducibility: with threads = 1 and a seed, training is deterministic
 * (bit-identical vectors). With more threads updates race (Hogwild, as in
 * word2vec.c and gensim) and results vary slightly from run to run. Walks
 * are deterministic for a seed whatever the thread count (walk i draws from
 * RNG stream i).
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
#ifndef NORTHSTAR_EMBED_H
#define NORTHSTAR_EMBED_H

#include "northstar/base.h"

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
/* Read and tokenize UTF-8 text files (shared tokenizer, text.h) into a
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

/* The trained input vectors, one row per vocabulary word, in vocabulary
 * order. keep (may be NULL) selects the words to copy (keep[id] != 0). */
ns_vectors *ns_w2v_vectors(const ns_w2v_model *m, const ns_w2v_corpus *c, const uint8_t *keep);
void ns_vec_free(ns_vectors *v);
/* Keep only the rows whose word starts with prefix, and drop the prefix
 * from their names ("i:42" -> "42"). */
int ns_vec_strip_prefix(ns_vectors *v, const char *prefix);
/* Write atomically, text (binary = 0) or binary (binary = 1). */
int ns_vec_write(const ns_vectors *v, const char *path, int binary);
/* Read either format (detected from the content). Errors name the file and
 * line / record: bad header, truncated record, wrong number of values,
 * non-numeric value, duplicate word. */
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

/* ===================================================================== */
/* Graphs and random walks                                                */
/* ===================================================================== */

typedef enum {
    NS_GRAPH_EDGES = 0,        /* "src dst [weight]" */
    NS_GRAPH_ADJLIST = 1,      /* "node nbr nbr ..." */
    NS_GRAPH_INTERACTIONS = 2  /* "user item [weight] [timestamp]": bipartite */
} ns_graph_format;

/* Node names: as in the file for edges and adjacency lists; "u:<user>" and
 * "i:<item>" for interaction logs (users and items are different nodes even
 * when their ids coincide). Columns are separated by spaces, tabs or commas;
 * '#' starts a comment line. Duplicate edges are merged: weights summed for
 * interaction logs (repeated events strengthen a tie), the largest kept for
 * edge and adjacency lists. */
typedef struct ns_graph {
    int32_t n;             /* nodes */
    int64_t nnz;           /* directed arcs (an undirected edge counts twice) */
    int64_t *off;          /* [n + 1] CSR row starts */
    int32_t *adj;          /* [nnz] neighbours, sorted within each row */
    float *w;              /* [nnz] weights, or NULL when all are 1 */
    ns_strmap *names;      /* node id -> name */
    uint8_t *is_item;      /* [n] interaction logs: 1 item, 0 user; else NULL */
    uint32_t *alias_thr;   /* [nnz] per-row alias tables (NULL when unweighted): */
    int32_t *alias_j;      /* [nnz]   column thresholds and aliases, row-local */
    int64_t events;        /* interaction lines read */
} ns_graph;

typedef struct ns_graph_opts {
    ns_graph_format format;
    int directed;          /* 0: every edge also goes back (default) */
} ns_graph_opts;

int ns_graph_load(ns_graph **out, const char *path, const ns_graph_opts *o);
int ns_graph_load_memory(ns_graph **out, const char *data, size_t len, const char *name,
                         const ns_graph_opts *o);
void ns_graph_free(ns_graph *g);

typedef struct ns_walk_opts {
    int walks_per_node;    /* 10 */
    int length;            /* 40 nodes per walk */
    double p, q;           /* node2vec return / in-out parameters (1, 1 = DeepWalk) */
    uint64_t seed;         /* 1 */
    int threads;           /* 0 = ns_threads() */
    int items_only_starts; /* interaction graphs: start walks at items only */
} ns_walk_opts;

ns_walk_opts ns_walk_defaults(void);
/* Generate walks_per_node rounds of walks (each round visits the nodes in a
 * fresh random order) straight into a corpus whose words are node names.
 * Walks stop early at nodes without out-edges. */
int ns_graph_walks(ns_w2v_corpus **out, const ns_graph *g, const ns_walk_opts *o,
                   const ns_w2v_corpus_opts *co);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_EMBED_H */
