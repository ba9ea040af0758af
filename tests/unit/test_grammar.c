/*
 * test_grammar.c — constrained decoding (grammar.h): accept/reject tables of
 * byte strings per schema; every complete accepted output parses with
 * jansson and validates against its schema (a small validator of the
 * subset, written here); random walks that sample uniformly among the
 * tokens ns_grammar_mask allows, from a byte-level BPE trained on JSON-ish
 * text, until EOS — always valid, always finished within a bound; refused
 * and malformed schemas naming their path; tools; the mask's cost on a
 * synthetic 32,000-token vocabulary (printed, not asserted).
 */
#include "harness.h"
#include "northstar/bpe.h"
#include "northstar/grammar.h"

#include <jansson.h>
#include <stdint.h>
#include <time.h>

/* ---- a validator of the schema subset (the reference) ---- */

static size_t cp_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int type_ok(json_t *v, const char *t)
{
    if (!strcmp(t, "object")) return json_is_object(v);
    if (!strcmp(t, "array")) return json_is_array(v);
    if (!strcmp(t, "string")) return json_is_string(v);
    if (!strcmp(t, "number")) return json_is_number(v);
    if (!strcmp(t, "integer")) return json_is_integer(v);
    if (!strcmp(t, "boolean")) return json_is_boolean(v);
    if (!strcmp(t, "null")) return json_is_null(v);
    return 0;
}

/* 1 when v is an instance of schema s (the keywords grammar.h honours). */
static int valid(json_t *v, json_t *s)
{
    if (json_is_true(s)) return 1;
    if (!json_is_object(s)) return 0;
    json_t *k;
    if ((k = json_object_get(s, "anyOf"))) {
        for (size_t i = 0; i < json_array_size(k); i++)
            if (valid(v, json_array_get(k, i))) return 1;
        return 0;
    }
    if ((k = json_object_get(s, "const")) && !json_equal(v, k)) return 0;
    if ((k = json_object_get(s, "enum"))) {
        int hit = 0;
        for (size_t i = 0; i < json_array_size(k) && !hit; i++) hit = json_equal(v, json_array_get(k, i));
        if (!hit) return 0;
    }
    if ((k = json_object_get(s, "type"))) {
        int hit = 0;
        if (json_is_string(k)) hit = type_ok(v, json_string_value(k));
        for (size_t i = 0; json_is_array(k) && i < json_array_size(k) && !hit; i++)
            hit = type_ok(v, json_string_value(json_array_get(k, i)));
        if (!hit) return 0;
    }
    if (json_is_object(v)) {
        json_t *props = json_object_get(s, "properties"), *req = json_object_get(s, "required");
        for (size_t i = 0; i < json_array_size(req); i++)
            if (!json_object_get(v, json_string_value(json_array_get(req, i)))) return 0;
        const char *key;
        json_t *x;
        json_object_foreach(v, key, x) {
            json_t *ps = props ? json_object_get(props, key) : NULL;
            if (ps && !valid(x, ps)) return 0;
            if (!ps && json_is_false(json_object_get(s, "additionalProperties"))) return 0;
        }
    }
    if (json_is_array(v)) {
        json_t *items = json_object_get(s, "items");
        size_t n = json_array_size(v);
        if ((k = json_object_get(s, "minItems")) && n < (size_t)json_integer_value(k)) return 0;
        if ((k = json_object_get(s, "maxItems")) && n > (size_t)json_integer_value(k)) return 0;
        for (size_t i = 0; items && i < n; i++)
            if (!valid(json_array_get(v, i), items)) return 0;
    }
    if (json_is_string(v)) {
        size_t n = cp_len(json_string_value(v));
        if ((k = json_object_get(s, "minLength")) && n < (size_t)json_integer_value(k)) return 0;
        if ((k = json_object_get(s, "maxLength")) && n > (size_t)json_integer_value(k)) return 0;
    }
    return 1;
}

/* A tool call {"name": n, "arguments": a} valid for tools[]. */
static int valid_call(json_t *v, const char *const *names, const char *const *schemas, int n)
{
    if (!json_is_object(v) || json_object_size(v) != 2) return 0;
    const char *name = json_string_value(json_object_get(v, "name"));
    json_t *args = json_object_get(v, "arguments");
    for (int i = 0; name && args && i < n; i++)
        if (!strcmp(name, names[i])) {
            if (!schemas[i]) return json_is_object(args) && json_object_size(args) == 0;
            json_t *s = json_loads(schemas[i], 0, NULL);
            int ok = valid(args, s);
            json_decref(s);
            return ok;
        }
    return 0;
}

/* ---- schemas under test ---- */

static const char *const S_PERSON =
    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":12},\"age\":{\"type\":\"integer\"},"
    "\"email\":{\"type\":\"string\"},\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":8},\"maxItems\":3},"
    "\"active\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\"],\"additionalProperties\":false}";
