/*
 * config.c — model configuration: family defaults, validation and the JSON
 * form stored in every model file. Parsing is strict: a key we do not know
 * is an error (a typo like "n_layers" must not silently train the default).
 */
#include "llm_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char *ns_llm_arch_name(int arch) { return arch == NS_LLM_LLAMA ? "llama" : "gpt2"; }

ns_llm_config ns_llm_config_default(ns_llm_arch arch)
{
    ns_llm_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.vocab_size = 256;
    c.max_seq = 256;
    c.n_layer = 4;
    c.n_head = 4;
    c.n_kv_head = 4;
    c.d_model = 128;
    if (arch == NS_LLM_LLAMA) {
        c.d_ff = 344; /* ~ 8C/3 rounded to a multiple of 8 */
        c.tied = 1;
        c.bias = 0;
        c.norm_eps = 1e-5f;
        c.rope_theta = 10000.0f;
    } else {
        c.d_ff = 4 * c.d_model;
        c.tied = 1;
        c.bias = 1;
        c.norm_eps = 1e-5f;
        c.rope_theta = 0;
    }
    return c;
}

#define BAD(field, ...) ns_err_set_at(NS_EINVAL, "", 0, field, NULL, __VA_ARGS__)

int ns_llm_config_validate(const ns_llm_config *c)
{
    if (c->arch != NS_LLM_GPT2 && c->arch != NS_LLM_LLAMA) return BAD("arch", "unknown family %d", c->arch);
    if (c->vocab_size < 1 || c->vocab_size > (1 << 24)) return BAD("vocab_size", "vocab_size %d out of [1, 2^24]", c->vocab_size);
    if (c->max_seq < 1 || c->max_seq > (1 << 20)) return BAD("max_seq", "max_seq %d out of [1, 2^20]", c->max_seq);
    if (c->n_layer < 1 || c->n_layer > 1024) return BAD("n_layer", "n_layer %d out of [1, 1024]", c->n_layer);
    if (c->n_head < 1 || c->n_head > 1024) return BAD("n_head", "n_head %d out of [1, 1024]", c->n_head);
    if (c->d_model < 1 || c->d_model > (1 << 16) || c->d_model % c->n_head)
        return BAD("d_model", "d_model %d must be positive and divisible by n_head %d", c->d_model, c->n_head);
    if (c->n_kv_head < 1 || c->n_head % c->n_kv_head)
        return BAD("n_kv_head", "n_kv_head %d must divide n_head %d", c->n_kv_head, c->n_head);
    if (c->arch == NS_LLM_GPT2 && c->n_kv_head != c->n_head)
        return BAD("n_kv_head", "GPT-2 family has no grouped-query attention (n_kv_head %d != n_head %d)", c->n_kv_head, c->n_head);
    if (c->arch == NS_LLM_LLAMA && (c->d_model / c->n_head) % 2)
        return BAD("d_model", "RoPE needs an even head dimension (d_model / n_head = %d)", c->d_model / c->n_head);
    if (c->arch == NS_LLM_LLAMA && c->bias) return BAD("bias", "the Llama family has no biases");
    if (c->d_ff < 1 || c->d_ff > (1 << 18)) return BAD("d_ff", "d_ff %d out of [1, 2^18]", c->d_ff);
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) return BAD("norm_eps", "norm_eps %g out of (0, 1)", (double)c->norm_eps);
    if (c->arch == NS_LLM_LLAMA && !(c->rope_theta > 1)) return BAD("rope_theta", "rope_theta %g must be > 1", (double)c->rope_theta);
    if (c->tied != 0 && c->tied != 1) return BAD("tied", "tied must be 0 or 1");
    return NS_OK;
}

static int get_int(json_t *v, const char *key, const char *src, int *out)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < -(1LL << 31) || x > (1LL << 31) - 1)
            return ns_err_set_at(NS_EFORMAT, src, 0, key, NULL, "integer out of range");
        *out = (int)x;
        return 0;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    return ns_err_set_at(NS_EFORMAT, src, 0, key, NULL, "expected an integer");
}

