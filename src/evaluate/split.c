/*
 * split.c — the evaluation split: ns_eval_split (eval.h) over the distinct
 * (user, item) pairs of the positive events, each pair represented by its
 * first event; an event repeating a pair follows it; the other events stay
 * in training. Keys are the ids' values when every id is a decimal number
 * below 2^32 written without leading zeros (MovieLens: the split bench/service/ml_reference.py
 * re-derives), else their data set indexes. Then each user's test items
 * and consumed training items (any event but a bare impression), sorted.
 */
#include "evaluate_int.h"

#include "northstar/event.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int numeric_ids(const ns_strmap *m)
{
    for (size_t i = 0; i < ns_strmap_count(m); i++) {
        const char *s = ns_strmap_key(m, (int64_t)i, NULL);
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (!*s || *s < '0' || *s > '9' || (*s == '0' && s[1]) || *end || errno || v > UINT32_MAX)
            return 0; /* (no leading zeros: "07" and "7" must not share a key) */
    }
    return 1;
}

static uint32_t key_of(const ns_strmap *m, uint32_t idx, int numeric)
{
    return numeric ? (uint32_t)strtoull(ns_strmap_key(m, idx, NULL), NULL, 10) : idx;
}

/* Per user, the items of the events sel(k) says, sorted and distinct. */
static int lists(const ns__ev_data *x, int (*sel)(const ns__ev_data *, size_t), int64_t **off_out, uint32_t **items_out)
{
    uint32_t nu = (uint32_t)ns_strmap_count(x->d.uids);
    int64_t *off = ns_calloc((size_t)nu + 2, sizeof *off), *fill = ns_calloc((size_t)nu + 1, sizeof *fill);
    uint32_t *items = ns_malloc(sizeof *items * (x->d.nev + 1));
    if (!off || !fill || !items) {
        free(off);
        free(fill);
        free(items);
        return NS_ENOMEM;
    }
    for (size_t k = 0; k < x->d.nev; k++) off[x->d.ev[k].u + 1] += sel(x, k);
    for (uint32_t u = 0; u < nu; u++) off[u + 1] += off[u];
    for (size_t k = 0; k < x->d.nev; k++)
        if (sel(x, k)) items[off[x->d.ev[k].u] + fill[x->d.ev[k].u]++] = x->d.ev[k].i;
    int64_t w = 0; /* compact: sorted, distinct */
    for (uint32_t u = 0; u < nu; u++) {
        uint32_t *v = items + off[u];
        qsort(v, (size_t)fill[u], sizeof *v, ns_cmp_u32);
        int64_t start = w;
        for (int64_t j = 0; j < fill[u]; j++)
            if (w == start || items[w - 1] != v[j]) items[w++] = v[j];
        off[u] = start;
    }
    off[nu] = w;
    free(fill);
    *off_out = off;
    *items_out = items;
    return 0;
}

static int is_test(const ns__ev_data *x, size_t k) { return x->test[k]; }
static int is_consumed(const ns__ev_data *x, size_t k) { return !x->test[k] && x->d.ev[k].type != NS_EV_IMPRESSION; }

/* rep[k]: the first event of k's pair (itself for a first), or -1 for an
 * event that is not positive. */
static int pairs(ns__ev_data *x, int64_t *rep, size_t *nrep, ns_evaluate_input *in)
{
    ns_u64map m;
    int rc = ns_u64map_init(&m, x->d.nev + 1);
    if (rc < 0) return rc;
    *nrep = 0;
    for (size_t k = 0; k < x->d.nev && rc >= 0; k++) {
        const ns_devent *e = &x->d.ev[k];
        rep[k] = -1;
        if (!ns_dataset_positive(&x->d, e)) {
            in->non_positive++;
            continue;
        }
        in->positives++;
        uint64_t key = (uint64_t)e->u << 32 | e->i, first;
        if (ns_u64map_get(&m, key, &first)) {
            rep[k] = (int64_t)first;
            in->duplicates++;
        } else {
            rep[k] = (int64_t)k;
            (*nrep)++;
            rc = ns_u64map_put(&m, key, k);
        }
    }
    ns_u64map_release(&m);
    return rc;
}

