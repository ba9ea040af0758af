/*
 * reader.c — input formats for the rankers: CSV (RFC 4180 quotes, one line
 * per record) and TSV with or without a header, the UCI Adult files
 * (", " separators, "?" missing, test labels ending in ".", the "|1x3
 * Cross validator" line), and raw Criteo rows (label, I1..I13, C1..C26,
 * tab-separated, empty = missing). Rows are bound to the spec's input
 * columns by name; every problem names file, line and column.
 *
 * Whole files (training, eval) are read into memory and walked twice when
 * the spec is fitted; the streaming reader (predict) uses getline.
 * Empty and blank lines are skipped; a row may lack the label column.
 */
#include "feature_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const adult_cols[] = {
    "age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
    "native-country", "income"};

typedef struct rowctx {
    const ns_feature_spec *s;
    const char *file;
    char sep;
    int quotes;
    char **cols;      /* file columns (owned) */
    int ncols;
    int header_pending;
    int *in_col;      /* [n_inputs] column of each input */
    int label_col, weight_col;
    char *scratch;    /* unescaped, NUL-terminated fields */
    size_t scap;
    const char **fp;
    int *fl;
    int fcap;
    ns_fvalue *vals;  /* [n_inputs] */
} rowctx;

static void ctx_release(rowctx *c)
{
    for (int i = 0; i < c->ncols; i++) free(c->cols[i]);
    free(c->cols);
    free(c->in_col);
    free(c->scratch);
    free(c->fp);
    free(c->fl);
    free(c->vals);
    memset(c, 0, sizeof *c);
}

static int set_cols(rowctx *c, const char *const *names, int n)
{
    c->cols = ns_calloc((size_t)n + 1, sizeof(char *));
    if (!c->cols) return NS_ENOMEM;
    for (int i = 0; i < n; i++)
        if (!(c->cols[i] = ns_strdup(names[i]))) return NS_ENOMEM;
    c->ncols = n;
    return NS_OK;
}

static int find_col(const rowctx *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (!strcmp(c->cols[i], name)) return i;
    return -1;
}

/* Resolve the spec's inputs, label and weight against the column names. */
static int bind(rowctx *c, long line)
{
    const ns_feature_spec *s = c->s;
    for (int i = 0; i < s->n_inputs; i++) {
        c->in_col[i] = find_col(c, s->inputs[i]);
        if (c->in_col[i] < 0)
            return ns_err_set_at(NS_EFORMAT, c->file, line, s->inputs[i], NULL,
                                 "the spec reads column '%s' but the input has no such column (it has %d columns%s%s)",
                                 s->inputs[i], c->ncols, c->ncols ? ", the first is " : "", c->ncols ? c->cols[0] : "");
    }
    c->label_col = s->label_col ? find_col(c, s->label_col) : -1;
    c->weight_col = -1;
    if (s->weight_col && (c->weight_col = find_col(c, s->weight_col)) < 0)
        return ns_err_set_at(NS_EFORMAT, c->file, line, s->weight_col, NULL, "weight column not in the input");
    return NS_OK;
}

static int ctx_init(rowctx *c, const ns_feature_spec *s, const char *file)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    c->file = file;
    c->in_col = ns_calloc((size_t)s->n_inputs + 1, sizeof(int));
    c->vals = ns_calloc((size_t)s->n_inputs + 1, sizeof(ns_fvalue));
    if (!c->in_col || !c->vals) return NS_ENOMEM;
    int header = s->header;
    switch (s->fmt) {
    case NS_FMT_CSV: c->sep = ','; c->quotes = 1; break;
    case NS_FMT_TSV: c->sep = '\t'; break;
    case NS_FMT_ADULT: c->sep = ','; break;
    case NS_FMT_CRITEO: c->sep = '\t'; break;
    }
    if (header < 0) header = (s->fmt == NS_FMT_CSV || s->fmt == NS_FMT_TSV) && !s->n_columns;
    int rc = NS_OK;
    if (header) {
        c->header_pending = 1;
        return NS_OK;
    }
    if (s->n_columns) rc = set_cols(c, (const char *const *)s->columns, s->n_columns);
    else if (s->fmt == NS_FMT_ADULT) rc = set_cols(c, adult_cols, 15);
    else if (s->fmt == NS_FMT_CRITEO) {
        char names[40][8];
        const char *p[40];
        snprintf(names[0], 8, "label");
        for (int i = 1; i <= 13; i++) snprintf(names[i], 8, "I%d", i);
        for (int i = 1; i <= 26; i++) snprintf(names[13 + i], 8, "C%d", i);
        for (int i = 0; i < 40; i++) p[i] = names[i];
        rc = set_cols(c, p, 40);
    } else
        return ns_err_set_at(NS_EINVAL, file, 0, "columns", NULL,
                             "the spec says there is no header but gives no \"columns\"");
    if (rc < 0) return rc;
    return bind(c, 0);
}

