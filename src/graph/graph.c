/*
 * graph.c — graphs for random walks: edge lists, adjacency lists and
 * user-item interaction logs read into CSR with per-node alias tables.
 *
 * Workload: 10^4 - 10^7 edges (BlogCatalog: 10,312 nodes, 333,983 edges;
 * MovieLens-100K: 100,000 ratings). Node names are interned (ns_strmap) in
 * first-seen order; arcs are sorted by (source, target), so each row is
 * sorted by target so node2vec can test "is x a neighbour of t" by binary
 * search, and duplicate arcs merged. Every malformed line is an error naming
 * the file, the line and what was wrong with it.
 */
#include "northstar/graph.h"
#include "northstar/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ns_graph_free(ns_graph *g)
{
    if (!g) return;
    free(g->off);
    free(g->adj);
    free(g->w);
    ns_strmap_free(g->names);
    free(g->is_item);
    free(g->alias_thr);
    free(g->alias_j);
    free(g);
}

typedef struct { int32_t src, dst; float w; } arc;

typedef struct {
    arc *a;
    int64_t n, cap;
} arcs;

static int arcs_push(arcs *v, int32_t s, int32_t d, float w)
{
    if (v->n == v->cap) {
        int64_t nc = v->cap ? v->cap * 2 : 1 << 14;
        arc *p = ns_realloc(v->a, sizeof *p * (size_t)nc);
        if (!p) return NS_ENOMEM;
        v->a = p;
        v->cap = nc;
    }
    v->a[v->n++] = (arc){s, d, w};
    return 0;
}

static int node_id(ns_graph *g, uint8_t **kind, int64_t *kind_cap, const char *prefix,
                   const char *s, size_t len, int item, int32_t *out)
{
    char buf[512];
    size_t pl = prefix ? strlen(prefix) : 0;
    if (len + pl >= sizeof buf) len = sizeof buf - pl - 1;
    if (pl) memcpy(buf, prefix, pl);
    memcpy(buf + pl, s, len);
    int64_t id = ns_strmap_intern(g->names, buf, pl + len);
    if (id < 0) return (int)id;
    if (id > INT32_MAX - 1) return ns_err_set(NS_ETOOBIG, "more than 2^31 nodes");
    if (kind) {
        if (id >= *kind_cap) {
            int64_t nc = *kind_cap ? *kind_cap * 2 : 1024;
            while (nc <= id) nc *= 2;
            uint8_t *p = ns_realloc(*kind, (size_t)nc);
            if (!p) return NS_ENOMEM;
            *kind = p;
            *kind_cap = nc;
        }
        (*kind)[id] = (uint8_t)item;
    }
    *out = (int32_t)id;
    return 0;
}

/* Split at spaces, tabs and commas (empty fields collapse). */
static int fields(const char *line, size_t len, const char **f, size_t *fl, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == ',' || line[i] == '\r')) i++;
        if (i == len) break;
        size_t j = i;
        while (j < len && line[j] != ' ' && line[j] != '\t' && line[j] != ',' && line[j] != '\r') j++;
        if (n < max) {
            f[n] = line + i;
            fl[n] = j - i;
        }
        n++;
        i = j;
    }
    return n;
}

static int parse_num(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double x = strtod(buf, &end);
    if (*end || !isfinite(x)) return 0;
    *out = x;
    return 1;
}

static int by_src_dst(const void *a, const void *b)
{
    const arc *x = a, *y = b;
    if (x->src != y->src) return x->src < y->src ? -1 : 1;
    return x->dst < y->dst ? -1 : x->dst > y->dst;
}

static int build_csr(ns_graph *g, arcs *v, int sum_dups)
{
    int32_t n = g->n;
    arc *tmp = v->a;
    qsort(tmp, (size_t)v->n, sizeof *tmp, by_src_dst);
    g->off = ns_calloc((size_t)n + 1, sizeof *g->off);
    g->adj = ns_malloc(sizeof *g->adj * (size_t)(v->n ? v->n : 1));
    g->w = ns_malloc(sizeof *g->w * (size_t)(v->n ? v->n : 1));
    if (!g->off || !g->adj || !g->w) return NS_ENOMEM;
    int64_t m = 0;
    int weighted = 0;
    for (int64_t i = 0; i < v->n; i++) {
        const arc *a = &tmp[i];
        if (m > 0 && i > 0 && tmp[i - 1].src == a->src && g->adj[m - 1] == a->dst) {
            if (sum_dups) g->w[m - 1] += a->w;
            else if (a->w > g->w[m - 1]) g->w[m - 1] = a->w;
        } else {
            g->adj[m] = a->dst;
            g->w[m] = a->w;
            g->off[a->src + 1]++;
            m++;
        }
    }
    for (int32_t i = 0; i < n; i++) g->off[i + 1] += g->off[i];
    g->nnz = m;
    for (int64_t i = 0; i < m; i++) weighted |= g->w[i] != 1.0f;
    if (!weighted) {
        free(g->w);
        g->w = NULL;
        return 0;
    }
    /* Alias tables, one per row. */
    int64_t maxdeg = 0;
    for (int32_t i = 0; i < n; i++)
        if (g->off[i + 1] - g->off[i] > maxdeg) maxdeg = g->off[i + 1] - g->off[i];
    g->alias_thr = ns_malloc(sizeof *g->alias_thr * (size_t)m);
    g->alias_j = ns_malloc(sizeof *g->alias_j * (size_t)m);
    double *wd = ns_malloc(sizeof *wd * (size_t)(maxdeg + 1));
    int32_t *work = ns_malloc(sizeof *work * 2 * (size_t)(maxdeg + 1));
    if (!g->alias_thr || !g->alias_j || !wd || !work) {
        free(wd);
        free(work);
        return NS_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        int64_t a = g->off[i], deg = g->off[i + 1] - a;
        if (!deg) continue;
        for (int64_t k = 0; k < deg; k++) wd[k] = g->w[a + k];
        ns_alias_build(g->alias_thr + a, g->alias_j + a, wd, (int32_t)deg, work);
    }
    free(wd);
    free(work);
    return 0;
}

