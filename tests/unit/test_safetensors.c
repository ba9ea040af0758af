/*
 * test_safetensors.c — the safetensors reader and writer, and the f16/bf16
 * conversions they use.
 *
 *   - round trips of every dtype (scalars, zero-size tensors), metadata;
 *   - f16/bf16: all 65536 bit patterns, and rounding checked against a
 *     table made by numpy (f16) and PyTorch (bf16), see half_table.py;
 *   - one case per malformed-file rule in safetensors.h, each asserting the
 *     exact NS_E code and that the message names the problem and tensor;
 *   - a seeded mutation fuzz of valid files: every mutant either opens with
 *     all tensors inside the image or fails cleanly (run it under ASan).
 */
#include "harness.h"
#include "northstar/safetensors.h"

#include <dirent.h>
#include <jansson.h>
#include <stdint.h>

/* ===================================================================== */
/* helpers                                                                */
/* ===================================================================== */

/* A file image from header text and a data buffer. */
static unsigned char *make_image(const char *header, const void *data, size_t dlen, size_t *len)
{
    size_t hl = strlen(header);
    *len = 8 + hl + dlen;
    unsigned char *img = malloc(*len ? *len : 1);
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(img + 8, header, hl);
    if (dlen) memcpy(img + 8 + hl, data, dlen);
    return img;
}

/* Open img both from a file and from memory; both must fail with `code`
 * and a message containing each of the needles (NULL-terminated list). */
static void expect_bad(const unsigned char *img, size_t len, int code, const char *n1, const char *n2)
{
    const char *path = ns_test_tmpfile("bad.safetensors");
    ASSERT_OK(ns_file_write_atomic(path, img, len));
    ns_st_file *f = (ns_st_file *)1;
    ASSERT_ERR(ns_st_open(&f, path), code);
    ASSERT(f == NULL);
    const char *m = ns_err_msg();
    ASSERT_HAS(m, "bad.safetensors");
    if (n1) ASSERT_HAS(m, n1);
    if (n2) ASSERT_HAS(m, n2);
    ASSERT_ERR(ns_st_open_memory(&f, img, len, "mem.safetensors"), code);
    ASSERT(f == NULL);
    ASSERT_HAS(ns_err_msg(), "mem.safetensors");
    if (n1) ASSERT_HAS(ns_err_msg(), n1);
    if (n2) ASSERT_HAS(ns_err_msg(), n2);
}

static void expect_bad_header(const char *header, size_t dlen, int code, const char *n1, const char *n2)
{
    unsigned char *data = calloc(1, dlen + 1);
    size_t len;
    unsigned char *img = make_image(header, data, dlen, &len);
    expect_bad(img, len, code, n1, n2);
    free(img);
    free(data);
}

static ns_st_file *open_header(const char *header, size_t dlen)
{
    static unsigned char *img;
    size_t len;
    unsigned char *data = calloc(1, dlen + 1);
    free(img); /* previous image; its handle must be closed by now */
    img = make_image(header, data, dlen, &len);
    free(data);
    ns_st_file *f;
    ASSERT_OK(ns_st_open_memory(&f, img, len, "ok.safetensors"));
    return f;
}

static int count_temp_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

/* ===================================================================== */
/* round trips                                                            */
/* ===================================================================== */

