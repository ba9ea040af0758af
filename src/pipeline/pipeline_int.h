/* pipeline_int.h — internals shared by the pipeline's files. */
#ifndef NS_PIPELINE_INT_H
#define NS_PIPELINE_INT_H

#include "northstar/pipeline.h"

/* Lookups for code that already holds the state lock. */
int ns__state_find_user_locked(ns_rec_state *s, const char *ext, uint32_t *idx);
int ns__state_find_item_locked(ns_rec_state *s, const char *ext, uint32_t *idx);
uint32_t ns__state_nitems_locked(ns_rec_state *s);
uint32_t ns__state_ncats_locked(ns_rec_state *s);
/* Sort scored items best first (score desc, item asc). */
void ns__topk_sort(ns_scored *h, int n);

/* Built-in types (channels.c, rank_blend.c). */
extern const ns_channel_type ns__channel_trending, ns__channel_segment, ns__channel_popular, ns__channel_fresh,
    ns__channel_cooc;
extern const ns_ranker_type ns__ranker_blend;

/* Config helpers: read an optional member of the right type, naming
 * path.key in errors. */
int ns__cfg_int(const json_t *obj, const char *path, const char *key, long lo, long hi, long dflt, long *out);
int ns__cfg_num(const json_t *obj, const char *path, const char *key, double lo, double hi, double dflt,
                double *out);
int ns__cfg_str(const json_t *obj, const char *path, const char *key, const char *const *allowed, const char *dflt,
                const char **out);
int ns__cfg_bool(const json_t *obj, const char *path, const char *key, int dflt, int *out);

#endif