static const char *const S_ENUMS =
    "{\"type\":\"object\",\"properties\":{\"color\":{\"enum\":[\"red\",\"green\",\"blue\"]},"
    "\"size\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"null\"}]},\"kind\":{\"const\":\"shape\"},"
    "\"n\":{\"enum\":[1,12,123]},\"opt\":{\"type\":[\"string\",\"null\"]}},\"required\":[\"color\",\"kind\",\"n\"]}";
static const char *const S_POINTS =
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"},"
    "\"y\":{\"type\":[\"integer\",\"null\"]},\"pt\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"minItems\":2,"
    "\"maxItems\":2}},\"required\":[\"x\",\"pt\"]},\"minItems\":1,\"maxItems\":4}";
static const char *const S_SHORT =
    "{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":5}},\"required\":[\"s\"],"
    "\"title\":\"annotations are ignored\",\"description\":\"x\"}";
static const char *const S_ANY =
    "{\"type\":\"object\",\"properties\":{\"meta\":{},\"list\":{\"type\":\"array\",\"maxItems\":3}},\"required\":[\"meta\"]}";
static const char *const S_ROOTNUM = "{\"type\":[\"number\",\"string\"]}";

static ns_grammar *schema(const char *s)
{
    ns_grammar *g;
    if (ns_grammar_from_schema(&g, s, strlen(s)) < 0) FAIL("schema %s: %s", s, ns_err_msg());
    return g;
}

/* Feed text whole; 1 if accepted (and then *done), 0 if rejected. */
static int feed(const ns_grammar *g, const char *text, int *done)
{
    ns_grammar_state *s;
    ASSERT_OK(ns_grammar_state_new(&s, g));
    int ok = ns_grammar_feed(s, text, strlen(text)) == 0;
    *done = ok && ns_grammar_done(s);
    ns_grammar_state_free(s);
    return ok;
}

/* Complete texts (accepted and done, and valid by the reference), prefixes
 * (accepted, not done) and rejected texts. */
static void table(const char *schema_text, const char *const *complete, const char *const *prefix,
                  const char *const *rejected)
{
    ns_grammar *g = schema(schema_text);
    json_t *sch = json_loads(schema_text, 0, NULL);
    int done;
    for (; complete && *complete; complete++) {
        ASSERT_MSG(feed(g, *complete, &done) && done, "should be complete: %s (%s)", *complete, ns_err_msg());
        json_error_t je;
        json_t *v = json_loads(*complete, JSON_DECODE_ANY, &je);
        ASSERT_MSG(v && valid(v, sch), "accepted but not valid: %s", *complete);
        json_decref(v);
    }
    for (; prefix && *prefix; prefix++)
        ASSERT_MSG(feed(g, *prefix, &done) && !done, "should be an unfinished prefix: %s", *prefix);
    for (; rejected && *rejected; rejected++) ASSERT_MSG(!feed(g, *rejected, &done), "should be rejected: %s", *rejected);
    json_decref(sch);
    ns_grammar_free(g);
}

TEST(person_table)
{
    const char *complete[] = {
        "{\"name\":\"Ann\",\"age\":30}",
        "{\"name\": \"Ann\", \"age\": -0}",
        "{\"name\":\"\",\"age\":7,\"email\":\"a@b\\\"c\\u00e9\\ud83d\\ude00\",\"tags\":[],\"active\":false}",
        "{\"name\":\"caf\xc3\xa9 \xe6\x9d\xb1\",\"age\":1,\"tags\":[\"a\", \"b\",\"12345678\"]}",
        "{\"name\":\"123456789012\",\"age\":1234567890123456,\"active\":true}",
        NULL};
    const char *prefix[] = {"", "{", "{\"", "{\"na", "{\"name\":", "{\"name\": ", "{\"name\":\"A", "{\"name\":\"A\",\"age\":1",
                            "{\"name\":\"A\",\"age\":1,", "{\"name\":\"\\u00", "{\"name\":\"\\ud83d", NULL};
    const char *rejected[] = {
        "[",                                      /* not an object */
        " {",                                     /* no leading whitespace */
        "{}",                                     /* required keys */
        "{\"age\":1,\"name\":\"A\"}",            /* keys in schema order */
        "{\"name\":\"A\"}",                       /* age required */
        "{\"name\":\"A\",\"age\":1.5}",          /* integer */
        "{\"name\":\"A\",\"age\":01}",           /* leading zero */
        "{\"name\":\"A\",\"age\":1,}",           /* trailing comma */
        "{\"name\":\"A\",\"age\":1,\"x\":1}",    /* additionalProperties false */
        "{\"name\":\"A\",\"age\":1,\"age\":2}",  /* once each */
        "{\"name\":\"1234567890123\"",            /* maxLength 12 */
        "{\"name\":  \"A\"",                      /* at most one space */
        "{ \"name\"",                             /* no space after { */
        "{\"name\" :",                            /* no space before : */
        "{\"name\":\"A\",\"age\":1} ",           /* nothing after the value */
        "{\"name\":\"A\x01\"",                    /* control byte */
        "{\"name\":\"\xc3\x28\"",                 /* invalid UTF-8 */
        "{\"name\":\"\xed\xa0\x80\"",             /* UTF-8 surrogate */
        "{\"name\":\"\xc0\xaf\"",                 /* overlong */
        "{\"name\":\"\\x\"",                      /* bad escape */
        "{\"name\":\"\\u0000\"",                  /* NUL */
        "{\"name\":\"\\udc00\"",                  /* lone low surrogate */
        "{\"name\":\"\\ud83dx\"",                 /* high surrogate alone */
        "{\"name\":\"\\ud83d\\u0041\"",           /* high + not low */
        "{\"name\":\"A\",\"age\":12345678901234567", /* 17 digits */
        "{\"name\":\"A\",\"age\":1,\"tags\":[\"a\",\"b\",\"c\",\"d\"]", /* maxItems 3 */
        "{\"name\":\"A\",\"age\":1,\"active\":tru}",
        "{\"name\":\"A\",\"age\":1}{",
        NULL};
    table(S_PERSON, complete, prefix, rejected);
}

