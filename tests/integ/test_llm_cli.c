/*
 * test_llm_cli.c — `northstar llm` end to end on a tiny model: help and
 * usage errors, tokenizer train/encode/decode, train -> generate -> eval ->
 * info -> export (tokenizer.bin padded to the model's ids), resume from a checkpoint equals an uninterrupted run
 * byte for byte, sft, and clear errors (exit 1, no crash) for an unknown
 * config key, a truncated model and an invalid UTF-8 prompt.
 */
#include "integ_harness.h"

#include <stdlib.h>
#include <string.h>

/* "<northstar> <args>" with stdout+stderr in out; the exit status. */
static int run(const char *args, char **out) { return cli_run(out, "%s", args); }

static const char *corpus(void)
{
    const char *p = ns_test_tmpfile("corpus.txt");
    ns_buf b;
    ns_buf_init(&b);
    for (int i = 0; i < 200; i++) ns_buf_printf(&b, "the quick brown fox %d jumps over the lazy dog.\n", i % 10);
    ASSERT_OK(ns_file_write_atomic(p, b.data, b.len));
    ns_buf_release(&b);
    return p;
}

#define TINY "--arch llama --layers 1 --heads 2 --kv-heads 1 --dim 32 --context 32 --batch 4 --seq 16 --eval-every 0 --eval-iters 2 -q -j2"

TEST(help_and_usage)
{
    char *out;
    ASSERT_EQ_INT(run("llm --help", &out), 0);
    ASSERT(strstr(out, "finetune-classify"));
    free(out);
    const char *subs[] = {"tokenizer", "train", "generate", "chat", "finetune-classify", "sft", "export", "eval", "info"};
    for (int i = 0; i < 9; i++) {
        char a[128];
        snprintf(a, sizeof a, "llm %s --help", subs[i]);
        ASSERT_EQ_INT(run(a, NULL), 0);
    }
    ASSERT_EQ_INT(run("llm frobnicate", NULL), 2);
    ASSERT_EQ_INT(run("llm train --no-such-option", NULL), 2);
    ASSERT_EQ_INT(run("llm train --steps many", NULL), 2);
}

TEST(tokenizer_cli)
{
    const char *c = corpus(), *tok = ns_test_tmpfile("tok.json");
    char a[2048], *out;
    snprintf(a, sizeof a, "llm tokenizer train --vocab 300 --out %s %s", tok, c);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm tokenizer encode -t %s 'the lazy dog'", tok);
    ASSERT_EQ_INT(run(a, &out), 0);
    char ids[512];
    snprintf(ids, sizeof ids, "%s", out);
    ids[strcspn(ids, "\n")] = 0;
    free(out);
    snprintf(a, sizeof a, "llm tokenizer decode -t %s %s", tok, ids);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(!strncmp(out, "the lazy dog", 12));
    free(out);
}

