/*
 * cli_parse.c — cli_parse(): a command's table of cli_opt rows (cli.h) plus
 * the options every command takes, turned into getopt_long's tables (sized
 * by the rows, built per call), parsed, and each value checked and stored
 * in the command's options struct. Every usage error names the option.
 */
#include "cli.h"
#include "northstar/base.h"

#include <assert.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* getopt_long's val of the common long options; a row's is CLI_VAL + its index. */
enum { CLI_VAL = 256 };
enum { COMMON_HELP, COMMON_QUIET, COMMON_THREADS, NCOMMON };

static int takes_value(const cli_opt *o) { return o->kind != CLI_K_FLAG; }

/* The row whose short letter is c, or NULL. */
static const cli_opt *row_of_short(const cli_opt *opts, size_t n, int c)
{
    for (size_t i = 0; i < n; i++)
        if (opts[i].shortname == c) return &opts[i];
    return NULL;
}

/* Rows are programs' constants: a clash is a programming error. */
static void check_rows(const cli_opt *opts, size_t n)
{
    static const char *const common[] = {"help", "quiet", "threads"};
    for (size_t i = 0; i < n; i++) {
        assert(opts[i].name || opts[i].shortname);
        assert(opts[i].shortname != '?' && opts[i].shortname != ':');
        for (size_t k = 0; opts[i].name && k < 3; k++) assert(strcmp(opts[i].name, common[k]));
        for (size_t j = i + 1; j < n; j++) {
            assert(!opts[i].shortname || opts[i].shortname != opts[j].shortname);
            assert(!opts[i].name || !opts[j].name || strcmp(opts[i].name, opts[j].name));
        }
    }
}

/* getopt_long's long options (rows with a long name, then the common ones)
 * and its short-option string; free both. */
static int build_tables(const cli_opt *opts, size_t n, struct option **lo_out, char **so_out)
{
    struct option *lo = ns_calloc(n + NCOMMON + 1, sizeof *lo);
    char *so = ns_malloc(2 * n + 8);
    if (!lo || !so) {
        free(lo);
        free(so);
        return NS_ENOMEM;
    }
    size_t k = 0, s = 0;
    so[s++] = ':';
    for (size_t i = 0; i < n; i++) {
        if (opts[i].name)
            lo[k++] = (struct option){opts[i].name, takes_value(&opts[i]) ? required_argument : no_argument, NULL,
                                      CLI_VAL + (int)i};
        if (opts[i].shortname) {
            so[s++] = opts[i].shortname;
            if (takes_value(&opts[i])) so[s++] = ':';
        }
    }
    lo[k++] = (struct option){"help", no_argument, NULL, CLI_VAL + (int)n + COMMON_HELP};
    lo[k++] = (struct option){"quiet", no_argument, NULL, CLI_VAL + (int)n + COMMON_QUIET};
    lo[k++] = (struct option){"threads", required_argument, NULL, CLI_VAL + (int)n + COMMON_THREADS};
    lo[k] = (struct option){0, 0, 0, 0};
    if (!row_of_short(opts, n, 'h')) so[s++] = 'h';
    if (!row_of_short(opts, n, 'q')) so[s++] = 'q';
    if (!row_of_short(opts, n, 'j')) so[s++] = 'j', so[s++] = ':';
    so[s] = 0;
    *lo_out = lo;
    *so_out = so;
    return NS_OK;
}

/* "--name", or "-k" for a short option only. */
static void option_name(const cli_opt *o, char *buf, size_t cap)
{
    if (o->name) snprintf(buf, cap, "--%s", o->name);
    else snprintf(buf, cap, "-%c", o->shortname);
}

static int store_choice(const char *cmd, const char *opt, const cli_opt *o, const char *arg, void *field)
{
    char names[256];
    size_t k = 0;
    names[0] = 0;
    for (const cli_choice *c = o->choices; c->name; c++) {
        if (!strcmp(c->name, arg)) {
            memcpy(field, &c->value, sizeof c->value);
            return 0;
        }
        if (k < sizeof names)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", c == o->choices ? "" : c[1].name ? ", " : " or ",
                                  c->name);
    }
    return cli_usage_error(cmd, "option %s expects %s, got '%s'", opt, names, arg);
}

