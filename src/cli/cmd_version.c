/* cmd_version.c — `northstar version`: version and build facts. */
#include "cli/cli.h"
#include "northstar/base.h"

#include <cblas.h>
#include <jansson.h>
#include <omp.h>
#include <sqlite3.h>
#include <stdio.h>

static const char usage[] =
    "usage: northstar version [--json]\n"
    "\n"
    "Print northstar's version, the compiler and target it was built with,\n"
    "and the versions of the libraries it runs on.\n"
    "\n"
    "  --json   one JSON object instead of text\n";

static int on_opt(int c, const char *arg, void *ctx)
{
    (void)arg;
    if (c == 'J') *(int *)ctx = 1;
    return 0;
}

int cmd_version(int argc, char **argv)
{
    int json = 0;
    static const struct option opts[] = {{"json", no_argument, NULL, 'J'}, {0, 0, 0, 0}};
    int r = cli_parse(argc, argv, "version", usage, "", opts, on_opt, &json);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("version", "unexpected argument '%s'", argv[r]);
#if defined(__AVX512F__)
    const char *simd = "avx512";
#elif defined(__AVX2__)
    const char *simd = "avx2";
#else
    const char *simd = "sse";
#endif
    const char *blas = openblas_get_config();
    if (json) {
        printf("{\"version\":\"%s\",\"compiler\":\"gcc %s\",\"simd\":\"%s\",\"threads\":%d,"
               "\"openmp\":%d,\"openblas\":\"%s\",\"sqlite\":\"%s\",\"jansson\":\"%s\"}\n",
               NS_VERSION, __VERSION__, simd, ns_threads(), _OPENMP, blas, sqlite3_libversion(),
               JANSSON_VERSION);
    } else {
        printf("northstar %s\n", NS_VERSION);
        printf("  built with gcc %s, %s, OpenMP %d\n", __VERSION__, simd, _OPENMP);
        printf("  threads    %d (of %d CPUs)\n", ns_threads(), ns_cpu_count());
        printf("  OpenBLAS   %s\n", blas);
        printf("  SQLite     %s, jansson %s\n", sqlite3_libversion(), JANSSON_VERSION);
    }
    return CLI_OK;
}