int ns_graph_load_memory(ns_graph **out, const char *data, size_t len, const char *name,
                         const ns_graph_opts *o)
{
    *out = NULL;
    ns_graph_opts def = {NS_GRAPH_EDGES, 0};
    if (!o) o = &def;
    if (len == 0) return ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL, "empty file");
    int rc = ns_utf8_check_text(data, len, name);
    if (rc < 0) return rc;
    ns_graph *g = ns_calloc(1, sizeof *g);
    arcs v = {0};
    int64_t kind_cap = 0;
    uint8_t **kind = NULL;
    if (!g || !(g->names = ns_strmap_new(1 << 12))) {
        rc = NS_ENOMEM;
        goto done;
    }
    int inter = o->format == NS_GRAPH_INTERACTIONS;
    int directed = o->directed && !inter;
    if (inter) kind = &g->is_item;
    static const char *const expect[] = {"'src dst [weight]'", "'node neighbour...'",
                                         "'user item [weight] [timestamp]'"};
    ns_lines it;
    ns_lines_init(&it, data, len);
    const char *line;
    size_t ll;
    int64_t nlines = 0;
    while (ns_lines_next(&it, &line, &ll)) {
        const char *f[4];
        size_t fl[4];
        if (ll && line[0] == '#') continue;
        int nf = fields(line, ll, f, fl, 4);
        if (nf == 0) continue;
        long ln = it.lineno;
        nlines++;
        if (o->format == NS_GRAPH_ADJLIST) {
            int32_t s = 0, d = 0;
            if ((rc = node_id(g, NULL, NULL, NULL, f[0], fl[0], 0, &s)) < 0) goto done;
            /* Re-split without the field cap: adjacency lines are long. */
            size_t i = (size_t)(f[0] - line) + fl[0];
            while (i < ll) {
                while (i < ll && (line[i] == ' ' || line[i] == '\t' || line[i] == ',' || line[i] == '\r')) i++;
                if (i == ll) break;
                size_t j = i;
                while (j < ll && line[j] != ' ' && line[j] != '\t' && line[j] != ',' && line[j] != '\r') j++;
                if ((rc = node_id(g, NULL, NULL, NULL, line + i, j - i, 0, &d)) < 0) goto done;
                if ((rc = arcs_push(&v, s, d, 1.0f)) < 0) goto done;
                if (!directed && s != d && (rc = arcs_push(&v, d, s, 1.0f)) < 0) goto done;
                i = j;
            }
            continue;
        }
        int maxf = inter ? 4 : 3;
        if (nf < 2) {
            rc = ns_err_set_at(NS_EFORMAT, name, ln, NULL, NULL, "missing column: expected %s, found 1 field",
                               expect[o->format]);
            goto done;
        }
        if (nf > maxf) {
            rc = ns_err_set_at(NS_EFORMAT, name, ln, NULL, NULL, "expected %s, found %d fields",
                               expect[o->format], nf);
            goto done;
        }
        double w = 1.0, ts;
        char shown[64];
        if (nf >= 3 && (!parse_num(f[2], fl[2], &w) || w < 0)) {
            snprintf(shown, sizeof shown, "%.*s", (int)(fl[2] < 60 ? fl[2] : 60), f[2]);
            rc = ns_err_set_at(NS_EFORMAT, name, ln, "weight", shown,
                               "weight must be a non-negative number");
            goto done;
        }
        if (nf == 4 && !parse_num(f[3], fl[3], &ts)) {
            snprintf(shown, sizeof shown, "%.*s", (int)(fl[3] < 60 ? fl[3] : 60), f[3]);
            rc = ns_err_set_at(NS_EFORMAT, name, ln, "timestamp", shown, "timestamp must be a number");
            goto done;
        }
        if (w == 0) continue; /* a zero-weight edge is no edge */
        int32_t s = 0, d = 0;
        if ((rc = node_id(g, kind, &kind_cap, inter ? "u:" : NULL, f[0], fl[0], 0, &s)) < 0) goto done;
        if ((rc = node_id(g, kind, &kind_cap, inter ? "i:" : NULL, f[1], fl[1], 1, &d)) < 0) goto done;
        if ((rc = arcs_push(&v, s, d, (float)w)) < 0) goto done;
        if (!directed && s != d && (rc = arcs_push(&v, d, s, (float)w)) < 0) goto done;
    }
    if (nlines == 0) {
        rc = ns_err_set_at(NS_EFORMAT, name, 0, NULL, NULL, "no edges (only blank or comment lines)");
        goto done;
    }
    g->n = (int32_t)ns_strmap_count(g->names);
    g->events = inter ? nlines : 0;
    if ((rc = build_csr(g, &v, inter)) < 0) goto done;
    *out = g;
    g = NULL;
done:
    free(v.a);
    ns_graph_free(g);
    return rc;
}

int ns_graph_load(ns_graph **out, const char *path, const ns_graph_opts *o)
{
    char *data;
    size_t len;
    *out = NULL;
    int rc = ns_file_read_all(path, &data, &len, 0);
    if (rc < 0) return rc;
    rc = ns_graph_load_memory(out, data, len, path, o);
    free(data);
    return rc;
}
