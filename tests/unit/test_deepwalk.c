/* test_deepwalk.c — graph loading (three formats, malformed lines), alias
 * walks, node2vec p/q, walk determinism across thread counts. */
#include "embed/embed_int.h"
#include "harness.h"
#include "northstar/w2v.h"
#include "northstar/graph.h"

static ns_graph *load(const char *text, ns_graph_format f, int directed)
{
    ns_graph_opts o = {f, directed};
    ns_graph *g = NULL;
    if (ns_graph_load_memory(&g, text, strlen(text), "mem.txt", &o) < 0) FAIL("load: %s", ns_err_msg());
    return g;
}

static int32_t node(const ns_graph *g, const char *name)
{
    int64_t id = ns_strmap_find(g->names, name, strlen(name));
    if (id < 0) FAIL("no node %s", name);
    return (int32_t)id;
}

TEST(edges_undirected_merged_sorted)
{
    ns_graph *g = load("# comment\na b\nb c 2.5\n\na b 3\nc,a\n", NS_GRAPH_EDGES, 0);
    ASSERT_EQ_INT(g->n, 3);
    ASSERT_EQ_INT(g->nnz, 6); /* a-b, b-c, c-a both ways; the repeated a b merged */
    ASSERT(g->w != NULL);
    int32_t a = node(g, "a"), b = node(g, "b");
    int64_t lo = g->off[a];
    ASSERT_EQ_INT(g->off[a + 1] - lo, 2);
    ASSERT(g->adj[lo] < g->adj[lo + 1]); /* rows sorted */
    for (int64_t i = lo; i < g->off[a + 1]; i++)
        if (g->adj[i] == b) ASSERT_NEAR(g->w[i], 3.0, 0); /* largest weight kept */
    ns_graph_free(g);
    g = load("a b\nb c\n", NS_GRAPH_EDGES, 1);
    ASSERT_EQ_INT(g->nnz, 2);
    ASSERT(g->w == NULL);
    ASSERT_EQ_INT(g->off[node(g, "c") + 1] - g->off[node(g, "c")], 0);
    ns_graph_free(g);
}

TEST(adjlist_and_interactions)
{
    ns_graph *g = load("1 2 3\n2 1\n3 1\n4\n", NS_GRAPH_ADJLIST, 0);
    ASSERT_EQ_INT(g->n, 4);
    ASSERT_EQ_INT(g->nnz, 4);
    ns_graph_free(g);
    g = load("7\t50\t5\t881250949\n7\t50\t3\t881250950\n8\t7\t1\n", NS_GRAPH_INTERACTIONS, 0);
    ASSERT_EQ_INT(g->n, 4); /* u:7, i:50, u:8, i:7 */
    ASSERT_EQ_INT(g->events, 3);
    int32_t u7 = node(g, "u:7"), i7 = node(g, "i:7"), i50 = node(g, "i:50");
    ASSERT(g->is_item[i7] && g->is_item[i50] && !g->is_item[u7]);
    ASSERT_EQ_INT(g->off[u7 + 1] - g->off[u7], 1);
    ASSERT_NEAR(g->w[g->off[u7]], 8.0, 0); /* repeated interactions add up */
    ns_graph_free(g);
}

