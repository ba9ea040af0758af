/* test_embed.c — word2vec pieces: kernels against their reference, alias
 * sampling, Huffman-free corpus building, training on synthetic topics,
 * reproducibility, vector files (round trip and malformed input). */
#include "embed/embed_int.h"
#include "harness.h"
#include "northstar/w2v.h"
#include "northstar/vec.h"

/* ---- kernels ------------------------------------------------------------ */

static void fill_rows(ns_rng *r, float *x, int rows, int dim, int ld)
{
    memset(x, 0, sizeof(float) * (size_t)rows * (size_t)ld);
    for (int i = 0; i < rows; i++) ns_rng_fill_normal(r, x + (size_t)i * ld, (size_t)dim, 0.0f, 0.5f);
}

/* The fused AVX step (every m from 1 to 12, so both the fixed and the
 * general path) equals the plain triple loop. */
TEST(step_matches_reference)
{
    ns__sig_init();
    const int dim = 37, ld = ns__w2v_ld(dim), K = 7;
    for (int m = 1; m <= 12; m++) {
        for (int k = 1; k <= K; k += 3) {
            ns_rng r;
            ns_rng_seed(&r, 42, (uint64_t)(m * 100 + k));
            float *A = ns_malloc_aligned(sizeof(float) * (size_t)(k + m) * ld * 2);
            float *B = A + (size_t)(k + m) * ld;
            fill_rows(&r, A, k + m, dim, ld);
            memcpy(B, A, sizeof(float) * (size_t)(k + m) * ld);
            float *ina[16], *outa[16], *inb[16], *outb[16], lab[16];
            for (int j = 0; j < k; j++) {
                ina[j] = A + (size_t)j * ld;
                inb[j] = B + (size_t)j * ld;
            }
            for (int o = 0; o < m; o++) {
                outa[o] = A + (size_t)(k + o) * ld;
                outb[o] = B + (size_t)(k + o) * ld;
                lab[o] = o == 0 ? 1.0f : (float)(o % 2);
            }
            float *s1 = ns_malloc_aligned(sizeof(float) * 4096), *s2 = ns_malloc_aligned(sizeof(float) * 4096);
            ns__w2v_step(ina, k, outa, m, lab, ld, 0.1f, s1);
            ns__w2v_step_ref(inb, k, outb, m, lab, ld, 0.1f, s2);
            char what[64];
            snprintf(what, sizeof what, "step k=%d m=%d", k, m);
            ASSERT_CLOSE(what, A, B, (size_t)(k + m) * ld, 1e-6, 1e-5);
            /* Padding columns stay zero. */
            for (int i = 0; i < k + m; i++)
                for (int c = dim; c < ld; c++) ASSERT(A[(size_t)i * ld + c] == 0.0f);
            ns_free_aligned(A);
            ns_free_aligned(s1);
            ns_free_aligned(s2);
        }
    }
}

/* A row listed twice among the outputs receives both updates. */
TEST(step_duplicate_outputs_add_up)
{
    ns__sig_init();
    const int ld = 16;
    float *A = ns_malloc_aligned(sizeof(float) * 4 * ld), *B = ns_malloc_aligned(sizeof(float) * 4 * ld);
    ns_rng r;
    ns_rng_seed(&r, 1, 1);
    fill_rows(&r, A, 4, ld, ld);
    memcpy(B, A, sizeof(float) * 4 * ld);
    float lab[3] = {1, 0, 0}, s[1024];
    float *in1[1] = {A}, *out1[3] = {A + ld, A + 2 * ld, A + 2 * ld};
    ns__w2v_step(in1, 1, out1, 3, lab, ld, 0.5f, s);
    float *in2[1] = {B}, *out2[3] = {B + ld, B + 2 * ld, B + 2 * ld};
    ns__w2v_step_ref(in2, 1, out2, 3, lab, ld, 0.5f, s);
    ASSERT_CLOSE("duplicate outputs", A, B, 4 * (size_t)ld, 1e-6, 1e-5);
    ns_free_aligned(A);
    ns_free_aligned(B);
}

