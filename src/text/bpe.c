/*
 * bpe.c — tokenizers for the language models (rules in bpe.h): byte-level
 * BPE (train, encode, decode; GPT-2 vocab.json + merges.txt reader), a
 * character vocabulary, and llama2.c's scored pieces (tokenizer.bin).
 *
 * Workload: training reads a few MB of text and learns a few thousand
 * merges; pair counts are kept incrementally (a merge only revisits the
 * words that contain it). Encoding cuts text into short pre-tokenizer
 * chunks and merges inside each chunk by rank, O(len^2) per chunk.
 */
#include "northstar/bpe.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

struct ns_bpe {
    ns_bpe_kind kind;
    int n;                 /* vocabulary size */
    ns_buf blob;           /* piece bytes, back to back */
    uint32_t *off, *len;   /* [n] */
    float *scores;         /* [n] (SCORES) */
    int byte_id[256];      /* id of each single byte, -1 if none */
    ns_u64map merges;      /* (a << 32 | b) -> (rank << 32 | id) */
    int32_t *mtab;         /* [n_merges][3]: a, b, id in rank order */
    int n_merges;
    int *specials;         /* ids whose text is matched as a whole */
    int n_special;
    int bos, eos;
    ns_u64map chars;       /* code point -> id (CHAR) */
    ns_strmap *lookup;     /* SCORES: lookup string -> index; lookup_id maps to id */
    int32_t *lookup_id;
};

enum { BASE_UNK = 0, BASE_BOS = 1, BASE_EOS = 2, BASE_BYTE0 = 3, BASE_N = 259 };

void ns_bpe_free(ns_bpe *b)
{
    if (!b) return;
    ns_buf_release(&b->blob);
    free(b->off);
    free(b->len);
    free(b->scores);
    ns_u64map_release(&b->merges);
    ns_u64map_release(&b->chars);
    free(b->mtab);
    free(b->specials);
    ns_strmap_free(b->lookup);
    free(b->lookup_id);
    free(b);
}

ns_bpe_kind ns_bpe_type(const ns_bpe *b) { return b->kind; }
int ns_bpe_vocab_size(const ns_bpe *b) { return b->n; }
int ns_bpe_bos(const ns_bpe *b) { return b->bos; }
int ns_bpe_eos(const ns_bpe *b) { return b->eos; }

const char *ns_bpe_piece(const ns_bpe *b, int id, size_t *len)
{
    if (id < 0 || id >= b->n) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = b->len[id];
    return b->blob.data + b->off[id];
}

int ns_bpe_special(const ns_bpe *b, const char *text)
{
    size_t tl = strlen(text);
    for (int i = 0; i < b->n_special; i++) {
        int id = b->specials[i];
        if (b->len[id] == tl && !memcmp(b->blob.data + b->off[id], text, tl)) return id;
    }
    return -1;
}

/* ---- construction helpers --------------------------------------------- */

static ns_bpe *bpe_alloc(ns_bpe_kind kind, int cap)
{
    ns_bpe *b = ns_calloc(1, sizeof *b);
    if (!b) return NULL;
    b->kind = kind;
    ns_buf_init(&b->blob);
    b->off = ns_calloc((size_t)cap + 1, sizeof(uint32_t));
    b->len = ns_calloc((size_t)cap + 1, sizeof(uint32_t));
    b->bos = b->eos = -1;
    for (int i = 0; i < 256; i++) b->byte_id[i] = -1;
    if (!b->off || !b->len || ns_u64map_init(&b->merges, 64) < 0 || ns_u64map_init(&b->chars, 64) < 0) {
        ns_bpe_free(b);
        return NULL;
    }
    return b;
}

/* Set piece of the next id (ids are added in order). */
static int add_piece(ns_bpe *b, const char *p, size_t n)
{
    b->off[b->n] = (uint32_t)b->blob.len;
    b->len[b->n] = (uint32_t)n;
    if (ns_buf_append(&b->blob, p, n) < 0) return NS_ENOMEM;
    return b->n++;
}

static int add_special(ns_bpe *b, int id)
{
    int *s = ns_realloc(b->specials, sizeof(int) * (size_t)(b->n_special + 1));
    if (!s) return NS_ENOMEM;
    b->specials = s;
    s[b->n_special++] = id;
    return NS_OK;
}

static int add_merge(ns_bpe *b, int a, int c, int id)
{
    int32_t *t = ns_realloc(b->mtab, sizeof(int32_t) * 3 * (size_t)(b->n_merges + 1));
    if (!t) return NS_ENOMEM;
    b->mtab = t;
    t[3 * b->n_merges] = a;
    t[3 * b->n_merges + 1] = c;
    t[3 * b->n_merges + 2] = id;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)c;
    uint64_t val = (uint64_t)(uint32_t)b->n_merges << 32 | (uint32_t)id;
    b->n_merges++;
    return ns_u64map_put(&b->merges, key, val);
}

/* Our layout: <unk> <s> </s>, 256 bytes. */
static ns_bpe *bpe_base(int cap)
{
    ns_bpe *b = bpe_alloc(NS_BPE_BYTE, cap);
    if (!b) return NULL;
    add_piece(b, "<unk>", 5);
    add_piece(b, "<s>", 3);
    add_piece(b, "</s>", 4);
    add_special(b, BASE_UNK);
    add_special(b, BASE_BOS);
    add_special(b, BASE_EOS);
    b->bos = BASE_BOS;
    b->eos = BASE_EOS;
    for (int i = 0; i < 256; i++) {
        char ch = (char)i;
        b->byte_id[i] = add_piece(b, &ch, 1);
    }
    return b;
}

/* ======================================================================= */
/* pre-tokenizer (GPT-2's rule)                                              */
/* ======================================================================= */

enum { CL_L, CL_N, CL_S, CL_O };