TEST(roundtrip_every_dtype)
{
    float f32[6] = {1.5f, -2.25f, 0.0f, -0.0f, 3.4e38f, 1e-40f};
    uint16_t f16[4] = {0x3c00, 0xc000, 0x0001, 0x7bff};
    uint16_t bf16[3] = {0x3f80, 0xff80, 0x0001};
    double f64[2] = {3.141592653589793, -1e300};
    int32_t i32[5] = {INT32_MIN, -1, 0, 1, INT32_MAX};
    int64_t i64[3] = {INT64_MIN, 42, INT64_MAX};
    int8_t i8[3] = {-128, 0, 127};
    uint8_t u8[5] = {0, 1, 2, 254, 255}; /* odd size: following tensors are unaligned */
    uint8_t bools[3] = {1, 0, 1};
    float scalar = 2.5f;
    int64_t s23[] = {2, 3}, s4[] = {4}, s3[] = {3}, s2[] = {2}, s5[] = {5}, s0[] = {0}, s30[] = {3, 0},
            s1111[] = {1, 1, 1, 1, 1, 1, 1, 1};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT(w);
    ASSERT_OK(ns_st_writer_add(w, "f32", NS_DT_F32, 2, s23, f32));
    ASSERT_OK(ns_st_writer_add(w, "u8", NS_DT_U8, 1, s5, u8));
    ASSERT_OK(ns_st_writer_add(w, "f16", NS_DT_F16, 1, s4, f16));
    ASSERT_OK(ns_st_writer_add(w, "bf16", NS_DT_BF16, 1, s3, bf16));
    ASSERT_OK(ns_st_writer_add(w, "f64", NS_DT_F64, 1, s2, f64));
    ASSERT_OK(ns_st_writer_add(w, "i32", NS_DT_I32, 1, s5, i32));
    ASSERT_OK(ns_st_writer_add(w, "i64", NS_DT_I64, 1, s3, i64));
    ASSERT_OK(ns_st_writer_add(w, "i8", NS_DT_I8, 1, s3, i8));
    ASSERT_OK(ns_st_writer_add(w, "bool", NS_DT_BOOL, 1, s3, bools));
    ASSERT_OK(ns_st_writer_add(w, "scalar", NS_DT_F32, 0, NULL, &scalar));
    ASSERT_OK(ns_st_writer_add(w, "empty", NS_DT_F32, 1, s0, NULL));
    ASSERT_OK(ns_st_writer_add(w, "empty2d", NS_DT_I64, 2, s30, NULL));
    ASSERT_OK(ns_st_writer_add(w, "eight_dims", NS_DT_F32, 8, s1111, &scalar));
    const char *path = ns_test_tmpfile("all.safetensors");
    ASSERT_OK(ns_st_writer_write(w, path));
    unsigned char *img;
    size_t len;
    ASSERT_OK(ns_st_writer_serialize(w, &img, &len));
    ns_st_writer_free(w);

    /* The file on disk is the serialized image; the buffer starts 8-aligned. */
    char *disk;
    size_t dlen;
    ASSERT_OK(ns_file_read_all(path, &disk, &dlen, 0));
    ASSERT(dlen == len && !memcmp(disk, img, len));
    free(disk);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | img[i];
    ASSERT_EQ_INT(hl % 8, 0);

    struct { const char *name; ns_dtype dt; int ndim; int64_t numel; const void *data; size_t nbytes; } want[] = {
        {"f32", NS_DT_F32, 2, 6, f32, sizeof f32},   {"u8", NS_DT_U8, 1, 5, u8, 5},
        {"f16", NS_DT_F16, 1, 4, f16, 8},            {"bf16", NS_DT_BF16, 1, 3, bf16, 6},
        {"f64", NS_DT_F64, 1, 2, f64, 16},           {"i32", NS_DT_I32, 1, 5, i32, 20},
        {"i64", NS_DT_I64, 1, 3, i64, 24},           {"i8", NS_DT_I8, 1, 3, i8, 3},
        {"bool", NS_DT_BOOL, 1, 3, bools, 3},        {"scalar", NS_DT_F32, 0, 1, &scalar, 4},
        {"empty", NS_DT_F32, 1, 0, NULL, 0},         {"empty2d", NS_DT_I64, 2, 0, NULL, 0},
        {"eight_dims", NS_DT_F32, 8, 1, &scalar, 4},
    };
    int nw = (int)(sizeof want / sizeof want[0]);
    for (int pass = 0; pass < 2; pass++) {
        ns_st_file *f;
        if (pass == 0) ASSERT_OK(ns_st_open(&f, path));
        else ASSERT_OK(ns_st_open_memory(&f, img, len, "memory"));
        ASSERT_EQ_INT(ns_st_count(f), nw);
        ASSERT_EQ_INT(ns_st_meta_count(f), 0);
        for (int i = 0; i < nw; i++) {
            const ns_st_tensor *t = ns_st_find(f, want[i].name);
            ASSERT_MSG(t != NULL, "tensor %s missing", want[i].name);
            ASSERT_STREQ(t->name, want[i].name);
            ASSERT_EQ_INT(t->dtype, want[i].dt);
            ASSERT_EQ_INT(t->ndim, want[i].ndim);
            ASSERT_EQ_INT(t->numel, want[i].numel);
            ASSERT_EQ_INT(t->nbytes, want[i].nbytes);
            if (want[i].nbytes) ASSERT_MSG(!memcmp(t->data, want[i].data, want[i].nbytes), "%s data differs", t->name);
        }
        ASSERT_EQ_INT(ns_st_find(f, "f32")->shape[0], 2);
        ASSERT_EQ_INT(ns_st_find(f, "f32")->shape[1], 3);
        ASSERT_EQ_INT(ns_st_find(f, "empty2d")->shape[0], 3);
        ASSERT_EQ_INT(ns_st_find(f, "empty2d")->shape[1], 0);
        /* ns_st_at walks the tensors in data order. */
        const unsigned char *prev = NULL;
        for (int i = 0; i < nw; i++) {
            const ns_st_tensor *t = ns_st_at(f, i);
            ASSERT(t && (!prev || (const unsigned char *)t->data >= prev));
            prev = t->data;
        }
        ASSERT(ns_st_at(f, -1) == NULL && ns_st_at(f, nw) == NULL);
        ASSERT(ns_st_find(f, "nope") == NULL);
        float v[6];
        ASSERT_OK(ns_st_read_f32(f, "f32", v, 6));
        ASSERT(!memcmp(v, f32, sizeof v));
        ASSERT_OK(ns_st_read_f32(f, "scalar", v, 1));
        ASSERT(v[0] == 2.5f);
        ASSERT_OK(ns_st_read_f32(f, "empty", v, 0));
        int64_t l[3];
        ASSERT_OK(ns_st_read_i64(f, "i64", l, 3));
        ASSERT(!memcmp(l, i64, sizeof l));
        int32_t n[5];
        ASSERT_OK(ns_st_read_i32(f, "i32", n, 5));
        ASSERT(!memcmp(n, i32, sizeof n));
        ASSERT_ERR(ns_st_read_i64(f, "i32", l, 3), NS_EMISMATCH);
        ns_st_close(f);
    }
    free(img);
    ns_st_close(NULL);
}

TEST(empty_file_and_metadata)
{
    ns_st_writer *w = ns_st_writer_new();
    const char *config = "{\"model\":\"gpt\",\"n_layer\":4,\"dims\":[64,128],\"name\":\"caf\\u00e9 \\\"q\\\"\"}";
    const char *unicode = "名前 — ünïcödé 🚀 \"quotes\" \\ back\nslash\ttab";
    ASSERT_OK(ns_st_writer_meta(w, "config", config));
    ASSERT_OK(ns_st_writer_meta(w, "説明", unicode));
    ASSERT_OK(ns_st_writer_meta(w, "empty", ""));
    ASSERT_OK(ns_st_writer_meta(w, "config", config)); /* setting again replaces */
    ASSERT_ERR(ns_st_writer_meta(w, "bad", "\xff\xfe not utf-8"), NS_EINVAL);
    ASSERT_ERR(ns_st_writer_meta(w, "null", NULL), NS_EINVAL);
    const char *path = ns_test_tmpfile("meta.safetensors");
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, path));
    ASSERT_EQ_INT(ns_st_count(f), 0);
    ASSERT_EQ_INT(ns_st_meta_count(f), 3);
    ASSERT_STREQ(ns_st_meta(f, "config"), config);
    ASSERT_STREQ(ns_st_meta(f, "説明"), unicode);
    ASSERT_STREQ(ns_st_meta(f, "empty"), "");
    ASSERT(ns_st_meta(f, "absent") == NULL);
    int seen = 0;
    for (int i = 0; i < 3; i++) {
        const char *k = ns_st_meta_key(f, i);
        seen |= !strcmp(k, "config") ? 1 : !strcmp(k, "説明") ? 2 : !strcmp(k, "empty") ? 4 : 8;
    }
    ASSERT_EQ_INT(seen, 7);
    ASSERT(ns_st_meta_key(f, 3) == NULL && ns_st_meta_key(f, -1) == NULL);
    ASSERT_STREQ(ns_st_path(f), path);
    /* The config is JSON a model can parse back. */
    json_error_t je;
    json_t *cfg = json_loads(ns_st_meta(f, "config"), 0, &je);
    ASSERT(cfg && json_integer_value(json_object_get(cfg, "n_layer")) == 4);
    ASSERT_STREQ(json_string_value(json_object_get(cfg, "name")), "café \"q\"");
    json_decref(cfg);
    ns_st_close(f);
    /* A file with no tensors and no metadata is valid. */
    f = open_header("{}", 0);
    ASSERT_EQ_INT(ns_st_count(f), 0);
    ns_st_close(f);
    f = open_header("{\"__metadata__\":{}}      ", 0); /* trailing spaces pad the header */
    ASSERT_EQ_INT(ns_st_meta_count(f), 0);
    ns_st_close(f);
}

