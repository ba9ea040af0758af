/*
 * cmd_llm_chat.c — `northstar llm chat`: an interactive chat on stdin and
 * stdout with an SFT model, each turn in the <|user|>/<|assistant|>
 * template, the conversation so far kept as the prompt.
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/llm.h"
#include "northstar/tokenizer.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: northstar llm chat --model MODEL [generation options]\n"
    "\n"
    "Interactive chat on stdin/stdout. Each turn is formatted as the SFT template:\n"
    "  <|user|>\\n{message}\\n<|assistant|>\\n{reply}\\n\n"
    "and the reply stops at <|user|>, </s> or end of context (the conversation so far is kept\n"
    "and truncated from the left). Empty line or EOF ends the session.\n"
    LLM_MODEL_HELP
    LLM_SAMPLING_HELP
    "Without --stop, replies stop at \"<|user|>\" and \"\\n<|\".\n";

#define CMD "llm chat"

typedef struct {
    llm_model f;
    llm_sampling s;
} chat_opts;

static const cli_opt opts[] = {
    LLM_MODEL_OPTS(chat_opts, f),
    LLM_SAMPLING_OPTS(chat_opts, s),
};

/* One line from stdin without its line end; 0 at EOF or an empty line. */
static int read_turn(char *line, size_t cap)
{
    fputs("> ", stdout);
    fflush(stdout);
    if (!fgets(line, (int)cap, stdin)) return 0;
    size_t L = strlen(line);
    while (L && (line[L - 1] == '\n' || line[L - 1] == '\r')) line[--L] = 0;
    return L > 0;
}

static int chat(const ns_llm *m, const ns_bpe *tok, const ns_llm_gen_cfg *g)
{
    ns_buf hist;
    ns_buf_init(&hist);
    char line[8192];
    int ret = CLI_OK;
    while (read_turn(line, sizeof line)) {
        if (!ns_utf8_valid(line, strlen(line))) {
            fprintf(stderr, "northstar llm chat: input is not valid UTF-8, ignored\n");
            continue;
        }
        ns_buf_printf(&hist, "<|user|>\n%s\n<|assistant|>\n", line);
        ns_buf reply;
        ns_buf_init(&reply);
        ns_llm_gen_stats st;
        int rc = ns_llm_generate(m, tok, hist.data, g, llm_print_piece, NULL, &reply, &st);
        printf("\n");
        if (rc < 0) {
            ret = cli_fail(CMD);
            ns_buf_release(&reply);
            break;
        }
        ns_buf_append(&hist, reply.data ? reply.data : "", reply.len);
        ns_buf_puts(&hist, "\n");
        ns_buf_release(&reply);
    }
    ns_buf_release(&hist);
    return ret;
}

int cmd_llm_chat(int argc, char **argv)
{
    chat_opts o = {.s = llm_sampling_defaults()};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    ns_llm *m;
    ns_bpe *tok;
    if (llm_load_model(&o.f, &m, &tok) < 0) return cli_fail(CMD);
    ns_llm_gen_cfg g = llm_gen_cfg(&o.s);
    static const char *stops[] = {"<|user|>", "\n<|"};
    if (!g.n_stop) {
        g.stop = stops;
        g.n_stop = 2;
    }
    int ret = chat(m, tok, &g);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return ret;
}
