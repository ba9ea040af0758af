/*
 * test_model_files.c — the i2i model file (i2i.h) and the ranker file
 * (rank.h) through their loaders on ns_st_load:
 *   - i2i: a trained model saved and loaded gives the same rows; the schema
 *     refuses a config or tensor that breaks the tables of i2i.h, the loader
 *     what a table cannot check (a neighbour out of range, an unknown
 *     method); truncated and corrupted files are errors, never crashes
 *     (files rewritten with index_files.h);
 *   - ranker: the metadata tag (another format, a newer version), config
 *     keys unknown or of the wrong kind, elements of "hidden", a tensor the
 *     format lacks, one the model lacks or does not have;
 *   - LLM: the tag (its version), a config value out of range, a missing
 *     parameter (test_llm.c has shapes, unknown tensors, no config);
 *   - every kind (HNSW, BM25, i2i, ranker, LLM and llama2.c checkpoints, and
 *     the schema's F16/BF16/F64): a NaN or an infinity injected into a
 *     float is refused, naming the tensor and the element;
 *   - a loaded HNSW, BM25 and i2i model keeps answering the same while its
 *     file is overwritten in place and truncated;
 *   - a pipeline over a ranker and an i2i model: a broken file (NaN,
 *     truncated, random, a directory) fails the build naming the setting
 *     and the file, "required" or not; a missing ranker file with
 *     "required": false falls back to the blend and the pipeline says so.
 * (The HNSW, BM25 and attribute files have their malformed-file cases in
 * their own tests; the schema itself is tested in test_schema.c.)
 */
#include "harness.h"
#include "index_files.h"
#include "northstar/bm25.h"
#include "northstar/feature.h"
#include "northstar/hnsw.h"
#include "northstar/i2i.h"
#include "northstar/llm.h"
#include "northstar/pipeline.h"
#include "northstar/rank.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

/* Eight users over six items, two clusters. */
static ns_i2i *small_model(ns_i2i_method method)
{
    ns_ilog l;
    ASSERT_OK(ns_ilog_init(&l));
    const char *hist[8] = {"abc", "abd", "bcd", "acd", "efa", "ef", "fe", "eb"};
    for (int u = 0; u < 8; u++) {
        char user[8];
        snprintf(user, sizeof user, "u%d", u);
        for (const char *c = hist[u]; *c; c++) {
            char item[2] = {*c, 0};
            ASSERT_OK(ns_ilog_add(&l, user, item, (double)(c - hist[u])));
        }
    }
    ASSERT_OK(ns_ilog_index(&l));
    ns_i2i_opts o = ns_i2i_defaults();
    o.method = method;
    o.neighbours = 3;
    ns_i2i *m;
    ASSERT_OK(ns_i2i_train(&m, &l, &o));
    ns_ilog_release(&l);
    return m;
}

/* An EASE model of small_model's log saved to path; returns path. */
static const char *save_i2i(const char *path)
{
    ns_i2i *m = small_model(NS_I2I_EASE);
    ASSERT_OK(ns_i2i_save(m, path));
    ns_i2i_free(m);
    return path;
}

TEST(i2i_save_load_roundtrip)
{
    for (int method = 0; method < 2; method++) {
        ns_i2i *m = small_model((ns_i2i_method)method), *g;
        const char *path = ns_test_tmpfile("m.i2i");
        ASSERT_OK(ns_i2i_save(m, path));
        ASSERT_OK(ns_i2i_load(&g, path));
        ASSERT_EQ_INT(g->method, m->method);
        ASSERT_EQ_INT(g->neighbours, 3);
        ASSERT_NEAR(g->lambda, m->lambda, 0);
        ASSERT_EQ_INT(g->n, m->n);
        ASSERT(m->n == 6 && m->off[m->n] > 0);
        ASSERT(!memcmp(g->off, m->off, sizeof *m->off * (m->n + 1)));
        ASSERT(!memcmp(g->nbr, m->nbr, sizeof *m->nbr * (size_t)m->off[m->n]));
        ASSERT(!memcmp(g->w, m->w, sizeof *m->w * (size_t)m->off[m->n]));
        for (uint32_t k = 0; k < m->n; k++) {
            size_t a, b;
            ASSERT_STREQ(ns_strmap_key(g->ids, k, &a), ns_strmap_key(m->ids, k, &b));
        }
        ns_i2i_free(g);
        ns_i2i_free(m);
    }
}

