/*
 * test_schema.c — the checked loader of safetensors.h (ns_st_load) against
 * a small schema of its own: a good file loads with every value and tensor
 * in place; each kind of violation (no config, another format, a version
 * too new, a key missing / of the wrong kind / out of range / unknown, a
 * tensor missing / of the wrong dtype / rank / dimension / unknown) is its
 * own case asserting the NS_E code and that ns_err_last()->field names the
 * offending key or tensor. Both tag layouts are covered: "format" and
 * "version" inside the config, and a "<format>/<version>" metadata tag.
 */
#include "harness.h"
#include "northstar/safetensors.h"

#include <string.h>

/* The test format, in the X-macro form the real formats use. */
#define TEST_FILE_CONFIG(X)                                                  \
    X(dim, INT, REQ, 1, 64, "row width")                                     \
    X(count, INT, REQ, 0, 1000, "rows")                                      \
    X(scale, NUM, OPT, 0, 10, "a factor")                                    \
    X(name, STR, REQ, 1, 8, "a short name")                                  \
    X(fields, ARR, OPT, 1, 3, "one to three field names")                    \
    X(extra, OBJ, OPT, 0, 0, "anything the loader checks")
#define TEST_FILE_TENSORS(X)                                                 \
    X(vecs, "vecs", F32, REQ, "[count, dim]", "the rows")                    \
    X(off, "off", I64, REQ, "[count+1]", "row offsets")                      \
    X(blob, "blob", U8, OPT, "[*]", "bytes of any length")                   \
    X(head, "head", F32, OPT, "[2, dim]", "a fixed-height head")             \
    X(emb, "emb.*", F32, OPT, "[*, dim]", "tables, any number")

enum {
#define K(name, ...) K_##name,
    TEST_FILE_CONFIG(K)
#undef K
    K__COUNT
};
enum {
#define T(id, ...) T_##id,
    TEST_FILE_TENSORS(T)
#undef T
    T__COUNT
};

static const ns_st_keydef keys[] = {TEST_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef tensors[] = {TEST_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema schema = {.what = "a test file", .format = "northstar-test", .version = 2,
                                    .min_version = 1, .keys = keys, .nkeys = K__COUNT,
                                    .tensors = tensors, .ntensors = T__COUNT};
/* The same with the tag in metadata "format" = "northstar-test/2". */
static const ns_st_schema tagged = {.what = "a test file", .format = "northstar-test", .version = 2,
                                    .min_version = 1, .tag = "format", .tag_sep = '/', .keys = keys,
                                    .nkeys = K__COUNT, .tensors = tensors, .ntensors = T__COUNT};

#define GOOD_CONFIG "{\"format\":\"northstar-test\",\"version\":2,\"dim\":4,\"count\":3,\"name\":\"abc\"}"

typedef struct {
    const char *name;
    ns_dtype dt;
    int ndim;
    int64_t shape[3];
} tdesc;

/* The good file's tensors. */
static const tdesc good_tensors[] = {
    {"vecs", NS_DT_F32, 2, {3, 4}},
    {"off", NS_DT_I64, 1, {4}},
    {"emb.a", NS_DT_F32, 2, {7, 4}},
    {"emb.b", NS_DT_F32, 2, {2, 4}},
};

/* Write a file with the given config (NULL: none), metadata tag (NULL:
 * none) and tensors, all zero; returns its path. */
static const char *write_file(const char *config, const char *tag, const tdesc *ts, int n)
{
    static double zeros[256];
    ns_st_writer *w = ns_st_writer_new();
    for (int i = 0; i < n; i++) ASSERT_OK(ns_st_writer_add(w, ts[i].name, ts[i].dt, ts[i].ndim, ts[i].shape, zeros));
    if (config) ASSERT_OK(ns_st_writer_meta(w, "config", config));
    if (tag) ASSERT_OK(ns_st_writer_meta(w, "format", tag));
    const char *path = ns_test_tmpfile("schema.safetensors");
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
    return path;
}

static const char *good_with_config(const char *config)
{
    return write_file(config, NULL, good_tensors, 4);
}

/* Load path with s, expect code, and that the error's field is `field`. */
static void expect(const ns_st_schema *s, const char *path, int code, const char *field)
{
    ns_st_file *f = (ns_st_file *)1;
    ns_st_value cfg[K__COUNT];
    const ns_st_tensor *t[T__COUNT];
    ASSERT_ERR(ns_st_load(&f, path, s, cfg, t), code);
    ASSERT(f == NULL);
    ASSERT_STREQ(ns_err_last()->field, field);
    ASSERT_HAS(ns_err_last()->file, "schema.safetensors");
}

/* The good config with `from` replaced by `to`. */
static const char *config_with(const char *from, const char *to)
{
    static char buf[512];
    const char *p = strstr(GOOD_CONFIG, from);
    ASSERT_MSG(p, "no %s in the config", from);
    snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - GOOD_CONFIG), GOOD_CONFIG, to, p + strlen(from));
    return buf;
}

