#!/usr/bin/python3
"""peer_faiss.py BASE.npy QUERIES.npy TRUTH.npy M EFC THREADS EF[,EF...]

FAISS IndexHNSWFlat (Debian python3-faiss), same protocol as bench_hnsw run:
build with THREADS OpenMP threads (timed), then one thread for the searches
(the whole query batch per ef). Prints the same lines as bench_hnsw run (with CPU time).
"""
import resource, sys, time
import numpy as np
import faiss

base, queries, truth = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
M, efc, threads = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
efs = [int(e) for e in sys.argv[7].split(",")]
n, d = base.shape
faiss.omp_set_num_threads(threads)
idx = faiss.IndexHNSWFlat(d, M)
idx.hnsw.efConstruction = efc
t0, c0 = time.perf_counter(), time.process_time()
idx.add(np.ascontiguousarray(base))
tb, cb = time.perf_counter() - t0, time.process_time() - c0
links = idx.hnsw.neighbors.size() * 4 if hasattr(idx.hnsw.neighbors, "size") else 0
print(f"build\t{tb:.2f}\t{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}\t{(n * d * 4 + links) / 1048576:.0f}\t{cb:.2f}", flush=True)
faiss.omp_set_num_threads(1)
t = truth[:, :10]
for ef in efs:
    idx.hnsw.efSearch = ef
    idx.search(queries[: len(queries) // 10], 10)  # warm-up
    t1, c1 = time.perf_counter(), time.process_time()
    _, labels = idx.search(queries, 10)
    ts, cs = time.perf_counter() - t1, time.process_time() - c1
    rec = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(labels, t)])
    print(f"search\t{ef}\t{rec:.4f}\t{len(queries) / ts:.0f}\t{len(queries) / cs:.0f}", flush=True)