TEST(i2i_malformed_files_rejected)
{
    ns_i2i *m = small_model(NS_I2I_COSINE), *g = (ns_i2i *)1;
    const char *ok = ns_test_tmpfile("ok.i2i"), *badf = ns_test_tmpfile("bad.i2i");
    ASSERT_OK(ns_i2i_save(m, ok));
    /* the schema's checks */
    rewrite(ok, badf, NULL, 0, 0, "\"format\":\"northstar-i2i\"", "\"format\":\"northstar-bm25\"");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "format");
    ASSERT_HAS(ns_err_msg(), "not an i2i model");
    rewrite(ok, badf, NULL, 0, 0, "\"version\":1", "\"version\":2");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EUNSUPPORTED);
    rewrite(ok, badf, NULL, 0, 0, "\"items\":6", "\"items\":7");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "off");
    rewrite(ok, badf, NULL, 0, 0, "\"neighbours\":3", "\"neighbours\":-3");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "neighbours");
    /* the loader's */
    rewrite(ok, badf, NULL, 0, 0, "\"method\":\"cosine\"", "\"method\":\"svd\"");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "method");
    rewrite(ok, badf, "nbr", 4, 6, NULL, NULL); /* the second neighbour: row 6 of 0..5 */
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "nbr");
    ASSERT(g == NULL);
    /* truncated and corrupted images */
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(ok, &img, &len, 0));
    for (size_t cut = 0; cut < len; cut += len / 23 + 1) {
        ASSERT_OK(ns_file_write_atomic(badf, img, cut));
        ASSERT(ns_i2i_load(&g, badf) < 0 && g == NULL);
    }
    ns_rng r;
    ns_rng_seed(&r, 21, 0);
    for (int t = 0; t < 300; t++) {
        char *cp = malloc(len);
        memcpy(cp, img, len);
        for (int k = 0; k < 3; k++) cp[ns_rng_below(&r, len)] ^= (char)(1 + ns_rng_below(&r, 255));
        ASSERT_OK(ns_file_write_atomic(badf, cp, len));
        free(cp);
        if (ns_i2i_load(&g, badf) == 0) {
            for (int64_t k = 0; k < g->off[g->n]; k++) ASSERT(g->nbr[k] < g->n);
            ns_i2i_free(g);
        }
    }
    free(img);
    ns_i2i_free(m);
}

/* ---- ranker files ---------------------------------------------------------- */

/* A numeric and a categorical feature, named by the %s. */
#define RANK_SPEC \
    "{\"label\":\"y\",\"features\":[" \
    "{\"name\":\"%s\",\"type\":\"numeric\",\"transforms\":[\"zscore\"],\"buckets\":{\"quantiles\":4},\"wide\":true,\"embed\":2}," \
    "{\"name\":\"%s\",\"type\":\"categorical\",\"embed\":3}]}"

/* An untrained ranker of `kind` on a fitted spec of a numeric feature
 * `num` and a categorical one `cat`, saved to path. */
static void save_ranker_of(ns_rank_kind kind, const char *num, const char *cat, const char *path)
{
    const char *csv = ns_test_tmpfile("r.csv");
    FILE *fp = fopen(csv, "wb");
    ASSERT(fp);
    fprintf(fp, "%s,%s,y\n", num, cat);
    for (int i = 0; i < 40; i++) fprintf(fp, "%d.5,%c,%d\n", i % 7, 'A' + i % 3, i % 2);
    fclose(fp);
    char spec[1024];
    snprintf(spec, sizeof spec, RANK_SPEC, num, cat);
    ns_feature_spec *s;
    ns_fdata d;
    ASSERT_OK(ns_fspec_parse(&s, spec, strlen(spec), "spec"));
    ASSERT_OK(ns_fdata_read_file(s, csv, 1, 1, &d));
    ns_rank_cfg c = ns_rank_defaults();
    c.kind = kind;
    c.hidden[0] = 5;
    c.n_hidden = 1;
    ns_ranker *m;
    ASSERT_OK(ns_ranker_new(&m, &c, s));
    ASSERT_OK(ns_ranker_save(m, path));
    ns_ranker_free(m);
    ns_fdata_release(&d);
}

static void save_ranker(ns_rank_kind kind, const char *path) { save_ranker_of(kind, "num", "cat", path); }

/* Rewrite a file keeping all its metadata: `key` with `from` replaced by
 * `to`, the tensor `drop` left out, and an F32 [2] tensor `add` added (each
 * NULL for none). */