/* Split the pairs' first events; every event takes its pair's side. */
static int split_pairs(ns__ev_data *x, const int64_t *rep, size_t nrep, double ratio, uint64_t seed)
{
    uint32_t *us = ns_malloc(sizeof *us * (nrep + 1)), *is = ns_malloc(sizeof *is * (nrep + 1));
    size_t *at = ns_malloc(sizeof *at * (nrep + 1));
    uint8_t *t = ns_calloc(nrep + 1, 1);
    int rc = us && is && at && t ? 0 : NS_ENOMEM;
    int nu = rc ? 0 : numeric_ids(x->d.uids), ni = rc ? 0 : numeric_ids(x->d.iids);
    size_t n = 0;
    for (size_t k = 0; !rc && k < x->d.nev; k++)
        if (rep[k] == (int64_t)k) {
            us[n] = key_of(x->d.uids, x->d.ev[k].u, nu);
            is[n] = key_of(x->d.iids, x->d.ev[k].i, ni);
            at[n++] = k;
        }
    if (!rc) rc = ns_eval_split(us, is, n, ratio, seed, t);
    for (size_t j = 0; rc >= 0 && j < n; j++) x->test[at[j]] = t[j];
    for (size_t k = 0; rc >= 0 && k < x->d.nev; k++)
        if (rep[k] >= 0) x->test[k] = x->test[rep[k]];
    free(us);
    free(is);
    free(at);
    free(t);
    return rc;
}

/* The users asked, and the users counted apart. */
static int test_users(ns__ev_data *x, ns_evaluate_input *in)
{
    uint32_t nu = (uint32_t)ns_strmap_count(x->d.uids);
    uint8_t *pos = ns_calloc((size_t)nu + 1, 1), *any_train = ns_calloc((size_t)nu + 1, 1);
    x->users = ns_malloc(sizeof *x->users * ((size_t)nu + 1));
    if (!pos || !any_train || !x->users) {
        free(pos);
        free(any_train);
        return NS_ENOMEM;
    }
    for (size_t k = 0; k < x->d.nev; k++) {
        if (ns_dataset_positive(&x->d, &x->d.ev[k])) pos[x->d.ev[k].u] = 1;
        if (!x->test[k]) any_train[x->d.ev[k].u] = 1;
    }
    for (uint32_t u = 0; u < nu; u++) {
        if (x->toff[u + 1] > x->toff[u]) {
            x->users[x->nusers++] = u;
            in->users_cold += !any_train[u];
        } else
            in->users_no_test += pos[u];
    }
    in->test_users = x->nusers;
    free(pos);
    free(any_train);
    return 0;
}

int ns__ev_split(ns__ev_data *x, double ratio, uint64_t seed, ns_evaluate_input *in)
{
    if (x->d.nev > UINT32_MAX) return ns_err_set(NS_ERANGE, "evaluate: too many events");
    int64_t *rep = ns_malloc(sizeof *rep * (x->d.nev + 1));
    x->test = ns_calloc(x->d.nev + 1, 1);
    if (!rep || !x->test) {
        free(rep);
        return NS_ENOMEM;
    }
    size_t nrep;
    int rc = pairs(x, rep, &nrep, in);
    if (rc >= 0 && !nrep) rc = ns_err_set(NS_EINVAL, "evaluate: the data has no positive events to split");
    if (rc >= 0) rc = split_pairs(x, rep, nrep, ratio, seed);
    free(rep);
    if (rc < 0) return rc;
    if ((rc = lists(x, is_test, &x->toff, &x->titems)) < 0 || (rc = lists(x, is_consumed, &x->soff, &x->sitems)) < 0)
        return rc;
    for (uint32_t u = 0; u < (uint32_t)ns_strmap_count(x->d.uids); u++) in->test_pairs += x->toff[u + 1] - x->toff[u];
    in->train_pairs = (long)nrep - in->test_pairs;
    return test_users(x, in);
}

int ns__ev_dump_split(const ns__ev_data *x, const char *dir)
{
    char path[1200];
    int rc = ns_mkdirs(dir);
    snprintf(path, sizeof path, "%s/metrics.tsv", dir);
    remove(path);
    for (int part = 0; rc >= 0 && part < 2; part++) {
        snprintf(path, sizeof path, "%s/%s.tsv", dir, part ? "test" : "train");
        FILE *f = fopen(path, "w");
        if (!f) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
        for (size_t k = 0; k < x->d.nev; k++)
            if (x->test[k] == part) {
                ns_event_rec e = ns_dataset_event(&x->d, &x->d.ev[k]);
                fprintf(f, "%s\t%s\t%g\t%.0f\n", e.user, e.item, e.value, e.ts);
            }
        if (fclose(f) != 0) rc = ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "write failed");
    }
    return rc;
}
