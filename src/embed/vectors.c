/*
 * vectors.c — word -> vector tables: the word2vec text and binary files
 * (formats in vec.h), word lookup and cosine neighbours.
 *
 * Workload: tables of 10^4 - 10^6 rows of 50-300 floats, read whole into
 * memory. The reader trusts nothing: every header field, record length and
 * number is checked, and errors name the file and line (text) or record
 * (binary), so a truncated download or a file in the wrong format gets a
 * sentence, never a crash or a silently short table.
 */
#include "embed_int.h"
#include "northstar/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns_vec_free(ns_vectors *v)
{
    if (!v) return;
    free(v->v);
    free(v->unit);
    ns_strmap_free(v->words);
    free(v);
}

static ns_vectors *vec_new(int64_t n, int dim)
{
    ns_vectors *v = ns_calloc(1, sizeof *v);
    if (!v) return NULL;
    v->n = 0;
    v->dim = dim;
    v->v = ns_malloc(sizeof(float) * (size_t)(n ? n : 1) * (size_t)dim);
    v->words = ns_strmap_new((size_t)(n ? n : 1));
    if (!v->v || !v->words) {
        ns_vec_free(v);
        return NULL;
    }
    return v;
}

ns_vectors *ns_w2v_vectors(const ns_w2v_model *m, const ns_w2v_corpus *c, const uint8_t *keep)
{
    int32_t n = c->nwords;
    int dim = ns_w2v_model_dim(m);
    int64_t kept = 0;
    for (int32_t w = 0; w < n; w++) kept += !keep || keep[w];
    ns_vectors *v = vec_new(kept, dim);
    if (!v) return NULL;
    for (int32_t w = 0; w < n; w++) {
        if (keep && !keep[w]) continue;
        size_t len;
        const char *word = ns_strmap_key(c->words, w, &len);
        if (ns_strmap_intern(v->words, word, len) != v->n) {
            ns_vec_free(v);
            return NULL;
        }
        memcpy(v->v + (size_t)v->n * (size_t)dim, ns_w2v_model_row(m, w), sizeof(float) * (size_t)dim);
        v->n++;
    }
    return v;
}

/* ---- writing -------------------------------------------------------------- */

/* x with 7 significant digits (a float's precision: the text round trip is
 * within 5e-7 relative), into p; returns the length. printf("%.7g") spent a
 * fifth of a short training run; this does the common range with integer
 * arithmetic and leaves the rest to snprintf. */
