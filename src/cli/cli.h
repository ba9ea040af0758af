/*
 * cli.h — the northstar command: one table of commands (main.c), one file
 * per command and per subcommand, each with its own option table, parsed by
 * one engine (cli.c) that also holds the option sets several commands share.
 *
 * Adding a command, in four steps:
 *   1. Write src/cli/cmd_<name>.c with `int cmd_<name>(int argc, char **argv)`
 *      (argv[0] is the command name), a struct of its options with their
 *      defaults, and a usage text that lists exactly the options it takes.
 *   2. Describe the options in a table of cli_opt rows (CLI_STR, CLI_INT, ...,
 *      and the shared sets CLI_OPT_JSON, CLI_OPT_SEED, ...) and parse with
 *      CLI_PARSE(): it fills the struct, handles --help, --quiet, --threads,
 *      and names every unknown option, missing value and bad number.
 *   3. Declare it below and add a row to the table in main.c. A subcommand
 *      (`northstar <cmd> <sub>`, file cmd_<cmd>_<sub>.c) gets a row in its
 *      command's cli_sub table instead, dispatched by CLI_DISPATCH().
 *   4. Return CLI_OK (0), CLI_FAIL (1, after printing the error) or
 *      CLI_USAGE (2, bad invocation).
 *
 * Example
 *   typedef struct { const char *in; int k; int json; } find_opts;
 *   static const cli_opt opts[] = {
 *       CLI_STR("input", 'i', find_opts, in),
 *       CLI_INT("k", 0, find_opts, k, 1, 1000),
 *       CLI_OPT_JSON(find_opts, json),
 *   };
 *   find_opts o = {NULL, 10, 0};
 *   int r = CLI_PARSE(argc, argv, "find", usage, opts, &o);
 *   CLI_PARSE_RETURN(r);          // argv[r..] are the positional arguments
 */
#ifndef NS_CLI_H
#define NS_CLI_H

#include <stddef.h>
#include <stdint.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };
/* cli_parse results that are not argument indexes. */
enum { CLI_PARSE_BAD = -2, CLI_HELP_SHOWN = -1000 };

/* ===================================================================== */
/* Option tables                                                          */
/* ===================================================================== */

typedef enum {
    CLI_K_FLAG,   /* no value: stores .lo into an int */
    CLI_K_STR,    /* const char *, pointing into argv */
    CLI_K_INT,    /* int, long, uint64_t, size_t: an integer in [lo, hi] */
    CLI_K_LONG,
    CLI_K_U64,
    CLI_K_SIZE,
    CLI_K_FLOAT,  /* float, double: a number in [dlo, dhi] */
    CLI_K_DOUBLE,
    CLI_K_CHOICE, /* one of .choices' names: stores its value into an int-sized field */
    CLI_K_CALL,   /* .fn parses the value into the field */
} cli_kind;

typedef struct cli_choice {
    const char *name;
    int value;
} cli_choice; /* lists end with {NULL, 0} */

/* Parse `arg`, the value of option `opt` ("--name"), into `field`; return 0,
 * or the result of cli_usage_error(). */
typedef int (*cli_parse_fn)(const char *cmd, const char *opt, const char *arg, void *field);

typedef struct cli_opt {
    const char *name;          /* long name without "--"; NULL for a short option only */
    char shortname;            /* 'k' for -k, or 0 */
    cli_kind kind;
    size_t off;                /* offset of the field in the struct CLI_PARSE fills */
    long lo, hi;               /* integer kinds: the range; CLI_K_FLAG: the value stored */
    double dlo, dhi;           /* CLI_K_FLOAT, CLI_K_DOUBLE: the range */
    const cli_choice *choices; /* CLI_K_CHOICE */
    cli_parse_fn fn;           /* CLI_K_CALL */
} cli_opt;

