/*
 * test_llm.c — the GPT engine's behaviour beyond the PyTorch match
 * (tests/ref/test_llm_ref.c): strict config parsing, model files (round
 * trip, shapes vs config, truncation, unknown tensors), llama2.c export and
 * read, exact checkpoint resume, sampling, generation (greedy determinism,
 * stop sequences, long prompts, invalid UTF-8), the fast GELU against the
 * double-precision foundation kernel, SFT masking and a tiny SFT run.
 */
#include "harness.h"
#include "northstar/llm.h"
#include "northstar/safetensors.h"
#include "northstar/tensor.h"
#include "northstar/fastmath.h"

#include <stdlib.h>
#include <string.h>

static ns_llm *tiny(int arch, int V, int tied)
{
    ns_llm_config c = ns_llm_config_default(arch);
    c.vocab_size = V;
    c.max_seq = 32;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_kv_head = arch == NS_LLM_LLAMA ? 2 : 4;
    c.d_model = 32;
    c.d_ff = arch == NS_LLM_LLAMA ? 64 : 128;
    c.tied = tied;
    ns_llm *m;
    ASSERT_OK(ns_llm_new(&m, &c));
    ns_llm_init(m, 7);
    return m;
}

static void logits_of(ns_llm *m, float *out)
{
    int32_t idx[10] = {1, 5, 3, 9, 2, 8, 4, 4, 0, 6};
    ASSERT_OK(ns_llm_forward(m, idx, NULL, 1, 10, NULL));
    memcpy(out, ns_llm_logits(m), sizeof(float) * 10 * (size_t)ns_llm_cfg(m)->vocab_size);
}

TEST(config_parse_strict)
{
    ns_llm_config c;
    ASSERT_OK(ns_llm_config_parse(&c, "{\"arch\":\"llama\",\"n_layer\":3,\"n_head\":4,\"n_kv_head\":2,\"d_model\":64}", "t"));
    ASSERT_EQ_INT(c.arch, NS_LLM_LLAMA);
    ASSERT_EQ_INT(c.n_layer, 3);
    ASSERT_EQ_INT(c.d_ff, 176); /* 8C/3 rounded up to 8 */
    ASSERT_ERR(ns_llm_config_parse(&c, "{\"n_layers\":3}", "t"), NS_EFORMAT);
    ASSERT(strstr(ns_err_msg(), "n_layers"));
    ASSERT_ERR(ns_llm_config_parse(&c, "{\"arch\":\"bert\"}", "t"), NS_EFORMAT);
    ASSERT_ERR(ns_llm_config_parse(&c, "{\"n_head\":3,\"d_model\":64}", "t"), NS_EFORMAT);
    ASSERT_ERR(ns_llm_config_parse(&c, "{\"arch\":\"gpt2\",\"n_kv_head\":2}", "t"), NS_EFORMAT);
    ASSERT_ERR(ns_llm_config_parse(&c, "{\"d_model\":\"big\"}", "t"), NS_EFORMAT);
    ASSERT_ERR(ns_llm_config_parse(&c, "[1,2]", "t"), NS_EFORMAT);
    ASSERT_ERR(ns_llm_config_parse(&c, "{", "t"), NS_EFORMAT);
    char *js = ns_llm_config_json(&c);
    ns_llm_config d;
    ASSERT_OK(ns_llm_config_parse(&d, js, "roundtrip"));
    free(js);
}

TEST(save_load_roundtrip_both_families)
{
    for (int arch = 0; arch < 2; arch++) {
        ns_llm *m = tiny(arch, 50, arch == 0), *m2;
        float *a = malloc(sizeof(float) * 500), *b = malloc(sizeof(float) * 500);
        logits_of(m, a);
        const char *p = ns_test_tmpfile("m.safetensors");
        ASSERT_OK(ns_llm_save(m, NULL, p));
        ns_bpe *tok;
        ASSERT_OK(ns_llm_load(&m2, &tok, p));
        ASSERT(tok == NULL);
        logits_of(m2, b);
        ASSERT_CLOSE("reloaded logits", b, a, 500, 0, 0);
        ns_llm_free(m);
        ns_llm_free(m2);
        free(a);
        free(b);
    }
}

