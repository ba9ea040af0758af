/*
 * test_cli.c — the northstar command end to end: the real binary run
 * through a shell, checking exit codes (0 ok, 1 failure, 2 usage error),
 * that usage errors name the bad option or command, help on every command
 * in the table, `version` (text and JSON) and `safetensors inspect|check`
 * on good, corrupt and missing files.
 */
#include "integ_harness.h"
#include "northstar/tensor.h"
#include "northstar/blas.h"
#include "northstar/safetensors.h"

#include <jansson.h>

/* run(&out, "args %s", ...): "<northstar> <args>", output is stdout+stderr
 * unless the args redirect; returns the exit status (integ_harness.h). */
#define run cli_run

/* A small valid model file with a tricky tensor name and float specials. */
static const char *good_file(void)
{
    const char *path = ns_test_tmpfile("good.safetensors");
    float w[4] = {1, 2, 3, 4}, odd[3] = {1.0f, INFINITY, NAN};
    int32_t ids[3] = {7, 8, 9};
    int64_t s22[] = {2, 2}, s3[] = {3};
    ns_st_writer *wr = ns_st_writer_new();
    ASSERT_OK(ns_st_writer_add(wr, "layer.0.weight", NS_DT_F32, 2, s22, w));
    ASSERT_OK(ns_st_writer_add(wr, "ids", NS_DT_I32, 1, s3, ids));
    ASSERT_OK(ns_st_writer_add_f32(wr, "we\"ird\\name\n", NS_DT_F16, 1, s3, odd));
    ASSERT_OK(ns_st_writer_meta(wr, "config", "{\"d\": 4, \"name\": \"tiny \\\"m\\\"\"}"));
    ASSERT_OK(ns_st_writer_meta(wr, "note", "grüße\nline two"));
    ASSERT_OK(ns_st_writer_write(wr, path));
    ns_st_writer_free(wr);
    return path;
}

/* The good file cut short: the header says more than the file holds. */
static const char *corrupt_file(void)
{
    const char *good = good_file();
    char *buf;
    size_t len;
    ASSERT_OK(ns_file_read_all(good, &buf, &len, 0));
    const char *path = ns_test_tmpfile("corrupt.safetensors");
    ASSERT_OK(ns_file_write_atomic(path, buf, 40));
    free(buf);
    return path;
}

/* ===================================================================== */
/* the command table and help                                             */
/* ===================================================================== */

TEST(help_lists_commands_and_every_command_has_help)
{
    const char *forms[] = {"--help", "help", "-h"};
    char *out;
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ_INT(run(&out, "%s", forms[i]), 0);
        ASSERT_HAS(out, "usage: northstar <command>");
        ASSERT_HAS(out, "safetensors");
        ASSERT_HAS(out, "version");
        ASSERT_HAS(out, "help");
        if (i < 2) free(out);
    }
    /* Every command listed answers `help <cmd>` and `<cmd> --help` with its
     * usage on stdout and exit 0. */
    char *p = strstr(out, "Commands:\n");
    ASSERT(p != NULL);
    p += strlen("Commands:\n");
    int n = 0;
    while (p[0] == ' ' && p[1] == ' ') {
        char name[64];
        ASSERT(sscanf(p, " %63s", name) == 1);
        p = strchr(p, '\n');
        ASSERT(p != NULL);
        p++;
        if (!strcmp(name, "help")) continue;
        char *h, *h2, want[100];
        snprintf(want, sizeof want, "usage: northstar %s", name);
        ASSERT_EQ_INT(run(&h, "help %s 2>/dev/null", name), 0);
        ASSERT_HAS(h, want);
        ASSERT_EQ_INT(run(&h2, "%s --help 2>/dev/null", name), 0);
        ASSERT_STREQ(h2, h);
        free(h2);
        ASSERT_EQ_INT(run(&h2, "%s -h 2>/dev/null", name), 0);
        ASSERT_STREQ(h2, h);
        free(h);
        free(h2);
        n++;
    }
    ASSERT(n >= 2);
    free(out);
}