TEST(train_generate_eval_export)
{
    const char *c = corpus(), *m = ns_test_tmpfile("m.safetensors");
    char a[2048], *out;
    snprintf(a, sizeof a, "llm train --data %s --bpe-vocab 300 --steps 30 --out %s " TINY, c, m);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(strstr(out, "final: step 30"));
    free(out);
    /* the default warmup outlasting a short run is said (not under -q) */
    snprintf(a, sizeof a,
             "llm train --data %s --char --steps 3 --out %s.w --arch llama --layers 1 --heads 2 --kv-heads 1 --dim 16 "
             "--context 16 --batch 2 --seq 8 --eval-every 0 --eval-iters 1 -j1 2>&1",
             c, m);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT_HAS(out, "--warmup 100 >= --steps 3: the learning rate never reaches");
    free(out);
    snprintf(a, sizeof a, "llm generate -m %s --prompt 'the quick' --max-tokens 8 --temperature 0 -q", m);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(!strncmp(out, "the quick", 9));
    char first[512];
    snprintf(first, sizeof first, "%s", out);
    free(out);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT_STREQ(out, first); /* greedy is deterministic */
    free(out);
    /* the prompt on standard input, and --prompt-file - */
    snprintf(a, sizeof a, "printf 'the quick\\n' | '%s' llm generate -m %s --max-tokens 8 --temperature 0 -q",
             ns_test_northstar_bin(), m);
    ASSERT_EQ_INT(ns_test_run(a, &out), 0);
    ASSERT_MSG(!strncmp(out, "the quick", 9), "stdin prompt ignored: %s", out);
    free(out);
    snprintf(a, sizeof a, "printf 'the quick' | '%s' llm generate -m %s --prompt-file - --max-tokens 8 --temperature 0 -q",
             ns_test_northstar_bin(), m);
    ASSERT_EQ_INT(ns_test_run(a, &out), 0);
    ASSERT_STREQ(out, first);
    free(out);
    snprintf(a, sizeof a, "llm eval -m %s --data %s --batch 2 --seq 16 --eval-iters 2", m, c);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(strstr(out, "perplexity"));
    free(out);
    snprintf(a, sizeof a, "llm info %s", m);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(strstr(out, "\"arch\":\"llama\""));
    free(out);
    const char *bin = ns_test_tmpfile("m.bin"), *tb = ns_test_tmpfile("tokenizer.bin");
    snprintf(a, sizeof a, "llm export -m %s -o %s --tokenizer-out %s", m, bin, tb);
    ASSERT_EQ_INT(run(a, NULL), 0);
    /* the exported pair generates the same greedy ids as the original */
    snprintf(a, sizeof a, "llm generate -m %s --prompt-ids '1 50 60' --max-tokens 6 --temperature 0 -q", bin);
    ASSERT_EQ_INT(run(a, &out), 0);
    char *o2;
    snprintf(a, sizeof a, "llm generate -m %s --prompt-ids '1 50 60' --max-tokens 6 --temperature 0 -q", m);
    ASSERT_EQ_INT(run(a, &o2), 0);
    ASSERT_STREQ(out, o2);
    free(out);
    free(o2);
    snprintf(a, sizeof a, "llm generate -m %s --tokenizer %s --prompt 'the' --max-tokens 4 -q", bin, tb);
    ASSERT_EQ_INT(run(a, NULL), 0);
}

/* A model may have more ids than its tokenizer (a config's vocab_size padded
 * up): tokenizer.bin still needs one piece per model id, or llama2.c's run.c
 * and our own reader stop at the tokenizer's last id. */
TEST(export_pads_tokenizer_to_model_vocab)
{
    const char *c = corpus(), *m = ns_test_tmpfile("pad.safetensors");
    char a[2048], *out;
    snprintf(a, sizeof a,
             "llm train --data %s --bpe-vocab 300 --steps 2 --out %s --config "
             "'{\"arch\":\"llama\",\"vocab_size\":320,\"max_seq\":32,\"n_layer\":1,\"n_head\":2,"
             "\"n_kv_head\":1,\"d_model\":32,\"d_ff\":64}' --batch 2 --seq 16 --eval-every 0 --eval-iters 1 -q -j2",
             c, m);
    ASSERT_EQ_INT(run(a, NULL), 0);
    const char *bin = ns_test_tmpfile("pad.bin"), *tb = ns_test_tmpfile("pad_tok.bin");
    snprintf(a, sizeof a, "llm export -m %s -o %s --tokenizer-out %s", m, bin, tb);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm generate -m %s --tokenizer %s --prompt 'the quick' --max-tokens 4 --temperature 0 -q", bin, tb);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(!strncmp(out, "the quick", 9));
    free(out);
    snprintf(a, sizeof a, "llm tokenizer decode --tokenizer %s 305", tb);
    ASSERT_EQ_INT(run(a, &out), 0);
    ASSERT(strstr(out, "<unused305>"));
    free(out);
}

TEST(resume_equals_uninterrupted)
{
    const char *c = corpus(), *m1 = ns_test_tmpfile("a.safetensors"), *m2 = ns_test_tmpfile("b.safetensors");
    const char *ck = ns_test_tmpfile("ck.safetensors");
    char a[2048];
    snprintf(a, sizeof a, "llm train --data %s --char --steps 24 --decay-steps 24 --warmup 4 --out %s " TINY, c, m1);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm train --data %s --char --steps 10 --decay-steps 24 --warmup 4 --checkpoint %s " TINY, c, ck);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm train --data %s --resume %s --steps 24 --out %s " TINY, c, ck, m2);
    ASSERT_EQ_INT(run(a, NULL), 0);
    char *x, *y;
    size_t nx, ny;
    ASSERT_OK(ns_file_read_all(m1, &x, &nx, 0));
    ASSERT_OK(ns_file_read_all(m2, &y, &ny, 0));
    ASSERT_EQ_INT(nx, ny);
    ASSERT(!memcmp(x, y, nx));
    free(x);
    free(y);
}

