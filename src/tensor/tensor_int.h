/*
 * tensor_int.h — internals shared by the files of src/tensor (not public).
 */
#ifndef NS_TENSOR_INT_H
#define NS_TENSOR_INT_H

#include "northstar/base.h"
#include "northstar/safetensors.h"

/* The arena an open file keeps its names and strings in: the schema check
 * puts the config's strings there, so they live as long as the file. */
ns_arena *ns__st_arena(ns_st_file *f);

#endif
