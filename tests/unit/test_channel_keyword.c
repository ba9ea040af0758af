/* test_channel_keyword.c — the "keyword" recall channel leaves out of its
 * queries the words among the distinctive words of more than max_share
 * of the items: 6,000 items each titled "common <code>", a code shared by
 * three items; a user who clicked one is offered exactly the other two
 * (the common word, in every item, would match all of them), and with
 * max_share 1 the common word stays and matches the whole catalogue. */
#include "harness.h"
#include "northstar/bm25.h"
#include "northstar/pipeline.h"

#include <stdio.h>

enum { ITEMS = 6000 };

static void code(int k, char *out) /* a letters-only word per k */
{
    out[0] = 'q';
    out[1] = (char)('a' + k % 26);
    out[2] = (char)('a' + k / 26 % 26);
    out[3] = (char)('a' + k / 676 % 26);
    out[4] = 'x';
    out[5] = 0;
}

TEST(keyword_queries_leave_out_common_words)
{
    ns_bm25_params bp = ns_bm25_defaults();
    ns_bm25 *ix;
    ASSERT_OK(ns_bm25_create(&ix, &bp));
    ns_state *st = ns_state_new(NULL);
    ns_buf terms;
    ns_buf_init(&terms);
    for (int i = 0; i < ITEMS; i++) {
        char id[16], w[8], title[32];
        snprintf(id, sizeof id, "i%d", i);
        code(i / 3, w);
        snprintf(title, sizeof title, "common %s", w);
        const char *f[2] = {title, NULL};
        ASSERT_OK(ns_bm25_add(ix, (uint32_t)i, f, NULL));
        ASSERT_OK(ns_state_put_item(st, &(ns_item_rec){.id = id, .title = title}, NULL));
        ns_buf_printf(&terms, "%s\tcommon %s\n", id, w);
    }
    const char *ixf = ns_test_tmpfile("kw.bm25"), *tf = ns_test_tmpfile("kw.terms");
    ASSERT_OK(ns_bm25_save(ix, ixf));
    ASSERT_OK(ns_file_write_atomic(tf, terms.data, terms.len));
    ns_buf_release(&terms);
    ns_bm25_free(ix);
    ns_event_rec ev = {.user = "u", .item = "i300", .type = NS_EV_CLICK, .value = 1, .ts = 100};
    ASSERT_OK(ns_state_event(st, &ev));
    const ns_channel_type *t = ns_channel_find("keyword");
    ASSERT(t);
    uint32_t u;
    ASSERT(ns_state_find_user(st, "u", &u));
    for (int off = 0; off < 2; off++) {
        json_t *params = json_pack("{s:s, s:s, s:f}", "index_file", ixf, "terms_file", tf, "max_share", off ? 1.0 : 0.01);
        void *ch;
        ASSERT_OK(t->create(params, "recall[0].params", st, &ch));
        json_decref(params);
        ns_state_rdlock(st);
        ns_user_view uv;
        ns_state_user(st, u, &uv);
        ns_recall_req rq = {.state = st, .user = u, .user_known = 1, .uv = &uv};
        ns_scored got[50];
        int n = t->recall(ch, &rq, 50, got);
        ns_state_unlock(st);
        if (!off) {
            ASSERT_EQ_INT(n, 2); /* i301 and i302 share i300's code */
            uint32_t a, b;
            ASSERT(ns_state_find_item(st, "i301", &a) && ns_state_find_item(st, "i302", &b));
            ASSERT((got[0].item == a && got[1].item == b) || (got[0].item == b && got[1].item == a));
        } else {
            ASSERT_EQ_INT(n, 50); /* "common" matches every item */
        }
        t->free(ch);
    }
    ns_state_free(st);
}
