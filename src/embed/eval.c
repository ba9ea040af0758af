/*
 * eval.c — intrinsic evaluation of word vectors, the way the word2vec
 * literature and gensim score them, so that our vectors and the peers'
 * (.vec / .bin files) are scored by the same code:
 *   - word-pair similarity (WordSim-353, SimLex-999): Spearman between the
 *     human scores and the cosines, pairs with an unknown word left out and
 *     counted (coverage);
 *   - questions-words analogies: 3CosAdd over the `restrict` most frequent
 *     rows (gensim's restrict_vocab = 30000), question words excluded,
 *     questions with a word outside those rows left out and counted.
 * Workload: 19,544 analogy questions against 30k rows of 100-300 floats,
 * run as blocks of 256 queries times the table (one GEMM per block).
 */
#include "embed_int.h"
#include "northstar/tensor.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct { double v; int i; } vi;

static int by_v(const void *a, const void *b)
{
    const vi *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* r[i] = rank of x[i] (1-based), ties get their average rank. */
static int ranks(const double *x, int n, double *r)
{
    vi *t = ns_malloc(sizeof *t * (size_t)n);
    if (!t) return NS_ENOMEM;
    for (int i = 0; i < n; i++) t[i] = (vi){x[i], i};
    qsort(t, (size_t)n, sizeof *t, by_v);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v) j++;
        double avg = (i + j) / 2.0 + 1.0;
        for (int q = i; q <= j; q++) r[t[q].i] = avg;
        i = j + 1;
    }
    free(t);
    return 0;
}

double ns_spearman(const double *x, const double *y, int n)
{
    if (n < 2) return NAN;
    double *rx = ns_malloc(sizeof *rx * (size_t)n), *ry = ns_malloc(sizeof *ry * (size_t)n);
    double res = NAN;
    if (rx && ry && ranks(x, n, rx) == 0 && ranks(y, n, ry) == 0) {
        double mx = 0, my = 0;
        for (int i = 0; i < n; i++) {
            mx += rx[i];
            my += ry[i];
        }
        mx /= n;
        my /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++) {
            sxy += (rx[i] - mx) * (ry[i] - my);
            sxx += (rx[i] - mx) * (rx[i] - mx);
            syy += (ry[i] - my) * (ry[i] - my);
        }
        if (sxx > 0 && syy > 0) res = sxy / sqrt(sxx * syy);
    }
    free(rx);
    free(ry);
    return res;
}

/* Split a line at tabs or commas (CSV without quotes: the files we read). */
static int split_fields(char *s, char **f, int max)
{
    int n = 0;
    char *p = s;
    while (n < max) {
        f[n++] = p;
        char *q = p + strcspn(p, "\t,");
        if (!*q) break;
        *q = 0;
        p = q + 1;
    }
    for (int i = 0; i < n; i++) { /* trim */
        while (*f[i] == ' ') f[i]++;
        size_t l = strlen(f[i]);
        while (l && (f[i][l - 1] == ' ' || f[i][l - 1] == '\r')) f[i][--l] = 0;
    }
    return n;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!*s) return 0;
    double x = strtod(s, &end);
    if (*end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static float cosine(const ns_vectors *v, int64_t a, int64_t b)
{
    const float *x = v->unit + (size_t)a * (size_t)v->dim, *y = v->unit + (size_t)b * (size_t)v->dim;
    float s = 0;
    for (int d = 0; d < v->dim; d++) s += x[d] * y[d];
    return s;
}

/* Read an evaluation set and make sure the table has unit rows. */
static int open_set(ns_vectors *v, const char *path, char **data, size_t *len)
{
    int rc = ns_file_read_all(path, data, len, 64u << 20);
    if (rc < 0) return rc;
    if ((rc = ns_vec_normalize(v)) < 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int ns_vec_eval_wordsim(ns_vectors *v, const char *path, ns_wordsim_result *r)
{
    memset(r, 0, sizeof *r);
    r->spearman = NAN;
    char *data;
    size_t len;
    int rc = open_set(v, path, &data, &len);
    if (rc < 0) return rc;
    double *hum = NULL, *cos = NULL;
    int cap = 0, col = 2;
    ns_lines it;
    ns_lines_init(&it, data, len);
    const char *line;
    size_t ll;
    char buf[1024];
    while (ns_lines_next(&it, &line, &ll)) {
        if (ll == 0 || line[0] == '#') continue;
        if (ll >= sizeof buf) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "line longer than %zu bytes", sizeof buf);
            goto done;
        }
        memcpy(buf, line, ll);
        buf[ll] = 0;
        char *f[16];
        int nf = split_fields(buf, f, 16);
        double score;
        if (it.lineno == 1 && (nf <= col || !parse_double(f[col], &score))) {
            /* A header: SimLex-999 names its score column. */
            for (int i = 0; i < nf; i++)
                if (!strcasecmp(f[i], "SimLex999")) col = i;
            continue;
        }
        if (nf <= col) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL,
                               "expected word1, word2 and a score (column %d), found %d fields", col + 1, nf);
            goto done;
        }
        if (!parse_double(f[col], &score)) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, "score", f[col], "score is not a number");
            goto done;
        }
        r->pairs++;
        int64_t a = ns_vec_lookup(v, f[0]), b = ns_vec_lookup(v, f[1]);
        if (a < 0 || b < 0) continue;
        if (r->found == cap) {
            cap = cap ? 2 * cap : 512;
            double *h2 = realloc(hum, sizeof *h2 * (size_t)cap);
            if (h2) hum = h2;
            double *c2 = realloc(cos, sizeof *c2 * (size_t)cap);
            if (c2) cos = c2;
            if (!h2 || !c2) {
                rc = ns_err_set(NS_ENOMEM, "reading %s", path);
                goto done;
            }
        }
        hum[r->found] = score;
        cos[r->found] = cosine(v, a, b);
        r->found++;
    }
    if (r->pairs == 0) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no word pairs found");
        goto done;
    }
    r->spearman = ns_spearman(hum, cos, r->found);
