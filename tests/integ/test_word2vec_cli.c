/* test_word2vec_cli.c — `northstar word2vec` and `northstar deepwalk` end to
 * end: train, query, evaluate, --help, and bad input (empty or binary text,
 * bad graph lines, an unknown query word, a truncated vectors file)
 * answered with a message naming file, line and problem. */
#include "integ_harness.h"

#include <jansson.h>
#include "northstar/vec.h"

static void write_file(const char *path, const char *data, size_t len)
{
    ASSERT_OK(ns_file_write_atomic(path, data, len));
}

static const char *topics_file(void)
{
    const char *path = ns_test_tmpfile("topics.txt");
    ns_buf b;
    ns_buf_init(&b);
    ns_rng r;
    ns_rng_seed(&r, 4, 0);
    const char *A[] = {"apple", "pear", "plum", "fig", "grape", "melon", "peach", "lime"};
    const char *B[] = {"engine", "wheel", "brake", "gear", "piston", "clutch", "valve", "axle"};
    for (int s = 0; s < 2000; s++) {
        const char **t = ns_rng_below(&r, 2) ? A : B;
        for (int i = 0; i < 10; i++) ns_buf_printf(&b, "%s%s", i ? " " : "", t[ns_rng_below(&r, 8)]);
        ns_buf_puts(&b, "\n");
    }
    write_file(path, b.data, b.len);
    ns_buf_release(&b);
    return path;
}

/* run(&out, "args %s", ...): "<northstar> <args>" with stdout+stderr in
 * out; returns the exit status (integ_harness.h). */
#define run cli_run

