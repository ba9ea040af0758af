/* test_word2vec_gensim.c — our word2vec text and binary files load in
 * gensim's KeyedVectors.load_word2vec_format with the same words and
 * values; gensim's own binary output loads in ours. Skipped when Debian's
 * python3-gensim is absent (scripts/install-deps.sh bench installs it). */
#include "harness.h"
#include "northstar/vec.h"

static void need_gensim(void)
{
    if (ns_test_run("/usr/bin/python3 -c 'import gensim'", NULL) != 0)
        SKIP("python3-gensim not installed (scripts/install-deps.sh bench)");
}

static ns_vectors *sample_vectors(void)
{
    const char *text = "4 3\nthe 0.25 -1.5 3\nl'\xC3\xA9t\xC3\xA9 1e-3 2 -7.125\nof 0 0 1\nzebra -0.5 0.5 100\n";
    ns_vectors *v;
    if (ns_vec_read_memory(&v, text, strlen(text), "sample") < 0) FAIL("%s", ns_err_msg());
    return v;
}

TEST(gensim_reads_our_files)
{
    need_gensim();
    ns_vectors *v = sample_vectors();
    for (int binary = 0; binary < 2; binary++) {
        const char *path = ns_test_tmpfile(binary ? "v.bin" : "v.txt");
        ASSERT_OK(ns_vec_write(v, path, binary));
        char cmd[2048], *out = NULL;
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c \"from gensim.models import KeyedVectors as K; "
                 "kv = K.load_word2vec_format('%s', binary=%s); "
                 "print(len(kv), kv.vector_size, ' '.join(kv.index_to_key)); "
                 "print(' '.join('%%.6g' %% x for x in kv['zebra']))\"",
                 path, binary ? "True" : "False");
        ASSERT_EQ_INT(ns_test_run(cmd, &out), 0);
        printf("%s", out);
        ASSERT(strstr(out, "4 3 the l'\xC3\xA9t\xC3\xA9 of zebra"));
        ASSERT(strstr(out, "-0.5 0.5 100"));
        free(out);
    }
    ns_vec_free(v);
}

TEST(we_read_gensim_binary)
{
    need_gensim();
    const char *path = ns_test_tmpfile("g.bin");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; from gensim.models import KeyedVectors as K; "
             "kv = K(vector_size=5); kv.add_vectors(['alpha', 'beta', 'gamma'], "
             "np.arange(15, dtype=np.float32).reshape(3, 5) / 4); kv.save_word2vec_format('%s', binary=True)\"",
             path);
    ASSERT_EQ_INT(ns_test_run(cmd, NULL), 0);
    ns_vectors *v;
    ASSERT_OK(ns_vec_read(&v, path));
    ASSERT_EQ_INT(v->n, 3);
    ASSERT_EQ_INT(v->dim, 5);
    ASSERT_EQ_INT(ns_vec_find(v, "gamma"), 2);
    ASSERT_NEAR(v->v[2 * 5 + 4], 14 / 4.0, 0);
    ns_vec_free(v);
}