/* Class and byte length of the character at s[i] (invalid bytes: O, 1). */
static int char_class(const unsigned char *s, size_t n, size_t i, size_t *clen)
{
    unsigned char c = s[i];
    if (c < 0x80) {
        *clen = 1;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return CL_L;
        if (c >= '0' && c <= '9') return CL_N;
        if (c == ' ' || (c >= 9 && c <= 13)) return CL_S;
        return CL_O;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (k <= 0) {
        *clen = 1;
        return CL_O;
    }
    *clen = (size_t)k;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
        return CL_L;
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return CL_N;
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
        return CL_S;
    default:
        return (cp == 0x85) ? CL_S : CL_O;
    }
}

/* Length of the chunk starting at s[i]. */
static size_t next_chunk(const unsigned char *s, size_t n, size_t i)
{
    if (s[i] == '\'' && i + 1 < n) {
        static const char *con[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (int k = 0; k < 7; k++) {
            size_t L = strlen(con[k]);
            if (i + 1 + L <= n && !memcmp(s + i + 1, con[k], L)) return 1 + L;
        }
    }
    size_t cl;
    int c = char_class(s, n, i, &cl);
    size_t j = i;
    if (s[i] == ' ' && i + 1 < n) {
        size_t cl2;
        int c2 = char_class(s, n, i + 1, &cl2);
        if (c2 != CL_S) {
            c = c2;
            j = i + 1;
            cl = cl2;
        }
    }
    if (c != CL_S) {
        j += cl;
        while (j < n) {
            size_t k;
            if (char_class(s, n, j, &k) != c) break;
            j += k;
        }
        return j - i;
    }
    /* whitespace run; leave its last char to the next chunk if a
     * non-space follows and the run has more than one char */
    size_t last = j;
    while (j < n) {
        size_t k;
        if (char_class(s, n, j, &k) != CL_S) break;
        last = j;
        j += k;
    }
    if (j < n && last > i) return last - i;
    return j - i;
}

/* ======================================================================= */
/* byte-level encode                                                         */
/* ======================================================================= */

static int merge_chunk(const ns_bpe *b, int32_t *w, int n)
{
    while (n > 1) {
        uint64_t best = UINT64_MAX;
        int at = -1;
        for (int i = 0; i + 1 < n; i++) {
            uint64_t v;
            uint64_t key = (uint64_t)(uint32_t)w[i] << 32 | (uint32_t)w[i + 1];
            if (ns_u64map_get(&b->merges, key, &v) && v < best) {
                best = v;
                at = i;
            }
        }
        if (at < 0) break;
        int32_t id = (int32_t)(uint32_t)(best & 0xffffffffu);
        int32_t a = w[at], c = w[at + 1];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && w[i] == a && w[i + 1] == c) {
                w[k++] = id;
                i++;
            } else {
                w[k++] = w[i];
            }
        }
        n = k;
    }
    return n;
}

typedef struct {
    int32_t *ids;
    size_t n, cap;
} idvec;

static int iv_push(idvec *v, int32_t x)
{
    if (v->n == v->cap) {
        size_t nc = v->cap ? v->cap * 2 : 256;
        int32_t *p = ns_realloc(v->ids, sizeof(int32_t) * nc);
        if (!p) return NS_ENOMEM;
        v->ids = p;
        v->cap = nc;
    }
    v->ids[v->n++] = x;
    return NS_OK;
}

static int encode_bytes(const ns_bpe *b, const unsigned char *s, size_t n, idvec *out)
{
    int32_t *w = NULL;
    size_t wcap = 0;
    for (size_t i = 0; i < n;) {
        size_t L = next_chunk(s, n, i);
        if (L > wcap) {
            int32_t *p = ns_realloc(w, sizeof(int32_t) * L);
            if (!p) {
                free(w);
                return NS_ENOMEM;
            }
            w = p;
            wcap = L;
        }
        for (size_t k = 0; k < L; k++) {
            int id = b->byte_id[s[i + k]];
            if (id < 0) {
                free(w);
                return ns_err_set(NS_ENOTFOUND, "byte 0x%02x has no token in this vocabulary", s[i + k]);
            }
            w[k] = id;
        }
        int m = merge_chunk(b, w, (int)L);
        for (int k = 0; k < m; k++)
            if (iv_push(out, w[k]) < 0) {
                free(w);
                return NS_ENOMEM;
            }
        i += L;
    }
    free(w);
    return NS_OK;
}

/* ---- llama2.c scored pieces (sentencepiece-style) --------------------- */

static int lookup_piece(const ns_bpe *b, const char *s, size_t n)
{
    int64_t k = ns_strmap_find(b->lookup, s, n);
    return k < 0 ? -1 : b->lookup_id[k];
}

static int encode_scores(const ns_bpe *b, const unsigned char *s, size_t n, idvec *out)
{
    size_t start = out->n;
    /* sentencepiece's dummy prefix */
    if (n > 0) {
        int sp = lookup_piece(b, " ", 1);
        if (sp >= 0 && iv_push(out, sp) < 0) return NS_ENOMEM;
    }
    for (size_t i = 0; i < n;) {
        size_t cl = 1;
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k > 0) cl = (size_t)k;
        int id = lookup_piece(b, (const char *)s + i, cl);
        if (id >= 0) {
            if (iv_push(out, id) < 0) return NS_ENOMEM;
        } else {
            for (size_t j = 0; j < cl; j++)
                if (iv_push(out, (int32_t)s[i + j] + 3) < 0) return NS_ENOMEM;
        }
        i += cl;
    }
    /* merge the best-scoring pair until none applies */
    ns_buf tmp;
    ns_buf_init(&tmp);
    for (;;) {
        float best = -1e30f;
        int at = -1, best_id = -1;
        for (size_t i = start; i + 1 < out->n; i++) {
            /* lookup strings (strmap id = token id) are the raw pieces */
            tmp.len = 0;
            int64_t ka = out->ids[i], kb = out->ids[i + 1];
            size_t sa, sb;
            const char *qa = ns_strmap_key(b->lookup, ka, &sa), *qb = ns_strmap_key(b->lookup, kb, &sb);
            ns_buf_append(&tmp, qa, sa);
            ns_buf_append(&tmp, qb, sb);
            int id = lookup_piece(b, tmp.data, tmp.len);
            if (id >= 0 && b->scores[id] > best) {
                best = b->scores[id];
                at = (int)i;
                best_id = id;
            }
        }
        if (at < 0) break;
        out->ids[at] = best_id;
        memmove(out->ids + at + 1, out->ids + at + 2, sizeof(int32_t) * (out->n - (size_t)at - 2));
        out->n--;
    }
    ns_buf_release(&tmp);
    return NS_OK;
}

