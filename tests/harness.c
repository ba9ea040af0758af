/* harness.c — see harness.h. */
#include "harness.h"

#include <ftw.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
/* Out-of-memory paths are tested too: under ASan a huge malloc must return
 * NULL like the real allocator, not abort. $ASAN_OPTIONS still applies. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
#endif

#define MAX_TESTS 512
static struct { const char *name; ns_test_fn fn; } g_tests[MAX_TESTS];
static int g_ntests;
static const char *g_current = "?";
static char g_tmpdir[1024];
static pid_t g_tmp_owner;  /* only the process that made g_tmpdir removes it */
static int g_failed;

void ns_test_register(const char *name, ns_test_fn fn)
{
    if (g_ntests == MAX_TESTS) { fprintf(stderr, "too many tests\n"); exit(1); }
    g_tests[g_ntests].name = name;
    g_tests[g_ntests].fn = fn;
    g_ntests++;
}

void ns_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: %s:%d: ", g_current, file, line);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failed = 1;
    if (g_tmpdir[0] && g_tmp_owner == getpid()) fprintf(stderr, "  (kept %s)\n", g_tmpdir);
    exit(1);
}

void ns_test_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP %s: ", g_current);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(77);
}

#define COMPARE_BODY(T)                                                                      \
    size_t bad = 0, worst = 0;                                                               \
    double max_abs = 0, max_rel = 0;                                                         \
    for (size_t i = 0; i < n; i++) {                                                         \
        double g = (double)got[i], w = (double)want[i], d = fabs(g - w);                     \
        double rel = d / (fabs(w) > 1e-30 ? fabs(w) : 1e-30);                                \
        if (d > max_abs || isnan(d)) { max_abs = d; worst = i; }                             \
        if (fabs(w) > atol && rel > max_rel) max_rel = rel;                                  \
        if (!(d <= atol + rtol * fabs(w))) {                                                 \
            if (bad < 5)                                                                     \
                printf("  %s[%zu]: got %.9g want %.9g (abs %.3g)\n", what, i, g, w, d);      \
            bad++;                                                                           \
        }                                                                                    \
    }                                                                                        \
    printf("  %-28s n=%-7zu max_abs=%.3g max_rel=%.3g (at %zu) atol=%.1g rtol=%.1g %s\n",   \
           what, n, max_abs, max_rel, worst, atol, rtol, bad ? "MISMATCH" : "ok");          \
    if (bad) printf("  %s: %zu of %zu elements out of tolerance\n", what, bad, n);           \
    return bad;

size_t ns_test_compare(const char *what, const float *got, const float *want, size_t n,
                       double atol, double rtol)
{
    COMPARE_BODY(float)
}

size_t ns_test_compare_f64(const char *what, const double *got, const double *want, size_t n,
                           double atol, double rtol)
{
    COMPARE_BODY(double)
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    if (remove(path) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
    return 0;
}

static void cleanup_tmp(void)
{
    if (g_tmpdir[0] && g_tmp_owner == getpid() && !g_failed && !getenv("NS_TEST_KEEP"))
        nftw(g_tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *ns_test_tmpdir(void)
{
    if (g_tmpdir[0]) return g_tmpdir;
    const char *base = getenv("NS_TEST_TMPDIR");
    if (!base || !*base) base = "/tmp";
    ns_mkdirs(base);
    snprintf(g_tmpdir, sizeof g_tmpdir, "%s/%s.XXXXXX", base, g_current);
    if (!mkdtemp(g_tmpdir)) {
        g_tmpdir[0] = 0;
        FAIL("cannot create temp dir under %s", base);
    }
    g_tmp_owner = getpid();
    atexit(cleanup_tmp);
    return g_tmpdir;
}

const char *ns_test_tmpfile(const char *name)
{
    static char bufs[8][1200];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, sizeof bufs[0], "%s/%s", ns_test_tmpdir(), name);
    return b;
}

const char *ns_test_data(const char *subdir)
{
    static char path[1024];
    const char *root = ns_data_dir(NS_DEFAULT_DATA_DIR);
    if (!root) SKIP("shared data not found (set NORTHSTAR_DATA or provide ../shared/data)");
    snprintf(path, sizeof path, "%s/%s", root, subdir);
    struct stat st;
    if (stat(path, &st) != 0) SKIP("data set %s not found", path);
    return path;
}

const char *ns_test_source_dir(void) { return NS_SOURCE_DIR; }

const char *ns_test_northstar_bin(void)
{
    const char *b = getenv("NORTHSTAR_BIN");
    return b && *b ? b : NS_NORTHSTAR_BIN; /* the command this build made */
}

int ns_test_run(const char *cmd, char **out)
{
    char full[8192];
    if ((size_t)snprintf(full, sizeof full, "(%s) 2>&1", cmd) >= sizeof full)
        FAIL("ns_test_run: command longer than %zu bytes", sizeof full);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) { pclose(p); return -1; }
    for (;;) {
        if (n + 1024 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); pclose(p); return -1; }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, p);
        if (r == 0) break;
        n += r;
    }
    buf[n] = 0;
    int st = pclose(p);
    if (out) *out = buf; else free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && !strcmp(argv[1], "--list")) {
        for (int i = 0; i < g_ntests; i++) printf("%s\n", g_tests[i].name);
        return 0;
    }
    if (argc >= 2) {
        for (int i = 0; i < g_ntests; i++)
            if (!strcmp(g_tests[i].name, argv[1])) {
                g_current = g_tests[i].name;
                g_tests[i].fn();
                printf("PASS %s\n", g_current);
                return 0;
            }
        fprintf(stderr, "no test named %s (try --list)\n", argv[1]);
        return 2;
    }
    /* No argument: run every case, each in a child process. */
    int failed = 0;
    for (int i = 0; i < g_ntests; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            g_current = g_tests[i].name;
            g_tests[i].fn();
            printf("PASS %s\n", g_current);
            exit(0);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 77)) {
            printf("FAILED %s\n", g_tests[i].name);
            failed++;
        }
    }
    return failed ? 1 : 0;
}
