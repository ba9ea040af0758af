/*
 * io.c — ranker files: safetensors with the model config and the fitted
 * feature spec in the metadata (the format is the tables of rank.h, checked
 * by ns_st_load). Loading then rebuilds the model from config + spec and
 * reads every tensor with its exact shape, so a file from another model or
 * a truncated one is an error that says which tensor is wrong.
 */
#include "rank_int.h"

#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The config as JSON text (malloc'd), the keys of NS_RANK_FILE_CONFIG. */
static char *cfg_to_json(const ns_rank_cfg *c)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(ns_rank_kind_name(c->kind)));
    json_t *h = json_array();
    for (int i = 0; i < c->n_hidden; i++) json_array_append_new(h, json_integer(c->hidden[i]));
    json_object_set_new(o, "hidden", h);
    json_object_set_new(o, "batch", json_integer(c->batch));
    json_object_set_new(o, "epochs", json_integer(c->epochs));
    json_object_set_new(o, "deep_optimizer", json_string(c->deep_opt == NS_RANK_ADAM ? "adam" : "adagrad"));
    json_object_set_new(o, "lr", json_real(c->lr));
    json_t *f = json_object();
    json_object_set_new(f, "alpha", json_real(c->ftrl.alpha));
    json_object_set_new(f, "beta", json_real(c->ftrl.beta));
    json_object_set_new(f, "l1", json_real(c->ftrl.l1));
    json_object_set_new(f, "l2", json_real(c->ftrl.l2));
    json_object_set_new(o, "ftrl", f);
    json_object_set_new(o, "emb_init_std", json_real(c->emb_init_std));
    json_object_set_new(o, "val_fraction", json_real(c->val_fraction));
    json_object_set_new(o, "patience", json_integer(c->patience));
    json_t *cw = json_array();
    json_array_append_new(cw, json_real(c->class_weight[0]));
    json_array_append_new(cw, json_real(c->class_weight[1]));
    json_object_set_new(o, "class_weight", cw);
    json_object_set_new(o, "balanced", json_boolean(c->balanced));
    json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(o, "trained_epochs", json_integer(c->trained_epochs));
    if (isfinite(c->best_val_auc)) json_object_set_new(o, "best_val_auc", json_real(c->best_val_auc));
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(o);
    return s;
}

int ns_ranker_save(const ns_ranker *m, const char *path)
{
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return NS_ENOMEM;
    char *cfg = cfg_to_json(&m->cfg);
    char *spec = ns_fspec_to_json(m->spec);
    char **names = ns_calloc((size_t)m->lay.n_emb + 1, sizeof(char *));
    int rc = (cfg && spec && names) ? NS_OK : NS_ENOMEM;
    char tag[64];
    snprintf(tag, sizeof tag, "%s/%d", NS_RANK_FORMAT, NS_RANK_VERSION);
    if (rc == NS_OK) rc = ns_st_writer_meta(w, "format", tag);
    if (rc == NS_OK) rc = ns_st_writer_meta(w, "config", cfg);
    if (rc == NS_OK) rc = ns_st_writer_meta(w, "feature_spec", spec);
    if (rc == NS_OK && m->use_wide) {
        int64_t sh[1] = {m->wide_dim};
        if ((rc = ns_st_writer_add(w, "wide.w", NS_DT_F32, 1, sh, m->wide_w)) == NS_OK &&
            (rc = ns_st_writer_add(w, "wide.z", NS_DT_F32, 1, sh, m->wide_z)) == NS_OK)
            rc = ns_st_writer_add(w, "wide.n", NS_DT_F32, 1, sh, m->wide_n);
    }
    if (rc == NS_OK && m->use_deep) {
        for (int f = 0; f < m->lay.n_emb && rc == NS_OK; f++) {
            int64_t sh[2] = {m->lay.emb_card[f], m->lay.emb_dim[f]};
            names[f] = ns_malloc(strlen(m->lay.emb_name[f]) + 8);
            if (!names[f]) {
                rc = NS_ENOMEM;
                break;
            }
            sprintf(names[f], "emb.%s", m->lay.emb_name[f]);
            rc = ns_st_writer_add(w, names[f], NS_DT_F32, 2, sh, m->params + m->emb_off[f]);
        }
        for (int l = 0; l < m->n_layers && rc == NS_OK; l++) {
            char wn[32], bn[32];
            snprintf(wn, sizeof wn, "mlp.%d.weight", l);
            snprintf(bn, sizeof bn, "mlp.%d.bias", l);
            int64_t sw[2] = {m->dims[l + 1], m->dims[l]}, sb[1] = {m->dims[l + 1]};
            if ((rc = ns_st_writer_add(w, wn, NS_DT_F32, 2, sw, m->params + m->W_off[l])) == NS_OK)
                rc = ns_st_writer_add(w, bn, NS_DT_F32, 1, sb, m->params + m->b_off[l]);
        }
    }
    if (rc == NS_OK) rc = ns_st_writer_write(w, path);
    ns_st_writer_free(w);
    if (names)
        for (int f = 0; f < m->lay.n_emb; f++) free(names[f]);
    free(names);
    free(cfg);
    free(spec);
    return rc;
}

