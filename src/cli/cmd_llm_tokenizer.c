/*
 * cmd_llm_tokenizer.c — `northstar llm tokenizer train|encode|decode`:
 * train a byte-level BPE (or a character vocabulary) on a corpus, and turn
 * text into ids and ids into text with any tokenizer the engine reads.
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/bpe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar llm tokenizer train [--vocab N | --char] [--special TEXT]... --out TOK.json CORPUS\n"
    "       northstar llm tokenizer encode --tokenizer TOK [TEXT]   (stdin when TEXT is absent)\n"
    "       northstar llm tokenizer decode --tokenizer TOK ID...\n"
    "\n"
    "train   byte-level BPE with N ids (259 base ids: <unk> <s> </s> and 256 bytes, then merges,\n"
    "        then --special tokens), or --char: one id per distinct character of CORPUS.\n"
    "encode  print the ids of TEXT, one line; decode prints the text of ids.\n"
    "TOK may be our JSON, a llama2.c tokenizer.bin, or a GPT-2 vocab.json (merges.txt beside it).\n"
    "Short forms: -o is --out, -t is --tokenizer.\n";

#define CMD "llm tokenizer"

typedef struct {
    const char *s[16];
    int n;
} special_list;

typedef struct {
    const char *out, *tokenizer;
    int use_char, vocab;
    special_list specials;
} tok_opts;

static int parse_special(const char *cmd, const char *opt, const char *arg, void *field)
{
    special_list *l = field;
    if (l->n == (int)(sizeof l->s / sizeof l->s[0]))
        return cli_usage_error(cmd, "at most %d %s tokens", (int)(sizeof l->s / sizeof l->s[0]), opt);
    l->s[l->n++] = arg;
    return 0;
}

static const cli_opt opts[] = {
    CLI_OPT_OUT(tok_opts, out),
    CLI_STR("tokenizer", 't', tok_opts, tokenizer),
    CLI_FLAG("char", 0, tok_opts, use_char),
    CLI_INT("vocab", 0, tok_opts, vocab, 259, 1 << 20),
    CLI_CALL("special", 0, tok_opts, specials, special_list, parse_special),
};

static int train(const tok_opts *o, const char *corpus)
{
    char *text;
    size_t len;
    if (llm_read_text(corpus, &text, &len) < 0) return cli_fail(CMD);
    ns_bpe *b;
    double t0 = ns_now();
    int rc = o->use_char ? ns_bpe_char_from_text(&b, text, len)
                         : ns_bpe_train(&b, text, len, o->vocab, o->specials.s, o->specials.n);
    free(text);
    if (rc < 0) return cli_fail(CMD);
    int ret = CLI_OK;
    if (ns_bpe_save(b, o->out) < 0) ret = cli_fail(CMD);
    else
        printf("tokenizer: %d ids (%s) in %.2fs -> %s\n", ns_bpe_vocab_size(b), o->use_char ? "char" : "byte-level BPE",
               ns_now() - t0, o->out);
    ns_bpe_free(b);
    return ret;
}

/* The ids of `text` (stdin when NULL) on one line. */
static int encode(const ns_bpe *b, const char *arg)
{
    char *text = NULL;
    size_t len = 0;
    if (arg) {
        text = ns_strdup(arg);
        len = strlen(arg);
    } else if (ns_file_read_all("/dev/stdin", &text, &len, (size_t)1 << 30) < 0) {
        return cli_fail(CMD);
    }
    int32_t *ids;
    size_t n;
    int ret = CLI_OK;
    if (ns_bpe_encode(b, text, len, 1, &ids, &n) < 0) {
        ret = cli_fail(CMD);
    } else {
        for (size_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
        free(ids);
    }
    free(text);
    return ret;
}

/* The text of the ids argv[0..n). */
static int decode(const ns_bpe *b, char **argv, int n)
{
    int32_t *ids = ns_malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!ids) return cli_fail(CMD);
    for (int i = 0; i < n; i++) {
        long v;
        if (cli_int(CMD, "ID", argv[i], 0, 1L << 30, &v)) {
            free(ids);
            return CLI_USAGE;
        }
        ids[i] = (int32_t)v;
    }
    ns_buf out;
    ns_buf_init(&out);
    int ret = CLI_OK;
    if (ns_bpe_decode(b, ids, (size_t)n, &out) < 0) ret = cli_fail(CMD);
    else fwrite(out.data, 1, out.len, stdout), printf("\n");
    ns_buf_release(&out);
    free(ids);
    return ret;
}

int cmd_llm_tokenizer(int argc, char **argv)
{
    tok_opts o;
    memset(&o, 0, sizeof o);
    o.vocab = 1024;
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r >= argc) return cli_usage_error(CMD, "missing action (train, encode or decode)");
    const char *act = argv[r++];
    if (!strcmp(act, "train")) {
        if (r != argc - 1) return cli_usage_error(CMD, "train takes one CORPUS file");
        if (!o.out) return cli_usage_error(CMD, "train needs --out FILE");
        return train(&o, argv[r]);
    }
    if (strcmp(act, "encode") && strcmp(act, "decode")) return cli_usage_error(CMD, "unknown action '%s'", act);
    if (!o.tokenizer) return cli_usage_error(CMD, "%s needs --tokenizer FILE", act);
    ns_bpe *b;
    if (ns_bpe_load(&b, o.tokenizer) < 0) return cli_fail(CMD);
    int ret = !strcmp(act, "encode") ? encode(b, r < argc ? argv[r] : NULL) : decode(b, argv + r, argc - r);
    ns_bpe_free(b);
    return ret;
}
