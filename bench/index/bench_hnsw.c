/*
 * bench_hnsw.c — the vector-index benchmark driver (run by bench/run_index.sh).
 *
 *   bench_hnsw gen   BASE.npy QUERIES.npy N NQ DIM SEED
 *       seeded Gaussian mixture (64 centres, N(0,1) centres, spread 0.35 per
 *       axis... see mixture()); base and queries from the same mixture.
 *   bench_hnsw truth BASE.npy QUERIES.npy K OUT.npy
 *       exact k-NN (L2) with ns_fvec_search on all threads -> I32 [NQ, K].
 *   bench_hnsw run   BASE.npy QUERIES.npy TRUTH.npy M EFC THREADS EF[,EF...]
 *       builds an HNSW index with THREADS threads (timed), then for each ef
 *       answers every query one at a time on ONE thread (timed) and prints
 *       tab-separated lines:
 *         build <seconds> <peak_rss_MiB> <index_MiB> <cpu_seconds>
 *         search <ef> <recall@10> <qps> <queries per CPU-second>
 *   bench_hnsw load  INDEX
 *       opens a saved index (ns_hnsw_load, every check included) on ONE
 *       thread and prints: load <seconds> <cpu_seconds> <peak_rss_MiB>
 * CPU time (CLOCK_PROCESS_CPUTIME_ID, all threads) is reported beside wall
 * time because the shared machine is often loaded by other jobs.
 * The Python peers (peer_hnswlib.py, peer_faiss.py) print the same lines.
 */
#include "northstar/base.h"
#include "northstar/hnsw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static int write_npy(const char *path, const char *descr, size_t rows, size_t cols, const void *data, size_t esz)
{
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, %zu), }", descr, rows,
                      cols);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    FILE *f = fopen(path, "wb");
    if (!f) return ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "cannot write");
    unsigned short len = (unsigned short)(hl + pad + 1);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fwrite(&len, 2, 1, f);
    fwrite(hdr, 1, (size_t)hl, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    size_t w = fwrite(data, esz, rows * cols, f);
    int bad = fclose(f) != 0 || w != rows * cols;
    return bad ? ns_err_set_at(NS_EIO, path, 0, NULL, NULL, "short write") : NS_OK;
}

/* Read a 2-D little-endian npy (f4 or i4) written by write_npy or numpy. */
static void *read_npy(const char *path, size_t *rows, size_t *cols)
{
    char *buf;
    size_t len;
    if (ns_file_read_all(path, &buf, &len, 0) < 0) return NULL;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6)) {
        ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "not an npy file");
        free(buf);
        return NULL;
    }
    size_t hl = (unsigned char)buf[8] | ((size_t)(unsigned char)buf[9] << 8);
    const char *sh = strstr(buf + 10, "'shape': (");
    if (!sh || sscanf(sh, "'shape': (%zu, %zu)", rows, cols) != 2 || 10 + hl + *rows * *cols * 4 > len) {
        ns_err_set_at(NS_EFORMAT, path, 0, NULL, NULL, "unsupported npy header");
        free(buf);
        return NULL;
    }
    void *out = malloc(*rows * *cols * 4 + 1);
    memcpy(out, buf + 10 + hl, *rows * *cols * 4);
    free(buf);
    return out;
}

