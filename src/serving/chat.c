/*
 * chat.c — chat templates: compile and free (the compiler is chat_parse.c,
 * the renderer chat_render.c) and the built-in templates.
 *
 * The builtins are the Jinja texts models ship in their tokenizer_config.json
 * (chat_template field, as GGUF files copy it into tokenizer.chat_template),
 * kept here as data, each with its source named; "northstar" is ours, the
 * format ns_llm_sft_encode (src/llm/finetune.c) trains on.
 */
#include <stdlib.h>
#include <string.h>

#include "chat_int.h"

/* meta-llama/Llama-2-7b-chat-hf, tokenizer_config.json "chat_template". */
static const char tmpl_llama2[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

/* teknium/OpenHermes-2.5-Mistral-7B, tokenizer_config.json "chat_template"
 * (the ChatML form most ChatML models ship). */
static const char tmpl_chatml[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/* HuggingFaceH4/zephyr-7b-beta, tokenizer_config.json "chat_template". */
static const char tmpl_zephyr[] =
    "{% for message in messages %}\n"
    "{% if message['role'] == 'user' %}\n"
    "{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n"
    "{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n"
    "{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n"
    "{{ '<|assistant|>' }}\n"
    "{% endif %}\n"
    "{% endfor %}";

/* Ours: the SFT format of ns_llm_sft_encode, "<|user|>\n" prompt "\n<|assistant|>\n"
 * response EOS, turn after turn. A leading system message joins the first
 * user turn (system, a blank line, the user's text); a system message
 * anywhere else, or another role, raises. */
static const char tmpl_northstar[] =
    "{#- northstar SFT format (ns_llm_sft_encode) -#}\n"
    "{%- if messages and messages[0]['role'] == 'system' -%}\n"
    "    {%- set system_message = messages[0]['content'] -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set system_message = '' -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- if system_message and not loop_messages -%}\n"
    "    {{- '<|user|>\\n' + system_message + '\\n' -}}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if message['role'] == 'user' -%}\n"
    "        {%- if loop.first and system_message -%}\n"
    "            {{- '<|user|>\\n' + system_message + '\\n\\n' + message['content'] + '\\n' -}}\n"
    "        {%- else -%}\n"
    "            {{- '<|user|>\\n' + message['content'] + '\\n' -}}\n"
    "        {%- endif -%}\n"
    "    {%- elif message['role'] == 'assistant' -%}\n"
    "        {%- if loop.first and system_message -%}\n"
    "            {{- raise_exception('a system message must be followed by a user message') -}}\n"
    "        {%- endif -%}\n"
    "        {{- '<|assistant|>\\n' + message['content'] + eos_token -}}\n"
    "    {%- elif message['role'] == 'system' -%}\n"
    "        {{- raise_exception('a system message may only come first') -}}\n"
    "    {%- else -%}\n"
    "        {{- raise_exception('unknown role ' + message['role'] + ' (system, user or assistant)') -}}\n"
    "    {%- endif -%}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{- '<|assistant|>\\n' -}}\n"
    "{%- endif -%}\n";

static const struct {
    const char *name, *src;
} builtins[] = {
    {"llama2", tmpl_llama2},
    {"chatml", tmpl_chatml},
    {"zephyr", tmpl_zephyr},
    {"northstar", tmpl_northstar},
};

const char *ns_chat_tmpl_builtin_source(const char *name)
{
    for (size_t i = 0; name && i < sizeof builtins / sizeof builtins[0]; i++)
        if (!strcmp(builtins[i].name, name)) return builtins[i].src;
    return NULL;
}

int ns_chat_tmpl_compile(ns_chat_tmpl **out, const char *jinja_src)
{
    *out = NULL;
    if (!jinja_src) return ns_err_set(NS_EINVAL, "chat template: no source");
    ns_chat_tmpl *t = ns_calloc(1, sizeof *t);
    if (!t) return NS_ENOMEM;
    ns_arena_init(&t->arena, 0);
    int rc = ns__chat_parse(t, jinja_src);
    if (rc < 0) {
        ns_chat_tmpl_free(t);
        return rc;
    }
    *out = t;
    return NS_OK;
}

int ns_chat_tmpl_builtin(ns_chat_tmpl **out, const char *name)
{
    *out = NULL;
    const char *src = ns_chat_tmpl_builtin_source(name);
    if (!src)
        return ns_err_set_at(NS_ENOTFOUND, NULL, 0, "template", name ? name : "(null)",
                             "no built-in chat template of that name (llama2, chatml, zephyr, northstar)");
    return ns_chat_tmpl_compile(out, src);
}

void ns_chat_tmpl_free(ns_chat_tmpl *t)
{
    if (!t) return;
    ns_arena_release(&t->arena);
    free(t);
}