/* Alias draws follow the weights (chi-square-like bound on 200k draws). */
TEST(spearman_with_ties)
{
    double x[5] = {1, 2, 3, 4, 5}, y[5] = {5, 6, 7, 8, 7};
    /* Ranks of y: 1, 2, 3.5, 5, 3.5 -> scipy.stats.spearmanr gives 0.8207826816681233 */
    ASSERT_NEAR(ns_spearman(x, y, 5), 0.8207826816681233, 1e-12);
    double z[5] = {5, 4, 3, 2, 1};
    ASSERT_NEAR(ns_spearman(x, z, 5), -1.0, 1e-12);
    double c[5] = {1, 1, 1, 1, 1};
    ASSERT(isnan(ns_spearman(x, c, 5)));
}

/* ---- corpus ------------------------------------------------------------ */

TEST(corpus_vocabulary_sorted_and_filtered)
{
    const char *text = "the cat sat on the mat\nthe dog\n\nrare words once\nCat THE\n";
    ns_w2v_corpus_opts o = ns_w2v_corpus_defaults();
    o.min_count = 2;
    o.quiet_progress = 1;
    ns_w2v_corpus *c;
    ASSERT_OK(ns_w2v_corpus_from_text(&c, text, strlen(text), "mem", &o));
    ASSERT_EQ_INT(c->nwords, 2); /* the (4), cat (2) */
    ASSERT_STREQ(ns_strmap_key(c->words, 0, NULL), "the");
    ASSERT_STREQ(ns_strmap_key(c->words, 1, NULL), "cat");
    ASSERT_EQ_INT(c->count[0], 4);
    ASSERT_EQ_INT(c->tokens_read, 13);
    ASSERT_EQ_INT(c->ntok, 6);
    /* Sentences: "the cat the", "the", "cat the"; the empty ones are gone. */
    ASSERT_EQ_INT(c->nsent, 3);
    ASSERT_EQ_INT(c->sent[1], 3);
    ASSERT_EQ_INT(c->sent[2], 4);
    ns_w2v_corpus_free(c);
    /* Paragraph mode joins lines until a blank line. */
    o.sentences = NS_SENT_PARAGRAPH;
    ASSERT_OK(ns_w2v_corpus_from_text(&c, text, strlen(text), "mem", &o));
    ASSERT_EQ_INT(c->nsent, 2);
    ns_w2v_corpus_free(c);
}

TEST(corpus_bad_input)
{
    ns_w2v_corpus_opts o = ns_w2v_corpus_defaults();
    o.quiet_progress = 1;
    ns_w2v_corpus *c;
    ASSERT_ERR(ns_w2v_corpus_from_text(&c, "", 0, "empty.txt", &o), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "empty.txt") && strstr(ns_err_msg(), "empty"));
    const char bin[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0";
    ASSERT_ERR(ns_w2v_corpus_from_text(&c, bin, sizeof bin - 1, "a.out", &o), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "binary"));
    char junk[4096];
    ns_rng r;
    ns_rng_seed(&r, 3, 3);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(0x80 | (ns_rng_u32(&r) & 0x7f));
    ASSERT_ERR(ns_w2v_corpus_from_text(&c, junk, sizeof junk, "junk.bin", &o), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "does not look like text"));
    ASSERT_ERR(ns_w2v_corpus_from_text(&c, "... !!! ---\n", 12, "punct.txt", &o), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "no words"));
    ASSERT_ERR(ns_w2v_corpus_from_text(&c, "a b c d\n", 8, "few.txt", &o), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "min-count"));
    const char *missing[] = {"/nonexistent/corpus.txt"};
    ASSERT(ns_w2v_corpus_from_files(&c, missing, 1, &o) < 0);
    ASSERT(strstr(ns_err_msg(), "/nonexistent/corpus.txt"));
}

/* ---- training ------------------------------------------------------------ */

