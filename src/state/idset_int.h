/*
 * idset_int.h — a compact sorted set of 32-bit item indexes, with an
 * optional byte of flags per entry: a user's seen, positive and negative
 * items in the state (state.c). Lookups are binary searches; an insert
 * moves the tail (histories are hundreds to a few thousand items).
 */
#ifndef NORTHSTAR_STATE_IDSET_INT_H
#define NORTHSTAR_STATE_IDSET_INT_H

#include <stdint.h>

typedef struct ns__idset {
    uint32_t *v;    /* sorted, distinct */
    uint8_t *flags; /* one per entry when the set keeps flags, else NULL */
    uint32_t n, cap;
} ns__idset;

/* Position of x, or of where it would go; *found says which. */
uint32_t ns__idset_find(const ns__idset *s, uint32_t x, int *found);
int ns__idset_has(const ns__idset *s, uint32_t x);
/* Insert x (or find it) and OR `flags` into its flags when with_flags. */
int ns__idset_add(ns__idset *s, uint32_t x, int with_flags, uint8_t flags);
/* Remove x if present. */
void ns__idset_remove(ns__idset *s, uint32_t x);
void ns__idset_free(ns__idset *s);

#endif
