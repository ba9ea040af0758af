/*
 * cli_secret.c — tokens for the command line without leaking them: from a
 * file (its first line), from an option's value (then wiped from the
 * process's arguments, which anyone on the machine can read in
 * /proc/PID/cmdline), or from an environment variable.
 */
#include "cli.h"
#include "northstar/base.h"

#include <stdlib.h>
#include <string.h>

/* The first line of `file`, without its line ending; a usage error names
 * the option when the file cannot be read or holds no token. */
static int from_file(const char *cmd, const char *opt, const char *file, char **out)
{
    char *buf;
    size_t len;
    if (ns_file_read_all(file, &buf, &len, 1 << 16) < 0) return cli_usage_error(cmd, "%s-file: %s", opt, ns_err_msg());
    size_t n = strcspn(buf, "\r\n");
    buf[n] = 0;
    if (!n || !ns_utf8_valid(buf, n) || memchr(buf, 0, len) != buf + n) {
        free(buf);
        return cli_usage_error(cmd, "%s-file %s: expected the token on its first line", opt, file);
    }
    *out = buf;
    return 0;
}

int cli_secret(const char *cmd, const char *opt, const char *value, const char *file, const char *env, char **out)
{
    *out = NULL;
    if (file) return from_file(cmd, opt, file, out);
    if (value) {
        if (!*value) return cli_usage_error(cmd, "%s: an empty token", opt);
        if (!(*out = ns_strdup(value))) return cli_fail(cmd);
        memset((char *)value, 'x', strlen(value)); /* the option's value lives in argv */
        return 0;
    }
    const char *e = env ? getenv(env) : NULL;
    if (e && *e && !(*out = ns_strdup(e))) return cli_fail(cmd);
    return 0;
}
