/*
 * rowmap.c — models trained offline name their rows by external item id;
 * the service names items by dense state index. A rowmap translates both
 * ways, built once when a channel loads its model (items added to the
 * catalogue later have no row until the next training run and reload).
 */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

int ns__rowmap_build(ns__rowmap *m, ns_state *st, const ns_strmap *ids)
{
    memset(m, 0, sizeof *m);
    m->nrows = (uint32_t)ns_strmap_count(ids);
    m->nitems = ns_state_items(st);
    m->item_of = ns_malloc(sizeof *m->item_of * (m->nrows ? m->nrows : 1));
    m->row_of = ns_malloc(sizeof *m->row_of * (m->nitems ? m->nitems : 1));
    if (!m->item_of || !m->row_of) {
        ns__rowmap_release(m);
        return NS_ENOMEM;
    }
    memset(m->row_of, 0xff, sizeof *m->row_of * (m->nitems ? m->nitems : 1));
    uint32_t found = 0;
    for (uint32_t r = 0; r < m->nrows; r++) {
        uint32_t it;
        if (ns_state_find_item(st, ns_strmap_key(ids, r, NULL), &it)) {
            m->item_of[r] = it;
            if (it < m->nitems) m->row_of[it] = r;
            found++;
        } else
            m->item_of[r] = UINT32_MAX;
    }
    if (m->nrows && found < m->nrows)
        ns_log_debug("model rows: %u of %u items are in the catalogue", found, m->nrows);
    return 0;
}

void ns__rowmap_release(ns__rowmap *m)
{
    free(m->item_of);
    free(m->row_of);
    memset(m, 0, sizeof *m);
}
