/* test_bm25_cranfield.c — BM25 quality on Cranfield (1,400 abstracts, 225
 * queries): nDCG@10 (gain 5 - rel on Cleverdon's 1..4 scale), MAP and
 * Recall@100 (rel 1..4 relevant) of depth-100 runs with k1 1, b 0.5,
 * stemmed title + body. Skips when the data set is absent. Query i in
 * cran.qry is query i in cranqrel (cran.qry's own numbers have gaps).
 *
 * The bars are an independent peer's, not our own output: Xapian's BM25 in
 * the same setting, scored by the same evaluator. docs/BENCHMARKS.md, "BM25
 * on Cranfield against Xapian": `bench/run_index.sh build`, which runs
 * bench/index/bm25_cranfield.sh (python3-xapian 1.4, BM25Weight(1, 0, 1,
 * 0.5, 0.5), `cranfield.py xapian OUT 1 0.5 5`, then `cranfield.py eval` on
 * both engines' runs), run of 2026-11-28 at commit faea7e5:
 *
 *   Xapian      nDCG@10 0.3502   MAP 0.2781   Recall@100 0.7168
 *   northstar   nDCG@10 0.3595   MAP 0.2892   Recall@100 0.7287
 *
 * northstar must be at least as good as Xapian within XAPIAN_TOL, 0.005:
 * room for what two correct BM25s may differ in (ties between equal scores
 * broken in another order, float rounding of the scores, the tokenizers'
 * edge cases), not for a loss of ranking quality. nDCG@10 also keeps
 * the issue's target, 0.357, stricter than Xapian's 0.3502 here; the issue
 * measured Xapian with its own evaluator (gain mapping differs), so its MAP
 * 0.294 and Recall@100 0.728 are not comparable with these and set no bar.
 * The evaluator below is checked against cranfield.py on our own run
 * (evaluator_agrees_with_bench), so our figures and Xapian's above are. */
#include "harness.h"
#include "northstar/bm25.h"

#include <unistd.h>

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

#define XAPIAN_NDCG10 0.3502
#define XAPIAN_MAP 0.2781
#define XAPIAN_RECALL100 0.7168
#define XAPIAN_TOL 0.005
#define ISSUE_NDCG10 0.357

typedef struct { double ndcg, map, r100; } quality;

/* Index Cranfield, run its 225 queries at depth 100 and score them. When
 * trec is non-NULL the run is written there too, in the TREC format
 * cranfield.py eval reads ("qid Q0 doc rank score tag"). */
static quality cranfield_run(const char *trec)
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
    FILE *run = trec ? fopen(trec, "w") : NULL;
    ASSERT(!trec || run);
    for (int q = 1; q <= nq; q++) {
        int n = ns_bm25_search(ix, qs[q - 1].f[1].data, -1, 100, NULL, h);
        ASSERT(n >= 10);
        for (int i = 0; run && i < n; i++)
            fprintf(run, "%d Q0 %u %d %.6f northstar\n", q, (unsigned)h[i].id, i + 1, (double)h[i].score);
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
    if (run) ASSERT_EQ_INT(fclose(run), 0);
    ndcg /= nq;
    map /= nq;
    r100 /= nq;
    printf("  Cranfield BM25 (k1 1, b 0.5): nDCG@10 %.4f  MAP %.4f  Recall@100 %.4f\n", ndcg, map, r100);
    printf("  indexed %d docs in %.3f s, %d queries (k 100) in %.3f s\n", nd, t1 - t0, nq, t2 - t1);
    for (int i = 0; i < nd; i++) ns_buf_release(&docs[i].f[0]), ns_buf_release(&docs[i].f[1]);
    for (int i = 0; i < nq; i++) ns_buf_release(&qs[i].f[0]), ns_buf_release(&qs[i].f[1]);
    free(docs);
    free(qs);
    ns_bm25_free(ix);
    return (quality){ndcg, map, r100};
}

TEST(cranfield_quality)
{
    quality m = cranfield_run(NULL);
    printf("  Xapian (docs/BENCHMARKS.md, same evaluator): nDCG@10 %.4f  MAP %.4f  Recall@100 %.4f; tolerance %.3f\n",
           XAPIAN_NDCG10, XAPIAN_MAP, XAPIAN_RECALL100, XAPIAN_TOL);
    ASSERT_MSG(m.ndcg >= XAPIAN_NDCG10 - XAPIAN_TOL, "nDCG@10 %.4f below Xapian's %.4f - %.3f", m.ndcg, XAPIAN_NDCG10,
               XAPIAN_TOL);
    ASSERT_MSG(m.map >= XAPIAN_MAP - XAPIAN_TOL, "MAP %.4f below Xapian's %.4f - %.3f", m.map, XAPIAN_MAP, XAPIAN_TOL);
    ASSERT_MSG(m.r100 >= XAPIAN_RECALL100 - XAPIAN_TOL, "Recall@100 %.4f below Xapian's %.4f - %.3f", m.r100,
               XAPIAN_RECALL100, XAPIAN_TOL);
    ASSERT_MSG(m.ndcg >= ISSUE_NDCG10, "nDCG@10 %.4f below the issue's target %.3f", m.ndcg, ISSUE_NDCG10);
}

/* The figures above are comparable with Xapian's only if this file scores a
 * run the way bench/index/cranfield.py eval does: score our run with both
 * (qrels from cranfield.py prepare) and compare. */
TEST(evaluator_agrees_with_bench)
{
    const char *py = "/usr/bin/python3";
    if (access(py, X_OK) != 0) SKIP("%s not installed (scripts/install-deps.sh test)", py);
    const char *data = ns_test_data("cranfield"), *run = ns_test_tmpfile("run.northstar");
    quality m = cranfield_run(run);
    char *out = NULL;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s/bench/index/cranfield.py' prepare '%s' '%s' && %s '%s/bench/index/cranfield.py' eval '%s' '%s'", py,
             ns_test_source_dir(), data, ns_test_tmpdir(), py, ns_test_source_dir(), ns_test_tmpfile("qrels.tsv"), run);
    int rc = ns_test_run(cmd, &out);
    printf("%s", out);
    ASSERT_EQ_INT(rc, 0);
    const char *line = strstr(out, "run.northstar\tndcg@10 ");
    ASSERT_MSG(line, "no figures for run.northstar from cranfield.py");
    double nd, map, r100;
    ASSERT_EQ_INT(sscanf(line, "run.northstar\tndcg@10 %lf\tmap %lf\trecall@100 %lf", &nd, &map, &r100), 3);
    free(out);
    /* cranfield.py prints 4 decimals */
    ASSERT_NEAR(m.ndcg, nd, 6e-5);
    ASSERT_NEAR(m.map, map, 6e-5);
    ASSERT_NEAR(m.r100, r100, 6e-5);
}