TEST(bad_input_is_a_clear_error)
{
    const char *c = corpus(), *m = ns_test_tmpfile("m.safetensors");
    char a[2048], *out;
    snprintf(a, sizeof a, "llm train --data %s --char --config '{\"n_layers\":2}' --steps 1 --out %s -q", c, m);
    ASSERT_EQ_INT(run(a, &out), 1);
    ASSERT(strstr(out, "n_layers"));
    free(out);
    snprintf(a, sizeof a, "llm train --data %s --char --steps 5 --out %s " TINY, c, m);
    ASSERT_EQ_INT(run(a, NULL), 0);
    const char *pf = ns_test_tmpfile("p.txt");
    ASSERT_OK(ns_file_write_atomic(pf, "\xff\xfe", 2));
    snprintf(a, sizeof a, "llm generate -m %s --prompt-file %s -q", m, pf);
    ASSERT_EQ_INT(run(a, &out), 1);
    ASSERT(strstr(out, "UTF-8"));
    free(out);
    char *d;
    size_t n;
    ASSERT_OK(ns_file_read_all(m, &d, &n, 0));
    ASSERT_OK(ns_file_write_atomic(m, d, n - 100));
    free(d);
    snprintf(a, sizeof a, "llm generate -m %s --prompt the -q", m);
    ASSERT_EQ_INT(run(a, &out), 1);
    printf("  %s", out);
    free(out);
    snprintf(a, sizeof a, "llm generate -m /nonexistent.safetensors --prompt x -q");
    ASSERT_EQ_INT(run(a, NULL), 1);
}

TEST(sft_cli)
{
    const char *tok = ns_test_tmpfile("tok.json"), *txt = ns_test_tmpfile("t.txt"), *m = ns_test_tmpfile("m.safetensors");
    const char *sm = ns_test_tmpfile("sft.safetensors"), *jl = ns_test_tmpfile("d.jsonl");
    const char *t = "<|user|>\nhello\n<|assistant|>\nhi there\n";
    ns_buf b;
    ns_buf_init(&b);
    for (int i = 0; i < 50; i++) ns_buf_puts(&b, t);
    ASSERT_OK(ns_file_write_atomic(txt, b.data, b.len));
    ns_buf_release(&b);
    const char *j = "{\"prompt\":\"hello\",\"response\":\"hi there\"}\n{\"prompt\":\"bye\",\"response\":\"see you\"}\n";
    ASSERT_OK(ns_file_write_atomic(jl, j, strlen(j)));
    char a[2048], *out;
    snprintf(a, sizeof a, "llm tokenizer train --vocab 280 --special '<|user|>' --special '<|assistant|>' --out %s %s", tok, txt);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm train --data %s --tokenizer %s --steps 5 --out %s " TINY, txt, tok, m);
    ASSERT_EQ_INT(run(a, NULL), 0);
    snprintf(a, sizeof a, "llm sft -m %s --data %s --steps 150 --lr 1e-2 --batch 2 --out %s -q -j2", m, jl, sm);
    ASSERT_EQ_INT(run(a, &out), 0);
    printf("  %s", out);
    free(out);
    const char *pf = ns_test_tmpfile("p.txt"), *pr = "<|user|>\nbye\n<|assistant|>\n";
    ASSERT_OK(ns_file_write_atomic(pf, pr, strlen(pr)));
    snprintf(a, sizeof a, "llm generate -m %s --prompt-file %s --temperature 0 --max-tokens 10 --no-stream -q", sm, pf);
    ASSERT_EQ_INT(run(a, &out), 0);
    printf("  reply: %s", out);
    ASSERT(strstr(out, "see you"));
    free(out);
}
