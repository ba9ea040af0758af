/*
 * bm25_int.h — internals shared by bm25.c and bm25_io.c (not public).
 */
#ifndef NS_BM25_INT_H
#define NS_BM25_INT_H

#include "index_int.h"
#include "northstar/bm25.h"
#include "northstar/tokenizer.h"

#define NS__BM25_BLOCK 128
#define NS__BM25_GONE UINT64_MAX /* map value of a deleted id */

typedef struct ns__plist {
    uint32_t *doc;       /* [n] document numbers, increasing */
    float *tf;           /* [n] weighted term frequency */
    uint32_t n, cap;
    uint32_t df;         /* live documents in the list */
    float max_tf, min_dl;/* list-wide bounds (over all postings) */
    uint32_t *blast;     /* [nb] last document number of each block */
    float *bmax_tf;      /* [nb] largest tf in the block */
    float *bmin_dl;      /* [nb] smallest dl in the block */
    uint32_t nb, bcap;
} ns__plist;

typedef struct { uint32_t term, qtf; } ns__bm25_qterm;

typedef struct {
    const ns__plist *l;
    uint32_t pos, blk, doc; /* doc = l->doc[pos] or UINT32_MAX at the end */
    uint32_t order;         /* index of the query term */
    float w;                /* qtf * idf * (k1 + 1) */
    float ub;               /* list-wide score bound */
} ns__bm25_cursor;

typedef struct ns__bm25_scratch {
    ns_tokenizer *tk;
    ns__bm25_qterm *qt;
    size_t nqt, qt_cap;
    ns__bm25_cursor *cur;
    size_t cur_cap;
    int *ord;
    size_t ord_cap;
    ns__cand *heap;
    size_t heap_cap;
    float *contrib;
    size_t contrib_cap;
    float *acc;               /* [acc_cap] term-at-a-time accumulators, zero between queries */
    size_t acc_cap, acc_zeroed;
    uint32_t *seen;           /* documents touched by the current query */
    size_t seen_cap;
    float avgdl;
} ns__bm25_scratch;

struct ns_bm25 {
    ns_bm25_params p;
    ns_strmap *terms;         /* term -> term id */
    ns__plist *pl;            /* [npl] posting lists by term id */
    size_t npl, pl_cap;
    uint32_t *ext;            /* [ndocs] caller id by document number */
    float *dl;                /* [ndocs] weighted length */
    uint8_t *del;             /* [ndocs] 1 = deleted */
    uint64_t *fwd_off;        /* [ndocs + 1] into fwd */
    uint32_t *fwd;            /* term ids of each document */
    size_t nfwd, fwd_cap;
    uint32_t ndocs;
    size_t docs_cap;
    ns_u64map map;            /* caller id -> document number (NS__BM25_GONE) */
    size_t live, ndel;
    double total_dl;          /* sum of dl over live documents */
    pthread_rwlock_t rw;
    ns_tokenizer *tk_add;     /* add scratch (write lock held) */
    float *acc;               /* [npl] tf accumulators, zero between adds */
    size_t acc_cap;
    uint32_t *touched;
    size_t ntouched, touched_cap;
    pthread_mutex_t pool_mu;
    ns__bm25_scratch **pool;
    int npool;
    size_t pool_cap;
};

int ns__bm25_check_params(const ns_bm25_params *p);
int ns__bm25_append_posting(ns__plist *l, uint32_t doc, float tf, float dl);
void ns__bm25_delete_docno(ns_bm25 *ix, uint32_t d);
float ns__bm25_idf(size_t N, size_t df);

#endif