TEST(no_arguments_is_a_usage_error)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "2>&1 >/dev/null"), 2); /* help goes to stderr */
    ASSERT_HAS(out, "usage: northstar <command>");
    free(out);
    /* help CMD SUB is CMD SUB --help; help --help is the general help */
    ASSERT_EQ_INT(run(&out, "help index build"), 0);
    ASSERT_HAS(out, "usage: northstar index build");
    free(out);
    ASSERT_EQ_INT(run(&out, "help --help"), 0);
    ASSERT_HAS(out, "usage: northstar <command>");
    free(out);
}

TEST(unknown_command_is_named)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "frobnicate --x"), 2);
    ASSERT_HAS(out, "unknown command 'frobnicate'");
    free(out);
    ASSERT_EQ_INT(run(&out, "help frobnicate"), 2);
    ASSERT_HAS(out, "unknown command 'frobnicate'");
    free(out);
    /* An option before the command. */
    ASSERT_EQ_INT(run(&out, "--quiet version"), 2);
    ASSERT_HAS(out, "'--quiet'");
    free(out);
}

/* ===================================================================== */
/* option errors                                                          */
/* ===================================================================== */

TEST(unknown_options_are_named)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "version --bogus"), 2);
    ASSERT_HAS(out, "unknown option '--bogus'");
    ASSERT_HAS(out, "northstar version --help");
    free(out);
    ASSERT_EQ_INT(run(&out, "version --bogus=7"), 2);
    ASSERT_HAS(out, "unknown option '--bogus'");
    free(out);
    ASSERT_EQ_INT(run(&out, "version -x"), 2);
    ASSERT_HAS(out, "unknown option '-x'");
    free(out);
    ASSERT_EQ_INT(run(&out, "version -qZ"), 2); /* inside a group of short options */
    ASSERT_HAS(out, "unknown option '-Z'");
    free(out);
    /* After a positional argument (getopt permutes argv). */
    ASSERT_EQ_INT(run(&out, "safetensors check x.safetensors --bogus"), 2);
    ASSERT_HAS(out, "unknown option '--bogus'");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors check x.safetensors -Z"), 2);
    ASSERT_HAS(out, "unknown option '-Z'");
    free(out);
}

TEST(flag_given_a_value)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "version --json=yes"), 2);
    ASSERT_HAS(out, "option '--json' takes no value");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors inspect --stats=1 x.safetensors"), 2);
    ASSERT_HAS(out, "option '--stats' takes no value");
    free(out);
    ASSERT_EQ_INT(run(&out, "version --quiet=1"), 2);
    ASSERT_HAS(out, "'--quiet' takes no value");
    free(out);
}

TEST(missing_option_value)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "version --threads"), 2);
    ASSERT_HAS(out, "option '--threads' needs a value");
    free(out);
    ASSERT_EQ_INT(run(&out, "version -j"), 2);
    ASSERT_HAS(out, "option '-j' needs a value");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors check x.safetensors --threads"), 2);
    ASSERT_HAS(out, "option '--threads' needs a value");
    free(out);
}

TEST(bad_thread_counts)
{
    const char *bad[] = {"--threads abc", "--threads=2x", "-j ''", "--threads=0", "-j -3", "--threads 1025",
                         "--threads=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out;
        ASSERT_EQ_INT(run(&out, "version %s", bad[i]), 2);
        ASSERT_HAS(out, "--threads");
        free(out);
    }
    char *out;
    ASSERT_EQ_INT(run(&out, "version --threads abc"), 2);
    ASSERT_HAS(out, "expects an integer, got 'abc'");
    free(out);
    ASSERT_EQ_INT(run(&out, "version --threads=0"), 2);
    ASSERT_HAS(out, "between 1 and 1024, got 0");
    free(out);
}

/* ===================================================================== */
/* version                                                                */
/* ===================================================================== */

