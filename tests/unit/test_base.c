/*
 * test_base.c — the base layer (src/base): error codes and the per-thread
 * error record, arenas, the RNG, the thread-count policy, timers and human
 * formatting, the progress display, logging and file helpers.
 *
 * Every case is deterministic: RNG checks use fixed seeds (a statistical
 * bound is either met for that seed or not, run after run), and the only
 * timing assertions are lower bounds from sleeps, so a loaded 2-core
 * machine can slow them down but not make them fail.
 */
#include "harness.h"

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int openblas_get_num_threads(void);

/* ===================================================================== */
/* helpers                                                                */
/* ===================================================================== */

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) FAIL("cannot create %s", path);
    if (n && fwrite(data, 1, n, f) != n) FAIL("cannot write %s", path);
    fclose(f);
}

static char *slurp(const char *path)
{
    char *s;
    size_t n;
    if (ns_file_read_all(path, &s, &n, 0) < 0) FAIL("read %s: %s", path, ns_err_msg());
    return s;
}

/* Run fn(arg) in a child process whose stderr goes to a file; return what
 * it wrote (malloc'd). The child's assertions fail the test. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    const char *path = ns_test_tmpfile("stderr.txt");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) FAIL("fork failed");
    if (pid == 0) {
        FILE *f = freopen(path, "w", stderr);
        if (!f) _exit(3);
        fn(arg);
        fflush(stderr);
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    char *out = slurp(path);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAIL("child failed (status %d); its stderr:\n%s", st, out);
    return out;
}

static int count_dir_entries(const char *dir, const char *containing)
{
    DIR *d = opendir(dir);
    if (!d) FAIL("opendir %s", dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (!containing || strstr(e->d_name, containing)))
            n++;
    closedir(d);
    return n;
}

/* ===================================================================== */
/* errors                                                                 */
/* ===================================================================== */

TEST(strerror_every_code)
{
    int count = 0;
#define CHECK_CODE(name, code, msg)                                            \
    ASSERT_EQ_INT(NS_E##name, code);                                           \
    ASSERT_STREQ(ns_strerror(code), msg);                                      \
    ASSERT_STREQ(ns_errname(code), "NS_E" #name);                              \
    ASSERT(code < 0);                                                          \
    count++;
    NS_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
    ASSERT_EQ_INT(count + 1, NS_E__COUNT);
    /* Codes are dense and every message and name is distinct. */
    for (int a = -count; a <= 0; a++) {
        ASSERT(strcmp(ns_strerror(a), "unknown error") != 0);
        for (int b = a + 1; b <= 0; b++) {
            ASSERT_MSG(strcmp(ns_strerror(a), ns_strerror(b)) != 0, "codes %d and %d share a message", a, b);
            ASSERT_MSG(strcmp(ns_errname(a), ns_errname(b)) != 0, "codes %d and %d share a name", a, b);
        }
    }
    ASSERT_STREQ(ns_strerror(NS_OK), "success");
    ASSERT_STREQ(ns_errname(NS_OK), "NS_OK");
    ASSERT_STREQ(ns_strerror(-count - 1), "unknown error");
    ASSERT_STREQ(ns_strerror(1), "unknown error");
    ASSERT_STREQ(ns_errname(-1000), "NS_E?");
}

TEST(err_set_at_renders_every_part)
{
    ns_err_clear();
    ASSERT_STREQ(ns_err_msg(), "no error");
    ASSERT_EQ_INT(ns_err_last()->code, NS_OK);

    ASSERT_EQ_INT(ns_err_set_at(NS_EFORMAT, "data/users.csv", 12, "age", "abc", "expected an integer, got %d chars", 3),
                  NS_EFORMAT);
    ASSERT_STREQ(ns_err_msg(), "data/users.csv:12: age 'abc': expected an integer, got 3 chars (NS_EFORMAT)");
    const ns_error_info *e = ns_err_last();
    ASSERT_EQ_INT(e->code, NS_EFORMAT);
    ASSERT_STREQ(e->file, "data/users.csv");
    ASSERT_EQ_INT(e->line, 12);
    ASSERT_STREQ(e->field, "age");
    ASSERT_STREQ(e->value, "abc");
    ASSERT_STREQ(e->msg, "expected an integer, got 3 chars");

    ns_err_set_at(NS_ENOTFOUND, "m.safetensors", 0, "tensor", "wte", "no such tensor");
    ASSERT_STREQ(ns_err_msg(), "m.safetensors: tensor 'wte': no such tensor (NS_ENOTFOUND)");
    ns_err_set_at(NS_EUSAGE, NULL, 0, "--threads", NULL, "needs a value");
    ASSERT_STREQ(ns_err_msg(), "--threads: needs a value (NS_EUSAGE)");
    ns_err_set_at(NS_ERANGE, NULL, 0, NULL, "1e999", "number too large");
    ASSERT_STREQ(ns_err_msg(), "'1e999': number too large (NS_ERANGE)");
    ASSERT_EQ_INT(ns_err_set(NS_EIO, "disk on fire"), NS_EIO);
    ASSERT_STREQ(ns_err_msg(), "disk on fire (NS_EIO)");
    /* A new record replaces every part of the old one. */
    ASSERT_STREQ(ns_err_last()->file, "");
    ASSERT_EQ_INT(ns_err_last()->line, 0);
    ASSERT_STREQ(ns_err_last()->field, "");
    ns_err_clear();
    ASSERT_STREQ(ns_err_msg(), "no error");
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0) return 0;
        p++;
        for (int i = 0; i < n; i++, p++)
            if ((*p & 0xC0) != 0x80) return 0;
    }
    return 1;
}