TEST(zero_size_tensors_share_an_offset)
{
    /* Empty tensors at the same offset as a non-empty one, listed after it:
     * valid in any order (the tiling check must not depend on qsort). */
    ns_st_file *f = open_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                                "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                                "\"z\":{\"dtype\":\"I8\",\"shape\":[2,0],\"data_offsets\":[16,16]},"
                                "\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                                16);
    ASSERT_EQ_INT(ns_st_count(f), 4);
    ASSERT_STREQ(ns_st_at(f, 0)->name, "a");
    ASSERT_STREQ(ns_st_at(f, 1)->name, "e");
    ASSERT_STREQ(ns_st_at(f, 2)->name, "w");
    ASSERT_STREQ(ns_st_at(f, 3)->name, "z");
    ns_st_close(f);
}

/* ===================================================================== */
/* half precision                                                         */
/* ===================================================================== */

TEST(f16_all_bit_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ns_f16_to_f32((uint16_t)h);
        uint32_t e = (h >> 10) & 31, m = h & 1023;
        double sign = (h & 0x8000) ? -1.0 : 1.0;
        if (e == 31) {
            if (m) ASSERT_MSG(isnan(f), "f16 %04x should be NaN", h);
            else ASSERT_MSG(isinf(f) && (f < 0) == (sign < 0), "f16 %04x should be inf", h);
        } else {
            double want = sign * (e == 0 ? ldexp((double)m, -24) : ldexp(1024.0 + m, (int)e - 25));
            ASSERT_MSG((double)f == want && !signbit(f) == !signbit(sign), "f16 %04x -> %.9g, want %.9g", h, f, want);
        }
        /* Back to the same bits, NaN payloads included. */
        ASSERT_MSG(ns_f32_to_f16(f) == h, "f16 %04x -> %.9g -> %04x", h, f, ns_f32_to_f16(f));
    }
}

TEST(bf16_all_bit_patterns)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ns_bf16_to_f32((uint16_t)h);
        uint32_t bits;
        memcpy(&bits, &f, 4);
        ASSERT_EQ_INT(bits, h << 16);
        ASSERT_MSG(ns_f32_to_bf16(f) == h, "bf16 %04x -> %04x", h, ns_f32_to_bf16(f));
    }
}

static const struct { uint32_t f; uint16_t h, b; } half_table[] = {
#include "half_table.inc"
};

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

TEST(half_rounding_matches_numpy_and_torch)
{
    size_t n = sizeof half_table / sizeof half_table[0], bad = 0;
    for (size_t i = 0; i < n; i++) {
        float x = from_bits(half_table[i].f);
        uint16_t h = ns_f32_to_f16(x), b = ns_f32_to_bf16(x);
        if (h != half_table[i].h || b != half_table[i].b) {
            if (bad++ < 10)
                printf("  %.9g (%08x): f16 %04x want %04x, bf16 %04x want %04x\n", x, half_table[i].f, h,
                       half_table[i].h, b, half_table[i].b);
        }
    }
    printf("  %zu values checked, %zu mismatches\n", n, bad);
    ASSERT_EQ_INT(bad, 0);
    ASSERT(n > 1000);
}

TEST(half_nan_stays_nan)
{
    /* NaNs whose payload lives only in the bits the narrow format drops
     * must stay NaN (not become infinity), keeping their sign. */
    uint32_t nans[] = {0x7f800001u, 0xff800001u, 0x7f801fffu, 0x7fc00000u, 0x7f80ffffu};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        float x = from_bits(nans[i]);
        ASSERT(isnan(ns_f16_to_f32(ns_f32_to_f16(x))));
        ASSERT(isnan(ns_bf16_to_f32(ns_f32_to_bf16(x))));
        ASSERT_EQ_INT(ns_f32_to_f16(x) >> 15, nans[i] >> 31);
        ASSERT_EQ_INT(ns_f32_to_bf16(x) >> 15, nans[i] >> 31);
    }
}