TEST(load_rejects_bad_files)
{
    ns_llm *m = tiny(NS_LLM_GPT2, 50, 1), *m2;
    const char *p = ns_test_tmpfile("m.safetensors");
    ASSERT_OK(ns_llm_save(m, NULL, p));
    char *data;
    size_t n;
    ASSERT_OK(ns_file_read_all(p, &data, &n, 0));
    /* truncated */
    const char *pt = ns_test_tmpfile("trunc.safetensors");
    ASSERT_OK(ns_file_write_atomic(pt, data, n / 2));
    ASSERT(ns_llm_load(&m2, NULL, pt) < 0);
    printf("  truncated: %s\n", ns_err_msg());
    ASSERT_OK(ns_file_write_atomic(pt, data, 5));
    ASSERT(ns_llm_load(&m2, NULL, pt) < 0);
    free(data);
    /* shapes disagree with the config: d_model says 64, tensors are 32 */
    ns_st_file *f;
    ASSERT_OK(ns_st_open(&f, p));
    ns_st_writer *w = ns_st_writer_new();
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        ASSERT_OK(ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    ASSERT_OK(ns_st_writer_meta(w, "config", "{\"arch\":\"gpt2\",\"vocab_size\":50,\"max_seq\":32,\"n_layer\":2,"
                                             "\"n_head\":4,\"d_model\":64,\"d_ff\":128}"));
    const char *ps = ns_test_tmpfile("shape.safetensors");
    ASSERT_OK(ns_st_writer_write(w, ps));
    ns_st_writer_free(w);
    ASSERT_ERR(ns_llm_load(&m2, NULL, ps), NS_EMISMATCH);
    /* unknown tensor */
    w = ns_st_writer_new();
    for (int i = 0; i < ns_st_count(f); i++) {
        const ns_st_tensor *t = ns_st_at(f, i);
        ASSERT_OK(ns_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    float z[2] = {0, 0};
    int64_t sh[1] = {2};
    ASSERT_OK(ns_st_writer_add(w, "extra.w", NS_DT_F32, 1, sh, z));
    ASSERT_OK(ns_st_writer_meta(w, "config", ns_st_meta(f, "config")));
    ASSERT_OK(ns_st_writer_write(w, ps));
    ns_st_writer_free(w);
    ASSERT_ERR(ns_llm_load(&m2, NULL, ps), NS_EFORMAT);
    /* no config at all */
    w = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(w, "x", NS_DT_F32, 1, sh, z));
    ASSERT_OK(ns_st_writer_write(w, ps));
    ns_st_writer_free(w);
    ASSERT_ERR(ns_llm_load(&m2, NULL, ps), NS_EFORMAT);
    ns_st_close(f);
    ns_llm_free(m);
}

TEST(llama2c_export_and_read)
{
    for (int tied = 0; tied < 2; tied++) {
        ns_llm *m = tiny(NS_LLM_LLAMA, 50, tied), *m2;
        float *a = malloc(sizeof(float) * 500), *b = malloc(sizeof(float) * 500);
        logits_of(m, a);
        const char *p = ns_test_tmpfile("model.bin");
        ASSERT_OK(ns_llm_export_llama2c(m, p));
        ASSERT_OK(ns_llm_load(&m2, NULL, p));
        ASSERT_EQ_INT(ns_llm_cfg(m2)->tied, tied);
        ASSERT_EQ_INT(ns_llm_cfg(m2)->n_kv_head, 2);
        logits_of(m2, b);
        ASSERT_CLOSE("llama2.c round trip", b, a, 500, 0, 0);
        ns_llm_free(m2);
        char *data;
        size_t n;
        ASSERT_OK(ns_file_read_all(p, &data, &n, 0));
        ASSERT_OK(ns_file_write_atomic(p, data, n - 4));
        ASSERT_ERR(ns_llm_load(&m2, NULL, p), NS_ETRUNCATED);
        ASSERT_OK(ns_file_write_atomic(p, data, 10));
        ASSERT_ERR(ns_llm_load(&m2, NULL, p), NS_ETRUNCATED);
        ((int32_t *)data)[0] = -5;
        ASSERT_OK(ns_file_write_atomic(p, data, n));
        ASSERT_ERR(ns_llm_load(&m2, NULL, p), NS_EFORMAT);
        free(data);
        ns_llm_free(m);
        free(a);
        free(b);
    }
    ns_llm *g = tiny(NS_LLM_GPT2, 50, 1);
    ASSERT_ERR(ns_llm_export_llama2c(g, ns_test_tmpfile("g.bin")), NS_EUNSUPPORTED);
    ns_llm_free(g);
}

TEST(forward_rejects_bad_ids)
{
    ns_llm *m = tiny(NS_LLM_GPT2, 50, 1);
    int32_t idx[3] = {1, 50, 2}, tg[3] = {1, 2, -2};
    ASSERT_ERR(ns_llm_forward(m, idx, NULL, 1, 3, NULL), NS_ERANGE);
    idx[1] = 3;
    ASSERT_ERR(ns_llm_forward(m, idx, tg, 1, 3, NULL), NS_ERANGE);
    int32_t *big = calloc(40, sizeof(int32_t));
    ASSERT_ERR(ns_llm_forward(m, big, NULL, 1, 40, NULL), NS_ERANGE); /* T > context */
    free(big);
    ASSERT_ERR(ns_llm_backward(m, 1), NS_EINVAL); /* no forward with targets yet */
    ns_llm_free(m);
}

/* Train k steps from a checkpoint twice: the parameters must agree bit for bit. */
TEST(checkpoint_resumes_exactly)
{
    int32_t data[400];
    for (int i = 0; i < 400; i++) data[i] = (i * 7 + i / 13) % 50;
    ns_llm *m = tiny(NS_LLM_LLAMA, 50, 0);
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.batch = 3;
    tc.seq = 16;
    tc.warmup = 2;
    tc.decay_steps = 10;
    tc.grad_accum = 2;
    ns_llm_trainer t;
    ASSERT_OK(ns_llm_trainer_init(&t, m, &tc));
    float l;
    for (int s = 0; s < 3; s++) ASSERT_OK(ns_llm_train_step(&t, data, 400, &l));
    const char *ck = ns_test_tmpfile("ck.safetensors");
    ASSERT_OK(ns_llm_checkpoint_save(&t, NULL, ck));
    for (int s = 0; s < 4; s++) ASSERT_OK(ns_llm_train_step(&t, data, 400, &l));
    size_t n = ns_llm_num_params(m);
    float *want = malloc(sizeof(float) * n);
    memcpy(want, ns_llm_params_flat(m), sizeof(float) * n);
    ns_llm_trainer t2;
    ns_llm *m2;
    ASSERT_OK(ns_llm_checkpoint_load(&t2, &m2, NULL, ck));
    ASSERT_EQ_INT(t2.step, 3);
    for (int s = 0; s < 4; s++) ASSERT_OK(ns_llm_train_step(&t2, data, 400, &l));
    ASSERT(!memcmp(ns_llm_params_flat(m2), want, sizeof(float) * n));
    printf("  resumed run equals the uninterrupted one bit for bit (%zu params)\n", n);
    /* a model file is not a checkpoint */
    const char *mf = ns_test_tmpfile("m.safetensors");
    ASSERT_OK(ns_llm_save(m, NULL, mf));
    ns_llm_trainer t3;
    ns_llm *m3;
    ASSERT_ERR(ns_llm_checkpoint_load(&t3, &m3, NULL, mf), NS_EFORMAT);
    free(want);
    ns_llm_trainer_release(&t);
    ns_llm_trainer_release(&t2);
    ns_llm_free(m);
    ns_llm_free(m2);
}

TEST(fast_gelu_matches_double_kernel)
{
    enum { N = 4096 };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N), *dx = malloc(sizeof(float) * N);
    float *g = malloc(sizeof(float) * N);
    double *xd = malloc(sizeof(double) * N), *yd = malloc(sizeof(double) * N), *dd = calloc(N, sizeof(double));
    double *gd = malloc(sizeof(double) * N);
    float *yw = malloc(sizeof(float) * N), *dw = malloc(sizeof(float) * N);
    ns_rng r;
    ns_rng_seed(&r, 3, 0);
    for (int i = 0; i < N; i++) {
        x[i] = (float)(ns_rng_normal(&r) * (i % 3 ? 3.0 : 0.01));
        xd[i] = x[i];
        g[i] = 1.0f;
        gd[i] = 1.0;
    }
    ns_gelu_fast_forward(y, x, N);
    ns_gelu_fast_backward(dx, g, x, N);
    ns_gelu_forward_f64(yd, xd, N);
    ns_gelu_backward_f64(dd, gd, xd, N);
    for (int i = 0; i < N; i++) {
        yw[i] = (float)yd[i];
        dw[i] = (float)dd[i];
    }
    ASSERT_CLOSE("gelu", y, yw, N, 1e-7, 2e-6);
    /* 1 - t^2 near t = -1 costs float32 ~1e-7 absolute, as in the float kernel */
    ASSERT_CLOSE("gelu'", dx, dw, N, 1e-6, 2e-6);
    /* SwiGLU against the foundation kernel */
    float *b = malloc(sizeof(float) * N), *o2 = malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++) b[i] = (float)ns_rng_normal(&r);
    ns_swiglu_fast_forward(y, x, b, N);
    ns_swiglu_forward(o2, x, b, N);
    ASSERT_CLOSE("swiglu", y, o2, N, 1e-7, 2e-6);
    free(x); free(y); free(dx); free(g); free(xd); free(yd); free(dd); free(gd); free(yw); free(dw); free(b); free(o2);
}

