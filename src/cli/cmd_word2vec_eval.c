/*
 * cmd_word2vec_eval.c — `northstar word2vec eval`: score vector files
 * (word2vec text or binary, fastText .vec) on WordSim-353 and SimLex-999
 * (Spearman, with coverage) and the questions-words analogies (top-1).
 */
#include "cli.h"
#include "northstar/base.h"
#include "northstar/vec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: northstar word2vec eval [--wordsim F] [--simlex F] [--analogy F] [--restrict N]\n"
    "                               [--json] VECTORS...\n"
    "\n"
    "WordSim-353 and SimLex-999 Spearman (with coverage) and questions-words\n"
    "accuracy over the --restrict most frequent words (30000), for each file\n"
    "(word2vec text or binary, fastText .vec). Without set options the sets\n"
    "in $NORTHSTAR_DATA/wordsim (or ../shared/data/wordsim) are used.\n";

#define CMD "word2vec"

typedef struct {
    const char *wordsim, *simlex, *analogy;
    long restrict_rows;
    int json;
} eval_opts;

static const cli_opt opts[] = {
    CLI_STR("wordsim", 0, eval_opts, wordsim),
    CLI_STR("simlex", 0, eval_opts, simlex),
    CLI_STR("analogy", 0, eval_opts, analogy),
    CLI_LONG("restrict", 0, eval_opts, restrict_rows, 1, 1L << 31),
    CLI_OPT_JSON(eval_opts, json),
};

/* The three sets under the data directory: $NORTHSTAR_DATA, ../shared/data,
 * or <worktree>/../shared/data seen from <worktree>/build/northstar. */
static int default_sets(eval_opts *o)
{
    static char ws[4096], sl[4096], an[4096], exe_rel[4096];
    const char *dir = ns_data_dir("../shared/data");
    if (!dir) {
        char exe[3000];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) *slash = 0;
            snprintf(exe_rel, sizeof exe_rel, "%s/../../shared/data", exe);
            dir = ns_data_dir(exe_rel);
        }
    }
    if (!dir)
        return cli_usage_error(CMD, "no evaluation sets given and no data directory "
                                    "($NORTHSTAR_DATA or ../shared/data)");
    snprintf(ws, sizeof ws, "%s/wordsim/wordsim353/combined.csv", dir);
    snprintf(sl, sizeof sl, "%s/wordsim/SimLex-999/SimLex-999.txt", dir);
    snprintf(an, sizeof an, "%s/wordsim/questions-words.txt", dir);
    o->wordsim = ws;
    o->simlex = sl;
    o->analogy = an;
    return CLI_OK;
}

static void json_num(const char *key, double x, int comma)
{
    if (isnan(x)) printf("\"%s\":null%s", key, comma ? "," : "");
    else printf("\"%s\":%.6g%s", key, x, comma ? "," : "");
}

static void print_row(const eval_opts *o, const char *file, const ns_vectors *v, const ns_wordsim_result *w,
                      const ns_wordsim_result *s, const ns_analogy_result *an)
{
    if (o->json) {
        printf("{\"file\":\"%s\",\"words\":%lld,\"dim\":%d,", file, (long long)v->n, v->dim);
        json_num("wordsim353", w->spearman, 1);
        printf("\"wordsim353_found\":%d,\"wordsim353_pairs\":%d,", w->found, w->pairs);
        json_num("simlex999", s->spearman, 1);
        printf("\"simlex999_found\":%d,\"simlex999_pairs\":%d,", s->found, s->pairs);
        json_num("analogy", an->accuracy, 1);
        printf("\"analogy_covered\":%d,\"analogy_questions\":%d,\"analogy_correct\":%d}\n", an->covered,
               an->questions, an->correct);
        return;
    }
    char c1[32], c2[32], c3[48];
    snprintf(c1, sizeof c1, "%.4f (%d/%d)", w->spearman, w->found, w->pairs);
    snprintf(c2, sizeof c2, "%.4f (%d/%d)", s->spearman, s->found, s->pairs);
    snprintf(c3, sizeof c3, "%.2f%% (%d/%d)", 100 * an->accuracy, an->covered, an->questions);
    printf("%-36s %-22s %-22s %s\n", file, o->wordsim ? c1 : "-", o->simlex ? c2 : "-", o->analogy ? c3 : "-");
}

/* Score one file; CLI_FAIL after printing the error. */
static int eval_file(const eval_opts *o, const char *file)
{
    ns_vectors *v;
    if (ns_vec_read(&v, file) < 0) return cli_fail(CMD);
    ns_wordsim_result w = {NAN, 0, 0}, s = {NAN, 0, 0};
    ns_analogy_result an;
    memset(&an, 0, sizeof an);
    int ok = (!o->wordsim || ns_vec_eval_wordsim(v, o->wordsim, &w) >= 0) &&
             (!o->simlex || ns_vec_eval_wordsim(v, o->simlex, &s) >= 0) &&
             (!o->analogy || ns_vec_eval_analogy(v, o->analogy, o->restrict_rows, &an) >= 0);
    if (ok) print_row(o, file, v, &w, &s, &an);
    ns_vec_free(v);
    return ok ? CLI_OK : cli_fail(CMD);
}

int cmd_word2vec_eval(int argc, char **argv)
{
    eval_opts o = {NULL, NULL, NULL, 30000, 0};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error(CMD, "eval needs at least one VECTORS file");
    if (!o.wordsim && !o.simlex && !o.analogy && default_sets(&o) != CLI_OK) return CLI_USAGE;
    if (!o.json)
        printf("%-36s %-22s %-22s %s\n", "vectors", "WordSim-353 (pairs)", "SimLex-999 (pairs)",
               "analogy top-1 (covered)");
    int rc = CLI_OK;
    for (int a = r; a < argc; a++)
        if (eval_file(&o, argv[a]) != CLI_OK) rc = CLI_FAIL;
    return rc;
}