TEST(read_f32_converts)
{
    enum { N = 64 };
    float src[N];
    double d[N];
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    for (int i = 0; i < N; i++) {
        src[i] = (float)(ns_rng_normal(&r) * pow(10.0, (double)ns_rng_below(&r, 8) - 4.0));
        d[i] = (double)src[i] * (1.0 + 1e-12);
    }
    int64_t shape[] = {8, 8};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add_f32(w, "as_f32", NS_DT_F32, 2, shape, src));
    ASSERT_OK(ns_st_writer_add_f32(w, "as_f16", NS_DT_F16, 2, shape, src));
    ASSERT_OK(ns_st_writer_add_f32(w, "as_bf16", NS_DT_BF16, 2, shape, src));
    ASSERT_OK(ns_st_writer_add(w, "as_f64", NS_DT_F64, 2, shape, d));
    ASSERT_ERR(ns_st_writer_add_f32(w, "as_i32", NS_DT_I32, 2, shape, src), NS_EINVAL);
    unsigned char *img;
    size_t len;
    ASSERT_OK(ns_st_writer_serialize(w, &img, &len));
    ns_st_writer_free(w);
    ns_st_file *f;
    ASSERT_OK(ns_st_open_memory(&f, img, len, "conv.safetensors"));
    float got[N];
    ASSERT_OK(ns_st_read_f32(f, "as_f32", got, N));
    ASSERT(!memcmp(got, src, sizeof got));
    ASSERT_OK(ns_st_read_f32(f, "as_f16", got, N));
    for (int i = 0; i < N; i++) ASSERT(got[i] == ns_f16_to_f32(ns_f32_to_f16(src[i])));
    ASSERT_OK(ns_st_read_f32(f, "as_bf16", got, N));
    for (int i = 0; i < N; i++) ASSERT(got[i] == ns_bf16_to_f32(ns_f32_to_bf16(src[i])));
    ASSERT_OK(ns_st_read_f32(f, "as_f64", got, N));
    for (int i = 0; i < N; i++) ASSERT(got[i] == (float)d[i]);
    const ns_st_tensor *t = ns_st_find(f, "as_f16");
    ASSERT_EQ_INT(t->dtype, NS_DT_F16);
    ASSERT_EQ_INT(t->nbytes, 2 * N);
    ASSERT_OK(ns_st_read_f32_shape(f, "as_bf16", got, 2, shape));
    int64_t wrong[] = {4, 16};
    ASSERT_ERR_HAS(ns_st_read_f32_shape(f, "as_bf16", got, 2, wrong), NS_EMISMATCH, "shape [8,8], expected [4,16]");
    ASSERT_HAS(ns_err_msg(), "as_bf16");
    ASSERT_ERR_HAS(ns_st_read_f32_shape(f, "as_bf16", got, 1, wrong), NS_EMISMATCH, "as_bf16");
    ASSERT_ERR_HAS(ns_st_read_f32(f, "as_f16", got, N - 1), NS_EMISMATCH, "has 64 elements, expected 63");
    ASSERT_ERR_HAS(ns_st_read_f32(f, "missing", got, N), NS_ENOTFOUND, "missing");
    ASSERT_ERR_HAS(ns_st_read_f32_shape(f, "missing", got, 2, shape), NS_ENOTFOUND, "missing");
    ns_st_close(f);
    free(img);
}

TEST(read_integers_and_narrowing)
{
    int64_t big[4] = {1, -2, (int64_t)INT32_MAX + 1, 4};
    int64_t fits[3] = {INT32_MIN, 0, INT32_MAX};
    int32_t small[3] = {-7, 0, 7};
    float fl[1] = {1};
    int64_t s4[] = {4}, s3[] = {3}, s1[] = {1};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "big", NS_DT_I64, 1, s4, big));
    ASSERT_OK(ns_st_writer_add(w, "fits", NS_DT_I64, 1, s3, fits));
    ASSERT_OK(ns_st_writer_add(w, "small", NS_DT_I32, 1, s3, small));
    ASSERT_OK(ns_st_writer_add(w, "float", NS_DT_F32, 1, s1, fl));
    unsigned char *img;
    size_t len;
    ASSERT_OK(ns_st_writer_serialize(w, &img, &len));
    ns_st_writer_free(w);
    ns_st_file *f;
    ASSERT_OK(ns_st_open_memory(&f, img, len, "ints.safetensors"));
    int32_t i32[4];
    int64_t i64[4];
    ASSERT_ERR_HAS(ns_st_read_i32(f, "big", i32, 4), NS_ERANGE, "element 2 = 2147483648 does not fit");
    ASSERT_HAS(ns_err_msg(), "big");
    ASSERT_OK(ns_st_read_i32(f, "fits", i32, 3));
    ASSERT(i32[0] == INT32_MIN && i32[1] == 0 && i32[2] == INT32_MAX);
    ASSERT_OK(ns_st_read_i64(f, "small", i64, 3));
    ASSERT(i64[0] == -7 && i64[2] == 7);
    ASSERT_ERR_HAS(ns_st_read_i32(f, "float", i32, 1), NS_EMISMATCH, "F32");
    ASSERT_ERR_HAS(ns_st_read_i64(f, "float", i64, 1), NS_EMISMATCH, "float");
    ASSERT_ERR_HAS(ns_st_read_f32(f, "small", fl, 3), NS_EMISMATCH, "not a float type");
    ASSERT_ERR(ns_st_read_i32(f, "small", i32, 4), NS_EMISMATCH);
    ASSERT_ERR(ns_st_read_i64(f, "nope", i64, 1), NS_ENOTFOUND);
    ns_st_close(f);
    free(img);
}

TEST(view_f32_alignment_rule)
{
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    uint8_t odd[3] = {1, 2, 3};
    int64_t s4[] = {4}, s3[] = {3}, s2[] = {2};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "aligned", NS_DT_F32, 1, s4, a));
    ASSERT_OK(ns_st_writer_add(w, "odd", NS_DT_U8, 1, s3, odd));
    ASSERT_OK(ns_st_writer_add(w, "after_odd", NS_DT_F32, 1, s2, b));
    const char *path = ns_test_tmpfile("view.safetensors");
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, path));
    const float *v = ns_st_view_f32(f, "aligned", 4);
    ASSERT(v != NULL && v == ns_st_find(f, "aligned")->data && v[3] == 4.0f);
    ASSERT(ns_st_view_f32(f, "aligned", 3) == NULL);   /* wrong count */
    ASSERT(ns_st_view_f32(f, "odd", 3) == NULL);       /* not F32 */
    ASSERT(ns_st_view_f32(f, "missing", 1) == NULL);
    ASSERT(((uintptr_t)ns_st_find(f, "after_odd")->data & 3) != 0);
    ASSERT(ns_st_view_f32(f, "after_odd", 2) == NULL); /* unaligned: caller copies */
    float c[2];
    ASSERT_OK(ns_st_read_f32(f, "after_odd", c, 2));   /* ... and the copy works */
    ASSERT(c[0] == 5.0f && c[1] == 6.0f);
    ns_st_close(f);
}