/* Split a line into fields (NUL-terminated copies in scratch, trimmed of
 * spaces; CSV quotes undone). Returns the field count or an error. */
static int split(rowctx *c, const char *line, size_t len, long lineno)
{
    if (len + 1 > c->scap) {
        size_t nc = (len + 1) * 2;
        char *p = ns_realloc(c->scratch, nc);
        if (!p) return NS_ENOMEM;
        c->scratch = p;
        c->scap = nc;
    }
    char *out = c->scratch;
    const char *p = line, *e = line + len;
    int n = 0;
    for (;;) {
        if (n == c->fcap) {
            int nc = c->fcap ? c->fcap * 2 : 64;
            const char **fp = ns_realloc(c->fp, sizeof *fp * (size_t)nc);
            if (!fp) return NS_ENOMEM;
            c->fp = fp;
            int *fl = ns_realloc(c->fl, sizeof *fl * (size_t)nc);
            if (!fl) return NS_ENOMEM;
            c->fl = fl;
            c->fcap = nc;
        }
        while (p < e && *p == ' ' && c->sep != ' ') p++;
        char *start = out;
        if (c->quotes && p < e && *p == '"') {
            p++;
            for (;;) {
                if (p >= e)
                    return ns_err_set_at(NS_EFORMAT, c->file, lineno, n < c->ncols ? c->cols[n] : NULL, NULL,
                                         "unterminated quote in field %d", n + 1);
                if (*p == '"') {
                    if (p + 1 < e && p[1] == '"') {
                        *out++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *out++ = *p++;
            }
            while (p < e && *p == ' ') p++;
            if (p < e && *p != c->sep)
                return ns_err_set_at(NS_EFORMAT, c->file, lineno, n < c->ncols ? c->cols[n] : NULL, NULL,
                                     "text after a closing quote in field %d", n + 1);
        } else {
            const char *q = p < e ? memchr(p, c->sep, (size_t)(e - p)) : NULL;
            if (!q) q = e;
            const char *t = q;
            while (t > p && (t[-1] == ' ' || t[-1] == '\r')) t--;
            memcpy(out, p, (size_t)(t - p));
            out += t - p;
            p = q;
        }
        *out++ = 0;
        c->fp[n] = start;
        c->fl[n] = (int)(out - start - 1);
        n++;
        if (p >= e) break;
        p++; /* the separator */
    }
    return n;
}

static int blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') return 0;
    return 1;
}

static int in_list(char **v, int n, const char *p)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], p)) return 1;
    return 0;
}

/* One line -> c->vals, *y (NaN = no label), *w. Returns 1 for a row,
 * 0 for a skipped line (blank, header, Adult's "|" line), or an error. */
static int process_line(rowctx *c, const char *line, size_t len, long lineno, int need_label, float *y,
                        float *w)
{
    const ns_feature_spec *s = c->s;
    if (blank(line, len)) return 0;
    if (s->fmt == NS_FMT_ADULT && line[0] == '|') return 0;
    int n = split(c, line, len, lineno);
    if (n < 0) return n;
    if (c->header_pending) {
        c->header_pending = 0;
        int rc = set_cols(c, c->fp, n);
        if (rc < 0) return rc;
        rc = bind(c, lineno);
        return rc < 0 ? rc : 0;
    }
    int shift_after = -1; /* a row without the label column */
    if (n != c->ncols) {
        if (n == c->ncols - 1 && c->label_col >= 0 && !need_label) shift_after = c->label_col;
        else {
            char got[32];
            snprintf(got, sizeof got, "%d", n);
            return ns_err_set_at(NS_EFORMAT, c->file, lineno, NULL, got,
                                 "expected %d columns%s, found %d", c->ncols,
                                 c->label_col >= 0 && !need_label ? " (or one fewer without the label)" : "", n);
        }
    }
#define COL(k) ((shift_after >= 0 && (k) > shift_after) ? (k) - 1 : (k))
    for (int i = 0; i < s->n_inputs; i++) {
        int k = COL(c->in_col[i]);
        c->vals[i].str = c->fp[k];
        c->vals[i].len = c->fl[k];
    }
    *y = NAN;
    if (c->label_col >= 0 && shift_after < 0) {
        const char *lv = c->fp[c->label_col];
        if (s->n_pos || s->n_neg) {
            if (in_list(s->pos, s->n_pos, lv)) *y = 1;
            else if (in_list(s->neg, s->n_neg, lv)) *y = 0;
            else if (!ns__is_na(s, lv, c->fl[c->label_col]) || need_label)
                return ns_err_set_at(NS_EFORMAT, c->file, lineno, s->label_col, lv,
                                     "label is neither a positive (%s...) nor a negative (%s...) value",
                                     s->n_pos ? s->pos[0] : "-", s->n_neg ? s->neg[0] : "-");
        } else if (!ns__is_na(s, lv, c->fl[c->label_col])) {
            char *end;
            double v = strtod(lv, &end);
            if (end == lv || *end || !isfinite(v))
                return ns_err_set_at(NS_EFORMAT, c->file, lineno, s->label_col, lv, "label is not a number");
            *y = v > 0.5 ? 1.0f : 0.0f;
        }
    }
    if (need_label && isnan(*y))
        return ns_err_set_at(NS_EFORMAT, c->file, lineno, s->label_col ? s->label_col : "label", NULL,
                             s->label_col ? "missing label" : "the spec names no label column");
    *w = 1;
    if (c->weight_col >= 0) {
        const char *wv = c->fp[COL(c->weight_col)];
        char *end;
        double v = strtod(wv, &end);
        if (end == wv || *end || !isfinite(v) || v < 0)
            return ns_err_set_at(NS_EFORMAT, c->file, lineno, s->weight_col, wv,
                                 "weight must be a finite number >= 0");
        *w = (float)v;
    }
#undef COL
    return 1;
}

