/*
 * northstar/service.h — layer 6: the recommendation service over HTTP/JSON
 * (the routes below, on http.h), its store, state and pipeline.
 *
 * Routes of the recommendation service (ns_service_*):
 *   POST /v1/users                  one user object, an array, or {"users": [...]}
 *   POST /v1/items                  the same for items
 *   POST /v1/events                 one event, an array, or {"events": [...]};
 *                                   durable in the store before the 200
 *   GET  /v1/users/{id}             attributes, segment, recent items, history
 *   GET  /v1/recommend/{user}?n=&page=&device=&tz=&exclude=&category=
 *                                   exclude: item ids left out (unknown ones
 *                                   ignored, counted); category: only these
 *                                   (an unknown one is 400)
 *   GET  /v1/items/{id}/similar?n=
 *   GET  /health                    liveness + sizes
 *   GET  /metrics                   Prometheus text format
 *   POST /admin/reload              rebuild the pipeline from its config (and
 *                                   the models it names) and swap it in
 *   POST /admin/retrain             train the models from the store into the
 *                                   bundle directory (background), then reload
 *   GET  /admin/config              the pipeline config in force
 * Admin routes need "Authorization: Bearer <token>" (the --admin-token).
 * Errors are JSON: {"error": {"status": 422, "message": "...", "field":
 * "events[3].item"}} with 400 (malformed JSON), 401/403 (admin), 404
 * (unknown route or id), 405, 413 (body over the limit), 422 (a field is
 * wrong) or 500.
 */
#ifndef NORTHSTAR_SERVICE_H
#define NORTHSTAR_SERVICE_H

#include "northstar/base.h"
#include "northstar/http.h"
#include "northstar/store.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ns_service ns_service;

typedef struct ns_service_opts {
    const char *db;          /* store file (created if absent) */
    const char *config;      /* pipeline config file, NULL = built-in (or models/pipeline.json) */
    const char *models;      /* model bundle directory (northstar train --out): its
                                pipeline.json is the config unless `config` is set, and
                                POST /admin/retrain trains into it */
    int implicit_ratings;    /* every rating is positive feedback: 1, 0, or -1 (the
                                default) to take it from the config's "data" object
                                (a bundle's pipeline.json); given (0 or 1), it must
                                agree with that object, else the start fails */
    ns_http_opts http;
    ns_store_sync sync;      /* default NS_SYNC_FULL */
    int max_batch;           /* most rows per POST (default 10000) */
} ns_service_opts;

ns_service_opts ns_service_defaults(void);
/* Open the store, rebuild the state from it, build the pipeline, listen. */
int ns_service_start(ns_service **out, const ns_service_opts *o);
int ns_service_port(const ns_service *s);
/* Rebuild the pipeline from its config and swap it in (requests in flight
 * finish on the old one). */
int ns_service_reload(ns_service *s);
/* Train the model bundle from the store into opts.models and reload, on a
 * background thread: NS_EBUSY when one is running, NS_EINVAL without a
 * models directory. */
int ns_service_retrain(ns_service *s);
/* Graceful: stop accepting, drain, checkpoint and close the store. */
void ns_service_stop(ns_service *s);

#ifdef __cplusplus
}
#endif
#endif /* NORTHSTAR_SERVICE_H */