TEST(sampling_rules)
{
    float lg[6] = {1, 3, 2, 3.5f, -1, 0}, tmp[6];
    ns_llm_gen_cfg g = ns_llm_gen_defaults();
    ns_rng r;
    ns_rng_seed(&r, 1, 0);
    g.temperature = 0;
    memcpy(tmp, lg, sizeof lg);
    ASSERT_EQ_INT(ns_llm_sample(tmp, 6, &g, NULL, 0, &r), 3);
    /* repetition penalty moves greedy off a recent token */
    g.repeat_penalty = 2.0f;
    int32_t rec[2] = {3, 3};
    memcpy(tmp, lg, sizeof lg);
    ASSERT_EQ_INT(ns_llm_sample(tmp, 6, &g, rec, 2, &r), 1);
    g.repeat_penalty = 1;
    /* top-k 2: only ids 1 and 3 ever come out */
    g.temperature = 1.0f;
    g.top_k = 2;
    g.top_p = 1;
    int seen[6] = {0};
    for (int i = 0; i < 400; i++) {
        memcpy(tmp, lg, sizeof lg);
        seen[ns_llm_sample(tmp, 6, &g, NULL, 0, &r)]++;
    }
    ASSERT(seen[1] > 0 && seen[3] > 0 && seen[1] + seen[3] == 400);
    /* top-p 0.5: the single most likely token carries > 0.5 */
    g.top_k = 0;
    g.top_p = 0.5f;
    for (int i = 0; i < 50; i++) {
        memcpy(tmp, lg, sizeof lg);
        ASSERT_EQ_INT(ns_llm_sample(tmp, 6, &g, NULL, 0, &r), 3);
    }
    /* same seed, same draws */
    g.top_p = 1;
    ns_rng a, b;
    ns_rng_seed(&a, 9, 0);
    ns_rng_seed(&b, 9, 0);
    for (int i = 0; i < 50; i++) {
        float t1[6], t2[6];
        memcpy(t1, lg, sizeof lg);
        memcpy(t2, lg, sizeof lg);
        ASSERT_EQ_INT(ns_llm_sample(t1, 6, &g, NULL, 0, &a), ns_llm_sample(t2, 6, &g, NULL, 0, &b));
    }
}

