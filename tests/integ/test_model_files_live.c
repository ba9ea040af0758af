/*
 * test_model_files_live.c — a server serving a trained bundle (`northstar
 * sim`, `northstar train`, `northstar serve --models`) and what happens to
 * its model files meanwhile:
 *   - under a client load of GET /v1/recommend, every file of the bundle is
 *     overwritten in place with another bundle's (as cp does: same inode),
 *     then truncated to 4096 bytes and to 0: every answer is 200 with valid
 *     JSON and the server never crashes (the models it serves are copies);
 *     the reload that follows fails and the pipeline in force keeps serving;
 *   - POST /admin/reload with a broken model file (NaN weights, truncated,
 *     random bytes; the ranker, the i2i model, the HNSW and BM25 indexes)
 *     answers 422 naming the setting and the tensor (the server's log line
 *     names the file too), and the old pipeline keeps serving;
 *   - a missing ranker file ("required": false) reloads with the blend
 *     fallback, and the reload, the recommendations and /v1/stats say
 *     "ranker": "blend".
 */
#include "integ_harness.h"
#include "unit/index_files.h"

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

/* A simulated store DIR/NAME.db and the bundle trained from it, DIR/NAME. */
static void bundle(const char *dir, const char *name, int seed, int users, int items)
{
    ASSERT_EQ_INT(cli_run(NULL, "sim --quiet --db %s/%s.db --users %d --items %d --days 3 --sessions 1 --seed %d", dir,
                          name, users, items, seed),
                  0);
    ASSERT_EQ_INT(cli_run(NULL, "train --quiet --db %s/%s.db --out %s/%s -j 2 --epochs 2 --seed %d", dir, name, dir,
                          name, seed),
                  0);
}


/* A recommendation answer that is JSON with finite numeric scores, and its ranker. */
static int valid_answer(const char *body, size_t n, char *ranker, size_t cap)
{
    json_t *j = json_loadb(body, n, 0, NULL);
    json_t *items = j ? json_object_get(j, "items") : NULL;
    int ok = json_is_array(items) && json_array_size(items) > 0;
    for (size_t i = 0; ok && i < json_array_size(items); i++)
        ok = json_is_number(json_object_get(json_array_get(items, i), "score"));
    const char *r = j ? json_string_value(json_object_get(j, "ranker")) : NULL;
    if (ranker) snprintf(ranker, cap, "%s", r ? r : "");
    json_decref(j);
    return ok && r;
}

/* GET /v1/recommend for a user: 200 with a valid answer; returns its ranker. */
static const char *recommend(ns_http_client *c, int user)
{
    static char ranker[64];
    char path[64];
    snprintf(path, sizeof path, "/v1/recommend/u%d?n=10", user);
    const char *r;
    size_t n;
    int st = ns_http_client_request(c, "GET", path, NULL, NULL, 0, &r, &n);
    ASSERT_MSG(st == 200, "GET %s: %d %.300s", path, st, st > 0 ? r : ns_err_msg());
    ASSERT_MSG(valid_answer(r, n, ranker, sizeof ranker), "GET %s: not a valid answer: %.300s", path, r);
    return ranker;
}

/* A server on DIR/a.db serving the bundle DIR/a (trained here), admin
 * token "tok", and a client *c of it that got a first answer from the
 * Wide & Deep ranker. */
static server serve_bundle(const char *dir, ns_http_client **c)
{
    bundle(dir, "a", 3, 300, 600);
    char db[1200], extra[1300];
    snprintf(db, sizeof db, "%s/a.db", dir);
    snprintf(extra, sizeof extra, "--admin-token tok --models %s/a", dir);
    server s = start(db, extra);
    *c = ns_http_client_new("127.0.0.1", s.port, 10);
    ASSERT_STREQ(recommend(*c, 7), "wide_deep");
    return s;
}

/* POST /admin/reload: its status; the reply lands in buf. */
static int reload(int port, char *buf, size_t cap)
{
    int st = raw_request(port, "POST", "/admin/reload", "tok", buf, cap);
    const char *body = strstr(buf, "\r\n\r\n");
    printf("  reload: %d %s", st, body ? body + 4 : buf);
    return st;
}

/* ---- clients in a loop ------------------------------------------------------------ */

typedef struct {
    int port, id;
    atomic_int stop;
    atomic_long ok, bad;
    char first_bad[600];
} load_t;

