/*
 * test_rank_cli.c — `northstar rank` end to end through the command: train,
 * eval, predict (file and stdin, rows with and without the label), inspect,
 * --help, and bad input answered with file, line and column and exit 1.
 */
#include "integ_harness.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    fputs(text, f);
    fclose(f);
}

static const char *spec_json =
    "{\"label\":{\"column\":\"click\",\"positive\":[\"yes\"],\"negative\":[\"no\"]},\"features\":["
    "{\"name\":\"price\",\"type\":\"numeric\",\"transforms\":[\"log1p\",\"zscore\"],\"buckets\":{\"quantiles\":5}},"
    "{\"name\":\"hour\",\"type\":\"numeric\",\"transforms\":[{\"op\":\"cyclic\",\"period\":24}]},"
    "{\"name\":\"brand\",\"type\":\"categorical\",\"embed\":4},"
    "{\"name\":\"genres\",\"type\":\"multi\",\"embed\":4},"
    "{\"name\":\"bx\",\"type\":\"cross\",\"cross\":[\"price\",\"brand\"],\"hash_buckets\":50}]}";

static void make_data(const char *path, int n, uint64_t seed, int with_label)
{
    FILE *f = fopen(path, "wb");
    ASSERT(f);
    fprintf(f, with_label ? "price,hour,brand,genres,click\n" : "price,hour,brand,genres\n");
    ns_rng r;
    ns_rng_seed(&r, seed, 0);
    static const char *brands[] = {"acme", "zen", "nova", "orbit"};
    static const char *genres[] = {"a|b", "b", "c|a", "", "b|c"};
    for (int i = 0; i < n; i++) {
        double price = 5 + 100 * ns_rng_uniform(&r);
        int b = (int)ns_rng_below(&r, 4), g = (int)ns_rng_below(&r, 5), h = (int)ns_rng_below(&r, 24);
        double logit = -0.02 * price + (b == 1 ? 1.5 : 0) + (g == 1 ? 0.8 : 0);
        int y = ns_rng_uniform(&r) < 1 / (1 + exp(-logit));
        fprintf(f, "%.2f,%d,%s,%s", price, h, brands[b], genres[g]);
        if (with_label) fprintf(f, ",%s", y ? "yes" : "no");
        fprintf(f, "\n");
    }
    fclose(f);
}

/* "<northstar> rank <args>": FAILs unless it exits with want_status;
 * returns stdout+stderr (caller frees). */
static char *run(const char *args, int want_status) { return cli_expect(want_status, "rank %s", args); }

TEST(train_eval_predict_inspect)
{
    const char *spec = ns_test_tmpfile("spec.json"), *tr = ns_test_tmpfile("train.csv"),
               *te = ns_test_tmpfile("test.csv"), *nl = ns_test_tmpfile("nolabel.csv"),
               *model = ns_test_tmpfile("m.safetensors");
    write_file(spec, spec_json);
    make_data(tr, 3000, 1, 1);
    make_data(te, 500, 2, 1);
    make_data(nl, 7, 3, 0);
    char a[2048];
    snprintf(a, sizeof a, "train -q --spec %s --out %s --epochs 3 --hidden 16,8 --test %s --json %s", spec, model, te, tr);
    char *o = run(a, 0);
    ASSERT(strstr(o, "\"auc\":"));
    ASSERT(strstr(o, "\"examples_per_s\":"));
    free(o);
    snprintf(a, sizeof a, "eval %s %s", model, te);
    o = run(a, 0);
    ASSERT(strstr(o, "AUC"));
    ASSERT(strstr(o, "calibration"));
    free(o);
    snprintf(a, sizeof a, "predict %s %s", model, nl);
    o = run(a, 0);
    int lines = 0;
    for (char *p = o; *p; p++) lines += *p == '\n';
    ASSERT_EQ_INT(lines, 7);
    double p0 = atof(o);
    ASSERT(p0 > 0 && p0 < 1);
    free(o);
    snprintf(a, sizeof a, "predict --with-label %s - < %s", model, te);
    o = run(a, 0);
    ASSERT(strstr(o, "\t1\n") || strstr(o, "\t0\n"));
    free(o);
    snprintf(a, sizeof a, "inspect --top 5 %s", model);
    o = run(a, 0);
    ASSERT(strstr(o, "heaviest wide weights"));
    ASSERT(strstr(o, "\"vocab\""));
    ASSERT(strstr(o, "brand="));
    free(o);
}

TEST(bad_input_is_named)
{
    const char *spec = ns_test_tmpfile("spec.json"), *tr = ns_test_tmpfile("train.csv"),
               *bad = ns_test_tmpfile("bad.csv"), *model = ns_test_tmpfile("m.safetensors");
    write_file(spec, spec_json);
    make_data(tr, 400, 1, 1);
    char a[2048];
    snprintf(a, sizeof a, "train -q --spec %s --out %s --epochs 1 --val-fraction 0 %s", spec, model, tr);
    free(run(a, 0));
    write_file(bad, "price,hour,brand,genres,click\n10,3,acme,a,yes\n12,seven,zen,b,no\n");
    snprintf(a, sizeof a, "eval %s %s", model, bad);
    char *o = run(a, 1);
    ASSERT(strstr(o, "bad.csv:3"));
    ASSERT(strstr(o, "hour"));
    ASSERT(strstr(o, "seven"));
    free(o);
    write_file(bad, "price,hour,brand,genres,click\n10,3,acme,a,yes,extra\n");
    snprintf(a, sizeof a, "predict %s %s", model, bad);
    o = run(a, 1);
    ASSERT(strstr(o, "bad.csv:2") && strstr(o, "columns"));
    free(o);
    /* unseen brand, NaN price, empty lines: scored */
    write_file(bad, "price,hour,brand,genres\n\nnan,3,brand-new,zzz|a\n\n");
    snprintf(a, sizeof a, "predict %s %s", model, bad);
    o = run(a, 0);
    ASSERT(atof(o) > 0 && atof(o) < 1);
    free(o);
    snprintf(a, sizeof a, "eval %s %s", spec, tr); /* not a model */
    free(run(a, 1));
    snprintf(a, sizeof a, "train --out %s %s", model, tr); /* no spec */
    free(run(a, 2));
    free(run("frobnicate", 2));
    o = run("train --help", 0);
    ASSERT(strstr(o, "unseen") && strstr(o, "NaN"));
    free(o);
}
