/*
 * cli.c — what every command shares (see cli.h): messages, number parsing,
 * the subcommand dispatcher, and the option sets several commands use.
 * The option-table parser is cli_parse.c.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/i2i.h"
#include "northstar/store.h"

#include <errno.h>
#include <jansson.h>
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

int cli_put_json(const char *cmd, json_t *j, size_t flags)
{
    char *text = j ? json_dumps(j, flags) : NULL;
    json_decref(j);
    if (!text) {
        ns_err_set(NS_ENOMEM, "cannot build the JSON answer");
        return cli_fail(cmd);
    }
    puts(text);
    free(text);
    return CLI_OK;
}

void cli_put_clean(const char *s, size_t max)
{
    size_t n = strlen(s), k = n > max ? max : n;
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    if (k < n) fputs("...", stdout);
}

/* ---- subcommands -------------------------------------------------------------------------------- */

/* "a, b or c" of the subcommands' names. */
static void names_of(const cli_sub *subs, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", subs[i].name);
}

static void print_help(const char *cmd, const char *intro, const cli_sub *subs, size_t n, int help)
{
    int w = 0;
    for (size_t i = 0; i < n; i++) w = (int)strlen(subs[i].name) > w ? (int)strlen(subs[i].name) : w;
    fputs(intro, stdout);
    printf("\nSubcommands:\n");
    for (size_t i = 0; i < n; i++) printf("  %-*s   %s\n", w, subs[i].name, subs[i].summary);
    if (help == CLI_HELP_SUMMARY) {
        printf("\nRun 'northstar %s <subcommand> --help' for its options.\n", cmd);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *hargv[] = {(char *)subs[i].name, "--help", NULL};
        printf("\n");
        fflush(stdout);
        subs[i].fn(2, hargv);
    }
}

int cli_dispatch(int argc, char **argv, const char *cmd, const char *intro, const cli_sub *subs, size_t n, int help)
{
    char names[512];
    names_of(subs, n, names, sizeof names);
    if (argc < 2) return cli_usage_error(cmd, "missing subcommand (%s)", names);
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        print_help(cmd, intro, subs, n, help);
        return CLI_OK;
    }
    if (sub[0] == '-')
        return cli_usage_error(cmd, "option '%s' before the subcommand: options go after it (%s)", sub, names);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(sub, subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
    return cli_usage_error(cmd, "unknown subcommand '%s' (expected %s)", sub, names);
}

/* ---- shared option sets --------------------------------------------------------------------------- */

const cli_opt cli_json_only[1] = {CLI_OPT_JSON(cli_json_opts, json)};
const cli_opt cli_k_only[1] = {CLI_OPT_K(cli_k_opts, k)};

const cli_choice cli_sync_choices[] = {{"full", NS_SYNC_FULL}, {"normal", NS_SYNC_NORMAL}, {NULL, 0}};

int cli_parse_i2i_method(const char *cmd, const char *opt, const char *arg, void *field)
{
    if (ns_i2i_method_parse(arg, field) < 0) return cli_usage_error(cmd, "%s must be ease or cosine", opt);
    return 0;
}
