/* test_embed_karate.c — DeepWalk on Zachary's karate club: the vectors
 * separate the two factions (leave-one-out 5-nearest-neighbour vote), and
 * two one-thread runs with the same seed give identical vectors. */
#include "harness.h"
#include "northstar/w2v.h"
#include "northstar/vec.h"
#include "northstar/graph.h"

static ns_vectors *karate_vectors(const char *dir, double p, double q, uint64_t seed)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/karate.adjlist", dir);
    ns_graph_opts go = {NS_GRAPH_ADJLIST, 0};
    ns_graph *g;
    ASSERT_OK(ns_graph_load(&g, path, &go));
    ASSERT_EQ_INT(g->n, 34);
    ASSERT_EQ_INT(g->nnz, 156);
    ns_walk_opts wo = ns_walk_defaults();
    wo.p = p;
    wo.q = q;
    wo.seed = seed;
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.min_count = 1;
    co.quiet_progress = 1;
    ns_w2v_corpus *c;
    ASSERT_OK(ns_graph_walks(&c, g, &wo, &co));
    ns_w2v_opts o = ns_w2v_defaults();
    o.dim = 16;
    o.window = 5;
    o.threads = 1;
    o.seed = seed;
    o.alpha = 0.025;
    ns_set_quiet(1);
    ns_w2v_model *m;
    ASSERT_OK(ns_w2v_train(&m, c, &o, NULL));
    ns_vectors *v = ns_w2v_vectors(m, c, NULL);
    ns_w2v_model_free(m);
    ns_w2v_corpus_free(c);
    ns_graph_free(g);
    return v;
}

static double faction_accuracy(ns_vectors *v, const char *dir)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/karate.club.txt", dir);
    char *data;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &data, &len, 0));
    int club[35] = {0};
    ns_lines it;
    ns_lines_init(&it, data, len);
    const char *line;
    size_t ll;
    while (ns_lines_next(&it, &line, &ll)) {
        int node;
        char name[32];
        if (sscanf(line, "%d %31s", &node, name) == 2 && node >= 1 && node <= 34)
            club[node] = strncmp(name, "Mr", 2) == 0 ? 1 : 2;
    }
    free(data);
    int right = 0;
    for (int node = 1; node <= 34; node++) {
        char name[16];
        snprintf(name, sizeof name, "%d", node);
        int64_t row = ns_vec_find(v, name);
        ASSERT(row >= 0 && club[node]);
        int64_t idx[5];
        float sim[5];
        int got = ns_vec_nearest(v, v->v + (size_t)row * v->dim, 0, &row, 1, 5, idx, sim);
        ASSERT_EQ_INT(got, 5);
        int same = 0;
        for (int k = 0; k < 5; k++) same += club[atoi(ns_strmap_key(v->words, idx[k], NULL))] == club[node];
        right += same >= 3;
    }
    return right / 34.0;
}

TEST(deepwalk_separates_factions)
{
    const char *dir = ns_test_data("karate");
    ns_vectors *v = karate_vectors(dir, 1, 1, 3);
    double acc = faction_accuracy(v, dir);
    printf("  DeepWalk: 5-NN faction accuracy %.3f\n", acc);
    ASSERT(acc >= 0.85);
    ns_vectors *w = karate_vectors(dir, 1, 1, 3);
    ASSERT_MSG(memcmp(v->v, w->v, sizeof(float) * (size_t)v->n * v->dim) == 0,
               "two one-thread runs with one seed differ");
    ns_vec_free(v);
    ns_vec_free(w);
}

TEST(node2vec_separates_factions)
{
    const char *dir = ns_test_data("karate");
    ns_vectors *v = karate_vectors(dir, 1, 0.5, 5);
    double acc = faction_accuracy(v, dir);
    printf("  node2vec (p=1, q=0.5): 5-NN faction accuracy %.3f\n", acc);
    ASSERT(acc >= 0.85);
    ns_vec_free(v);
}