static void rewrite_meta(const char *src, const char *dst, const char *key, const char *from, const char *to,
                           const char *drop, const char *add)
{
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, src));
    ns_st_writer *w = ns_st_writer_new();
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        if (!drop || strcmp(t->name, drop)) ASSERT_OK(ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    static const float two[2];
    int64_t sh[1] = {2};
    if (add) ASSERT_OK(ns_st_writer_add(w, add, NS_DT_F32, 1, sh, two));
    for (int i = 0; i < ns_st_meta_count(f); i++) {
        const char *k = ns_st_meta_key(f, i), *v = ns_st_meta(f, k);
        char buf[8192];
        const char *p = key && !strcmp(k, key) ? strstr(v, from) : NULL;
        if (key && !strcmp(k, key)) ASSERT_MSG(p, "metadata %s has no %s", key, from);
        if (p) snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - v), v, to, p + strlen(from));
        ASSERT_OK(ns_st_writer_meta(w, k, p ? buf : v));
    }
    ASSERT_OK(ns_st_writer_write(w, dst));
    ns_st_writer_free(w);
    ns_st_close(f);
}

/* Load path as a ranker: code, and the error's field. */
static void expect_ranker(const char *path, int code, const char *field)
{
    ns_ranker *m = (ns_ranker *)1;
    ASSERT_ERR(ns_ranker_load(&m, path), code);
    ASSERT(m == NULL);
    if (field) ASSERT_STREQ(ns_err_last()->field, field);
}

TEST(ranker_file_checked)
{
    const char *ok = ns_test_tmpfile("ok.rank"), *badf = ns_test_tmpfile("bad.rank");
    save_ranker(NS_RANK_WIDE_DEEP, ok);
    ns_ranker *m;
    ASSERT_OK(ns_ranker_load(&m, ok));
    ASSERT_EQ_INT(ns_ranker_cfg(m)->n_hidden, 1);
    ASSERT_EQ_INT(ns_ranker_cfg(m)->hidden[0], 5);
    ns_ranker_free(m);
    /* the tag */
    rewrite_meta(ok, badf, "format", "northstar-rank/1", "northstar-llm-1", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "format");
    ASSERT_HAS(ns_err_msg(), "not a ranker file");
    rewrite_meta(ok, badf, "format", "/1", "/2", NULL, NULL);
    expect_ranker(badf, NS_EUNSUPPORTED, "version");
    /* the config */
    rewrite_meta(ok, badf, "config", "\"batch\":", "\"batches\":", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "batches");
    rewrite_meta(ok, badf, "config", "\"batch\": 256", "\"batch\": \"256\"", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "batch");
    rewrite_meta(ok, badf, "config", "\"model\": \"wide_deep\"", "\"model\": \"forest\"", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "model");
    rewrite_meta(ok, badf, "config", "[5]", "[\"5\"]", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "hidden");
    /* the tensors: one the format lacks, one the model needs, ones it does not have */
    rewrite_meta(ok, badf, NULL, NULL, NULL, NULL, "wide.x");
    expect_ranker(badf, NS_EFORMAT, "wide.x");
    rewrite_meta(ok, badf, NULL, NULL, NULL, "mlp.0.bias", NULL);
    expect_ranker(badf, NS_ENOTFOUND, NULL);
    ASSERT_HAS(ns_err_msg(), "mlp.0.bias");
    rewrite_meta(ok, badf, "config", "\"model\": \"wide_deep\"", "\"model\": \"deep\"", NULL, NULL);
    expect_ranker(badf, NS_EFORMAT, "tensors");
    rewrite_meta(ok, badf, NULL, NULL, NULL, "wide.w", "wide.w");
    expect_ranker(badf, NS_EMISMATCH, NULL);
}

/* ---- LLM files ------------------------------------------------------------- */

/* A tiny Llama with random weights. */
static ns_llm *tiny_llm(void)
{
    ns_llm_config c;
    ASSERT_OK(ns_llm_config_parse(&c, "{\"arch\":\"llama\",\"vocab_size\":16,\"max_seq\":8,\"n_layer\":1,"
                                      "\"n_head\":2,\"n_kv_head\":1,\"d_model\":8,\"d_ff\":16}", "test"));
    ns_llm *m;
    ASSERT_OK(ns_llm_new(&m, &c));
    ns_llm_init(m, 3);
    return m;
}