TEST(writer_rejects_bad_tensors)
{
    float x[4] = {0};
    int64_t s4[] = {4}, neg[] = {-1}, huge[] = {(int64_t)1 << 40, (int64_t)1 << 40}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "x", NS_DT_F32, 1, s4, x));
    ASSERT_ERR_HAS(ns_st_writer_add(w, "x", NS_DT_F32, 1, s4, x), NS_EEXISTS, "duplicate tensor name \"x\"");
    ASSERT_ERR_HAS(ns_st_writer_add_f32(w, "x", NS_DT_F16, 1, s4, x), NS_EEXISTS, "\"x\"");
    ASSERT_ERR(ns_st_writer_add(w, "", NS_DT_F32, 1, s4, x), NS_EINVAL);
    ASSERT_ERR(ns_st_writer_add(w, NULL, NS_DT_F32, 1, s4, x), NS_EINVAL);
    ASSERT_ERR_HAS(ns_st_writer_add(w, "__metadata__", NS_DT_F32, 1, s4, x), NS_EINVAL, "__metadata__");
    ASSERT_ERR(ns_st_writer_add(w, "bad\xff", NS_DT_F32, 1, s4, x), NS_EINVAL);
    ASSERT_ERR(ns_st_writer_add(w, "dt", (ns_dtype)99, 1, s4, x), NS_EINVAL);
    ASSERT_ERR_HAS(ns_st_writer_add(w, "neg", NS_DT_F32, 1, neg, x), NS_EINVAL, "neg");
    ASSERT_ERR_HAS(ns_st_writer_add(w, "nine", NS_DT_F32, 9, s9, x), NS_EINVAL, "nine");
    ASSERT_ERR_HAS(ns_st_writer_add(w, "huge", NS_DT_F32, 2, huge, x), NS_ERANGE, "huge");
    ASSERT_ERR_HAS(ns_st_writer_add(w, "nodata", NS_DT_F32, 1, s4, NULL), NS_EINVAL, "nodata");
    unsigned char *img;
    size_t len;
    ASSERT_OK(ns_st_writer_serialize(w, &img, &len)); /* the failed adds left nothing behind */
    ns_st_file *f;
    ASSERT_OK(ns_st_open_memory(&f, img, len, "w"));
    ASSERT_EQ_INT(ns_st_count(f), 1);
    ns_st_close(f);
    free(img);
    ns_st_writer_free(w);
    ns_st_writer_free(NULL);
}

TEST(writer_writes_atomically)
{
    const char *dir = ns_test_tmpdir();
    const char *path = ns_test_tmpfile("model.safetensors");
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    int64_t s2[] = {2}, s3[] = {3};
    ns_st_writer *w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "a", NS_DT_F32, 1, s2, a));
    ASSERT_OK(ns_st_writer_write(w, path));
    ns_st_writer_free(w);
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, path)); /* keep the old version mapped while replacing it */
    w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "b", NS_DT_F32, 1, s3, b));
    ASSERT_OK(ns_st_writer_write(w, path));
    ASSERT_EQ_INT(ns_st_count(f), 1); /* the old mapping still reads the old file */
    float got[3];
    ASSERT_OK(ns_st_read_f32(f, "a", got, 2));
    ASSERT(got[0] == 1 && got[1] == 2);
    ns_st_close(f);
    ASSERT_OK(ns_st_open(&f, path));
    ASSERT(ns_st_find(f, "a") == NULL && ns_st_find(f, "b") != NULL);
    ns_st_close(f);
    ASSERT_EQ_INT(count_temp_files(dir), 0);
    /* Failing to write leaves the old file alone. */
    ASSERT_ERR_HAS(ns_st_writer_write(w, ns_test_tmpfile("missing-dir/x.safetensors")), NS_ENOTFOUND, "missing-dir");
    ns_st_writer_free(w);
    ASSERT_OK(ns_st_open(&f, path));
    ASSERT_EQ_INT(ns_st_count(f), 1);
    ns_st_close(f);
    ASSERT_EQ_INT(count_temp_files(dir), 0);
}

TEST(open_missing_and_directory)
{
    ns_st_file *f;
    ASSERT_ERR_HAS(ns_st_open(&f, ns_test_tmpfile("absent.safetensors")), NS_ENOTFOUND, "absent.safetensors");
    ASSERT(f == NULL);
    ASSERT_ERR_HAS(ns_st_open(&f, ns_test_tmpdir()), NS_EINVAL, "directory");
}

/* ===================================================================== */
/* malformed files: one case per rule                                     */
/* ===================================================================== */

#define T4 "{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}"

TEST(bad_file_shorter_than_8_bytes)
{
    unsigned char img[5] = {1, 0, 0, 0, 0};
    expect_bad(img, 5, NS_ETRUNCATED, "file is 5 bytes", "8-byte");
    expect_bad(img, 0, NS_ETRUNCATED, "file is 0 bytes", NULL);
}

TEST(bad_header_length_past_end)
{
    size_t len;
    unsigned char *img = make_image("{}", NULL, 0, &len);
    img[0] = 200; /* claims 200 header bytes, the file has 2 */
    expect_bad(img, len, NS_ETRUNCATED, "header length 200 runs past the end of the file (10 bytes)", NULL);
    img[0] = 3;
    expect_bad(img, len, NS_ETRUNCATED, "header length 3", NULL);
    free(img);
}

