/*
 * threads.c — the single thread-count policy (see base.h): OpenMP for data
 * parallelism, the OpenMP build of OpenBLAS beneath it, one team size; and
 * the spin-then-sleep barrier for teams that meet very often.
 */
#include "northstar/base.h"

#include <omp.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

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

/* ---- barrier --------------------------------------------------------------- */

#define SPIN_MAX 4096
#define SPIN_MIN 8

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#ifdef __linux__
static void sense_sleep(_Atomic int *a, int while_value)
{
    syscall(SYS_futex, (int *)a, FUTEX_WAIT_PRIVATE, while_value, NULL, NULL, 0);
}
static void sense_wake(_Atomic int *a) { syscall(SYS_futex, (int *)a, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0); }
#else
static void sense_sleep(_Atomic int *a, int while_value)
{
    (void)a;
    (void)while_value;
    sched_yield();
}
static void sense_wake(_Atomic int *a) { (void)a; }
#endif

ns_barrier_seat ns_barrier_join(ns_barrier *b, int spin)
{
    ns_barrier_seat seat = {atomic_load_explicit(&b->sense, memory_order_acquire), spin > 0 ? spin : SPIN_MAX / 4};
    return seat;
}

void ns_barrier_wait(ns_barrier *b, int n, ns_barrier_seat *seat)
{
    int s = !seat->sense;
    seat->sense = s;
    if (atomic_fetch_add(&b->count, 1) == n - 1) {
        atomic_store_explicit(&b->count, 0, memory_order_relaxed);
        atomic_store(&b->sense, s); /* seq_cst: pairs with the sleepers count below */
        if (atomic_load(&b->sleepers)) sense_wake(&b->sense);
        return;
    }
    for (int i = 0; i < seat->spin; i++) {
        if (atomic_load_explicit(&b->sense, memory_order_acquire) == s) {
            if (seat->spin < SPIN_MAX) seat->spin *= 2;
            return;
        }
        cpu_relax();
    }
    if (seat->spin > SPIN_MIN) seat->spin -= seat->spin / 4;
    atomic_fetch_add(&b->sleepers, 1);
    while (atomic_load(&b->sense) != s) sense_sleep(&b->sense, !s);
    atomic_fetch_sub(&b->sleepers, 1);
}
