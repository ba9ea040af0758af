/* make_seeds.c — writes a few valid safetensors files as the fuzz corpus. */
#include "northstar/safetensors.h"
#include "northstar/base.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: make_seeds DIR\n"); return 2; }
    float f[12];
    for (int i = 0; i < 12; i++) f[i] = (float)i - 5.5f;
    int32_t ids[4] = {1, -1, 70000, 0};
    int64_t l[2] = {5, 1LL << 40};
    unsigned char u[3] = {1, 0, 1};
    int64_t s34[] = {3, 4}, s12[] = {12}, s4[] = {4}, s2[] = {2}, s3[] = {3}, s0[] = {0};
    char path[4096];
    for (int k = 0; k < 3; k++) {
        ns_st_writer *w = ns_st_writer_new();
        if (k == 0) {
            ns_st_writer_add(w, "embed.weight", NS_DT_F32, 2, s34, f);
            ns_st_writer_add_f32(w, "h16", NS_DT_F16, 1, s12, f);
            ns_st_writer_add(w, "ids", NS_DT_I32, 1, s4, ids);
            ns_st_writer_meta(w, "config", "{\"format\":\"fuzz\",\"version\":1,\"d\":4,\"n\":3,\"s\":0.5,"
                                           "\"name\":\"x\",\"list\":[1,2],\"o\":{}}");
        } else if (k == 1) {
            ns_st_writer_add(w, "l", NS_DT_I64, 1, s2, l);
            ns_st_writer_add(w, "empty", NS_DT_F32, 1, s0, NULL);
            ns_st_writer_add(w, "scalar", NS_DT_F32, 0, NULL, f);
            ns_st_writer_add_f32(w, "b", NS_DT_BF16, 1, s4, f);
        } else {
            ns_st_writer_add(w, "bool", NS_DT_BOOL, 1, s3, u);
            ns_st_writer_meta(w, "\xc3\xbc", "v");
        }
        snprintf(path, sizeof path, "%s/seed%d.safetensors", argv[1], k);
        if (ns_st_writer_write(w, path) < 0) { fprintf(stderr, "%s\n", ns_err_msg()); return 1; }
        ns_st_writer_free(w);
    }
    return 0;
}