TEST(train_similar_analogy_eval)
{
    const char *corpus = topics_file();
    const char *txt = ns_test_tmpfile("v.txt"), *bin = ns_test_tmpfile("v.bin");
    char *out = NULL;
    ASSERT_EQ_INT(run(&out, "word2vec train -j 1 --dim 16 --epochs 3 --sample 0 -o %s %s", txt, corpus), 0);
    ASSERT(strstr(out, "words/s"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec train --cbow -j 2 --dim 16 --epochs 3 -o %s %s", bin, corpus), 0);
    free(out);
    ns_vectors *v;
    ASSERT_OK(ns_vec_read(&v, bin));
    ASSERT_EQ_INT(v->n, 16);
    ns_vec_free(v);
    ASSERT_EQ_INT(run(&out, "word2vec similar -k 3 %s Apple", txt), 0);
    /* The three neighbours of apple are fruit. */
    const char *p = strstr(out, "apple:");
    ASSERT(p);
    int fruit = 0;
    const char *A[] = {"pear", "plum", "fig", "grape", "melon", "peach", "lime"};
    for (int i = 0; i < 7; i++) fruit += strstr(p, A[i]) != NULL;
    ASSERT_EQ_INT(fruit, 3);
    free(out);
    /* --json: the same neighbours, one object a line */
    ASSERT_EQ_INT(run(&out, "word2vec similar -k 3 --json %s Apple 2>/dev/null", txt), 0);
    json_error_t je;
    json_t *j = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    ASSERT_MSG(j, "not JSON: %s", out);
    ASSERT_STREQ(json_string_value(json_object_get(j, "word")), "apple");
    json_t *nb = json_object_get(j, "neighbours");
    ASSERT_EQ_INT(json_array_size(nb), 3);
    fruit = 0;
    for (size_t i = 0; i < 3; i++) {
        const char *w = json_string_value(json_object_get(json_array_get(nb, i), "word"));
        double c = json_number_value(json_object_get(json_array_get(nb, i), "cosine"));
        ASSERT(w && c > -1.0001 && c < 1.0001);
        for (int k = 0; k < 7; k++) fruit += !strcmp(w, A[k]);
    }
    ASSERT_EQ_INT(fruit, 3);
    json_decref(j);
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec analogy %s engine wheel pear", txt), 0);
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec analogy -k 2 --json %s engine wheel pear 2>/dev/null", txt), 0);
    j = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    ASSERT_MSG(j, "not JSON: %s", out);
    ASSERT_STREQ(json_string_value(json_object_get(j, "c")), "pear");
    ASSERT_EQ_INT(json_array_size(json_object_get(j, "answers")), 2);
    json_decref(j);
    free(out);
    const char *ws = ns_test_tmpfile("pairs.csv");
    const char pairs[] = "Word 1,Word 2,Human (mean)\r\napple,pear,9\r\napple,engine,1\r\ngear,piston,8\r\n"
                         "plum,valve,0.5\r\nfig,zebra,5\r\n";
    write_file(ws, pairs, sizeof pairs - 1);
    ASSERT_EQ_INT(run(&out, "word2vec eval --json --wordsim %s %s %s", ws, txt, bin), 0);
    ASSERT(strstr(out, "\"wordsim353_found\":4,\"wordsim353_pairs\":5"));
    ASSERT(strstr(out, "\"wordsim353\":1,") || strstr(out, "\"wordsim353\":0.8"));
    free(out);
}

TEST(help_and_usage_errors)
{
    char *out = NULL;
    ASSERT_EQ_INT(run(&out, "word2vec --help"), 0);
    ASSERT(strstr(out, "--negative"));
    free(out);
    ASSERT_EQ_INT(run(&out, "deepwalk --help"), 0);
    ASSERT(strstr(out, "--items-only"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec train x.txt"), 2);
    ASSERT(strstr(out, "-o OUT"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec train --dim zero -o x x"), 2);
    ASSERT(strstr(out, "--dim"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec fly"), 2);
    free(out);
    ASSERT_EQ_INT(run(&out, "deepwalk --items-only -o x y"), 2);
    free(out);
}

TEST(bad_text_input)
{
    char *out = NULL;
    const char *empty = ns_test_tmpfile("empty.txt"), *bin = ns_test_tmpfile("blob.bin");
    write_file(empty, "", 0);
    const char blob[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    write_file(bin, blob, sizeof blob - 1);
    const char *o = ns_test_tmpfile("o.txt");
    ASSERT_EQ_INT(run(&out, "word2vec train -o %s %s", o, empty), 1);
    ASSERT(strstr(out, "empty.txt") && strstr(out, "empty file"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec train -o %s %s", o, bin), 1);
    ASSERT(strstr(out, "blob.bin") && strstr(out, "binary"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec train -o %s /nonexistent/file.txt", o), 1);
    ASSERT(strstr(out, "/nonexistent/file.txt"));
    free(out);
    ASSERT(!ns_file_exists(o));
}

TEST(unknown_word_and_truncated_vectors)
{
    char *out = NULL;
    const char *corpus = topics_file(), *v = ns_test_tmpfile("v.bin"), *cut = ns_test_tmpfile("cut.bin");
    ASSERT_EQ_INT(run(&out, "word2vec train -q -j 1 --dim 8 --epochs 1 -o %s %s", v, corpus), 0);
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec similar %s zebra", v), 1);
    ASSERT(strstr(out, "'zebra' is not in the vocabulary"));
    free(out);
    ASSERT_EQ_INT(run(&out, "word2vec analogy %s apple pear zebra", v), 1);
    ASSERT(strstr(out, "zebra"));
    free(out);
    char *data;
    size_t len;
    ASSERT_OK(ns_file_read_all(v, &data, &len, 0));
    write_file(cut, data, len - 20);
    free(data);
    ASSERT_EQ_INT(run(&out, "word2vec similar %s apple", cut), 1);
    ASSERT(strstr(out, "cut.bin") && strstr(out, "truncated"));
    free(out);
    const char *ws = ns_test_tmpfile("ws.tab");
    write_file(ws, "apple\tpear\t9\n", 13);
    ASSERT_EQ_INT(run(&out, "word2vec eval --wordsim %s %s", ws, cut), 1);
    ASSERT(strstr(out, "truncated"));
    free(out);
}

TEST(deepwalk_edges_and_interactions)
{
    char *out = NULL;
    const char *edges = ns_test_tmpfile("g.txt"), *log = ns_test_tmpfile("log.tsv");
    const char *vo = ns_test_tmpfile("g.vec"), *io = ns_test_tmpfile("items.vec");
    ns_buf b;
    ns_buf_init(&b);
    /* Two 6-cliques joined by one edge. */
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < 6; i++)
            for (int j = i + 1; j < 6; j++) ns_buf_printf(&b, "%c%d %c%d\n", 'a' + c, i, 'a' + c, j);
    ns_buf_puts(&b, "a0 b0\n");
    write_file(edges, b.data, b.len);
    ns_buf_release(&b);
    ASSERT_EQ_INT(run(&out, "deepwalk -j 1 --dim 8 --window 3 -o %s %s", vo, edges), 0);
    ASSERT(strstr(out, "12 nodes"));
    free(out);
    ASSERT_EQ_INT(run(&out, "deepwalk -j 2 --dim 8 --p 0.5 --q 2 --binary -o %s %s", vo, edges), 0);
    free(out);
    /* Users 1-3 like items 10-12, users 4-6 like items 20-22. */
    ns_buf_init(&b);
    for (int u = 1; u <= 6; u++)
        for (int i = 0; i < 3; i++) ns_buf_printf(&b, "%d\t%d\t%d\t%d\n", u, (u <= 3 ? 10 : 20) + i, 1 + i, 1000 + u * 10 + i);
    write_file(log, b.data, b.len);
    ns_buf_release(&b);
    ASSERT_EQ_INT(run(&out, "deepwalk --format interactions --items-only -j 1 --dim 8 -o %s %s", io, log), 0);
    free(out);
    ns_vectors *v;
    ASSERT_OK(ns_vec_read(&v, io));
    ASSERT_EQ_INT(v->n, 6);
    ASSERT(ns_vec_find(v, "10") >= 0 && ns_vec_find(v, "u:1") < 0 && ns_vec_find(v, "i:10") < 0);
    ns_vec_free(v);
}

TEST(deepwalk_bad_graph_lines)
{
    char *out = NULL;
    const char *g1 = ns_test_tmpfile("missing.txt"), *g2 = ns_test_tmpfile("weight.txt");
    const char *o = ns_test_tmpfile("o.vec");
    write_file(g1, "1 2\n2 3\n4\n", strlen("1 2\n2 3\n4\n"));
    write_file(g2, "1 2 0.5\n2 3 heavy\n", strlen("1 2 0.5\n2 3 heavy\n"));
    ASSERT_EQ_INT(run(&out, "deepwalk -o %s %s", o, g1), 1);
    ASSERT(strstr(out, "missing.txt:3: missing column"));
    free(out);
    ASSERT_EQ_INT(run(&out, "deepwalk -o %s %s", o, g2), 1);
    ASSERT(strstr(out, "weight.txt:2: weight 'heavy'"));
    free(out);
    ASSERT_EQ_INT(run(&out, "deepwalk --format interactions -o %s %s", o, g2), 1);
    ASSERT(strstr(out, "weight.txt:2"));
    free(out);
}