TEST(err_truncates_long_values)
{
    char big[3000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ns_err_set_at(NS_EFORMAT, big, 7, big, big, "%s", big);
    const ns_error_info *e = ns_err_last();
    ASSERT_EQ_INT(strlen(e->file), sizeof e->file - 1);
    ASSERT_EQ_INT(strlen(e->field), sizeof e->field - 1);
    ASSERT_EQ_INT(strlen(e->value), sizeof e->value - 1);
    ASSERT_EQ_INT(strlen(e->msg), sizeof e->msg - 1);
    ASSERT(!strcmp(e->value + strlen(e->value) - 3, "..."));
    ASSERT(!strcmp(e->file + strlen(e->file) - 3, "..."));
    const char *m = ns_err_msg();
    ASSERT(strlen(m) < 1024);
    ASSERT_HAS(m, ":7: ");

    /* A value of 2-byte characters is cut on a character boundary. */
    char utf[400] = "";
    for (int i = 0; i < 150; i++) strcat(utf, "\xc3\xa9"); /* é */
    for (int shift = 0; shift < 2; shift++) {
        ns_err_set_at(NS_EFORMAT, NULL, 0, "name", utf + shift * 0, "bad");
        ASSERT(valid_utf8(ns_err_last()->value));
        ASSERT(valid_utf8(ns_err_msg()));
        ASSERT(!strcmp(ns_err_last()->value + strlen(ns_err_last()->value) - 3, "..."));
        memmove(utf + 1, utf, strlen(utf) + 1); /* now odd offset: 'x' + é... */
        utf[0] = 'x';
    }
    /* A value exactly one short of the field fits whole. */
    char fit[128];
    memset(fit, 'f', 127);
    fit[127] = 0;
    ns_err_set_at(NS_EFORMAT, NULL, 0, NULL, fit, "m");
    ASSERT_STREQ(ns_err_last()->value, fit);
}

TEST(err_set_may_quote_the_current_record)
{
    /* Passing parts of the current record back in must not corrupt it. */
    ns_err_set_at(NS_EIO, "model.bin", 3, "layer", "fc1", "short read");
    ASSERT_EQ_INT(ns_err_set_at(NS_EFORMAT, ns_err_last()->file, ns_err_last()->line, ns_err_last()->field,
                                ns_err_last()->value, "while loading: %s", ns_err_last()->msg),
                  NS_EFORMAT);
    ASSERT_STREQ(ns_err_msg(), "model.bin:3: layer 'fc1': while loading: short read (NS_EFORMAT)");
    ns_err_set(NS_EIO, "inner");
    ns_err_set(NS_ETIMEOUT, "%s, then %s", ns_err_last()->msg, ns_err_last()->msg);
    ASSERT_STREQ(ns_err_last()->msg, "inner, then inner");
}

TEST(err_wrap_prefixes_and_keeps_code)
{
    ns_err_set_at(NS_ETRUNCATED, "a.st", 0, NULL, NULL, "file ends early");
    ASSERT_EQ_INT(ns_err_wrap("loading model %s", "gpt"), NS_ETRUNCATED);
    ASSERT_EQ_INT(ns_err_wrap("serving request %d", 7), NS_ETRUNCATED);
    ASSERT_STREQ(ns_err_last()->msg, "serving request 7: loading model gpt: file ends early");
    ASSERT_STREQ(ns_err_msg(), "a.st: serving request 7: loading model gpt: file ends early (NS_ETRUNCATED)");
    /* Wrapping when nothing failed is a bug: it becomes NS_EINTERNAL. */
    ns_err_clear();
    ASSERT_EQ_INT(ns_err_wrap("context"), NS_EINTERNAL);
    ASSERT_STREQ(ns_err_last()->msg, "context: internal error");
    /* A long prefix chain stays bounded. */
    ns_err_set(NS_EIO, "x");
    for (int i = 0; i < 100; i++) ns_err_wrap("level %d of a deep stack of callers", i);
    ASSERT_EQ_INT(strlen(ns_err_last()->msg), sizeof ns_err_last()->msg - 1);
    ASSERT_EQ_INT(ns_err_last()->code, NS_EIO);
}

static pthread_barrier_t g_barrier;

static void *err_thread(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[32];
    snprintf(name, sizeof name, "file%d.csv", id);
    for (int round = 0; round < 200; round++) {
        ns_err_set_at(id == 0 ? NS_EFORMAT : NS_ERANGE, name, round + 1, "col", name, "thread %d round %d", id, round);
        pthread_barrier_wait(&g_barrier); /* both threads have set their record */
        const ns_error_info *e = ns_err_last();
        char want[64];
        snprintf(want, sizeof want, "thread %d round %d", id, round);
        if (strcmp(e->msg, want) || strcmp(e->file, name) || e->line != round + 1 ||
            e->code != (id == 0 ? NS_EFORMAT : NS_ERANGE))
            return (void *)1;
        char render[1100];
        snprintf(render, sizeof render, "%s", ns_err_msg());
        if (!strstr(render, want)) return (void *)1;
        pthread_barrier_wait(&g_barrier);
    }
    return NULL;
}

TEST(err_record_is_per_thread)
{
    pthread_t t[2];
    pthread_barrier_init(&g_barrier, NULL, 2);
    ns_err_set(NS_EBUSY, "main thread's error");
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, err_thread, (void *)(intptr_t)i);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        ASSERT_MSG(r == NULL, "thread %d saw another thread's error record", i);
    }
    pthread_barrier_destroy(&g_barrier);
    ASSERT_STREQ(ns_err_msg(), "main thread's error (NS_EBUSY)");
}

/* ===================================================================== */
/* memory and arenas                                                      */
/* ===================================================================== */

TEST(malloc_helpers)
{
    for (size_t n = 0; n < 300; n += 37) {
        unsigned char *p = ns_malloc_aligned(n);
        ASSERT(p != NULL);
        ASSERT_EQ_INT((uintptr_t)p % 64, 0);
        memset(p, 0xab, n);
        ns_free_aligned(p);
    }
    ns_free_aligned(NULL);
    ns_err_clear();
    ASSERT(ns_malloc_aligned(SIZE_MAX) == NULL); /* (n + 63) must not wrap to 0 */
    ASSERT_EQ_INT(ns_err_last()->code, NS_ENOMEM);
    ASSERT(ns_malloc(SIZE_MAX / 2) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_ENOMEM);
    int *z = ns_calloc(100, sizeof(int));
    for (int i = 0; i < 100; i++) ASSERT_EQ_INT(z[i], 0);
    free(z);
    char *d = ns_strdup("northstar");
    ASSERT_STREQ(d, "northstar");
    free(d);
}

TEST(arena_alignment)
{
    ns_arena a;
    ns_arena_init(&a, 256);
    size_t aligns[] = {0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 4096};
    for (int round = 0; round < 50; round++) {
        for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
            size_t al = aligns[k] ? aligns[k] : 16, size = (size_t)(round * 7 + k * 3) % 97 + 1;
            unsigned char *p = ns_arena_alloc(&a, size, aligns[k]);
            ASSERT(p != NULL);
            ASSERT_MSG((uintptr_t)p % al == 0, "alloc of %zu with align %zu at %p", size, al, (void *)p);
            memset(p, (int)k, size); /* ASan checks the bytes are ours */
        }
    }
    ns_err_clear();
    ASSERT(ns_arena_alloc(&a, 8, 3) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_EINVAL);
    ASSERT(ns_arena_alloc(&a, 8, 8192) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_EINVAL);
    ns_arena_release(&a);
}

