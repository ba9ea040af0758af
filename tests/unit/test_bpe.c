/*
 * test_bpe.c — tokenizers: byte-level BPE exact round trips on arbitrary
 * bytes (invalid UTF-8 included), deterministic training, special tokens,
 * JSON round trip, llama2.c tokenizer.bin export/read, the GPT-2
 * vocab.json + merges.txt reader on a hand-made vocabulary, char vocabulary
 * errors, malformed files.
 */
#include "harness.h"
#include "northstar/bpe.h"

#include <stdlib.h>
#include <string.h>

static const char corpus[] =
    "the cat sat on the mat. the cat ate the rat! isn't it? 123 4567 "
    "the theme of the thesis: them, then, there, these.\n\nthe end   \n"
    "caf\xc3\xa9 na\xc3\xafve \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e the the the";

/* The corpus plus pseudo-random words, so a few hundred merges exist. */
static ns_bpe *train_small(int vocab)
{
    static const char *syl[] = {"ka", "ro", "mi", "tu", "le", "sa", "po", "ne", "vi", "da", "qu", "zor"};
    ns_buf t;
    ns_buf_init(&t);
    ns_buf_puts(&t, corpus);
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    for (int w = 0; w < 3000; w++) {
        ns_buf_puts(&t, w % 7 ? " " : "\n");
        int ns = 1 + (int)ns_rng_below(&r, 3);
        for (int k = 0; k < ns; k++) ns_buf_puts(&t, syl[ns_rng_below(&r, 12)]);
    }
    ns_bpe *b;
    const char *sp[] = {"<|user|>", "<|assistant|>"};
    ASSERT_OK(ns_bpe_train(&b, t.data, t.len, vocab, sp, 2));
    ns_buf_release(&t);
    return b;
}

static void roundtrip(const ns_bpe *b, const char *s, size_t n)
{
    int32_t *ids;
    size_t k;
    ASSERT_OK(ns_bpe_encode(b, s, n, 0, &ids, &k));
    ns_buf out;
    ns_buf_init(&out);
    ASSERT_OK(ns_bpe_decode(b, ids, k, &out));
    ASSERT_EQ_INT(out.len, n);
    ASSERT(n == 0 || !memcmp(out.data, s, n));
    ns_buf_release(&out);
    free(ids);
}

TEST(train_merges_and_compresses)
{
    ns_bpe *b = train_small(300);
    ASSERT_EQ_INT(ns_bpe_vocab_size(b), 300);
    int32_t *ids;
    size_t k;
    ASSERT_OK(ns_bpe_encode(b, " kaka zorzor", 12, 0, &ids, &k));
    ASSERT(k <= 4); /* frequent syllables are merged */
    free(ids);
    /* the first merge is the most frequent adjacent pair of the corpus */
    size_t pl;
    ns_bpe_piece(b, 259, &pl);
    ASSERT_EQ_INT(pl, 2);
    roundtrip(b, corpus, strlen(corpus));
    ns_bpe_free(b);
}

TEST(train_is_deterministic)
{
    ns_bpe *a = train_small(320), *b = train_small(320);
    char *ja, *jb;
    ASSERT_OK(ns_bpe_to_json(a, &ja));
    ASSERT_OK(ns_bpe_to_json(b, &jb));
    ASSERT_STREQ(ja, jb);
    free(ja);
    free(jb);
    ns_bpe_free(a);
    ns_bpe_free(b);
}

TEST(any_bytes_roundtrip)
{
    ns_bpe *b = train_small(330);
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    char buf[512];
    for (int it = 0; it < 200; it++) {
        size_t n = (size_t)ns_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = (char)ns_rng_below(&r, 256); /* invalid UTF-8 likely */
        roundtrip(b, buf, n);
    }
    roundtrip(b, "", 0);
    roundtrip(b, "\xff\xfe\xc3", 3);
    ns_bpe_free(b);
}

TEST(special_tokens)
{
    ns_bpe *b = train_small(300);
    int u = ns_bpe_special(b, "<|user|>");
    ASSERT(u >= 259);
    int32_t *ids;
    size_t k;
    const char *s = "<|user|>\nhi<|assistant|>";
    ASSERT_OK(ns_bpe_encode(b, s, strlen(s), 1, &ids, &k));
    ASSERT_EQ_INT(ids[0], u);
    ASSERT_EQ_INT(ids[k - 1], ns_bpe_special(b, "<|assistant|>"));
    free(ids);
    /* allow_special = 0: the text is plain bytes */
    ASSERT_OK(ns_bpe_encode(b, s, strlen(s), 0, &ids, &k));
    for (size_t i = 0; i < k; i++) ASSERT(ids[i] != u);
    free(ids);
    roundtrip(b, s, strlen(s));
    ASSERT_EQ_INT(ns_bpe_bos(b), 1);
    ASSERT_EQ_INT(ns_bpe_eos(b), 2);
    ns_bpe_free(b);
}