static int get_float(json_t *v, const char *key, const char *src, float *out)
{
    if (!json_is_number(v)) return ns_err_set_at(NS_EFORMAT, src, 0, key, NULL, "expected a number");
    *out = (float)json_number_value(v);
    return 0;
}

int ns_llm_config_parse(ns_llm_config *c, const char *json, const char *src)
{
    if (!src) src = "config";
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!root) return ns_err_set_at(NS_EFORMAT, src, je.line, NULL, NULL, "config JSON: %s", je.text);
    int rc = NS_OK;
    if (!json_is_object(root)) {
        rc = ns_err_set_at(NS_EFORMAT, src, 0, NULL, NULL, "config must be a JSON object");
        goto done;
    }
    json_t *arch = json_object_get(root, "arch");
    int a = NS_LLM_GPT2;
    if (arch) {
        const char *s = json_string_value(arch);
        if (s && !strcmp(s, "gpt2")) a = NS_LLM_GPT2;
        else if (s && !strcmp(s, "llama")) a = NS_LLM_LLAMA;
        else {
            rc = ns_err_set_at(NS_EFORMAT, src, 0, "arch", s ? s : "?", "arch must be \"gpt2\" or \"llama\"");
            goto done;
        }
    }
    *c = ns_llm_config_default((ns_llm_arch)a);
    int kv_given = 0, ff_given = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "arch")) continue;
        else if (!strcmp(key, "vocab_size")) rc = get_int(v, key, src, &c->vocab_size);
        else if (!strcmp(key, "max_seq")) rc = get_int(v, key, src, &c->max_seq);
        else if (!strcmp(key, "n_layer")) rc = get_int(v, key, src, &c->n_layer);
        else if (!strcmp(key, "n_head")) rc = get_int(v, key, src, &c->n_head);
        else if (!strcmp(key, "n_kv_head")) { rc = get_int(v, key, src, &c->n_kv_head); kv_given = 1; }
        else if (!strcmp(key, "d_model")) rc = get_int(v, key, src, &c->d_model);
        else if (!strcmp(key, "d_ff")) { rc = get_int(v, key, src, &c->d_ff); ff_given = 1; }
        else if (!strcmp(key, "tied")) rc = get_int(v, key, src, &c->tied);
        else if (!strcmp(key, "bias")) rc = get_int(v, key, src, &c->bias);
        else if (!strcmp(key, "norm_eps")) rc = get_float(v, key, src, &c->norm_eps);
        else if (!strcmp(key, "rope_theta")) rc = get_float(v, key, src, &c->rope_theta);
        else rc = ns_err_set_at(NS_EFORMAT, src, 0, key, NULL, "unknown config key '%s'", key);
        if (rc < 0) goto done;
    }
    if (!kv_given) c->n_kv_head = c->n_head;
    if (!ff_given) c->d_ff = a == NS_LLM_GPT2 ? 4 * c->d_model : ((8 * c->d_model / 3 + 7) / 8) * 8;
    if (ns_llm_config_validate(c) < 0) {
        rc = ns_err_set_at(NS_EFORMAT, src, 0, ns_err_last()->field, NULL, "%s", ns_err_last()->msg);
        goto done;
    }
done:
    json_decref(root);
    return rc;
}

char *ns_llm_config_json(const ns_llm_config *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "arch", json_string(ns_llm_arch_name(c->arch)));
    json_object_set_new(o, "vocab_size", json_integer(c->vocab_size));
    json_object_set_new(o, "max_seq", json_integer(c->max_seq));
    json_object_set_new(o, "n_layer", json_integer(c->n_layer));
    json_object_set_new(o, "n_head", json_integer(c->n_head));
    json_object_set_new(o, "n_kv_head", json_integer(c->n_kv_head));
    json_object_set_new(o, "d_model", json_integer(c->d_model));
    json_object_set_new(o, "d_ff", json_integer(c->d_ff));
    json_object_set_new(o, "tied", json_integer(c->tied));
    json_object_set_new(o, "bias", json_integer(c->bias));
    json_object_set_new(o, "norm_eps", json_real(c->norm_eps));
    if (c->arch == NS_LLM_LLAMA) json_object_set_new(o, "rope_theta", json_real(c->rope_theta));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}