/* offsetof(T, f), and a compile error unless field f of T has type `type`. */
#define CLI_FIELD_(T, f, type) (offsetof(T, f) + 0 * sizeof(*(type **)0 = &((T *)0)->f))
/* offsetof(T, f), and a compile error unless field f is as large as an int (an enum). */
#define CLI_INTSIZED_(T, f) (offsetof(T, f) + 0 * sizeof(char[sizeof(((T *)0)->f) == sizeof(int) ? 1 : -1]))

/* The rows. nm: long name or NULL; sh: short letter or 0; T: the options
 * struct; f: the field (may be nested: "cfg.batch"). */
#define CLI_ROW_(nm, sh, k, offset) .name = nm, .shortname = sh, .kind = k, .off = offset
#define CLI_INTEGER_(k, type, nm, sh, T, f, l, h) {CLI_ROW_(nm, sh, k, CLI_FIELD_(T, f, type)), .lo = l, .hi = h}
#define CLI_REAL_(k, type, nm, sh, T, f, l, h) {CLI_ROW_(nm, sh, k, CLI_FIELD_(T, f, type)), .dlo = l, .dhi = h}

#define CLI_FLAG(nm, sh, T, f) CLI_SET(nm, sh, T, f, 1)
#define CLI_SET(nm, sh, T, f, v) {CLI_ROW_(nm, sh, CLI_K_FLAG, CLI_FIELD_(T, f, int)), .lo = v}
#define CLI_STR(nm, sh, T, f) {CLI_ROW_(nm, sh, CLI_K_STR, CLI_FIELD_(T, f, const char *))}
#define CLI_INT(nm, sh, T, f, l, h) CLI_INTEGER_(CLI_K_INT, int, nm, sh, T, f, l, h)
#define CLI_LONG(nm, sh, T, f, l, h) CLI_INTEGER_(CLI_K_LONG, long, nm, sh, T, f, l, h)
#define CLI_U64(nm, sh, T, f, l, h) CLI_INTEGER_(CLI_K_U64, uint64_t, nm, sh, T, f, l, h)
#define CLI_SIZE(nm, sh, T, f, l, h) CLI_INTEGER_(CLI_K_SIZE, size_t, nm, sh, T, f, l, h)
#define CLI_FLOAT(nm, sh, T, f, l, h) CLI_REAL_(CLI_K_FLOAT, float, nm, sh, T, f, l, h)
#define CLI_DOUBLE(nm, sh, T, f, l, h) CLI_REAL_(CLI_K_DOUBLE, double, nm, sh, T, f, l, h)
#define CLI_CHOICE(nm, sh, T, f, list) {CLI_ROW_(nm, sh, CLI_K_CHOICE, CLI_INTSIZED_(T, f)), .choices = list}
#define CLI_CALL(nm, sh, T, f, type, parse) {CLI_ROW_(nm, sh, CLI_K_CALL, CLI_FIELD_(T, f, type)), .fn = parse}

/* The number of rows of an array (a compile error for a pointer). */
#define CLI_COUNT(a)                 \
    (sizeof(a) / sizeof((a)[0]) + \
     0 * sizeof(char[1 - 2 * __builtin_types_compatible_p(__typeof__(a), __typeof__(&(a)[0]))]))

/* getopt_long over argv with the rows of `opts` (n of them) and the options
 * every command takes (--help/-h, --quiet/-q, --threads/-j N; a short letter
 * the table uses itself is the table's). Values go into the fields of
 * `target`. Returns the index of the first positional argument (options may
 * follow positionals), CLI_HELP_SHOWN after printing usage to stdout, or
 * CLI_PARSE_BAD after naming the bad option on stderr. */
int cli_parse(int argc, char **argv, const char *cmd, const char *usage, const cli_opt *opts, size_t n, void *target);
#define CLI_PARSE(argc, argv, cmd, usage, table, target) \
    cli_parse(argc, argv, cmd, usage, table, CLI_COUNT(table), target)
/* A command without options of its own. */
#define CLI_PARSE_NONE(argc, argv, cmd, usage) cli_parse(argc, argv, cmd, usage, NULL, 0, NULL)

