/*
 * threads.c — the single thread-count policy (see base.h): OpenMP for data
 * parallelism, the OpenMP build of OpenBLAS beneath it, one team size.
 */
#include "northstar/base.h"

#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Provided by OpenBLAS; declared here so base does not need cblas.h. */
void openblas_set_num_threads(int num_threads);

#define NS_MAX_THREADS 1024

static _Atomic int g_threads;

/* CPUs this process may run on (taskset, cgroup cpusets), else online CPUs. */
int ns_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int default_threads(void)
{
    const char *e = getenv("NS_THREADS");
    if (e && *e) {
        char *end;
        long n = strtol(e, &end, 10);
        if (*end == 0 && n > 0) return n > NS_MAX_THREADS ? NS_MAX_THREADS : (int)n;
        ns_log_warn("ignoring NS_THREADS='%s' (expected a positive integer)", e);
    }
    return ns_cpu_count();
}

int ns_threads(void)
{
    int t = g_threads;
    if (t <= 0) {
        ns_set_threads(0);
        t = g_threads;
    }
    return t;
}

void ns_set_threads(int n)
{
    int t = n > 0 ? (n > NS_MAX_THREADS ? NS_MAX_THREADS : n) : default_threads();
    g_threads = t;
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
}

int ns_thread_init_worker(int n)
{
    int prev = omp_get_max_threads();
    omp_set_num_threads(n > 0 ? (n > NS_MAX_THREADS ? NS_MAX_THREADS : n) : ns_threads());
    return prev;
}