int ns_fdata_read_file(ns_feature_spec *s, const char *path, int fit, int need_label, ns_fdata *d)
{
    memset(d, 0, sizeof *d);
    char *buf = NULL;
    size_t len;
    int rc = ns_file_read_all(path, &buf, &len, 0);
    if (rc < 0) return rc;
    rowctx c;
    ns__facc *accs = NULL;
    long rows = 0;
    for (int pass = fit ? 0 : 1; pass < 2; pass++) {
        if ((rc = ctx_init(&c, s, path)) < 0) goto done;
        if (pass == 0 && (rc = ns__fspec_fit_begin(s, &accs)) < 0) goto done;
        if (pass == 1 && (rc = ns_fdata_init(d, s)) < 0) goto done;
        ns_lines it;
        ns_lines_init(&it, buf, len);
        const char *line;
        size_t ll;
        rows = 0;
        while (ns_lines_next(&it, &line, &ll)) {
            float y, w;
            rc = process_line(&c, line, ll, it.lineno, need_label, &y, &w);
            if (rc < 0) goto done;
            if (rc == 0) continue;
            rows++;
            if (pass == 0) rc = ns__fspec_fit_row(s, accs, c.vals, path, it.lineno);
            else rc = ns__fspec_encode_at(s, c.vals, y, w, d, path, it.lineno);
            if (rc < 0) goto done;
        }
        if (c.header_pending) {
            rc = ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "empty input: no header line");
            goto done;
        }
        if (rows == 0) {
            rc = ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no data rows");
            goto done;
        }
        if (pass == 0) {
            s->fitted_rows = rows;
            rc = ns__fspec_fit_end(s, accs);
            accs = NULL;
            if (rc < 0) goto done;
        }
        ctx_release(&c);
    }
    rc = NS_OK;
done:
    if (accs) ns__fspec_fit_abort(s, accs);
    if (rc < 0) {
        ctx_release(&c);
        ns_fdata_release(d);
    }
    free(buf);
    return rc;
}

/* ---- streaming ------------------------------------------------------------ */

struct ns_freader {
    rowctx c;
    FILE *fp;
    int own;
    char *line;
    size_t lcap;
    long lineno;
};

int ns_freader_open(ns_freader **out, const ns_feature_spec *s, const char *path)
{
    *out = NULL;
    if (!s->fitted) return ns_err_set(NS_EINVAL, "the feature spec is not fitted");
    ns_freader *r = ns_calloc(1, sizeof *r);
    if (!r) return NS_ENOMEM;
    int use_stdin = !strcmp(path, "-");
    r->fp = use_stdin ? stdin : fopen(path, "rb");
    r->own = !use_stdin;
    if (!r->fp) {
        free(r);
        return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot open: %s", strerror(errno));
    }
    int rc = ctx_init(&r->c, s, use_stdin ? "<stdin>" : path);
    if (rc < 0) {
        ns_freader_close(r);
        return rc;
    }
    *out = r;
    return NS_OK;
}

void ns_freader_close(ns_freader *r)
{
    if (!r) return;
    if (r->own && r->fp) fclose(r->fp);
    ctx_release(&r->c);
    free(r->line);
    free(r);
}

int ns_freader_next(ns_freader *r, ns_fdata *d, const char **raw, size_t *raw_len)
{
    for (;;) {
        ssize_t n = getline(&r->line, &r->lcap, r->fp);
        if (n < 0) {
            if (ferror(r->fp)) return ns_err_set_at(NS_EIO, r->c.file, r->lineno, NULL, NULL, "read error");
            return 0;
        }
        r->lineno++;
        while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r')) r->line[--n] = 0;
        float y, w;
        int rc = process_line(&r->c, r->line, (size_t)n, r->lineno, 0, &y, &w);
        if (rc < 0) return rc;
        if (rc == 0) continue;
        rc = ns__fspec_encode_at(r->c.s, r->c.vals, y, w, d, r->c.file, r->lineno);
        if (rc < 0) return rc;
        if (raw) *raw = r->line;
        if (raw_len) *raw_len = (size_t)n;
        return 1;
    }
}