TEST(arena_large_allocations)
{
    ns_arena a;
    ns_arena_init(&a, 1024);
    char *small = ns_arena_strdup(&a, "before");
    size_t big = 3 << 20;
    unsigned char *p = ns_arena_alloc(&a, big, 64);
    ASSERT(p != NULL);
    ASSERT_EQ_INT((uintptr_t)p % 64, 0);
    memset(p, 0x5a, big);
    char *after = ns_arena_strdup(&a, "after");
    unsigned char *p2 = ns_arena_alloc(&a, 5000, 4096); /* bigger than a block, page aligned */
    ASSERT(p2 != NULL && (uintptr_t)p2 % 4096 == 0);
    memset(p2, 1, 5000);
    ASSERT_STREQ(small, "before");
    ASSERT_STREQ(after, "after");
    for (size_t i = 0; i < big; i += 4093) ASSERT_EQ_INT(p[i], 0x5a);
    ASSERT(a.used_total >= big + 5000 + 13);
    /* Sizes whose rounding would overflow are refused, not wrapped. */
    ns_err_clear();
    ASSERT(ns_arena_alloc(&a, SIZE_MAX - 8, 16) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_ENOMEM);
    ASSERT(ns_arena_alloc(&a, SIZE_MAX, 1) == NULL);
    ASSERT(ns_arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    ASSERT(ns_arena_calloc(&a, (size_t)1 << 40, (size_t)1 << 40) == NULL);
    ASSERT_EQ_INT(ns_err_last()->code, NS_ENOMEM);
    ns_arena_release(&a);
}

TEST(arena_many_small_allocations_do_not_overlap)
{
    ns_arena a;
    ns_arena_init(&a, 0);
    enum { N = 50000 };
    unsigned char **ptr = malloc(N * sizeof *ptr);
    size_t *len = malloc(N * sizeof *len);
    ns_rng r;
    ns_rng_seed(&r, 7, 0);
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        len[i] = (size_t)ns_rng_below(&r, 40);
        size_t al = (size_t)1 << ns_rng_below(&r, 5);
        ptr[i] = ns_arena_alloc(&a, len[i], al);
        ASSERT(ptr[i] != NULL);
        ASSERT((uintptr_t)ptr[i] % al == 0);
        memset(ptr[i], i & 0xff, len[i]);
        total += len[i];
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < len[i]; k++)
            ASSERT_MSG(ptr[i][k] == (i & 0xff), "allocation %d byte %zu was overwritten", i, k);
    ASSERT_EQ_INT(a.used_total, total);
    int *zeros = ns_arena_calloc(&a, 1000, sizeof(int));
    for (int i = 0; i < 1000; i++) ASSERT_EQ_INT(zeros[i], 0);
    free(ptr);
    free(len);
    ns_arena_release(&a);
}

TEST(arena_save_rewind_reset_release)
{
    ns_arena a;
    ns_arena_init(&a, 512);
    ns_arena_mark empty = ns_arena_save(&a);
    char *keep = ns_arena_strdup(&a, "keep me");
    ns_arena_mark m = ns_arena_save(&a);
    size_t used = a.used_total;
    void *first = ns_arena_alloc(&a, 100, 16);
    for (int i = 0; i < 100; i++) ASSERT(ns_arena_alloc(&a, 200, 8) != NULL); /* many new blocks */
    ns_arena_rewind(&a, m);
    ASSERT_EQ_INT(a.used_total, used);
    ASSERT_STREQ(keep, "keep me");
    ASSERT(ns_arena_alloc(&a, 100, 16) == first); /* the space is reused */
    /* Nested marks. */
    ns_arena_mark m2 = ns_arena_save(&a);
    char *s2 = ns_arena_strdup(&a, "second");
    ns_arena_mark m3 = ns_arena_save(&a);
    ns_arena_alloc(&a, 5000, 16);
    ns_arena_rewind(&a, m3);
    ASSERT_STREQ(s2, "second");
    ns_arena_rewind(&a, m2);
    /* Rewind to before the first allocation frees everything. */
    ns_arena_rewind(&a, empty);
    ASSERT(a.head == NULL);
    ASSERT_EQ_INT(a.used_total, 0);

    /* Reset keeps the first block and hands its memory out again. */
    void *p0 = ns_arena_alloc(&a, 64, 16);
    for (int i = 0; i < 50; i++) ns_arena_alloc(&a, 300, 16);
    ns_arena_reset(&a);
    ASSERT_EQ_INT(a.used_total, 0);
    ASSERT(a.head != NULL && a.head == ns_arena_save(&a).block);
    ASSERT(ns_arena_alloc(&a, 64, 16) == p0);

    ns_arena_release(&a);
    ASSERT(a.head == NULL);
    ASSERT_EQ_INT(a.used_total, 0);
    ASSERT(ns_arena_strdup(&a, "usable after release") != NULL); /* leak-checked under ASan */
    ns_arena_release(&a);
    ns_arena_release(NULL);
}

TEST(arena_strings)
{
    ns_arena a;
    ns_arena_init(&a, 64);
    ASSERT_STREQ(ns_arena_strdup(&a, ""), "");
    ASSERT_STREQ(ns_arena_strndup(&a, "abcdef", 3), "abc");
    char *s = ns_arena_sprintf(&a, "%s-%d-%.2f", "x", 42, 1.5);
    ASSERT_STREQ(s, "x-42-1.50");
    char longs[1000];
    memset(longs, 'L', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    char *l = ns_arena_sprintf(&a, "<%s>", longs); /* longer than a block */
    ASSERT_EQ_INT(strlen(l), 1001);
    ASSERT(l[0] == '<' && l[1000] == '>');
    ASSERT_STREQ(ns_arena_strdup(&a, "still fine"), "still fine");
    ns_arena_release(&a);
}

/* ===================================================================== */
/* random numbers                                                         */
/* ===================================================================== */

TEST(rng_matches_reference_values)
{
    /* xoshiro256** reference output for state {1, 2, 3, 4} (Blackman &
     * Vigna's test vector) and splitmix64(0): pins the algorithms. */
    ns_rng r = {{1, 2, 3, 4}};
    ASSERT(ns_rng_u64(&r) == 11520ULL);
    ASSERT(ns_rng_u64(&r) == 0ULL);
    ASSERT(ns_rng_u64(&r) == 1509978240ULL);
    ASSERT(ns_rng_u64(&r) == 1215971899390074240ULL);
    ASSERT(ns_hash64(0) == 0xe220a8397b1dcdafULL);
    /* Seeding, computed by an independent Python implementation of the
     * scheme in rng.c: a change here changes every model's initialisation. */
    ns_rng_seed(&r, 42, 0);
    ASSERT(ns_rng_u64(&r) == 0x3ce2b5d85d236dceULL);
    ASSERT(ns_rng_u64(&r) == 0x11a1425cb6139c7dULL);
    ns_rng_seed(&r, 42, 1);
    ASSERT(ns_rng_u64(&r) == 0xd60a8801790758d5ULL);
    ns_rng_seed(&r, 0, 0);
    ASSERT(ns_rng_u64(&r) == 0x91c7de2f0af2fafbULL);
}

TEST(rng_seed_and_stream_name_a_sequence)
{
    enum { N = 1000 };
    static uint64_t a[N], b[N];
    ns_rng r1, r2;
    ns_rng_seed(&r1, 1234, 5);
    ns_rng_seed(&r2, 1234, 5);
    for (int i = 0; i < N; i++) {
        a[i] = ns_rng_u64(&r1);
        ASSERT(a[i] == ns_rng_u64(&r2));
    }
    /* Other streams and other seeds differ, and are not shifted copies. */
    uint64_t pairs[][2] = {{1234, 6}, {1235, 5}, {0, 5}, {1234, 0}};
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        ns_rng_seed(&r2, pairs[p][0], pairs[p][1]);
        for (int i = 0; i < N; i++) b[i] = ns_rng_u64(&r2);
        int same = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) same += a[i] == b[j];
        ASSERT_MSG(same == 0, "seed %llu stream %llu shares %d values with seed 1234 stream 5",
                   (unsigned long long)pairs[p][0], (unsigned long long)pairs[p][1], same);
    }
    /* Streams 0..999 of one seed all start differently. */
    for (uint64_t s = 0; s < N; s++) {
        ns_rng_seed(&r2, 99, s);
        a[s] = ns_rng_u64(&r2);
        for (uint64_t t = 0; t < s; t++) ASSERT(a[t] != a[s]);
    }
}

