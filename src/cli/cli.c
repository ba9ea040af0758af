/* cli.c — option handling shared by all subcommands (see cli.h). */
#include "cli.h"
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

/* The long option that `elem` ("--name" or "--name=value", possibly an
 * unambiguous prefix as getopt_long allows) refers to, or NULL. */
static const struct option *long_option_of(const struct option *all, const char *elem)
{
    if (!elem || elem[0] != '-' || elem[1] != '-') return NULL;
    const char *name = elem + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct option *hit = NULL;
    for (const struct option *o = all; o->name; o++) {
        if (strncmp(o->name, name, len)) continue;
        if (strlen(o->name) == len) return o; /* exact match wins */
        hit = hit ? hit : o;
    }
    return hit;
}

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
    optind = 0; /* 0, not 1: makes glibc reset its permutation state too */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, sopts, all, NULL);
        if (c == -1) break;
        /* The element getopt just finished with. Options may follow
         * positional arguments (getopt permutes), so the element is found
         * from optind after the call, never from before it. For a short
         * option inside a group ("-xq") this may be another element; the
         * short branches below only use optopt. */
        const char *elem = optind >= 2 && optind - 1 < argc ? argv[optind - 1] : NULL;
        const struct option *lo = long_option_of(all, elem);
        int is_long = elem && elem[0] == '-' && elem[1] == '-' && (optopt == 0 || (lo && lo->val == optopt));
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
            if (is_long && optopt && lo)
                cli_usage_error(cmd, "option '--%s' takes no value", lo->name);
            else if (is_long) {
                const char *eq = strchr(elem, '=');
                cli_usage_error(cmd, "unknown option '%.*s'", eq ? (int)(eq - elem) : (int)strlen(elem), elem);
            } else if (optopt > 32 && optopt < 127)
                cli_usage_error(cmd, "unknown option '-%c'", optopt);
            else
                cli_usage_error(cmd, "unknown option");
            return CLI_PARSE_BAD;
        case ':':
            if (is_long && lo)
                cli_usage_error(cmd, "option '--%s' needs a value", lo->name);
            else
                cli_usage_error(cmd, "option '-%c' needs a value", optopt);
            return CLI_PARSE_BAD;
        default:
            if (!on_opt || on_opt(c, optarg, ctx)) {
                if (!on_opt) cli_usage_error(cmd, "unknown option '%s'", elem ? elem : "?");
                return CLI_PARSE_BAD;
            }
        }
    }
    return optind;
}