/* Two topics with disjoint words; each sentence uses one topic. */
static char *topic_corpus(size_t *len)
{
    ns_buf b;
    ns_buf_init(&b);
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    for (int s = 0; s < 3000; s++) {
        int topic = (int)ns_rng_below(&r, 2);
        for (int i = 0; i < 12; i++)
            ns_buf_printf(&b, "%s%c%d", i ? " " : "", topic ? 'b' : 'a', (int)ns_rng_below(&r, 15));
        ns_buf_puts(&b, "\n");
    }
    *len = b.len;
    return b.data;
}

static double cos_rows(const ns_vectors *v, int64_t a, int64_t b)
{
    double s = 0, na = 0, nb = 0;
    for (int d = 0; d < v->dim; d++) {
        double x = v->v[(size_t)a * v->dim + d], y = v->v[(size_t)b * v->dim + d];
        s += x * y;
        na += x * x;
        nb += y * y;
    }
    return s / sqrt(na * nb);
}

static void check_topics(const ns_vectors *v, const char *what)
{
    double in = 0, across = 0;
    long nin = 0, nacross = 0;
    for (int64_t i = 0; i < v->n; i++)
        for (int64_t j = i + 1; j < v->n; j++) {
            const char *a = ns_strmap_key(v->words, i, NULL), *b = ns_strmap_key(v->words, j, NULL);
            double c = cos_rows(v, i, j);
            if (a[0] == b[0]) { in += c; nin++; }
            else { across += c; nacross++; }
        }
    in /= (double)nin;
    across /= (double)nacross;
    printf("  %s: mean cosine within topics %.3f, across %.3f\n", what, in, across);
    ASSERT_MSG(in > across + 0.3, "%s: topics do not separate (%.3f vs %.3f)", what, in, across);
}

static ns_w2v_opts small_opts(void)
{
    ns_w2v_opts o = ns_w2v_defaults();
    o.dim = 16;
    o.threads = 1;
    o.epochs = 3;
    o.seed = 7;
    o.sample = 0;
    o.label = "test";
    return o;
}

/* The two-topic corpus ready for the trainer; NULL (with the error recorded)
 * on failure. */
static ns_w2v_corpus *topics_corpus(void)
{
    size_t len;
    char *text = topic_corpus(&len);
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.quiet_progress = 1;
    ns_w2v_corpus *c = NULL;
    if (ns_w2v_corpus_from_text(&c, text, len, "topics", &co) < 0) c = NULL;
    free(text);
    ns_set_quiet(1);
    return c;
}

/* Train with o and give out the vectors; NULL if training failed. */
static ns_vectors *train_vectors(const ns_w2v_corpus *c, const ns_w2v_opts *o, ns_w2v_stats *st)
{
    ns_w2v_model *m;
    if (ns_w2v_train(&m, c, o, st) < 0) return NULL;
    ns_vectors *v = ns_w2v_vectors(m, c, NULL);
    ns_w2v_model_free(m);
    return v;
}

TEST(topics_cluster_all_models)
{
    ns_w2v_corpus *c = topics_corpus();
    ASSERT_MSG(c, "topic corpus: %s", ns_err_msg());
    ASSERT_EQ_INT(c->nwords, 30);
    struct { const char *name; int sg, hs, neg, classic, vectors; } cfg[] = {
        {"sg batched", 1, 0, 5, 0, NS_W2V_VEC_IN}, {"sg classic", 1, 0, 5, 1, NS_W2V_VEC_IN},
        {"sg hs", 1, 1, 0, 0, NS_W2V_VEC_IN},      {"cbow neg", 0, 0, 5, 0, NS_W2V_VEC_IN},
        {"cbow hs", 0, 1, 0, 0, NS_W2V_VEC_IN},    {"sg w+c", 1, 0, 5, 0, NS_W2V_VEC_SUM},
    };
    for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
        ns_w2v_opts o = small_opts();
        o.sg = cfg[i].sg;
        o.hs = cfg[i].hs;
        o.negative = cfg[i].neg;
        o.classic = cfg[i].classic;
        o.vectors = cfg[i].vectors;
        ns_w2v_stats st;
        ns_vectors *v = train_vectors(c, &o, &st);
        ASSERT_MSG(v, "%s: %s", cfg[i].name, ns_err_msg());
        ASSERT_EQ_INT(st.words, c->ntok * 3);
        ASSERT(v->n == 30);
        check_topics(v, cfg[i].name);
        ns_vec_free(v);
    }
    ns_w2v_corpus_free(c);
}

