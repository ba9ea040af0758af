/*
 * cmd_llm_finetune_classify.c — `northstar llm finetune-classify`: GPT-1
 * style fine-tuning, a linear head on the last token's final hidden state
 * trained with the whole model on 'label<TAB>text' lines (the SMS Spam
 * Collection format); accuracy and per-class precision/recall/F1 on the
 * held-out lines.
 */
#include "cli.h"
#include "llm_common.h"
#include "northstar/base.h"
#include "northstar/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: northstar llm finetune-classify --model MODEL --data FILE|DIR [--out CLS] [options]\n"
    "\n"
    "GPT-1 style fine-tuning: a linear head on the last token's final hidden state, trained with\n"
    "the whole model. DATA is 'label<TAB>text' per line (the SMS Spam Collection format; a\n"
    "directory means DIR/SMSSpamCollection). Held-out split: every 5th line (line % 5 == 0) is\n"
    "test, the rest train. Prints accuracy and per-class precision/recall/F1 on the test lines.\n"
    LLM_MODEL_HELP
    "  -o, --out CLS        write the model with its head\n"
    "  --epochs 2 --batch 16 --lr 3e-4 --weight-decay 0.01 --seq 64 (max tokens per text) --seed 1337\n";

#define CMD "llm finetune-classify"

typedef struct {
    llm_tuning t;
    int epochs;
} cls_opts;

static const cli_opt opts[] = {
    LLM_TUNING_OPTS(cls_opts, t),
    CLI_INT("epochs", 0, cls_opts, epochs, 1, 1000),
};

enum { MAX_LABELS = 64 };

/* Texts and labels of a data set: the train lines and the test lines. */
typedef struct {
    char *text; /* the file; texts point into it */
    const char **tr_t, **te_t;
    int *tr_y, *te_y, ntr, nte;
    const char *labels[MAX_LABELS];
    int nlab;
} labelled;

static void labelled_release(labelled *d)
{
    free(d->text);
    free(d->tr_t);
    free(d->te_t);
    free(d->tr_y);
    free(d->te_y);
}

/* The label's index, added when new. */
static int label_id(labelled *d, const char *name, const char *path, long lineno)
{
    for (int k = 0; k < d->nlab; k++)
        if (!strcmp(d->labels[k], name)) return k;
    if (d->nlab == MAX_LABELS) return ns_err_set_at(NS_ERANGE, path, lineno, "label", name, "more than 64 labels");
    d->labels[d->nlab] = name;
    return d->nlab++;
}

/* Read 'label<TAB>text' lines; every 5th line is a test line. */
static int read_labelled(const char *path, labelled *d)
{
    memset(d, 0, sizeof *d);
    size_t len;
    int rc = llm_read_text(path, &d->text, &len);
    if (rc < 0) return rc;
    size_t nl = 1;
    for (size_t i = 0; i < len; i++) nl += d->text[i] == '\n';
    d->tr_t = ns_malloc(sizeof(char *) * nl);
    d->te_t = ns_malloc(sizeof(char *) * nl);
    d->tr_y = ns_malloc(sizeof(int) * nl);
    d->te_y = ns_malloc(sizeof(int) * nl);
    if (!d->tr_t || !d->te_t || !d->tr_y || !d->te_y) return NS_ENOMEM;
    long lineno = 0;
    for (char *p = d->text, *e; p < d->text + len; p = e + 1) {
        e = memchr(p, '\n', (size_t)(d->text + len - p));
        if (!e) e = d->text + len;
        *e = 0;
        lineno++;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        if (!*p) continue;
        char *tab = strchr(p, '\t');
        if (!tab) return ns_err_set_at(NS_EFORMAT, path, lineno, NULL, NULL, "expected 'label<TAB>text'");
        *tab = 0;
        int y = label_id(d, p, path, lineno);
        if (y < 0) return y;
        if (lineno % 5 == 0) d->te_t[d->nte] = tab + 1, d->te_y[d->nte++] = y;
        else d->tr_t[d->ntr] = tab + 1, d->tr_y[d->ntr++] = y;
    }
    if (d->nlab < 2 || !d->ntr || !d->nte)
        return ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "need >= 2 labels and both train and test lines");
    return NS_OK;
}

