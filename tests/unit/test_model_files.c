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
 *     parameter (test_llm.c has shapes, unknown tensors, no config).
 * (The HNSW, BM25 and attribute files have their malformed-file cases in
 * their own tests; the schema itself is tested in test_schema.c.)
 */
#include "harness.h"
#include "index_files.h"
#include "northstar/feature.h"
#include "northstar/i2i.h"
#include "northstar/llm.h"
#include "northstar/rank.h"

#include <string.h>

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

static const char *RANK_SPEC =
    "{\"label\":\"y\",\"features\":["
    "{\"name\":\"num\",\"type\":\"numeric\",\"transforms\":[\"zscore\"],\"buckets\":{\"quantiles\":4},\"wide\":true,\"embed\":2},"
    "{\"name\":\"cat\",\"type\":\"categorical\",\"embed\":3}]}";

/* An untrained ranker of `kind` on a fitted spec, saved to path. */
static void save_ranker(ns_rank_kind kind, const char *path)
{
    const char *csv = ns_test_tmpfile("r.csv");
    FILE *fp = fopen(csv, "wb");
    ASSERT(fp);
    fprintf(fp, "num,cat,y\n");
    for (int i = 0; i < 40; i++) fprintf(fp, "%d.5,%c,%d\n", i % 7, 'A' + i % 3, i % 2);
    fclose(fp);
    ns_feature_spec *s;
    ns_fdata d;
    ASSERT_OK(ns_fspec_parse(&s, RANK_SPEC, strlen(RANK_SPEC), "spec"));
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

TEST(llm_file_checked)
{
    ns_llm_config c;
    ASSERT_OK(ns_llm_config_parse(&c, "{\"arch\":\"llama\",\"vocab_size\":16,\"max_seq\":8,\"n_layer\":1,"
                                      "\"n_head\":2,\"n_kv_head\":1,\"d_model\":8,\"d_ff\":16}", "test"));
    ns_llm *m;
    ASSERT_OK(ns_llm_new(&m, &c));
    ns_llm_init(m, 3);
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