TEST(good_file_loads_with_values_and_tensors)
{
    const char *path = good_with_config("{\"format\":\"northstar-test\",\"version\":1,\"dim\":4,\"count\":3,"
                                        "\"name\":\"abc\",\"scale\":2.5,\"fields\":[\"a\",\"b\"],\"extra\":{\"k\":1}}");
    ns_st_file *f;
    ns_st_value cfg[K__COUNT];
    const ns_st_tensor *t[T__COUNT];
    ASSERT_OK(ns_st_load(&f, path, &schema, cfg, t));
    ASSERT_EQ_INT(cfg[K_dim].i, 4);
    ASSERT_EQ_INT(cfg[K_count].i, 3);
    ASSERT_NEAR(cfg[K_count].num, 3, 0);
    ASSERT_NEAR(cfg[K_scale].num, 2.5, 0);
    ASSERT_STREQ(cfg[K_name].str, "abc");
    ASSERT_EQ_INT(cfg[K_fields].i, 2);
    ASSERT_STREQ(cfg[K_fields].str, "[\"a\",\"b\"]");
    ASSERT_STREQ(cfg[K_extra].str, "{\"k\":1}");
    ASSERT(t[T_vecs] && t[T_vecs]->shape[0] == 3 && t[T_vecs]->shape[1] == 4);
    ASSERT(t[T_off] && t[T_off]->dtype == NS_DT_I64);
    ASSERT(t[T_blob] == NULL && t[T_head] == NULL && t[T_emb] == NULL);
    ns_st_close(f);
    /* optional keys may be absent: present says so */
    ASSERT_OK(ns_st_load(&f, good_with_config(GOOD_CONFIG), &schema, cfg, NULL));
    ASSERT_EQ_INT(cfg[K_scale].present, 0);
    ASSERT_EQ_INT(cfg[K_name].present, 1);
    ns_st_close(f);
}

TEST(optional_tensors_checked_when_present)
{
    tdesc ts[] = {{"vecs", NS_DT_F32, 2, {3, 4}}, {"off", NS_DT_I64, 1, {4}}, {"blob", NS_DT_U8, 1, {11}},
                  {"head", NS_DT_F32, 2, {2, 4}}};
    ns_st_file *f;
    ns_st_value cfg[K__COUNT];
    const ns_st_tensor *t[T__COUNT];
    ASSERT_OK(ns_st_load(&f, write_file(GOOD_CONFIG, NULL, ts, 4), &schema, cfg, t));
    ASSERT(t[T_blob] && t[T_blob]->numel == 11);
    ASSERT(t[T_head] && t[T_head]->shape[0] == 2);
    ns_st_close(f);
    ts[3].shape[0] = 3; /* the fixed dimension */
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "head");
    ASSERT_HAS(ns_err_msg(), "[2, dim] = [2, 4]");
}

TEST(missing_config)
{
    expect(&schema, good_with_config(NULL), NS_EFORMAT, "config");
    ASSERT_HAS(ns_err_msg(), "not a test file");
    expect(&schema, good_with_config("[1, 2]"), NS_EFORMAT, "config");
    expect(&schema, good_with_config("{\"dim\":"), NS_EFORMAT, "config");
}