/* Convert a cli_parse result into the command's exit code when it is not
 * a positional index. */
#define CLI_PARSE_RETURN(r)                                                    \
    do {                                                                       \
        if ((r) == CLI_HELP_SHOWN) return CLI_OK;                              \
        if ((r) < 0) return CLI_USAGE;                                         \
    } while (0)

/* ===================================================================== */
/* Option sets several commands share                                     */
/* ===================================================================== */

/* --json: print JSON instead of text (into an int). */
#define CLI_OPT_JSON(T, f) CLI_FLAG("json", 0, T, f)
/* A command whose one option is --json, and one whose one option is -k. */
typedef struct {
    int json;
} cli_json_opts;
extern const cli_opt cli_json_only[1];
typedef struct {
    int k;
} cli_k_opts;
extern const cli_opt cli_k_only[1];
/* --seed N: 0 .. 2^63-1 (into a uint64_t). */
#define CLI_OPT_SEED(T, f) CLI_U64("seed", 0, T, f, 0, INT64_MAX)
/* -o, --output FILE and -o, --out FILE: what the command writes. */
#define CLI_OPT_OUTPUT(T, f) CLI_STR("output", 'o', T, f)
#define CLI_OPT_OUT(T, f) CLI_STR("out", 'o', T, f)
/* -k N: results per query, 1 .. 1000000 (into an int). */
#define CLI_OPT_K(T, f) CLI_INT(NULL, 'k', T, f, 1, 1000000)
/* --db FILE: the service's store. */
#define CLI_OPT_DB(T, f) CLI_STR("db", 0, T, f)
/* --sync full|normal: the store's durability (into an ns_store_sync). */
extern const cli_choice cli_sync_choices[];
#define CLI_OPT_SYNC(T, f) CLI_CHOICE("sync", 0, T, f, cli_sync_choices)
/* The item-to-item model of `northstar train` and `northstar eval`, into the
 * ns_bundle_opts `b`: --method ease|cosine, --lambda X, --neighbours N,
 * --no-ranker. */
int cli_parse_i2i_method(const char *cmd, const char *opt, const char *arg, void *field);
#define CLI_OPTS_BUNDLE(T, b)                                                            \
    CLI_CALL("method", 0, T, b.i2i.method, ns_i2i_method, cli_parse_i2i_method),         \
    CLI_DOUBLE("lambda", 0, T, b.i2i.lambda, 1e-6, 1e9),                                 \
    CLI_INT("neighbours", 0, T, b.i2i.neighbours, 0, 1000000),                           \
    CLI_SET("no-ranker", 0, T, b.ranker, 0),                                             \
    CLI_STR("ranker-drop", 0, T, b.rank_drop),                                           \
    CLI_SET("no-rank-select", 0, T, b.rank_select, 0),                                  \
    CLI_SET("mf", 0, T, b.quota_mf, 200),                                                \
    CLI_SET("no-mf", 0, T, b.quota_mf, 0),                                               \
    CLI_INT("mf-dim", 0, T, b.mf.dim, 1, NS_ALS_MAX_DIM),                                \
    CLI_DOUBLE("mf-alpha", 0, T, b.mf.alpha, 0, 1e6),                                    \
    CLI_DOUBLE("mf-lambda", 0, T, b.mf.lambda, 1e-6, 1e9),                               \
    CLI_INT("mf-iters", 0, T, b.mf.iters, 0, 1000)

/* ===================================================================== */
/* Subcommands and messages                                               */
/* ===================================================================== */

typedef struct cli_sub {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the subcommand's name */
    const char *summary;              /* one line for the command's --help */
} cli_sub;

/* How `northstar <cmd> --help` shows the subcommands: their summaries, then
 * a pointer to each one's --help (CLI_HELP_SUMMARY), or the summaries and
 * then each subcommand's full help (CLI_HELP_FULL). */
enum { CLI_HELP_SUMMARY = 0, CLI_HELP_FULL = 1 };

