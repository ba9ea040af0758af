/* test_channel_i2i.c — the "i2i" recall channel against a naive twin: for a
 * model with dense rows (EASE over all items: every column but the row's
 * own) and sparse rows (kept neighbours), items outside the model and
 * items outside the catalogue, the channel's candidates and scores equal
 * s(j) = sum over the user's positive history of w(i, j) (dislikes add
 * nothing), seen items (dislikes too) left out, the
 * best `quota` by score (ties: smaller item), computed the plain way. */
#include "harness.h"
#include "northstar/i2i.h"
#include "northstar/pipeline.h"

#include <stdlib.h>

enum { ROWS = 50, ITEMS = 60, QUOTA = 20 };

static int by_weight_desc(const void *a, const void *b)
{
    float x = ((const ns_scored *)a)->score, y = ((const ns_scored *)b)->score;
    return x > y ? -1 : x < y;
}

/* Rows r0..r49 name items i0..i49 (and "ghost" r49 names an item the
 * catalogue lacks); even rows dense, odd rows 6 random neighbours. */
static ns_i2i *random_model(ns_rng *r)
{
    ns_i2i *m = calloc(1, sizeof *m);
    m->method = NS_I2I_EASE;
    m->lambda = 1;
    m->n = ROWS;
    m->ids = ns_strmap_new(ROWS);
    m->off = malloc(sizeof *m->off * (ROWS + 1));
    m->nbr = malloc(sizeof *m->nbr * ROWS * ROWS);
    m->w = malloc(sizeof *m->w * ROWS * ROWS);
    char id[16];
    ns_scored row[ROWS];
    m->off[0] = 0;
    for (uint32_t i = 0; i < ROWS; i++) {
        int len = snprintf(id, sizeof id, i == ROWS - 1 ? "ghost" : "i%u", i);
        ns_strmap_intern(m->ids, id, (size_t)len);
        int k = 0;
        for (uint32_t j = 0; j < ROWS; j++)
            if (j != i && (i % 2 == 0 || ns_rng_below(r, ROWS) < 6))
                row[k++] = (ns_scored){j, (float)(ns_rng_uniform(r) * 2 - 0.5)};
        qsort(row, (size_t)k, sizeof *row, by_weight_desc);
        for (int x = 0; x < k; x++) {
            m->nbr[m->off[i] + x] = row[x].item;
            m->w[m->off[i] + x] = row[x].score;
        }
        m->off[i + 1] = m->off[i] + k;
    }
    return m;
}

/* The twin: rows and items matched by id, sums in history order. */
static int naive(const ns_i2i *m, ns_state *st, const ns_user_view *uv, ns_scored *out)
{
    float acc[ROWS] = {0};
    int touched[ROWS] = {0};
    for (uint32_t k = 0; k < uv->npos; k++) {
        ns_item_view iv;
        ns_state_item(st, uv->pos[k], &iv);
        int64_t r = ns_strmap_find(m->ids, iv.id, strlen(iv.id));
        if (r < 0) continue;
        for (int64_t x = m->off[r]; x < m->off[r + 1]; x++) acc[m->nbr[x]] += m->w[x], touched[m->nbr[x]] = 1;
    }
    int n = 0;
    for (uint32_t j = 0; j < ROWS; j++) {
        uint32_t item;
        if (!touched[j] || acc[j] == 0 || !ns_state_find_item(st, ns_strmap_key(m->ids, j, NULL), &item)) continue;
        int seen = 0;
        for (uint32_t k = 0; k < uv->nseen; k++) seen |= uv->seen[k] == item;
        if (!seen) out[n++] = (ns_scored){item, acc[j]};
    }
    for (int a = 1; a < n; a++) /* insertion sort: score desc, item asc */
        for (int b = a; b > 0 && (out[b].score > out[b - 1].score ||
                                  (out[b].score == out[b - 1].score && out[b].item < out[b - 1].item));
             b--) {
            ns_scored t = out[b];
            out[b] = out[b - 1];
            out[b - 1] = t;
        }
    return n < QUOTA ? n : QUOTA;
}

TEST(i2i_channel_equals_naive_twin)
{
    for (uint64_t seed = 1; seed <= 5; seed++) {
        ns_rng r;
        ns_rng_seed(&r, seed, 0);
        ns_i2i *m = random_model(&r);
        const char *path = ns_test_tmpfile("twin.i2i");
        ASSERT_OK(ns_i2i_save(m, path));
        ns_state *st = ns_state_new(NULL);
        char id[16];
        for (int i = ITEMS - 1; i >= 0; i--) { /* state order differs from row order */
            snprintf(id, sizeof id, "i%d", i);
            ASSERT_OK(ns_state_put_item(st, &(ns_item_rec){.id = id}, NULL));
        }
        for (int e = 0; e < 25; e++) {
            snprintf(id, sizeof id, "i%u", (unsigned)ns_rng_below(&r, ITEMS));
            int neg = e % 5 == 4; /* every fifth a dislike: seen, and no part of the history */
            ns_event_rec ev = {.user = "u", .item = id, .type = neg ? NS_EV_DISLIKE : NS_EV_CLICK, .value = 1, .ts = 100 + e};
            ASSERT_OK(ns_state_event(st, &ev));
        }
        const ns_channel_type *t = ns_channel_find("i2i");
        ASSERT(t);
        json_t *params = json_pack("{s:s}", "model_file", path);
        void *ch;
        ASSERT_OK(t->create(params, "recall[0].params", st, &ch));
        json_decref(params);
        uint32_t u;
        ASSERT(ns_state_find_user(st, "u", &u));
        ns_state_rdlock(st);
        ns_user_view uv;
        ns_state_user(st, u, &uv);
        ns_recall_req rq = {.state = st, .user = u, .user_known = 1, .uv = &uv};
        ns_scored got[QUOTA], want[ROWS];
        int ng = t->recall(ch, &rq, QUOTA, got), nw = naive(m, st, &uv, want);
        ns_state_unlock(st);
        ASSERT_EQ_INT(ng, nw);
        ASSERT(ng > 5);
        for (int k = 0; k < ng; k++) {
            ASSERT_EQ_INT(got[k].item, want[k].item);
            ASSERT_MSG(got[k].score == want[k].score, "seed %llu rank %d: %g != %g", (unsigned long long)seed, k,
                       got[k].score, want[k].score);
        }
        t->free(ch);
        ns_state_free(st);
        ns_i2i_free(m);
    }
}