/* A change to the good config and the error it must give. */
typedef struct {
    const char *from, *to; /* GOOD_CONFIG with from replaced by to */
    int code;
    const char *field;     /* ns_err_last()->field */
    const char *says;      /* in the message, or NULL */
} config_case;

static void expect_configs(const config_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expect(&schema, good_with_config(config_with(c[i].from, c[i].to)), c[i].code, c[i].field);
        if (c[i].says) ASSERT_HAS(ns_err_msg(), c[i].says);
    }
}
#define EXPECT_CONFIGS(cases) expect_configs(cases, sizeof cases / sizeof cases[0])

TEST(wrong_format)
{
    static const config_case cases[] = {
        {"northstar-test", "northstar-hnsw", NS_EFORMAT, "format", "not a test file: config format is \"northstar-hnsw\""},
        {"\"format\":\"northstar-test\",", "", NS_EFORMAT, "format", "config format is missing"},
        {"\"format\":\"northstar-test\"", "\"format\":7", NS_EFORMAT, "format", NULL},
    };
    EXPECT_CONFIGS(cases);
}

TEST(version_too_new_or_too_old)
{
    static const config_case cases[] = {
        {"\"version\":2", "\"version\":3", NS_EUNSUPPORTED, "version", "versions 1..2"},
        {"\"version\":2", "\"version\":0", NS_EUNSUPPORTED, "version", NULL},
        {"\"version\":2", "\"version\":\"2\"", NS_EFORMAT, "version", NULL},
        {"\"version\":2,", "", NS_EFORMAT, "version", NULL},
    };
    EXPECT_CONFIGS(cases);
}

TEST(metadata_tag)
{
    const char *cfg = "{\"dim\":4,\"count\":3,\"name\":\"abc\"}";
    ns_st_file *f;
    ns_st_value v[K__COUNT];
    ASSERT_OK(ns_st_load(&f, write_file(cfg, "northstar-test/1", good_tensors, 4), &tagged, v, NULL));
    ns_st_close(f);
    expect(&tagged, write_file(cfg, "northstar-test/3", good_tensors, 4), NS_EUNSUPPORTED, "version");
    expect(&tagged, write_file(cfg, "northstar-rank/1", good_tensors, 4), NS_EFORMAT, "format");
    ASSERT_HAS(ns_err_msg(), "not a test file");
    expect(&tagged, write_file(cfg, "northstar-test/x1", good_tensors, 4), NS_EFORMAT, "format");
    expect(&tagged, write_file(cfg, NULL, good_tensors, 4), NS_EFORMAT, "format");
    /* with NS_ST_TAG_OPTIONAL a file without the tag is the current version */
    ns_st_schema opt = tagged;
    opt.flags = NS_ST_TAG_OPTIONAL;
    ASSERT_OK(ns_st_load(&f, write_file(cfg, NULL, good_tensors, 4), &opt, v, NULL));
    ns_st_close(f);
    /* "format" and "version" are config keys like any other here: unknown */
    const char *with_format = "{\"format\":\"northstar-test\",\"dim\":4,\"count\":3,\"name\":\"abc\"}";
    expect(&tagged, write_file(with_format, "northstar-test/2", good_tensors, 4), NS_EFORMAT, "format");
}

TEST(config_value_missing)
{
    static const config_case cases[] = {
        {"\"dim\":4,", "", NS_EFORMAT, "dim", "config lacks \"dim\" (row width)"},
        {",\"name\":\"abc\"", "", NS_EFORMAT, "name", NULL},
    };
    EXPECT_CONFIGS(cases);
}