TEST(enum_anyof_table)
{
    const char *complete[] = {"{\"color\":\"red\",\"kind\":\"shape\",\"n\":1}",
                              "{\"color\":\"blue\",\"size\":null,\"kind\":\"shape\",\"n\":12}",
                              "{\"color\":\"green\",\"size\":-1.5e+10,\"kind\":\"shape\",\"n\":123,\"opt\":\"x\"}",
                              "{\"color\":\"green\",\"size\":0.25,\"kind\":\"shape\",\"n\":123,\"opt\":null}", NULL};
    const char *prefix[] = {"{\"color\":\"gr", "{\"color\":\"red\",\"kind\":\"shape\",\"n\":1", NULL};
    const char *rejected[] = {"{\"color\":\"pink\"", "{\"color\":\"red\",\"kind\":\"circle\"",
                              "{\"color\":\"red\",\"kind\":\"shape\",\"n\":2", "{\"color\":\"red\",\"kind\":\"shape\",\"n\":1234",
                              "{\"color\":\"red\",\"size\":\"big\"", "{\"color\":\"red\",\"size\":1.}",
                              "{\"color\":\"red\",\"size\":1e}", "{\"color\":\"red\",\"size\":-}", NULL};
    table(S_ENUMS, complete, prefix, rejected);
}

TEST(array_root_table)
{
    const char *complete[] = {"[{\"x\":1,\"pt\":[1,2]}]", "[{\"x\":0.5,\"y\":null,\"pt\":[-3, 4]}, {\"x\":2,\"y\":7,\"pt\":[0,0]}]",
                              NULL};
    const char *prefix[] = {"[", "[{\"x\":1,\"pt\":[1", "[{\"x\":1,\"pt\":[1,2]}", NULL};
    const char *rejected[] = {"[]", "[{\"x\":1,\"pt\":[1]}", "[{\"x\":1,\"pt\":[1,2,3]", "[{\"x\":1,\"y\":1.5",
                              "[{\"x\":1,\"pt\":[1,2]},{\"x\":1,\"pt\":[1,2]},{\"x\":1,\"pt\":[1,2]},{\"x\":1,\"pt\":[1,2]},", NULL};
    table(S_POINTS, complete, prefix, rejected);
    const char *c2[] = {"{\"s\":\"ab\"}", "{\"s\":\"\xe6\x9d\xb1\xe4\xba\xac\"}", "{\"s\":\"\\n\\t\\\"\\\\\\/\"}", NULL};
    const char *r2[] = {"{\"s\":\"a\"}", "{\"s\":\"abcdef", "{\"s\":\"\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4\xba\xac\xe6\x9d\xb1\xe4", NULL};
    table(S_SHORT, c2, NULL, r2);
    /* a number at the root is done as soon as it could end */
    const char *c3[] = {"0", "-12.5e-7", "\"x\"", "1e99", NULL};
    const char *p3[] = {"-", "1.", "1e", "1e+", NULL};
    const char *r3[] = {"1e100", "00", "+1", ".5", "1 ", NULL};
    table(S_ROOTNUM, c3, p3, r3);
}