static float *mixture(size_t n, int d, uint64_t seed, uint64_t stream, const float *centres, int nc)
{
    float *x = malloc(sizeof(float) * n * (size_t)d);
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < (n + 4095) / 4096; b++) {
        ns_rng r;
        ns_rng_seed(&r, seed, stream * 1000003 + b);
        for (size_t i = b * 4096; i < n && i < (b + 1) * 4096; i++) {
            const float *c = centres + ns_rng_below(&r, (uint64_t)nc) * (size_t)d;
            for (int j = 0; j < d; j++) x[i * (size_t)d + j] = c[j] + 0.35f * (float)ns_rng_normal(&r);
        }
    }
    return x;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    if (argc >= 8 && !strcmp(argv[1], "gen")) {
        size_t n = strtoull(argv[4], NULL, 10), nq = strtoull(argv[5], NULL, 10);
        int d = atoi(argv[6]);
        uint64_t seed = strtoull(argv[7], NULL, 10);
        int nc = 64;
        ns_rng r;
        ns_rng_seed(&r, seed, 0);
        float *c = malloc(sizeof(float) * (size_t)nc * (size_t)d);
        ns_rng_fill_normal(&r, c, (size_t)nc * (size_t)d, 0, 1);
        float *x = mixture(n, d, seed, 1, c, nc), *q = mixture(nq, d, seed, 2, c, nc);
        if (write_npy(argv[2], "<f4", n, (size_t)d, x, 4) < 0 || write_npy(argv[3], "<f4", nq, (size_t)d, q, 4) < 0) {
            fprintf(stderr, "%s\n", ns_err_msg());
            return 1;
        }
        return 0;
    }
    if (argc >= 6 && !strcmp(argv[1], "truth")) {
        size_t n, d, nq, dq;
        float *x = read_npy(argv[2], &n, &d), *q = read_npy(argv[3], &nq, &dq);
        int k = atoi(argv[4]);
        if (!x || !q || d != dq) {
            fprintf(stderr, "truth: %s\n", ns_err_msg());
            return 1;
        }
        uint32_t *ids = malloc(sizeof(uint32_t) * nq * (size_t)k);
        float *dist = malloc(sizeof(float) * nq * (size_t)k);
        double t0 = ns_now();
        if (ns_fvec_search(x, n, (int)d, NS_METRIC_L2, q, nq, k, ids, dist) < 0) {
            fprintf(stderr, "truth: %s\n", ns_err_msg());
            return 1;
        }
        fprintf(stderr, "exact search: %zu queries x %zu rows in %.1f s on %d threads\n", nq, n, ns_now() - t0,
                ns_threads());
        return write_npy(argv[5], "<i4", nq, (size_t)k, ids, 4) < 0;
    }
    if (argc >= 9 && !strcmp(argv[1], "run")) {
        size_t n, d, nq, dq, tq, tk;
        float *x = read_npy(argv[2], &n, &d), *q = read_npy(argv[3], &nq, &dq);
        int32_t *truth = read_npy(argv[4], &tq, &tk);
        if (!x || !q || !truth || d != dq || tq != nq || tk < 10) {
            fprintf(stderr, "run: bad inputs: %s\n", ns_err_msg());
            return 1;
        }
        ns_hnsw_params p = ns_hnsw_defaults((int)d, NS_METRIC_L2);
        p.M = atoi(argv[5]);
        p.ef_construction = atoi(argv[6]);
        p.capacity = n;
        ns_set_threads(atoi(argv[7]));
        ns_hnsw *h;
        if (ns_hnsw_create(&h, &p) < 0) {
            fprintf(stderr, "%s\n", ns_err_msg());
            return 1;
        }
        double t0 = ns_now(), c0 = cpu_now();
        if (ns_hnsw_add_batch(h, NULL, x, n) < 0) {
            fprintf(stderr, "%s\n", ns_err_msg());
            return 1;
        }
        double tb = ns_now() - t0, cb = cpu_now() - c0;
        ns_hnsw_stats st;
        ns_hnsw_get_stats(h, &st);
        printf("build\t%.2f\t%.0f\t%.0f\t%.2f\n", tb, peak_rss_mib(), st.bytes / 1048576.0, cb);
        fflush(stdout);
        ns_set_threads(1);
        ns_hit hits[10];
        for (char *s = argv[8]; s && *s;) {
            int ef = atoi(s);
            for (size_t i = 0; i < nq / 10; i++) ns_hnsw_search(h, q + i * d, 10, ef, NULL, hits); /* warm-up */
            size_t found = 0;
            double t1 = ns_now(), c1 = cpu_now();
            for (size_t i = 0; i < nq; i++) {
                int g = ns_hnsw_search(h, q + i * d, 10, ef, NULL, hits);
                for (int j = 0; j < g; j++)
                    for (int m = 0; m < 10; m++)
                        if ((int32_t)hits[j].id == truth[i * tk + (size_t)m]) {
                            found++;
                            break;
                        }
            }
            double ts = ns_now() - t1, cs = cpu_now() - c1;
            printf("search\t%d\t%.4f\t%.0f\t%.0f\n", ef, (double)found / (10.0 * (double)nq), (double)nq / ts,
                   (double)nq / cs);
            fflush(stdout);
            s = strchr(s, ',');
            if (s) s++;
        }
        ns_hnsw_free(h);
        return 0;
    }
    if (argc >= 3 && !strcmp(argv[1], "load")) {
        ns_set_threads(1);
        ns_hnsw *h;
        double t0 = ns_now(), c0 = cpu_now();
        if (ns_hnsw_load(&h, argv[2]) < 0) {
            fprintf(stderr, "%s\n", ns_err_msg());
            return 1;
        }
        printf("load\t%.3f\t%.3f\t%.0f\n", ns_now() - t0, cpu_now() - c0, peak_rss_mib());
        ns_hnsw_free(h);
        return 0;
    }
    fprintf(stderr, "usage: bench_hnsw gen|truth|run|load ... (see the comment at the top of bench_hnsw.c)\n");
    return 2;
}