TEST(json_roundtrip)
{
    ns_bpe *b = train_small(310), *c;
    const char *path = ns_test_tmpfile("tok.json");
    ASSERT_OK(ns_bpe_save(b, path));
    ASSERT_OK(ns_bpe_load(&c, path));
    ASSERT_EQ_INT(ns_bpe_vocab_size(c), 310);
    int32_t *i1, *i2;
    size_t k1, k2;
    ASSERT_OK(ns_bpe_encode(b, corpus, strlen(corpus), 1, &i1, &k1));
    ASSERT_OK(ns_bpe_encode(c, corpus, strlen(corpus), 1, &i2, &k2));
    ASSERT_EQ_INT(k1, k2);
    ASSERT(!memcmp(i1, i2, k1 * sizeof(int32_t)));
    free(i1);
    free(i2);
    ns_bpe_free(b);
    ns_bpe_free(c);
}

TEST(malformed_json_is_an_error)
{
    ns_bpe *b;
    ASSERT_ERR(ns_bpe_from_json(&b, "{", 1, "x"), NS_EFORMAT);
    ASSERT_ERR(ns_bpe_from_json(&b, "{\"type\":\"weird\"}", 16, "x"), NS_EFORMAT);
    const char *bad = "{\"type\":\"byte\",\"pieces\":[\"zz\"]}";
    ASSERT_ERR(ns_bpe_from_json(&b, bad, strlen(bad), "x"), NS_EFORMAT);
    const char *bad2 = "{\"type\":\"char\",\"chars\":[\"ab\"]}";
    ASSERT_ERR(ns_bpe_from_json(&b, bad2, strlen(bad2), "x"), NS_EFORMAT);
}

TEST(char_vocab)
{
    ns_bpe *b;
    const char *t = "hello world\n";
    ASSERT_OK(ns_bpe_char_from_text(&b, t, strlen(t)));
    ASSERT_EQ_INT(ns_bpe_vocab_size(b), 9); /* \n ' ' d e h l o r w */
    int32_t *ids;
    size_t k;
    ASSERT_OK(ns_bpe_encode(b, "he\n", 3, 0, &ids, &k));
    ASSERT_EQ_INT(k, 3);
    ASSERT_EQ_INT(ids[0], 4); /* sorted: \n ' ' d e h */
    ASSERT_EQ_INT(ids[2], 0);
    free(ids);
    ns_bpe_free(b);
}

TEST(char_vocab_errors)
{
    ns_bpe *b;
    const char *t = "abc";
    ASSERT_OK(ns_bpe_char_from_text(&b, t, 3));
    int32_t *ids;
    size_t k;
    ASSERT_ERR(ns_bpe_encode(b, "abz", 3, 0, &ids, &k), NS_ENOTFOUND);
    ASSERT_ERR(ns_bpe_encode(b, "a\xff", 2, 0, &ids, &k), NS_EFORMAT);
    ns_bpe_free(b);
    ASSERT_ERR(ns_bpe_char_from_text(&b, "\xc3", 1), NS_EFORMAT);
}

TEST(llama2c_tokenizer_roundtrip)
{
    ns_bpe *b = train_small(300), *c;
    const char *path = ns_test_tmpfile("tokenizer.bin");
    ASSERT_OK(ns_bpe_export_llama2c(b, path));
    ASSERT_OK(ns_bpe_load_llama2c(&c, path, 300));
    ASSERT_EQ_INT(ns_bpe_vocab_size(c), 300);
    /* our ids decode to the same bytes through the llama2.c pieces */
    int32_t *ids;
    size_t k;
    ASSERT_OK(ns_bpe_encode(b, corpus, strlen(corpus), 0, &ids, &k));
    ns_buf o1, o2;
    ns_buf_init(&o1);
    ns_buf_init(&o2);
    ASSERT_OK(ns_bpe_decode(b, ids, k, &o1));
    ASSERT_OK(ns_bpe_decode(c, ids, k, &o2));
    ASSERT_EQ_INT(o1.len, o2.len);
    ASSERT(!memcmp(o1.data, o2.data, o1.len));
    /* and llama2.c's own algorithm (dummy prefix + best-score merges)
     * decodes back to the text with the prefix space */
    free(ids);
    const char *s = "the cat sat on the mat";
    ASSERT_OK(ns_bpe_encode(c, s, strlen(s), 0, &ids, &k));
    o2.len = 0;
    ASSERT_OK(ns_bpe_decode(c, ids, k, &o2));
    ASSERT_EQ_INT(o2.len, strlen(s) + 1);
    ASSERT(o2.data[0] == ' ' && !memcmp(o2.data + 1, s, strlen(s)));
    ASSERT(k < strlen(s)); /* merges applied */
    free(ids);
    ns_buf_release(&o1);
    ns_buf_release(&o2);
    ns_bpe_free(b);
    ns_bpe_free(c);
}