static void *load_loop(void *arg)
{
    load_t *l = arg;
    ns_http_client *c = ns_http_client_new("127.0.0.1", l->port, 10);
    for (long k = 0; !atomic_load(&l->stop); k++) {
        char path[64];
        snprintf(path, sizeof path, "/v1/recommend/u%ld?n=10", (k * 7 + l->id * 13) % 300);
        const char *r;
        size_t n;
        int st = ns_http_client_request(c, "GET", path, NULL, NULL, 0, &r, &n);
        if (st == 200 && valid_answer(r, n, NULL, 0)) {
            atomic_fetch_add(&l->ok, 1);
            continue;
        }
        if (atomic_fetch_add(&l->bad, 1) == 0)
            snprintf(l->first_bad, sizeof l->first_bad, "GET %s: %d %.400s", path, st, st > 0 ? r : ns_err_msg());
        if (st < 0) { /* the connection is gone: a new one (and a pause, should the server be down) */
            ns_http_client_free(c);
            usleep(100000);
            c = ns_http_client_new("127.0.0.1", l->port, 10);
        }
    }
    ns_http_client_free(c);
    return NULL;
}

static long answered(load_t *l, int n)
{
    long s = 0;
    for (int i = 0; i < n; i++) s += atomic_load(&l[i].ok) + atomic_load(&l[i].bad);
    return s;
}

/* Let the clients make `more` requests (or 20 s pass). */
static void keep_serving(load_t *l, int n, long more)
{
    long want = answered(l, n) + more;
    double t0 = ns_now();
    while (answered(l, n) < want && ns_now() - t0 < 20) usleep(2000);
    ASSERT_MSG(answered(l, n) >= want, "the clients made no progress for 20 s");
}

/* cp src dst: dst opened with O_TRUNC and rewritten in place (the same inode). */
static void copy_in_place(const char *src, const char *dst)
{
    char *b;
    size_t n;
    ASSERT_OK(ns_file_read_all(src, &b, &n, 0));
    int fd = open(dst, O_WRONLY | O_TRUNC);
    ASSERT_MSG(fd >= 0, "cannot open %s", dst);
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, b + off, n - off);
        ASSERT(w > 0);
        off += (size_t)w;
    }
    ASSERT_EQ_INT(close(fd), 0);
    free(b);
}

TEST(model_files_overwritten_and_truncated_under_load)
{
    const char *dir = ns_test_tmpdir();
    bundle(dir, "b", 9, 200, 900); /* another world: other sizes, ids, vocabularies */
    ns_http_client *c;
    server s = serve_bundle(dir, &c);
    enum { NLOAD = 2 };
    load_t l[NLOAD];
    pthread_t th[NLOAD];
    for (int i = 0; i < NLOAD; i++) {
        memset(&l[i], 0, sizeof l[i]);
        l[i].port = s.port;
        l[i].id = i;
        ASSERT_EQ_INT(pthread_create(&th[i], NULL, load_loop, &l[i]), 0);
    }
    keep_serving(l, NLOAD, 50);
    static const char *const files[] = {"items.hnsw", "i2i.safetensors", "ranker.safetensors", "keyword.bm25",
                                        "keyword.terms", "items.vec", "pipeline.json"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/a/%s", dir, files[f]);
        snprintf(b, sizeof b, "%s/b/%s", dir, files[f]);
        copy_in_place(b, a);
        keep_serving(l, NLOAD, 40);
        ASSERT_EQ_INT(truncate(a, 4096), 0);
        keep_serving(l, NLOAD, 40);
        ASSERT_EQ_INT(truncate(a, 0), 0);
        keep_serving(l, NLOAD, 40);
        printf("  %s overwritten and truncated: %ld answers so far\n", files[f], answered(l, NLOAD));
    }
    /* the bundle is now empty files: a reload fails, the pipeline in force stays */
    static char buf[1 << 16];
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 422);
    ASSERT_HAS(buf, "config is not JSON");
    keep_serving(l, NLOAD, 40);
    for (int i = 0; i < NLOAD; i++) {
        atomic_store(&l[i].stop, 1);
        pthread_join(th[i], NULL);
        printf("  client %d: %ld answers 200 with valid JSON, %ld not\n", i, atomic_load(&l[i].ok),
               atomic_load(&l[i].bad));
        ASSERT_MSG(atomic_load(&l[i].bad) == 0, "client %d: %s", i, l[i].first_bad);
    }
    ASSERT_EQ_INT(kill(s.pid, 0), 0);
    ASSERT_EQ_INT(waitpid(s.pid, NULL, WNOHANG), 0); /* still running: no crash */
    ASSERT_STREQ(recommend(c, 11), "wide_deep");
    ns_http_client_free(c);
    int st = stop(&s, SIGTERM);
    ASSERT_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "server ended with status %d", st);
}