TEST(rng_below_is_unbiased)
{
    ns_rng r;
    ns_rng_seed(&r, 2024, 1);
    /* Chi-square over 7 buckets (6 degrees of freedom): 22.46 is the 0.001
     * critical value. The seed is fixed, so the result is too. */
    enum { K = 7, N = 70000 };
    long cnt[K] = {0};
    for (int i = 0; i < N; i++) {
        uint64_t v = ns_rng_below(&r, K);
        ASSERT(v < K);
        cnt[v]++;
    }
    double chi = 0, e = (double)N / K;
    for (int k = 0; k < K; k++) chi += (cnt[k] - e) * (cnt[k] - e) / e;
    printf("  chi-square over %d buckets: %.2f\n", K, chi);
    ASSERT(chi < 22.46);
    /* n = 2/3 of 2^64: "x % n" would put 2/3 of the draws below n/2. */
    uint64_t n = 0xAAAAAAAAAAAAAAAAULL;
    int below = 0;
    for (int i = 0; i < 100000; i++) {
        uint64_t v = ns_rng_below(&r, n);
        ASSERT(v < n);
        below += v < n / 2;
    }
    printf("  fraction below n/2 for n = 2/3 * 2^64: %.4f\n", below / 100000.0);
    ASSERT_NEAR(below / 100000.0, 0.5, 0.01);
    for (int i = 0; i < 100; i++) ASSERT(ns_rng_below(&r, 1) == 0);
    for (int i = 0; i < 1000; i++) ASSERT(ns_rng_below(&r, UINT64_MAX) < UINT64_MAX);
}

TEST(rng_uniform_and_normal)
{
    ns_rng r;
    ns_rng_seed(&r, 3, 0);
    enum { N = 400000 };
    double s = 0, sf = 0, mn = 1, mx = 0;
    for (int i = 0; i < N; i++) {
        double u = ns_rng_uniform(&r);
        float f = ns_rng_uniformf(&r);
        ASSERT(u >= 0.0 && u < 1.0);
        ASSERT(f >= 0.0f && f < 1.0f);
        s += u;
        sf += f;
        if (u < mn) mn = u;
        if (u > mx) mx = u;
    }
    ASSERT_NEAR(s / N, 0.5, 0.002);
    ASSERT_NEAR(sf / N, 0.5, 0.002);
    ASSERT(mn < 1e-4 && mx > 1 - 1e-4);
    double m = 0, m2 = 0;
    for (int i = 0; i < N; i++) {
        double z = ns_rng_normal(&r);
        ASSERT(isfinite(z));
        m += z;
        m2 += z * z;
    }
    m /= N;
    printf("  normal: mean %.4f std %.4f\n", m, sqrt(m2 / N - m * m));
    ASSERT_NEAR(m, 0.0, 0.01);
    ASSERT_NEAR(sqrt(m2 / N - m * m), 1.0, 0.01);
    static float x[N];
    ns_rng_fill_normal(&r, x, N, 2.0f, 0.5f);
    m = m2 = 0;
    for (int i = 0; i < N; i++) { m += x[i]; m2 += (double)x[i] * x[i]; }
    m /= N;
    ASSERT_NEAR(m, 2.0, 0.005);
    ASSERT_NEAR(sqrt(m2 / N - m * m), 0.5, 0.005);
    ns_rng_fill_uniform(&r, x, N, -3.0f, 5.0f);
    for (int i = 0; i < N; i++) ASSERT(x[i] >= -3.0f && x[i] < 5.0f);
    /* A range of two float steps: lo + (hi - lo) * u rounds up to hi for
     * a quarter of the draws unless the interval is kept half-open. */
    float lo = 1.0f, hi = 1.0f + 0x1p-22f;
    ns_rng_fill_uniform(&r, x, 10000, lo, hi);
    int at_lo = 0;
    for (int i = 0; i < 10000; i++) {
        ASSERT_MSG(x[i] >= lo && x[i] < hi, "x[%d] = %.9g outside [%.9g, %.9g)", i, x[i], lo, hi);
        at_lo += x[i] == lo;
    }
    ASSERT(at_lo > 1000 && at_lo < 9000);
}

TEST(rng_shuffle_is_a_uniform_permutation)
{
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    enum { N = 1000 };
    uint32_t a[N];
    for (uint32_t i = 0; i < N; i++) a[i] = i;
    ns_rng_shuffle_u32(&r, a, N);
    int seen[N] = {0}, fixed = 0;
    for (uint32_t i = 0; i < N; i++) {
        ASSERT(a[i] < N && !seen[a[i]]);
        seen[a[i]] = 1;
        fixed += a[i] == i;
    }
    ASSERT(fixed < 10);
    ns_rng_shuffle_u32(&r, a, 0);
    ns_rng_shuffle_u32(&r, a, 1);
    /* All 24 orders of 4 items, equally often (chi-square, 23 dof, 0.001 -> 49.73). */
    long cnt[256] = {0};
    for (int t = 0; t < 48000; t++) {
        uint32_t b[4] = {0, 1, 2, 3};
        ns_rng_shuffle_u32(&r, b, 4);
        cnt[b[0] * 64 + b[1] * 16 + b[2] * 4 + b[3]]++;
    }
    int orders = 0;
    double chi = 0;
    for (int k = 0; k < 256; k++)
        if (cnt[k]) {
            orders++;
            chi += (cnt[k] - 2000.0) * (cnt[k] - 2000.0) / 2000.0;
        }
    printf("  24 orders: %d seen, chi-square %.2f\n", orders, chi);
    ASSERT_EQ_INT(orders, 24);
    ASSERT(chi < 49.73);
}