TEST(json_object_mode)
{
    ns_grammar *g;
    ASSERT_OK(ns_grammar_json_object(&g));
    int done;
    const char *ok[] = {"{}", "{\"a\":[1,{\"b\":null}],\"a\":true}", "{\"k\": \"v\", \"n\": [1, 2.5, \"x\", false]}", NULL};
    for (const char *const *t = ok; *t; t++) ASSERT_MSG(feed(g, *t, &done) && done, "%s", *t);
    const char *bad[] = {"[]", "\"x\"", "1", "{\"a\"}", "{\"a\":}", "{,}", "{\"a\":1,}", NULL};
    for (const char *const *t = bad; *t; t++) ASSERT_MSG(!feed(g, *t, &done) || !done, "%s", *t);
    /* nesting beyond 16 containers is refused, so a model cannot recurse forever */
    char deep[64] = "{\"a\":";
    for (int i = 0; i < 20; i++) strcat(deep, "[");
    ASSERT(!feed(g, deep, &done));
    ns_grammar_free(g);
}

TEST(feed_state_unchanged_on_reject)
{
    ns_grammar *g = schema(S_PERSON);
    ns_grammar_state *s, *c;
    ASSERT_OK(ns_grammar_state_new(&s, g));
    ASSERT_OK(ns_grammar_feed(s, "{\"name\":\"A", 10));
    ASSERT_ERR_HAS(ns_grammar_feed(s, "\",\"x", 4), NS_EINVAL, "byte 3");
    ASSERT_OK(ns_grammar_state_clone(&c, s));
    ASSERT_OK(ns_grammar_feed(s, "\",\"age\":3}", 10));
    ASSERT(ns_grammar_done(s));
    ASSERT(!ns_grammar_done(c));
    ASSERT_OK(ns_grammar_feed(c, "B\",\"age\":4}", 11));
    ASSERT(ns_grammar_done(c));
    ns_grammar_state_free(s);
    ns_grammar_state_free(c);
    ns_grammar_free(g);
}

TEST(unsupported_schemas)
{
    static const struct {
        const char *schema, *path;
    } cases[] = {
        {"{\"type\":\"string\",\"pattern\":\"^a\"}", "'#/pattern': keyword not supported"},
        {"{\"type\":\"object\",\"properties\":{\"age\":{\"type\":\"integer\",\"minimum\":0}}}", "'#/properties/age/minimum'"},
        {"{\"properties\":{\"a\":{\"items\":{\"format\":\"date\"}}}}", "'#/properties/a/items/format'"},
        {"{\"$ref\":\"#/$defs/x\"}", "'#/$ref'"},
        {"{\"oneOf\":[{\"type\":\"string\"}]}", "'#/oneOf'"},
        {"{\"anyOf\":[{\"type\":\"object\"},{\"properties\":{}}]}", "'#/anyOf': branches 0 and 1 can both start with '{'"},
        {"{\"anyOf\":[{\"type\":\"string\"},{\"enum\":[\"a\"]}]}", "'#/anyOf'"},
        {"{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}", "'#/items'"},
        {"{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", "'#/minItems'"},
        {"{\"properties\":{\"a\":false}}", "'#/properties/a'"},
        {"{\"properties\":{\"a\\\"b\":{}}}", "needs escaping"},
        {"{\"type\":\"string\",\"enum\":[1,2]}", "'#/enum': no value has the schema's type"},
        {"{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"}}", "'#/additionalProperties'"},
        {"{\"anyOf\":[{\"type\":\"string\"}],\"type\":\"string\"}", "'#/type': a keyword beside anyOf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_grammar *g = (ns_grammar *)1;
        printf("%s\n", cases[i].schema);
        ASSERT_ERR_HAS(ns_grammar_from_schema(&g, cases[i].schema, strlen(cases[i].schema)), NS_EUNSUPPORTED, cases[i].path);
        ASSERT(g == NULL);
    }
    /* 40 nested levels */
    ns_buf b;
    ns_buf_init(&b);
    for (int i = 0; i < 40; i++) ns_buf_puts(&b, "{\"type\":\"array\",\"items\":");
    ns_buf_puts(&b, "{}");
    for (int i = 0; i < 40; i++) ns_buf_puts(&b, "}");
    ns_grammar *g;
    ASSERT_ERR_HAS(ns_grammar_from_schema(&g, b.data, b.len), NS_EUNSUPPORTED, "deeper than 32");
    ns_buf_release(&b);
}

