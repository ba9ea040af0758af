/*
 * harness.h — the test harness: TEST(name) cases, typed assertions, array
 * comparison with max abs/rel difference, skips, temp dirs and data paths.
 *
 * Each tests/<label>/test_<x>.c is one program; CMake registers every
 * TEST(name) in it as the ctest entry "test_<x>.<name>", run in its own
 * process as `test_<x> <name>`. Exit 0 = pass, 1 = fail, 77 = skipped.
 *
 *   TEST(roundtrip) {
 *       ASSERT_OK(ns_st_writer_write(w, path));
 *       ASSERT_EQ_INT(ns_st_count(f), 3);
 *       ASSERT_CLOSE("dw", dw, want, n, 1e-5, 1e-4);
 *   }
 */
#ifndef NS_TEST_HARNESS_H
#define NS_TEST_HARNESS_H

#include "northstar/base.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*ns_test_fn)(void);
void ns_test_register(const char *name, ns_test_fn fn);

#define TEST(name)                                                             \
    static void test_##name(void);                                             \
    __attribute__((constructor)) static void register_##name(void)             \
    {                                                                          \
        ns_test_register(#name, test_##name);                                  \
    }                                                                          \
    static void test_##name(void)

_Noreturn void ns_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
_Noreturn void ns_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define FAIL(...) ns_test_fail(__FILE__, __LINE__, __VA_ARGS__)
#define SKIP(...) ns_test_skip(__VA_ARGS__)

#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) FAIL("assertion failed: %s", #cond);                      \
    } while (0)
#define ASSERT_MSG(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) FAIL(__VA_ARGS__);                                        \
    } while (0)
#define ASSERT_EQ_INT(a, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_) FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_);          \
    } while (0)
#define ASSERT_STREQ(a, b)                                                     \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp(a_, b_))                                      \
            FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",     \
                 b_ ? b_ : "(null)");                                          \
    } while (0)
#define ASSERT_NEAR(a, b, tol)                                                 \
    do {                                                                       \
        double a_ = (double)(a), b_ = (double)(b);                             \
        if (!(fabs(a_ - b_) <= (tol)))                                         \
            FAIL("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)
/* The string `hay` contains `needle` (e.g. an error message names a tensor). */
#define ASSERT_HAS(hay, needle)                                                \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        if (!h_ || !n_ || !strstr(h_, n_))                                     \
            FAIL("%s should contain \"%s\", got \"%s\"", #hay,                \
                 n_ ? n_ : "(null)", h_ ? h_ : "(null)");                      \
    } while (0)
/* Fails with exactly `code` and the recorded message names `needle`. */
#define ASSERT_ERR_HAS(expr, code, needle)                                     \
    do {                                                                       \
        ASSERT_ERR(expr, code);                                                \
        ASSERT_HAS(ns_err_msg(), needle);                                      \
    } while (0)
/* rc >= 0, else print the recorded error. */
#define ASSERT_OK(expr)                                                        \
    do {                                                                       \
        long long rc_ = (long long)(expr);                                     \
        if (rc_ < 0) FAIL("%s returned %lld: %s", #expr, rc_, ns_err_msg());   \
    } while (0)
/* Fails with exactly `code`; the message is printed for the log. */
#define ASSERT_ERR(expr, code)                                                 \
    do {                                                                       \
        long long rc_ = (long long)(expr);                                     \
        if (rc_ != (code))                                                     \
            FAIL("%s returned %lld (%s), expected %s; message: %s", #expr, rc_, \
                 ns_errname((int)rc_), ns_errname(code), ns_err_msg());        \
        printf("  expected error: %s\n", ns_err_msg());                        \
    } while (0)

/* Compare got[] with want[]: |got - want| <= atol + rtol * |want| for every
 * element (NaN never passes). Prints n, max abs and max rel difference and
 * the first mismatches; returns the number of mismatches. */
size_t ns_test_compare(const char *what, const float *got, const float *want, size_t n,
                       double atol, double rtol);
size_t ns_test_compare_f64(const char *what, const double *got, const double *want, size_t n,
                           double atol, double rtol);
#define ASSERT_CLOSE(what, got, want, n, atol, rtol)                           \
    do {                                                                       \
        if (ns_test_compare(what, got, want, n, atol, rtol))                   \
            FAIL("%s differs from the reference", what);                       \
    } while (0)
#define ASSERT_CLOSE_F64(what, got, want, n, atol, rtol)                       \
    do {                                                                       \
        if (ns_test_compare_f64(what, got, want, n, atol, rtol))               \
            FAIL("%s differs from the reference", what);                       \
    } while (0)

/* A fresh empty directory for this test case (removed at exit on success,
 * kept after a failure or with NS_TEST_KEEP=1; a forked child that exits
 * never removes it). */
const char *ns_test_tmpdir(void);
/* Path of a file in the tmp dir (static buffer rotation of 8). */
const char *ns_test_tmpfile(const char *name);
/* Directory of a shared data set (e.g. "adult"); SKIPs when it is absent. */
const char *ns_test_data(const char *subdir);
/* The source tree root; the northstar binary ($NORTHSTAR_BIN, else the one
 * this build made). */
const char *ns_test_source_dir(void);
const char *ns_test_northstar_bin(void);
/* Run a shell command, capture stdout+stderr (malloc'd into *out if out
 * non-NULL); returns the exit status (or -1). */
int ns_test_run(const char *cmd, char **out);

#endif
