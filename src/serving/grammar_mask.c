/*
 * grammar_mask.c — masks logits with a grammar state (ns_grammar_mask).
 *
 * The tokenizer's pieces are put in a trie once (a byte per edge; the
 * tokens of a subtree are one contiguous run of ids sorted by piece, so a
 * whole subtree is marked with one loop). A step walks the trie depth
 * first carrying a copy of the parser state per level: a byte the parser
 * refuses prunes its subtree, a node reached marks the tokens ending
 * there. Inside a string, a subtree whose every path is plain string text
 * (valid UTF-8 from the string's current UTF-8 state, no quote, backslash
 * or control byte; known per node for the 8 UTF-8 states) is allowed whole
 * without walking it, when the string has room for its longest piece —
 * that is where most of a vocabulary lives.
 *
 * Tries are cached for a few tokenizers (at most 4), recognised by their
 * address, size, where their pieces are stored and a hash of a sample of
 * them (so a tokenizer freed and another allocated at its address is not
 * mistaken for it), shared by all grammars and threads under a mutex with
 * reference counts.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "grammar_int.h"

typedef struct tnode {
    int32_t first;     /* children: nodes[first .. first + nchild) */
    uint16_t nchild;
    uint8_t byte;      /* the edge into this node */
    uint8_t safe;      /* bit q: every path below is string text from UTF-8 state q (utf8_next) */
    uint16_t below;    /* longest path below, in bytes (capped) */
    int32_t lo, own, hi; /* ids[lo..own) end here; ids[lo..hi) end in the subtree */
} tnode;

typedef struct trie {
    const ns_bpe *tok;
    int n;             /* the tokenizer's vocabulary size */
    uint64_t hash;
    int refs, cached;
    tnode *nodes;
    int nn, cap;
    int32_t *ids;
    int nids;
    int depth;         /* longest piece */
} trie;

typedef struct pent {
    const char *p;
    uint32_t len;
    int32_t id;
} pent;

static int pent_cmp(const void *a, const void *b)
{
    const pent *x = a, *y = b;
    uint32_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, m);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The UTF-8 states of a string body: 0 at a character boundary; 1 one
 * continuation byte to come; 2, 3 (after E0), 4 (after ED) two to come; 5, 6
 * (after F0), 7 (after F4) three to come. The next state after byte c, or
 * -1 when c cannot come there as plain string text (a quote, a backslash,
 * a control byte, invalid UTF-8). */
static int utf8_next(int q, unsigned char c)
{
    switch (q) {
    case 0:
        if (c >= 0x20 && c < 0x80) return c == '"' || c == '\\' ? -1 : 0;
        if (c >= 0xC2 && c <= 0xDF) return 1;
        if (c == 0xE0) return 3;
        if (c == 0xED) return 4;
        if (c >= 0xE1 && c <= 0xEF) return 2;
        if (c == 0xF0) return 6;
        if (c == 0xF4) return 7;
        if (c >= 0xF1 && c <= 0xF3) return 5;
        return -1;
    case 1: return c >= 0x80 && c <= 0xBF ? 0 : -1;
    case 2: return c >= 0x80 && c <= 0xBF ? 1 : -1;
    case 3: return c >= 0xA0 && c <= 0xBF ? 1 : -1;
    case 4: return c >= 0x80 && c <= 0x9F ? 1 : -1;
    case 5: return c >= 0x80 && c <= 0xBF ? 2 : -1;
    case 6: return c >= 0x90 && c <= 0xBF ? 2 : -1;
    default: return c >= 0x80 && c <= 0x8F ? 2 : -1;
    }
}

