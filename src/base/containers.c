/*
 * containers.c — the few containers everything above needs: a string
 * interner (vocabularies: word2vec, BM25 terms, feature values), a u64 map
 * (external ids to rows), a growable buffer and a line iterator.
 *
 * The interner stores keys back to back in one byte arena and keeps a
 * power-of-two table of (hash, id) slots probed linearly; it is sized for
 * millions of keys and a lookup costs one XXH3 hash plus ~1 probe.
 */
#include "northstar/base.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

uint64_t ns_hash_bytes(const void *p, size_t len, uint64_t seed) { return XXH3_64bits_withSeed(p, len, seed); }

/* ---- string interner ---------------------------------------------------- */

typedef struct { uint64_t hash; int64_t id; } slot; /* id < 0: empty */

struct ns_strmap {
    slot *slots;
    size_t cap; /* power of two */
    size_t count;
    char *keys; /* key bytes, each followed by NUL */
    size_t keys_len, keys_cap;
    size_t *offs; /* offs[id] = start of key id; offs[count] = end */
    size_t offs_cap;
};

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n) c <<= 1;
    return c;
}

ns_strmap *ns_strmap_new(size_t expected)
{
    ns_strmap *m = ns_calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cap = pow2_at_least(expected * 2);
    m->slots = ns_malloc(sizeof(slot) * m->cap);
    m->offs_cap = expected + 16;
    m->offs = ns_malloc(sizeof(size_t) * m->offs_cap);
    m->keys_cap = (expected + 16) * 8;
    m->keys = ns_malloc(m->keys_cap);
    if (!m->slots || !m->offs || !m->keys) {
        ns_strmap_free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->cap; i++) m->slots[i].id = -1;
    m->offs[0] = 0;
    return m;
}

void ns_strmap_free(ns_strmap *m)
{
    if (!m) return;
    free(m->slots);
    free(m->offs);
    free(m->keys);
    free(m);
}

static int key_eq(const ns_strmap *m, int64_t id, const char *s, size_t len)
{
    size_t a = m->offs[id], b = m->offs[id + 1] - 1; /* minus the NUL */
    return b - a == len && memcmp(m->keys + a, s, len) == 0;
}

int64_t ns_strmap_find(const ns_strmap *m, const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s, len);
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const slot *sl = &m->slots[i];
        if (sl->id < 0) return -1;
        if (sl->hash == h && key_eq(m, sl->id, s, len)) return sl->id;
    }
}

static int grow_table(ns_strmap *m)
{
    size_t ncap = m->cap * 2;
    slot *ns = ns_malloc(sizeof(slot) * ncap);
    if (!ns) return NS_ENOMEM;
    for (size_t i = 0; i < ncap; i++) ns[i].id = -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].id < 0) continue;
        size_t j = (size_t)m->slots[i].hash & (ncap - 1);
        while (ns[j].id >= 0) j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return NS_OK;
}

int64_t ns_strmap_intern(ns_strmap *m, const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s, len);
    size_t mask = m->cap - 1, i;
    for (i = (size_t)h & mask;; i = (i + 1) & mask) {
        const slot *sl = &m->slots[i];
        if (sl->id < 0) break;
        if (sl->hash == h && key_eq(m, sl->id, s, len)) return sl->id;
    }
    /* New key: append bytes and offset, then the slot. */
    if (m->keys_len + len + 1 > m->keys_cap) {
        size_t nc = m->keys_cap * 2;
        while (nc < m->keys_len + len + 1) nc *= 2;
        char *nk = ns_realloc(m->keys, nc);
        if (!nk) return NS_ENOMEM;
        m->keys = nk;
        m->keys_cap = nc;
    }
    if (m->count + 2 > m->offs_cap) {
        size_t nc = m->offs_cap * 2;
        size_t *no = ns_realloc(m->offs, sizeof(size_t) * nc);
        if (!no) return NS_ENOMEM;
        m->offs = no;
        m->offs_cap = nc;
    }
    memcpy(m->keys + m->keys_len, s, len);
    m->keys[m->keys_len + len] = 0;
    m->keys_len += len + 1;
    int64_t id = (int64_t)m->count++;
    m->offs[id + 1] = m->keys_len;
    m->slots[i].hash = h;
    m->slots[i].id = id;
    if (m->count * 2 > m->cap && grow_table(m) < 0) return NS_ENOMEM;
    return id;
}

const char *ns_strmap_key(const ns_strmap *m, int64_t id, size_t *len)
{
    if (id < 0 || (size_t)id >= m->count) return NULL;
    if (len) *len = m->offs[id + 1] - m->offs[id] - 1;
    return m->keys + m->offs[id];
}

size_t ns_strmap_count(const ns_strmap *m) { return m->count; }

/* ---- u64 map -------------------------------------------------------------- */

