/*
 * northstar/chat.h — layer 4 generation: chat templates.
 *
 * A chat template turns a conversation (role, content pairs) into the one
 * prompt string a model was trained on. GGUF files carry theirs as Jinja2
 * text (tokenizer.chat_template), written for Hugging Face's
 * apply_chat_template; this is a small interpreter of the subset those
 * templates use, rendering exactly as Hugging Face's environment does
 * (Jinja2 with trim_blocks and lstrip_blocks on, one trailing newline of
 * the source dropped).
 *
 * The subset
 *   {{ expr }}, {% if %}/{% elif %}/{% else %}/{% endif %},
 *   {% for x in list %}...{% endfor %} (loop.index0, index, first, last,
 *   length, revindex, revindex0), {% set name = expr %} (inside a for body
 *   local to one iteration, as Jinja2), {# comments #}, the '-' and '+'
 *   whitespace modifiers on every tag;
 *   expressions: 'string' and "string" literals (Python escapes), integers,
 *   true/false/none (and True/False/None), names, x.attr, x['key'], x[i]
 *   (negative i from the end), x[a:b] slices, + - * // % ~, == != < <= > >=,
 *   in / not in, and / or / not, a if c else b, parentheses, "is [not]
 *   defined|undefined|none|string|number", filters trim, length, upper,
 *   lower, the string methods strip() lstrip() rstrip() upper() lower()
 *   startswith(s) endswith(s), and raise_exception('text').
 *   Names bound by a render: messages (a list of objects with .role and
 *   .content; other attributes are undefined), add_generation_prompt,
 *   bos_token, eos_token. Undefined values print as "" and are false.
 * Anything else (macros, includes, dict/list literals, other filters,
 * floats, ...) is refused at compile time with NS_EUNSUPPORTED
 * "chat template: unsupported construct '...' at offset N"; malformed
 * templates (an unclosed tag, a bad expression) are NS_EFORMAT with the
 * offset into the source (after "\r\n" -> "\n").
 *
 * Limits (against hostile templates): tags nested at most 64 deep,
 * expressions at most 64 deep as written (256 deep as evaluated: a + b + ...
 * chains count), the output and every string value at most
 * 16 MiB, at most 1,000,000 loop iterations in one render: NS_ETOOBIG.
 *
 * Example
 *   ns_chat_tmpl *t; ns_buf out; ns_buf_init(&out);
 *   ns_chat_msg m[] = {{"system", "Be brief."}, {"user", "Hi"}};
 *   ns_chat_tmpl_builtin(&t, "chatml");
 *   ns_chat_tmpl_render(t, m, 2, 1, "<s>", "</s>", &out);
 *   // "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 *   ns_chat_tmpl_free(t); ns_buf_release(&out);
 *
 * A compiled template is immutable: renders from several threads are safe.
 */
#ifndef NORTHSTAR_CHAT_H
#define NORTHSTAR_CHAT_H

#include "northstar/base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_chat_msg {
    const char *role;    /* "system", "user", "assistant", ... (non-empty UTF-8) */
    const char *content; /* UTF-8 text */
} ns_chat_msg;

typedef struct ns_chat_tmpl ns_chat_tmpl;

/* Compile Jinja text (a copy is kept). NS_EUNSUPPORTED naming the construct
 * it cannot render, NS_EFORMAT for a malformed template. */
int ns_chat_tmpl_compile(ns_chat_tmpl **out, const char *jinja_src);
/* The built-in templates by name:
 *   "llama2"    Llama-2-chat's (meta-llama/Llama-2-7b-chat-hf): [INST] turns,
 *               a leading system message folded into the first user turn
 *               in <<SYS>> tags, raise_exception unless user/assistant
 *               alternate; no generation prompt (the [/INST] is it).
 *   "chatml"    ChatML (teknium/OpenHermes-2.5-Mistral-7B's).
 *   "zephyr"    HuggingFaceH4/zephyr-7b-beta's <|user|>/<|assistant|>.
 *   "northstar" our SFT format (ns_llm_sft_encode): a user turn is
 *               "<|user|>\n" content "\n", an assistant turn "<|assistant|>\n"
 *               content eos_token, the generation prompt "<|assistant|>\n"; a
 *               leading system message is prepended to the first user
 *               content with a blank line; other roles raise.
 * NS_ENOTFOUND for another name. */
int ns_chat_tmpl_builtin(ns_chat_tmpl **out, const char *name);
/* The Jinja text of a builtin (static storage), NULL if unknown. */
const char *ns_chat_tmpl_builtin_source(const char *name);
/* Render m[0..n) and append to out. bos_token/eos_token NULL = "". Errors:
 * NS_EINVAL with the template's own text for raise_exception (e.g.
 * "chat template: Conversation roles must alternate
 * user/assistant/user/assistant/...") and for a message with a NULL or empty
 * role or a NULL content (naming its index), NS_EFORMAT for a role or content
 * that is not valid UTF-8, NS_EINVAL for a type error at run time (naming the
 * offset), NS_ETOOBIG past the limits. On error out keeps its old length. */
int ns_chat_tmpl_render(const ns_chat_tmpl *t, const ns_chat_msg *m, int n, int add_generation_prompt,
                        const char *bos_token, const char *eos_token, ns_buf *out);
void ns_chat_tmpl_free(ns_chat_tmpl *t);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_CHAT_H */
