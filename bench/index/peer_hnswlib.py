#!/usr/bin/python3
"""peer_hnswlib.py BASE.npy QUERIES.npy TRUTH.npy M EFC THREADS EF[,EF...]

hnswlib (Debian python3-hnswlib), same protocol as bench_hnsw run: build with
THREADS threads (timed), then single-thread queries (knn_query with
num_threads=1 over the whole query batch) at each ef. Prints
  build <s> <peak_rss_MiB> <index_MiB> <cpu_s>  /  search <ef> <recall@10> <qps> <cpu_qps>
"""
import resource, sys, time
import numpy as np
import hnswlib

base, queries, truth = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
M, efc, threads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
efs = [int(e) for e in sys.argv[7].split(",")]
n, d = base.shape
idx = hnswlib.Index(space="l2", dim=d)
idx.init_index(max_elements=n, M=M, ef_construction=efc, random_seed=42)
t0, c0 = time.perf_counter(), time.process_time()
idx.add_items(base, np.arange(n), num_threads=threads)
tb, cb = time.perf_counter() - t0, time.process_time() - c0
# index memory: level-0 block + upper links, as hnswlib sizes it
size0 = 4 + 2 * M * 4 + d * 4 + 8
print(f"build\t{tb:.2f}\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\t{n * size0 / 1048576:.0f}\t{cb:.2f}", flush=True)
t = truth[:, :10]
for ef in efs:
    idx.set_ef(ef)
    idx.knn_query(queries[: len(queries) // 10], k=10, num_threads=1)  # warm-up
    t1, c1 = time.perf_counter(), time.process_time()
    labels, _ = idx.knn_query(queries, k=10, num_threads=1)
    ts, cs = time.perf_counter() - t1, time.process_time() - c1
    rec = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(labels, t)])
    print(f"search\t{ef}\t{rec:.4f}\t{len(queries) / ts:.0f}\t{len(queries) / cs:.0f}", flush=True)
