/*
 * cmd_word2vec.c — `northstar word2vec train | similar | analogy | eval`:
 * train word vectors on UTF-8 text, query them, and score any word2vec or
 * fastText vector file on the standard word-similarity and analogy sets.
 */
#include "cli.h"
#include "cmd_embed.h"
#include "northstar/base.h"
#include "northstar/w2v.h"
#include "northstar/vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: northstar word2vec train [options] -o OUT INPUT...\n"
    "       northstar word2vec similar [-k N] VECTORS WORD...\n"
    "       northstar word2vec analogy [-k N] VECTORS A B C\n"
    "       northstar word2vec eval [--wordsim F] [--simlex F] [--analogy F] [--restrict N]\n"
    "                               [--json] VECTORS...\n"
    "\n"
    "train    learn word vectors from UTF-8 text files (the shared tokenizer: Unicode\n"
    "         case folding, letters/digits, apostrophes inside words). Each line is a\n"
    "         sentence (or each paragraph, with --sentences paragraph).\n"
    "  -o, --output FILE     vectors file (word2vec text; binary with --binary or a\n"
    "                        name ending in .bin)\n"
    "      --binary          word2vec binary format\n"
    "      --model sg|cbow   skip-gram (default) or CBOW; --cbow is short for --model cbow\n"
    "      --dim N           vector size (100)\n"
    "      --window N        maximum window; each position draws 1..N (5)\n"
    "      --negative N      negative samples (5); 0 = none\n"
    "      --ns-exponent X   negatives drawn by count^X (0.75; 0 = uniform)\n"
    "      --hs              hierarchical softmax (Huffman tree), alone or with --negative\n"
    "      --sample X        sub-sampling threshold of frequent words (1e-3); 0 = off\n"
    "      --min-count N     ignore words seen fewer times (5)\n"
    "      --max-vocab N     keep only the N most frequent words (all)\n"
    "      --epochs N        passes over the corpus (5)\n"
    "      --alpha X         starting learning rate (0.05), decays linearly to\n"
    "      --min-alpha X     this final rate (alpha * 1e-4)\n"
    "      --seed N          random seed (1); with -j 1 runs are bit-identical\n"
    "      --sum             CBOW: sum the context vectors instead of averaging\n"
    "      --classic         word2vec.c's one-pair-at-a-time skip-gram loop (reference;\n"
    "                        the default batches each window against shared negatives)\n"
    "      --vectors in|sum  write the input vectors (word2vec.c's, the default) or\n"
    "                        input + output vectors (\"w + c\", needs --negative > 0)\n"
    "      --sentences line|paragraph   sentence boundaries (line)\n"
    "\n"
    "similar  the k nearest words by cosine (-k, default 10)\n"
    "analogy  3CosAdd: B - A + C (\"A is to B as C is to ?\"), the k best answers\n"
    "eval     WordSim-353 and SimLex-999 Spearman (with coverage) and questions-words\n"
    "         accuracy over the --restrict most frequent words (30000), for each file\n"
    "         (word2vec text or binary, fastText .vec). Without set options the sets\n"
    "         in $NORTHSTAR_DATA/wordsim (or ../shared/data/wordsim) are used.\n"
    "\n"
    "Common: -j/--threads N (training threads), -q/--quiet (no progress line).\n";

#define CMD "word2vec"

typedef struct {
    cli_w2v_args a;
    int k;
    const char *wordsim, *simlex, *analogy;
    long restrict_rows;
    int json;
    int bad;
} opts_t;

enum { O_WORDSIM = 400, O_SIMLEX, O_ANALOGY, O_RESTRICT, O_JSON };

/* Trainer options shared with `northstar deepwalk` (cmd_embed.h). */
const struct option cli_w2v_options[] = {
    {"output", required_argument, NULL, 'o'},     {"binary", no_argument, NULL, O_BINARY},
    {"model", required_argument, NULL, O_MODEL},  {"cbow", no_argument, NULL, O_CBOW},
    {"dim", required_argument, NULL, O_DIM},      {"window", required_argument, NULL, O_WINDOW},
    {"negative", required_argument, NULL, O_NEG}, {"hs", no_argument, NULL, O_HS},
    {"sample", required_argument, NULL, O_SAMPLE}, {"min-count", required_argument, NULL, O_MINC},
    {"max-vocab", required_argument, NULL, O_MAXV}, {"epochs", required_argument, NULL, O_EPOCHS},
    {"alpha", required_argument, NULL, O_ALPHA},  {"min-alpha", required_argument, NULL, O_MINALPHA},
    {"seed", required_argument, NULL, O_SEED},    {"sum", no_argument, NULL, O_SUM},
    {"classic", no_argument, NULL, O_CLASSIC},    {"vectors", required_argument, NULL, O_VECTORS},
    {"ns-exponent", required_argument, NULL, O_NSEXP}, {0, 0, 0, 0}};