static int format_float(char *p, float f)
{
    static const double p10[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11};
    double x = f, ax = fabs(x);
    if (x == 0) {
        p[0] = '0';
        return 1;
    }
    if (!(ax >= 1e-4 && ax < 1e6)) return snprintf(p, 24, "%.7g", x);
    int e = 0; /* floor(log10(ax)) */
    while (e < 5 && ax >= p10[e + 1]) e++;
    if (ax < 1) {
        e = -1;
        while (ax < 1.0 / p10[-e]) e--;
    }
    int dec = 6 - e; /* decimals for 7 significant digits: 0..10 */
    int64_t v = (int64_t)(ax * p10[dec] + 0.5), scale = (int64_t)p10[dec];
    int64_t ip = v / scale, fp = v % scale;
    char *q = p;
    if (x < 0) *q++ = '-';
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (n) *q++ = tmp[--n];
    if (fp) {
        int d = dec;
        while (fp % 10 == 0) { fp /= 10; d--; }
        *q++ = '.';
        for (int i = d - 1; i >= 0; i--) {
            q[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        q += d;
    }
    return (int)(q - p);
}

int ns_vec_write(const ns_vectors *v, const char *path, int binary)
{
    ns_buf b;
    ns_buf_init(&b);
    int rc = ns_buf_printf(&b, "%lld %d\n", (long long)v->n, v->dim);
    for (int64_t i = 0; i < v->n && rc >= 0; i++) {
        size_t len;
        const char *w = ns_strmap_key(v->words, i, &len);
        const float *row = v->v + (size_t)i * (size_t)v->dim;
        rc = ns_buf_append(&b, w, len);
        if (rc >= 0) rc = ns_buf_append(&b, " ", 1);
        if (rc < 0) break;
        if (binary) {
            /* Little-endian float32, as the machines we run on store them. */
            rc = ns_buf_append(&b, row, sizeof(float) * (size_t)v->dim);
        } else {
            if ((rc = ns_buf_reserve(&b, (size_t)v->dim * 26 + 2)) < 0) break;
            for (int d = 0; d < v->dim; d++) {
                if (d) b.data[b.len++] = ' ';
                b.len += (size_t)format_float(b.data + b.len, row[d]);
            }
            b.data[b.len] = 0;
        }
        if (rc >= 0) rc = ns_buf_append(&b, "\n", 1);
    }
    if (rc >= 0) rc = ns_file_write_atomic(path, b.data, b.len);
    ns_buf_release(&b);
    if (rc < 0) return ns_err_wrap("writing vectors to %s", path);
    return NS_OK;
}

/* ---- reading -------------------------------------------------------------- */

static int parse_header(const char *data, size_t len, const char *name, int64_t *n, int *dim,
                        size_t *body)
{
    const char *nl = memchr(data, '\n', len);
    if (!nl) return ns_err_set_at(NS_EFORMAT, name, 1, NULL, NULL, "no header line ('<count> <dim>')");
    char hdr[128];
    size_t hl = (size_t)(nl - data);
    if (hl >= sizeof hdr) return ns_err_set_at(NS_EFORMAT, name, 1, NULL, NULL, "header line too long: expected '<count> <dim>'");
    memcpy(hdr, data, hl);
    hdr[hl] = 0;
    if (hl && hdr[hl - 1] == '\r') hdr[--hl] = 0;
    long long a, b;
    char extra;
    if (sscanf(hdr, "%lld %lld %c", &a, &b, &extra) != 2)
        return ns_err_set_at(NS_EFORMAT, name, 1, "header", hdr,
                             "expected '<count> <dim>' (word2vec / fastText .vec header)");
    if (a < 0 || a > (1LL << 31))
        return ns_err_set_at(NS_ERANGE, name, 1, "count", hdr, "vector count out of range");
    if (b < 1 || b > 100000)
        return ns_err_set_at(NS_ERANGE, name, 1, "dim", hdr, "dimension must be in [1, 100000]");
    *n = a;
    *dim = (int)b;
    *body = (size_t)(nl - data) + 1;
    return 0;
}

static int add_word(ns_vectors *v, const char *w, size_t len, const char *name, long line)
{
    if (len == 0) return ns_err_set_at(NS_EFORMAT, name, line, NULL, NULL, "empty word");
    int64_t prev = ns_strmap_find(v->words, w, len);
    if (prev >= 0) {
        char shown[128];
        snprintf(shown, sizeof shown, "%.*s", (int)(len < 100 ? len : 100), w);
        return ns_err_set_at(NS_EFORMAT, name, line, "word", shown, "duplicate word (first as vector %lld)",
                             (long long)prev + 1);
    }
    int64_t id = ns_strmap_intern(v->words, w, len);
    if (id < 0) return (int)id;
    return 0;
}

static int read_text(ns_vectors *v, int64_t n, const char *data, size_t len, size_t body,
                     const char *name)
{
    ns_lines it;
    ns_lines_init(&it, data + body, len - body);
    const char *line;
    size_t ll;
    char num[64];
    while (ns_lines_next(&it, &line, &ll)) {
        long lineno = it.lineno + 1;
        while (ll && (line[ll - 1] == ' ' || line[ll - 1] == '\t')) ll--; /* fastText's trailing space */
        if (ll == 0) continue;
        if (v->n == n)
            return ns_err_set_at(NS_EFORMAT, name, lineno, NULL, NULL,
                                 "more vectors than the header's count %lld", (long long)n);
        size_t p = 0;
        while (p < ll && line[p] != ' ' && line[p] != '\t') p++;
        int rc = add_word(v, line, p, name, lineno);
        if (rc < 0) return rc;
        float *row = v->v + (size_t)v->n * (size_t)v->dim;
        int d = 0;
        while (p < ll) {
            while (p < ll && (line[p] == ' ' || line[p] == '\t')) p++;
            if (p == ll) break;
            size_t q = p;
            while (q < ll && line[q] != ' ' && line[q] != '\t') q++;
            if (d == v->dim)
                return ns_err_set_at(NS_EFORMAT, name, lineno, "word", ns_strmap_key(v->words, v->n, NULL),
                                     "more than %d values", v->dim);
            size_t nl = q - p < sizeof num - 1 ? q - p : sizeof num - 1;
            memcpy(num, line + p, nl);
            num[nl] = 0;
            char *end;
            errno = 0;
            float x = strtof(num, &end);
            if (end == num || *end || q - p >= sizeof num || !isfinite(x))
                return ns_err_set_at(NS_EFORMAT, name, lineno, "value", num,
                                     "value %d of '%s' is not a finite number", d + 1,
                                     ns_strmap_key(v->words, v->n, NULL));
            row[d++] = x;
            p = q;
        }
        if (d != v->dim)
            return ns_err_set_at(NS_ETRUNCATED, name, lineno, "word", ns_strmap_key(v->words, v->n, NULL),
                                 "%d values, expected %d (truncated or wrong dimension)", d, v->dim);
        v->n++;
    }
    if (v->n != n)
        return ns_err_set_at(NS_ETRUNCATED, name, it.lineno + 1, NULL, NULL,
                             "truncated: the header announces %lld vectors, the file has %lld",
                             (long long)n, (long long)v->n);
    return 0;
}

static int read_binary(ns_vectors *v, int64_t n, const char *data, size_t len, size_t body,
                       const char *name)
{
    size_t p = body, need = sizeof(float) * (size_t)v->dim;
    for (int64_t i = 0; i < n; i++) {
        while (p < len && (data[p] == '\n' || data[p] == '\r')) p++;
        size_t q = p;
        while (q < len && data[q] != ' ' && q - p < 4096) q++;
        if (q >= len)
            return ns_err_set_at(NS_ETRUNCATED, name, i + 1, NULL, NULL,
                                 "truncated: record %lld of %lld ends inside its word", (long long)i + 1,
                                 (long long)n);
        if (data[q] != ' ')
            return ns_err_set_at(NS_EFORMAT, name, i + 1, NULL, NULL,
                                 "record %lld: word longer than 4096 bytes (not a word2vec binary file?)",
                                 (long long)i + 1);
        int rc = add_word(v, data + p, q - p, name, (long)(i + 1));
        if (rc < 0) return rc;
        q++;
        if (len - q < need)
            return ns_err_set_at(NS_ETRUNCATED, name, i + 1, "word", ns_strmap_key(v->words, v->n, NULL),
                                 "truncated: record %lld of %lld needs %zu bytes of floats, %zu left",
                                 (long long)i + 1, (long long)n, need, len - q);
        float *row = v->v + (size_t)v->n * (size_t)v->dim;
        memcpy(row, data + q, need);
        for (int d = 0; d < v->dim; d++)
            if (!isfinite(row[d]))
                return ns_err_set_at(NS_EFORMAT, name, i + 1, "word", ns_strmap_key(v->words, v->n, NULL),
                                     "value %d is not finite", d + 1);
        v->n++;
        p = q + need;
    }
    while (p < len && (data[p] == '\n' || data[p] == '\r' || data[p] == ' ')) p++;
    if (p != len)
        return ns_err_set_at(NS_EFORMAT, name, n + 1, NULL, NULL,
                             "%zu bytes after the last of the %lld records announced by the header",
                             len - p, (long long)n);
    return 0;
}

/* Text or binary? In the text format the first record is a word and then
 * dim numbers (number characters and at least dim separators) up to the
 * newline; a binary record's floats are raw bytes, which for dim >= 2
 * practically always include some outside that set — and may hold a
 * newline byte early, so a line with too few fields is not text. */
static int looks_text(const char *data, size_t len, size_t body, int dim)
{
    const char *s = data + body, *e = data + len;
    const char *p = s;
    while (p < e && *p != ' ' && *p != '\n') p++;
    int seps = 0;
    for (; p < e && *p != '\n'; p++) {
        if (!strchr("0123456789+-.eEinfaINFA \t\r", *p)) return 0;
        seps += (*p == ' ' || *p == '\t') && p + 1 < e && !strchr(" \t\r\n", p[1]);
    }
    return seps >= dim;
}

int ns_vec_read_memory(ns_vectors **out, const char *data, size_t len, const char *name)
{
    *out = NULL;
    if (len == 0) return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL, "empty file");
    int64_t n = 0;
    int dim = 0;
    size_t body = 0;
    int rc = parse_header(data, len, name, &n, &dim, &body);
    if (rc < 0) return rc;
    if (n == 0) return ns_err_set_at(NS_EFORMAT, name, 1, NULL, NULL, "the header announces 0 vectors");
    /* Guard the allocation against a lying header. */
    if ((double)n * (double)(dim + 1) > (double)len + 64)
        return ns_err_set_at(NS_ETRUNCATED, name, 1, NULL, NULL,
                             "truncated: the header announces %lld vectors of %d, more than a %zu-byte "
                             "file can hold", (long long)n, dim, len);
    ns_vectors *v = vec_new(n, dim);
    if (!v) return NS_ENOMEM;
    rc = looks_text(data, len, body, dim) ? read_text(v, n, data, len, body, name)
                                          : read_binary(v, n, data, len, body, name);
    if (rc < 0) {
        ns_vec_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int ns_vec_read(ns_vectors **out, const char *path)
{
    char *data;
    size_t len;
    *out = NULL;
    int rc = ns_file_read_all(path, &data, &len, 0);
    if (rc < 0) return rc;
    rc = ns_vec_read_memory(out, data, len, path);
    free(data);
    return rc;
}

/* ---- lookup and neighbours ------------------------------------------------ */

int64_t ns_vec_find(const ns_vectors *v, const char *word)
{
    return ns_strmap_find(v->words, word, strlen(word));
}

static int first_token(const char *tok, size_t len, size_t off, void *ctx)
{
    (void)off;
    char *dst = ctx;
    if (dst[0]) return 1; /* a second token: not one word */
    if (len > 255) len = 255;
    memcpy(dst, tok, len);
    dst[len] = 0;
    return 0;
}

int64_t ns_vec_lookup(const ns_vectors *v, const char *word)
{
    int64_t i = ns_vec_find(v, word);
    if (i >= 0) return i;
    ns_tokenizer *tk = ns_tokenizer_new(NULL);
    if (!tk) return -1;
    char norm[256] = {0};
    long r = ns_tokenize(tk, word, strlen(word), first_token, norm);
    ns_tokenizer_free(tk);
    if (r != 1 || !norm[0]) return -1;
    return ns_vec_find(v, norm);
}

int ns_vec_normalize(ns_vectors *v)
{
    if (v->unit) return 0;
    size_t d = (size_t)v->dim;
    float *u = ns_malloc(sizeof(float) * (size_t)(v->n ? v->n : 1) * d);
    if (!u) return NS_ENOMEM;
    for (int64_t i = 0; i < v->n; i++) {
        const float *x = v->v + (size_t)i * d;
        double s = 0;
        for (size_t k = 0; k < d; k++) s += (double)x[k] * x[k];
        float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0.0f;
        for (size_t k = 0; k < d; k++) u[(size_t)i * d + k] = x[k] * inv;
    }
    v->unit = u;
    return 0;
}

int ns_vec_nearest(ns_vectors *v, const float *q, int64_t limit, const int64_t *exclude,
                   int nexclude, int k, int64_t *idx, float *sim)
{
    if (k <= 0) return 0;
    int rc = ns_vec_normalize(v);
    if (rc < 0) return rc;
    size_t d = (size_t)v->dim;
    double qs = 0;
    for (size_t j = 0; j < d; j++) qs += (double)q[j] * q[j];
    float qinv = qs > 0 ? (float)(1.0 / sqrt(qs)) : 0.0f;
    int64_t n = limit > 0 && limit < v->n ? limit : v->n;
    int have = 0;
    for (int64_t i = 0; i < n; i++) {
        int skip = 0;
        for (int e = 0; e < nexclude; e++) skip |= exclude[e] == i;
        if (skip) continue;
        const float *u = v->unit + (size_t)i * d;
        float s = 0;
        for (size_t j = 0; j < d; j++) s += u[j] * q[j];
        s *= qinv;
        if (have == k && s <= sim[k - 1]) continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && sim[p - 1] < s) {
            sim[p] = sim[p - 1];
            idx[p] = idx[p - 1];
            p--;
        }
        sim[p] = s;
        idx[p] = i;
    }
    return have;
}

int ns_vec_analogy(ns_vectors *v, const char *a, const char *b, const char *c, int k,
                   int64_t *idx, float *sim)
{
    const char *w[3] = {a, b, c};
    int64_t r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = ns_vec_lookup(v, w[i]);
        if (r[i] < 0)
            return ns_err_set_at(NS_ENOTFOUND, NULL, 0, "word", w[i], "'%s' is not in the vocabulary", w[i]);
    }
    int rc = ns_vec_normalize(v);
    if (rc < 0) return rc;
    size_t d = (size_t)v->dim;
    float *q = ns_malloc(sizeof(float) * d);
    if (!q) return NS_ENOMEM;
    for (size_t j = 0; j < d; j++)
        q[j] = v->unit[(size_t)r[1] * d + j] - v->unit[(size_t)r[0] * d + j] + v->unit[(size_t)r[2] * d + j];
    int got = ns_vec_nearest(v, q, 0, r, 3, k, idx, sim);
    free(q);
    return got;
}

int ns_vec_strip_prefix(ns_vectors *v, const char *prefix)
{
    size_t pl = strlen(prefix), d = (size_t)v->dim;
    ns_strmap *m = ns_strmap_new((size_t)(v->n ? v->n : 1));
    if (!m) return NS_ENOMEM;
    int64_t k = 0;
    for (int64_t i = 0; i < v->n; i++) {
        size_t len;
        const char *w = ns_strmap_key(v->words, i, &len);
        if (len <= pl || memcmp(w, prefix, pl)) continue;
        if (ns_strmap_intern(m, w + pl, len - pl) != k) {
            ns_strmap_free(m);
            return ns_err_set(NS_EFORMAT, "'%s' appears twice after removing the prefix '%s'", w + pl, prefix);
        }
        memmove(v->v + (size_t)k * d, v->v + (size_t)i * d, sizeof(float) * d);
        k++;
    }
    ns_strmap_free(v->words);
    v->words = m;
    v->n = k;
    free(v->unit);
    v->unit = NULL;
    return 0;
}