TEST(one_thread_same_seed_identical)
{
    ns_w2v_corpus *c = topics_corpus();
    ASSERT_MSG(c, "topic corpus: %s", ns_err_msg());
    ns_vectors *v[3];
    for (int i = 0; i < 3; i++) {
        ns_w2v_opts o = small_opts();
        o.sample = 1e-2; /* exercise the sub-sampling draws too */
        o.seed = i == 2 ? 8 : 7;
        v[i] = train_vectors(c, &o, NULL);
        ASSERT_MSG(v[i], "seed %d: %s", (int)o.seed, ns_err_msg());
    }
    size_t bytes = sizeof(float) * (size_t)v[0]->n * (size_t)v[0]->dim;
    ASSERT_MSG(memcmp(v[0]->v, v[1]->v, bytes) == 0, "same seed, one thread: vectors differ");
    ASSERT_MSG(memcmp(v[0]->v, v[2]->v, bytes) != 0, "different seeds gave identical vectors");
    for (int i = 0; i < 3; i++) ns_vec_free(v[i]);
    ns_w2v_corpus_free(c);
}

TEST(bad_options)
{
    const char *text = "a b a b a b a b a b\n";
    ns_w2v_corpus_opts co = ns_w2v_corpus_defaults();
    co.quiet_progress = 1;
    ns_w2v_corpus *c;
    ASSERT_OK(ns_w2v_corpus_from_text(&c, text, strlen(text), "t", &co));
    ns_w2v_model *m;
    ns_w2v_opts o = small_opts();
    o.negative = 0;
    ASSERT_ERR(ns_w2v_train(&m, c, &o, NULL), NS_EINVAL);
    o = small_opts();
    o.dim = 0;
    ASSERT_ERR(ns_w2v_train(&m, c, &o, NULL), NS_ERANGE);
    o = small_opts();
    o.negative = 0;
    o.hs = 1;
    o.vectors = NS_W2V_VEC_SUM; /* w + c needs the negative-sampling output vectors */
    ASSERT_ERR(ns_w2v_train(&m, c, &o, NULL), NS_EINVAL);
    o.vectors = 7;
    o.negative = 5;
    ASSERT_ERR(ns_w2v_train(&m, c, &o, NULL), NS_EINVAL);
    ns_w2v_corpus_free(c);
}

/* w + c: the same training (one thread, one seed) gives the input vectors
 * plus something that is not zero and not a multiple of them. */
TEST(sum_vectors_add_output_rows)
{
    ns_w2v_corpus *c = topics_corpus();
    ASSERT_MSG(c, "topic corpus: %s", ns_err_msg());
    ns_vectors *v[2];
    for (int i = 0; i < 2; i++) {
        ns_w2v_opts o = small_opts();
        o.vectors = i ? NS_W2V_VEC_SUM : NS_W2V_VEC_IN;
        v[i] = train_vectors(c, &o, NULL);
        ASSERT_MSG(v[i], "vectors %d: %s", o.vectors, ns_err_msg());
    }
    double diff = 0, norm = 0, cosmin = 1;
    for (int64_t w = 0; w < v[0]->n; w++) {
        double dot = 0, na = 0, nb = 0;
        for (int d = 0; d < v[0]->dim; d++) {
            size_t k = (size_t)w * (size_t)v[0]->dim + (size_t)d;
            double x = v[0]->v[k], y = v[1]->v[k];
            diff += (y - x) * (y - x);
            norm += x * x;
            dot += x * y, na += x * x, nb += y * y;
        }
        double cs = dot / sqrt(na * nb);
        if (cs < cosmin) cosmin = cs;
    }
    printf("  |sum - in| / |in| = %.3f, lowest row cosine %.3f\n", sqrt(diff / norm), cosmin);
    ASSERT_MSG(sqrt(diff / norm) > 0.1, "sum vectors are the input vectors");
    ASSERT_MSG(cosmin < 0.999, "sum vectors are only rescaled input vectors");
    ns_vec_free(v[0]);
    ns_vec_free(v[1]);
    ns_w2v_corpus_free(c);
}