static int encode_chars(const ns_bpe *b, const unsigned char *s, size_t n, idvec *out)
{
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return ns_err_set_at(NS_EFORMAT, "", 0, "text", NULL, "invalid UTF-8 at byte %zu", i);
        uint64_t id;
        if (!ns_u64map_get(&b->chars, (uint64_t)cp, &id)) {
            char v[8] = {0};
            memcpy(v, s + i, (size_t)k);
            return ns_err_set_at(NS_ENOTFOUND, "", 0, "text", v, "character U+%04X at byte %zu is not in the vocabulary",
                                 (unsigned)cp, i);
        }
        if (iv_push(out, (int32_t)id) < 0) return NS_ENOMEM;
        i += (size_t)k;
    }
    return NS_OK;
}

static int encode_plain(const ns_bpe *b, const unsigned char *s, size_t n, idvec *out)
{
    if (!n) return NS_OK;
    if (b->kind == NS_BPE_BYTE) return encode_bytes(b, s, n, out);
    if (b->kind == NS_BPE_CHAR) return encode_chars(b, s, n, out);
    return encode_scores(b, s, n, out);
}

int ns_bpe_encode(const ns_bpe *b, const char *text, size_t len, int allow_special, int32_t **ids, size_t *n)
{
    idvec v = {0};
    *ids = NULL;
    *n = 0;
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    int rc = NS_OK;
    while (i < len && rc >= 0) {
        /* next special token occurrence */
        size_t best = len;
        int best_id = -1;
        if (allow_special) {
            for (int k = 0; k < b->n_special; k++) {
                int id = b->specials[k];
                size_t L = b->len[id];
                if (!L) continue;
                const char *hit = memmem(text + i, len - i, b->blob.data + b->off[id], L);
                if (hit && (size_t)(hit - text) < best) {
                    best = (size_t)(hit - text);
                    best_id = id;
                }
            }
        }
        rc = encode_plain(b, s + i, best - i, &v);
        if (rc < 0 || best_id < 0) break;
        rc = iv_push(&v, best_id);
        i = best + b->len[best_id];
    }
    if (rc < 0) {
        free(v.ids);
        return rc;
    }
    if (!v.ids) v.ids = ns_malloc(sizeof(int32_t));
    *ids = v.ids;
    *n = v.n;
    return NS_OK;
}

int ns_bpe_decode(const ns_bpe *b, const int32_t *ids, size_t n, ns_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        if (id < 0 || id >= b->n) return ns_err_set(NS_ERANGE, "token id %d outside the vocabulary [0, %d)", id, b->n);
        if (id == b->bos || id == b->eos || (b->kind == NS_BPE_BYTE && id == BASE_UNK && b->byte_id[0] == BASE_BYTE0))
            continue;
        if (ns_buf_append(out, b->blob.data + b->off[id], b->len[id]) < 0) return NS_ENOMEM;
    }
    return NS_OK;
}

/* ======================================================================= */
/* training                                                                  */
/* ======================================================================= */

typedef struct {
    int32_t *sym;  /* current symbols */
    int n;
    uint64_t count;
} word;

static uint64_t pkey(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }

static int pc_add(ns_u64map *pc, uint64_t key, int64_t d)
{
    uint64_t v = 0;
    ns_u64map_get(pc, key, &v);
    return ns_u64map_put(pc, key, (uint64_t)((int64_t)v + d));
}