static void report(const labelled *d, const int *pred, double secs, float loss)
{
    int correct = 0;
    for (int i = 0; i < d->nte; i++) correct += pred[i] == d->te_y[i];
    printf("finetune-classify: %d train / %d test texts, %d labels, %.1fs training (final loss %.4f)\n", d->ntr, d->nte,
           d->nlab, secs, loss);
    printf("accuracy %.4f\n", (double)correct / d->nte);
    for (int k = 0; k < d->nlab; k++) {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < d->nte; i++) {
            tp += pred[i] == k && d->te_y[i] == k;
            fp += pred[i] == k && d->te_y[i] != k;
            fn += pred[i] != k && d->te_y[i] == k;
        }
        double pr = tp + fp ? (double)tp / (tp + fp) : 0, rc = tp + fn ? (double)tp / (tp + fn) : 0;
        printf("class %-8s precision %.4f recall %.4f f1 %.4f (support %d)\n", d->labels[k], pr, rc,
               pr + rc > 0 ? 2 * pr * rc / (pr + rc) : 0.0, tp + fn);
    }
}

/* Train the head (and the model), predict the test lines, report, save. */
static int finetune(const cls_opts *o, ns_llm *m, const ns_bpe *tok, const labelled *d)
{
    ns_llm_cls_cfg cc = ns_llm_cls_defaults();
    cc.n_classes = d->nlab;
    cc.epochs = o->epochs;
    cc.batch = o->t.batch;
    cc.max_len = o->t.seq;
    cc.lr = (float)o->t.lr;
    cc.weight_decay = (float)o->t.wd;
    cc.seed = o->t.seed;
    int C = ns_llm_cfg(m)->d_model;
    float *head = ns_malloc(sizeof(float) * (size_t)d->nlab * (C + 1)), loss = 0;
    int *pred = ns_malloc(sizeof(int) * (size_t)d->nte);
    int rc = head && pred ? NS_OK : NS_ENOMEM;
    double t0 = ns_now();
    if (rc >= 0) rc = ns_llm_cls_train(m, tok, d->tr_t, d->tr_y, d->ntr, &cc, head, &loss);
    double t1 = ns_now();
    if (rc >= 0) rc = ns_llm_cls_predict(m, tok, d->te_t, d->nte, cc.max_len, head, d->nlab, pred);
    if (rc >= 0) report(d, pred, t1 - t0, loss);
    if (rc >= 0 && o->t.out) rc = ns_llm_cls_save(m, tok, head, d->nlab, o->t.out);
    free(head);
    free(pred);
    return rc;
}

int cmd_llm_finetune_classify(int argc, char **argv)
{
    cls_opts o = {{.batch = 16, .seq = 64, .lr = 3e-4, .wd = 0.01, .seed = 1337}, 2};
    int r = CLI_PARSE(argc, argv, CMD, usage, opts, &o);
    CLI_PARSE_RETURN(r);
    if (r != argc) return cli_usage_error(CMD, "unexpected argument '%s'", argv[r]);
    if (!o.t.data) return cli_usage_error(CMD, "--data is required");
    char path[4096];
    snprintf(path, sizeof path, "%s", o.t.data);
    if (ns_file_exists(path) && !strstr(path, "SMSSpam")) { /* a directory: DIR/SMSSpamCollection */
        char alt[4200];
        snprintf(alt, sizeof alt, "%s/SMSSpamCollection", o.t.data);
        FILE *f = fopen(alt, "r");
        if (f) {
            fclose(f);
            snprintf(path, sizeof path, "%s", alt);
        }
    }
    ns_llm *m;
    ns_bpe *tok;
    labelled d;
    memset(&d, 0, sizeof d);
    int rc = llm_load_model(&o.t.m, &m, &tok);
    if (rc >= 0) rc = read_labelled(path, &d);
    if (rc >= 0) rc = finetune(&o, m, tok, &d);
    labelled_release(&d);
    ns_llm_free(m);
    ns_bpe_free(tok);
    return rc < 0 ? cli_fail(CMD) : CLI_OK;
}
