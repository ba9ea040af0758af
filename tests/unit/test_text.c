/* test_text.c — the shared tokenizer, UTF-8 helpers and base containers. */
#include "harness.h"
#include "northstar/tokenizer.h"

typedef struct { char toks[64][64]; size_t offs[64]; size_t lens[64]; int n; } collect;

static int on_tok(const char *t, size_t n, size_t off, void *ctx)
{
    collect *c = ctx;
    if (c->n < 64) {
        snprintf(c->toks[c->n], 64, "%.*s", (int)n, t);
        c->offs[c->n] = off;
        c->lens[c->n] = n;
    }
    c->n++;
    return 0;
}

static collect run(const ns_tokenizer_opts *o, const char *s)
{
    collect c;
    memset(&c, 0, sizeof c);
    ns_tokenizer *tk = ns_tokenizer_new(o);
    if (!tk) FAIL("tokenizer: %s", ns_err_msg());
    long r = ns_tokenize(tk, s, strlen(s), on_tok, &c);
    if (r != c.n) FAIL("returned %ld, emitted %d", r, c.n);
    ns_tokenizer_free(tk);
    return c;
}

static void expect(const collect *c, const char *const *want, int n)
{
    for (int i = 0; i < c->n && i < n; i++)
        if (strcmp(c->toks[i], want[i])) FAIL("token %d: got '%s' want '%s'", i, c->toks[i], want[i]);
    ASSERT_EQ_INT(c->n, n);
}

TEST(ascii_words_and_apostrophes)
{
    collect c = run(NULL, "Don't STOP, 'quoted' rock'n'roll 42nd x86-64 it's'");
    const char *w[] = {"don't", "stop", "quoted", "rock'n'roll", "42nd", "x86", "64", "it's"};
    expect(&c, w, 8);
    ASSERT_EQ_INT(c.offs[0], 0);
    ASSERT_EQ_INT(c.offs[1], 6);
}

TEST(unicode_case_and_accents)
{
    collect c = run(NULL, "Café ÉCOLE Straße naïve \xE2\x80\x99tis don\xE2\x80\x99t");
    const char *w[] = {"cafe", "ecole", "strasse", "naive", "tis", "don't"};
    expect(&c, w, 6);
    ns_tokenizer_opts o = ns_tokenizer_defaults();
    o.fold_accents = 0;
    c = run(&o, "Café ÉCOLE");
    const char *w2[] = {"café", "école"};
    expect(&c, w2, 2);
}

TEST(cjk_bigrams)
{
    /* 北京大学 -> 北京 京大 大学; a lone character stays a unigram. */
    collect c = run(NULL, "\xE5\x8C\x97\xE4\xBA\xAC\xE5\xA4\xA7\xE5\xAD\xA6 abc \xE4\xBA\xBA");
    const char *w[] = {"\xE5\x8C\x97\xE4\xBA\xAC", "\xE4\xBA\xAC\xE5\xA4\xA7", "\xE5\xA4\xA7\xE5\xAD\xA6", "abc",
                       "\xE4\xBA\xBA"};
    expect(&c, w, 5);
    ns_tokenizer_opts o = ns_tokenizer_defaults();
    o.cjk_bigrams = 0;
    c = run(&o, "\xE5\x8C\x97\xE4\xBA\xAC");
    ASSERT_EQ_INT(c.n, 2);
}

TEST(stemming_english)
{
    ns_tokenizer_opts o = ns_tokenizer_defaults();
    o.stem = "english";
    collect c = run(&o, "running flows connected 1990s generously");
    const char *w[] = {"run", "flow", "connect", "1990s", "generous"};
    expect(&c, w, 5);
    o.stem = "klingon";
    ASSERT(ns_tokenizer_new(&o) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_EINVAL);
}

TEST(invalid_utf8_is_a_separator)
{
    collect c = run(NULL, "ab\xFF\xFE" "cd\xC3" "ef\xED\xA0\x80gh");
    const char *w[] = {"ab", "cd", "ef", "gh"};
    expect(&c, w, 4);
    ASSERT(!ns_utf8_valid("ab\xFF", 3));
    ASSERT(!ns_utf8_valid("\xED\xA0\x80", 3)); /* surrogate */
    ASSERT(!ns_utf8_valid("\xC0\xAF", 2));     /* overlong */
    ASSERT(ns_utf8_valid("Caf\xC3\xA9 \xE4\xBA\xBA", 9));
    char out[64];
    size_t n = ns_utf8_sanitize("a\xFF" "b", 3, out);
    ASSERT_EQ_INT(n, 5);
    ASSERT_STREQ(out, "a\xEF\xBF\xBD" "b");
}