int ns_bpe_train(ns_bpe **out, const char *text, size_t len, int vocab_size, const char *const *specials,
                 int n_specials)
{
    *out = NULL;
    int min = BASE_N + (n_specials > 0 ? n_specials : 0);
    if (vocab_size < min) return ns_err_set(NS_EINVAL, "vocab size %d is below the %d base ids", vocab_size, min);
    ns_bpe *b = bpe_base(vocab_size);
    if (!b) return NS_ENOMEM;
    int rc = NS_OK;
    ns_strmap *wm = ns_strmap_new(1 << 14);
    uint64_t *cnt = NULL;
    size_t ccap = 0;
    word *words = NULL;
    ns_u64map pc;
    memset(&pc, 0, sizeof pc);
    if (!wm || ns_u64map_init(&pc, 1 << 16) < 0) {
        rc = NS_ENOMEM;
        goto done;
    }
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t L = next_chunk(s, len, i);
        int64_t id = ns_strmap_intern(wm, text + i, L);
        if (id < 0) {
            rc = NS_ENOMEM;
            goto done;
        }
        if ((size_t)id >= ccap) {
            size_t nc = ccap ? ccap * 2 : 4096;
            uint64_t *p = ns_realloc(cnt, sizeof(uint64_t) * nc);
            if (!p) {
                rc = NS_ENOMEM;
                goto done;
            }
            memset(p + ccap, 0, sizeof(uint64_t) * (nc - ccap));
            cnt = p;
            ccap = nc;
        }
        cnt[id]++;
        i += L;
    }
    size_t nw = ns_strmap_count(wm);
    words = ns_calloc(nw ? nw : 1, sizeof(word));
    if (!words) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (size_t w = 0; w < nw; w++) {
        size_t L;
        const unsigned char *k = (const unsigned char *)ns_strmap_key(wm, (int64_t)w, &L);
        words[w].sym = ns_malloc(sizeof(int32_t) * (L ? L : 1));
        if (!words[w].sym) {
            rc = NS_ENOMEM;
            goto done;
        }
        for (size_t j = 0; j < L; j++) words[w].sym[j] = b->byte_id[k[j]];
        words[w].n = (int)L;
        words[w].count = cnt[w];
        for (size_t j = 0; j + 1 < L; j++)
            if ((rc = pc_add(&pc, pkey(words[w].sym[j], words[w].sym[j + 1]), (int64_t)cnt[w])) < 0) goto done;
    }
    int target_merges = vocab_size - BASE_N - (n_specials > 0 ? n_specials : 0);
    ns_progress prog;
    ns_progress_begin(&prog, "bpe train", target_merges, "merges");
    for (int mi = 0; mi < target_merges; mi++) {
        uint64_t best_key = 0, best_cnt = 0;
        for (size_t k = 0; k < pc.cap; k++) {
            if (!pc.used[k]) continue;
            uint64_t c = pc.vals[k];
            if ((int64_t)c > (int64_t)best_cnt || (c == best_cnt && c > 0 && pc.keys[k] < best_key)) {
                best_cnt = c;
                best_key = pc.keys[k];
            }
        }
        if ((int64_t)best_cnt < 2) break; /* nothing left worth a merge */
        int32_t a = (int32_t)(best_key >> 32), c = (int32_t)(best_key & 0xffffffffu);
        ns_buf pb;
        ns_buf_init(&pb);
        ns_buf_append(&pb, b->blob.data + b->off[a], b->len[a]);
        ns_buf_append(&pb, b->blob.data + b->off[c], b->len[c]);
        int id = add_piece(b, pb.data, pb.len);
        ns_buf_release(&pb);
        if (id < 0 || add_merge(b, a, c, id) < 0) {
            rc = NS_ENOMEM;
            goto done;
        }
        for (size_t w = 0; w < nw; w++) {
            word *wd = &words[w];
            int has = 0;
            for (int j = 0; j + 1 < wd->n; j++)
                if (wd->sym[j] == a && wd->sym[j + 1] == c) {
                    has = 1;
                    break;
                }
            if (!has) continue;
            int64_t wc = (int64_t)wd->count;
            for (int j = 0; j + 1 < wd->n; j++) pc_add(&pc, pkey(wd->sym[j], wd->sym[j + 1]), -wc);
            int k = 0;
            for (int j = 0; j < wd->n; j++) {
                if (j + 1 < wd->n && wd->sym[j] == a && wd->sym[j + 1] == c) {
                    wd->sym[k++] = id;
                    j++;
                } else {
                    wd->sym[k++] = wd->sym[j];
                }
            }
            wd->n = k;
            for (int j = 0; j + 1 < wd->n; j++)
                if ((rc = pc_add(&pc, pkey(wd->sym[j], wd->sym[j + 1]), wc)) < 0) goto done;
        }
        ns_progress_add(&prog, 1);
    }
    ns_progress_end(&prog);
    for (int i = 0; i < n_specials; i++) {
        int id = add_piece(b, specials[i], strlen(specials[i]));
        if (id < 0 || add_special(b, id) < 0) {
            rc = NS_ENOMEM;
            goto done;
        }
    }
done:
    if (words)
        for (size_t w = 0; w < ns_strmap_count(wm); w++) free(words[w].sym);
    free(words);
    free(cnt);
    ns_strmap_free(wm);
    ns_u64map_release(&pc);
    if (rc < 0) {
        ns_bpe_free(b);
        return rc;
    }
    *out = b;
    return NS_OK;
}

/* ======================================================================= */
/* character vocabulary                                                      */
/* ======================================================================= */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static int chars_from_cps(ns_bpe **out, int32_t *cps, int n)
{
    qsort(cps, (size_t)n, sizeof(int32_t), cmp_i32);
    ns_bpe *b = bpe_alloc(NS_BPE_CHAR, n);
    if (!b) return NS_ENOMEM;
    for (int i = 0; i < n; i++) {
        if (i && cps[i] == cps[i - 1]) {
            ns_bpe_free(b);
            return ns_err_set(NS_EFORMAT, "character U+%04X listed twice", (unsigned)cps[i]);
        }
        utf8proc_uint8_t enc[8];
        utf8proc_ssize_t k = utf8proc_encode_char(cps[i], enc);
        int id = add_piece(b, (const char *)enc, (size_t)k);
        if (id < 0 || ns_u64map_put(&b->chars, (uint64_t)cps[i], (uint64_t)id) < 0) {
            ns_bpe_free(b);
            return NS_ENOMEM;
        }
    }
    *out = b;
    return NS_OK;
}

int ns_bpe_char_from_text(ns_bpe **out, const char *text, size_t len)
{
    *out = NULL;
    ns_u64map seen;
    if (ns_u64map_init(&seen, 256) < 0) return NS_ENOMEM;
    int32_t *cps = NULL;
    int n = 0, cap = 0, rc = NS_OK;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) {
            rc = ns_err_set_at(NS_EFORMAT, "", 0, "text", NULL, "invalid UTF-8 at byte %zu", i);
            goto done;
        }
        uint64_t d;
        if (!ns_u64map_get(&seen, (uint64_t)cp, &d)) {
            ns_u64map_put(&seen, (uint64_t)cp, 1);
            if (n == cap) {
                cap = cap ? cap * 2 : 128;
                int32_t *p = ns_realloc(cps, sizeof(int32_t) * (size_t)cap);
                if (!p) {
                    rc = NS_ENOMEM;
                    goto done;
                }
                cps = p;
            }
            cps[n++] = cp;
        }
        i += (size_t)k;
    }
    if (!n) {
        rc = ns_err_set(NS_EINVAL, "empty text: no characters for a vocabulary");
        goto done;
    }
    rc = chars_from_cps(out, cps, n);
