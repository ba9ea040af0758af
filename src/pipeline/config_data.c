/*
 * config_data.c — two parts of a pipeline config that say how events are
 * read: the "data" object (what describes the data, written once by
 * `northstar train` into the bundle's pipeline.json and read by the
 * service to build its state) and filters.seen (which consumed items a
 * list leaves out).
 *
 *   "data": {"implicit_ratings": false, "positive_threshold": 3.5,
 *            "weights": {"click": 1, "like": 1, "purchase": 3, "rating": 1}}
 *   "filters": {"seen": true | false | ["click", "purchase", "rating", ...]}
 */
#include "pipeline_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static int bad(const char *field, const char *why)
{
    return ns_err_set_at(NS_EINVAL, NULL, 0, field, NULL, "%s", why);
}

static int data_weights(const json_t *w, ns_state_data *out)
{
    static const char *const known[] = {"click", "like", "purchase", "rating", NULL};
    if (!w) return 0;
    if (!json_is_object(w)) return bad("data.weights", "expected an object of event type: weight");
    int rc = ns__cfg_known(w, "data.weights", known);
    for (int k = 0; rc >= 0 && known[k]; k++) {
        int t = ns_event_type_parse(known[k]);
        rc = ns__cfg_num(w, "data.weights", known[k], 1e-6, 1e6, 1.0, &out->weights[t]);
    }
    return rc;
}

int ns__cfg_data(const json_t *root, ns_state_data *out, int *present)
{
    static const char *const known[] = {"implicit_ratings", "positive_threshold", "weights", NULL};
    *out = ns_state_data_defaults();
    const json_t *d = json_is_object(root) ? json_object_get(root, "data") : NULL;
    *present = d != NULL;
    if (!d) return 0;
    if (!json_is_object(d)) return bad("data", "expected an object");
    int rc;
    if ((rc = ns__cfg_known(d, "data", known)) < 0) return rc;
    if ((rc = ns__cfg_bool(d, "data", "implicit_ratings", 0, &out->implicit_ratings)) < 0) return rc;
    if ((rc = ns__cfg_num(d, "data", "positive_threshold", 1e-9, 1e9, 3.5, &out->positive_threshold)) < 0) return rc;
    return data_weights(json_object_get(d, "weights"), out);
}

int ns_pipeline_config_data(const char *json_text, const char *origin, ns_state_data *out, int *present)
{
    json_error_t je;
    json_t *root = json_loads(json_text, 0, &je);
    if (!root) return ns_err_set_at(NS_EFORMAT, origin, je.line, NULL, NULL, "config is not JSON: %s", je.text);
    int rc = ns__cfg_data(root, out, present);
    json_decref(root);
    if (rc < 0) {
        ns_error_info e = *ns_err_last();
        ns_err_set_at(e.code, origin, 0, e.field[0] ? e.field : NULL, NULL, "pipeline config: %s", e.msg);
    }
    return rc;
}

int ns__cfg_seen(const json_t *filters, unsigned *mask)
{
    const unsigned all = ((1u << NS_EV__COUNT) - 1) & ~(1u << NS_EV_IMPRESSION);
    const json_t *v = filters ? json_object_get(filters, "seen") : NULL;
    *mask = all;
    if (!v || json_is_true(v)) return 0;
    if (json_is_false(v)) {
        *mask = 0;
        return 0;
    }
    if (!json_is_array(v)) return bad("filters.seen", "expected true, false or a list of event types");
    *mask = 0;
    size_t i;
    json_t *t;
    json_array_foreach((json_t *)v, i, t)
    {
        int type = json_is_string(t) ? ns_event_type_parse(json_string_value(t)) : -1;
        char why[160];
        if (type < 0) {
            snprintf(why, sizeof why, "entry %zu is not an event type (click, like, purchase, rating, dislike)", i);
            return bad("filters.seen", why);
        }
        if (type == NS_EV_IMPRESSION)
            return bad("filters.seen", "an impression is not consumption: the seen set does not keep impressions");
        *mask |= 1u << type;
    }
    return 0;
}