TEST(llm_file_checked)
{
    ns_llm *m = tiny_llm();
    const char *ok = ns_test_tmpfile("ok.llm"), *badf = ns_test_tmpfile("bad.llm");
    ASSERT_OK(ns_llm_save(m, NULL, ok));
    ns_llm_free(m);
    ASSERT_OK(ns_llm_load(&m, NULL, ok));
    ASSERT_EQ_INT(ns_llm_cfg(m)->n_kv_head, 1);
    ns_llm_free(m);
    m = (ns_llm *)1;
    rewrite_meta(ok, badf, "format", "northstar-llm-1", "northstar-llm-2", NULL, NULL);
    ASSERT_ERR(ns_llm_load(&m, NULL, badf), NS_EUNSUPPORTED);
    ASSERT_STREQ(ns_err_last()->field, "version");
    rewrite_meta(ok, badf, "format", "northstar-llm-1", "northstar-rank/1", NULL, NULL);
    ASSERT_ERR(ns_llm_load(&m, NULL, badf), NS_EFORMAT);
    ASSERT_HAS(ns_err_msg(), "not a northstar LLM");
    rewrite_meta(ok, badf, "config", "\"n_layer\":1", "\"n_layer\":0", NULL, NULL);
    ASSERT_ERR(ns_llm_load(&m, NULL, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "n_layer");
    rewrite_meta(ok, badf, NULL, NULL, NULL, "lnf.w", NULL);
    ASSERT_ERR(ns_llm_load(&m, NULL, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "lnf.w");
    ASSERT(m == NULL);
}

/* ---- every model's numbers finite ----------------------------------------- */

enum { NAN32 = 0x7fc00000u, INF32 = 0x7f800000u, NINF32 = 0xff800000u };

/* The last load failed with NS_EFORMAT naming tensor and its element `at`, whose value is `val`. */
static void expect_nonfinite(const char *tensor, const char *at, const char *val)
{
    ASSERT_EQ_INT(ns_err_last()->code, NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, tensor);
    ASSERT_HAS(ns_err_msg(), at);
    ASSERT_HAS(ns_err_msg(), val);
    printf("  %s\n", ns_err_msg());
}

/* A 4-d cosine index of 30 vectors, saved to path; returns its record size. */
static size_t save_hnsw(const char *path)
{
    ns_hnsw_params p = ns_hnsw_defaults(4, NS_METRIC_COSINE);
    p.M = 4;
    ns_hnsw *h;
    ASSERT_OK(ns_hnsw_create(&h, &p));
    for (uint32_t i = 0; i < 30; i++) {
        float x[4] = {(float)(i % 5) + 1, (float)(i % 3), (float)(i % 7), 1};
        ASSERT_OK(ns_hnsw_add(h, i, x));
    }
    ASSERT_OK(ns_hnsw_save(h, path));
    ns_hnsw_free(h);
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, path));
    size_t rec = (size_t)ns_st_find(f, "l0")->shape[1];
    ns_st_close(f);
    return rec;
}

static ns_bm25 *small_bm25(void)
{
    static const char *const docs[][2] = {{"red fox", "the quick red fox jumps"}, {"lazy dog", "over the lazy dog"},
                                          {"fox den", "a den of foxes"}, {"dog days", "hot dog days of summer"}};
    ns_bm25_params p = ns_bm25_defaults();
    ns_bm25 *ix;
    ASSERT_OK(ns_bm25_create(&ix, &p));
    for (uint32_t d = 0; d < 4; d++) ASSERT_OK(ns_bm25_add(ix, 10 + d, docs[d], NULL));
    return ix;
}