/* Replace DIR/a/FILE atomically with img[0..n). */
static void put_file(const char *dir, const char *file, const char *img, size_t n)
{
    char p[1200];
    snprintf(p, sizeof p, "%s/a/%s", dir, file);
    ASSERT_OK(ns_file_write_atomic(p, img, n));
}

TEST(reload_refuses_broken_model_files_and_keeps_serving)
{
    const char *dir = ns_test_tmpdir();
    ns_http_client *c;
    server s = serve_bundle(dir, &c);
    static char buf[1 << 16];
    /* NaN in each model kind: the ranker's weights, the i2i weights, an HNSW
     * vector, a BM25 frequency */
    static const struct { const char *file, *setting, *tensor, *names; size_t byte; } nan_in[] = {
        {"ranker.safetensors", "rank.params.model_file", "wide.w", "element 5 (of", 20},
        {"i2i.safetensors", "recall[0].params.model_file", "w", "element 2 (of", 8},
        {"items.hnsw", "recall[1].params.index_file", "l0", "slot 0: vector element 1", 4},
        {"keyword.bm25", "recall[2].params.index_file", "post_tf", "element 0 (of", 0}};
    for (size_t k = 0; k < sizeof nan_in / sizeof nan_in[0]; k++) {
        char p[1200], keep[1200];
        snprintf(p, sizeof p, "%s/a/%s", dir, nan_in[k].file);
        snprintf(keep, sizeof keep, "%s/%s.good", dir, nan_in[k].file);
        ASSERT_EQ_INT(rename(p, keep), 0);
        rewrite(keep, p, nan_in[k].tensor, nan_in[k].byte, 0x7fc00000u, NULL, NULL);
        ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 422);
        ASSERT_HAS(buf, nan_in[k].setting);
        ASSERT_HAS(buf, nan_in[k].names);
        ASSERT_HAS(buf, "is nan");
        char field[64];
        snprintf(field, sizeof field, "\"field\":\"%s\"", nan_in[k].tensor);
        ASSERT_HAS(buf, field);
        ASSERT_STREQ(recommend(c, (int)k), "wide_deep"); /* the old pipeline */
        ASSERT_EQ_INT(rename(keep, p), 0);
    }
    /* a truncated ranker, and one of random bytes */
    char rp[1200], *img;
    size_t len;
    snprintf(rp, sizeof rp, "%s/a/ranker.safetensors", dir);
    ASSERT_OK(ns_file_read_all(rp, &img, &len, 0));
    put_file(dir, "ranker.safetensors", img, len / 2);
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 422);
    ASSERT_HAS(buf, "rank.params.model_file");
    ASSERT_STREQ(recommend(c, 5), "wide_deep");
    char *junk = malloc(len);
    for (size_t k = 0; k < len; k++) junk[k] = (char)(k * 2654435761u >> 13);
    put_file(dir, "ranker.safetensors", junk, len);
    free(junk);
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 422);
    ASSERT_HAS(buf, "rank.params.model_file");
    ASSERT_STREQ(recommend(c, 6), "wide_deep");
    /* the good file back: the reload takes */
    put_file(dir, "ranker.safetensors", img, len);
    free(img);
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 200);
    ASSERT_HAS(buf, "\"ranker\":\"wide_deep\"");
    ASSERT_STREQ(recommend(c, 8), "wide_deep");
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}

TEST(missing_ranker_file_falls_back_and_says_so)
{
    const char *dir = ns_test_tmpdir();
    ns_http_client *c;
    server s = serve_bundle(dir, &c);
    char rp[1200], away[1200];
    snprintf(rp, sizeof rp, "%s/a/ranker.safetensors", dir);
    snprintf(away, sizeof away, "%s/ranker.away", dir);
    ASSERT_EQ_INT(rename(rp, away), 0);
    static char buf[1 << 16];
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 200); /* "required": false: the blend ranks */
    ASSERT_HAS(buf, "\"ranker\":\"blend\"");
    ASSERT_STREQ(recommend(c, 7), "blend");
    json_t *j = get_json(c, "/v1/stats", 200);
    ASSERT_STREQ(json_string_value(json_object_get(j, "ranker")), "blend");
    json_decref(j);
    ASSERT_EQ_INT(rename(away, rp), 0);
    ASSERT_EQ_INT(reload(s.port, buf, sizeof buf), 200);
    ASSERT_HAS(buf, "\"ranker\":\"wide_deep\"");
    ASSERT_STREQ(recommend(c, 7), "wide_deep");
    ns_http_client_free(c);
    ASSERT_EQ_INT(WEXITSTATUS(stop(&s, SIGTERM)), 0);
}
