/*
 * io.c — ranker files: safetensors with the model config and the fitted
 * feature spec in the metadata (layout in northstar/rank.h). Loading checks
 * the format tag, rebuilds the model from config + spec and reads every
 * tensor with its exact shape, so a file from another model or a truncated
 * one is an error that says which tensor is wrong.
 */
#include "rank_int.h"

#include "northstar/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RANK_FORMAT "northstar-rank/1"

char *ns__rank_cfg_to_json(const ns_rank_cfg *c)
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

static float jf(json_t *o, const char *k, float def)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? (float)json_number_value(v) : def;
}

static int ji(json_t *o, const char *k, int def)
{
    json_t *v = json_object_get(o, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : def;
}

int ns__rank_cfg_from_json(ns_rank_cfg *c, const char *json, const char *src)
{
    *c = ns_rank_defaults();
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return ns_err_set_at(NS_EFORMAT, src, 0, "config", NULL, "model config is not a JSON object");
    }
    int rc = NS_OK;
    const char *kind = json_string_value(json_object_get(o, "model"));
    if (!kind || ns_rank_kind_from_name(kind, &c->kind) < 0) {
        rc = ns_err_set_at(NS_EFORMAT, src, 0, "model", kind, "model config names no known model");
        goto done;
    }
    json_t *h = json_object_get(o, "hidden");
    if (h) {
        if (!json_is_array(h) || json_array_size(h) > NS_RANK_MAX_HIDDEN) {
            rc = ns_err_set_at(NS_EFORMAT, src, 0, "hidden", NULL, "'hidden' must list at most %d widths", NS_RANK_MAX_HIDDEN);
            goto done;
        }
        c->n_hidden = (int)json_array_size(h);
        for (int i = 0; i < c->n_hidden; i++) c->hidden[i] = (int)json_integer_value(json_array_get(h, (size_t)i));
    }
    c->batch = ji(o, "batch", c->batch);
    c->epochs = ji(o, "epochs", c->epochs);
    const char *opt = json_string_value(json_object_get(o, "deep_optimizer"));
    if (opt) c->deep_opt = !strcmp(opt, "adagrad") ? NS_RANK_ADAGRAD : NS_RANK_ADAM;
    c->lr = jf(o, "lr", c->lr);
    json_t *f = json_object_get(o, "ftrl");
    if (json_is_object(f)) {
        c->ftrl.alpha = jf(f, "alpha", c->ftrl.alpha);
        c->ftrl.beta = jf(f, "beta", c->ftrl.beta);
        c->ftrl.l1 = jf(f, "l1", c->ftrl.l1);
        c->ftrl.l2 = jf(f, "l2", c->ftrl.l2);
    }
    c->emb_init_std = jf(o, "emb_init_std", c->emb_init_std);
    c->val_fraction = jf(o, "val_fraction", c->val_fraction);
    c->patience = ji(o, "patience", c->patience);
    json_t *cw = json_object_get(o, "class_weight");
    if (json_is_array(cw) && json_array_size(cw) == 2) {
        c->class_weight[0] = (float)json_number_value(json_array_get(cw, 0));
        c->class_weight[1] = (float)json_number_value(json_array_get(cw, 1));
    }
    c->balanced = json_is_true(json_object_get(o, "balanced"));
    json_t *sd = json_object_get(o, "seed");
    if (json_is_integer(sd)) c->seed = (uint64_t)json_integer_value(sd);
    c->trained_epochs = ji(o, "trained_epochs", 0);
    c->best_val_auc = json_is_number(json_object_get(o, "best_val_auc"))
                          ? json_number_value(json_object_get(o, "best_val_auc"))
                          : NAN;
done:
    json_decref(o);
    return rc;
}

int ns_ranker_save(const ns_ranker *m, const char *path)
{
    ns_st_writer *w = ns_st_writer_new();
    if (!w) return NS_ENOMEM;
    char *cfg = ns__rank_cfg_to_json(&m->cfg);
    char *spec = ns_fspec_to_json(m->spec);
    char **names = ns_calloc((size_t)m->lay.n_emb + 1, sizeof(char *));
    int rc = (cfg && spec && names) ? NS_OK : NS_ENOMEM;
    if (rc == NS_OK) rc = ns_st_writer_meta(w, "format", RANK_FORMAT);
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

int ns_ranker_load(ns_ranker **out, const char *path)
{
    *out = NULL;
    ns_st_file *f;
    int rc = ns_st_open(&f, path);
    if (rc < 0) return rc;
    ns_ranker *m = NULL;
    ns_feature_spec *spec = NULL;
    const char *fmt = ns_st_meta(f, "format"), *cfgs = ns_st_meta(f, "config"), *specs = ns_st_meta(f, "feature_spec");
    if (!fmt || strcmp(fmt, RANK_FORMAT) || !cfgs || !specs) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "format", fmt ? fmt : "(none)",
                           "not a northstar ranker file (expected metadata format=%s with config and feature_spec; "
                           "was it written by 'northstar rank train'?)", RANK_FORMAT);
        goto done;
    }
    ns_rank_cfg cfg;
    if ((rc = ns__rank_cfg_from_json(&cfg, cfgs, path)) < 0) goto done;
    if ((rc = ns_fspec_parse(&spec, specs, strlen(specs), path)) < 0) goto done;
    if (!ns_fspec_is_fitted(spec)) {
        rc = ns_err_set_at(NS_EFORMAT, path, 0, "feature_spec", NULL, "the stored feature spec is not fitted");
        goto done;
    }
    if ((rc = ns_ranker_new(&m, &cfg, spec)) < 0) goto done;
    spec = NULL; /* owned by m */
    if (m->use_wide) {
        int64_t sh[1] = {m->wide_dim};
        if ((rc = ns_st_read_f32_shape(f, "wide.w", m->wide_w, 1, sh)) < 0 ||
            (rc = ns_st_read_f32_shape(f, "wide.z", m->wide_z, 1, sh)) < 0 ||
            (rc = ns_st_read_f32_shape(f, "wide.n", m->wide_n, 1, sh)) < 0)
            goto done;
    }
    if (m->use_deep) {
        for (int k = 0; k < m->lay.n_emb; k++) {
            char name[160];
            snprintf(name, sizeof name, "emb.%s", m->lay.emb_name[k]);
            int64_t sh[2] = {m->lay.emb_card[k], m->lay.emb_dim[k]};
            if ((rc = ns_st_read_f32_shape(f, name, m->params + m->emb_off[k], 2, sh)) < 0) goto done;
        }
        for (int l = 0; l < m->n_layers; l++) {
            char wn[32], bn[32];
            snprintf(wn, sizeof wn, "mlp.%d.weight", l);
            snprintf(bn, sizeof bn, "mlp.%d.bias", l);
            int64_t sw[2] = {m->dims[l + 1], m->dims[l]}, sb[1] = {m->dims[l + 1]};
            if ((rc = ns_st_read_f32_shape(f, wn, m->params + m->W_off[l], 2, sw)) < 0 ||
                (rc = ns_st_read_f32_shape(f, bn, m->params + m->b_off[l], 1, sb)) < 0)
                goto done;
        }
    }
    ns__rank_refresh(m);
    rc = NS_OK;
done:
    ns_st_close(f);
    if (rc < 0) {
        ns_fspec_free(spec);
        ns_ranker_free(m);
        return ns_err_wrap("loading ranker %s", path);
    }
    *out = m;
    return NS_OK;
}