/* Check `arg` against row o and store it in its field of `target`. */
static int store(const char *cmd, const cli_opt *o, const char *arg, void *target)
{
    void *field = (char *)target + o->off;
    char opt[72];
    option_name(o, opt, sizeof opt);
    long v = 0;
    double d = 0;
    switch (o->kind) {
    case CLI_K_FLAG: *(int *)field = (int)o->lo; return 0;
    case CLI_K_STR: *(const char **)field = arg; return 0;
    case CLI_K_INT:
    case CLI_K_LONG:
    case CLI_K_U64:
    case CLI_K_SIZE:
        if (cli_int(cmd, opt, arg, o->lo, o->hi, &v)) return CLI_USAGE;
        if (o->kind == CLI_K_INT) *(int *)field = (int)v;
        else if (o->kind == CLI_K_LONG) *(long *)field = v;
        else if (o->kind == CLI_K_U64) *(uint64_t *)field = (uint64_t)v;
        else *(size_t *)field = (size_t)v;
        return 0;
    case CLI_K_FLOAT:
    case CLI_K_DOUBLE:
        if (cli_double(cmd, opt, arg, o->dlo, o->dhi, &d)) return CLI_USAGE;
        if (o->kind == CLI_K_FLOAT) *(float *)field = (float)d;
        else *(double *)field = d;
        return 0;
    case CLI_K_CHOICE: return store_choice(cmd, opt, o, arg, field);
    case CLI_K_CALL: return o->fn(cmd, opt, arg, field);
    }
    return cli_usage_error(cmd, "internal: option %s has no kind", opt);
}

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

/* Name what getopt_long refused ('?': unknown, or a value given to a flag;
 * ':': a value missing). `elem` is the argv element it was reading. */
static void report(const char *cmd, int c, const struct option *all, const char *elem)
{
    const struct option *lo = long_option_of(all, elem);
    int is_long = elem && elem[0] == '-' && elem[1] == '-' && (optopt == 0 || (lo && lo->val == optopt));
    if (c == ':') {
        if (is_long && lo) cli_usage_error(cmd, "option '--%s' needs a value", lo->name);
        else cli_usage_error(cmd, "option '-%c' needs a value", optopt);
    } else if (is_long && optopt && lo) {
        cli_usage_error(cmd, "option '--%s' takes no value", lo->name);
    } else if (is_long) {
        const char *eq = strchr(elem, '=');
        cli_usage_error(cmd, "unknown option '%.*s'", eq ? (int)(eq - elem) : (int)strlen(elem), elem);
    } else if (optopt > 32 && optopt < 127) {
        cli_usage_error(cmd, "unknown option '-%c'", optopt);
    } else {
        cli_usage_error(cmd, "unknown option");
    }
}

/* One option getopt_long returned: a row's value, or a common option.
 * 0 to go on, CLI_HELP_SHOWN, or CLI_PARSE_BAD (reported). */
static int handle(const char *cmd, const char *usage, const cli_opt *opts, size_t n, void *target, int c)
{
    const cli_opt *row = c >= CLI_VAL && c < CLI_VAL + (int)n ? &opts[c - CLI_VAL]
                         : c < CLI_VAL                       ? row_of_short(opts, n, c)
                                                             : NULL;
    if (row) return store(cmd, row, optarg, target) ? CLI_PARSE_BAD : 0;
    int common = c >= CLI_VAL ? c - CLI_VAL - (int)n
                 : c == 'h'     ? COMMON_HELP
                 : c == 'q'     ? COMMON_QUIET
                                : COMMON_THREADS;
    switch (common) {
    case COMMON_HELP: fputs(usage, stdout); return CLI_HELP_SHOWN;
    case COMMON_QUIET: ns_set_quiet(1); return 0;
    default: {
        long t = 0;
        if (cli_int(cmd, "--threads", optarg, 1, 1024, &t)) return CLI_PARSE_BAD;
        ns_set_threads((int)t);
        return 0;
    }
    }
}

int cli_parse(int argc, char **argv, const char *cmd, const char *usage, const cli_opt *opts, size_t n, void *target)
{
    check_rows(opts, n);
    struct option *all;
    char *shortopts;
    if (build_tables(opts, n, &all, &shortopts) < 0) {
        cli_fail(cmd);
        return CLI_PARSE_BAD;
    }
    int r = 0;
    optind = 0; /* 0, not 1: makes glibc reset its permutation state too */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, all, NULL);
        if (c == -1) break;
        if (c == '?' || c == ':') {
            /* The element getopt just finished with. Options may follow
             * positional arguments (getopt permutes), so the element is
             * found from optind after the call, never from before it. For
             * a short option inside a group ("-xq") this may be another
             * element; the short-option messages only use optopt. */
            report(cmd, c, all, optind >= 2 && optind - 1 < argc ? argv[optind - 1] : NULL);
            r = CLI_PARSE_BAD;
            break;
        }
        if ((r = handle(cmd, usage, opts, n, target, c)) != 0) break;
    }
    free(all);
    free(shortopts);
    return r ? r : optind;
}