TEST(version_text_and_json)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "version"), 0);
    ASSERT_HAS(out, "northstar " NS_VERSION);
    ASSERT_HAS(out, "OpenBLAS");
    free(out);
    ASSERT_EQ_INT(run(&out, "--version"), 0);
    ASSERT_HAS(out, "northstar " NS_VERSION);
    free(out);
    ASSERT_EQ_INT(run(&out, "version --json --threads 3 2>/dev/null"), 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    ASSERT_MSG(o != NULL, "version --json is not JSON: %s", je.text);
    ASSERT_STREQ(json_string_value(json_object_get(o, "version")), NS_VERSION);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "threads")), 3);
    ASSERT(json_integer_value(json_object_get(o, "cpus")) >= 1);
    ASSERT(json_is_string(json_object_get(o, "compiler")));
    ASSERT(json_is_string(json_object_get(o, "openblas")));
    ASSERT(json_is_string(json_object_get(o, "simd")));
    json_decref(o);
    free(out);
    ASSERT_EQ_INT(run(&out, "version extra"), 2);
    ASSERT_HAS(out, "unexpected argument 'extra'");
    free(out);
}

/* The command is where the README says: build/northstar (README,
 * Makefile's demo, bench/run.sh all run it from there). */
TEST(command_is_at_the_top_of_the_build_dir)
{
    char want[4096];
    snprintf(want, sizeof want, "%s/northstar", NS_BINARY_DIR);
    ASSERT_STREQ(ns_test_northstar_bin(), want);
    ASSERT(access(want, X_OK) == 0);
}

/* On a CPU this OpenBLAS does not know (it would run its generic Prescott
 * kernels) the command names the kernels the CPU supports and runs on them;
 * OPENBLAS_CORETYPE set by the user is left alone. */
TEST(command_runs_on_the_blas_kernels_the_cpu_supports)
{
    const char *want = ns_blas_core_override();
    char *out;
    ASSERT_EQ_INT(run(&out, "version"), 0);
    if (want) {
        printf("  OpenBLAS chose %s here; the command runs on %s\n", ns_blas_core(), want);
        ASSERT_HAS(out, want);
    } else {
        printf("  OpenBLAS's own choice stands: %s\n", ns_blas_core());
        ASSERT_HAS(out, ns_blas_core());
    }
    free(out);
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=Prescott '%s' version", ns_test_northstar_bin());
    ASSERT_EQ_INT(ns_test_run(cmd, &out), 0);
    ASSERT_HAS(out, "Prescott");
    free(out);
}

/* ===================================================================== */
/* safetensors                                                            */
/* ===================================================================== */