/* A tiny char model that has memorised "hello world\n". */
static ns_llm *hello_model(ns_bpe **tok)
{
    ns_buf t;
    ns_buf_init(&t);
    for (int i = 0; i < 60; i++) ns_buf_puts(&t, "hello world\n");
    ASSERT_OK(ns_bpe_char_from_text(tok, t.data, t.len));
    int32_t *ids;
    size_t n;
    ASSERT_OK(ns_bpe_encode(*tok, t.data, t.len, 0, &ids, &n));
    ns_llm_config c = ns_llm_config_default(NS_LLM_GPT2);
    c.vocab_size = ns_bpe_vocab_size(*tok);
    c.max_seq = 32;
    c.n_layer = 1;
    c.n_head = 2;
    c.n_kv_head = 2;
    c.d_model = 32;
    c.d_ff = 64;
    ns_llm *m;
    ASSERT_OK(ns_llm_new(&m, &c));
    ns_llm_init(m, 1);
    ns_llm_train_cfg tc = ns_llm_train_defaults();
    tc.batch = 8;
    tc.seq = 24;
    tc.lr = 1e-2f;
    tc.warmup = 10;
    tc.decay_steps = 150;
    ns_llm_trainer tr;
    ASSERT_OK(ns_llm_trainer_init(&tr, m, &tc));
    float l = 0;
    for (int s = 0; s < 150; s++) ASSERT_OK(ns_llm_train_step(&tr, ids, n, &l));
    printf("  hello model loss %.4f\n", l);
    ASSERT(l < 0.2f);
    ns_llm_trainer_release(&tr);
    free(ids);
    ns_buf_release(&t);
    return m;
}