TEST(malformed_schemas)
{
    static const struct {
        const char *schema, *needle;
    } cases[] = {
        {"{", "json schema: line 1"},
        {"{\"type\":\"object\",\"type\":\"string\"}", "duplicate"},
        {"{\"type\":3}", "'#/type'"},
        {"{\"type\":\"strng\"}", "unknown type \"strng\""},
        {"{\"properties\":[]}", "'#/properties'"},
        {"{\"required\":\"a\"}", "'#/required'"},
        {"{\"type\":\"string\",\"maxLength\":-1}", "'#/maxLength'"},
        {"{\"enum\":[]}", "'#/enum'"},
        {"{\"anyOf\":{}}", "'#/anyOf'"},
        {"{\"properties\":{\"a\":{\"type\":\"array\",\"items\":3}}}", "'#/properties/a/items'"},
        {"3", "must be an object or a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_grammar *g = (ns_grammar *)1;
        printf("%s\n", cases[i].schema);
        ASSERT_ERR_HAS(ns_grammar_from_schema(&g, cases[i].schema, strlen(cases[i].schema)), NS_EFORMAT, cases[i].needle);
        ASSERT(g == NULL);
    }
}

static const char *const TOOL_NAMES[] = {"get_weather", "get_time", "search"};
static const char *const TOOL_SCHEMAS[] = {
    "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":20},\"unit\":{\"enum\":[\"c\",\"f\"]}},"
    "\"required\":[\"city\"]}",
    NULL,
    "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\",\"maxLength\":30},\"k\":{\"type\":\"integer\"}},"
    "\"required\":[\"query\",\"k\"]}"};

TEST(tools)
{
    ns_grammar *g;
    ASSERT_OK(ns_grammar_tools(&g, TOOL_NAMES, TOOL_SCHEMAS, 3));
    int done;
    const char *ok[] = {"{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}",
                        "{\"name\": \"get_time\", \"arguments\": {}}",
                        "{\"name\":\"search\",\"arguments\":{\"query\":\"c\",\"k\":3}}", NULL};
    for (const char *const *t = ok; *t; t++) ASSERT_MSG(feed(g, *t, &done) && done, "%s", *t);
    const char *bad[] = {"{\"name\":\"search\",\"arguments\":{\"city\":\"Paris\"}}", "{\"name\":\"get_time\",\"arguments\":{\"a\":1}}",
                         "{\"name\":\"other\"", "{\"arguments\":{}", "{\"name\":\"get_weather\"}",
                         "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"unit\":\"k\"}}", NULL};
    for (const char *const *t = bad; *t; t++) ASSERT_MSG(!feed(g, *t, &done), "%s", *t);
    ns_grammar_free(g);
    const char *dup[] = {"a", "a"};
    ASSERT_ERR_HAS(ns_grammar_tools(&g, dup, NULL, 2), NS_EINVAL, "two tools of one name");
    const char *one[] = {"f"};
    const char *bad_schema[] = {"{\"type\":\"object\",\"properties\":{\"x\":{\"pattern\":\"a\"}}}"};
    ASSERT_ERR_HAS(ns_grammar_tools(&g, one, bad_schema, 1), NS_EUNSUPPORTED, "tool 'f'");
    ASSERT_HAS(ns_err_msg(), "#/properties/x/pattern");
}

/* ---- random walks through the mask ---- */

/* JSON-ish training text: objects and arrays of the words, numbers,
 * escapes and non-ASCII text the schemas use. */
static char *jsonish_text(size_t *len)
{
    static const char *const keys[] = {"name", "age", "email", "tags", "active", "color", "size", "kind", "x", "y", "pt",
                                       "city", "query", "arguments", "meta", "list", "s", "unit", "k"};
    static const char *const vals[] = {"\"Ann\"", "30", "-1.5e+10", "true", "false", "null", "\"red\"", "\"caf\xc3\xa9\"",
                                       "\"\\n\\\"x\\\"\"", "[1, 2]", "{}", "\"\xe6\x9d\xb1\xe4\xba\xac\"", "0.25", "\"shape\""};
    ns_buf b;
    ns_buf_init(&b);
    uint64_t r = 7;
    for (int i = 0; i < 1500; i++) {
        ns_buf_puts(&b, "{");
        int n = 1 + (int)(i % 4);
        for (int j = 0; j < n; j++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            ns_buf_printf(&b, "%s\"%s\": %s", j ? ", " : "", keys[(r >> 33) % 19], vals[(r >> 45) % 14]);
        }
        ns_buf_puts(&b, "}\n");
    }
    *len = b.len;
    return b.data;
}

static ns_bpe *jsonish_bpe(void)
{
    size_t len;
    char *text = jsonish_text(&len);
    ns_bpe *tok;
    const char *specials[] = {"<|user|>"};
    if (ns_bpe_train(&tok, text, len, 700, specials, 1) < 0) FAIL("bpe: %s", ns_err_msg());
    free(text);
    return tok;
}

/* Sample uniformly among allowed tokens until EOS; returns the output
 * (malloc'd) or NULL when max_tokens pass first. */