done:
    free(cps);
    ns_u64map_release(&seen);
    return rc;
}

/* ======================================================================= */
/* JSON                                                                      */
/* ======================================================================= */

static void hexs(char *dst, const char *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hx[(unsigned char)p[i] >> 4];
        dst[2 * i + 1] = hx[(unsigned char)p[i] & 15];
    }
    dst[2 * n] = 0;
}

static int unhex(const char *h, ns_buf *out)
{
    size_t n = strlen(h);
    if (n % 2) return -1;
    out->len = 0;
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (int k = 0; k < 2; k++) {
            char c = h[i + k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        char ch = (char)v;
        if (ns_buf_append(out, &ch, 1) < 0) return -1;
    }
    return 0;
}

int ns_bpe_to_json(const ns_bpe *b, char **out)
{
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("northstar-tokenizer-1"));
    if (b->kind == NS_BPE_CHAR) {
        json_object_set_new(o, "type", json_string("char"));
        json_t *a = json_array();
        for (int i = 0; i < b->n; i++) json_array_append_new(a, json_stringn(b->blob.data + b->off[i], b->len[i]));
        json_object_set_new(o, "chars", a);
    } else {
        json_object_set_new(o, "type", json_string(b->kind == NS_BPE_BYTE ? "byte" : "scores"));
        json_object_set_new(o, "vocab_size", json_integer(b->n));
        json_object_set_new(o, "bos", json_integer(b->bos));
        json_object_set_new(o, "eos", json_integer(b->eos));
        json_t *sp = json_array();
        for (int i = 0; i < b->n_special; i++) json_array_append_new(sp, json_integer(b->specials[i]));
        json_object_set_new(o, "specials", sp);
        /* every piece in hex: exact for any bytes */
        json_t *pieces = json_array();
        char *h = ns_malloc(2 * (b->blob.len + 1) + 1);
        for (int i = 0; i < b->n && h; i++) {
            if (b->kind == NS_BPE_SCORES) {
                size_t L;
                const char *k = ns_strmap_key(b->lookup, i, &L);
                hexs(h, k, L);
            } else {
                hexs(h, b->blob.data + b->off[i], b->len[i]);
            }
            json_array_append_new(pieces, json_string(h));
        }
        free(h);
        json_object_set_new(o, "pieces", pieces);
        if (b->kind == NS_BPE_BYTE) {
            json_t *bi = json_array(), *mg = json_array();
            for (int i = 0; i < 256; i++) json_array_append_new(bi, json_integer(b->byte_id[i]));
            for (int i = 0; i < b->n_merges; i++)
                json_array_append_new(mg, json_pack("[iii]", b->mtab[3 * i], b->mtab[3 * i + 1], b->mtab[3 * i + 2]));
            json_object_set_new(o, "byte_ids", bi);
            json_object_set_new(o, "merges", mg);
        } else {
            json_t *sc = json_array();
            for (int i = 0; i < b->n; i++) json_array_append_new(sc, json_real(b->scores[i]));
            json_object_set_new(o, "scores", sc);
        }
    }
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return *out ? NS_OK : NS_ENOMEM;
}

static int scores_finish(ns_bpe *b, ns_buf *const *lookups);

int ns_bpe_from_json(ns_bpe **out, const char *json, size_t len, const char *src)
{
    *out = NULL;
    if (!src) src = "tokenizer";
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je);
    if (!o) return ns_err_set_at(NS_EFORMAT, src, je.line, NULL, NULL, "tokenizer JSON: %s", je.text);
    int rc = NS_OK;
    ns_bpe *b = NULL;
    ns_buf tmp;
    ns_buf_init(&tmp);
    const char *type = json_string_value(json_object_get(o, "type"));