static int count_pieces(const char *p, size_t n, void *ctx)
{
    (void)p;
    (void)n;
    (*(int *)ctx)++;
    return 0;
}

TEST(generate_greedy_stop_and_limits)
{
    ns_bpe *tok;
    ns_llm *m = hello_model(&tok);
    ns_llm_gen_cfg g = ns_llm_gen_defaults();
    g.temperature = 0;
    g.max_tokens = 12;
    ns_buf a, b;
    ns_buf_init(&a);
    ns_buf_init(&b);
    ns_llm_gen_stats st;
    ASSERT_OK(ns_llm_generate(m, tok, "hello", &g, NULL, NULL, &a, &st));
    ASSERT_OK(ns_llm_generate(m, tok, "hello", &g, NULL, NULL, &b, &st));
    ASSERT_STREQ(a.data, b.data); /* greedy is deterministic */
    ASSERT_STREQ(a.data, " world\nhello");
    ASSERT_STREQ(st.finish, "length");
    /* stop sequence: text before it, never the stop itself */
    const char *stops[] = {"\n"};
    g.stop = stops;
    g.n_stop = 1;
    int pieces = 0;
    b.len = 0;
    ASSERT_OK(ns_llm_generate(m, tok, "hello", &g, count_pieces, &pieces, &b, &st));
    ASSERT_STREQ(b.data, " world");
    ASSERT_STREQ(st.finish, "stop");
    ASSERT(pieces >= 1);
    /* a multi-character stop that spans tokens */
    const char *stops2[] = {"ld\nhe"};
    g.stop = stops2;
    b.len = 0;
    ASSERT_OK(ns_llm_generate(m, tok, "hello", &g, NULL, NULL, &b, &st));
    ASSERT_STREQ(b.data, " wor");
    /* a prompt longer than the context is cut from the left */
    g.n_stop = 0;
    g.max_tokens = 3;
    ns_buf lp;
    ns_buf_init(&lp);
    for (int i = 0; i < 10; i++) ns_buf_puts(&lp, "hello world\n");
    b.len = 0;
    ASSERT_OK(ns_llm_generate(m, tok, lp.data, &g, NULL, NULL, &b, &st));
    ASSERT_EQ_INT(st.truncated, 120 - 31);
    ASSERT_EQ_INT(st.prompt_tokens, 31);
    ASSERT_STREQ(st.finish, "context");
    /* with a sliding window it goes on past the context, still on pattern */
    g.slide = 1;
    g.max_tokens = 60;
    b.len = 0;
    ASSERT_OK(ns_llm_generate(m, tok, "hello", &g, NULL, NULL, &b, &st));
    ASSERT_STREQ(st.finish, "length");
    ASSERT_EQ_INT(st.gen_tokens, 60);
    ASSERT(!strncmp(b.data, " world\nhello world\nhello world\nhello world\nhello world\n", 54));
    g.slide = 0;
    /* invalid UTF-8 and unknown characters are errors, not crashes */
    ASSERT_ERR(ns_llm_generate(m, tok, "hel\xff", &g, NULL, NULL, &b, &st), NS_EFORMAT);
    ASSERT_ERR(ns_llm_generate(m, tok, "xyz", &g, NULL, NULL, &b, &st), NS_ENOTFOUND);
    ASSERT_ERR(ns_llm_generate(m, tok, "", &g, NULL, NULL, &b, &st), NS_EINVAL); /* no BOS in a char vocab */
    ns_buf_release(&lp);
    ns_buf_release(&a);
    ns_buf_release(&b);
    ns_bpe_free(tok);
    ns_llm_free(m);
}