TEST(safetensors_inspect_good_file)
{
    const char *path = good_file();
    char *out;
    ASSERT_EQ_INT(run(&out, "safetensors inspect --stats '%s'", path), 0);
    ASSERT_HAS(out, "3 tensors");
    ASSERT_HAS(out, "layer.0.weight");
    ASSERT_HAS(out, "[2, 2]");
    ASSERT_HAS(out, "min 1 ");
    ASSERT_HAS(out, "max 4 ");
    ASSERT_HAS(out, "mean 2.5");
    ASSERT_HAS(out, "2 non-finite");
    ASSERT_HAS(out, "we\"ird\\name\\n"); /* the newline in the name is shown escaped */
    ASSERT_HAS(out, "meta note = grüße\\nline two");
    ASSERT_HAS(out, "total 34 bytes");
    free(out);

    ASSERT_EQ_INT(run(&out, "safetensors inspect --json --stats '%s' 2>/dev/null", path), 0);
    json_error_t je;
    json_t *o = json_loads(out, 0, &je);
    ASSERT_MSG(o != NULL, "inspect --json is not JSON: %s at %d", je.text, je.position);
    ASSERT_EQ_INT(json_integer_value(json_object_get(o, "bytes")), 34);
    json_t *ts = json_object_get(o, "tensors");
    ASSERT_EQ_INT(json_array_size(ts), 3);
    int found = 0;
    for (size_t i = 0; i < json_array_size(ts); i++) {
        json_t *t = json_array_get(ts, i);
        const char *name = json_string_value(json_object_get(t, "name"));
        if (!strcmp(name, "layer.0.weight")) {
            found |= 1;
            ASSERT_STREQ(json_string_value(json_object_get(t, "dtype")), "F32");
            ASSERT_EQ_INT(json_array_size(json_object_get(t, "shape")), 2);
            ASSERT_NEAR(json_real_value(json_object_get(t, "min")), 1.0, 0);
            ASSERT_NEAR(json_real_value(json_object_get(t, "max")), 4.0, 0);
            ASSERT_NEAR(json_real_value(json_object_get(t, "mean")), 2.5, 1e-12);
            ASSERT_NEAR(json_real_value(json_object_get(t, "std")), sqrt(1.25), 1e-8);
        } else if (!strcmp(name, "we\"ird\\name\n")) {
            found |= 2;
            ASSERT_STREQ(json_string_value(json_object_get(t, "dtype")), "F16");
            ASSERT_EQ_INT(json_integer_value(json_object_get(t, "nonfinite")), 2);
        } else if (!strcmp(name, "ids")) {
            found |= 4;
            ASSERT(json_object_get(t, "mean") == NULL); /* integers have no stats */
        }
    }
    ASSERT_EQ_INT(found, 7);
    json_t *meta = json_object_get(o, "metadata");
    ASSERT_STREQ(json_string_value(json_object_get(meta, "note")), "grüße\nline two");
    json_t *cfg = json_loads(json_string_value(json_object_get(meta, "config")), 0, &je);
    ASSERT(cfg && json_integer_value(json_object_get(cfg, "d")) == 4);
    json_decref(cfg);
    json_decref(o);
    free(out);
}

TEST(safetensors_check_good_corrupt_missing)
{
    const char *good = good_file(), *bad = corrupt_file(), *missing = ns_test_tmpfile("missing.safetensors");
    char *out;
    ASSERT_EQ_INT(run(&out, "safetensors check '%s'", good), 0);
    ASSERT_HAS(out, "good.safetensors: ok (3 tensors)");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors check '%s'", bad), 1);
    ASSERT_HAS(out, "corrupt.safetensors: header length");
    ASSERT_HAS(out, "runs past the end of the file (40 bytes)");
    ASSERT_HAS(out, "NS_ETRUNCATED");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors check '%s'", missing), 1);
    ASSERT_HAS(out, "missing.safetensors");
    ASSERT_HAS(out, "NS_ENOTFOUND");
    free(out);
    /* Several files: every one reported, failure if any is bad. */
    ASSERT_EQ_INT(run(&out, "safetensors check '%s' '%s' '%s'", good, bad, good), 1);
    ASSERT_HAS(out, "ok (3 tensors)");
    ASSERT_HAS(out, "NS_ETRUNCATED");
    free(out);
}

TEST(safetensors_inspect_corrupt_and_missing)
{
    const char *bad = corrupt_file(), *missing = ns_test_tmpfile("missing.safetensors");
    char *out;
    ASSERT_EQ_INT(run(&out, "safetensors inspect '%s' 2>&1 >/dev/null", bad), 1);
    ASSERT_HAS(out, "northstar safetensors: ");
    ASSERT_HAS(out, "corrupt.safetensors: header length");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors inspect --json '%s'", missing), 1);
    ASSERT_HAS(out, "missing.safetensors");
    ASSERT_HAS(out, "No such file");
    free(out);
    /* A directory is not a model file. */
    ASSERT_EQ_INT(run(&out, "safetensors inspect '%s'", ns_test_tmpdir()), 1);
    ASSERT_HAS(out, "directory");
    free(out);
}

TEST(safetensors_usage_errors)
{
    char *out;
    ASSERT_EQ_INT(run(&out, "safetensors"), 2);
    ASSERT_HAS(out, "missing subcommand");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors frob x"), 2);
    ASSERT_HAS(out, "unknown subcommand 'frob'");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors inspect"), 2);
    ASSERT_HAS(out, "exactly one FILE");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors inspect a b"), 2);
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors check"), 2);
    ASSERT_HAS(out, "at least one FILE");
    free(out);
    ASSERT_EQ_INT(run(&out, "safetensors inspect --help"), 0);
    ASSERT_HAS(out, "usage: northstar safetensors");
    free(out);
}