TEST(bad_header_too_big)
{
    size_t len;
    unsigned char *img = make_image("{}", NULL, 0, &len);
    uint64_t n = (uint64_t)NS_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) img[i] = (unsigned char)(n >> (8 * i));
    expect_bad(img, len, NS_ETOOBIG, "header length 104857601 exceeds", "limit");
    memset(img, 0xff, 8); /* 2^64 - 1: must not wrap around in 8 + n */
    expect_bad(img, len, NS_ETOOBIG, "exceeds", NULL);
    free(img);
}

TEST(bad_header_not_json)
{
    expect_bad_header("{not json}", 0, NS_EFORMAT, "header JSON", NULL);
    expect_bad_header("{\"a\":", 0, NS_EFORMAT, "header JSON", NULL);
    expect_bad_header("{}x", 0, NS_EFORMAT, "header JSON", NULL);
    expect_bad_header("{\"caf\xc3\":{}}", 0, NS_EFORMAT, "header JSON", NULL); /* invalid UTF-8 */
    expect_bad_header("{\"a\\u0000b\":" T4 "}", 16, NS_EFORMAT, "header JSON", NULL);  /* NUL in a name */
    expect_bad_header("", 0, NS_EFORMAT, "not a JSON object", NULL);
}

TEST(bad_header_not_an_object)
{
    expect_bad_header("[1,2,3]", 0, NS_EFORMAT, "header is not a JSON object", NULL);
    expect_bad_header("\"str\"", 0, NS_EFORMAT, "header is not a JSON object", NULL);
    expect_bad_header(" {}", 0, NS_EFORMAT, "header is not a JSON object", NULL);
}

TEST(bad_entry_not_an_object)
{
    expect_bad_header("{\"w\":[0,16]}", 16, NS_EFORMAT, "tensor 'w'", "entry is not a JSON object");
    expect_bad_header("{\"w\":null}", 0, NS_EFORMAT, "tensor 'w'", "not a JSON object");
}

TEST(bad_missing_dtype)
{
    expect_bad_header("{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT, "tensor 'w'", "\"dtype\"");
    expect_bad_header("{\"w\":{\"dtype\":32,\"shape\":[4],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT, "tensor 'w'",
                      "\"dtype\"");
}

TEST(bad_missing_shape)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", 16, NS_EFORMAT, "tensor 'w'", "\"shape\"");
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16, NS_EFORMAT, "tensor 'w'",
                      "\"shape\"");
}

TEST(bad_missing_data_offsets)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, NS_EFORMAT, "tensor 'w'", "data_offsets");
}

TEST(bad_unknown_dtype)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, NS_EUNSUPPORTED,
                      "tensor 'w'", "unknown dtype \"F8_E4M3\"");
    expect_bad_header("{\"w\":{\"dtype\":\"f32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, NS_EUNSUPPORTED,
                      "tensor 'w'", "unknown dtype \"f32\"");
}

TEST(bad_shape_entries)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT,
                      "tensor 'w'", "shape entries must be non-negative integers");
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4.0],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT,
                      "tensor 'w'", "shape");
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT,
                      "tensor 'w'", "shape");
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[[4]],\"data_offsets\":[0,16]}}", 16, NS_EFORMAT,
                      "tensor 'w'", "shape");
}

TEST(bad_shape_product_overflows)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", 16,
                      NS_ERANGE, "tensor 'w'", "shape product overflows");
    expect_bad_header("{\"w\":{\"dtype\":\"F64\",\"shape\":[9223372036854775807],\"data_offsets\":[0,16]}}", 16,
                      NS_ERANGE, "tensor 'w'", "overflows");
    /* A zero dimension makes any product 0: not an overflow, just a size mismatch. */
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,16]}}", 16,
                      NS_EMISMATCH, "tensor 'w'", "needs 0 bytes");
}

TEST(bad_data_offsets_shape)
{
    const char *bad[] = {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,8,16]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":{\"begin\":0}}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad_header(bad[i], 16, NS_EFORMAT, "tensor 'w'", "\"data_offsets\" must be [begin, end]");
    const char *bad2[] = {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}",  /* begin > end */
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[-16,0]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[\"0\",\"16\"]}}",
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16.0]}}",
    };
    for (size_t i = 0; i < sizeof bad2 / sizeof bad2[0]; i++)
        expect_bad_header(bad2[i], 16, NS_EFORMAT, "tensor 'w'", "0 <= begin <= end");
}

TEST(bad_offsets_out_of_range)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 12, NS_ERANGE, "tensor 'w'",
                      "data_offsets [0, 16] run past the data buffer (12 bytes)");
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[9223372036854775791,9223372036854775807]}}",
                      16, NS_ERANGE, "tensor 'w'", "run past");
}

TEST(bad_shape_size_mismatch)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, NS_EMISMATCH,
                      "tensor 'w'", "shape needs 12 bytes of F32 but data_offsets span 16");
    expect_bad_header("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16, NS_EMISMATCH,
                      "tensor 'w'", "8 bytes of BF16");
}

TEST(bad_overlapping_tensors)
{
    expect_bad_header("{\"a\":" T4 ",\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24, NS_EFORMAT,
                      "tensor 'b'", "overlaps the previous tensor (a)");
    /* Two tensors on the very same bytes. */
    expect_bad_header("{\"a\":" T4 ",\"b\":" T4 "}", 16, NS_EFORMAT, "overlaps", NULL);
    /* An empty tensor inside another one. */
    expect_bad_header("{\"a\":" T4 ",\"e\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,8]}}", 16, NS_EFORMAT,
                      "tensor 'e'", "overlaps");
}

TEST(bad_hole_between_tensors)
{
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
                      20, NS_EFORMAT, "tensor 'b'", "4 unused bytes before this tensor");
    /* A hole at the start. */
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, NS_EFORMAT, "tensor 'a'",
                      "unused bytes");
}

TEST(bad_trailing_bytes)
{
    expect_bad_header("{\"a\":" T4 "}", 20, NS_EFORMAT, "4 trailing bytes after the last tensor", NULL);
    expect_bad_header("{}", 1, NS_EFORMAT, "1 trailing bytes", NULL);
}

