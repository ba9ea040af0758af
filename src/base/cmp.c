/*
 * cmp.c — comparison functions for qsort and bsearch shared by the
 * modules that sort ids.
 */
#include "northstar/base.h"

int ns_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}