/* ===================================================================== */
/* threads                                                                */
/* ===================================================================== */

/* Alias tables draw each index with its weight's share (a chi-by-eye at 4
 * standard errors over 200,000 draws); a zero weight is never drawn. */
TEST(alias_distribution)
{
    const double w[6] = {10, 1, 0, 5, 0.5, 3.5};
    double scratch[6];
    memcpy(scratch, w, sizeof w);
    uint32_t thr[6];
    int32_t alias[6], work[12];
    ns_alias_build(thr, alias, scratch, 6, work);
    long cnt[6] = {0};
    ns_rng r;
    ns_rng_seed(&r, 5, 0);
    const int N = 200000;
    for (int i = 0; i < N; i++) cnt[ns_alias_draw(thr, alias, 6, ns_rng_u64(&r))]++;
    ASSERT_EQ_INT(cnt[2], 0);
    for (int i = 0; i < 6; i++) {
        double p = w[i] / 20.0, got = (double)cnt[i] / N;
        ASSERT_MSG(fabs(got - p) < 4 * sqrt(p * (1 - p) / N) + 1e-9, "index %d: %.4f vs %.4f", i, got, p);
    }
}

TEST(thread_count_policy)
{
    ASSERT(ns_cpu_count() >= 1);
    ns_set_threads(3);
    ASSERT_EQ_INT(ns_threads(), 3);
    ASSERT_EQ_INT(omp_get_max_threads(), 3);
    ASSERT_EQ_INT(openblas_get_num_threads(), 3);
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
    }
    ASSERT_EQ_INT(team, 3);
    ns_set_threads(100000);
    ASSERT_EQ_INT(ns_threads(), 1024);
    setenv("NS_THREADS", "2", 1);
    ns_set_threads(0);
    ASSERT_EQ_INT(ns_threads(), 2);
    ASSERT_EQ_INT(omp_get_max_threads(), 2);
    setenv("NS_THREADS", "lots", 1);
    ns_set_threads(-1);
    ASSERT_EQ_INT(ns_threads(), ns_cpu_count());
    unsetenv("NS_THREADS");
    ns_set_threads(0);
    ASSERT_EQ_INT(ns_threads(), ns_cpu_count());
}

/* ===================================================================== */
/* time and formatting                                                    */
/* ===================================================================== */

