/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader and the
 * schema check.
 *
 * Every input is opened from memory (an exactly-sized copy, so ASan sees
 * any read past the end); when it opens, every tensor is read through the
 * public readers and checked to lie inside the image, and the file is
 * checked against a schema with every kind of key and dimension (it
 * matches the first seed of make_seeds.c): a pass must hand out tensors of
 * the shapes the config says, a failure must name the input. Not part of
 * `make test` (needs clang): see README.md beside this file.
 */
#include "northstar/safetensors.h"
#include "northstar/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CONFIG(X)                                                                           \
    X(d, INT, REQ, 1, 64, "width")                                                               \
    X(n, INT, REQ, 0, 1000, "rows")                                                              \
    X(s, NUM, OPT, -1, 1, "a number")                                                            \
    X(name, STR, OPT, 1, 8, "a string")                                                          \
    X(list, ARR, OPT, 0, 4, "an array")                                                          \
    X(o, OBJ, OPT, 0, 0, "an object")
#define FUZZ_TENSORS(X)                                                                          \
    X(emb, "embed.*", F32, OPT, "[n, d]", "a pattern")                                          \
    X(h16, "h16", F16, REQ, "[12]", "a fixed size")                                     \
    X(ids, "ids", I32, REQ, "[d]", "sized by a key")                                             \
    X(off, "off", I64, OPT, "[n+1]", "key + 1")
enum { FK_d, FK_n, FK_s, FK_name, FK_list, FK_o, FK__COUNT };
static const ns_st_keydef fuzz_keys[] = {FUZZ_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef fuzz_tensors[] = {FUZZ_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema fuzz_schema = {.what = "a fuzz file", .format = "fuzz", .version = 1, .min_version = 1,
                                         .keys = fuzz_keys, .nkeys = FK__COUNT, .tensors = fuzz_tensors,
                                         .ntensors = 4};

/* The schema check: a pass hands out what the config says. */
static void check_schema(ns_st_file *f)
{
    ns_st_value v[FK__COUNT];
    const ns_st_tensor *t[4];
    if (ns_st_check(f, &fuzz_schema, v, t) < 0) {
        if (ns_err_last()->code == NS_OK || !strstr(ns_err_msg(), "fuzz")) abort();
        return;
    }
    if (!t[1] || t[1]->numel != 12 || !t[2] || t[2]->numel != v[FK_d].i) abort();
    if (t[3] && t[3]->numel != v[FK_n].i + 1) abort();
    if ((v[FK_name].present && !v[FK_name].str) || (v[FK_list].present && !v[FK_list].str)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *img = malloc(size ? size : 1);
    if (!img) return 0;
    memcpy(img, data, size);
    ns_st_file *f = NULL;
    if (ns_st_open_memory(&f, img, size, "fuzz") == NS_OK) {
        const unsigned char *cursor = NULL, *end = img + size;
        for (int i = 0; i < ns_st_count(f); i++) {
            const ns_st_tensor *t = ns_st_at(f, i);
            const unsigned char *p = t->data;
            if (p < img + 8 || p > end || t->nbytes > (size_t)(end - p) || (cursor && p < cursor)) abort();
            if (t->nbytes != (size_t)t->numel * ns_dtype_size(t->dtype)) abort();
            cursor = p + t->nbytes;
            if (t->numel > 0 && t->numel < (1 << 22)) {
                void *buf = malloc((size_t)t->numel * 8);
                if (t->dtype == NS_DT_I64) ns_st_read_i64(f, t->name, buf, t->numel);
                else if (t->dtype == NS_DT_I32) ns_st_read_i32(f, t->name, buf, t->numel);
                else if (ns_st_read_f32(f, t->name, buf, t->numel) < 0) memcpy(buf, t->data, t->nbytes);
                free(buf);
            }
        }
        if (cursor && cursor != end) abort();
        for (int i = 0; i < ns_st_meta_count(f); i++)
            if (!ns_st_meta(f, ns_st_meta_key(f, i))) abort();
        check_schema(f);
        ns_st_close(f);
    } else if (f != NULL || ns_err_last()->code == NS_OK || !strstr(ns_err_msg(), "fuzz")) {
        abort(); /* a failure must be reported, naming the input */
    }
    free(img);
    return 0;
}
