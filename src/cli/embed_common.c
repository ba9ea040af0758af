/*
 * embed_common.c — the word2vec trainer's option values and the vectors
 * writer shared by `northstar word2vec train` and `northstar deepwalk`
 * (embed_common.h).
 */
#include "embed_common.h"

#include <string.h>

const cli_choice cli_w2v_model_choices[] = {{"sg", 1}, {"skipgram", 1}, {"cbow", 0}, {NULL, 0}};
const cli_choice cli_w2v_vectors_choices[] = {{"in", NS_W2V_VEC_IN}, {"sum", NS_W2V_VEC_SUM}, {NULL, 0}};

int cli_w2v_write(const char *cmd, const ns_vectors *v, const cli_w2v_args *a)
{
    size_t n = strlen(a->output);
    int binary = a->binary || (n >= 4 && !strcmp(a->output + n - 4, ".bin"));
    if (ns_vec_write(v, a->output, binary) < 0) return cli_fail(cmd);
    return CLI_OK;
}

void cli_w2v_hits_json(ns_buf *b, const ns_vectors *v, const int64_t *idx, const float *sim, int n)
{
    ns_buf_puts(b, "[");
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *x = ns_strmap_key(v->words, idx[i], &len);
        ns_buf_puts(b, i ? ",{\"word\":" : "{\"word\":");
        ns_buf_json_str(b, x, len);
        ns_buf_puts(b, ",\"cosine\":");
        ns_buf_json_num(b, sim[i], 6);
        ns_buf_puts(b, "}");
    }
    ns_buf_puts(b, "]");
}