TEST(nonfinite_numbers_refused_naming_the_tensor)
{
    const char *ok = ns_test_tmpfile("ok.model"), *badf = ns_test_tmpfile("nan.model");
    /* HNSW: a coordinate inside slot 3's level-0 record */
    size_t rec = save_hnsw(ok);
    ns_hnsw *h = (ns_hnsw *)1;
    rewrite(ok, badf, "l0", 3 * rec + 2 * 4, NAN32, NULL, NULL);
    ASSERT(ns_hnsw_load(&h, badf) < 0 && h == NULL);
    expect_nonfinite("l0", "slot 3: vector element 2", "nan");
    rewrite(ok, badf, "l0", 29 * rec, NINF32, NULL, NULL);
    ASSERT(ns_hnsw_load(&h, badf) < 0);
    expect_nonfinite("l0", "slot 29: vector element 0", "-inf");
    /* BM25: a document length and a term frequency */
    ns_bm25 *ix = small_bm25(), *g = (ns_bm25 *)1;
    ASSERT_OK(ns_bm25_save(ix, ok));
    ns_bm25_free(ix);
    rewrite(ok, badf, "doc_len", 4, INF32, NULL, NULL);
    ASSERT(ns_bm25_load(&g, badf) < 0 && g == NULL);
    expect_nonfinite("doc_len", "element 1 (of 4)", "inf");
    rewrite(ok, badf, "post_tf", 0, NAN32, NULL, NULL);
    ASSERT(ns_bm25_load(&g, badf) < 0);
    expect_nonfinite("post_tf", "element 0", "nan");
    /* i2i: a weight */
    ns_i2i *gm = (ns_i2i *)1;
    save_i2i(ok);
    rewrite(ok, badf, "w", 4, NAN32, NULL, NULL);
    ASSERT(ns_i2i_load(&gm, badf) < 0 && gm == NULL);
    expect_nonfinite("w", "element 1", "nan");
    /* ranker: wide weights, FTRL state, an embedding, an MLP layer */
    save_ranker(NS_RANK_WIDE_DEEP, ok);
    static const struct { const char *t; uint32_t v; const char *at, *val; } rk[] = {
        {"wide.w", NAN32, "element 3", "nan"}, {"wide.n", INF32, "element 3", "inf"},
        {"emb.cat", NINF32, "element 3", "-inf"}, {"mlp.0.weight", NAN32, "element 3", "nan"},
        {"mlp.1.bias", INF32, "element 0", "inf"}};
    for (size_t k = 0; k < sizeof rk / sizeof rk[0]; k++) {
        rewrite(ok, badf, rk[k].t, strcmp(rk[k].at, "element 3") ? 0 : 12, rk[k].v, NULL, NULL);
        expect_ranker(badf, NS_EFORMAT, rk[k].t);
        expect_nonfinite(rk[k].t, rk[k].at, rk[k].val);
    }
    /* LLM: ours, and a llama2.c checkpoint */
    ns_llm *lm = tiny_llm();
    ASSERT_OK(ns_llm_save(lm, NULL, ok));
    rewrite(ok, badf, "wte", 5 * 4, NAN32, NULL, NULL);
    ns_llm *gl = (ns_llm *)1;
    ASSERT(ns_llm_load(&gl, NULL, badf) < 0 && gl == NULL);
    expect_nonfinite("wte", "element 5", "nan");
    rewrite(ok, badf, "fc.proj.w", 0, INF32, NULL, NULL);
    ASSERT(ns_llm_load(&gl, NULL, badf) < 0);
    expect_nonfinite("fc.proj.w", "element 0", "inf");
    const char *bin = ns_test_tmpfile("ok.bin"), *badbin = ns_test_tmpfile("nan.bin");
    ASSERT_OK(ns_llm_export_llama2c(lm, bin));
    ns_llm_free(lm);
    ASSERT_OK(ns_llm_load(&gl, NULL, bin));
    ns_llm_free(gl);
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(bin, &img, &len, 0));
    uint32_t nan = NAN32;
    memcpy(img + 28 + 4 * 5, &nan, 4); /* wte is the first weight of the file */
    ASSERT_OK(ns_file_write_atomic(badbin, img, len));
    free(img);
    gl = (ns_llm *)1;
    ASSERT(ns_llm_load(&gl, NULL, badbin) < 0 && gl == NULL);
    expect_nonfinite("wte", "element 5", "nan");
}

/* The schema checks every float dtype: F16, BF16 and F64 as well as F32. */
enum { SK_n, SK__COUNT };
static const ns_st_keydef float_keys[] = {{"n", NS_ST_INT, NS_ST_REQ, 0, 100000, "elements per tensor"}};
static const ns_st_tensordef float_tensors[] = {{"h", NS_DT_F16, NS_ST_REQ, "[n]", "halves"},
                                                {"b", NS_DT_BF16, NS_ST_REQ, "[n]", "brain floats"},
                                                {"d", NS_DT_F64, NS_ST_REQ, "[n]", "doubles"},
                                                {"i", NS_DT_I32, NS_ST_REQ, "[n]", "not floats: any bits"}};
static const ns_st_schema float_schema = {.what = "a float test file", .format = "float-test", .version = 1,
                                          .min_version = 1, .keys = float_keys, .nkeys = SK__COUNT,
                                          .tensors = float_tensors, .ntensors = 4};

/* A float-test file of n elements per tensor, with one element of `bad`
 * (NULL: none) at `at` set to bits. */
