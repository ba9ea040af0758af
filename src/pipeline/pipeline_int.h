/* pipeline_int.h — internals shared by the pipeline's files: row maps
 * from model rows to state items, the built-in channel and scorer types,
 * config readers and the scorer's feature columns. */
#ifndef NS_PIPELINE_INT_H
#define NS_PIPELINE_INT_H

#include "northstar/feature.h"
#include "northstar/pipeline.h"

/* The dense state index of each row of a model whose rows are named by
 * external item ids (UINT32_MAX when the catalogue lacks it), and the
 * inverse map over the catalogue at build time (UINT32_MAX = no row). */
typedef struct ns__rowmap {
    uint32_t *item_of; /* [nrows] */
    uint32_t nrows;
    uint32_t *row_of;  /* [nitems] */
    uint32_t nitems;
} ns__rowmap;
int ns__rowmap_build(ns__rowmap *m, ns_state *st, const ns_strmap *ids);
void ns__rowmap_release(ns__rowmap *m);
static inline uint32_t ns__row_of(const ns__rowmap *m, uint32_t item)
{
    return item < m->nitems ? m->row_of[item] : UINT32_MAX;
}

/* Built-in types (channels.c, scorer_blend.c). */
extern const ns_channel_type ns__channel_trending, ns__channel_segment, ns__channel_popular, ns__channel_fresh,
    ns__channel_cooc;
extern const ns_scorer_type ns__scorer_blend;
/* Model-backed types (channel_*.c, scorer_wd.c). */
extern const ns_channel_type ns__channel_i2i, ns__channel_profile, ns__channel_keyword, ns__channel_vector,
    ns__channel_mf;
extern const ns_scorer_type ns__scorer_wide_deep;

/* Config helpers: read an optional member of the right type, naming
 * path.key in errors. */
int ns__cfg_int(const json_t *obj, const char *path, const char *key, long lo, long hi, long dflt, long *out);
int ns__cfg_num(const json_t *obj, const char *path, const char *key, double lo, double hi, double dflt,
                double *out);
int ns__cfg_str(const json_t *obj, const char *path, const char *key, const char *const *allowed, const char *dflt,
                const char **out);
int ns__cfg_bool(const json_t *obj, const char *path, const char *key, int dflt, int *out);
/* Members of obj must be among `known` (NULL-terminated). */
int ns__cfg_known(const json_t *obj, const char *path, const char *const *known);
/* The config's "data" object (config_data.c): the defaults when absent. */
int ns__cfg_data(const json_t *root, ns_state_data *out, int *present);
/* filters.seen: true (every event type but impression), false, or a list
 * of event type names; as a mask of 1u << type. */
int ns__cfg_seen(const json_t *filters, unsigned *mask);

/* Ranker input columns (rank_features.c): compile a list of column names
 * against the pipeline's channels (unknown names are NS_EINVAL), then fill
 * rows[i * ncols + j] for every candidate of a rank input. Strings point
 * into the state (valid under its lock) or into the arena. */
typedef struct ns__fcols ns__fcols;
int ns__fcols_compile(ns__fcols **out, const char *const *names, int ncols, const char *const *channel_names,
                      int nchannels);
void ns__fcols_free(ns__fcols *f);
int ns__fcols_count(const ns__fcols *f);
int ns__fcols_fill(const ns__fcols *f, const ns_scorer_input *in, ns_fvalue *rows, ns_arena *a);
/* Every column this file knows, for a pipeline with these channels
 * (malloc'd strings and array). */
int ns__fcols_default(const char *const *channel_names, int nchannels, char ***names_out, int *n_out);

#endif
