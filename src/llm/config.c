/*
 * config.c — model configuration: family defaults, validation, the JSON
 * form stored in every model file, and the file schema built from the
 * tables of llm.h. Parsing is strict: a key we do not know is an error (a
 * typo like "n_layers" must not silently train the default).
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

static const ns_st_keydef llm_keys[] = {NS_LLM_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef llm_tensors[] = {NS_LLM_FILE_TENSORS(NS_ST_TENSORDEF)
                                                  NS_LLM_CHECKPOINT_TENSORS(NS_ST_TENSORDEF)};
_Static_assert(sizeof llm_tensors / sizeof llm_tensors[0] == NS__LLM_ROWS, "NS__LLM_ROWS counts the tensor rows");
/* Files written before the format tag existed have none; a shape that
 * disagrees with the config is NS_EMISMATCH, as ns_st_read_f32_shape says. */
const ns_st_schema ns__llm_schema = {.what = "a northstar LLM", .format = NS_LLM_FORMAT, .version = NS_LLM_VERSION,
                                     .min_version = 1, .tag = "format", .tag_sep = '-',
                                     .flags = NS_ST_TAG_OPTIONAL | NS_ST_SHAPE_MISMATCH, .keys = llm_keys,
                                     .nkeys = LK__COUNT, .tensors = llm_tensors, .ntensors = NS__LLM_ROWS};

#define BAD(field, ...) ns_err_set_at(NS_EINVAL, "", 0, field, NULL, __VA_ARGS__)

/* The ranges of NS_LLM_FILE_CONFIG, for configs made in code too. */
#define RANGE_INT(k, lo, hi)                                                                     \
    if (c->k < (lo) || c->k > (hi)) return BAD(#k, #k " %d out of [%d, %d]", c->k, (int)(lo), (int)(hi));
#define RANGE_NUM(k, lo, hi)                                                                     \
    if (!(c->k >= (lo) && c->k <= (hi))) return BAD(#k, #k " %g out of [%g, %g]", (double)c->k, (double)(lo), (double)(hi));
#define RANGE_STR(k, lo, hi)
#define RANGE(name, kind, req, lo, hi, doc) RANGE_##kind(name, lo, hi)

int ns_llm_config_validate(const ns_llm_config *c)
{
    if (c->arch != NS_LLM_GPT2 && c->arch != NS_LLM_LLAMA) return BAD("arch", "unknown family %d", c->arch);
    NS_LLM_FILE_CONFIG(RANGE)
    if (c->d_model % c->n_head)
        return BAD("d_model", "d_model %d must be divisible by n_head %d", c->d_model, c->n_head);
    if (c->n_head % c->n_kv_head)
        return BAD("n_kv_head", "n_kv_head %d must divide n_head %d", c->n_kv_head, c->n_head);
    if (c->arch == NS_LLM_GPT2 && c->n_kv_head != c->n_head)
        return BAD("n_kv_head", "GPT-2 family has no grouped-query attention (n_kv_head %d != n_head %d)", c->n_kv_head, c->n_head);
    if (c->arch == NS_LLM_LLAMA && (c->d_model / c->n_head) % 2)
        return BAD("d_model", "RoPE needs an even head dimension (d_model / n_head = %d)", c->d_model / c->n_head);
    if (c->arch == NS_LLM_LLAMA && c->bias) return BAD("bias", "the Llama family has no biases");
    if (!(c->norm_eps > 0 && c->norm_eps < 1)) return BAD("norm_eps", "norm_eps %g out of (0, 1)", (double)c->norm_eps);
    if (c->arch == NS_LLM_LLAMA && !(c->rope_theta > 1)) return BAD("rope_theta", "rope_theta %g must be > 1", (double)c->rope_theta);
    return NS_OK;
}
#undef RANGE
#undef RANGE_INT
#undef RANGE_NUM
#undef RANGE_STR

int ns__llm_config_from_values(ns_llm_config *c, const ns_st_value *v, const char *src)
{
    const char *arch = v[LK_arch].present ? v[LK_arch].str : "gpt2";
    if (strcmp(arch, "gpt2") && strcmp(arch, "llama"))
        return ns_err_set_at(NS_EFORMAT, src, 0, "arch", arch, "arch must be \"gpt2\" or \"llama\"");
    *c = ns_llm_config_default(!strcmp(arch, "llama") ? NS_LLM_LLAMA : NS_LLM_GPT2);
#define SET_INT(k) c->k = (int)v[LK_##k].i;
#define SET_NUM(k) c->k = (float)v[LK_##k].num;
#define SET_STR(k)
#define SET(name, kind, req, lo, hi, doc) if (v[LK_##name].present) { SET_##kind(name) }
    NS_LLM_FILE_CONFIG(SET)
#undef SET
#undef SET_INT
#undef SET_NUM
#undef SET_STR
    if (!v[LK_n_kv_head].present) c->n_kv_head = c->n_head;
    if (!v[LK_d_ff].present) c->d_ff = c->arch == NS_LLM_GPT2 ? 4 * c->d_model : ((8 * c->d_model / 3 + 7) / 8) * 8;
    if (ns_llm_config_validate(c) < 0) /* the record may be passed back in */
        return ns_err_set_at(NS_EFORMAT, src, 0, ns_err_last()->field, NULL, "%s", ns_err_last()->msg);
    return NS_OK;
}

int ns_llm_config_parse(ns_llm_config *c, const char *json, const char *src)
{
    ns_arena a;
    ns_arena_init(&a, 1024);
    ns_st_value v[LK__COUNT];
    ns_llm_config parsed;
    int rc = ns_st_config_parse(&ns__llm_schema, json, src, &a, v);
    if (rc >= 0) rc = ns__llm_config_from_values(&parsed, v, src ? src : "config");
    ns_arena_release(&a);
    *c = rc < 0 ? ns_llm_config_default(NS_LLM_GPT2) : parsed;
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