TEST(bad_duplicate_keys)
{
    expect_bad_header("{\"a\":" T4 ",\"a\":" T4 "}", 16, NS_EFORMAT, "duplicate", NULL);
    expect_bad_header("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},\"a\":" T4 "}", 16, NS_EFORMAT, "duplicate", NULL);
}

TEST(bad_metadata)
{
    expect_bad_header("{\"__metadata__\":{\"lr\":0.1},\"a\":" T4 "}", 16, NS_EFORMAT, "__metadata__ 'lr'",
                      "metadata values must be strings");
    expect_bad_header("{\"__metadata__\":{\"cfg\":{\"n\":1}}}", 0, NS_EFORMAT, "'cfg'", "must be strings");
    expect_bad_header("{\"__metadata__\":[\"x\"]}", 0, NS_EFORMAT, "__metadata__", "must be a JSON object");
}

TEST(bad_too_many_dims)
{
    expect_bad_header("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],\"data_offsets\":[0,16]}}", 16,
                      NS_EUNSUPPORTED, "tensor 'w'", "9 dimensions, at most 8");
}

/* ===================================================================== */
/* mutation fuzz                                                          */
/* ===================================================================== */

/* Valid seed files: every dtype, empty tensors, scalars, metadata. */
static unsigned char *seed_file(int which, size_t *len)
{
    ns_st_writer *w = ns_st_writer_new();
    float f[12];
    double d[3] = {1, -2, 3};
    int32_t i[4] = {1, -1, 70000, 0};
    int64_t l[2] = {5, (int64_t)1 << 40};
    uint8_t u[3] = {7, 8, 9};
    for (int k = 0; k < 12; k++) f[k] = (float)k - 5.5f;
    int64_t s34[] = {3, 4}, s3[] = {3}, s4[] = {4}, s2[] = {2}, s0[] = {0}, s12[] = {12};
    switch (which % 3) {
    case 0:
        ns_st_writer_add(w, "embed.weight", NS_DT_F32, 2, s34, f);
        ns_st_writer_add_f32(w, "h16", NS_DT_F16, 1, s12, f);
        ns_st_writer_add(w, "ids", NS_DT_I32, 1, s4, i);
        ns_st_writer_meta(w, "config", "{\"d\":4,\"name\":\"tiny\"}");
        break;
    case 1:
        ns_st_writer_add(w, "u", NS_DT_U8, 1, s3, u);
        ns_st_writer_add(w, "d", NS_DT_F64, 1, s3, d);
        ns_st_writer_add(w, "empty", NS_DT_F32, 1, s0, NULL);
        ns_st_writer_add(w, "scalar", NS_DT_F32, 0, NULL, f);
        ns_st_writer_add(w, "l", NS_DT_I64, 1, s2, l);
        ns_st_writer_add_f32(w, "b", NS_DT_BF16, 1, s4, f);
        break;
    default:
        ns_st_writer_meta(w, "a", "x");
        ns_st_writer_meta(w, "üñí", "ç\"\\");
        ns_st_writer_add(w, "bool", NS_DT_BOOL, 1, s3, u);
        ns_st_writer_add(w, "i8", NS_DT_I8, 1, s2, u);
        break;
    }
    unsigned char *img;
    if (ns_st_writer_serialize(w, &img, len) < 0) FAIL("seed: %s", ns_err_msg());
    ns_st_writer_free(w);
    return img;
}

static const char *const interesting_numbers[] = {
    "0", "1", "2", "3", "4", "7", "8", "16", "-1", "255", "65536", "2147483647", "2147483648", "4294967296",
    "9223372036854775807", "9223372036854775808", "18446744073709551615", "1e3", "0.5", "-0", "99999999999",
};
static const char interesting_bytes[] = "{}[]\",:0123456789-.e \\uF3I64BOL_";

/* Mutate a file image in place or into a new buffer; returns the result. */
static unsigned char *mutate(ns_rng *r, const unsigned char *src, size_t slen, size_t *olen)
{
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | src[i];
    size_t cap = slen + 64;
    unsigned char *out = malloc(cap);
    memcpy(out, src, slen);
    size_t n = slen;
    int rounds = 1 + (int)ns_rng_below(r, 3);
    for (int k = 0; k < rounds; k++) {
        /* Mostly aim at the header, where the parser is. */
        size_t span = (hl + 8 <= n && ns_rng_below(r, 5)) ? hl + 8 : n;
        size_t pos = span ? (size_t)ns_rng_below(r, span) : 0;
        switch (ns_rng_below(r, 8)) {
        case 0: /* flip a bit */
            if (n) out[pos % n] ^= (unsigned char)(1u << ns_rng_below(r, 8));
            break;
        case 1: /* a random or meaningful byte */
            if (n) out[pos % n] = ns_rng_below(r, 2) ? (unsigned char)ns_rng_u32(r)
                                                     : (unsigned char)interesting_bytes[ns_rng_below(r, sizeof interesting_bytes - 1)];
            break;
        case 2: /* insert bytes */
            if (n + 8 < cap && pos <= n) {
                size_t m = 1 + (size_t)ns_rng_below(r, 8);
                memmove(out + pos + m, out + pos, n - pos);
                for (size_t j = 0; j < m; j++) out[pos + j] = (unsigned char)interesting_bytes[ns_rng_below(r, sizeof interesting_bytes - 1)];
                n += m;
            }
            break;
        case 3: /* delete bytes */
            if (pos < n) {
                size_t m = 1 + (size_t)ns_rng_below(r, 8);
                if (m > n - pos) m = n - pos;
                memmove(out + pos, out + pos + m, n - pos - m);
                n -= m;
            }
            break;
        case 4: /* truncate */
            n = (size_t)ns_rng_below(r, n + 1);
            break;
        case 5: /* change the header length */
            if (n >= 8) {
                uint64_t v = hl;
                switch (ns_rng_below(r, 4)) {
                case 0: v += ns_rng_below(r, 17) - 8; break;
                case 1: v = ns_rng_below(r, n + 1); break;
                case 2: v = ns_rng_u64(r); break;
                default: v = (uint64_t)NS_ST_MAX_HEADER + ns_rng_below(r, 3) - 1; break;
                }
                for (int j = 0; j < 8; j++) out[j] = (unsigned char)(v >> (8 * j));
            }
            break;
        default: { /* replace a number in the header, keeping the length field right */
            if (hl + 8 > n) break;
            size_t start = 8 + (size_t)ns_rng_below(r, hl ? hl : 1);
            while (start < 8 + hl && !(out[start] >= '0' && out[start] <= '9')) start++;
            if (start >= 8 + hl) break;
            size_t end = start;
            while (end < 8 + hl && out[end] >= '0' && out[end] <= '9') end++;
            const char *num = interesting_numbers[ns_rng_below(r, sizeof interesting_numbers / sizeof interesting_numbers[0])];
            size_t nl = strlen(num);
            size_t nn = n - (end - start) + nl;
            unsigned char *o2 = malloc(nn + 64);
            memcpy(o2, out, start);
            memcpy(o2 + start, num, nl);
            memcpy(o2 + start + nl, out + end, n - end);
            hl = hl - (end - start) + nl;
            for (int j = 0; j < 8; j++) o2[j] = (unsigned char)((uint64_t)hl >> (8 * j));
            free(out);
            out = o2;
            n = nn;
            cap = nn + 64;
            break;
        }
        }
    }
    *olen = n;
    return out;
}

