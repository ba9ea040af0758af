/*
 * main.c — the northstar command: a table of commands, git-style (each is
 * cmd_<name>(argc, argv), declared in cli.h).
 * Exit codes: 0 ok, 1 failure, 2 usage error.
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/blas.h"

#include "northstar/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"demo", cmd_demo, "the playground: simulated platform, trained models, server, dashboard"},
    {"bm25", cmd_bm25, "BM25 keyword index: build, search, stats"},
    {"index", cmd_index, "HNSW vector index: build, search, stats"},
    {"rank", cmd_rank, "feature-driven rankers: wide (FTRL), deep, Wide & Deep"},
    {"import", cmd_import, "fill the service store from MovieLens, CSV or JSONL files"},
    {"llm", cmd_llm, "train, fine-tune and run GPT-2 / Llama style language models"},
    {"safetensors", cmd_safetensors, "inspect and validate safetensors files"},
    {"serve", cmd_serve, "the recommendation service over HTTP/JSON"},
    {"sim", cmd_sim, "simulate users, items and traffic into a store or a server"},
    {"train", cmd_train, "train the recommendation pipeline's models from a store"},
    {"eval", cmd_eval, "evaluate the recommendation service as served, over HTTP (MovieLens, a store, CSV/JSONL)"},
    {"version", cmd_version, "print version and build information"},
    {"word2vec", cmd_word2vec, "train, query and evaluate word vectors (skip-gram, CBOW)"},
    {"deepwalk", cmd_deepwalk, "node vectors from random walks (DeepWalk, node2vec)"},
};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out,
            "usage: northstar <command> [options] [args]\n"
            "\n"
            "northstar — recommendation, ads and LLM serving in one C system.\n"
            "\n"
            "Commands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(out,
            "  %-14s %s\n"
            "\n"
            "Options every command takes:\n"
            "  -h, --help        show the command's help\n"
            "  -q, --quiet       errors only, no progress display\n"
            "  -j, --threads N   worker threads (default: $NS_THREADS or all CPUs)\n"
            "\n"
            "Environment: NS_THREADS, NS_LOG=error|warn|info|debug, NS_PROGRESS=0|1,\n"
            "NORTHSTAR_DATA (shared data sets for tests and benchmarks).\n"
            "Run 'northstar <command> --help' for a command's options.\n",
            "help", "show this help, or 'help <command>'");
}

/* OpenBLAS chose its generic kernels on a CPU it does not know (see
 * src/tensor/blas.c): name the right ones and start again, once. A failed
 * exec leaves us running on the generic kernels. */
static void rerun_with_blas_core(char **argv)
{
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : ns_blas_core_override();
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    execv("/proc/self/exe", argv);
}

/* `northstar help [CMD [SUB ...]]`: the general help, or the help of a
 * command or subcommand (`help llm generate` = `llm generate --help`). */
static int help(int argc, char **argv)
{
    int first = strcmp(argv[1], "help") == 0 ? 2 : argc; /* `--help`, `-h`: the general help */
    if (first >= argc || !strcmp(argv[first], "--help") || !strcmp(argv[first], "-h")) {
        print_help(stdout);
        return CLI_OK;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, argv[first])) {
            char *hargv[16];
            int n = 0;
            for (int k = first; k < argc && n < 14; k++) hargv[n++] = argv[k];
            hargv[n++] = "--help";
            hargv[n] = NULL;
            return commands[i].fn(n, hargv);
        }
    fprintf(stderr, "northstar: unknown command '%s' (see 'northstar help')\n", argv[first]);
    return CLI_USAGE;
}

int main(int argc, char **argv)
{
    rerun_with_blas_core(argv);
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) return help(argc, argv);
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) name = "version";
    if (name[0] == '-') {
        fprintf(stderr, "northstar: unknown option '%s': options go after the command (see 'northstar help')\n", name);
        return CLI_USAGE;
    }
    for (int i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "northstar: unknown command '%s' (see 'northstar help')\n", name);
    return CLI_USAGE;
}