/* Build the children of node ni over E[lo..hi) (all sharing d bytes). */
static int build(trie *T, const pent *E, int ni, int lo, int hi, int d)
{
    int own = lo;
    while (own < hi && (int)E[own].len == d) own++;
    T->nodes[ni].lo = lo;
    T->nodes[ni].own = own;
    T->nodes[ni].hi = hi;
    int k = 0;
    for (int i = own; i < hi; i++)
        if (i == own || (unsigned char)E[i].p[d] != (unsigned char)E[i - 1].p[d]) k++;
    T->nodes[ni].nchild = (uint16_t)k;
    T->nodes[ni].safe = 0xFF;
    T->nodes[ni].below = 0;
    if (!k) return NS_OK;
    if (T->nn + k > T->cap) {
        int nc = T->cap * 2 > T->nn + k ? T->cap * 2 : T->nn + k + 64;
        tnode *p = ns_realloc(T->nodes, sizeof *p * (size_t)nc);
        if (!p) return NS_ENOMEM;
        T->nodes = p;
        T->cap = nc;
    }
    int first = T->nn;
    T->nn += k;
    T->nodes[ni].first = first;
    int c = 0, start = own;
    for (int i = own + 1; i <= hi; i++) {
        if (i < hi && (unsigned char)E[i].p[d] == (unsigned char)E[start].p[d]) continue;
        int ci = first + c++;
        T->nodes[ci].byte = (uint8_t)E[start].p[d];
        int rc = build(T, E, ci, start, i, d + 1);
        if (rc < 0) return rc;
        const tnode *C = &T->nodes[ci];
        tnode *N = &T->nodes[ni];
        for (int q = 0; q < 8; q++) {
            int q2 = utf8_next(q, C->byte);
            if (q2 < 0 || !(C->safe >> q2 & 1)) N->safe &= (uint8_t)~(1u << q);
        }
        int b = C->below + 1;
        if (b > N->below) N->below = (uint16_t)(b > 65535 ? 65535 : b);
        start = i;
    }
    return NS_OK;
}

/* A fingerprint of a tokenizer that costs O(1) per step: its size, where its
 * pieces live and a hash of 512 pieces spread over the vocabulary (all of
 * them when fewer). Tokenizers are immutable (bpe.h), so this tells a live
 * one from another allocated where a freed one was. */
static uint64_t pieces_hash(const ns_bpe *tok, int n)
{
    uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ULL;
    int step = n > 512 ? n / 512 : 1;
    for (int i = 0; i < n; i += step) {
        size_t len;
        const char *p = ns_bpe_piece(tok, i, &len);
        h = ns_hash_bytes(p, len, h + (uint64_t)len + (uint64_t)(uintptr_t)p);
    }
    size_t len;
    const char *p = ns_bpe_piece(tok, n - 1, &len);
    return ns_hash_bytes(p, len, h + (uint64_t)(uintptr_t)p);
}

/* Tokens a constrained output may contain: not BOS/EOS, not special, not
 * byte-level <unk>, not empty. */
static int usable(const ns_bpe *tok, int id, const char *p, size_t len)
{
    if (!len || id == ns_bpe_bos(tok) || id == ns_bpe_eos(tok)) return 0;
    if (len < 64) {
        char z[64];
        memcpy(z, p, len);
        z[len] = 0;
        if (strlen(z) == len && ns_bpe_special(tok, z) == id) return 0;
        if (id == 0 && ns_bpe_type(tok) == NS_BPE_BYTE && !strcmp(z, "<unk>")) return 0;
    }
    return 1;
}

static void trie_free(trie *T)
{
    if (!T) return;
    free(T->nodes);
    free(T->ids);
    free(T);
}

static int trie_build(trie **out, const ns_bpe *tok, int n, uint64_t hash)
{
    *out = NULL;
    trie *T = ns_calloc(1, sizeof *T);
    pent *E = ns_malloc(sizeof *E * (size_t)(n + 1));
    int rc = T && E ? NS_OK : NS_ENOMEM;
    if (rc < 0) goto done;
    T->tok = tok;
    T->n = n;
    T->hash = hash;
    int m = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *p = ns_bpe_piece(tok, i, &len);
        if (!usable(tok, i, p, len)) continue;
        E[m++] = (pent){p, (uint32_t)len, i};
        if ((int)len > T->depth) T->depth = (int)len;
    }
    qsort(E, (size_t)m, sizeof *E, pent_cmp);
    T->ids = ns_malloc(sizeof(int32_t) * (size_t)(m + 1));
    T->cap = 1024;
    T->nodes = ns_calloc((size_t)T->cap, sizeof(tnode));
    if (!T->ids || !T->nodes) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int i = 0; i < m; i++) T->ids[i] = E[i].id;
    T->nids = m;
    T->nn = 1;
    rc = build(T, E, 0, 0, m, 0);