static void write_floats(const char *path, int n, const char *bad, int at, uint64_t bits)
{
    uint16_t *h = calloc((size_t)n, 2), *b = calloc((size_t)n, 2);
    double *d = calloc((size_t)n, 8);
    int32_t *i = calloc((size_t)n, 4);
    for (int k = 0; k < n; k++) {
        h[k] = ns_f32_to_f16(k % 2 ? 65504.0f : 6e-8f); /* the largest and a subnormal half: finite */
        b[k] = ns_f32_to_bf16(-3.0e38f);
        d[k] = 1e308;
        i[k] = (int32_t)0x7fc00000; /* NaN's bits in an integer tensor are an integer */
    }
    if (bad && !strcmp(bad, "h")) h[at] = (uint16_t)bits;
    if (bad && !strcmp(bad, "b")) b[at] = (uint16_t)bits;
    if (bad && !strcmp(bad, "d")) memcpy(&d[at], &bits, 8);
    ns_st_writer *w = ns_st_writer_new();
    int64_t sh[1] = {n};
    ASSERT_OK(ns_st_writer_add(w, "h", NS_DT_F16, 1, sh, h));
    ASSERT_OK(ns_st_writer_add(w, "b", NS_DT_BF16, 1, sh, b));
    ASSERT_OK(ns_st_writer_add(w, "d", NS_DT_F64, 1, sh, d));
    ASSERT_OK(ns_st_writer_add(w, "i", NS_DT_I32, 1, sh, i));
    char cfg[96];
    snprintf(cfg, sizeof cfg, "{\"format\":\"float-test\",\"version\":1,\"n\":%d}", n);
    ASSERT_OK(ns_st_writer_meta(w, "config", cfg));
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
    free(h);
    free(b);
    free(d);
    free(i);
}

TEST(nonfinite_refused_in_every_float_dtype)
{
    const char *path = ns_test_tmpfile("floats.st");
    ns_st_value v[SK__COUNT];
    ns_st_file *f;
    write_floats(path, 9000, NULL, 0, 0);
    ASSERT_OK(ns_st_load(&f, path, &float_schema, v, NULL));
    ns_st_close(f);
    /* positions on both sides of the scan's 4096-element blocks */
    static const struct { const char *t; int at; uint64_t bits; const char *val; } bad[] = {
        {"h", 0, 0x7c00, "inf"},   {"h", 4095, 0xfc00, "-inf"}, {"h", 8999, 0x7e01, "nan"},
        {"b", 4096, 0x7fc0, "nan"}, {"b", 17, 0xff80, "-inf"},
        {"d", 8191, UINT64_C(0x7ff0000000000000), "inf"}, {"d", 8192, UINT64_C(0xfff8000000000000), "nan"}};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        write_floats(path, 9000, bad[k].t, bad[k].at, bad[k].bits);
        f = (ns_st_file *)1;
        ASSERT(ns_st_load(&f, path, &float_schema, v, NULL) < 0 && f == NULL);
        char at[48];
        snprintf(at, sizeof at, "element %d (of 9000)", bad[k].at);
        expect_nonfinite(bad[k].t, at, bad[k].val);
    }
    /* the scan itself: unaligned data, the first of several, non-float types */
    unsigned char buf[4 * 10001 + 1];
    float one = 1.0f, inf = INFINITY;
    for (int k = 0; k < 10001; k++) memcpy(buf + 1 + 4 * k, &one, 4);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_F32, buf + 1, 10001), -1);
    memcpy(buf + 1 + 4 * 9000, &inf, 4);
    memcpy(buf + 1 + 4 * 10000, &inf, 4);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_F32, buf + 1, 10001), 9000);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_F32, buf + 1, 9000), -1);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_I32, buf + 1, 10001), -1);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_U8, buf, sizeof buf), -1);
    ASSERT_EQ_INT(ns_dtype_find_nonfinite(NS_DT_F32, buf, 0), -1);
}

/* ---- a loaded model is a copy: its file may change under it ----------------- */

/* Overwrite path in place (the same inode, as cp does) with junk, then truncate it. */
static void clobber(const char *path)
{
    FILE *fp = fopen(path, "r+b");
    ASSERT(fp);
    for (int k = 0; k < 70000; k++) fputc(0xA5 ^ (k & 0xff), fp);
    ASSERT(fclose(fp) == 0);
    ASSERT(truncate(path, 4096) == 0);
    ASSERT(truncate(path, 0) == 0);
}

