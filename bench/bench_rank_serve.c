/*
 * bench_rank_serve.c — serving cost of the ranker: one request scores N
 * candidates (default 500) on ONE thread through the in-process API the
 * recommendation service uses (ns_ranker_score: encode raw column values
 * with the fitted spec, then the model). Candidates are rows of a UCI Adult
 * file given as values. Prints median / p90 / p99 per request and the same
 * for the model alone (rows already encoded), as one JSON line.
 *
 * usage: bench_rank_serve MODEL ADULT_FILE [N] [REPS]
 */
#include "northstar/base.h"
#include "northstar/feature.h"
#include "northstar/rank.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cols[] = {"age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
                             "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
                             "hours-per-week", "native-country", "income"};

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL ADULT_FILE [N] [REPS]\n", argv[0]);
        return 2;
    }
    int N = argc > 3 ? atoi(argv[3]) : 500, reps = argc > 4 ? atoi(argv[4]) : 2000;
    ns_set_threads(1);
    ns_ranker *m;
    if (ns_ranker_load(&m, argv[1]) < 0) {
        fprintf(stderr, "%s\n", ns_err_msg());
        return 1;
    }
    const ns_feature_spec *s = ns_ranker_spec(m);
    int nc = ns_fspec_input_count(s);
    int map[64];
    for (int j = 0; j < nc && j < 64; j++) {
        map[j] = -1;
        for (int k = 0; k < 15; k++)
            if (!strcmp(ns_fspec_input_name(s, j), cols[k])) map[j] = k;
        if (map[j] < 0) {
            fprintf(stderr, "model reads column '%s' that Adult does not have\n", ns_fspec_input_name(s, j));
            return 1;
        }
    }
    char *buf;
    size_t len;
    if (ns_file_read_all(argv[2], &buf, &len, 0) < 0) {
        fprintf(stderr, "%s\n", ns_err_msg());
        return 1;
    }
    /* N candidate rows as values (text, as a request would carry them) */
    ns_fvalue *v = ns_calloc((size_t)N * (size_t)nc, sizeof *v);
    char **fld = ns_calloc(16, sizeof(char *));
    ns_lines it;
    ns_lines_init(&it, buf, len);
    const char *line;
    size_t ll;
    int n = 0;
    while (n < N && ns_lines_next(&it, &line, &ll)) {
        if (ll < 10 || line[0] == '|') continue;
        char *copy = ns_malloc(ll + 1);
        memcpy(copy, line, ll);
        copy[ll] = 0;
        if (ns_split(copy, ',', fld, 16) != 15) continue;
        for (int j = 0; j < nc; j++) {
            char *t = fld[map[j]];
            while (*t == ' ') t++;
            v[(size_t)n * nc + j].str = t;
            v[(size_t)n * nc + j].len = (int)strlen(t);
        }
        n++;
    }
    if (n < N) {
        fprintf(stderr, "only %d rows in %s\n", n, argv[2]);
        return 1;
    }
    ns_rank_ctx *cx = ns_rank_ctx_new(m);
    float *p = ns_malloc(sizeof(float) * (size_t)N);
    double *t_full = ns_malloc(sizeof(double) * (size_t)reps), *t_model = ns_malloc(sizeof(double) * (size_t)reps);
    /* encoded copy for the model-only timing */
    ns_fdata d;
    ns_fdata_init(&d, s);
    for (int i = 0; i < N; i++) ns_fspec_encode(s, v + (size_t)i * nc, -1, 1, &d);
    for (int w = 0; w < 50; w++) ns_ranker_score(m, cx, v, N, p); /* warm up */
    double check = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = ns_now();
        if (ns_ranker_score(m, cx, v, N, p) < 0) {
            fprintf(stderr, "%s\n", ns_err_msg());
            return 1;
        }
        double t1 = ns_now();
        ns_ranker_predict(m, cx, &d, p);
        double t2 = ns_now();
        t_full[r] = (t1 - t0) * 1e3;
        t_model[r] = (t2 - t1) * 1e3;
        check += p[r % N];
    }
    qsort(t_full, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_model, (size_t)reps, sizeof(double), cmp_d);
    printf("{\"bench\":\"rank-serve\",\"candidates\":%d,\"reps\":%d,\"threads\":1,"
           "\"ms_median\":%.4f,\"ms_p90\":%.4f,\"ms_p99\":%.4f,"
           "\"model_only_ms_median\":%.4f,\"model_only_ms_p99\":%.4f,\"checksum\":%.4f}\n",
           N, reps, t_full[reps / 2], t_full[reps * 9 / 10], t_full[reps * 99 / 100], t_model[reps / 2],
           t_model[reps * 99 / 100], check);
    ns_fdata_release(&d);
    ns_rank_ctx_free(cx);
    ns_ranker_free(m);
    free(v);
    free(fld);
    free(p);
    free(t_full);
    free(t_model);
    free(buf);
    return 0;
}