/* ---- vector files --------------------------------------------------------- */

static ns_vectors *random_vectors(int64_t n, int dim)
{
    char text[64];
    ns_vectors *v = ns_calloc(1, sizeof *v);
    v->dim = dim;
    v->n = n;
    v->v = ns_malloc(sizeof(float) * (size_t)n * (size_t)dim);
    v->words = ns_strmap_new((size_t)n);
    ns_rng r;
    ns_rng_seed(&r, 2, 2);
    ns_rng_fill_normal(&r, v->v, (size_t)n * (size_t)dim, 0, 3);
    /* Magnitudes from 1e-8 to 1e8 exercise every branch of the text writer. */
    for (int64_t i = 0; i < n * dim; i++) v->v[i] *= powf(10.0f, (float)(i % 17) - 8.0f);
    v->v[0] = 1e-30f;
    v->v[1] = -123456.789f;
    v->v[2] = 9.9999999f;
    v->v[3] = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        int k = snprintf(text, sizeof text, i % 3 ? "w%lld" : "mot\xC3\xA9%lld", (long long)i);
        ns_strmap_intern(v->words, text, (size_t)k);
    }
    return v;
}

TEST(vectors_roundtrip_text_and_binary)
{
    ns_vectors *v = random_vectors(50, 13);
    for (int binary = 0; binary < 2; binary++) {
        const char *path = ns_test_tmpfile(binary ? "v.bin" : "v.txt");
        ASSERT_OK(ns_vec_write(v, path, binary));
        ns_vectors *w;
        ASSERT_OK(ns_vec_read(&w, path));
        ASSERT_EQ_INT(w->n, 50);
        ASSERT_EQ_INT(w->dim, 13);
        for (int64_t i = 0; i < 50; i++)
            ASSERT_STREQ(ns_strmap_key(w->words, i, NULL), ns_strmap_key(v->words, i, NULL));
        if (binary) ASSERT(memcmp(w->v, v->v, sizeof(float) * 50 * 13) == 0);
        else ASSERT_CLOSE("text round trip", w->v, v->v, 50 * 13, 0, 1e-6);
        ns_vec_free(w);
    }
    ns_vec_free(v);
}

/* A binary file whose first float starts with a newline byte (or digits
 * then one) is still binary: the format test needs dim numbers on the
 * first line (`northstar train` failed to read its items.vec about once in
 * a few hundred runs). */
TEST(vectors_binary_with_newline_bytes_first)
{
    ns_vectors *v = random_vectors(20, 8);
    const uint8_t firsts[][4] = {{0x0a, 0x00, 0x80, 0x3f}, {0x31, 0x0a, 0x80, 0x3f}, {0x31, 0x32, 0x2e, 0x0a}};
    for (size_t c = 0; c < sizeof firsts / sizeof firsts[0]; c++) {
        memcpy(&v->v[0], firsts[c], 4);
        const char *path = ns_test_tmpfile("nl.bin");
        ASSERT_OK(ns_vec_write(v, path, 1));
        ns_vectors *w;
        ASSERT_OK(ns_vec_read(&w, path));
        ASSERT_EQ_INT(w->n, 20);
        ASSERT(memcmp(w->v, v->v, sizeof(float) * 20 * 8) == 0);
        ns_vec_free(w);
    }
    ns_vec_free(v);
}