TEST(config_value_wrong_type)
{
    static const config_case cases[] = {
        {"\"dim\":4", "\"dim\":4.5", NS_EFORMAT, "dim", "must be an integer"},
        {"\"dim\":4", "\"dim\":\"4\"", NS_EFORMAT, "dim", NULL},
        {"\"name\":\"abc\"", "\"name\":7", NS_EFORMAT, "name", "must be a string"},
        /* a NUL inside a string: the JSON reader refuses it */
        {"\"name\":\"abc\"", "\"name\":\"a\\u0000b\"", NS_EFORMAT, "config", NULL},
        {"\"dim\":4", "\"dim\":4,\"scale\":\"x\"", NS_EFORMAT, "scale", "must be a number"},
        {"\"dim\":4", "\"dim\":4,\"fields\":{}", NS_EFORMAT, "fields", "must be an array"},
        {"\"dim\":4", "\"dim\":4,\"extra\":[]", NS_EFORMAT, "extra", "must be an object"},
    };
    EXPECT_CONFIGS(cases);
}

TEST(config_value_out_of_range)
{
    static const config_case cases[] = {
        {"\"dim\":4", "\"dim\":0", NS_EFORMAT, "dim", "dim '0': not a valid test file: config key \"dim\" is outside 1..64"},
        {"\"dim\":4", "\"dim\":65", NS_EFORMAT, "dim", NULL},
        {"\"dim\":4", "\"dim\":4,\"scale\":10.5", NS_EFORMAT, "scale", "outside 0..10"},
        {"\"name\":\"abc\"", "\"name\":\"\"", NS_EFORMAT, "name", "length is outside 1..8"},
        {"\"name\":\"abc\"", "\"name\":\"abcdefghi\"", NS_EFORMAT, "name", NULL},
        {"\"dim\":4", "\"dim\":4,\"fields\":[]", NS_EFORMAT, "fields", "length is outside 1..3"},
        {"\"dim\":4", "\"dim\":4,\"fields\":[1,2,3,4]", NS_EFORMAT, "fields", NULL},
    };
    EXPECT_CONFIGS(cases);
}

TEST(config_key_unknown)
{
    static const config_case cases[] = {
        {"\"dim\":4", "\"dim\":4,\"dims\":4", NS_EFORMAT, "dims", "unknown config key 'dims'"},
    };
    EXPECT_CONFIGS(cases);
}

TEST(tensor_missing)
{
    expect(&schema, write_file(GOOD_CONFIG, NULL, good_tensors + 1, 3), NS_EFORMAT, "vecs");
    ASSERT_HAS(ns_err_msg(), "F32 [count, dim]");
}

TEST(tensor_wrong_dtype)
{
    tdesc ts[4];
    memcpy(ts, good_tensors, sizeof ts);
    ts[1].dt = NS_DT_I32;
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "off");
    ASSERT_HAS(ns_err_msg(), "is I32, expected I64");
    ts[1].dt = NS_DT_I64;
    ts[3].dt = NS_DT_F16; /* a pattern row's dtype holds for every match */
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "emb.b");
}

TEST(tensor_wrong_rank)
{
    tdesc ts[4];
    memcpy(ts, good_tensors, sizeof ts);
    ts[0] = (tdesc){"vecs", NS_DT_F32, 1, {12}};
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "vecs");
    ASSERT_HAS(ns_err_msg(), "has shape [12], expected [count, dim] = [3, 4]");
    ts[0] = (tdesc){"vecs", NS_DT_F32, 3, {3, 4, 1}};
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "vecs");
}

TEST(tensor_wrong_dimension)
{
    tdesc ts[4];
    memcpy(ts, good_tensors, sizeof ts);
    ts[1].shape[0] = 3; /* off is [count+1] */
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "off");
    ASSERT_HAS(ns_err_msg(), "[count+1] = [4]");
    ASSERT_STREQ(ns_err_last()->value, "[3]");
    memcpy(ts, good_tensors, sizeof ts);
    ts[2].shape[1] = 5; /* emb.a is [*, dim] */
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EFORMAT, "emb.a");
    ASSERT_HAS(ns_err_msg(), "= [*, 4]");
    /* NS_ST_SHAPE_MISMATCH reports shapes as NS_EMISMATCH */
    ns_st_schema m = schema;
    m.flags = NS_ST_SHAPE_MISMATCH;
    expect(&m, write_file(GOOD_CONFIG, NULL, ts, 4), NS_EMISMATCH, "emb.a");
    /* the config lies about count: the tensors disagree with it */
    expect(&schema, good_with_config(config_with("\"count\":3", "\"count\":4")), NS_EFORMAT, "vecs");
}

