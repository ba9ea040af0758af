/* cli.c — option handling shared by all subcommands (see cli.h). */
#include "cli/cli.h"
#include "northstar/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "northstar %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'northstar %s --help')\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail(const char *cmd)
{
    fprintf(stderr, "northstar %s: %s\n", cmd, ns_err_msg());
    return CLI_FAIL;
}

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return cli_usage_error(cmd, "option %s expects an integer, got '%s'", opt, s);
    if (v < lo || v > hi)
        return cli_usage_error(cmd, "option %s must be between %ld and %ld, got %ld", opt, lo, hi, v);
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || v != v)
        return cli_usage_error(cmd, "option %s expects a number, got '%s'", opt, s);
    if (v < lo || v > hi)
        return cli_usage_error(cmd, "option %s must be between %g and %g, got %g", opt, lo, hi, v);
    *out = v;
    return 0;
}

#define MAX_OPTS 64

int cli_parse(int argc, char **argv, const char *cmd, const char *usage, const char *shortopts,
              const struct option *opts, cli_opt_fn on_opt, void *ctx)
{
    struct option all[MAX_OPTS + 4];
    int n = 0;
    for (; opts && opts[n].name; n++) {
        if (n == MAX_OPTS) { cli_usage_error(cmd, "internal: too many options"); return CLI_PARSE_BAD; }
        all[n] = opts[n];
    }
    all[n++] = (struct option){"help", no_argument, NULL, 'h'};
    all[n++] = (struct option){"quiet", no_argument, NULL, 'q'};
    all[n++] = (struct option){"threads", required_argument, NULL, 'j'};
    all[n] = (struct option){0, 0, 0, 0};
    char sopts[128];
    snprintf(sopts, sizeof sopts, ":hqj:%s", shortopts ? shortopts : "");
    optind = 1;
    opterr = 0;
    for (;;) {
        int prev = optind;
        int c = getopt_long(argc, argv, sopts, all, NULL);
        if (c == -1) break;
        const char *bad = prev < argc ? argv[prev] : "?";
        switch (c) {
        case 'h':
            fputs(usage, stdout);
            return CLI_HELP_SHOWN;
        case 'q': ns_set_quiet(1); break;
        case 'j': {
            long t = 0;
            if (cli_int(cmd, "--threads", optarg, 1, 1024, &t)) return CLI_PARSE_BAD;
            ns_set_threads((int)t);
            break;
        }
        case '?':
            if (bad[0] == '-' && bad[1] == '-') {
                const char *eq = strchr(bad, '=');
                int len = eq ? (int)(eq - bad) : (int)strlen(bad);
                /* A known long option given a value it does not take. */
                if (eq && optopt)
                    cli_usage_error(cmd, "option '%.*s' takes no value", len, bad);
                else
                    cli_usage_error(cmd, "unknown option '%.*s'", len, bad);
            } else {
                cli_usage_error(cmd, "unknown option '-%c'", optopt ? optopt : '?');
            }
            return CLI_PARSE_BAD;
        case ':':
            if (bad[0] == '-' && bad[1] != '-')
                cli_usage_error(cmd, "option '-%c' needs a value", optopt);
            else
                cli_usage_error(cmd, "option '%s' needs a value", bad);
            return CLI_PARSE_BAD;
        default:
            if (!on_opt || on_opt(c, optarg, ctx)) {
                if (!on_opt) cli_usage_error(cmd, "unknown option '%s'", bad);
                return CLI_PARSE_BAD;
            }
        }
    }
    return optind;
}