done:
    free(E);
    if (rc < 0) {
        trie_free(T);
        return rc;
    }
    *out = T;
    return NS_OK;
}

/* ---- the cache ---- */

#define NCACHE 4
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static trie *cache[NCACHE];
static int cache_next;

static int trie_acquire(const ns_bpe *tok, trie **out)
{
    int n = ns_bpe_vocab_size(tok);
    uint64_t h = pieces_hash(tok, n);
    pthread_mutex_lock(&cache_mu);
    for (int i = 0; i < NCACHE; i++)
        if (cache[i] && cache[i]->tok == tok && cache[i]->n == n && cache[i]->hash == h) {
            cache[i]->refs++;
            *out = cache[i];
            pthread_mutex_unlock(&cache_mu);
            return NS_OK;
        }
    trie *T;
    int rc = trie_build(&T, tok, n, h);
    if (rc >= 0) {
        T->refs = 1;
        for (int k = 0; k < NCACHE; k++) { /* a free slot, or the next one nobody uses */
            int i = (cache_next + k) % NCACHE;
            if (cache[i] && cache[i]->refs) continue;
            trie_free(cache[i]);
            cache[i] = T;
            T->cached = 1;
            cache_next = (i + 1) % NCACHE;
            break;
        }
        *out = T;
    }
    pthread_mutex_unlock(&cache_mu);
    return rc;
}

static void trie_release(trie *T)
{
    pthread_mutex_lock(&cache_mu);
    int drop = --T->refs == 0 && !T->cached;
    pthread_mutex_unlock(&cache_mu);
    if (drop) trie_free(T);
}

/* ---- the walk ---- */

typedef struct mctx {
    const trie *T;
    ns_grammar_state *st; /* one per depth */
    unsigned char *ok;
    int V;
} mctx;

static void mark(mctx *M, int lo, int hi)
{
    for (int i = lo; i < hi; i++) {
        int id = M->T->ids[i];
        if (id < M->V) M->ok[id] = 1;
    }
}

static void walk(mctx *M, int ni, int d)
{
    const tnode *N = &M->T->nodes[ni];
    int q = ns__gram_str_class(&M->st[d], N->below);
    if (q >= 0 && (N->safe >> q & 1)) {
        mark(M, N->own, N->hi);
        return;
    }
    for (int k = 0; k < N->nchild; k++) {
        int ci = N->first + k;
        const tnode *C = &M->T->nodes[ci];
        if (q >= 0) { /* inside a string with room for all below: a safe child needs no parser step */
            int q2 = utf8_next(q, C->byte);
            if (q2 >= 0 && (C->safe >> q2 & 1)) {
                mark(M, C->lo, C->hi);
                continue;
            }
        }
        ns__gram_copy(&M->st[d + 1], &M->st[d]);
        if (!ns__gram_step(&M->st[d + 1], C->byte)) continue;
        mark(M, C->lo, C->own);
        if (C->nchild) walk(M, ci, d + 1);
    }
}

int ns_grammar_mask(const ns_grammar_state *s, const ns_bpe *tok, float *logits, int V)
{
    if (!s || !tok || !logits || V < 0) return ns_err_set(NS_EINVAL, "grammar mask: bad arguments");
    trie *T;
    int rc = trie_acquire(tok, &T);
    if (rc < 0) return rc;
    mctx M = {.T = T, .V = V};
    M.ok = ns_calloc((size_t)V + 1, 1);
    M.st = ns_malloc(sizeof(ns_grammar_state) * (size_t)(T->depth + 2));
    if (!M.ok || !M.st) {
        rc = NS_ENOMEM;
        goto done;
    }
    ns__gram_copy(&M.st[0], s);
    if (T->nn) walk(&M, 0, 0);
    int eos = ns_bpe_eos(tok);
    if (eos >= 0 && eos < V && ns_grammar_done(s)) M.ok[eos] = 1;
    int allowed = 0;
    for (int i = 0; i < V; i++) {
        if (M.ok[i]) allowed++;
        else logits[i] = -INFINITY;
    }
    rc = allowed;
done:
    free(M.ok);
    free(M.st);
    trie_release(T);
    return rc;
}
