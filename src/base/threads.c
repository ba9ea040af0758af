/*
 * threads.c — the single thread-count policy (see base.h): OpenMP for data
 * parallelism, the OpenMP build of OpenBLAS beneath it, one team size.
 */
#include "northstar/base.h"

#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

/* Provided by OpenBLAS; declared here so base does not need cblas.h. */
void openblas_set_num_threads(int num_threads);

static int g_threads;

int ns_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int default_threads(void)
{
    const char *e = getenv("NS_THREADS");
    if (e && *e) {
        int n = atoi(e);
        if (n > 0) return n;
    }
    return ns_cpu_count();
}

int ns_threads(void)
{
    if (g_threads <= 0) ns_set_threads(0);
    return g_threads;
}

void ns_set_threads(int n)
{
    g_threads = n > 0 ? n : default_threads();
    omp_set_num_threads(g_threads);
    openblas_set_num_threads(g_threads);
}
