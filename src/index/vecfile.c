/*
 * vecfile.c — read vector files (.npy, .fvecs, text) for the index command
 * and benchmarks (see ns_fvec_read in fvec.h).
 *
 * Why: embeddings arrive from numpy (.npy), from ANN benchmark sets (.fvecs)
 * and from text dumps; all three must be refused cleanly when malformed.
 */
#include "index_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static int read_npy(const char *path, const char *buf, size_t len, float **x, size_t *n, int *dim)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6))
        return ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "not an .npy file (bad magic)");
    int major = (unsigned char)buf[6];
    size_t hl, off;
    if (major == 1) {
        hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
        off = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12) return ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "truncated .npy header");
        hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8) | ((size_t)(unsigned char)buf[10] << 16) |
             ((size_t)(unsigned char)buf[11] << 24);
        off = 12;
    } else {
        return ns_err_set_at(NS_EUNSUPPORTED, path, 0, "version", NULL, ".npy version %d not supported", major);
    }
    if (off + hl > len) return ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "truncated .npy header");
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "%.*s", (int)(hl < sizeof hdr - 1 ? hl : sizeof hdr - 1), buf + off);
    if (!strstr(hdr, "'descr': '<f4'"))
        return ns_err_set_at(NS_EUNSUPPORTED, path, 0, "descr", NULL, ".npy dtype must be float32 ('<f4')");
    if (strstr(hdr, "'fortran_order': True"))
        return ns_err_set_at(NS_EUNSUPPORTED, path, 0, "fortran_order", NULL, ".npy must be C order");
    const char *sh = strstr(hdr, "'shape': (");
    unsigned long long r, c;
    if (!sh || sscanf(sh, "'shape': (%llu, %llu)", &r, &c) != 2)
        return ns_err_set_at(NS_EFORMAT, path, 0, "shape", NULL, ".npy must hold a 2-D array");
    if (c < 1 || c > 65536) return ns_err_set_at(NS_EFORMAT, path, 0, "shape", NULL, "dimension %llu outside 1..65536", c);
    if (r > UINT32_MAX || (len - off - hl) / 4 / c < r)
        return ns_err_set_at(NS_ETRUNCATED, path, 0, "shape", NULL, ".npy data shorter than %llu x %llu floats", r, c);
    *x = malloc(sizeof(float) * r * c + 1);
    if (!*x) return ns_err_set(NS_ENOMEM, "%s: out of memory", path);
    memcpy(*x, buf + off + hl, sizeof(float) * r * c);
    *n = (size_t)r;
    *dim = (int)c;
    return NS_OK;
}

static int read_fvecs(const char *path, const char *buf, size_t len, float **x, size_t *n, int *dim)
{
    if (len < 4) return ns_err_set_at(NS_ETRUNCATED, path, 0, NULL, NULL, "empty .fvecs file");
    int32_t d;
    memcpy(&d, buf, 4);
    if (d < 1 || d > 65536) return ns_err_set_at(NS_EFORMAT, path, 1, "dim", NULL, "record dimension %d outside 1..65536", d);
    size_t rec = 4 + 4 * (size_t)d;
    if (len % rec) return ns_err_set_at(NS_ETRUNCATED, path, (long)(len / rec + 1), NULL, NULL, "file size is not a multiple of the record size %zu", rec);
    size_t rows = len / rec;
    *x = malloc(sizeof(float) * rows * (size_t)d + 1);
    if (!*x) return ns_err_set(NS_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < rows; i++) {
        int32_t di;
        memcpy(&di, buf + i * rec, 4);
        if (di != d) {
            free(*x);
            *x = NULL;
            return ns_err_set_at(NS_EFORMAT, path, (long)i + 1, "dim", NULL, "record has dimension %d, the first has %d", di, d);
        }
        memcpy(*x + i * (size_t)d, buf + i * rec + 4, 4 * (size_t)d);
    }
    *n = rows;
    *dim = d;
    return NS_OK;
}