TEST(vectors_read_fasttext_vec)
{
    /* fastText writes a trailing space after the last value. */
    const char *vec = "3 2\n</s> 0.1 0.2 \nthe -1 2.5e-1 \nof 3 4 \n";
    ns_vectors *v;
    ASSERT_OK(ns_vec_read_memory(&v, vec, strlen(vec), "ft.vec"));
    ASSERT_EQ_INT(v->n, 3);
    ASSERT_NEAR(v->v[3], 0.25, 1e-7);
    ASSERT_EQ_INT(ns_vec_find(v, "of"), 2);
    ASSERT_EQ_INT(ns_vec_lookup(v, "The"), 1); /* case-folded lookup */
    ASSERT_EQ_INT(ns_vec_lookup(v, "nothere"), -1);
    ns_vec_free(v);
}

TEST(vectors_malformed_files)
{
    struct { const char *data; int code; const char *needle; } bad[] = {
        {"", NS_EFORMAT, "empty"},
        {"hello world\n", NS_EFORMAT, "header"},
        {"2 3\na 1 2 3\nb 1 2\n", NS_ETRUNCATED, ":3:"},
        {"2 3\na 1 2 3\nb 1 x 3\n", NS_EFORMAT, "not a finite number"},
        {"3 3\na 1 2 3\nb 1 2 3\n", NS_ETRUNCATED, "truncated"},
        {"1 3\na 1 2 3\nb 1 2 3\n", NS_EFORMAT, "more vectors"},
        {"2 2\na 1 2\na 3 4\n", NS_EFORMAT, "duplicate"},
        {"2 3\na 1 2 3 4\nb 1 2 3\n", NS_EFORMAT, "more than 3 values"},
        {"5 0\n", NS_ERANGE, "dimension"},
        {"0 10\n", NS_EFORMAT, "0 vectors"},
        {"99999999 100\na 1\n", NS_ETRUNCATED, "more than"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ns_vectors *v = NULL;
        ASSERT_ERR(ns_vec_read_memory(&v, bad[i].data, strlen(bad[i].data), "bad.vec"), bad[i].code);
        ASSERT_MSG(strstr(ns_err_msg(), bad[i].needle) && strstr(ns_err_msg(), "bad.vec"),
                   "case %zu: message '%s' lacks '%s'", i, ns_err_msg(), bad[i].needle);
        ASSERT(v == NULL);
    }
    /* A binary file cut anywhere is reported as truncated, never read short. */
    ns_vectors *v = random_vectors(20, 8);
    const char *path = ns_test_tmpfile("cut.bin");
    ASSERT_OK(ns_vec_write(v, path, 1));
    char *data;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &data, &len, 0));
    for (size_t cut = 5; cut < len - 1; cut += 7) {
        ns_vectors *w = NULL;
        int rc = ns_vec_read_memory(&w, data, cut, "cut.bin");
        ASSERT_MSG(rc < 0 && w == NULL, "cut at %zu of %zu was accepted", cut, len);
    }
    free(data);
    ns_vec_free(v);
}

TEST(nearest_and_analogy)
{
    const char *vec = "5 2\nking 1 1\nqueen 1 3\nman 3 0\nwoman 3 2\napple -1 -1\n";
    ns_vectors *v;
    ASSERT_OK(ns_vec_read_memory(&v, vec, strlen(vec), "toy"));
    int64_t idx[2];
    float sim[2];
    int got = ns_vec_analogy(v, "man", "king", "woman", 2, idx, sim);
    ASSERT_EQ_INT(got, 2);
    ASSERT_STREQ(ns_strmap_key(v->words, idx[0], NULL), "queen");
    ASSERT_ERR(ns_vec_analogy(v, "man", "king", "prince", 2, idx, sim), NS_ENOTFOUND);
    ASSERT(strstr(ns_err_msg(), "prince"));
    ns_vec_free(v);
}