#define FAILF(...) do { rc = ns_err_set_at(NS_EFORMAT, src, 0, __VA_ARGS__); goto done; } while (0)
    if (!type) FAILF("type", NULL, "tokenizer has no \"type\"");
    if (!strcmp(type, "char")) {
        json_t *a = json_object_get(o, "chars");
        if (!json_is_array(a) || !json_array_size(a)) FAILF("chars", NULL, "char tokenizer needs a non-empty \"chars\" array");
        int n = (int)json_array_size(a);
        int32_t *cps = ns_malloc(sizeof(int32_t) * (size_t)n);
        if (!cps) { rc = NS_ENOMEM; goto done; }
        for (int i = 0; i < n; i++) {
            const char *s = json_string_value(json_array_get(a, (size_t)i));
            utf8proc_int32_t cp = -1;
            size_t sl = s ? strlen(s) : 0;
            if (!s || utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)sl, &cp) != (utf8proc_ssize_t)sl) {
                free(cps);
                FAILF("chars", NULL, "entry %d is not a single character", i);
            }
            cps[i] = cp;
        }
        /* ids are the sorted order, as built; keep them as listed */
        rc = chars_from_cps(&b, cps, n);
        free(cps);
        goto done;
    }
    int is_byte = !strcmp(type, "byte");
    if (!is_byte && strcmp(type, "scores")) FAILF("type", type, "unknown tokenizer type");
    json_t *pieces = json_object_get(o, "pieces");
    if (!json_is_array(pieces) || !json_array_size(pieces)) FAILF("pieces", NULL, "missing \"pieces\"");
    int n = (int)json_array_size(pieces);
    b = bpe_alloc(is_byte ? NS_BPE_BYTE : NS_BPE_SCORES, n);
    if (!b) { rc = NS_ENOMEM; goto done; }
    ns_buf **lk = is_byte ? NULL : ns_calloc((size_t)n, sizeof(ns_buf *));
    for (int i = 0; i < n; i++) {
        const char *h = json_string_value(json_array_get(pieces, (size_t)i));
        if (!h || unhex(h, &tmp) < 0) {
            free(lk);
            FAILF("pieces", NULL, "piece %d is not a hex string", i);
        }
        if (add_piece(b, tmp.data ? tmp.data : "", tmp.len) < 0) { free(lk); rc = NS_ENOMEM; goto done; }
        if (lk) {
            lk[i] = ns_calloc(1, sizeof(ns_buf));
            ns_buf_init(lk[i]);
            ns_buf_append(lk[i], tmp.data ? tmp.data : "", tmp.len);
        }
    }
    json_t *bo = json_object_get(o, "bos"), *eo = json_object_get(o, "eos");
    b->bos = json_is_integer(bo) ? (int)json_integer_value(bo) : -1;
    b->eos = json_is_integer(eo) ? (int)json_integer_value(eo) : -1;
    if (b->bos < -1 || b->bos >= n || b->eos < -1 || b->eos >= n) { free(lk); FAILF("bos", NULL, "bos/eos id out of range"); }
    json_t *sp = json_object_get(o, "specials");
    for (size_t i = 0; json_is_array(sp) && i < json_array_size(sp); i++) {
        json_int_t id = json_integer_value(json_array_get(sp, i));
        if (id < 0 || id >= n) { free(lk); FAILF("specials", NULL, "special id %lld out of range", (long long)id); }
        add_special(b, (int)id);
    }
    if (is_byte) {
        json_t *bi = json_object_get(o, "byte_ids"), *mg = json_object_get(o, "merges");
        if (!json_is_array(bi) || json_array_size(bi) != 256) FAILF("byte_ids", NULL, "need 256 byte ids");
        for (int i = 0; i < 256; i++) {
            json_int_t id = json_integer_value(json_array_get(bi, (size_t)i));
            if (id < 0 || id >= n || b->len[id] != 1 || (unsigned char)b->blob.data[b->off[id]] != i)
                FAILF("byte_ids", NULL, "byte %d maps to an invalid id", i);
            b->byte_id[i] = (int)id;
        }
        for (size_t i = 0; json_is_array(mg) && i < json_array_size(mg); i++) {
            json_t *e = json_array_get(mg, i);
            json_int_t a = json_integer_value(json_array_get(e, 0)), c = json_integer_value(json_array_get(e, 1)),
                       id = json_integer_value(json_array_get(e, 2));
            if (json_array_size(e) != 3 || a < 0 || a >= n || c < 0 || c >= n || id < 0 || id >= n ||
                b->len[id] != b->len[a] + b->len[c])
                FAILF("merges", NULL, "merge %zu is invalid", i);
            if (add_merge(b, (int)a, (int)c, (int)id) < 0) { rc = NS_ENOMEM; goto done; }
        }
    } else {
        json_t *sc = json_object_get(o, "scores");
        if (!json_is_array(sc) || (int)json_array_size(sc) != n) { free(lk); FAILF("scores", NULL, "need one score per piece"); }
        b->scores = ns_malloc(sizeof(float) * (size_t)n);
        for (int i = 0; i < n; i++) b->scores[i] = (float)json_number_value(json_array_get(sc, (size_t)i));
        rc = scores_finish(b, lk);
        for (int i = 0; i < n; i++) {
            ns_buf_release(lk[i]);
            free(lk[i]);
        }
        free(lk);
    }
#undef FAILF
done:
    ns_buf_release(&tmp);
    json_decref(o);
    if (rc < 0) {
        ns_bpe_free(b);
        return rc;
    }
    *out = b;
    return NS_OK;
}

