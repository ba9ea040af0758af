/* index_files.h — helpers for the index tests (test_hnsw, test_bm25):
 * rewrite a saved safetensors index with one 4-byte value or a piece of the
 * config changed, to check that loads refuse corrupt files. */
#ifndef NS_TEST_INDEX_FILES_H
#define NS_TEST_INDEX_FILES_H

#include "harness.h"
#include "northstar/safetensors.h"

/* Rewrite a saved index with one tensor or the config changed. */
static inline void rewrite(const char *src, const char *dst, const char *tensor, size_t byte, uint32_t value,
                    const char *cfg_from, const char *cfg_to)
{
    ns_st_file *f;
    if (ns_st_open(&f, src) < 0) FAIL("%s", ns_err_msg());
    ns_st_writer *w = ns_st_writer_new();
    void *bufs[8] = {0};
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        bufs[i] = malloc(t->nbytes + 4);
        memcpy(bufs[i], t->data, t->nbytes);
        if (tensor && !strcmp(t->name, tensor) && byte + 4 <= t->nbytes) memcpy((char *)bufs[i] + byte, &value, 4);
        ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, bufs[i]);
    }
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s", ns_st_meta(f, "config"));
    if (cfg_from) {
        char *p = strstr(cfg, cfg_from);
        if (!p) FAIL("config has no %s", cfg_from);
        char rest[4096];
        snprintf(rest, sizeof rest, "%s", p + strlen(cfg_from));
        snprintf(p, sizeof cfg - (size_t)(p - cfg), "%s%s", cfg_to, rest);
    }
    ns_st_writer_meta(w, "config", cfg);
    if (ns_st_writer_write(w, dst) < 0) FAIL("%s", ns_err_msg());
    ns_st_writer_free(w);
    for (int i = 0; i < 8; i++) free(bufs[i]);
    ns_st_close(f);
}

#endif