TEST(loaded_models_survive_their_files_changing)
{
    const char *hp = ns_test_tmpfile("live.hnsw"), *bp = ns_test_tmpfile("live.bm25");
    const char *ip = ns_test_tmpfile("live.i2i");
    save_hnsw(hp);
    ns_bm25 *ix = small_bm25();
    ASSERT_OK(ns_bm25_save(ix, bp));
    ns_bm25_free(ix);
    ns_i2i *m = small_model(NS_I2I_COSINE);
    ASSERT_OK(ns_i2i_save(m, ip));
    ns_hnsw *h;
    ns_bm25 *b;
    ns_i2i *g;
    ASSERT_OK(ns_hnsw_load(&h, hp));
    ASSERT_OK(ns_bm25_load(&b, bp));
    ASSERT_OK(ns_i2i_load(&g, ip));
    ns_hnsw_stats st;
    ns_hnsw_get_stats(h, &st);
    ASSERT_EQ_INT(st.file_image, 1); /* the level-0 block is the file's bytes, read once */
    float q[4] = {2, 1, 3, 1};
    ns_hit before[10], after[10], kb[4], ka[4];
    int nb = ns_hnsw_search(h, q, 10, 0, NULL, before), kn = ns_bm25_search(b, "red fox dog", -1, 4, NULL, kb);
    ASSERT(nb == 10 && kn > 0);
    clobber(hp);
    clobber(bp);
    clobber(ip);
    ASSERT_EQ_INT(ns_hnsw_search(h, q, 10, 0, NULL, after), nb);
    ASSERT(!memcmp(before, after, sizeof before));
    ASSERT_EQ_INT(ns_bm25_search(b, "red fox dog", -1, 4, NULL, ka), kn);
    ASSERT(!memcmp(kb, ka, sizeof(ns_hit) * (size_t)kn));
    ASSERT(g->n == m->n && !memcmp(g->w, m->w, sizeof *m->w * (size_t)m->off[m->n]));
    /* and a reload of the clobbered file is an error, not a crash */
    ns_hnsw *h2 = (ns_hnsw *)1;
    ASSERT(ns_hnsw_load(&h2, hp) < 0 && h2 == NULL);
    printf("  %s\n", ns_err_msg());
    ns_hnsw_free(h);
    ns_bm25_free(b);
    ns_i2i_free(g);
    ns_i2i_free(m);
}

/* ---- a pipeline over model files: a broken one fails the build ----------------- */

/* Eight items in two categories, two users with a few clicks. */
static ns_state *shop(void)
{
    ns_state *s = ns_state_new(NULL);
    ASSERT(s);
    ns_state_set_refresh(s, 0);
    ns_user_rec u = {"u0", 30, "F", "writer", NULL, NULL, 0};
    ASSERT_OK(ns_state_put_user(s, &u, NULL));
    for (int i = 0; i < 8; i++) {
        char id[8];
        snprintf(id, sizeof id, "%c", 'a' + i);
        ns_item_rec it = {id, id, NULL, i < 4 ? "A" : "B", NULL, NULL, 0};
        ASSERT_OK(ns_state_put_item(s, &it, NULL));
        ns_event_rec e = {"u1", id, NS_EV_CLICK, 1, 1.7e9 + i, NULL};
        ASSERT_OK(ns_state_event(s, &e));
    }
    return s;
}

/* A pipeline of the popular and i2i channels ranked by wide_deep. */
static int build(ns_state *s, const char *i2i_file, const char *ranker_file, int required, ns_pipeline **p)
{
    char cfg[4096], mf[1100] = "";
    if (ranker_file) snprintf(mf, sizeof mf, "\"model_file\": \"%s\", ", ranker_file);
    snprintf(cfg, sizeof cfg,
             "{\"recall\": [{\"name\": \"popular\", \"type\": \"popular\", \"quota\": 10},"
             "             {\"name\": \"i2i\", \"type\": \"i2i\", \"quota\": 10,"
             "              \"params\": {\"model_file\": \"%s\"}}],"
             " \"rank\": {\"type\": \"wide_deep\", \"params\": {%s\"required\": %s,"
             "            \"fallback\": {\"weights\": {\"popular\": 1}}}}}",
             i2i_file, mf, required ? "true" : "false");
    *p = (ns_pipeline *)1;
    int rc = ns_pipeline_new(p, cfg, "inline", s);
    if (rc < 0) {
        ASSERT(*p == NULL);
        printf("  %s\n", ns_err_msg());
    }
    return rc;
}

/* One recommendation for u1, every score finite. */
static void serves(ns_pipeline *p)
{
    ns_context ctx;
    ASSERT_OK(ns_context_make(&ctx, 1.7e9 + 10, 0, NULL, NULL));
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_rec_result r;
    ns_rec_request req = {"u0", 5, &ctx};
    ASSERT_OK(ns_pipeline_recommend(p, &req, &r, &a));
    ASSERT(r.n > 0 && r.nonfinite == 0);
    for (int i = 0; i < r.n; i++) ASSERT(isfinite(r.items[i].score));
    ns_arena_release(&a);
}

