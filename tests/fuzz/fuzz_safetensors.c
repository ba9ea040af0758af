/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader.
 *
 * Every input is opened from memory (an exactly-sized copy, so ASan sees
 * any read past the end); when it opens, every tensor is read through the
 * public readers and checked to lie inside the image. Not part of
 * `make test` (needs clang): see README.md beside this file.
 */
#include "northstar/safetensors.h"
#include "northstar/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
        ns_st_close(f);
    } else if (f != NULL || ns_err_last()->code == NS_OK || !strstr(ns_err_msg(), "fuzz")) {
        abort(); /* a failure must be reported, naming the input */
    }
    free(img);
    return 0;
}