int ns_bpe_save(const ns_bpe *b, const char *path)
{
    char *s;
    int rc = ns_bpe_to_json(b, &s);
    if (rc < 0) return rc;
    rc = ns_file_write_atomic(path, s, strlen(s));
    free(s);
    return rc;
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int ns_bpe_load(ns_bpe **out, const char *path)
{
    *out = NULL;
    if (ends_with(path, ".bin")) return ns_bpe_load_llama2c(out, path, 0);
    if (ends_with(path, "vocab.json")) {
        char mp[4096];
        snprintf(mp, sizeof mp, "%.*smerges.txt", (int)(strlen(path) - strlen("vocab.json")), path);
        return ns_bpe_load_gpt2(out, path, mp);
    }
    char *s;
    size_t n;
    int rc = ns_file_read_all(path, &s, &n, 256u << 20);
    if (rc < 0) return rc;
    rc = ns_bpe_from_json(out, s, n, path);
    free(s);
    return rc;
}

/* ======================================================================= */
/* llama2.c tokenizer.bin                                                    */
/* ======================================================================= */

/* Build the lookup map and decoded pieces for SCORES: "<0xXX>" pieces
 * decode to their byte; lookups use the raw string. */
static int scores_finish(ns_bpe *b, ns_buf *const *lookups)
{
    b->lookup = ns_strmap_new((size_t)b->n);
    b->lookup_id = ns_malloc(sizeof(int32_t) * (size_t)b->n);
    if (!b->lookup || !b->lookup_id) return NS_ENOMEM;
    ns_buf blob;
    ns_buf_init(&blob);
    for (int i = 0; i < b->n; i++) {
        const ns_buf *L = lookups[i];
        /* strmap ids must equal token ids so ns_strmap_key(id) works:
         * duplicates get a unique placeholder key */
        int64_t k = ns_strmap_find(b->lookup, L->data ? L->data : "", L->len);
        if (k >= 0) {
            char ph[32];
            int pn = snprintf(ph, sizeof ph, "\x01dup%d", i);
            k = ns_strmap_intern(b->lookup, ph, (size_t)pn);
        } else {
            k = ns_strmap_intern(b->lookup, L->data ? L->data : "", L->len);
        }
        if (k != i) {
            ns_buf_release(&blob);
            return ns_err_set(NS_EINTERNAL, "tokenizer lookup ids out of order");
        }
        b->lookup_id[i] = i;
        unsigned int byte;
        char tail;
        b->off[i] = (uint32_t)blob.len;
        if (L->len == 6 && sscanf(L->data, "<0x%02X>%c", &byte, &tail) == 1) {
            char ch = (char)byte;
            ns_buf_append(&blob, &ch, 1);
            b->len[i] = 1;
        } else if (i == b->bos || i == b->eos || i == 0) {
            b->len[i] = 0;
        } else {
            ns_buf_append(&blob, L->data ? L->data : "", L->len);
            b->len[i] = (uint32_t)L->len;
        }
    }
    ns_buf_release(&b->blob);
    b->blob = blob;
    return NS_OK;
}

int ns_bpe_load_llama2c(ns_bpe **out, const char *path, int vocab_size)
{
    *out = NULL;
    char *s;
    size_t n;
    int rc = ns_file_read_all(path, &s, &n, 512u << 20);
    if (rc < 0) return rc;
    ns_bpe *b = NULL;
    ns_buf **lk = NULL;
    int cap = vocab_size > 0 ? vocab_size : (int)(n / 9 + 1);
    if (n < 4) {
        rc = ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "tokenizer.bin shorter than its header");
        goto done;
    }
    int32_t maxlen;
    memcpy(&maxlen, s, 4);
    if (maxlen <= 0 || maxlen > (1 << 16)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "max_token_length", NULL, "implausible max_token_length %d", maxlen);
        goto done;
    }
    b = bpe_alloc(NS_BPE_SCORES, cap);
    lk = ns_calloc((size_t)cap, sizeof(ns_buf *));
    if (!b || !lk) {
        rc = NS_ENOMEM;
        goto done;
    }
    b->scores = ns_malloc(sizeof(float) * (size_t)cap);
    size_t p = 4;
    for (int i = 0; vocab_size > 0 ? i < vocab_size : p < n; i++) {
        if (i >= cap || p + 8 > n) {
            rc = ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "tokenizer.bin ends inside entry %d", i);
            goto done;
        }
        float sc;
        int32_t L;
        memcpy(&sc, s + p, 4);
        memcpy(&L, s + p + 4, 4);
        p += 8;
        if (L < 0 || L > maxlen || p + (size_t)L > n) {
            rc = ns_err_set_at(L < 0 || L > maxlen ? NS_EFORMAT : NS_ETRUNCATED, path, 0, NULL, NULL,
                               "entry %d has a bad length %d", i, L);
            goto done;
        }
        b->scores[i] = sc;
        lk[i] = ns_calloc(1, sizeof(ns_buf));
        if (!lk[i]) {
            rc = NS_ENOMEM;
            goto done;
        }
        ns_buf_init(lk[i]);
        ns_buf_append(lk[i], s + p, (size_t)L);
        add_piece(b, s + p, (size_t)L);
        p += (size_t)L;
    }
    if (b->n > 2) {
        b->bos = 1;
        b->eos = 2;
        add_special(b, 1);
        add_special(b, 2);
    }
    rc = scores_finish(b, lk);
done:
    for (int i = 0; lk && i < cap; i++)
        if (lk[i]) {
            ns_buf_release(lk[i]);
            free(lk[i]);
        }
    free(lk);
    free(s);
    if (rc < 0) {
        ns_bpe_free(b);
        return rc;
    }
    *out = b;
    return NS_OK;
}

/* Pieces that are not merges (our specials, padding up to the model's
 * vocabulary) get this score: llama2.c's encoder merges a pair only when the
 * result scores above its start value (-1e10), so it never builds them. */
#define L2C_NO_MERGE (-1e30f)

int ns_bpe_export_llama2c_n(const ns_bpe *b, const char *path, int vocab_size)
{
    if (b->kind != NS_BPE_BYTE || b->byte_id[0] != BASE_BYTE0 || b->byte_id[255] != BASE_BYTE0 + 255)
        return ns_err_set(NS_EUNSUPPORTED, "tokenizer.bin export needs our byte-level layout (ids 3..258 = bytes)");
    int total = vocab_size > 0 ? vocab_size : b->n;
    if (total < b->n)
        return ns_err_set_at(NS_EINVAL, path, 0, "vocab_size", NULL,
                             "the model has %d ids but its tokenizer %d: tokenizer.bin needs one piece per model id",
                             total, b->n);
    ns_buf o;
    ns_buf_init(&o);
    int32_t maxlen = 6;
    for (int i = 0; i < b->n; i++) maxlen = (int32_t)b->len[i] > maxlen ? (int32_t)b->len[i] : maxlen;
    if (total > b->n) {
        char pad[32];
        int pl = snprintf(pad, sizeof pad, "<unused%d>", total - 1);
        maxlen = pl > maxlen ? pl : maxlen;
    }
    ns_buf_append(&o, &maxlen, 4);
    for (int i = 0; i < total; i++) {
        float sc = 0;
        char piece[32];
        const char *p = piece;
        int32_t L;
        if (i >= b->n) { /* ids the model has and the tokenizer never produces */
            L = snprintf(piece, sizeof piece, "<unused%d>", i);
            sc = L2C_NO_MERGE;
        } else if (i >= BASE_BYTE0 && i < BASE_N) {
            /* our bytes merge like any symbol, so each is its raw byte: run.c's
             * encoder then finds merges such as "\n\n" or the two bytes of
             * "\xc3\xa9" by concatenating pieces, and prints the bytes. Only
             * NUL, which a C string cannot hold, is "<0x00>". */
            unsigned char ch = (unsigned char)(i - BASE_BYTE0);
            if (ch) {
                piece[0] = (char)ch;
                L = 1;
            } else {
                L = snprintf(piece, sizeof piece, "<0x%02X>", ch);
            }
        } else {
            p = b->blob.data + b->off[i];
            L = (int32_t)b->len[i];
            if (i >= BASE_N) sc = i - BASE_N < b->n_merges ? -(float)(i - BASE_N) : L2C_NO_MERGE;
        }
        ns_buf_append(&o, &sc, 4);
        ns_buf_append(&o, &L, 4);
        ns_buf_append(&o, p, (size_t)L);
    }
    int rc = ns_file_write_atomic(path, o.data, o.len);
    ns_buf_release(&o);
    return rc;
}