TEST(llama2c_tokenizer_truncated)
{
    ns_bpe *b = train_small(300), *c;
    const char *path = ns_test_tmpfile("tokenizer.bin");
    ASSERT_OK(ns_bpe_export_llama2c(b, path));
    char *data;
    size_t n;
    ASSERT_OK(ns_file_read_all(path, &data, &n, 0));
    ASSERT_OK(ns_file_write_atomic(path, data, n - 3));
    ASSERT_ERR(ns_bpe_load_llama2c(&c, path, 300), NS_ETRUNCATED);
    ASSERT_OK(ns_file_write_atomic(path, data, 2));
    ASSERT_ERR(ns_bpe_load_llama2c(&c, path, 0), NS_ETRUNCATED);
    free(data);
    ns_bpe_free(b);
}

/* tokenizer.bin as llama2.c's run.c reads it: one piece per MODEL id (a
 * model may have more ids than its tokenizer: padded), bytes as raw pieces so
 * run.c's encoder (dummy " " prefix, best-scoring merge of adjacent pieces)
 * rebuilds merges of newlines and UTF-8 bytes, and specials/padding never
 * merged into. */
TEST(llama2c_tokenizer_pieces_and_padding)
{
    ns_buf t;
    ns_buf_init(&t);
    for (int i = 0; i < 60; i++) ns_buf_puts(&t, "the caf\xc3\xa9 was na\xc3\xafve.\n\nthe cat sat.\n\n");
    ns_bpe *b, *c;
    const char *sp[] = {"<|user|>"};
    ASSERT_OK(ns_bpe_train(&b, t.data, t.len, 300, sp, 1));
    ns_buf_release(&t);
    /* the text has fewer distinct pairs than 300 - 260 merges: V < 300 */
    int V = ns_bpe_vocab_size(b), N = V + 10;
    ASSERT(V > 270 && V <= 300);
    const char *path = ns_test_tmpfile("tokenizer_pad.bin");
    ASSERT_ERR(ns_bpe_export_llama2c_n(b, path, V - 1), NS_EINVAL);
    ASSERT_OK(ns_bpe_export_llama2c_n(b, path, N));
    char *d;
    size_t n;
    ASSERT_OK(ns_file_read_all(path, &d, &n, 0));
    int32_t maxlen, L;
    float sc[310];
    char *piece[310];
    int plen[310];
    memcpy(&maxlen, d, 4);
    size_t p = 4;
    for (int i = 0; i < N; i++) {
        ASSERT(p + 8 <= n);
        memcpy(&sc[i], d + p, 4);
        memcpy(&L, d + p + 4, 4);
        ASSERT(L > 0 && L <= maxlen && p + 8 + (size_t)L <= n); /* run.c cannot read an empty piece */
        piece[i] = d + p + 8;
        plen[i] = L;
        p += 8 + (size_t)L;
    }
    ASSERT_EQ_INT(p, n);
    ASSERT(plen[3] == 6 && !memcmp(piece[3], "<0x00>", 6));
    ASSERT(plen[3 + '\n'] == 1 && piece[3 + '\n'][0] == '\n');
    ASSERT(plen[3 + 0xc3] == 1 && (unsigned char)piece[3 + 0xc3][0] == 0xc3);
    ASSERT(plen[1] == 3 && !memcmp(piece[1], "<s>", 3));
    ASSERT(sc[259] == 0.0f && sc[260] == -1.0f);
    int user = ns_bpe_special(b, "<|user|>");
    ASSERT_EQ_INT(user, V - 1);
    char pad[32];
    int pl = snprintf(pad, sizeof pad, "<unused%d>", V + 5);
    ASSERT(sc[user] < -1e29f && sc[V + 5] < -1e29f);
    ASSERT(plen[V + 5] == pl && !memcmp(piece[V + 5], pad, (size_t)pl));
    free(d);
    ASSERT_OK(ns_bpe_load_llama2c(&c, path, N));
    ASSERT_EQ_INT(ns_bpe_vocab_size(c), N);
    /* llama2.c's algorithm on s gives our ids for " " + s, merges that hold a
     * newline or a UTF-8 byte among them */
    const char *s = "the caf\xc3\xa9 sat.\n\nthe cat was na\xc3\xafve.\n\n<|user|>";
    char ws[128] = " ";
    strcat(ws, s);
    int32_t *a, *e;
    size_t na, ne;
    ASSERT_OK(ns_bpe_encode(b, ws, strlen(ws), 0, &a, &na));
    ASSERT_OK(ns_bpe_encode(c, s, strlen(s), 0, &e, &ne));
    ASSERT_EQ_INT(na, ne);
    ASSERT(!memcmp(a, e, sizeof(int32_t) * na));
    int odd_merges = 0;
    for (size_t i = 0; i < na; i++) {
        size_t ql;
        const char *q = ns_bpe_piece(b, a[i], &ql);
        if (a[i] >= 259 && a[i] != user && (memchr(q, '\n', ql) || memchr(q, 0xc3, ql))) odd_merges++;
    }
    ASSERT(odd_merges >= 2);
    free(a);
    free(e);
    ns_bpe_free(b);
    ns_bpe_free(c);
}

