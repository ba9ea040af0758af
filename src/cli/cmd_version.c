/* cmd_version.c — `northstar version`: version and build facts. */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/blas.h"
#include "northstar/tensor.h"

#include <jansson.h>
#include <omp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
    "usage: northstar version [--json]\n"
    "\n"
    "Print northstar's version, the compiler and target it was built with,\n"
    "and the versions of the libraries it runs on.\n"
    "\n"
    "  --json   one JSON object instead of text\n";

int cmd_version(int argc, char **argv)
{
    cli_json_opts o = {0};
    int r = CLI_PARSE(argc, argv, "version", usage, cli_json_only, &o);
    CLI_PARSE_RETURN(r);
    if (r < argc) return cli_usage_error("version", "unexpected argument '%s'", argv[r]);
#if defined(__AVX512F__)
    const char *simd = "avx512";
#elif defined(__AVX2__)
    const char *simd = "avx2";
#else
    const char *simd = "sse";
#endif
#if defined(__clang__)
    const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *compiler = "gcc " __VERSION__;
#else
    const char *compiler = "cc";
#endif
    const char *blas = ns_blas_config();
    if (o.json) {
        /* Built with jansson so every string is escaped properly. */
        json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:s}", "version", NS_VERSION,
                              "compiler", compiler, "simd", simd, "threads", ns_threads(), "cpus",
                              ns_cpu_count(), "openmp", _OPENMP, "openblas", blas ? blas : "",
                              "sqlite", sqlite3_libversion(), "jansson", JANSSON_VERSION);
        return cli_put_json("version", j, JSON_COMPACT);
    }
    printf("northstar %s\n", NS_VERSION);
    printf("  built with %s, %s, OpenMP %d\n", compiler, simd, _OPENMP);
    printf("  threads    %d (of %d CPUs)\n", ns_threads(), ns_cpu_count());
    printf("  OpenBLAS   %s\n", blas ? blas : "?");
    printf("  SQLite     %s, jansson %s\n", sqlite3_libversion(), JANSSON_VERSION);
    return CLI_OK;
}
