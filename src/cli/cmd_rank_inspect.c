/*
 * cmd_rank_inspect.c — `northstar rank inspect`: a ranker's config, its
 * fitted feature spec (vocabularies cut short) and its heaviest wide
 * weights by name; or the whole fitted spec as JSON.
 */
#include "cli.h"
#include "rank_common.h"
#include "northstar/base.h"
#include "northstar/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar rank inspect [--top N] [--spec-json] MODEL\n"
    "\n"
    "The model config, the fitted spec and the heaviest wide weights.\n"
    "  --top N              how many wide weights (default 20)\n"
    "  --spec-json          print the fitted spec as JSON\n";

typedef struct {
    int top, spec_json;
} inspect_opts;

static const cli_opt opts[] = {
    CLI_INT("top", 0, inspect_opts, top, 1, 1000000),
    CLI_FLAG("spec-json", 0, inspect_opts, spec_json),
};

/* The spec's JSON lines, each "vocab" list cut to its first 8 entries. */
static void print_spec(const char *sj)
{
    int in_vocab = 0, shown = 0;
    for (const char *p = sj; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (in_vocab) {
            if (memchr(p, ']', len)) {
                if (shown >= 8) printf("   ... (%d more)\n", shown - 8);
                printf("%.*s\n", (int)len, p);
                in_vocab = 0;
            } else if (shown++ < 8)
                printf("%.*s\n", (int)len, p);
        } else {
            printf("%.*s\n", (int)len, p);
            if (len > 8 && memmem(p, len, "\"vocab\": [", 10) && !memchr(p, ']', len)) {
                in_vocab = 1;
                shown = 0;
            }
        }
        if (!e) break;
        p = e + 1;
    }
}

static void print_top_wide(const ns_ranker *m, const ns_feature_spec *spec, int top, int wide_dim)
{
    int *idx = ns_calloc((size_t)top, sizeof(int));
    float *w = ns_calloc((size_t)top, sizeof(float));
    if (idx && w) {
        int k = ns_ranker_top_wide(m, top, idx, w);
        if (k) printf("heaviest wide weights (of %d):\n", wide_dim);
        else printf("no wide weights (deep model, or all zero)\n");
        for (int i = 0; i < k; i++) {
            char name[512];
            ns_fspec_wide_name(spec, idx[i], name, sizeof name);
            printf("  %+9.4f  %s\n", w[i], name);
        }
    }
    free(idx);
    free(w);
}

int cmd_rank_inspect(int argc, char **argv)
{
    inspect_opts o = {20, 0};
    int r = CLI_PARSE(argc, argv, RANK_CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc - 1) return cli_usage_error(RANK_CMD, "inspect takes MODEL");
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[r]) < 0) return cli_fail(RANK_CMD);
    const ns_feature_spec *spec = ns_ranker_spec(m);
    char *sj = ns_fspec_to_json(spec);
    if (o.spec_json) {
        printf("%s\n", sj ? sj : "");
    } else {
        char *cfg = NULL;
        ns_st_file *f;
        if (ns_st_open(&f, argv[r]) == 0) {
            cfg = ns_strdup(ns_st_meta(f, "config"));
            ns_st_close(f);
        }
        ns_flayout lay;
        ns_fspec_layout(spec, &lay);
        printf("model %s\nconfig %s\n", argv[r], cfg ? cfg : "?");
        printf("input format %s, %d input columns, wide dim %d, %d embedded fields, %d dense inputs\n",
               ns_fspec_format_name(ns_fspec_format(spec)), ns_fspec_input_count(spec), lay.wide_dim, lay.n_emb,
               lay.dense_dim);
        printf("fitted spec (vocabularies cut to 8 entries; --spec-json prints all):\n");
        if (sj) print_spec(sj);
        print_top_wide(m, spec, o.top, lay.wide_dim);
        free(cfg);
    }
    free(sj);
    ns_ranker_free(m);
    return CLI_OK;
}