TEST(int8_inference_close_to_float)
{
    ns_llm *m = tiny(NS_LLM_LLAMA, 64, 0);
    ns_llm_ctx *a, *b;
    ASSERT_OK(ns_llm_ctx_new(&a, m));
    ASSERT_OK(ns_llm_ctx_new(&b, m));
    ASSERT_OK(ns_llm_ctx_quantize_int8(b));
    int32_t ids[5] = {3, 1, 4, 1, 5};
    const float *la, *lb;
    ASSERT_OK(ns_llm_ctx_feed(a, ids, 5, &la));
    ASSERT_OK(ns_llm_ctx_feed(b, ids, 5, &lb));
    double num = 0, den = 0;
    for (int i = 0; i < 64; i++) {
        num += (la[i] - lb[i]) * (la[i] - lb[i]);
        den += la[i] * la[i];
    }
    printf("  int8 relative logit error %.4f\n", sqrt(num / den));
    ASSERT(sqrt(num / den) < 0.05);
    ns_llm_ctx_free(a);
    ns_llm_ctx_free(b);
    ns_llm_free(m);
}

TEST(sft_masks_prompt_tokens)
{
    ns_bpe *tok;
    const char *sp[] = {"<|user|>", "<|assistant|>"};
    const char *text = "<|user|>\nwhat is two plus two\n<|assistant|>\nfour\n";
    ASSERT_OK(ns_bpe_train(&tok, text, strlen(text), 270, sp, 2));
    ns_llm_sft_ex ex;
    ASSERT_OK(ns_llm_sft_encode(tok, "what is two plus two", "four", 64, &ex));
    int32_t *pre;
    size_t npre;
    const char *p = "<|user|>\nwhat is two plus two\n<|assistant|>\n";
    ASSERT_OK(ns_bpe_encode(tok, p, strlen(p), 1, &pre, &npre));
    ASSERT_EQ_INT(pre[0], ns_bpe_special(tok, "<|user|>"));
    /* positions 0..npre-2 predict prompt tokens: ignored; the rest predict
     * the response and EOS */
    for (int i = 0; i < ex.n; i++) {
        if ((size_t)i + 1 < npre) ASSERT_EQ_INT(ex.tgt[i], -1);
        else ASSERT(ex.tgt[i] >= 0);
    }
    ASSERT_EQ_INT(ex.tgt[ex.n - 1], ns_bpe_eos(tok));
    free(pre);
    free(ex.ids);
    free(ex.tgt);
    ASSERT_ERR(ns_llm_sft_encode(tok, "a very long prompt that does not fit", "x", 8, &ex), NS_ERANGE);
    /* malformed JSONL names the line */
    const char *jp = ns_test_tmpfile("bad.jsonl");
    const char *bad = "{\"prompt\":\"a\",\"response\":\"b\"}\n{\"prompt\":1}\n";
    ASSERT_OK(ns_file_write_atomic(jp, bad, strlen(bad)));
    ns_llm_sft_ex *all;
    int n;
    ASSERT_ERR(ns_llm_sft_load(jp, tok, 64, &all, &n), NS_EFORMAT);
    ASSERT_EQ_INT(ns_err_last()->line, 2);
    ns_bpe_free(tok);
}
