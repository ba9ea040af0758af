/*
 * test_llm_eval.c — the GPT engine learns real text (Tiny Shakespeare,
 * character level, nanoGPT's split): a small model after a short run must
 * beat the unigram entropy of the characters by a clear margin on the held-
 * out 10%. The full 2,000-step nanoGPT run and its 1.88 target live in
 * bench/run_llm.sh. Skips when the data set is absent.
 */
#include "harness.h"
#include "northstar/llm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

TEST(shakespeare_char_beats_unigram)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/input.txt", ns_test_data("tinyshakespeare"));
    char *text;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &text, &len, 0));
    ns_bpe *tok;
    ASSERT_OK(ns_bpe_char_from_text(&tok, text, len));
    ASSERT_EQ_INT(ns_bpe_vocab_size(tok), 65); /* as nanoGPT prints */
    int32_t *ids;
    size_t n;
    ASSERT_OK(ns_bpe_encode(tok, text, len, 0, &ids, &n));
    size_t ntr = n * 9 / 10;
    int V = ns_bpe_vocab_size(tok);
    double *cnt = calloc((size_t)V, sizeof(double)), H = 0;
    for (size_t i = 0; i < ntr; i++) cnt[ids[i]]++;
    for (int v = 0; v < V; v++)
        if (cnt[v] > 0) H -= cnt[v] / (double)ntr * log(cnt[v] / (double)ntr);
    ns_llm_config c = ns_llm_config_default(NS_LLM_GPT2);
    c.vocab_size = V;
    c.max_seq = 64;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_kv_head = 4;
    c.d_model = 64;
    c.d_ff = 256;
    c.bias = 0;
    ns_llm *m;
    ASSERT_OK(ns_llm_new(&m, &c));
    ns_llm_init(m, 1337);
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.batch = 8;
    tc.seq = 64;
    tc.lr = 3e-3f;
    tc.min_lr = 3e-4f;
    tc.warmup = 10;
    tc.decay_steps = 120;
    ns_llm_trainer t;
    ASSERT_OK(ns_llm_trainer_init(&t, m, &tc));
    float l0, l;
    ASSERT_OK(ns_llm_eval_loss(m, ids + ntr, n - ntr, 8, 64, 10, 5, &l0));
    for (int s = 0; s < 120; s++) ASSERT_OK(ns_llm_train_step(&t, ids, ntr, &l));
    ASSERT_OK(ns_llm_eval_loss(m, ids + ntr, n - ntr, 8, 64, 10, 5, &l));
    printf("  val loss %.4f -> %.4f after 120 steps; unigram entropy %.4f nats\n", l0, l, H);
    ASSERT(l0 > 4.0f);        /* ~ln(65) at init */
    ASSERT(l < H - 0.3);      /* uses context, not just character frequencies */
    ns_llm_trainer_release(&t);
    ns_llm_free(m);
    ns_bpe_free(tok);
    free(ids);
    free(cnt);
    free(text);
}