/* ---- load ---------------------------------------------------------------- */

enum {
#define K(name, ...) RK_##name,
    NS_RANK_FILE_CONFIG(K)
#undef K
    RK__COUNT
};
static const ns_st_keydef rank_keys[] = {NS_RANK_FILE_CONFIG(NS_ST_KEYDEF)};
static const ns_st_tensordef rank_tensors[] = {NS_RANK_FILE_TENSORS(NS_ST_TENSORDEF)};
static const ns_st_schema rank_schema = {
    .what = "a ranker file", .format = NS_RANK_FORMAT, .version = NS_RANK_VERSION, .min_version = 1,
    .tag = "format", .tag_sep = '/', .keys = rank_keys, .nkeys = RK__COUNT, .tensors = rank_tensors,
    .ntensors = (int)(sizeof rank_tensors / sizeof rank_tensors[0])};

#define bad(f, field, ...) ns_st_bad(f, &rank_schema, field, __VA_ARGS__)

/* "hidden" (widths), "class_weight" (two numbers) and "ftrl" (alpha, beta,
 * l1, l2), whose elements the table leaves to the loader. */
static int cfg_json_keys(const ns_st_file *f, const ns_st_value *v, ns_rank_cfg *c)
{
    json_t *h = json_loads(v[RK_hidden].present ? v[RK_hidden].str : "[100,50]", 0, NULL);
    json_t *cw = json_loads(v[RK_class_weight].present ? v[RK_class_weight].str : "[1,1]", 0, NULL);
    json_t *ftrl = json_loads(v[RK_ftrl].present ? v[RK_ftrl].str : "{}", 0, NULL);
    int rc = h && cw && ftrl ? NS_OK : NS_ENOMEM;
    c->n_hidden = (int)json_array_size(h);
    for (int i = 0; i < c->n_hidden && rc == NS_OK; i++) {
        json_t *x = json_array_get(h, (size_t)i);
        if (!json_is_integer(x)) rc = bad(f, "hidden", "width %d is not an integer", i);
        c->hidden[i] = (int)json_integer_value(x);
    }
    for (int i = 0; i < 2 && rc == NS_OK; i++) {
        if (!json_is_number(json_array_get(cw, (size_t)i))) rc = bad(f, "class_weight", "weight %d is not a number", i);
        c->class_weight[i] = (float)json_number_value(json_array_get(cw, (size_t)i));
    }
    const char *key;
    json_t *x;
    json_object_foreach(ftrl, key, x) {
        float *dst = !strcmp(key, "alpha") ? &c->ftrl.alpha : !strcmp(key, "beta") ? &c->ftrl.beta
                     : !strcmp(key, "l1")  ? &c->ftrl.l1    : !strcmp(key, "l2")   ? &c->ftrl.l2 : NULL;
        if (rc == NS_OK && (!dst || !json_is_number(x))) rc = bad(f, "ftrl", "\"%s\" is not alpha, beta, l1 or l2 with a number", key);
        if (dst) *dst = (float)json_number_value(x);
    }
    json_decref(h);
    json_decref(cw);
    json_decref(ftrl);
    return rc;
}