TEST(timers)
{
    ns_timer t;
    ns_timer_start(&t);
    double prev = ns_now();
    for (int i = 0; i < 100000; i++) {
        double n = ns_now();
        ASSERT(n >= prev);
        prev = n;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    double el = ns_timer_elapsed(&t);
    ASSERT(el >= 0.05);
    ASSERT(el < 60); /* only a sanity bound: a loaded machine may be slow */
    ASSERT(fabs(ns_wall_time() - (double)time(NULL)) < 2.0);
}

TEST(format_duration)
{
    struct { double s; const char *want; } cases[] = {
        {0, "0ms"},           {0.0004, "0ms"},      {0.35, "350ms"},        {0.9994, "999ms"},
        {0.9996, "1.0s"},     {1, "1.0s"},          {4.2, "4.2s"},          {59.94, "59.9s"},
        {59.97, "1m00s"},     {60, "1m00s"},        {185, "3m05s"},         {3599.9, "59m59s"},
        {3600, "1h00m"},      {3720, "1h02m"},      {7322, "2h02m"},        {360000, "100h00m"},
        {1e15, "277777777777h46m"},                 {-1, "?"},              {NAN, "?"},
        {INFINITY, "?"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_format_duration(buf, sizeof buf, cases[i].s);
        ASSERT_MSG(!strcmp(buf, cases[i].want), "duration %.9g: got \"%s\", want \"%s\"", cases[i].s, buf,
                   cases[i].want);
    }
    memset(buf, 'x', sizeof buf);
    ns_format_duration(buf, 4, 3720); /* truncated, still terminated */
    ASSERT_STREQ(buf, "1h0");
}

TEST(format_count)
{
    struct { double x; const char *want; } cases[] = {
        {0, "0"},          {789, "789"},        {9999, "9999"},         {1.5, "1.50"},
        {10000, "10.0k"},  {12345, "12.3k"},    {45600, "45.6k"},       {999949, "999.9k"},
        {999999, "1.00M"}, {1234567, "1.23M"},  {999999999, "1.00G"},   {2.5e9, "2.50G"},
        {-12345, "-12.3k"}, {-3, "-3"},         {NAN, "?"},             {INFINITY, "?"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ns_format_count(buf, sizeof buf, cases[i].x);
        ASSERT_MSG(!strcmp(buf, cases[i].want), "count %.9g: got \"%s\", want \"%s\"", cases[i].x, buf,
                   cases[i].want);
    }
}

/* ===================================================================== */
/* progress display and logging                                           */
/* ===================================================================== */

static void progress_job(void *arg)
{
    (void)arg;
    ns_progress p;
    ns_progress_begin(&p, "training", 1000, "items");
    ASSERT(p.enabled);
    struct timespec ts = {0, 150 * 1000 * 1000};
    for (int i = 0; i < 4; i++) {
        nanosleep(&ts, NULL); /* > 0.1 s: the next update must draw */
        if (i == 2) ns_progress_note(&p, "loss %.2f", 2.31);
        ns_progress_add(&p, 100);
    }
    ASSERT(ns_progress_rate(&p) > 0);
    double el = ns_progress_end(&p);
    ASSERT(el >= 0.6);
}

TEST(progress_draws_rate_and_eta_when_forced)
{
    setenv("NS_PROGRESS", "1", 1);
    ns_set_quiet(0);
    char *out = capture_stderr(progress_job, NULL);
    printf("  captured: %s\n", out);
    ASSERT_HAS(out, "training");
    ASSERT_HAS(out, "400/1000 items");
    ASSERT_HAS(out, " 40%");
    ASSERT_HAS(out, "items/s");
    ASSERT_HAS(out, "ETA ");
    ASSERT_HAS(out, "loss 2.31");
    ASSERT_HAS(out, "\r\033[K");
    free(out);
}

static void progress_silent_job(void *arg)
{
    (void)arg;
    ns_progress p;
    ns_progress_begin(&p, "quiet job", 10, "items");
    ASSERT(!p.enabled);
    struct timespec ts = {0, 120 * 1000 * 1000};
    nanosleep(&ts, NULL);
    ns_progress_add(&p, 5);
    ns_progress_set(&p, 10);
    ns_progress_end(&p);
}

TEST(progress_is_silent_when_quiet_or_disabled)
{
    /* Forced on, but --quiet wins. */
    setenv("NS_PROGRESS", "1", 1);
    ns_set_quiet(1);
    char *out = capture_stderr(progress_silent_job, NULL);
    ASSERT_STREQ(out, "");
    free(out);
    /* Forced off. */
    ns_set_quiet(0);
    setenv("NS_PROGRESS", "0", 1);
    out = capture_stderr(progress_silent_job, NULL);
    ASSERT_STREQ(out, "");
    free(out);
    /* Default: stderr is a file here, not a terminal. */
    unsetenv("NS_PROGRESS");
    out = capture_stderr(progress_silent_job, NULL);
    ASSERT_STREQ(out, "");
    free(out);
}

static void progress_parallel_job(void *arg)
{
    long long *total = arg;
    ns_progress p;
    ns_progress_begin(&p, "parallel", 0, "steps");
    const long long per = 200000;
#pragma omp parallel num_threads(4)
    {
        for (long long i = 0; i < per; i++) {
            ns_progress_add(&p, 1);
            if ((i & 4095) == 0) ns_progress_note(&p, "thread %d at %lld", omp_get_thread_num(), i);
        }
    }
    *total = atomic_load(&p.done);
    ns_progress_end(&p);
    if (*total != 4 * per) {
        fprintf(stderr, "sum %lld != %lld\n", *total, 4 * per);
        _exit(1);
    }
}

TEST(progress_add_from_many_threads_adds_up)
{
    setenv("NS_PROGRESS", "1", 1); /* drawing on, so draws race with adds */
    ns_set_quiet(0);
    long long total = 0;
    char *out = capture_stderr(progress_parallel_job, &total);
    free(out);
    /* and in this process, with drawing off */
    setenv("NS_PROGRESS", "0", 1);
    ns_progress p;
    ns_progress_begin(&p, "x", 100, "u");
#pragma omp parallel for num_threads(3)
    for (int i = 0; i < 300000; i++) ns_progress_add(&p, 2);
    ASSERT_EQ_INT(atomic_load(&p.done), 600000);
    ns_progress_set(&p, 5);
    ASSERT_EQ_INT(atomic_load(&p.done), 5);
    ns_progress_end(&p);
}

static void log_job(void *arg)
{
    (void)arg;
    ns_set_quiet(0);
    ns_log_set_level(NS_LOG_WARN);
    ASSERT_EQ_INT(ns_log_get_level(), NS_LOG_WARN);
    ns_log_info("info-hidden");
    ns_log_warn("warn-shown %d", 1);
    ns_log_error("error-shown");
    ns_log_debug("debug-hidden");
    ns_set_quiet(1);
    ASSERT_EQ_INT(ns_log_get_level(), NS_LOG_ERROR);
    ns_log_warn("warn-quiet-hidden");
    ns_log_error("error-quiet-shown");
    ns_set_quiet(0);
    ns_log_set_level(NS_LOG_DEBUG);
    ns_log_debug("debug-shown");
    ns_log_set_level((ns_log_level)99); /* clamped, never an out-of-range name */
    ns_log_debug("clamped-shown");
}

TEST(logging_levels_and_quiet)
{
    char *out = capture_stderr(log_job, NULL);
    printf("%s", out);
    ASSERT(!strstr(out, "hidden"));
    ASSERT_HAS(out, "warn  warn-shown 1\n");
    ASSERT_HAS(out, "error error-shown\n");
    ASSERT_HAS(out, "error error-quiet-shown\n");
    ASSERT_HAS(out, "debug debug-shown\n");
    ASSERT_HAS(out, "debug clamped-shown\n");
    free(out);
}

/* ===================================================================== */
/* files                                                                  */
/* ===================================================================== */

TEST(read_all_cases)
{
    char *buf;
    size_t len = 99;
    const char *empty = ns_test_tmpfile("empty");
    write_file(empty, "", 0);
    ASSERT_OK(ns_file_read_all(empty, &buf, &len, 0));
    ASSERT(buf != NULL && buf[0] == 0 && len == 0);
    free(buf);

    const char *reg = ns_test_tmpfile("regular.bin");
    const char data[] = "line one\n\0binary\xff tail";
    write_file(reg, data, sizeof data - 1);
    ASSERT_OK(ns_file_read_all(reg, &buf, &len, 0));
    ASSERT_EQ_INT(len, sizeof data - 1);
    ASSERT(!memcmp(buf, data, len) && buf[len] == 0);
    free(buf);
    ASSERT_OK(ns_file_read_all(reg, &buf, NULL, 0)); /* len is optional */
    free(buf);

    /* The limit is inclusive: a file of exactly max_bytes is fine. */
    ASSERT_OK(ns_file_read_all(reg, &buf, &len, sizeof data - 1));
    ASSERT_EQ_INT(len, sizeof data - 1);
    free(buf);
    ASSERT_ERR_HAS(ns_file_read_all(reg, &buf, &len, sizeof data - 2), NS_ETOOBIG, "regular.bin");
    ASSERT(buf == NULL && len == 0);

    const char *missing = ns_test_tmpfile("no-such-file");
    ASSERT_ERR_HAS(ns_file_read_all(missing, &buf, &len, 0), NS_ENOTFOUND, "no-such-file");
    ASSERT_STREQ(ns_err_last()->file, missing);
    ASSERT_ERR_HAS(ns_file_read_all(ns_test_tmpdir(), &buf, &len, 0), NS_EINVAL, "directory");

    /* Files whose size is not known up front: /proc reports 0 bytes. */
    ASSERT_OK(ns_file_read_all("/proc/self/status", &buf, &len, 0));
    ASSERT(len > 0 && len == strlen(buf));
    ASSERT_HAS(buf, "Name:");
    free(buf);
    ASSERT_ERR(ns_file_read_all("/proc/self/status", &buf, &len, 10), NS_ETOOBIG);
    ASSERT_OK(ns_file_read_all("/dev/null", &buf, &len, 0));
    ASSERT_EQ_INT(len, 0);
    free(buf);

    /* A file bigger than the first buffer, with an odd size. */
    size_t big = 200001;
    char *src = malloc(big);
    for (size_t i = 0; i < big; i++) src[i] = (char)(i * 7);
    const char *bigp = ns_test_tmpfile("big.bin");
    write_file(bigp, src, big);
    ASSERT_OK(ns_file_read_all(bigp, &buf, &len, 0));
    ASSERT(len == big && !memcmp(buf, src, big));
    free(buf);
    free(src);
}

TEST(read_all_of_a_pipe)
{
    /* Through a FIFO: no size, arrives in pieces, limit applies. */
    const char *fifo = ns_test_tmpfile("fifo");
    ASSERT(mkfifo(fifo, 0600) == 0);
    for (int limit = 0; limit < 2; limit++) {
        pid_t pid = fork();
        if (pid == 0) {
            FILE *f = fopen(fifo, "w");
            if (!f) _exit(1);
            for (int i = 0; i < 20000; i++) fprintf(f, "%05d\n", i);
            fclose(f);
            _exit(0);
        }
        char *buf;
        size_t len;
        if (limit) {
            ASSERT_ERR(ns_file_read_all(fifo, &buf, &len, 50000), NS_ETOOBIG);
        } else {
            ASSERT_OK(ns_file_read_all(fifo, &buf, &len, 0));
            ASSERT_EQ_INT(len, 120000);
            ASSERT(!strncmp(buf + 6 * 19999, "19999\n", 6));
            free(buf);
        }
        int st;
        waitpid(pid, &st, 0);
    }
}

TEST(write_atomic_replaces_and_leaves_no_temp)
{
    const char *dir = ns_test_tmpdir();
    const char *path = ns_test_tmpfile("out.txt");
    ASSERT_OK(ns_file_write_atomic(path, "first version, longer", 21));
    char *s = slurp(path);
    ASSERT_STREQ(s, "first version, longer");
    free(s);
    ASSERT_OK(ns_file_write_atomic(path, "second", 6));
    s = slurp(path);
    ASSERT_STREQ(s, "second");
    free(s);
    ASSERT_OK(ns_file_write_atomic(path, "", 0));
    s = slurp(path);
    ASSERT_STREQ(s, "");
    free(s);
    ASSERT_EQ_INT(count_dir_entries(dir, NULL), 1);
    struct stat st;
    mode_t mask = umask(022);
    umask(mask);
    ASSERT(stat(path, &st) == 0 && (st.st_mode & 0777) == (0644 & ~mask));

    /* A missing directory: an error naming the path, nothing created. */
    const char *bad = ns_test_tmpfile("nodir/out.txt");
    ASSERT_ERR_HAS(ns_file_write_atomic(bad, "x", 1), NS_ENOTFOUND, "nodir/out.txt");
    ASSERT_EQ_INT(count_dir_entries(dir, NULL), 1);
}

typedef struct { const char *path; int id; int rc; } writer_arg;

static void *atomic_writer(void *p)
{
    writer_arg *w = p;
    char buf[4096];
    for (int round = 0; round < 30; round++) {
        memset(buf, 'a' + w->id, sizeof buf);
        snprintf(buf, 32, "writer %d round %02d|", w->id, round);
        if (ns_file_write_atomic(w->path, buf, sizeof buf) < 0) { w->rc = -1; return NULL; }
    }
    return NULL;
}

TEST(write_atomic_concurrent_writers)
{
    /* Writers in several threads of one process: each rename installs one
     * whole payload; a shared temp file would mix them or fail a rename. */
    const char *dir = ns_test_tmpdir();
    const char *path = ns_test_tmpfile("shared.bin");
    enum { T = 6 };
    pthread_t th[T];
    writer_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (writer_arg){path, i, 0};
        pthread_create(&th[i], NULL, atomic_writer, &args[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        ASSERT_MSG(args[i].rc == 0, "writer %d failed", i);
    }
    char *s;
    size_t len;
    ASSERT_OK(ns_file_read_all(path, &s, &len, 0));
    ASSERT_EQ_INT(len, 4096);
    int id = s[7] - '0';
    ASSERT(id >= 0 && id < T);
    char *bar = strchr(s, '|');
    ASSERT(bar != NULL);
    for (size_t i = 32; i < len; i++) ASSERT_MSG(s[i] == 'a' + id, "byte %zu mixes writers", i);
    free(s);
    ASSERT_EQ_INT(count_dir_entries(dir, ".tmp."), 0);
}

TEST(file_exists_cases)
{
    const char *path = ns_test_tmpfile("exists.bin");
    write_file(path, "bytes", 5);
    ASSERT(ns_file_exists(path));
    ASSERT(ns_file_exists(ns_test_tmpdir()));
    ASSERT(!ns_file_exists(ns_test_tmpfile("absent.bin")));
}

TEST(mkdirs_cases)
{
    const char *deep = ns_test_tmpfile("a/b//c/d/");
    ASSERT_OK(ns_mkdirs(deep));
    struct stat st;
    ASSERT(stat(ns_test_tmpfile("a/b/c/d"), &st) == 0 && S_ISDIR(st.st_mode));
    ASSERT_OK(ns_mkdirs(deep)); /* idempotent */
    ASSERT_OK(ns_mkdirs(ns_test_tmpdir()));
    const char *file = ns_test_tmpfile("a/plainfile");
    write_file(file, "x", 1);
    ASSERT_ERR_HAS(ns_mkdirs(file), NS_EEXISTS, "plainfile");
    ASSERT(ns_mkdirs(ns_test_tmpfile("a/plainfile/sub")) < 0);
    ASSERT_ERR(ns_mkdirs(""), NS_EINVAL);
    char longp[5000];
    memset(longp, 'd', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    ASSERT_ERR(ns_mkdirs(longp), NS_EINVAL);
}

TEST(data_dir_from_environment)
{
    const char *tmp = ns_test_tmpdir();
    setenv("NORTHSTAR_DATA", tmp, 1);
    ASSERT_STREQ(ns_data_dir("/nonexistent/fallback"), tmp);
    ASSERT_STREQ(ns_data_dir(NULL), tmp);
    setenv("NORTHSTAR_DATA", "/nonexistent/northstar-data", 1);
    ASSERT(ns_data_dir(tmp) == NULL); /* an explicit setting is not second-guessed */
    unsetenv("NORTHSTAR_DATA");
    ASSERT_STREQ(ns_data_dir(tmp), tmp);
    ASSERT(ns_data_dir("/nonexistent/fallback") == NULL);
    ASSERT(ns_data_dir(NULL) == NULL);
    const char *file = ns_test_tmpfile("notadir");
    write_file(file, "x", 1);
    ASSERT(ns_data_dir(file) == NULL);
    setenv("NORTHSTAR_DATA", "", 1);
    ASSERT_STREQ(ns_data_dir(tmp), tmp);
}

/* A pthread that calls ns_thread_init_worker(1) runs OpenMP regions (and so
 * BLAS) on itself only; the main thread's count is untouched. */
#include <omp.h>
#include <pthread.h>
static void *worker_probe(void *arg)
{
    int *res = arg;
    res[0] = omp_get_max_threads();
    int prev = ns_thread_init_worker(1);
    res[1] = omp_get_max_threads();
    int team = 0;
#pragma omp parallel
    {
#pragma omp atomic
        team++;
    }
    res[2] = team;
    ns_thread_init_worker(prev);
    res[3] = omp_get_max_threads();
    return NULL;
}

TEST(thread_init_worker_limits_the_calling_thread)
{
    ns_set_threads(2);
    int res[4] = {0};
    pthread_t t;
    ASSERT_EQ_INT(pthread_create(&t, NULL, worker_probe, res), 0);
    pthread_join(t, NULL);
    ASSERT_EQ_INT(res[1], 1);
    ASSERT_EQ_INT(res[2], 1);
    ASSERT_EQ_INT(res[3], res[0]);
    ASSERT_EQ_INT(omp_get_max_threads(), 2);
}

/* The barrier keeps a team in lockstep: no thread starts round r + 1
 * before every thread has finished round r, whether partners arrive while
 * it spins or after it went to sleep (one thread sometimes dawdles past the
 * spin budget). */
enum { BAR_THREADS = 3, BAR_ROUNDS = 3000 };
typedef struct {
    ns_barrier bar;
    _Atomic int done[BAR_THREADS];
    _Atomic int bad;
} bar_team;
typedef struct {
    bar_team *team;
    int tid;
} bar_arg;

static void *barrier_member(void *p)
{
    bar_arg *a = p;
    bar_team *t = a->team;
    ns_barrier_seat seat = ns_barrier_join(&t->bar, 0);
    for (int r = 1; r <= BAR_ROUNDS; r++) {
        if (a->tid == 0 && r % 97 == 0) usleep(200);
        atomic_store(&t->done[a->tid], r);
        ns_barrier_wait(&t->bar, BAR_THREADS, &seat);
        for (int i = 0; i < BAR_THREADS; i++)
            if (atomic_load(&t->done[i]) < r) atomic_fetch_add(&t->bad, 1);
        ns_barrier_wait(&t->bar, BAR_THREADS, &seat);
    }
    ASSERT(seat.spin > 0 && seat.spin < 2 * 4096); /* adapted, within its bounds */
    return NULL;
}

TEST(barrier_keeps_the_team_in_lockstep)
{
    static bar_team team;
    bar_arg args[BAR_THREADS];
    pthread_t th[BAR_THREADS];
    for (int i = 0; i < BAR_THREADS; i++) {
        args[i] = (bar_arg){&team, i};
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, barrier_member, &args[i]), 0);
    }
    for (int i = 0; i < BAR_THREADS; i++) pthread_join(th[i], NULL);
    ASSERT_EQ_INT(atomic_load(&team.bad), 0);
    for (int i = 0; i < BAR_THREADS; i++) ASSERT_EQ_INT(atomic_load(&team.done[i]), BAR_ROUNDS);
}

/* UTF-8 against a real peer: utf8proc_iterate (RFC 3629 too) on every
 * 1-, 2- and 3-byte string and 2 million random 4-byte strings must agree
 * with ns_utf8_seq on whether a sequence starts there and how long it is. */
#include <utf8proc.h>
static size_t peer_seq(const unsigned char *p, size_t n)
{
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
    return k > 0 ? (size_t)k : 0;
}

TEST(utf8_agrees_with_utf8proc)
{
    unsigned char b[4];
    long checked = 0;
    for (unsigned x = 0; x < (1u << 24); x++) {
        b[0] = (unsigned char)(x >> 16), b[1] = (unsigned char)(x >> 8), b[2] = (unsigned char)x;
        for (size_t n = 1; n <= 3; n++) {
            if (n < 3 && (x & ((1u << (8 * (3 - n))) - 1))) continue; /* shorter strings once */
            size_t want = peer_seq(b, n), got = ns_utf8_seq((const char *)b, n);
            if (want != got) FAIL("%02x %02x %02x (n %zu): ours %zu, utf8proc %zu", b[0], b[1], b[2], n, got, want);
            checked++;
        }
    }
    ns_rng r;
    ns_rng_seed(&r, 11, 0);
    for (int i = 0; i < 2000000; i++) {
        uint32_t v = ns_rng_u32(&r);
        b[0] = (unsigned char)(0xF0 | ((v >> 24) & 7)), b[1] = (unsigned char)(v >> 16), b[2] = (unsigned char)(v >> 8),
        b[3] = (unsigned char)v;
        size_t want = peer_seq(b, 4), got = ns_utf8_seq((const char *)b, 4);
        if (want != got) FAIL("%02x %02x %02x %02x: ours %zu, utf8proc %zu", b[0], b[1], b[2], b[3], got, want);
        checked++;
    }
    printf("  %ld strings agree\n", checked);
}

/* The JSON writer never emits bytes a parser refuses: invalid UTF-8 and
 * NUL come out as escapes, valid multi-byte characters as they are. */
TEST(json_str_always_parses)
{
    const char in[] = "ok \xC3\xA9 bad \xFF\xFE cut \xE4\xBA nul \0 end \xF0\x9F\x98\x80";
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_buf_puts(&b, "["));
    ASSERT_OK(ns_buf_json_str(&b, in, sizeof in - 1));
    ASSERT_OK(ns_buf_puts(&b, "]"));
    json_error_t je;
    json_t *j = json_loads(b.data, JSON_ALLOW_NUL, &je);
    ASSERT_MSG(j, "not JSON: %s (%s)", je.text, b.data);
    const char *got = json_string_value(json_array_get(j, 0));
    size_t glen = json_string_length(json_array_get(j, 0));
    const char want[] = "ok \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD cut \xEF\xBF\xBD\xEF\xBF\xBD nul \0 end \xF0\x9F\x98\x80";
    ASSERT_EQ_INT(glen, sizeof want - 1);
    ASSERT(!memcmp(got, want, glen));
    json_decref(j);
    ns_buf_release(&b);
}

TEST(json_num_writes_null_for_nonfinite)
{
    const double in[] = {0.25, -3, 1e300, NAN, INFINITY, -INFINITY, 123456789, -0.0};
    ns_buf b;
    ns_buf_init(&b);
    ASSERT_OK(ns_buf_puts(&b, "["));
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        if (i) ASSERT_OK(ns_buf_puts(&b, ","));
        ASSERT_OK(ns_buf_json_num(&b, in[i], 6));
    }
    ASSERT_OK(ns_buf_puts(&b, "]"));
    ASSERT_STREQ(b.data, "[0.25,-3,1e+300,null,null,null,1.23457e+08,-0]");
    json_error_t je;
    json_t *j = json_loads(b.data, 0, &je);
    ASSERT_MSG(j, "not JSON: %s (%s)", je.text, b.data);
    ASSERT(json_is_null(json_array_get(j, 3)) && json_is_null(json_array_get(j, 5)));
    ASSERT_NEAR(json_number_value(json_array_get(j, 0)), 0.25, 0);
    json_decref(j);
    ns_buf_release(&b);
    ns_buf_init(&b);
    ASSERT_OK(ns_buf_json_num(&b, 0.1, 17));
    ASSERT_STREQ(b.data, "0.10000000000000001");
    ns_buf_release(&b);
}