static char *walk(const ns_grammar *g, const ns_bpe *tok, uint64_t seed, int max_tokens, int *ntok)
{
    int V = ns_bpe_vocab_size(tok), eos = ns_bpe_eos(tok);
    float *logits = malloc(sizeof(float) * (size_t)V);
    int *allowed = malloc(sizeof(int) * (size_t)V);
    ns_grammar_state *s;
    ASSERT_OK(ns_grammar_state_new(&s, g));
    ns_buf out;
    ns_buf_init(&out);
    ns_buf_puts(&out, "");
    ns_rng rng;
    ns_rng_seed(&rng, seed, 0);
    char *result = NULL;
    for (*ntok = 0; *ntok < max_tokens; (*ntok)++) {
        if (eos < 0 && ns_grammar_done(s)) {
            result = ns_strdup(out.data);
            break;
        }
        for (int i = 0; i < V; i++) logits[i] = 0;
        int na = ns_grammar_mask(s, tok, logits, V);
        ASSERT_OK(na);
        int k = 0;
        for (int i = 0; i < V; i++)
            if (logits[i] == 0) allowed[k++] = i;
        ASSERT_MSG(k == na && k > 0, "no token allowed after \"%s\" (%d vs %d)", out.data, k, na);
        if (eos >= 0) ASSERT_MSG(ns_grammar_done(s) == (logits[eos] == 0), "EOS must be allowed exactly when done");
        int id = allowed[ns_rng_below(&rng, (uint64_t)k)];
        if (id == eos) {
            result = ns_strdup(out.data);
            break;
        }
        size_t pl;
        const char *p = ns_bpe_piece(tok, id, &pl);
        ASSERT_MSG(ns_grammar_feed(s, p, pl) == 0, "allowed token %d refused after \"%s\"", id, out.data);
        ns_buf_append(&out, p, pl);
    }
    ns_buf_release(&out);
    ns_grammar_state_free(s);
    free(logits);
    free(allowed);
    return result;
}

static void walks(const ns_grammar *g, const ns_bpe *tok, const char *schema_text, int runs, uint64_t seed0,
                  const char *const *tool_names, const char *const *tool_schemas, int ntools)
{
    json_t *sch = schema_text ? json_loads(schema_text, 0, NULL) : NULL;
    long total = 0;
    int longest = 0;
    for (int r = 0; r < runs; r++) {
        int nt;
        char *o = walk(g, tok, seed0 + (uint64_t)r, 4000, &nt);
        ASSERT_MSG(o != NULL, "run %d did not finish within 4000 tokens", r);
        json_error_t je;
        json_t *v = json_loads(o, JSON_DECODE_ANY, &je);
        ASSERT_MSG(v != NULL, "run %d: not JSON (%s): %s", r, je.text, o);
        int ok = tool_names ? valid_call(v, tool_names, tool_schemas, ntools) : sch ? valid(v, sch) : json_is_object(v);
        ASSERT_MSG(ok, "run %d: does not validate: %s", r, o);
        if (r < 2) printf("  sample: %s\n", o);
        total += nt;
        if (nt > longest) longest = nt;
        json_decref(v);
        free(o);
    }
    printf("  %d runs, %.1f tokens on average, longest %d\n", runs, (double)total / runs, longest);
    json_decref(sch);
}

TEST(random_walks_schemas)
{
    ns_bpe *tok = jsonish_bpe();
    const char *const schemas[] = {S_PERSON, S_ENUMS, S_POINTS, S_SHORT, S_ANY, S_ROOTNUM};
    for (int i = 0; i < 6; i++) {
        printf("%s\n", schemas[i]);
        ns_grammar *g = schema(schemas[i]);
        walks(g, tok, schemas[i], 50, 1000 * (uint64_t)i + 1, NULL, NULL, 0);
        ns_grammar_free(g);
    }
    ns_bpe_free(tok);
}

TEST(random_walks_json_object_and_tools)
{
    ns_bpe *tok = jsonish_bpe();
    ns_grammar *g;
    ASSERT_OK(ns_grammar_json_object(&g));
    printf("json_object\n");
    walks(g, tok, NULL, 100, 77, NULL, NULL, 0);
    ns_grammar_free(g);
    ASSERT_OK(ns_grammar_tools(&g, TOOL_NAMES, TOOL_SCHEMAS, 3));
    printf("tools\n");
    walks(g, tok, NULL, 100, 99, TOOL_NAMES, TOOL_SCHEMAS, 3);
    ns_grammar_free(g);
    ns_bpe_free(tok);
}

/* A character tokenizer (no EOS: a walk stops when the value is done). */
TEST(random_walks_char_vocab)
{
    const char *text = "{}[]\":, 0123456789.-+eEabcdefghijklmnopqrstuvwxyz\\\xc3\xa9\xe6\x9d\xb1";
    ns_bpe *tok;
    ASSERT_OK(ns_bpe_char_from_text(&tok, text, strlen(text)));
    ASSERT(ns_bpe_eos(tok) < 0);
    ns_grammar *g = schema(S_PERSON);
    walks(g, tok, S_PERSON, 30, 5, NULL, NULL, 0);
    ns_grammar_free(g);
    ns_bpe_free(tok);
}