int cli_w2v_option(const char *cmd, int c, const char *arg, cli_w2v_args *a)
{
    long v = 0;
    double x = 0;
    switch (c) {
    case 'o': a->output = arg; return 0;
    case O_BINARY: a->binary = 1; return 0;
    case O_MODEL:
        if (!strcmp(arg, "sg") || !strcmp(arg, "skipgram")) a->w.sg = 1;
        else if (!strcmp(arg, "cbow")) a->w.sg = 0;
        else return cli_usage_error(cmd, "--model expects sg or cbow, got '%s'", arg);
        return 0;
    case O_CBOW: a->w.sg = 0; return 0;
    case O_DIM: if (cli_int(cmd, "--dim", arg, 1, 10000, &v)) return 1; a->w.dim = (int)v; return 0;
    case O_WINDOW: if (cli_int(cmd, "--window", arg, 1, 1000, &v)) return 1; a->w.window = (int)v; return 0;
    case O_NEG: if (cli_int(cmd, "--negative", arg, 0, 1000, &v)) return 1; a->w.negative = (int)v; return 0;
    case O_HS: a->w.hs = 1; return 0;
    case O_SAMPLE: if (cli_double(cmd, "--sample", arg, 0, 0.999, &x)) return 1; a->w.sample = x; return 0;
    case O_MINC: if (cli_int(cmd, "--min-count", arg, 1, 1L << 40, &v)) return 1; a->c.min_count = v; return 0;
    case O_MAXV: if (cli_int(cmd, "--max-vocab", arg, 1, 1L << 31, &v)) return 1; a->c.max_vocab = v; return 0;
    case O_EPOCHS: if (cli_int(cmd, "--epochs", arg, 1, 100000, &v)) return 1; a->w.epochs = (int)v; return 0;
    case O_ALPHA: if (cli_double(cmd, "--alpha", arg, 1e-9, 10, &x)) return 1; a->w.alpha = x; return 0;
    case O_MINALPHA: if (cli_double(cmd, "--min-alpha", arg, 0, 10, &x)) return 1; a->w.min_alpha = x; return 0;
    case O_SEED: if (cli_int(cmd, "--seed", arg, 0, 0x7fffffffffffffffL, &v)) return 1; a->w.seed = (uint64_t)v; return 0;
    case O_SUM: a->w.cbow_mean = 0; return 0;
    case O_CLASSIC: a->w.classic = 1; return 0;
    case O_NSEXP: if (cli_double(cmd, "--ns-exponent", arg, -2, 2, &x)) return 1; a->w.ns_exponent = x; return 0;
    case O_VECTORS:
        if (!strcmp(arg, "in")) a->w.vectors = NS_W2V_VEC_IN;
        else if (!strcmp(arg, "sum")) a->w.vectors = NS_W2V_VEC_SUM;
        else return cli_usage_error(cmd, "--vectors expects in or sum, got '%s'", arg);
        return 0;
    }
    return -1;
}

void cli_w2v_merge_options(struct option *out, int cap, const struct option *extra)
{
    int n = 0;
    for (int i = 0; cli_w2v_options[i].name && n < cap - 1; i++) out[n++] = cli_w2v_options[i];
    for (int i = 0; extra[i].name && n < cap - 1; i++) out[n++] = extra[i];
    out[n] = (struct option){0, 0, 0, 0};
}

int cli_w2v_write(const char *cmd, const ns_vectors *v, const cli_w2v_args *a)
{
    size_t n = strlen(a->output);
    int binary = a->binary || (n >= 4 && !strcmp(a->output + n - 4, ".bin"));
    if (ns_vec_write(v, a->output, binary) < 0) return cli_fail(cmd);
    return CLI_OK;
}

static int on_opt(int c, const char *arg, void *ctx)
{
    opts_t *o = ctx;
    int r = cli_w2v_option(CMD, c, arg, &o->a);
    if (r >= 0) return r;
    long v = 0;
    switch (c) {
    case 'k': if (cli_int(CMD, "-k", arg, 1, 100000, &v)) return 1; o->k = (int)v; return 0;
    case O_SENT:
        if (!strcmp(arg, "line")) o->a.c.sentences = NS_SENT_LINE;
        else if (!strcmp(arg, "paragraph")) o->a.c.sentences = NS_SENT_PARAGRAPH;
        else return cli_usage_error(CMD, "--sentences expects line or paragraph, got '%s'", arg);
        return 0;
    case O_WORDSIM: o->wordsim = arg; return 0;
    case O_SIMLEX: o->simlex = arg; return 0;
    case O_ANALOGY: o->analogy = arg; return 0;
    case O_RESTRICT: if (cli_int(CMD, "--restrict", arg, 1, 1L << 31, &v)) return 1; o->restrict_rows = v; return 0;
    case O_JSON: o->json = 1; return 0;
    }
    return 1;
}

