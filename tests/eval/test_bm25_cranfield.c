/* test_bm25_cranfield.c — BM25 quality on Cranfield (1,400 abstracts, 225
 * queries): nDCG@10 (gain 5 - rel on Cleverdon's 1..4 scale), MAP and
 * Recall@100 with k1 1, b 0.5, stemmed title + body, the setting in which
 * Xapian's BM25 was measured at nDCG@10 0.357 (issue 4). Skips when the data
 * set is absent. Query i in cran.qry is query i in cranqrel (cran.qry's own
 * numbers have gaps). */
#include "harness.h"
#include "northstar/bm25.h"

typedef struct { int id; ns_buf f[2]; } rec;

/* SMART format: ".I n" starts a record, ".T" title, ".W" text; .A/.B ignored. */
static rec *smart(const char *path, int *n)
{
    char *buf;
    size_t len;
    if (ns_file_read_all(path, &buf, &len, 0) < 0) FAIL("%s", ns_err_msg());
    rec *r = NULL;
    int cnt = 0, cap = 0, field = -1;
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *l;
    size_t ll;
    while (ns_lines_next(&it, &l, &ll)) {
        if (ll >= 2 && l[0] == '.' && (ll == 2 || l[2] == ' ')) {
            char c = l[1];
            if (c == 'I') {
                if (cnt == cap) r = realloc(r, sizeof *r * (size_t)(cap = cap ? 2 * cap : 256));
                r[cnt].id = atoi(l + 3);
                ns_buf_init(&r[cnt].f[0]);
                ns_buf_init(&r[cnt].f[1]);
                cnt++;
                field = -1;
                continue;
            }
            field = c == 'T' ? 0 : c == 'W' ? 1 : -1;
            continue;
        }
        if (cnt && field >= 0) {
            ns_buf_append(&r[cnt - 1].f[field], l, ll);
            ns_buf_append(&r[cnt - 1].f[field], " ", 1);
        }
    }
    free(buf);
    *n = cnt;
    return r;
}

TEST(cranfield_quality)
{
    const char *dir = ns_test_data("cranfield");
    char p[1024];
    int nd, nq;
    snprintf(p, sizeof p, "%s/cran.all.1400", dir);
    rec *docs = smart(p, &nd);
    snprintf(p, sizeof p, "%s/cran.qry", dir);
    rec *qs = smart(p, &nq);
    ASSERT_EQ_INT(nd, 1400);
    ASSERT_EQ_INT(nq, 225);
    /* qrels: "qid docid rel" */
    static int rel[226][1401];
    memset(rel, 0, sizeof rel);
    snprintf(p, sizeof p, "%s/cranqrel", dir);
    char *qb;
    size_t ql;
    ASSERT_OK(ns_file_read_all(p, &qb, &ql, 0));
    ns_lines it;
    ns_lines_init(&it, qb, ql);
    const char *l;
    size_t ll;
    int nrel[226] = {0};
    while (ns_lines_next(&it, &l, &ll)) {
        int q, d, r;
        if (sscanf(l, "%d %d %d", &q, &d, &r) == 3 && q >= 1 && q <= 225 && d >= 1 && d <= 1400 && r >= 1 && r <= 4) {
            rel[q][d] = 5 - r;
            nrel[q]++;
        }
    }
    free(qb);
    ns_bm25_params bp = ns_bm25_defaults();
    bp.k1 = 1.0f;
    bp.b = 0.5f;
    ns_bm25 *ix;
    ASSERT_OK(ns_bm25_create(&ix, &bp));
    double t0 = ns_now();
    for (int i = 0; i < nd; i++) {
        const char *f[2] = {docs[i].f[0].data, docs[i].f[1].data};
        ASSERT_OK(ns_bm25_add(ix, (uint32_t)docs[i].id, f, NULL));
    }
    double t1 = ns_now();
    double ndcg = 0, map = 0, r100 = 0;
    ns_hit h[100];
    for (int q = 1; q <= nq; q++) {
        int n = ns_bm25_search(ix, qs[q - 1].f[1].data, -1, 100, NULL, h);
        ASSERT(n >= 10);
        double dcg = 0, idcg = 0, ap = 0;
        int hits = 0;
        for (int i = 0; i < n; i++) {
            int g = rel[q][h[i].id];
            if (i < 10) dcg += g / log2(i + 2.0);
            if (g) {
                hits++;
                ap += (double)hits / (i + 1);
            }
        }
        int gains[1401], ng = 0;
        for (int d = 1; d <= 1400; d++)
            if (rel[q][d]) gains[ng++] = rel[q][d];
        for (int i = 0; i < ng; i++) /* sort descending (tiny) */
            for (int j = i + 1; j < ng; j++)
                if (gains[j] > gains[i]) {
                    int t = gains[i];
                    gains[i] = gains[j];
                    gains[j] = t;
                }
        for (int i = 0; i < ng && i < 10; i++) idcg += gains[i] / log2(i + 2.0);
        ndcg += idcg > 0 ? dcg / idcg : 0;
        map += nrel[q] ? ap / nrel[q] : 0;
        r100 += nrel[q] ? (double)hits / nrel[q] : 0;
    }
    double t2 = ns_now();
    ndcg /= nq;
    map /= nq;
    r100 /= nq;
    printf("  Cranfield BM25 (k1 1, b 0.5): nDCG@10 %.4f  MAP %.4f  Recall@100 %.4f\n", ndcg, map, r100);
    printf("  indexed %d docs in %.3f s, %d queries (k 100) in %.3f s\n", nd, t1 - t0, nq, t2 - t1);
    ASSERT_MSG(ndcg >= 0.357, "nDCG@10 %.4f below Xapian's 0.357", ndcg);
    ASSERT(map >= 0.28);
    ASSERT(r100 >= 0.72);
    for (int i = 0; i < nd; i++) ns_buf_release(&docs[i].f[0]), ns_buf_release(&docs[i].f[1]);
    for (int i = 0; i < nq; i++) ns_buf_release(&qs[i].f[0]), ns_buf_release(&qs[i].f[1]);
    free(docs);
    free(qs);
    ns_bm25_free(ix);
}
