/* index_files.h — helpers for the tests of model and index files (test_hnsw,
 * test_bm25, test_model_files, and integ/test_model_files_live): rewrite a
 * saved safetensors file with one 4-byte value or a piece of the config
 * changed, to check that loads refuse corrupt files. */
#ifndef NS_TEST_INDEX_FILES_H
#define NS_TEST_INDEX_FILES_H

#include "harness.h"
#include "northstar/safetensors.h"

#include <stdlib.h>
#include <string.h>

/* Rewrite a saved file (atomically) with the 4 bytes at `byte` of `tensor`
 * set to value (tensor NULL: none), and cfg_from replaced by cfg_to in its
 * "config" metadata (cfg_from NULL: none). Every other tensor and metadata
 * key is kept as it is. */
static inline void rewrite(const char *src, const char *dst, const char *tensor, size_t byte, uint32_t value,
                           const char *cfg_from, const char *cfg_to)
{
    ns_st_file *f;
    if (ns_st_open(&f, src) < 0) FAIL("%s", ns_err_msg());
    ns_st_writer *w = ns_st_writer_new();
    int n = ns_st_count(f), poked = !tensor;
    void **bufs = calloc((size_t)n + 1, sizeof *bufs);
    for (int i = 0; i < n; i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        bufs[i] = malloc(t->nbytes + 4);
        memcpy(bufs[i], t->data, t->nbytes);
        if (tensor && !strcmp(t->name, tensor) && byte + 4 <= t->nbytes) {
            memcpy((char *)bufs[i] + byte, &value, 4);
            poked = 1;
        }
        ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, bufs[i]);
    }
    if (!poked) FAIL("%s has no tensor %s with 4 bytes at %zu", src, tensor, byte);
    for (int i = 0; i < ns_st_meta_count(f); i++) {
        const char *k = ns_st_meta_key(f, i), *v = ns_st_meta(f, k);
        const char *p = cfg_from && !strcmp(k, "config") ? strstr(v, cfg_from) : NULL;
        if (cfg_from && !strcmp(k, "config") && !p) FAIL("config has no %s", cfg_from);
        char *nv = NULL;
        if (p) {
            nv = malloc(strlen(v) + strlen(cfg_to) + 1);
            sprintf(nv, "%.*s%s%s", (int)(p - v), v, cfg_to, p + strlen(cfg_from));
        }
        ns_st_writer_meta(w, k, nv ? nv : v);
        free(nv);
    }
    if (ns_st_writer_write(w, dst) < 0) FAIL("%s", ns_err_msg());
    ns_st_writer_free(w);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    ns_st_close(f);
}

#endif