static int do_train(opts_t *o, int argc, char **argv, int first)
{
    if (!o->a.output) return cli_usage_error(CMD, "train needs -o OUT");
    if (first >= argc) return cli_usage_error(CMD, "train needs at least one INPUT file");
    o->a.c.quiet_progress = ns_is_quiet();
    ns_w2v_corpus *c = NULL;
    ns_w2v_model *m = NULL;
    ns_vectors *v = NULL;
    int rc = CLI_FAIL;
    double t0 = ns_now();
    if (ns_w2v_corpus_from_files(&c, (const char *const *)argv + first, argc - first, &o->a.c) < 0) {
        cli_fail(CMD);
        goto done;
    }
    double t_read = ns_now() - t0;
    ns_w2v_stats st;
    if (ns_w2v_train(&m, c, &o->a.w, &st) < 0) {
        cli_fail(CMD);
        goto done;
    }
    v = ns_w2v_vectors(m, c, NULL);
    if (!v) {
        cli_fail(CMD);
        goto done;
    }
    if (cli_w2v_write(CMD, v, &o->a) != CLI_OK) goto done;
    if (!ns_is_quiet()) {
        char a[32], b[32];
        ns_format_count(a, sizeof a, (double)c->ntok);
        ns_format_count(b, sizeof b, st.words_per_sec);
        fprintf(stderr,
                "word2vec: %s tokens (%lld read), vocabulary %d, %d epochs: read %.2fs, "
                "train %.2fs (%s words/s), total %.2fs -> %s\n",
                a, (long long)c->tokens_read, c->nwords, o->a.w.epochs, t_read, st.seconds, b,
                ns_now() - t0, o->a.output);
    }
    rc = CLI_OK;
done:
    ns_vec_free(v);
    ns_w2v_model_free(m);
    ns_w2v_corpus_free(c);
    return rc;
}

