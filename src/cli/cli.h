/*
 * cli.h — the northstar command: one table of subcommands (main.c), one file
 * per subcommand, shared option handling.
 *
 * Adding a command, in four steps:
 *   1. Write src/cli/cmd_<name>.c with `int cmd_<name>(int argc, char **argv)`
 *      (argv[0] is the command name) and a usage text.
 *   2. Parse options with cli_parse(): it handles --help, --quiet,
 *      --threads and reports unknown options and missing arguments by name.
 *   3. Declare it below and add a row to the table in main.c.
 *   4. Return CLI_OK (0), CLI_FAIL (1, after printing the error) or
 *      CLI_USAGE (2, bad invocation).
 */
#ifndef NS_CLI_H
#define NS_CLI_H

#include <getopt.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };
/* cli_parse results that are not argument indexes. */
enum { CLI_PARSE_BAD = -2, CLI_HELP_SHOWN = -1000 };

/* Called for each option that is not a common one; return 0, or nonzero
 * (e.g. the result of cli_usage_error()) to stop with a usage error. `arg` is NULL for flags. */
typedef int (*cli_opt_fn)(int opt, const char *arg, void *ctx);

/* getopt_long over argv with the common options added (--help/-h,
 * --quiet/-q, --threads/-j N). Returns the index of the first positional
 * argument, CLI_HELP_SHOWN after printing usage, or CLI_PARSE_BAD after
 * naming the bad option on stderr. Long options in `opts` must have flag == NULL. */
int cli_parse(int argc, char **argv, const char *cmd, const char *usage, const char *shortopts,
              const struct option *opts, cli_opt_fn on_opt, void *ctx);
/* Print "northstar <cmd>: <message> (see 'northstar <cmd> --help')" and
 * return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "northstar <cmd>: <ns_err_msg()>" and return CLI_FAIL. */
int cli_fail(const char *cmd);
/* Parse numbers from option values, naming the option on error. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* Convert a cli_parse result into the command's exit code when it is not
 * a positional index. */
#define CLI_PARSE_RETURN(r)                                                    \
    do {                                                                       \
        if ((r) == CLI_HELP_SHOWN) return CLI_OK;                              \
        if ((r) < 0) return CLI_USAGE;                                         \
    } while (0)

/* The commands. */
int cmd_version(int argc, char **argv);
int cmd_safetensors(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_demo_playground(int argc, char **argv); /* cmd_playground.c; `demo` without a subcommand */
int cmd_word2vec(int argc, char **argv);
int cmd_deepwalk(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_bm25(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_sim(int argc, char **argv);
/* train and eval: the names cmd_train / cmd_eval are taken by statics in cmd_llm.c */
int cmd_train_rec(int argc, char **argv);
int cmd_eval_rec(int argc, char **argv);
int cmd_llm(int argc, char **argv);

#endif
