/*
 * variants.c — the diagnostic rows of `northstar eval`: configs derived
 * from the bundle's pipeline.json, each served by the real service in turn
 * (--config FILE beside the bundle, so its model paths resolve the same):
 *   popularity       the popular channel alone
 *   channel:NAME     each channel alone, in its own order
 *   recall           every channel merged, blend-ranked
 *   pipeline         the ranker without the diversity rule, when the
 *                    bundle has the rule; else "pipeline+div3" with it
 *   ranker (not served)  the ranker `train` trained but turned down for a
 *                    channel's order (pipeline.json "selection")
 */
#include "evaluate_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The bundle's config restricted to the channels of mask, the ranker
 * replaced by a blend (weight 1 for a lone channel, the bundle's blend
 * weights otherwise) unless keep_ranker, with max_per_category diversity. */
static json_t *variant(const json_t *base, unsigned mask, int keep_ranker, int diversity)
{
    json_t *c = json_deep_copy(base);
    json_t *kept = json_array(), *ch;
    size_t i;
    json_array_foreach(json_object_get(c, "recall"), i, ch) if (mask & (1u << i)) json_array_append(kept, ch);
    json_object_set_new(c, "recall", kept);
    if (!keep_ranker) {
        json_t *params = json_object_get(json_object_get(c, "rank"), "params");
        json_t *blend = json_object_get(params, "fallback") ? json_object_get(params, "fallback") : params;
        json_t *bw = json_object_get(blend, "weights"), *w = json_object();
        json_array_foreach(kept, i, ch)
        {
            const char *name = json_string_value(json_object_get(ch, "name"));
            json_t *x = bw && name ? json_object_get(bw, name) : NULL;
            json_object_set_new(w, name ? name : "", json_array_size(kept) == 1 || !x ? json_real(1.0) : json_incref(x));
        }
        json_object_set_new(c, "rank", json_pack("{s:s, s:{s:o, s:f}}", "type", "blend", "params", "weights", w,
                                                 "ctr_weight", 0.0));
    }
    json_object_set_new(c, "diversity", json_pack("{s:i}", "max_per_category", diversity));
    return c;
}

static int add(const char *bdir, const json_t *base, const char *name, unsigned mask, int ranker, int div,
               ns__ev_variant *v, int max, int *n)
{
    if (*n >= max) return 0;
    ns__ev_variant *o = &v[*n];
    snprintf(o->name, sizeof o->name, "%s", name);
    snprintf(o->path, sizeof o->path, "%s/variant-%d.json", bdir, *n);
    json_t *c = variant(base, mask, ranker, div);
    int rc = c && json_dump_file(c, o->path, JSON_INDENT(2)) == 0 ? 0
                                                                   : ns_err_set_at(NS_EIO, o->path, 0, NULL, NULL, "cannot write");
    json_decref(c);
    if (rc >= 0) (*n)++;
    return rc;
}

static int channel_rows(const char *bdir, const json_t *base, ns__ev_variant *v, int max, int *n)
{
    json_t *rec = json_object_get(base, "recall");
    size_t nch = json_array_size(rec);
    int rc = 0;
    for (size_t c = 0; rc >= 0 && c < nch && c < 31; c++) {
        const char *type = json_string_value(json_object_get(json_array_get(rec, c), "type"));
        if (type && !strcmp(type, "popular")) rc = add(bdir, base, "popularity", 1u << c, 0, 0, v, max, n);
    }
    for (size_t c = 0; rc >= 0 && c < nch && c < 31; c++) {
        const char *name = json_string_value(json_object_get(json_array_get(rec, c), "name"));
        char label[48];
        snprintf(label, sizeof label, "channel:%s", name ? name : "?");
        rc = add(bdir, base, label, 1u << c, 0, 0, v, max, n);
    }
    unsigned all = nch >= 31 ? 0x7fffffffu : (1u << nch) - 1;
    if (rc >= 0) rc = add(bdir, base, "recall", all, 0, 0, v, max, n);
    return rc;
}

int ns__ev_variants(const char *bdir, ns__ev_variant *v, int max, int *n, int *diversity)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/pipeline.json", bdir);
    json_error_t je;
    json_t *base = json_load_file(path, 0, &je);
    if (!base) return ns_err_set_at(NS_EFORMAT, path, je.line, NULL, NULL, "%s", je.text);
    *n = 0;
    *diversity = (int)json_integer_value(json_object_get(json_object_get(base, "diversity"), "max_per_category"));
    int rc = max > 0 ? 0 : NS_EINVAL;
    if (rc >= 0) rc = channel_rows(bdir, base, v, max, n);
    const char *rank = json_string_value(json_object_get(json_object_get(base, "rank"), "type"));
    size_t nch = json_array_size(json_object_get(base, "recall"));
    unsigned all = nch >= 31 ? 0x7fffffffu : (1u << nch) - 1;
    if (rc >= 0 && rank && !strcmp(rank, "wide_deep"))
        rc = *diversity ? add(bdir, base, "pipeline", all, 1, 0, v, max, n)
                        : add(bdir, base, "pipeline+div3", all, 1, 3, v, max, n);
    snprintf(path, sizeof path, "%s/ranker.safetensors", bdir);
    if (rc >= 0 && rank && strcmp(rank, "wide_deep") && access(path, R_OK) == 0) {
        /* train served a channel's order (pipeline.json "selection"): the
         * ranker it turned down, for comparison */
        json_t *r = json_deep_copy(base);
        json_object_set_new(r, "rank", json_pack("{s:s, s:{s:s}}", "type", "wide_deep", "params", "model_file",
                                                 "ranker.safetensors"));
        rc = add(bdir, r, "ranker (not served)", all, 1, 0, v, max, n);
        json_decref(r);
    }
    json_decref(base);
    return rc;
}