done:
    free(hum);
    free(cos);
    free(data);
    return rc;
}

/* ---- analogies ------------------------------------------------------------ */

typedef struct { int64_t w[4]; int sem; } question;

#define QBLOCK 256

int ns_vec_eval_analogy(ns_vectors *v, const char *path, int64_t restrict_rows,
                        ns_analogy_result *r)
{
    memset(r, 0, sizeof *r);
    char *data;
    size_t len;
    int rc = open_set(v, path, &data, &len);
    if (rc < 0) return rc;
    int64_t R = restrict_rows > 0 && restrict_rows < v->n ? restrict_rows : v->n;
    int d = v->dim;
    question *qs = NULL;
    int nq = 0, cap = 0, section = 0;
    float *Q = NULL, *S = NULL;
    ns_lines it;
    ns_lines_init(&it, data, len);
    const char *line;
    size_t ll;
    char buf[1024];
    while (ns_lines_next(&it, &line, &ll)) {
        if (ll == 0) continue;
        if (line[0] == ':') {
            section++;
            continue;
        }
        if (ll >= sizeof buf) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "line too long");
            goto done;
        }
        memcpy(buf, line, ll);
        buf[ll] = 0;
        char *f[5];
        int nf = 0;
        for (char *tok = strtok(buf, " \t\r"); tok && nf < 5; tok = strtok(NULL, " \t\r")) f[nf++] = tok;
        if (nf != 4) {
            rc = ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "expected 4 words, found %d", nf);
            goto done;
        }
        r->questions++;
        question q;
        q.sem = section >= 1 && section <= 5;
        int ok = 1;
        for (int i = 0; i < 4 && ok; i++) {
            q.w[i] = ns_vec_lookup(v, f[i]);
            ok = q.w[i] >= 0 && q.w[i] < R;
        }
        if (!ok) continue;
        if (nq == cap) {
            cap = cap ? 2 * cap : 1024;
            question *t = realloc(qs, sizeof *t * (size_t)cap);
            if (!t) {
                rc = ns_err_set(NS_ENOMEM, "reading %s", path);
                goto done;
            }
            qs = t;
        }
        qs[nq++] = q;
    }
    if (r->questions == 0) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no analogy questions found");
        goto done;
    }
    Q = ns_malloc(sizeof *Q * QBLOCK * (size_t)d);
    S = ns_malloc(sizeof *S * QBLOCK * (size_t)R);
    if (!Q || !S) {
        rc = NS_ENOMEM;
        goto done;
    }
    for (int q0 = 0; q0 < nq; q0 += QBLOCK) {
        int B = nq - q0 < QBLOCK ? nq - q0 : QBLOCK;
        for (int b = 0; b < B; b++) {
            const question *q = &qs[q0 + b];
            const float *a = v->unit + (size_t)q->w[0] * d, *bb = v->unit + (size_t)q->w[1] * d,
                        *c = v->unit + (size_t)q->w[2] * d;
            for (int j = 0; j < d; j++) Q[(size_t)b * d + j] = bb[j] - a[j] + c[j];
        }
        /* S[B, R] = Q[B, d] . U[R, d]^T */
        ns_gemm(0, 1, B, (int)R, d, 1.0f, Q, d, v->unit, d, 0.0f, S, (int)R);
        for (int b = 0; b < B; b++) {
            const question *q = &qs[q0 + b];
            const float *s = S + (size_t)b * (size_t)R;
            int64_t best = -1;
            float bs = -INFINITY;
            for (int64_t i = 0; i < R; i++)
                if (s[i] > bs && i != q->w[0] && i != q->w[1] && i != q->w[2]) {
                    bs = s[i];
                    best = i;
                }
            int ok = best == q->w[3];
            r->covered++;
            r->correct += ok;
            if (q->sem) {
                r->sem_covered++;
                r->sem_correct += ok;
            }
        }
    }
    r->accuracy = r->covered ? (double)r->correct / r->covered : 0.0;
done:
    free(Q);
    free(S);
    free(qs);
    free(data);
    return rc;
}