TEST(pipeline_refuses_broken_model_files)
{
    ns_state *s = shop();
    const char *rk = ns_test_tmpfile("ranker.safetensors"), *bad = ns_test_tmpfile("broken.safetensors");
    const char *i2i = save_i2i(ns_test_tmpfile("i2i.safetensors"));
    save_ranker_of(NS_RANK_WIDE_DEEP, "rt_ctr", "item_cat", rk);
    ns_pipeline *p;
    ASSERT_OK(build(s, i2i, rk, 0, &p));
    ASSERT_STREQ(ns_pipeline_scorer_name(p), "wide_deep");
    ASSERT(ns_pipeline_scorer_fallback(p) == NULL);
    serves(p);
    ns_pipeline_free(p);
    /* a ranker file that is there but broken fails the build, required or not */
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(rk, &img, &len, 0));
    for (int required = 0; required < 2; required++) {
        rewrite(rk, bad, "wide.w", 8, NAN32, NULL, NULL);
        ASSERT_ERR(build(s, i2i, bad, required, &p), NS_EFORMAT);
        ASSERT_HAS(ns_err_msg(), "rank.params.model_file");
        ASSERT_HAS(ns_err_msg(), bad);
        ASSERT_HAS(ns_err_msg(), "\"wide.w\" element 2 (of");
        ASSERT_HAS(ns_err_msg(), "is nan");
        ASSERT_OK(ns_file_write_atomic(bad, img, len / 2)); /* truncated */
        ASSERT(build(s, i2i, bad, required, &p) < 0);
        ASSERT_HAS(ns_err_msg(), bad);
        char junk[3000];
        for (size_t k = 0; k < sizeof junk; k++) junk[k] = (char)(k * 131 + 7);
        ASSERT_OK(ns_file_write_atomic(bad, junk, sizeof junk)); /* random bytes */
        ASSERT(build(s, i2i, bad, required, &p) < 0);
        ASSERT_HAS(ns_err_msg(), bad);
        ASSERT(build(s, i2i, ns_test_tmpdir(), required, &p) < 0); /* a directory */
        ASSERT_HAS(ns_err_msg(), "directory");
    }
    free(img);
    /* so does a broken recall model */
    rewrite(i2i, bad, "w", 0, INF32, NULL, NULL);
    ASSERT_ERR(build(s, bad, rk, 0, &p), NS_EFORMAT);
    ASSERT_HAS(ns_err_msg(), "recall[1].params.model_file");
    ASSERT_HAS(ns_err_msg(), "\"w\" element 0");
    ASSERT_OK(ns_file_read_all(i2i, &img, &len, 0));
    ASSERT_OK(ns_file_write_atomic(bad, img, len - 10));
    free(img);
    ASSERT(build(s, bad, rk, 0, &p) < 0);
    ASSERT_HAS(ns_err_msg(), bad);
    ns_state_free(s);
}

TEST(pipeline_without_its_ranker_file_says_it_falls_back)
{
    ns_state *s = shop();
    const char *i2i = save_i2i(ns_test_tmpfile("i2i.safetensors"));
    const char *none = ns_test_tmpfile("never-trained.safetensors");
    ns_pipeline *p;
    /* required false and no file: the blend ranks, and the pipeline says so */
    ASSERT_OK(build(s, i2i, none, 0, &p));
    ASSERT_STREQ(ns_pipeline_scorer_name(p), "blend");
    const char *why = ns_pipeline_scorer_fallback(p);
    ASSERT(why);
    printf("  fallback: %s\n", why);
    ASSERT_HAS(why, none);
    ASSERT_HAS(why, "does not exist");
    serves(p);
    ns_pipeline_free(p);
    ASSERT_OK(build(s, i2i, NULL, 0, &p));
    ASSERT_STREQ(ns_pipeline_scorer_name(p), "blend");
    ASSERT_HAS(ns_pipeline_scorer_fallback(p), "no model_file configured");
    ns_pipeline_free(p);
    /* required: no fallback */
    ASSERT_ERR(build(s, i2i, none, 1, &p), NS_ENOTFOUND);
    ASSERT_HAS(ns_err_msg(), none);
    ASSERT_ERR(build(s, i2i, NULL, 1, &p), NS_EINVAL);
    /* a recall model has no fallback */
    ASSERT_ERR(build(s, none, NULL, 0, &p), NS_ENOTFOUND);
    ASSERT_HAS(ns_err_msg(), "recall[1].params.model_file");
    ns_state_free(s);
}
