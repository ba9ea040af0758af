/*
 * service_data.c — what describes the data, for the service: read once
 * from the config in force (a bundle's pipeline.json carries it in its
 * "data" object, written by `northstar train`), so the state that serves
 * and the models it serves read events the same way. A serve flag may
 * repeat it, never contradict it.
 */
#include "server_int.h"

#include "northstar/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

static const char *yes_no(int b) { return b ? "true" : "false"; }

int ns__service_data(const ns_service_opts *o, const char *config_path, ns_state_data *out)
{
    *out = ns_state_data_defaults();
    int present = 0, rc = 0;
    if (config_path && access(config_path, F_OK) == 0) {
        char *text = NULL;
        size_t len;
        if ((rc = ns_file_read_all(config_path, &text, &len, 1 << 20)) < 0) return rc;
        rc = ns_pipeline_config_data(text, config_path, out, &present);
        free(text);
        if (rc < 0) return rc;
    }
    if (!present) {
        out->implicit_ratings = o->implicit_ratings > 0;
        return 0;
    }
    if (o->implicit_ratings >= 0 && o->implicit_ratings != out->implicit_ratings)
        return ns_err_set_at(NS_EINVAL, config_path, 0, "data.implicit_ratings", NULL,
                             "serve %s contradicts the models: their data.implicit_ratings is %s (northstar train "
                             "was run %s --implicit-ratings); serve without the flag (the bundle's setting is used) "
                             "or retrain",
                             o->implicit_ratings ? "--implicit-ratings" : "--no-implicit-ratings",
                             yes_no(out->implicit_ratings), out->implicit_ratings ? "with" : "without");
    return 0;
}

int ns__service_data_same(const ns_state_data *in_force, const char *text, const char *origin)
{
    ns_state_data d;
    int present, rc = ns_pipeline_config_data(text, origin, &d, &present);
    if (rc < 0) return rc;
    if (!present) return 0; /* a config without "data" (the built-in one) keeps the state's */
    const char *what = NULL;
    if (d.implicit_ratings != in_force->implicit_ratings) what = "implicit_ratings";
    else if (d.positive_threshold != in_force->positive_threshold) what = "positive_threshold";
    for (int t = 0; !what && t < NS_EV__COUNT; t++)
        if (fabs(d.weights[t] - in_force->weights[t]) > 1e-12) what = "weights";
    if (what)
        return ns_err_set_at(NS_EINVAL, origin, 0, "data", NULL,
                             "the config's data.%s differs from the one the state was built with (implicit_ratings "
                             "%s, positive_threshold %g): restart the server to apply it",
                             what, yes_no(in_force->implicit_ratings), in_force->positive_threshold);
    return 0;
}