/* ===================================================================== */
/* each (sub)command's help lists options it takes                        */
/* ===================================================================== */

/* Every --option on an option line (one starting with '-') or a usage line
 * of `northstar <cmd> --help`, outside a quoted 'northstar ...' reference to
 * another command, is one the command takes: given with a value before
 * --help, it is never an unknown option. */
static void help_options_are_taken(const char *cmd)
{
    char c[512], *help = NULL;
    snprintf(c, sizeof c, "'%s' %s --help", ns_test_northstar_bin(), cmd);
    ASSERT_EQ_INT(ns_test_run(c, &help), 0);
    int checked = 0;
    for (char *line = help, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        const char *s = line + strspn(line, " ");
        if (*s != '-' && strncmp(s, "usage:", 6) && strncmp(s, "northstar ", 10)) continue;
        for (char *q = strstr(line, "'northstar "); q; q = strstr(q, "'northstar "))
            for (*q++ = ' '; *q && *q != '\''; q++) *q = ' ';
        for (const char *p = strstr(s, "--"); p; p = strstr(p + 2, "--")) {
            size_t n = strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
            if (n == 0 || (p > s && p[-1] != ' ' && p[-1] != '[' && p[-1] != '(' && p[-1] != '|')) continue;
            char *out = NULL;
            snprintf(c, sizeof c, "'%s' %s --%.*s=1 --help", ns_test_northstar_bin(), cmd, (int)n, p + 2);
            ns_test_run(c, &out);
            if (strstr(out, "unknown option")) FAIL("'northstar %s --help' lists --%.*s: %s", cmd, (int)n, p + 2, out);
            free(out);
            checked++;
        }
    }
    printf("  %s: %d options in the help, all taken\n", cmd, checked);
    free(help);
}

TEST(subcommand_help_lists_options_it_takes)
{
    static const char *const cmds[] = {
        "llm tokenizer", "llm train", "llm generate", "llm chat", "llm finetune-classify", "llm sft", "llm export",
        "llm eval", "llm info", "bm25 build", "bm25 search", "bm25 stats", "index build", "index search",
        "index stats", "word2vec train", "word2vec similar", "word2vec analogy", "word2vec eval", "rank train",
        "rank eval", "rank predict", "rank inspect", "rank featurize", "safetensors inspect", "safetensors check",
        "demo mlp", "demo", "deepwalk", "import", "serve", "sim", "train", "eval", "version"};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) help_options_are_taken(cmds[i]);
}

/* A subcommand takes only its own options: another one's is a usage error
 * naming it, before any file is opened. */
TEST(option_of_another_subcommand_is_a_usage_error)
{
    static const char *const cases[][2] = {
        {"llm info --temperature 1 /nonexistent.safetensors", "'--temperature'"},
        {"llm export -m /nonexistent.st -o x.bin --steps 3", "'--steps'"},
        {"llm tokenizer encode -m /nonexistent.st hello", "'-m'"},
        {"bm25 stats --k1 2 /nonexistent.bm25", "'--k1'"},
        {"index search /nonexistent.hnsw -v 1,2 --M 8", "'--M'"},
        {"rank inspect --epochs 3 /nonexistent.safetensors", "'--epochs'"},
        {"word2vec similar --dim 8 /nonexistent.vec apple", "'--dim'"},
        {"safetensors check --stats /nonexistent.safetensors", "'--stats'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[512], *out = NULL;
        snprintf(cmd, sizeof cmd, "'%s' %s", ns_test_northstar_bin(), cases[i][0]);
        ASSERT_EQ_INT(ns_test_run(cmd, &out), 2);
        ASSERT_HAS(out, "unknown option");
        ASSERT_HAS(out, cases[i][1]);
        free(out);
    }
}