/* GPT-2's byte alphabet: printable bytes stand for themselves, space is
 * U+0120 'Ġ', newline U+010A 'Ċ'. */
TEST(gpt2_vocab_merges)
{
    const char *vp = ns_test_tmpfile("vocab.json"), *mp = ns_test_tmpfile("merges.txt");
    ns_buf v;
    ns_buf_init(&v);
    ns_buf_puts(&v, "{");
    /* the 256 byte tokens in GPT-2 order: ids 0..255 */
    int k = 0, id = 0;
    int32_t map[256];
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        map[b] = keep ? b : 256 + k++;
    }
    for (int b = 0; b < 256; b++) {
        char u[8];
        int32_t cp = map[b];
        int n = cp < 0x80 ? (u[0] = (char)cp, 1) : (u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 63)), 2);
        u[n] = 0;
        ns_buf_printf(&v, "%s", id ? "," : "");
        ns_buf_json_str(&v, u, (size_t)n);
        ns_buf_printf(&v, ":%d", id++);
    }
    ns_buf_puts(&v, ",\"\xc4\xa0t\":256,\"he\":257,\"\xc4\xa0the\":258,\"<|endoftext|>\":259}");
    ASSERT_OK(ns_file_write_atomic(vp, v.data, v.len));
    const char *merges = "#version: 0.2\n\xc4\xa0 t\nh e\n\xc4\xa0t he\n";
    ASSERT_OK(ns_file_write_atomic(mp, merges, strlen(merges)));
    ns_bpe *b;
    ASSERT_OK(ns_bpe_load(&b, vp));
    ASSERT_EQ_INT(ns_bpe_vocab_size(b), 260);
    ASSERT_EQ_INT(ns_bpe_eos(b), 259);
    int32_t *ids;
    size_t n;
    const char *s = "the the<|endoftext|>";
    ASSERT_OK(ns_bpe_encode(b, s, strlen(s), 1, &ids, &n));
    /* "the" -> t, he (no leading space);  " the" -> Ġthe;  special */
    ASSERT_EQ_INT(n, 4);
    ASSERT_EQ_INT(ids[0], 't');
    ASSERT_EQ_INT(ids[1], 257);
    ASSERT_EQ_INT(ids[2], 258);
    ASSERT_EQ_INT(ids[3], 259);
    ns_buf out;
    ns_buf_init(&out);
    ASSERT_OK(ns_bpe_decode(b, ids, 3, &out));
    ASSERT_STREQ(out.data, "the the");
    ns_buf_release(&out);
    free(ids);
    roundtrip(b, "\n\x01 x\xff", 5);
    ns_bpe_free(b);
    ns_buf_release(&v);
    /* a merge naming an unknown piece */
    ASSERT_OK(ns_file_write_atomic(mp, "q z\n", 4));
    ASSERT_ERR(ns_bpe_load_gpt2(&b, vp, mp), NS_EFORMAT);
}