static int do_similar(opts_t *o, int argc, char **argv, int first)
{
    if (argc - first < 2) return cli_usage_error(CMD, "similar needs VECTORS and at least one WORD");
    ns_vectors *v;
    if (ns_vec_read(&v, argv[first]) < 0) return cli_fail(CMD);
    int k = o->k > 0 ? o->k : 10, rc = CLI_OK;
    int64_t *idx = malloc(sizeof *idx * (size_t)k);
    float *sim = malloc(sizeof *sim * (size_t)k);
    for (int a = first + 1; a < argc && idx && sim; a++) {
        int64_t w = ns_vec_lookup(v, argv[a]);
        if (w < 0) {
            fprintf(stderr, "northstar %s: '%s' is not in the vocabulary of %s (%lld words)\n", CMD,
                    argv[a], argv[first], (long long)v->n);
            rc = CLI_FAIL;
            continue;
        }
        int got = ns_vec_nearest(v, v->v + (size_t)w * (size_t)v->dim, 0, &w, 1, k, idx, sim);
        printf("%s:\n", ns_strmap_key(v->words, w, NULL));
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}

static int do_analogy(opts_t *o, int argc, char **argv, int first)
{
    if (argc - first != 4) return cli_usage_error(CMD, "analogy needs VECTORS A B C");
    ns_vectors *v;
    if (ns_vec_read(&v, argv[first]) < 0) return cli_fail(CMD);
    int k = o->k > 0 ? o->k : 5;
    int64_t *idx = malloc(sizeof *idx * (size_t)k);
    float *sim = malloc(sizeof *sim * (size_t)k);
    int got = idx && sim ? ns_vec_analogy(v, argv[first + 1], argv[first + 2], argv[first + 3], k, idx, sim)
                         : NS_ENOMEM;
    int rc = CLI_OK;
    if (got < 0) rc = cli_fail(CMD);
    else {
        printf("%s : %s :: %s : ?\n", argv[first + 1], argv[first + 2], argv[first + 3]);
        for (int i = 0; i < got; i++) printf("  %-24s %.4f\n", ns_strmap_key(v->words, idx[i], NULL), sim[i]);
    }
    free(idx);
    free(sim);
    ns_vec_free(v);
    return rc;
}

static void json_num(const char *key, double x, int comma)
{
    if (isnan(x)) printf("\"%s\":null%s", key, comma ? "," : "");
    else printf("\"%s\":%.6g%s", key, x, comma ? "," : "");
}

static int do_eval(opts_t *o, int argc, char **argv, int first)
{
    if (first >= argc) return cli_usage_error(CMD, "eval needs at least one VECTORS file");
    static char ws[4096], sl[4096], an[4096];
    if (!o->wordsim && !o->simlex && !o->analogy) {
        const char *dir = ns_data_dir("../shared/data");
        static char exe_rel[4096];
        if (!dir) { /* <worktree>/build/northstar -> <worktree>/../shared/data */
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
    }
    long R = o->restrict_rows > 0 ? o->restrict_rows : 30000;
    int rc = CLI_OK;
    if (!o->json)
        printf("%-36s %-22s %-22s %s\n", "vectors", "WordSim-353 (pairs)", "SimLex-999 (pairs)",
               "analogy top-1 (covered)");
    for (int a = first; a < argc; a++) {
        ns_vectors *v;
        if (ns_vec_read(&v, argv[a]) < 0) {
            cli_fail(CMD);
            rc = CLI_FAIL;
            continue;
        }
        ns_wordsim_result w = {NAN, 0, 0}, s = {NAN, 0, 0};
        ns_analogy_result an_r;
        memset(&an_r, 0, sizeof an_r);
        int ok = 1;
        if (o->wordsim && ns_vec_eval_wordsim(v, o->wordsim, &w) < 0) ok = 0;
        if (ok && o->simlex && ns_vec_eval_wordsim(v, o->simlex, &s) < 0) ok = 0;
        if (ok && o->analogy && ns_vec_eval_analogy(v, o->analogy, R, &an_r) < 0) ok = 0;
        if (!ok) {
            cli_fail(CMD);
            rc = CLI_FAIL;
        } else if (o->json) {
            printf("{\"file\":\"%s\",\"words\":%lld,\"dim\":%d,", argv[a], (long long)v->n, v->dim);
            json_num("wordsim353", w.spearman, 1);
            printf("\"wordsim353_found\":%d,\"wordsim353_pairs\":%d,", w.found, w.pairs);
            json_num("simlex999", s.spearman, 1);
            printf("\"simlex999_found\":%d,\"simlex999_pairs\":%d,", s.found, s.pairs);
            json_num("analogy", an_r.accuracy, 1);
            printf("\"analogy_covered\":%d,\"analogy_questions\":%d,\"analogy_correct\":%d}\n",
                   an_r.covered, an_r.questions, an_r.correct);
        } else {
            char c1[32], c2[32], c3[48];
            snprintf(c1, sizeof c1, "%.4f (%d/%d)", w.spearman, w.found, w.pairs);
            snprintf(c2, sizeof c2, "%.4f (%d/%d)", s.spearman, s.found, s.pairs);
            snprintf(c3, sizeof c3, "%.2f%% (%d/%d)", 100 * an_r.accuracy, an_r.covered, an_r.questions);
            printf("%-36s %-22s %-22s %s\n", argv[a], o->wordsim ? c1 : "-", o->simlex ? c2 : "-",
                   o->analogy ? c3 : "-");
        }
        ns_vec_free(v);
    }
    return rc;
}

int cmd_word2vec(int argc, char **argv)
{
    opts_t o;
    memset(&o, 0, sizeof o);
    o.a.w = ns_w2v_defaults();
    o.a.c = ns_w2v_corpus_defaults();
    static const struct option extra[] = {
        {"sentences", required_argument, NULL, O_SENT}, {"wordsim", required_argument, NULL, O_WORDSIM},
        {"simlex", required_argument, NULL, O_SIMLEX},  {"analogy", required_argument, NULL, O_ANALOGY},
        {"restrict", required_argument, NULL, O_RESTRICT}, {"json", no_argument, NULL, O_JSON},
        {0, 0, 0, 0}};
    struct option opts[64];
    cli_w2v_merge_options(opts, 64, extra);
    int r = cli_parse(argc, argv, CMD, usage, "o:k:", opts, on_opt, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error(CMD, "missing subcommand (train, similar, analogy or eval)");
    /* getopt permutes: options anywhere were consumed, positionals follow. */
    const char *sub = argv[r];
    int first = r + 1;
    if (!strcmp(sub, "train")) return do_train(&o, argc, argv, first);
    if (!strcmp(sub, "similar")) return do_similar(&o, argc, argv, first);
    if (!strcmp(sub, "analogy")) return do_analogy(&o, argc, argv, first);
    if (!strcmp(sub, "eval")) return do_eval(&o, argc, argv, first);
    return cli_usage_error(CMD, "unknown subcommand '%s' (expected train, similar, analogy or eval)", sub);
}