int ns_u64map_init(ns_u64map *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    m->cap = pow2_at_least(expected * 2);
    m->keys = ns_malloc(sizeof(uint64_t) * m->cap);
    m->vals = ns_malloc(sizeof(uint64_t) * m->cap);
    m->used = ns_calloc(m->cap, 1);
    if (!m->keys || !m->vals || !m->used) {
        ns_u64map_release(m);
        return NS_ENOMEM;
    }
    return NS_OK;
}

void ns_u64map_release(ns_u64map *m)
{
    if (!m) return;
    free(m->keys);
    free(m->vals);
    free(m->used);
    memset(m, 0, sizeof *m);
}

static int u64map_grow(ns_u64map *m)
{
    ns_u64map n;
    if (ns_u64map_init(&n, m->cap) < 0) return NS_ENOMEM; /* doubles: cap = pow2(2 * old) */
    for (size_t i = 0; i < m->cap; i++)
        if (m->used[i]) ns_u64map_put(&n, m->keys[i], m->vals[i]);
    ns_u64map_release(m);
    *m = n;
    return NS_OK;
}

int ns_u64map_put(ns_u64map *m, uint64_t key, uint64_t val)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)ns_hash64(key) & mask;; i = (i + 1) & mask) {
        if (!m->used[i]) {
            m->used[i] = 1;
            m->keys[i] = key;
            m->vals[i] = val;
            m->count++;
            if (m->count * 2 > m->cap) return u64map_grow(m);
            return NS_OK;
        }
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return NS_OK;
        }
    }
}

int ns_u64map_get(const ns_u64map *m, uint64_t key, uint64_t *val)
{
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)ns_hash64(key) & mask;; i = (i + 1) & mask) {
        if (!m->used[i]) return 0;
        if (m->keys[i] == key) {
            if (val) *val = m->vals[i];
            return 1;
        }
    }
}

/* ---- growable buffer --------------------------------------------------------- */

void ns_buf_init(ns_buf *b) { memset(b, 0, sizeof *b); }

void ns_buf_release(ns_buf *b)
{
    if (!b) return;
    free(b->data);
    memset(b, 0, sizeof *b);
}

int ns_buf_reserve(ns_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return NS_OK;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra + 1) nc *= 2;
    char *nd = ns_realloc(b->data, nc);
    if (!nd) return NS_ENOMEM;
    b->data = nd;
    b->cap = nc;
    return NS_OK;
}

int ns_buf_append(ns_buf *b, const void *p, size_t n)
{
    if (ns_buf_reserve(b, n) < 0) return NS_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return NS_OK;
}

int ns_buf_puts(ns_buf *b, const char *s) { return ns_buf_append(b, s, strlen(s)); }

int ns_buf_printf(ns_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ns_buf_reserve(b, (size_t)n) < 0) {
        va_end(ap2);
        return NS_ENOMEM;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
    return NS_OK;
}

int ns_buf_json_str(ns_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (ns_buf_reserve(b, n * 6 + 2) < 0) return NS_ENOMEM;
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = (char)c; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\r') { *o++ = '\\'; *o++ = 'r'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c < 0x20) { memcpy(o, "\\u00", 4); o += 4; *o++ = hex[c >> 4]; *o++ = hex[c & 15]; }
        else if (c < 0x80) *o++ = (char)c;
        else {
            size_t k = ns_utf8_seq(s + i, n - i);
            if (!k) { memcpy(o, "\\ufffd", 6); o += 6; }
            else { memcpy(o, s + i, k); o += k; i += k - 1; }
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
    return NS_OK;
}

int ns_buf_json_num(ns_buf *b, double x, int digits)
{
    if (!isfinite(x)) return ns_buf_append(b, "null", 4);
    return ns_buf_printf(b, "%.*g", digits < 1 ? 1 : digits > 17 ? 17 : digits, x);
}

/* ---- lines ----------------------------------------------------------------- */

void ns_lines_init(ns_lines *it, const char *buf, size_t len)
{
    it->p = buf;
    it->end = buf + len;
    it->lineno = 0;
}

int ns_lines_next(ns_lines *it, const char **line, size_t *len)
{
    if (it->p >= it->end) return 0;
    const char *s = it->p;
    const char *nl = memchr(s, '\n', (size_t)(it->end - s));
    const char *e = nl ? nl : it->end;
    it->p = nl ? nl + 1 : it->end;
    if (e > s && e[-1] == '\r') e--;
    it->lineno++;
    *line = s;
    *len = (size_t)(e - s);
    return 1;
}

int ns_split(char *s, char sep, char **fields, int max)
{
    int n = 0;
    for (;;) {
        char *e = strchr(s, sep);
        if (n < max) fields[n] = s;
        n++;
        if (!e) break;
        *e = 0;
        s = e + 1;
    }
    return n;
}