/* ---- the mask's cost on a 32,000-token vocabulary ---- */

static ns_bpe *synthetic_32k(void)
{
    /* a scores tokenizer: 0 <unk>, 1 <s>, 2 </s>, the 256 bytes, then pieces
     * drawn from words, punctuation, digits and spaces */
    static const char *const parts[] = {"the", " a", "ing", "tion", "\"", ":", ",", " ", "{", "}", "[", "]", "0", "1", "23",
                                        "e", "an", "re", "on", "\\", "\\n", "er", "st", "\xc3\xa9", "name", "age", "\":",
                                        "\",", " \"", "true", "null", "-", ".", "x", "Th", "in", "ou", "q", "z"};
    const int V = 32000, np = (int)(sizeof parts / sizeof parts[0]);
    json_t *o = json_object(), *pieces = json_array(), *scores = json_array();
    char hex[200];
    json_array_append_new(pieces, json_string("3c756e6b3e"));
    json_array_append_new(pieces, json_string("3c733e"));
    json_array_append_new(pieces, json_string("3c2f733e"));
    for (int b = 0; b < 256; b++) {
        snprintf(hex, sizeof hex, "3c3078%02X3e", b); /* "<0xXX>" */
        char *h = hex;
        /* hex of the text "<0xXX>" */
        char txt[8];
        snprintf(txt, sizeof txt, "<0x%02X>", b);
        for (int i = 0; txt[i]; i++) sprintf(h + 2 * i, "%02x", (unsigned char)txt[i]);
        json_array_append_new(pieces, json_string(hex));
    }
    uint64_t r = 42;
    ns_u64map seen;
    ns_u64map_init(&seen, 65536);
    while ((int)json_array_size(pieces) < V) {
        char buf[48];
        size_t n = 0;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int k = 1 + (int)((r >> 40) % 4);
        for (int i = 0; i < k; i++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *p = parts[(r >> 33) % (uint64_t)np];
            size_t pl = strlen(p);
            if (n + pl >= sizeof buf) break;
            memcpy(buf + n, p, pl);
            n += pl;
        }
        uint64_t h = ns_hash_bytes(buf, n, 0), dummy;
        if (n < 2 || ns_u64map_get(&seen, h, &dummy)) continue;
        ns_u64map_put(&seen, h, 1);
        for (size_t i = 0; i < n; i++) sprintf(hex + 2 * i, "%02x", (unsigned char)buf[i]);
        json_array_append_new(pieces, json_string(hex));
    }
    ns_u64map_release(&seen);
    for (int i = 0; i < V; i++) json_array_append_new(scores, json_real(-(double)i));
    json_object_set_new(o, "type", json_string("scores"));
    json_object_set_new(o, "pieces", pieces);
    json_object_set_new(o, "scores", scores);
    json_object_set_new(o, "bos", json_integer(1));
    json_object_set_new(o, "eos", json_integer(2));
    char *j = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    ns_bpe *tok;
    if (ns_bpe_from_json(&tok, j, strlen(j), "synthetic") < 0) FAIL("synthetic tokenizer: %s", ns_err_msg());
    free(j);
    return tok;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

TEST(mask_cost_32k)
{
    ns_bpe *tok = synthetic_32k();
    int V = ns_bpe_vocab_size(tok);
    ASSERT_EQ_INT(V, 32000);
    ns_grammar *g = schema(S_PERSON);
    float *logits = malloc(sizeof(float) * (size_t)V);
    static const char *const prefixes[] = {"", "{\"name\":\"", "{\"name\":\"Ann\",\"age\":", "{\"name\":\"Ann\",\"age\":12",
                                           "{\"name\":\"Ann\",\"age\":12,\"email\":\"caf"};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        ns_grammar_state *s;
        ASSERT_OK(ns_grammar_state_new(&s, g));
        ASSERT_OK(ns_grammar_feed(s, prefixes[p], strlen(prefixes[p])));
        int reps = 20, allowed = 0;
        if (p == 0) { /* the first call builds the tokenizer's trie */
            double tb = now_s();
            for (int i = 0; i < V; i++) logits[i] = 0;
            ASSERT_OK(ns_grammar_mask(s, tok, logits, V));
            printf("first mask call (builds the trie of 32000 pieces): %.1f ms\n", (now_s() - tb) * 1e3);
        }
        double t0 = now_s();
        for (int r = 0; r < reps; r++) {
            for (int i = 0; i < V; i++) logits[i] = 0;
            allowed = ns_grammar_mask(s, tok, logits, V);
            ASSERT_OK(allowed);
        }
        double dt = (now_s() - t0) / reps;
        printf("mask over 32000 tokens after %-45s: %6d allowed, %8.1f us per step\n",
               prefixes[p], allowed, dt * 1e6);
        /* every allowed token really continues the prefix */
        for (int i = 0; i < V; i++) {
            if (logits[i] != 0 || i == ns_bpe_eos(tok)) continue;
            ns_grammar_state *c;
            ASSERT_OK(ns_grammar_state_clone(&c, s));
            size_t pl;
            const char *pc = ns_bpe_piece(tok, i, &pl);
            ASSERT_MSG(ns_grammar_feed(c, pc, pl) == 0, "token %d allowed but refused", i);
            ns_grammar_state_free(c);
        }
        ns_grammar_state_free(s);
    }
    free(logits);
    ns_grammar_free(g);
    ns_bpe_free(tok);
}