TEST(malformed_graph_lines)
{
    struct { const char *text; ns_graph_format f; const char *needle; } bad[] = {
        {"a b\nc\n", NS_GRAPH_EDGES, "mem.txt:2: missing column"},
        {"a b\nc d heavy\n", NS_GRAPH_EDGES, "mem.txt:2: weight 'heavy'"},
        {"a b -1\n", NS_GRAPH_EDGES, "non-negative"},
        {"a b 1 2\n", NS_GRAPH_EDGES, "found 4 fields"},
        {"u i 1 yesterday\n", NS_GRAPH_INTERACTIONS, "timestamp"},
        {"u i nan\n", NS_GRAPH_INTERACTIONS, "weight"},
        {"# only a comment\n\n", NS_GRAPH_EDGES, "no edges"},
        {"", NS_GRAPH_EDGES, "empty"},
        {"a\0b c\n", NS_GRAPH_EDGES, "binary"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_graph_opts o = {bad[i].f, 0};
        ns_graph *g = NULL;
        size_t len = i == 8 ? 6 : strlen(bad[i].text);
        ASSERT_ERR(ns_graph_load_memory(&g, bad[i].text, len, "mem.txt", &o), NS_EFORMAT);
        ASSERT_MSG(strstr(ns_err_msg(), bad[i].needle), "case %zu: '%s' lacks '%s'", i, ns_err_msg(),
                   bad[i].needle);
        ASSERT(g == NULL);
    }
}

/* On a weighted star, first steps from the centre follow the weights. */
TEST(weighted_walks_follow_weights)
{
    ns_graph *g = load("c x 1\nc y 3\nc z 6\n", NS_GRAPH_EDGES, 1);
    ns_walk_opts o = ns_walk_defaults();
    o.walks_per_node = 20000;
    o.length = 2;
    o.threads = 2;
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.min_count = 1;
    co.quiet_progress = 1;
    ns_w2v_corpus *c;
    ASSERT_OK(ns_graph_walks(&c, g, &o, &co));
    long cnt[3] = {0};
    const char *names[3] = {"x", "y", "z"};
    for (int64_t s = 0; s < c->nsent; s++) {
        if (c->sent[s + 1] - c->sent[s] != 2) continue;
        const char *to = ns_strmap_key(c->words, c->tok[c->sent[s] + 1], NULL);
        for (int k = 0; k < 3; k++) cnt[k] += !strcmp(to, names[k]);
    }
    double tot = (double)(cnt[0] + cnt[1] + cnt[2]);
    ASSERT_EQ_INT(tot, 20000);
    ASSERT_NEAR(cnt[0] / tot, 0.1, 0.01);
    ASSERT_NEAR(cnt[1] / tot, 0.3, 0.015);
    ASSERT_NEAR(cnt[2] / tot, 0.6, 0.015);
    ns_w2v_corpus_free(c);
    ns_graph_free(g);
}

/* Fraction of steps that return to the node visited two steps before. */
static double return_rate(const ns_graph *g, double p, double q)
{
    ns_walk_opts o = ns_walk_defaults();
    o.walks_per_node = 50;
    o.length = 20;
    o.p = p;
    o.q = q;
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.min_count = 1;
    co.quiet_progress = 1;
    ns_w2v_corpus *c;
    if (ns_graph_walks(&c, g, &o, &co) < 0) FAIL("%s", ns_err_msg());
    long ret = 0, steps = 0;
    for (int64_t s = 0; s < c->nsent; s++)
        for (int64_t i = c->sent[s] + 2; i < c->sent[s + 1]; i++) {
            steps++;
            ret += c->tok[i] == c->tok[i - 2];
        }
    ns_w2v_corpus_free(c);
    return (double)ret / (double)steps;
}

TEST(node2vec_p_controls_returns)
{
    /* A ring of 30 nodes with chords: degree 4 everywhere. */
    ns_buf b;
    ns_buf_init(&b);
    for (int i = 0; i < 30; i++) ns_buf_printf(&b, "%d %d\n%d %d\n", i, (i + 1) % 30, i, (i + 7) % 30);
    ns_graph *g = load(b.data, NS_GRAPH_EDGES, 0);
    ns_buf_release(&b);
    double low_p = return_rate(g, 0.05, 1), dw = return_rate(g, 1, 1), high_p = return_rate(g, 20, 1);
    printf("  return rate: p=0.05 %.3f, p=1 %.3f, p=20 %.3f\n", low_p, dw, high_p);
    ASSERT_NEAR(dw, 0.25, 0.03); /* uniform over 4 neighbours */
    ASSERT(low_p > 0.8);
    ASSERT(high_p < 0.05);
    ns_graph_free(g);
}

TEST(walks_independent_of_threads)
{
    ns_graph *g = load("a b\nb c\nc d\nd a\na c\ne a\n", NS_GRAPH_EDGES, 0);
    ns_w2v_corpus *c[2];
    for (int t = 0; t < 2; t++) {
        ns_walk_opts o = ns_walk_defaults();
        o.threads = t + 1;
        o.p = 0.5;
        o.q = 2;
        o.seed = 99;
        ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
        co.min_count = 1;
        co.quiet_progress = 1;
        ASSERT_OK(ns_graph_walks(&c[t], g, &o, &co));
    }
    ASSERT_EQ_INT(c[0]->ntok, c[1]->ntok);
    ASSERT_EQ_INT(c[0]->ntok, 5 * 10 * 40);
    ASSERT(memcmp(c[0]->tok, c[1]->tok, sizeof(int32_t) * (size_t)c[0]->ntok) == 0);
    for (int t = 0; t < 2; t++) ns_w2v_corpus_free(c[t]);
    ns_graph_free(g);
}