TEST(tensor_unknown)
{
    tdesc ts[5];
    memcpy(ts, good_tensors, sizeof good_tensors);
    ts[4] = (tdesc){"bias", NS_DT_F32, 1, {4}};
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 5), NS_EFORMAT, "bias");
    ASSERT_HAS(ns_err_msg(), "not part of the format");
    ts[4] = (tdesc){"embx", NS_DT_F32, 2, {1, 4}}; /* "emb.*" needs the dot */
    expect(&schema, write_file(GOOD_CONFIG, NULL, ts, 5), NS_EFORMAT, "embx");
}

TEST(config_parse_on_text)
{
    ns_arena a;
    ns_arena_init(&a, 0);
    ns_st_value v[K__COUNT];
    ASSERT_OK(ns_st_config_parse(&schema, "{\"dim\":8,\"count\":0,\"name\":\"n\",\"format\":\"x\"}", "cfg.json", &a, v));
    ASSERT_EQ_INT(v[K_dim].i, 8);
    ASSERT_STREQ(v[K_name].str, "n");
    /* booleans are integers 0 / 1 */
    ASSERT_OK(ns_st_config_parse(&schema, "{\"dim\":true,\"count\":false,\"name\":\"n\"}", "cfg.json", &a, v));
    ASSERT_EQ_INT(v[K_dim].i, 1);
    ASSERT_EQ_INT(v[K_count].i, 0);
    ASSERT_ERR(ns_st_config_parse(&schema, "{\"dim\":8}", "cfg.json", &a, v), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "count");
    ASSERT_STREQ(ns_err_last()->file, "cfg.json");
    ASSERT_ERR(ns_st_config_parse(&tagged, "{\"dim\":8,\"count\":0,\"name\":\"n\",\"format\":\"x\"}", NULL, &a, v),
               NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "format");
    ASSERT_ERR(ns_st_config_parse(&schema, "{\n\"dim\":8,\n", "cfg.json", &a, v), NS_EFORMAT);
    ASSERT(ns_err_last()->line >= 2);
    ns_arena_release(&a);
}

TEST(loader_checks_report_like_the_schema)
{
    ns_st_file *f;
    ns_st_value v[K__COUNT];
    ASSERT_OK(ns_st_load(&f, good_with_config(GOOD_CONFIG), &schema, v, NULL));
    ASSERT_ERR(ns_st_bad(f, &schema, "off", "row %d starts after row %d", 2, 3), NS_EFORMAT);
    ASSERT_STREQ(ns_err_last()->field, "off");
    ASSERT_HAS(ns_err_msg(), "not a valid test file: row 2 starts after row 3");
    ns_st_close(f);
}

TEST(corrupt_images_fail_cleanly)
{
    char *img;
    size_t len;
    ASSERT_OK(ns_file_read_all(good_with_config(GOOD_CONFIG), &img, &len, 0));
    const char *bad = ns_test_tmpfile("schema-bad.safetensors");
    ns_rng r;
    ns_rng_seed(&r, 77, 0);
    for (int i = 0; i < 300; i++) {
        char *cp = malloc(len);
        memcpy(cp, img, len);
        for (int k = 0; k < 3; k++) cp[ns_rng_below(&r, len)] ^= (char)(1 + ns_rng_below(&r, 255));
        ASSERT_OK(ns_file_write_atomic(bad, cp, len));
        free(cp);
        ns_st_file *f;
        ns_st_value v[K__COUNT];
        const ns_st_tensor *t[T__COUNT];
        if (ns_st_load(&f, bad, &schema, v, t) == 0) {
            ASSERT(t[T_vecs]->numel == v[K_count].i * v[K_dim].i);
            ns_st_close(f);
        }
    }
    free(img);
}