/* The ns_rank_cfg of the config values over ns_rank_defaults(). */
static int cfg_from_values(const ns_st_file *f, const ns_st_value *v, ns_rank_cfg *c)
{
    *c = ns_rank_defaults();
    if (ns_rank_kind_from_name(v[RK_model].str, &c->kind) < 0) return bad(f, "model", "unknown model \"%s\"", v[RK_model].str);
    const char *opt = v[RK_deep_optimizer].present ? v[RK_deep_optimizer].str : "adam";
    if (strcmp(opt, "adam") && strcmp(opt, "adagrad")) return bad(f, "deep_optimizer", "unknown optimizer \"%s\"", opt);
    c->deep_opt = !strcmp(opt, "adagrad") ? NS_RANK_ADAGRAD : NS_RANK_ADAM;
#define INT_KEY(k) if (v[RK_##k].present) c->k = (int)v[RK_##k].i
#define NUM_KEY(k) if (v[RK_##k].present) c->k = (float)v[RK_##k].num
    INT_KEY(batch); INT_KEY(epochs); INT_KEY(patience); INT_KEY(balanced);
    NUM_KEY(lr); NUM_KEY(emb_init_std); NUM_KEY(val_fraction);
#undef INT_KEY
#undef NUM_KEY
    if (v[RK_seed].present) c->seed = (uint64_t)v[RK_seed].i;
    c->trained_epochs = v[RK_trained_epochs].present ? (int)v[RK_trained_epochs].i : 0;
    c->best_val_auc = v[RK_best_val_auc].present ? v[RK_best_val_auc].num : NAN;
    return cfg_json_keys(f, v, c);
}

/* Every tensor of the model with its exact shape, and no other. */
static int read_params(const ns_st_file *f, ns_ranker *m)
{
    int rc = NS_OK, n = 0;
    if (m->use_wide) {
        int64_t sh[1] = {m->wide_dim};
        if ((rc = ns_st_read_f32_shape(f, "wide.w", m->wide_w, 1, sh)) < 0 ||
            (rc = ns_st_read_f32_shape(f, "wide.z", m->wide_z, 1, sh)) < 0 ||
            (rc = ns_st_read_f32_shape(f, "wide.n", m->wide_n, 1, sh)) < 0)
            return rc;
        n += 3;
    }
    for (int k = 0; m->use_deep && k < m->lay.n_emb && rc == NS_OK; k++, n++) {
        char name[160];
        snprintf(name, sizeof name, "emb.%s", m->lay.emb_name[k]);
        int64_t sh[2] = {m->lay.emb_card[k], m->lay.emb_dim[k]};
        rc = ns_st_read_f32_shape(f, name, m->params + m->emb_off[k], 2, sh);
    }
    for (int l = 0; m->use_deep && l < m->n_layers && rc == NS_OK; l++, n += 2) {
        char wn[32], bn[32];
        snprintf(wn, sizeof wn, "mlp.%d.weight", l);
        snprintf(bn, sizeof bn, "mlp.%d.bias", l);
        int64_t sw[2] = {m->dims[l + 1], m->dims[l]}, sb[1] = {m->dims[l + 1]};
        if ((rc = ns_st_read_f32_shape(f, wn, m->params + m->W_off[l], 2, sw)) == NS_OK)
            rc = ns_st_read_f32_shape(f, bn, m->params + m->b_off[l], 1, sb);
    }
    if (rc == NS_OK && n != ns_st_count(f))
        rc = bad(f, "tensors", "%d tensors, a %s model with this config and spec has %d", ns_st_count(f),
                 ns_rank_kind_name(m->cfg.kind), n);
    return rc;
}

int ns_ranker_load(ns_ranker **out, const char *path)
{
    *out = NULL;
    ns_st_value v[RK__COUNT];
    ns_st_file *f;
    int rc = ns_st_load(&f, path, &rank_schema, v, NULL);
    if (rc < 0) return rc;
    ns_ranker *m = NULL;
    ns_feature_spec *spec = NULL;
    ns_rank_cfg cfg;
    const char *specs = ns_st_meta(f, "feature_spec");
    if ((rc = cfg_from_values(f, v, &cfg)) < 0) goto done;
    if (!specs) {
        rc = bad(f, "feature_spec", "no \"feature_spec\" metadata");
        goto done;
    }
    if ((rc = ns_fspec_parse(&spec, specs, strlen(specs), path)) < 0) goto done;
    if (!ns_fspec_is_fitted(spec)) {
        rc = bad(f, "feature_spec", "the stored feature spec is not fitted");
        goto done;
    }
    if ((rc = ns_ranker_new(&m, &cfg, spec)) < 0) goto done;
    spec = NULL; /* owned by m */
    if ((rc = read_params(f, m)) < 0) goto done;
    ns__rank_refresh(m);
    *out = m;
    m = NULL;
done:
    ns_st_close(f);
    ns_fspec_free(spec);
    ns_ranker_free(m);
    return rc;
}