TEST(long_tokens_are_cut)
{
    char s[400];
    memset(s, 'a', 300);
    s[300] = 0;
    collect c = run(NULL, s);
    ASSERT_EQ_INT(c.n, 1);
    ASSERT_EQ_INT(c.lens[0], 64); /* default max_len */
}

static int stop_after_two(const char *t, size_t n, size_t off, void *ctx)
{
    (void)t; (void)n; (void)off;
    int *k = ctx;
    return ++*k == 2 ? 7 : 0;
}

TEST(callback_can_stop)
{
    ns_tokenizer *tk = ns_tokenizer_new(NULL);
    int k = 0;
    long r = ns_tokenize(tk, "a b c d", 7, stop_after_two, &k);
    ASSERT_EQ_INT(k, 2);
    ASSERT_EQ_INT(r, 2);
    ns_tokenizer_free(tk);
}

TEST(strmap_interns_in_order)
{
    ns_strmap *m = ns_strmap_new(4);
    char key[32];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        ASSERT_EQ_INT(ns_strmap_intern(m, key, (size_t)n), i);
    }
    for (int i = 0; i < 100000; i += 997) {
        int n = snprintf(key, sizeof key, "k%d", i);
        ASSERT_EQ_INT(ns_strmap_find(m, key, (size_t)n), i);
        ASSERT_EQ_INT(ns_strmap_intern(m, key, (size_t)n), i);
        size_t len;
        ASSERT_STREQ(ns_strmap_key(m, i, &len), key);
        ASSERT_EQ_INT(len, n);
    }
    ASSERT_EQ_INT(ns_strmap_find(m, "nope", 4), -1);
    ASSERT_EQ_INT(ns_strmap_intern(m, "", 0), 100000); /* the empty string is a key too */
    ASSERT_EQ_INT(ns_strmap_find(m, "", 0), 100000);
    ASSERT_EQ_INT(ns_strmap_count(m), 100001);
    ns_strmap_free(m);
}

TEST(u64map_put_get_grow)
{
    ns_u64map m;
    ASSERT_OK(ns_u64map_init(&m, 2));
    for (uint64_t i = 0; i < 50000; i++) ASSERT_OK(ns_u64map_put(&m, i * 7919 + 3, i));
    ASSERT_OK(ns_u64map_put(&m, 3, 42)); /* replace */
    uint64_t v;
    ASSERT(ns_u64map_get(&m, 3, &v) && v == 42);
    ASSERT(ns_u64map_get(&m, 7919 * 49999ULL + 3, &v) && v == 49999);
    ASSERT(!ns_u64map_get(&m, 5, &v));
    ASSERT_EQ_INT(m.count, 50000);
    ns_u64map_release(&m);
}

TEST(buf_and_json_escape)
{
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_buf_printf(&b, "%d-%s", 12, "ab"));
    ASSERT_OK(ns_buf_json_str(&b, "q\"\\\n\x01", 5));
    ASSERT_STREQ(b.data, "12-ab\"q\\\"\\\\\\n\\u0001\"");
    ns_buf_release(&b);
}

TEST(lines_and_split)
{
    const char *text = "a\tb\r\n\nlast";
    ns_lines it;
    ns_lines_init(&it, text, strlen(text));
    const char *l;
    size_t n;
    ASSERT(ns_lines_next(&it, &l, &n) && n == 3 && !memcmp(l, "a\tb", 3) && it.lineno == 1);
    ASSERT(ns_lines_next(&it, &l, &n) && n == 0 && it.lineno == 2);
    ASSERT(ns_lines_next(&it, &l, &n) && n == 4 && it.lineno == 3);
    ASSERT(!ns_lines_next(&it, &l, &n));
    char s[] = "x,,y,z";
    char *f[2];
    ASSERT_EQ_INT(ns_split(s, ',', f, 2), 4);
    ASSERT_STREQ(f[0], "x");
    ASSERT_STREQ(f[1], "");
}
