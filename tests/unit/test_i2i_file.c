/*
 * test_i2i_file.c — the i2i model file (i2i.h): a trained model saved and
 * loaded gives the same rows; the schema refuses a config or tensor that
 * breaks the tables of i2i.h, and the loader the rows a table cannot check
 * (neighbour out of range, offsets decreasing, ids repeated); truncated and
 * corrupted files are errors, never crashes.
 */
#include "harness.h"
#include "northstar/i2i.h"
#include "northstar/safetensors.h"

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

/* Rewrite src with tensor `name` replaced by n int32 values, or the config
 * text with `from` replaced by `to`. */
static void rewrite(const char *src, const char *dst, const char *name, const int32_t *vals, const char *from,
                    const char *to)
{
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, src));
    ns_st_writer *w = ns_st_writer_new();
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        ASSERT_OK(ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape,
                                   name && !strcmp(t->name, name) ? (const void *)vals : t->data));
    }
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", ns_st_meta(f, "config"));
    char *p = from ? strstr(cfg, from) : NULL;
    if (from) {
        ASSERT_MSG(p, "config has no %s", from);
        char rest[1024];
        snprintf(rest, sizeof rest, "%s", p + strlen(from));
        snprintf(p, sizeof cfg - (size_t)(p - cfg), "%s%s", to, rest);
    }
    ASSERT_OK(ns_st_writer_meta(w, "config", cfg));
    ASSERT_OK(ns_st_writer_write(w, dst));
    ns_st_writer_free(w);
    ns_st_close(f);
}

TEST(save_load_roundtrip)
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

TEST(malformed_files_rejected)
{
    ns_i2i *m = small_model(NS_I2I_COSINE), *g = (ns_i2i *)1;
    const char *ok = ns_test_tmpfile("ok.i2i"), *badf = ns_test_tmpfile("bad.i2i");
    ASSERT_OK(ns_i2i_save(m, ok));
    int64_t nnz = m->off[m->n];
    int32_t *vals = malloc(sizeof(int32_t) * (size_t)nnz);
    for (int64_t k = 0; k < nnz; k++) vals[k] = (int32_t)m->nbr[k];
    /* the schema's checks */
    rewrite(ok, badf, NULL, NULL, "\"format\":\"northstar-i2i\"", "\"format\":\"northstar-bm25\"");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "format");
    ASSERT_HAS(ns_err_msg(), "not an i2i model");
    rewrite(ok, badf, NULL, NULL, "\"version\":1", "\"version\":2");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EUNSUPPORTED);
    rewrite(ok, badf, NULL, NULL, "\"items\":6", "\"items\":7");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "off");
    rewrite(ok, badf, NULL, NULL, "\"neighbours\":3", "\"neighbours\":-3");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "neighbours");
    /* the loader's */
    rewrite(ok, badf, NULL, NULL, "\"method\":\"cosine\"", "\"method\":\"svd\"");
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "method");
    vals[1] = 6;
    rewrite(ok, badf, "nbr", vals, NULL, NULL);
    ASSERT_ERR(ns_i2i_load(&g, badf), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "nbr");
    ASSERT(g == NULL);
    free(vals);
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