static int read_text(const char *path, char *buf, size_t len, float **x, uint32_t **ids, size_t *n, int *dim)
{
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *line;
    size_t ll, rows = 0, cap = 0;
    int d = -1;
    float *v = NULL;
    uint32_t *id = NULL;
    char tmp[64];
    while (ns_lines_next(&it, &line, &ll)) {
        size_t p = 0;
        while (p < ll && (line[p] == ' ' || line[p] == '\t')) p++;
        if (p == ll || line[p] == '#') continue;
        if (rows == cap) {
            cap = cap ? 2 * cap : 1024;
            uint32_t *ni = realloc(id, sizeof(uint32_t) * cap);
            if (ni) id = ni;
            float *nv = d > 0 ? realloc(v, sizeof(float) * cap * (size_t)d) : v;
            if (nv) v = nv;
            if (!ni || (d > 0 && !nv)) goto oom;
        }
        int col = 0;
        while (p < ll) {
            size_t q = p;
            while (q < ll && line[q] != ' ' && line[q] != '\t' && line[q] != ',') q++;
            size_t tl = q - p < sizeof tmp - 1 ? q - p : sizeof tmp - 1;
            memcpy(tmp, line + p, tl);
            tmp[tl] = 0;
            char *end;
            errno = 0;
            if (col == 0) {
                unsigned long long u = strtoull(tmp, &end, 10);
                if (*end || errno || u > UINT32_MAX || tmp[0] == '-') {
                    free(v);
                    free(id);
                    return ns_err_set_at(NS_EFORMAT, path, it.lineno, "id", tmp, "expected an id (0..4294967295)");
                }
                id[rows] = (uint32_t)u;
            } else {
                float f = strtof(tmp, &end);
                if (*end || !tl || !isfinite(f)) {
                    free(v);
                    free(id);
                    return ns_err_set_at(NS_EFORMAT, path, it.lineno, "value", tmp, "expected a finite number");
                }
                if (d < 0 && rows == 0) {
                    /* first row: grow a temporary row buffer as we go */
                    float *nv = realloc(v, sizeof(float) * (size_t)col * cap);
                    if (!nv) goto oom;
                    v = nv;
                } else if (col > d) {
                    free(v);
                    free(id);
                    return ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "more than %d values", d);
                }
                v[rows * (size_t)(d > 0 ? d : 0) + (size_t)col - 1] = f;
            }
            col++;
            p = q;
            while (p < ll && (line[p] == ' ' || line[p] == '\t' || line[p] == ',')) p++;
        }
        if (d < 0) {
            d = col - 1;
            if (d < 1 || d > 65536) {
                free(v);
                free(id);
                return ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "a line needs an id and 1..65536 values");
            }
            float *nv = realloc(v, sizeof(float) * cap * (size_t)d);
            if (!nv) goto oom;
            v = nv;
        } else if (col - 1 != d) {
            free(v);
            free(id);
            return ns_err_set_at(NS_EFORMAT, path, it.lineno, NULL, NULL, "%d values, the first line has %d", col - 1, d);
        }
        rows++;
    }
    if (!rows) {
        free(v);
        free(id);
        return ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "no vectors in the file");
    }
    *x = v;
    *ids = id;
    *n = rows;
    *dim = d;
    return NS_OK;
oom:
    free(v);
    free(id);
    return ns_err_set(NS_ENOMEM, "%s: out of memory", path);
}

int ns_fvec_read(const char *path, float **x, uint32_t **ids, size_t *n, int *dim)
{
    *x = NULL;
    *ids = NULL;
    *n = 0;
    *dim = 0;
    char *buf;
    size_t len;
    int rc = ns_file_read_all(path, &buf, &len, (size_t)64 << 30);
    if (rc < 0) return rc;
    if (ends_with(path, ".npy")) rc = read_npy(path, buf, len, x, n, dim);
    else if (ends_with(path, ".fvecs")) rc = read_fvecs(path, buf, len, x, n, dim);
    else rc = read_text(path, buf, len, x, ids, n, dim);
    free(buf);
    if (rc < 0) return rc;
    if (!*ids) {
        if (*n > UINT32_MAX) {
            free(*x);
            *x = NULL;
            return ns_err_set_at(NS_ETOOBIG, path, 0, NULL, NULL, "more than 2^32 vectors");
        }
        *ids = malloc(sizeof(uint32_t) * (*n + 1));
        if (!*ids) {
            free(*x);
            *x = NULL;
            return ns_err_set(NS_ENOMEM, "%s: out of memory", path);
        }
        for (size_t i = 0; i < *n; i++) (*ids)[i] = (uint32_t)i;
    }
    for (size_t i = 0; i < *n * (size_t)*dim; i++)
        if (!isfinite((*x)[i])) {
            long row = (long)(i / (size_t)*dim) + 1;
            free(*x);
            free(*ids);
            *x = NULL;
            *ids = NULL;
            return ns_err_set_at(NS_EFORMAT, path, row, "value", NULL, "vector %ld has a non-finite component", row);
        }
    return NS_OK;
}
