/*
 * cmd_word2vec_train.c — `northstar word2vec train`: learn word vectors from
 * UTF-8 text files with the word2vec trainer (skip-gram or CBOW, negative
 * sampling and/or hierarchical softmax) and write them as a word2vec file.
 */
#include "cli.h"
#include "embed_common.h"
#include "northstar/base.h"
#include "northstar/vec.h"
#include "northstar/w2v.h"

#include <stdio.h>

static const char usage[] =
    "usage: northstar word2vec train [options] -o OUT INPUT...\n"
    "\n"
    "Learn word vectors from UTF-8 text files (the shared tokenizer: Unicode\n"
    "case folding, letters/digits, apostrophes inside words). Each line is a\n"
    "sentence (or each paragraph, with --sentences paragraph).\n"
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
    "Common: -j/--threads N (training threads), -q/--quiet (no progress line).\n";

#define CMD "word2vec"

typedef struct {
    cli_w2v_args a;
} train_opts;

static const cli_choice sentences[] = {{"line", NS_SENT_LINE}, {"paragraph", NS_SENT_PARAGRAPH}, {NULL, 0}};

static const cli_opt opts[] = {
    W2V_TRAINER_OPTS(train_opts, a),
    CLI_CHOICE("sentences", 0, train_opts, a.c.sentences, sentences),
};

static void print_summary(const ns_w2v_corpus *c, const ns_w2v_stats *st, const cli_w2v_args *a, double t_read,
                          double t_total)
{
    char tok[32], rate[32];
    ns_format_count(tok, sizeof tok, (double)c->ntok);
    ns_format_count(rate, sizeof rate, st->words_per_sec);
    fprintf(stderr,
            "word2vec: %s tokens (%lld read), vocabulary %d, %d epochs: read %.2fs, "
            "train %.2fs (%s words/s), total %.2fs -> %s\n",
            tok, (long long)c->tokens_read, c->nwords, a->w.epochs, t_read, st->seconds, rate, t_total, a->output);
}

int cmd_word2vec_train(int argc, char **argv)
{
    train_opts o;
    o.a.w = ns_w2v_defaults();
    o.a.c = ns_w2v_corpus_defaults();
    o.a.output = NULL;
    o.a.binary = 0;
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (!o.a.output) return cli_usage_error(CMD, "train needs -o OUT");
    if (r >= argc) return cli_usage_error(CMD, "train needs at least one INPUT file");
    o.a.c.quiet_progress = ns_is_quiet();
    ns_w2v_corpus *c = NULL;
    ns_w2v_model *m = NULL;
    ns_vectors *v = NULL;
    int rc = CLI_FAIL;
    double t0 = ns_now();
    if (ns_w2v_corpus_from_files(&c, (const char *const *)argv + r, argc - r, &o.a.c) < 0) goto fail;
    double t_read = ns_now() - t0;
    ns_w2v_stats st;
    if (ns_w2v_train(&m, c, &o.a.w, &st) < 0 || !(v = ns_w2v_vectors(m, c, NULL))) goto fail;
    if (cli_w2v_write(CMD, v, &o.a) != CLI_OK) goto done;
    if (!ns_is_quiet()) print_summary(c, &st, &o.a, t_read, ns_now() - t0);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_fail(CMD);
done:
    ns_vec_free(v);
    ns_w2v_model_free(m);
    ns_w2v_corpus_free(c);
    return rc;
}
