#!/bin/sh
# bench/run_index.sh BUILD_DIR — recall engines against their peers (issue 4).
#
#   HNSW: northstar vs hnswlib vs FAISS IndexHNSWFlat on seeded Gaussian-mixture
#         vectors (128-d; sizes from $NS_BENCH_HNSW_SIZES, default
#         "500000 1000000"; 10,000 queries), M 16, ef_construction 200, build on
#         2 threads, single-thread queries at several ef.
#         FAISS runs only for the sizes in $NS_BENCH_FAISS_SIZES (default: all).
#   BM25: northstar vs Xapian BM25 on Cranfield (bench/index/bm25_cranfield.sh).
#
# Engines alternate (ours, then the peers) and every timed run holds the
# measurement lock /tmp/northstar-measure.lock (bench/run.sh may already hold
# it: then set NS_MEASURE_LOCKED=1 and the runs are not re-locked). Generated
# data goes to $NS_BENCH_DIR (default BUILD_DIR/bench-index).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
out=${NS_BENCH_DIR:-$build/bench-index}
mkdir -p "$out"
sizes=${NS_BENCH_HNSW_SIZES:-"500000 1000000"}
efs=${NS_BENCH_HNSW_EFS:-"16,24,32,48,64,96,128,192,256"}
nq=${NS_BENCH_HNSW_QUERIES:-10000}
py=/usr/bin/python3
bench="$build/bench/bench_hnsw"
lock() {
  if [ "${NS_MEASURE_LOCKED:-0}" = 1 ]; then "$@"; else flock /tmp/northstar-measure.lock "$@"; fi
}
[ -x "$bench" ] || { echo "run_index: build $bench first (cmake --build $build)" >&2; exit 2; }
if [ "${NS_BENCH_SKIP_BM25:-0}" != 1 ] && [ -x "$here/index/bm25_cranfield.sh" ]; then
  "$here/index/bm25_cranfield.sh" "$build" "$out"
fi
if [ "${NS_BENCH_SKIP_HNSW:-0}" != 1 ]; then
  for n in $sizes; do
    b="$out/base-$n.npy" q="$out/queries-$n.npy" t="$out/truth-$n.npy"
    if [ ! -s "$t" ]; then
      echo "--- generating $n vectors and exact ground truth" >&2
      "$bench" gen "$b" "$q" "$n" "$nq" 128 20260401
      lock "$bench" truth "$b" "$q" 10 "$t"
    fi
    echo "--- northstar $n" >&2
    lock env NS_PROGRESS=0 "$bench" run "$b" "$q" "$t" 16 200 2 "$efs" | tee "$out/northstar-$n.tsv"
    echo "--- hnswlib $n" >&2
    lock env OMP_NUM_THREADS=2 "$py" "$here/index/peer_hnswlib.py" "$b" "$q" "$t" 16 200 2 "$efs" | tee "$out/hnswlib-$n.tsv"
  done
  # FAISS last: it is the slowest to build and the targets are set against hnswlib
  for n in ${NS_BENCH_FAISS_SIZES:-$sizes}; do
    b="$out/base-$n.npy" q="$out/queries-$n.npy" t="$out/truth-$n.npy"
    [ -s "$t" ] || continue
    echo "--- faiss $n" >&2
    lock env OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 "$py" "$here/index/peer_faiss.py" "$b" "$q" "$t" 16 200 2 "$efs" | tee "$out/faiss-$n.tsv"
  done
  "$py" "$here/index/summarize_hnsw.py" "$out" $sizes
fi