/* `northstar <cmd> <sub> ...`: argv[1] names the subcommand in subs; it
 * runs with argv + 1. --help/-h prints `intro`, the subcommands and their
 * help as `help` says; a missing or unknown subcommand or an option before
 * it is a usage error. */
int cli_dispatch(int argc, char **argv, const char *cmd, const char *intro, const cli_sub *subs, size_t n, int help);
#define CLI_DISPATCH(argc, argv, cmd, intro, subs, help) \
    cli_dispatch(argc, argv, cmd, intro, subs, CLI_COUNT(subs), help)

/* Print "northstar <cmd>: <message> (see 'northstar <cmd> --help')" and
 * return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "northstar <cmd>: <ns_err_msg()>" and return CLI_FAIL. */
int cli_fail(const char *cmd);
/* Parse numbers from option values, naming the option on error. */
int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* A token (malloc'd into *out, NULL when none is given) from `file` (its
 * first line), else from `value` (an option's value, which is then wiped
 * from the process's arguments), else from $env (may be NULL). A usage
 * error names `opt` ("--write-token"). */
int cli_secret(const char *cmd, const char *opt, const char *value, const char *file, const char *env, char **out);
/* Print j (a reference the call takes; NULL: it could not be built) as one
 * line of JSON dumped with `flags` (JSON_COMPACT, ...); CLI_OK or CLI_FAIL. */
typedef struct json_t json_t;
int cli_put_json(const char *cmd, json_t *j, size_t flags);
/* Print text that comes from a file to stdout with control bytes escaped
 * (it must not drive the terminal), at most `max` bytes and never cutting a
 * UTF-8 sequence; "..." marks a cut. */
void cli_put_clean(const char *s, size_t max);

/* ===================================================================== */
/* The commands (main.c) and their subcommands                            */
/* ===================================================================== */

int cmd_version(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_train(int argc, char **argv); /* the recommendation pipeline's models */
int cmd_eval(int argc, char **argv);  /* the served recommendation service, scored over HTTP */
int cmd_deepwalk(int argc, char **argv);

int cmd_demo(int argc, char **argv); /* `demo` is the playground, `demo mlp` the tensor demo */
int cmd_demo_playground(int argc, char **argv);
int cmd_demo_mlp(int argc, char **argv);

int cmd_safetensors(int argc, char **argv);
int cmd_safetensors_inspect(int argc, char **argv);
int cmd_safetensors_check(int argc, char **argv);

int cmd_bm25(int argc, char **argv);
int cmd_bm25_build(int argc, char **argv);
int cmd_bm25_search(int argc, char **argv);
int cmd_bm25_stats(int argc, char **argv);

int cmd_index(int argc, char **argv);
int cmd_index_build(int argc, char **argv);
int cmd_index_search(int argc, char **argv);
int cmd_index_stats(int argc, char **argv);

int cmd_word2vec(int argc, char **argv);
int cmd_word2vec_train(int argc, char **argv);
int cmd_word2vec_similar(int argc, char **argv);
int cmd_word2vec_analogy(int argc, char **argv);
int cmd_word2vec_eval(int argc, char **argv);

int cmd_rank(int argc, char **argv);
int cmd_rank_train(int argc, char **argv);
int cmd_rank_eval(int argc, char **argv);
int cmd_rank_predict(int argc, char **argv);
int cmd_rank_inspect(int argc, char **argv);
int cmd_rank_featurize(int argc, char **argv);

int cmd_llm(int argc, char **argv);
int cmd_llm_tokenizer(int argc, char **argv);
int cmd_llm_train(int argc, char **argv);
int cmd_llm_generate(int argc, char **argv);
int cmd_llm_chat(int argc, char **argv);
int cmd_llm_finetune_classify(int argc, char **argv);
int cmd_llm_sft(int argc, char **argv);
int cmd_llm_export(int argc, char **argv);
int cmd_llm_eval(int argc, char **argv);
int cmd_llm_info(int argc, char **argv);

#endif