/* The mask agrees with feeding each token one by one (the naive twin). */
TEST(mask_matches_naive)
{
    ns_bpe *tok = jsonish_bpe();
    int V = ns_bpe_vocab_size(tok);
    ns_grammar *g = schema(S_ENUMS);
    float *logits = malloc(sizeof(float) * (size_t)V);
    static const char *const prefixes[] = {"", "{\"", "{\"color\":\"", "{\"color\":\"red\",", "{\"color\":\"red\",\"size\":",
                                           "{\"color\":\"red\",\"size\":1.5", "{\"color\":\"red\",\"kind\":\"shape\",\"n\":1",
                                           "{\"color\":\"red\",\"kind\":\"shape\",\"n\":12,\"opt\":\"a"};
    for (size_t p = 0; p < sizeof prefixes / sizeof prefixes[0]; p++) {
        ns_grammar_state *s;
        ASSERT_OK(ns_grammar_state_new(&s, g));
        ASSERT_OK(ns_grammar_feed(s, prefixes[p], strlen(prefixes[p])));
        for (int i = 0; i < V; i++) logits[i] = 0;
        ASSERT_OK(ns_grammar_mask(s, tok, logits, V));
        int n_ok = 0;
        for (int i = 0; i < V; i++) {
            size_t pl;
            const char *pc = ns_bpe_piece(tok, i, &pl);
            int naive;
            if (i == ns_bpe_eos(tok)) naive = ns_grammar_done(s);
            else if (i == ns_bpe_bos(tok) || !pl || ns_bpe_special(tok, "<|user|>") == i || i == 0) naive = 0;
            else {
                ns_grammar_state *c;
                ASSERT_OK(ns_grammar_state_clone(&c, s));
                naive = ns_grammar_feed(c, pc, pl) == 0;
                ns_grammar_state_free(c);
            }
            ASSERT_MSG(naive == (logits[i] == 0), "after \"%s\": token %d \"%.*s\" naive %d mask %d", prefixes[p], i,
                       (int)pl, pc, naive, logits[i] == 0);
            n_ok += naive;
        }
        printf("after %-50s %d tokens allowed\n", prefixes[p], n_ok);
        ns_grammar_state_free(s);
    }
    free(logits);
    ns_grammar_free(g);
    ns_bpe_free(tok);
}

/* Truncated and mutated schemas compile or fail with a code; random bytes
 * fed to any grammar are accepted or refused, never a crash (ASan). */
TEST(fuzz_schemas_and_bytes)
{
    const char *const schemas[] = {S_PERSON, S_ENUMS, S_POINTS, S_SHORT, S_ANY, S_ROOTNUM};
    static const char alphabet[] = "{}[]\":,0123456789-tfnaeiou ";
    uint64_t r = 2024;
    int compiled = 0, refused = 0;
    for (int k = 0; k < 6; k++) {
        size_t len = strlen(schemas[k]);
        char *buf = malloc(len + 1);
        for (size_t cut = 0; cut <= len + 300; cut++) {
            size_t n = cut <= len ? cut : len;
            memcpy(buf, schemas[k], n);
            buf[n] = 0;
            for (int j = 0; cut > len && j < 1 + (int)(cut % 3); j++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                buf[(r >> 33) % len] = alphabet[(r >> 13) % (sizeof alphabet - 1)];
            }
            ns_grammar *g;
            if (ns_grammar_from_schema(&g, buf, n) < 0) {
                refused++;
                continue;
            }
            compiled++;
            ns_grammar_state *s;
            ASSERT_OK(ns_grammar_state_new(&s, g));
            for (int i = 0; i < 200; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                char c = (r >> 40) & 1 ? alphabet[(r >> 13) % (sizeof alphabet - 1)] : (char)(r >> 24);
                ns_grammar_feed(s, &c, 1);
                (void)ns_grammar_done(s);
            }
            ns_grammar_state_free(s);
            ns_grammar_free(g);
        }
        free(buf);
    }
    printf("fuzz: %d schemas compiled, %d refused\n", compiled, refused);
    ASSERT(compiled > 0 && refused > 0);
}
