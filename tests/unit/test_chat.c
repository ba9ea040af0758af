/*
 * test_chat.c — chat templates (chat.h): the builtins and the real template
 * texts render known conversations to strings written out by hand from the
 * templates' semantics; system messages, the generation prompt,
 * raise_exception, refused constructs and malformed templates (errors, never
 * crashes), the limits, and a fuzz loop over truncated and mutated builtin
 * sources. When a python3 with jinja2 is on PATH, jinja2_reference renders
 * the same conversations with Hugging Face's settings and compares.
 */
#include "harness.h"
#include "northstar/chat.h"

#include <jansson.h>
#include <stdint.h>

#define NM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Render t over m and compare with want. */
static void check_tmpl(ns_chat_tmpl *t, const ns_chat_msg *m, int n, int agp, const char *want)
{
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_chat_tmpl_render(t, m, n, agp, "<s>", "</s>", &b));
    ASSERT_STREQ(b.data ? b.data : "", want);
    ns_buf_release(&b);
    ns_chat_tmpl_free(t);
}

static void check(const char *src, const ns_chat_msg *m, int n, int agp, const char *want)
{
    ns_chat_tmpl *t;
    ASSERT_OK(ns_chat_tmpl_compile(&t, src));
    check_tmpl(t, m, n, agp, want);
}

/* A builtin by name, and the same text compiled from its source. */
static void check_builtin(const char *name, const ns_chat_msg *m, int n, int agp, const char *want)
{
    ns_chat_tmpl *t;
    ASSERT_OK(ns_chat_tmpl_builtin(&t, name));
    check_tmpl(t, m, n, agp, want);
    check(ns_chat_tmpl_builtin_source(name), m, n, agp, want);
}

/* The render fails with code and a message naming needle. */
static void check_render_err(const char *src, const ns_chat_msg *m, int n, int code, const char *needle)
{
    ns_chat_tmpl *t;
    ASSERT_OK(ns_chat_tmpl_compile(&t, src));
    ns_buf b;
    ns_buf_init(&b);
    ns_buf_puts(&b, "kept");
    ASSERT_ERR_HAS(ns_chat_tmpl_render(t, m, n, 1, "<s>", "</s>", &b), code, needle);
    ASSERT_STREQ(b.data, "kept"); /* out keeps its old length */
    ns_buf_release(&b);
    ns_chat_tmpl_free(t);
}

static const ns_chat_msg sys_user[] = {{"system", "Be brief."}, {"user", "Hi"}};
static const ns_chat_msg three[] = {{"user", " Hi there \n"}, {"assistant", "Hello! "}, {"user", "How?"}};
static const ns_chat_msg full[] = {{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}};