int ns_bpe_export_llama2c(const ns_bpe *b, const char *path)
{
    return ns_bpe_export_llama2c_n(b, path, 0);
}

/* ======================================================================= */
/* GPT-2 vocab.json + merges.txt                                             */
/* ======================================================================= */

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to
 * 256 + k in byte order. Returns the byte of a code point or -1. */
static int16_t g2_byte_of[324]; /* code point (< 324) -> byte, -1 if none */
static pthread_once_t g2_once = PTHREAD_ONCE_INIT;

static void g2_init(void)
{
    for (int i = 0; i < 324; i++) g2_byte_of[i] = -1;
    int k = 0;
    for (int bb = 0; bb < 256; bb++) {
        int keep = (bb >= 33 && bb <= 126) || (bb >= 161 && bb <= 172) || (bb >= 174 && bb <= 255);
        g2_byte_of[keep ? bb : 256 + k++] = (int16_t)bb;
    }
}

static int unicode_to_byte(int32_t cp)
{
    pthread_once(&g2_once, g2_init);
    return cp >= 0 && cp < 324 ? g2_byte_of[cp] : -1;
}

static int gpt2_piece_bytes(const char *s, ns_buf *out)
{
    out->len = 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return -1;
        int bb = unicode_to_byte(cp);
        if (bb < 0) return -1;
        char ch = (char)bb;
        ns_buf_append(out, &ch, 1);
        i += (size_t)k;
    }
    return 0;
}

int ns_bpe_load_gpt2(ns_bpe **out, const char *vocab_json, const char *merges_txt)
{
    *out = NULL;
    json_error_t je;
    json_t *v = json_load_file(vocab_json, 0, &je);
    if (!v) return ns_err_set_at(NS_EFORMAT, vocab_json, je.line, NULL, NULL, "vocab.json: %s", je.text);
    int rc = NS_OK;
    ns_bpe *b = NULL;
    char *mtxt = NULL;
    ns_strmap *sm = NULL;
    ns_buf tmp;
    ns_buf_init(&tmp);
    char **byid = NULL;
    int n = json_is_object(v) ? (int)json_object_size(v) : 0;
    if (n < 1) {
        rc = ns_err_set_at(NS_EFORMAT, vocab_json, 0, NULL, NULL, "vocab.json must be a non-empty object");
        goto done;
    }
    byid = ns_calloc((size_t)n, sizeof(char *));
    const char *key;
    json_t *val;
    json_object_foreach(v, key, val) {
        json_int_t id = json_integer_value(val);
        if (!json_is_integer(val) || id < 0 || id >= n || byid[id]) {
            rc = ns_err_set_at(NS_EFORMAT, vocab_json, 0, key, NULL, "ids must be unique integers in [0, %d)", n);
            goto done;
        }
        byid[id] = (char *)key;
    }
    b = bpe_alloc(NS_BPE_BYTE, n);
    sm = ns_strmap_new((size_t)n);
    if (!b || !sm) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        ns_strmap_intern(sm, byid[i], strlen(byid[i]));
        int special = byid[i][0] == '<' && byid[i][1] == '|';
        if (special) {
            add_piece(b, byid[i], strlen(byid[i]));
            add_special(b, i);
            if (!strcmp(byid[i], "<|endoftext|>")) b->eos = i;
            continue;
        }
        if (gpt2_piece_bytes(byid[i], &tmp) < 0) {
            rc = ns_err_set_at(NS_EFORMAT, vocab_json, 0, byid[i], NULL, "piece is not in GPT-2's byte alphabet");
            goto done;
        }
        add_piece(b, tmp.data, tmp.len);
        if (tmp.len == 1) b->byte_id[(unsigned char)tmp.data[0]] = i;
    }
    for (int i = 0; i < 256; i++)
        if (b->byte_id[i] < 0) {
            rc = ns_err_set_at(NS_EFORMAT, vocab_json, 0, NULL, NULL, "byte 0x%02x has no token", i);
            goto done;
        }
    size_t ml;
    rc = ns_file_read_all(merges_txt, &mtxt, &ml, 256u << 20);
    if (rc < 0) goto done;
    ns_lines it;
    ns_lines_init(&it, mtxt, ml);
    const char *line;
    size_t ll;
    char a[1024], c[1024];
    while (ns_lines_next(&it, &line, &ll)) {
        if (!ll || (it.lineno == 1 && line[0] == '#')) continue;
        const char *sp = memchr(line, ' ', ll);
        if (!sp || (size_t)(sp - line) >= sizeof a || ll - (size_t)(sp - line) - 1 >= sizeof c) {
            rc = ns_err_set_at(NS_EFORMAT, merges_txt, it.lineno, NULL, NULL, "expected 'a b'");
            goto done;
        }
        size_t la = (size_t)(sp - line), lc = ll - la - 1;
        memcpy(a, line, la);
        a[la] = 0;
        memcpy(c, sp + 1, lc);
        c[lc] = 0;
        char ac[2048];
        snprintf(ac, sizeof ac, "%s%s", a, c);
        int64_t ia = ns_strmap_find(sm, a, la), ic = ns_strmap_find(sm, c, lc), id = ns_strmap_find(sm, ac, la + lc);
        if (ia < 0 || ic < 0 || id < 0) {
            rc = ns_err_set_at(NS_EFORMAT, merges_txt, it.lineno, NULL, a, "merge refers to a piece not in vocab.json");
            goto done;
        }
        if (add_merge(b, (int)ia, (int)ic, (int)id) < 0) {
            rc = NS_ENOMEM;
            goto done;
        }
    }
done:
    ns_buf_release(&tmp);
    ns_strmap_free(sm);
    free(mtxt);
    free(byid);
    json_decref(v);
    if (rc < 0) {
        ns_bpe_free(b);
        return rc;
    }
    *out = b;
    return NS_OK;
}
