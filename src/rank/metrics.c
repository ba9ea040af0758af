/*
 * metrics.c — quality of a binary ranker: ROC AUC (Mann-Whitney, ties get
 * half credit, as scikit-learn's roc_auc_score), log loss, accuracy at 0.5,
 * and calibration: predicted against observed positive rate in ten bins of
 * the predicted probability, with the expected calibration error.
 */
#include "northstar/base.h"
#include "northstar/rank.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sl {
    float s, y;
} sl;

static int sl_cmp(const void *a, const void *b)
{
    float x = ((const sl *)a)->s, y = ((const sl *)b)->s;
    return x < y ? -1 : x > y;
}

double ns_rank_auc(const float *score, const float *label, long n)
{
    sl *v = ns_malloc(sizeof *v * (size_t)(n ? n : 1));
    if (!v) return NAN;
    long k = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(label[i])) {
            v[k].s = isnan(score[i]) ? 0.0f : score[i];
            v[k].y = label[i];
            k++;
        }
    qsort(v, (size_t)k, sizeof *v, sl_cmp);
    double npos = 0, rank_sum = 0;
    for (long i = 0; i < k;) {
        long j = i;
        while (j < k && v[j].s == v[i].s) j++;
        double avg = (double)(i + 1 + j) / 2.0; /* mean of ranks i+1 .. j */
        for (long t = i; t < j; t++)
            if (v[t].y > 0.5f) {
                npos += 1;
                rank_sum += avg;
            }
        i = j;
    }
    free(v);
    double nneg = (double)k - npos;
    if (npos == 0 || nneg == 0) return NAN;
    return (rank_sum - npos * (npos + 1) / 2.0) / (npos * nneg);
}

int ns_rank_metrics_compute(const float *prob, const float *label, long n, ns_rank_metrics *out)
{
    memset(out, 0, sizeof *out);
    double ll = 0, correct = 0, pos = 0, psum = 0;
    double bsum[NS_RANK_CAL_BINS] = {0}, bpos[NS_RANK_CAL_BINS] = {0};
    long k = 0;
    for (long i = 0; i < n; i++) {
        if (isnan(label[i])) continue;
        double p = prob[i], y = label[i] > 0.5f;
        double pc = p < 1e-7 ? 1e-7 : p > 1 - 1e-7 ? 1 - 1e-7 : p;
        ll -= y ? log(pc) : log(1 - pc);
        correct += (p >= 0.5) == (y > 0.5);
        pos += y;
        psum += p;
        int b = (int)(p * NS_RANK_CAL_BINS);
        if (b < 0) b = 0;
        if (b >= NS_RANK_CAL_BINS) b = NS_RANK_CAL_BINS - 1;
        out->bin_n[b]++;
        bsum[b] += p;
        bpos[b] += y;
        k++;
    }
    if (k == 0) return ns_err_set(NS_EINVAL, "no labelled rows to evaluate");
    out->n = k;
    out->logloss = ll / (double)k;
    out->accuracy = correct / (double)k;
    out->pos_rate = pos / (double)k;
    out->mean_pred = psum / (double)k;
    out->auc = ns_rank_auc(prob, label, n);
    for (int b = 0; b < NS_RANK_CAL_BINS; b++) {
        if (!out->bin_n[b]) continue;
        out->bin_pred[b] = bsum[b] / (double)out->bin_n[b];
        out->bin_obs[b] = bpos[b] / (double)out->bin_n[b];
        out->ece += (double)out->bin_n[b] / (double)k * fabs(out->bin_pred[b] - out->bin_obs[b]);
    }
    return NS_OK;
}