TEST(llama2_builtin)
{
    /* the system message folds into the first [INST] inside <<SYS>> tags;
     * content.strip(); assistant turns end with eos; no generation prompt */
    check_builtin("llama2", sys_user, 2, 1, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
    check_builtin("llama2", sys_user, 2, 0, "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST]");
    check_builtin("llama2", three, 3, 1, "<s>[INST] Hi there [/INST] Hello! </s><s>[INST] How? [/INST]");
    check_builtin("llama2", full, 4, 0,
                  "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s><s>[INST] U2 [/INST]");
    /* raise_exception on roles that do not alternate */
    const ns_chat_msg uu[] = {{"user", "a"}, {"user", "b"}};
    check_render_err(ns_chat_tmpl_builtin_source("llama2"), uu, 2, NS_EINVAL,
                     "Conversation roles must alternate user/assistant/user/assistant/...");
    const ns_chat_msg a1[] = {{"assistant", "x"}};
    check_render_err(ns_chat_tmpl_builtin_source("llama2"), a1, 1, NS_EINVAL, "must alternate");
    /* an empty conversation: messages[0] is undefined, its 'role' an error (as Jinja2) */
    check_render_err(ns_chat_tmpl_builtin_source("llama2"), NULL, 0, NS_EINVAL, "undefined");
}

TEST(chatml_builtin)
{
    check_builtin("chatml", sys_user, 2, 1,
                  "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    check_builtin("chatml", sys_user, 2, 0, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
    check_builtin("chatml", three, 3, 0,
                  "<|im_start|>user\n Hi there \n<|im_end|>\n<|im_start|>assistant\nHello! <|im_end|>\n"
                  "<|im_start|>user\nHow?<|im_end|>\n");
    check_builtin("chatml", NULL, 0, 1, "<|im_start|>assistant\n");
    const ns_chat_msg tool[] = {{"tool", "42"}};
    check_builtin("chatml", tool, 1, 0, "<|im_start|>tool\n42<|im_end|>\n");
}

TEST(zephyr_builtin)
{
    /* trim_blocks drops the newline after each {% %} tag; the one after
     * {{ }} stays */
    check_builtin("zephyr", sys_user, 2, 1, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
    check_builtin("zephyr", sys_user, 2, 0, "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n");
    check_builtin("zephyr", three, 3, 1,
                  "<|user|>\n Hi there \n</s>\n<|assistant|>\nHello! </s>\n<|user|>\nHow?</s>\n<|assistant|>\n");
    /* the generation prompt hangs on loop.last: none without messages */
    check_builtin("zephyr", NULL, 0, 1, "");
}

TEST(northstar_builtin)
{
    /* exactly ns_llm_sft_encode's text: "<|user|>\n" P "\n<|assistant|>\n" R EOS */
    const ns_chat_msg ua[] = {{"user", "What is 2+2?"}, {"assistant", "4"}};
    check_builtin("northstar", ua, 2, 0, "<|user|>\nWhat is 2+2?\n<|assistant|>\n4</s>");
    check_builtin("northstar", ua, 1, 1, "<|user|>\nWhat is 2+2?\n<|assistant|>\n");
    check_builtin("northstar", ua, 1, 0, "<|user|>\nWhat is 2+2?\n");
    check_builtin("northstar", full, 4, 1,
                  "<|user|>\nS\n\nU1\n<|assistant|>\nA1</s><|user|>\nU2\n<|assistant|>\n");
    check_builtin("northstar", sys_user, 1, 1, "<|user|>\nBe brief.\n<|assistant|>\n");
    check_builtin("northstar", NULL, 0, 1, "<|assistant|>\n");
    const ns_chat_msg late_sys[] = {{"user", "a"}, {"system", "b"}};
    check_render_err(ns_chat_tmpl_builtin_source("northstar"), late_sys, 2, NS_EINVAL, "may only come first");
    const ns_chat_msg tool[] = {{"user", "a"}, {"tool", "b"}};
    check_render_err(ns_chat_tmpl_builtin_source("northstar"), tool, 2, NS_EINVAL, "unknown role tool");
    const ns_chat_msg sa[] = {{"system", "a"}, {"assistant", "b"}};
    check_render_err(ns_chat_tmpl_builtin_source("northstar"), sa, 2, NS_EINVAL, "followed by a user message");
}

TEST(builtin_names)
{
    ns_chat_tmpl *t = (ns_chat_tmpl *)1;
    ASSERT_ERR_HAS(ns_chat_tmpl_builtin(&t, "vicuna"), NS_ENOTFOUND, "vicuna");
    ASSERT(t == NULL);
    ASSERT(ns_chat_tmpl_builtin_source("vicuna") == NULL);
    ASSERT(ns_chat_tmpl_builtin_source(NULL) == NULL);
    ns_chat_tmpl_free(NULL);
}

/* Real templates as their models ship them (beyond the builtins). */
TEST(real_templates)
{
    /* mistralai/Mixtral-8x7B-Instruct-v0.1 */
    const char *mixtral =
        "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
    const ns_chat_msg uau[] = {{"user", "Q1"}, {"assistant", "A1"}, {"user", "Q2"}};
    check(mixtral, uau, 3, 1, "<s>[INST] Q1 [/INST]A1</s>[INST] Q2 [/INST]");
    check_render_err(mixtral, sys_user, 2, NS_EINVAL, "must alternate");
    /* google/gemma-7b-it: filters bind tighter than +, 'model' for assistant */
    const char *gemma =
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
        "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
        "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}";
    check(gemma, three, 3, 1,
          "<s><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
          "<start_of_turn>user\nHow?<end_of_turn>\n<start_of_turn>model\n");
    check_render_err(gemma, sys_user, 2, NS_EINVAL, "System role not supported");
    /* meta-llama/Meta-Llama-3-8B-Instruct: set in a loop, bos on the first turn */
    const char *llama3 =
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}"
        "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";
    check(llama3, sys_user, 2, 1,
          "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
          "Hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    /* a ChatML variant with a default system prompt, 'is defined', loop.first */
    const char *chatml_default =
        "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
        "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
        "{{ '<|im_start|>system\nYou are helpful.<|im_end|>\n' }}{% endif %}"
        "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";
    const ns_chat_msg u1[] = {{"user", "Hi"}};
    check(chatml_default, u1, 1, 1,
          "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    /* a Llama-2 variant with a default system message ('not ... in') and
     * an indented multi-line layout (lstrip_blocks + trim_blocks) */
    const char *llama2_ml =
        "{% if messages[0]['role'] == 'system' %}\n"
        "    {% set loop_messages = messages[1:] %}\n"
        "    {% set system_message = messages[0]['content'] %}\n"
        "{% elif not '<<SYS>>' in messages[0]['content'] %}\n"
        "    {% set loop_messages = messages %}\n"
        "    {% set system_message = 'Default.' %}\n"
        "{% else %}\n"
        "    {% set loop_messages = messages %}\n"
        "    {% set system_message = false %}\n"
        "{% endif %}\n"
        "{% for message in loop_messages %}\n"
        "    {% if loop.index0 == 0 and system_message != false %}\n"
        "        {% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}\n"
        "    {% else %}\n"
        "        {% set content = message['content'] %}\n"
        "    {% endif %}\n"
        "    {% if message['role'] == 'user' %}\n"
        "        {{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}\n"
        "    {% elif message['role'] == 'assistant' %}\n"
        "        {{ ' '  + content.strip() + ' ' + eos_token }}\n"
        "    {% endif %}\n"
        "{% endfor %}\n";
    /* the newline after each {{ }} line and its indentation stay (lstrip
     * only strips before block tags): "        " + text + "\n" */
    check(llama2_ml, u1, 1, 0, "        <s>[INST] <<SYS>>\nDefault.\n<</SYS>>\n\nHi [/INST]\n");
    const ns_chat_msg own[] = {{"user", "<<SYS>>x<</SYS>> Hi"}};
    check(llama2_ml, own, 1, 0, "        <s>[INST] <<SYS>>x<</SYS>> Hi [/INST]\n");
}

TEST(expressions)
{
    const ns_chat_msg m[] = {{"user", "hello"}, {"assistant", "w\xc3\xb6rld"}, {"user", "x"}};
    check("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 + 3 * 4 }} {{ (2 + 3) * 4 }} {{ 1 - -1 }}", m, 3, 0,
          "3 -4 2 -2 14 20 2");
    check("{{ 'a' ~ 1 ~ true ~ none ~ undefined_name }}|{{ 1 == true }}|{{ 'a' != 'b' }}|{{ 'ab' < 'b' }}|{{ 3 >= 3 }}",
          m, 3, 0, "a1TrueNone|True|True|True|True");
    check("{{ messages[1].content[1] }}{{ messages[1]['content'][-1] }}{{ messages[1].content[1:3] }}"
          "{{ messages[1].content | length }}{{ messages | length }}{{ messages[1:] | length }}{{ messages[-1].role }}",
          m, 3, 0, "\xc3\xb6" "d" "\xc3\xb6r" "532user");
    check("{{ messages[7] }}|{{ messages[7] is defined }}|{{ nothing is undefined }}|{{ none is none }}|"
          "{{ 'x' is string }}|{{ 3 is number }}|{{ messages[0].tool_calls is not defined }}",
          m, 3, 0, "|False|True|True|True|True|True");
    check("{{ 'ell' in messages[0].content }}{{ 'z' not in 'abc' }}{{ messages[0] in messages }}{{ not 0 }}"
          "{{ 0 or 'b' }}{{ 'a' and 'c' }}{{ '' or none }}", m, 3, 0, "TrueTrueTrueTruebcNone");
    check("{{ 'y' if 0 else 'n' }}{{ 'y' if 1 }}{{ 'q' if 0 }}|{{ '  a b  ' | trim }}|{{ 'aB' | upper }}{{ 'aB' | lower }}"
          "{{ ' x '.strip() }}{{ ' x '.lstrip() }}|{{ ' x '.rstrip() }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith('x') }}",
          m, 3, 0, "ny|a b|ABabxx | x|TrueFalse");
    check("{{ 'a\\tb\\x41\\u00e9\\n' }}{{ \"d\\\"q\" }}{{ 'x' 'y' }}{{ '\\q' }}", m, 3, 0, "a\tbA\xc3\xa9\nd\"qxy\\q");
    check("{% for m in messages %}{{ loop.index0 }}{{ loop.index }}{{ loop.revindex }}{{ loop.revindex0 }}"
          "{{ loop.length }}{{ 'F' if loop.first }}{{ 'L' if loop.last }};{% endfor %}",
          m, 3, 0, "01323F;12213;23103L;");
    /* a set in a for body lasts one iteration; a set in an if does not scope */
    check("{% set n = 1 %}{% for m in messages %}{{ n }}{% set n = n + 10 %}{{ n }},{% endfor %}{{ n }}"
          "{% if true %}{% set k = 5 %}{% endif %}{{ k }}", m, 3, 0, "111,111,111,15");
    check("{% for m in nothing %}x{% endfor %}{% for m in messages[5:] %}y{% endfor %}{{ messages[:1][0].role }}", m, 3, 0,
          "user");
    check("{% if 0 %}a{% elif '' %}b{% elif messages %}c{% else %}d{% endif %}", m, 3, 0, "c");
    check("{{ add_generation_prompt }}{{ bos_token }}{{ eos_token }}", m, 0, 1, "True<s></s>");
}

TEST(whitespace_control)
{
    const ns_chat_msg m[] = {{"user", "u"}};
    /* trim_blocks: the newline after a block tag goes; lstrip_blocks: the
     * indentation before one goes; '-' strips every space and newline on its
     * side; '+' turns lstrip/trim off; comments behave as block tags */
    check("  {% if true %}\n  a\n  {% endif %}\nb", m, 1, 0, "  a\nb");
    check("x  {%- if true -%}  \n y  {{- 'z' -}}  \n w {%- endif %}", m, 1, 0, "xyzw");
    check("  {%+ if true +%}\nq{% endif %}", m, 1, 0, "  \nq");
    check("a\n  {# note #}\nb\n", m, 1, 0, "a\nb");
    check("a {# c #} b", m, 1, 0, "a  b");
    check("{{ 'v' }}\n", m, 1, 0, "v");        /* one trailing newline of the source is dropped */
    check("{{ 'v' }}\n\n", m, 1, 0, "v\n");
    check("a\r\nb\rc", m, 1, 0, "a\nb\nc");
    check("{{ '%}' }}{{ '}}' }}", m, 1, 0, "%}}}");
}

TEST(unsupported_constructs)
{
    static const struct {
        const char *src, *construct;
    } cases[] = {
        {"{% macro f() %}x{% endmacro %}", "'macro' at offset 3"},
        {"{% include 'x.j' %}", "'include'"},
        {"{{ messages | join(', ') }}", "'join'"},
        {"{{ messages | map(attribute='role') }}", "'map'"},
        {"{{ [1, 2] }}", "'list literal'"},
        {"{{ {'a': 1} }}", "'dict literal'"},
        {"{{ 1.5 }}", "'float literal'"},
        {"{{ 3 / 2 }}", "'/ (true division)'"},
        {"{{ 2 ** 3 }}", "'**'"},
        {"{{ range(3) }}", "'range'"},
        {"{{ x.items() }}", "'items'"},
        {"{{ x is divisibleby 3 }}", "'divisibleby'"},
        {"{% for a, b in x %}{% endfor %}", "'for with several variables'"},
        {"{% for m in messages if m.role %}{% endfor %}", "'for ... if'"},
        {"{% for m in messages %}{% else %}{% endfor %}", "'for ... else'"},
        {"{% set x %}a{% endset %}", "'block set'"},
        {"{% set a.b = 1 %}", "'set of an attribute'"},
        {"{{ (1, 2) }}", "'tuple'"},
        {"{{ 1 < 2 < 3 }}", "'chained comparison'"},
        {"{{ 'abc'[::2] }}", "'slice step'"},
        {"{% generation %}x{% endgeneration %}", "'generation'"},
        {"{{ 'x'.strip('x') }}", "'method arguments'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_chat_tmpl *t = (ns_chat_tmpl *)1;
        printf("%s\n", cases[i].src);
        ASSERT_ERR_HAS(ns_chat_tmpl_compile(&t, cases[i].src), NS_EUNSUPPORTED, cases[i].construct);
        ASSERT_HAS(ns_err_msg(), "chat template: unsupported construct");
        ASSERT(t == NULL);
    }
}

TEST(malformed_templates)
{
    static const struct {
        const char *src, *needle;
    } cases[] = {
        {"abc {{ x", "unclosed '{{' at offset 4"},
        {"{% if x", "unclosed '{%'"},
        {"{# x", "unclosed '{#'"},
        {"{% if x %}a", "unclosed block"},
        {"{% for m in messages %}a", "unclosed block"},
        {"{% if x %}{% endfor %}", "unexpected end tag"},
        {"{% endif %}", "unexpected end tag"},
        {"{{ }}", "expected an expression"},
        {"{{ 'abc }}", "unterminated string"},
        {"{{ a + }}", "expected an expression"},
        {"{{ (a }}", "expected ')'"},
        {"{{ a b }}", "unexpected text after the expression"},
        {"{{ a[1 }}", "expected ']'"},
        {"{% for x messages %}{% endfor %}", "expected 'in'"},
        {"{{ 'a' @ 'b' }}", "unexpected character"},
        {"{% %}", "expected a statement name"},
        {"{% set = 1 %}", "expected a variable"},
        {"{% set x 1 %}", "expected '='"},
        {"{{ '\\x4' }}", "escape"},
        {"{{ '\\ud800' }}", "Unicode scalar value"},
        {"{{ 99999999999999999999 }}", "too large"},
        {"{{ a.(b) }}", "attribute name"},
        {"{% if x %}{% else %}{% else %}{% endif %}", "unexpected end tag"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_chat_tmpl *t = (ns_chat_tmpl *)1;
        printf("%s\n", cases[i].src);
        ASSERT_ERR_HAS(ns_chat_tmpl_compile(&t, cases[i].src), NS_EFORMAT, cases[i].needle);
        ASSERT(t == NULL);
    }
}

TEST(runtime_errors)
{
    const ns_chat_msg m[] = {{"user", "u"}};
    check_render_err("{{ 'a' + 1 }}", m, 1, NS_EINVAL, "offset 7");
    check_render_err("{{ nothing + 'a' }}", m, 1, NS_EINVAL, "undefined");
    check_render_err("{{ nothing.role }}", m, 1, NS_EINVAL, "no attribute 'role'");
    check_render_err("{{ 1 // 0 }}", m, 1, NS_EINVAL, "division by zero");
    check_render_err("{{ messages }}", m, 1, NS_EUNSUPPORTED, "cannot print a list");
    check_render_err("{{ messages[0] }}", m, 1, NS_EUNSUPPORTED, "cannot print a message object");
    check_render_err("{% for c in 'abc' %}{% endfor %}", m, 1, NS_EINVAL, "not a list");
    check_render_err("{{ 'a' < 1 }}", m, 1, NS_EINVAL, "ordering");
    check_render_err("{{ 1 in 2 }}", m, 1, NS_EINVAL, "'in'");
    check_render_err("{{ 9223372036854775807 + 1 }}", m, 1, NS_EINVAL, "overflow");
    check_render_err("{{ raise_exception('custom ' ~ messages[0].role) }}", m, 1, NS_EINVAL, "chat template: custom user");
}

TEST(bad_messages)
{
    const char *src = ns_chat_tmpl_builtin_source("chatml");
    const ns_chat_msg no_role[] = {{"user", "a"}, {NULL, "b"}};
    check_render_err(src, no_role, 2, NS_EINVAL, "message 1 has no role");
    const ns_chat_msg empty_role[] = {{"", "b"}};
    check_render_err(src, empty_role, 1, NS_EINVAL, "message 0 has no role");
    const ns_chat_msg no_content[] = {{"user", NULL}};
    check_render_err(src, no_content, 1, NS_EINVAL, "message 0 has no content");
    const ns_chat_msg bad_utf8[] = {{"user", "ok"}, {"user", "bad \xc3\x28"}};
    check_render_err(src, bad_utf8, 2, NS_EFORMAT, "message 1: content is not valid UTF-8");
    const ns_chat_msg bad_role[] = {{"us\xff", "x"}};
    check_render_err(src, bad_role, 1, NS_EFORMAT, "role is not valid UTF-8");
}

TEST(limits)
{
    ns_buf s;
    ns_buf_init(&s);
    for (int i = 0; i < 100; i++) ns_buf_puts(&s, "{% if true %}");
    for (int i = 0; i < 100; i++) ns_buf_puts(&s, "{% endif %}");
    ns_chat_tmpl *t;
    ASSERT_ERR_HAS(ns_chat_tmpl_compile(&t, s.data), NS_ETOOBIG, "nested deeper");
    s.len = 0;
    ns_buf_puts(&s, "{{ ");
    for (int i = 0; i < 200; i++) ns_buf_puts(&s, "(");
    ns_buf_puts(&s, "1");
    for (int i = 0; i < 200; i++) ns_buf_puts(&s, ")");
    ns_buf_puts(&s, " }}");
    ASSERT_ERR_HAS(ns_chat_tmpl_compile(&t, s.data), NS_ETOOBIG, "nested deeper");
    s.len = 0;
    ns_buf_puts(&s, "{{ ");
    for (int i = 0; i < 200; i++) ns_buf_puts(&s, "not ");
    ns_buf_puts(&s, "1 }}");
    ASSERT_ERR_HAS(ns_chat_tmpl_compile(&t, s.data), NS_ETOOBIG, "nested deeper");
    s.len = 0;
    ns_buf_puts(&s, "{{ 1");
    for (int i = 0; i < 200; i++) ns_buf_puts(&s, " + 1");
    ns_buf_puts(&s, " }}");
    check(s.data, NULL, 0, 0, "201");
    s.len = 0;
    ns_buf_puts(&s, "{{ 1");
    for (int i = 0; i < 20000; i++) ns_buf_puts(&s, " + 1"); /* a chain 20,000 deep */
    ns_buf_puts(&s, " }}");
    check_render_err(s.data, NULL, 0, NS_ETOOBIG, "more than 256 deep");
    ns_buf_release(&s);
    /* 40^4 loop iterations */
    ns_chat_msg m[40];
    for (int i = 0; i < 40; i++) m[i] = (ns_chat_msg){"user", "x"};
    check_render_err("{% for a in messages %}{% for b in messages %}{% for c in messages %}{% for d in messages %}"
                     "{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
                     m, 40, NS_ETOOBIG, "loop iterations");
    /* output: 5 x 5 copies of 1 MiB */
    size_t big = (size_t)1 << 20;
    char *c = malloc(big + 1);
    memset(c, 'a', big);
    c[big] = 0;
    for (int i = 0; i < 5; i++) m[i].content = c;
    check_render_err("{% for a in messages %}{% for b in messages %}{{ a.content }}{% endfor %}{% endfor %}", m, 5,
                     NS_ETOOBIG, "output over");
    ns_buf q;
    ns_buf_init(&q);
    ns_buf_puts(&q, "{% set x = messages[0].content");
    for (int i = 0; i < 20; i++) ns_buf_puts(&q, " + messages[0].content");
    ns_buf_puts(&q, " %}");
    check_render_err(q.data, m, 1, NS_ETOOBIG, "a string of");
    ns_buf_release(&q);
    free(c);
}

/* Every prefix of every builtin source, and seeded byte mutations of each:
 * compile and render must return a code (never crash, never leak: ASan). */
TEST(fuzz_truncations)
{
    static const char *const names[] = {"llama2", "chatml", "zephyr", "northstar"};
    static const char alphabet[] = "{}%#-+()[]'\".|~=!<> \nabx0";
    uint64_t seed = 12345;
    size_t ok = 0, failed = 0;
    for (int k = 0; k < 4; k++) {
        const char *src = ns_chat_tmpl_builtin_source(names[k]);
        size_t len = strlen(src);
        char *buf = malloc(len + 1);
        for (size_t cut = 0; cut <= len + 400; cut++) {
            if (cut <= len) {
                memcpy(buf, src, cut);
                buf[cut] = 0;
            } else { /* mutations: 1-3 random bytes replaced */
                memcpy(buf, src, len + 1);
                for (int j = 0; j < 1 + (int)(cut % 3); j++) {
                    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                    buf[(seed >> 33) % len] = alphabet[(seed >> 13) % (sizeof alphabet - 1)];
                }
            }
            ns_chat_tmpl *t;
            if (ns_chat_tmpl_compile(&t, buf) < 0) {
                failed++;
                continue;
            }
            ns_buf b;
            ns_buf_init(&b);
            if (ns_chat_tmpl_render(t, full, 4, 1, "<s>", "</s>", &b) >= 0) ok++;
            else failed++;
            ns_buf_release(&b);
            ns_chat_tmpl_free(t);
        }
        free(buf);
    }
    printf("fuzz: %zu rendered, %zu refused\n", ok, failed);
    ASSERT(ok > 0 && failed > 0);
}

/* The same conversations through Jinja2 itself, with Hugging Face's
 * settings (trim_blocks, lstrip_blocks, raise_exception): skipped without a
 * python3 that has jinja2. */
TEST(jinja2_reference)
{
    if (ns_test_run("python3 -c 'import jinja2' 2>/dev/null", NULL) != 0) SKIP("python3 with jinja2 not available");
    static const char *const extra[] = {
        "  {% for m in messages %}\n    {# c #}\n  [{{ loop.index }}/{{ loop.length }}{{ ' F' if loop.first }}] "
        "{{ m.role | upper }}: {{ m['content'] | trim | length }} {{ m.content[1:3] }}{{ m.content[-1] }}\n"
        "  {%+ if m.role == 'user' and not (m.content is not defined) %}U{% elif m.role in 'xassistantx' %}A"
        "{% else %}O{% endif +%}\n{{- \"\\t\\x41\" ~ 7 // 2 ~ (-7 % 3) }}\n{% endfor %}\n"
        "{% if foo is undefined and messages|length > 1 %}many{% endif %}{{ messages[5] }}{{ messages[-1].role if messages }}\n",
        "{%- for message in messages -%}\n{{- bos_token if loop.first -}}\n{%- if message.role == 'system' -%}\n"
        "<<{{ message.content }}>>\n{% else %}\n{{ message.role }}:\n   {{ message.content }}\n{% endif %}\n"
        "{%- endfor %}\n{% if add_generation_prompt %}\n    go\n{% endif %}\n\n",
        /* Meta-Llama-3-8B-Instruct */
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
        "message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
        "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    };
    static const ns_chat_msg convs[][5] = {
        {{"user", "Hi"}},
        {{"system", "Be brief."}, {"user", "Hi"}},
        {{"user", " Hi there \n"}, {"assistant", "Hello! "}, {"user", "How?"}},
        {{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}, {"assistant", "A2"}},
        {{"user", "<<SYS>> x"}, {"assistant", "y \xc3\xa9"}},
    };
    static const int nconv[] = {1, 2, 3, 5, 2};
    const char *srcs[7];
    for (int k = 0; k < 4; k++) srcs[k] = ns_chat_tmpl_builtin_source((const char *[]){"llama2", "chatml", "zephyr", "northstar"}[k]);
    srcs[4] = extra[0];
    srcs[5] = extra[1];
    srcs[6] = extra[2];
    /* one JSON request: templates x conversations x add_generation_prompt */
    ns_buf j;
    ns_buf_init(&j);
    ns_buf_puts(&j, "{\"templates\": [");
    for (int k = 0; k < 7; k++) {
        if (k) ns_buf_puts(&j, ",");
        ns_buf_json_str(&j, srcs[k], strlen(srcs[k]));
    }
    ns_buf_puts(&j, "], \"convs\": [");
    for (int c = 0; c < NM(nconv); c++) {
        ns_buf_puts(&j, c ? ",[" : "[");
        for (int i = 0; i < nconv[c]; i++) {
            ns_buf_puts(&j, i ? ",{\"role\":" : "{\"role\":");
            ns_buf_json_str(&j, convs[c][i].role, strlen(convs[c][i].role));
            ns_buf_puts(&j, ",\"content\":");
            ns_buf_json_str(&j, convs[c][i].content, strlen(convs[c][i].content));
            ns_buf_puts(&j, "}");
        }
        ns_buf_puts(&j, "]");
    }
    ns_buf_puts(&j, "]}");
    const char *req = ns_test_tmpfile("req.json"), *py = ns_test_tmpfile("ref.py");
    FILE *f = fopen(req, "wb");
    fwrite(j.data, 1, j.len, f);
    fclose(f);
    f = fopen(py, "w");
    fputs("import json, sys\n"
          "from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
          "from jinja2.exceptions import TemplateError\n"
          "def rx(m): raise TemplateError(m)\n"
          "env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)\n"
          "env.globals['raise_exception'] = rx\n"
          "r = json.load(open(sys.argv[1]))\n"
          "out = []\n"
          "for t in r['templates']:\n"
          "    for c in r['convs']:\n"
          "        for agp in (False, True):\n"
          "            try: out.append(env.from_string(t).render(messages=c, add_generation_prompt=agp,"
          " bos_token='<s>', eos_token='</s>'))\n"
          "            except Exception: out.append(None)\n"
          "sys.stdout.write(json.dumps(out))\n",
          f);
    fclose(f);
    char cmd[2048], *res = NULL;
    snprintf(cmd, sizeof cmd, "python3 %s %s", py, req);
    ASSERT_EQ_INT(ns_test_run(cmd, &res), 0);
    ns_buf_release(&j);
    json_error_t jerr;
    json_t *arr = json_loads(res, 0, &jerr);
    ASSERT_MSG(json_is_array(arr), "python output is not a JSON list: %s", res);
    int idx = 0, compared = 0;
    for (int k = 0; k < 7; k++) {
        ns_chat_tmpl *t;
        ASSERT_OK(ns_chat_tmpl_compile(&t, srcs[k]));
        for (int c = 0; c < NM(nconv); c++)
            for (int agp = 0; agp < 2; agp++, idx++) {
                json_t *w = json_array_get(arr, (size_t)idx);
                ASSERT(w != NULL);
                int is_null = json_is_null(w);
                const char *want = is_null ? "" : json_string_value(w);
                ns_buf got;
                ns_buf_init(&got);
                int rc = ns_chat_tmpl_render(t, convs[c], nconv[c], agp, "<s>", "</s>", &got);
                if (is_null) {
                    ASSERT_MSG(rc < 0, "template %d conv %d agp %d: jinja2 raised, we rendered \"%s\"", k, c, agp,
                               got.data ? got.data : "");
                } else {
                    ASSERT_MSG(rc >= 0, "template %d conv %d agp %d: %s", k, c, agp, ns_err_msg());
                    ASSERT_MSG(!strcmp(got.data ? got.data : "", want),
                               "template %d conv %d agp %d:\n  jinja2 \"%s\"\n  ours   \"%s\"", k, c, agp, want,
                               got.data ? got.data : "");
                }
                compared++;
                ns_buf_release(&got);
            }
        ns_chat_tmpl_free(t);
    }
    json_decref(arr);
    free(res);
    printf("%d renderings identical to jinja2's\n", compared);
}