static void check_opened(const ns_st_file *f, const unsigned char *img, size_t len)
{
    const unsigned char *end = img + len, *cursor = NULL;
    size_t total = 0;
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        const unsigned char *p = t->data;
        ASSERT(t->name != NULL);
        ASSERT((unsigned)t->dtype < NS_DT__COUNT);
        ASSERT(t->ndim >= 0 && t->ndim <= NS_ST_MAX_DIMS);
        ASSERT(p >= img + 8 && p <= end && t->nbytes <= (size_t)(end - p));
        ASSERT(t->nbytes == (size_t)t->numel * ns_dtype_size(t->dtype));
        ASSERT(!cursor || p >= cursor);
        cursor = p + t->nbytes;
        total += t->nbytes;
        ASSERT(ns_st_find(f, t->name) != NULL);
        /* Touch every byte through the readers. */
        if (t->numel > 0 && t->numel < 1 << 20) {
            void *buf = malloc((size_t)t->numel * 8);
            if (t->dtype == NS_DT_F32 || t->dtype == NS_DT_F16 || t->dtype == NS_DT_BF16 || t->dtype == NS_DT_F64)
                ASSERT_OK(ns_st_read_f32(f, t->name, buf, t->numel));
            else if (t->dtype == NS_DT_I64)
                ASSERT_OK(ns_st_read_i64(f, t->name, buf, t->numel));
            else if (t->dtype == NS_DT_I32)
                ASSERT_OK(ns_st_read_i32(f, t->name, buf, t->numel));
            else
                memcpy(buf, t->data, t->nbytes);
            free(buf);
        }
    }
    ASSERT(!cursor || cursor == end);
    for (int i = 0; i < ns_st_meta_count(f); i++) ASSERT(ns_st_meta(f, ns_st_meta_key(f, i)) != NULL);
    (void)total;
}

TEST(fuzz_mutated_files)
{
    enum { ITER = 30000 };
    ns_rng r;
    ns_rng_seed(&r, 0x5afe, 0);
    unsigned char *seeds[3];
    size_t seed_len[3];
    for (int s = 0; s < 3; s++) seeds[s] = seed_file(s, &seed_len[s]);
    int opened = 0, failed = 0;
    int codes[32] = {0};
    ns_timer t;
    ns_timer_start(&t);
    for (int it = 0; it < ITER; it++) {
        int s = (int)ns_rng_below(&r, 3);
        size_t len;
        unsigned char *m = mutate(&r, seeds[s], seed_len[s], &len);
        /* An exactly-sized copy, so ASan catches any read past the end. */
        unsigned char *img = malloc(len ? len : 1);
        memcpy(img, m, len);
        free(m);
        ns_st_file *f = NULL;
        ns_err_clear();
        int rc = ns_st_open_memory(&f, img, len, "fuzz.safetensors");
        if (rc == NS_OK) {
            ASSERT(f != NULL);
            check_opened(f, img, len);
            ns_st_close(f);
            opened++;
        } else {
            ASSERT(f == NULL);
            ASSERT_MSG(rc == NS_ETRUNCATED || rc == NS_ETOOBIG || rc == NS_EFORMAT || rc == NS_EUNSUPPORTED ||
                           rc == NS_ERANGE || rc == NS_EMISMATCH,
                       "iteration %d: unexpected code %s: %s", it, ns_errname(rc), ns_err_msg());
            ASSERT_EQ_INT(ns_err_last()->code, rc);
            ASSERT_HAS(ns_err_msg(), "fuzz.safetensors");
            ASSERT(strlen(ns_err_last()->msg) > 5);
            codes[-rc]++;
            failed++;
        }
        free(img);
    }
    printf("  %d mutants in %.2f s: %d opened, %d rejected (", ITER, ns_timer_elapsed(&t), opened, failed);
    for (int c = 0; c < 32; c++)
        if (codes[c]) printf(" %s=%d", ns_errname(-c), codes[c]);
    printf(" )\n");
    /* The fuzz reaches both outcomes and most rules. */
    ASSERT(opened > 100 && failed > ITER / 2);
    ASSERT(codes[-NS_EFORMAT] && codes[-NS_ETRUNCATED] && codes[-NS_ERANGE] && codes[-NS_EMISMATCH] &&
           codes[-NS_ETOOBIG]);
    for (int s = 0; s < 3; s++) free(seeds[s]);
}
