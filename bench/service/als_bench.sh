#!/bin/sh
# als_bench.sh BUILD_DIR [RUNS] — the "mf" channel (implicit ALS, als.h) on
# MovieLens-100K beside its twins (bench/service/als_reference.py), same
# split (per user 75/25, seed 42), same hyperparameters and initial factors.
#   quality: nDCG@10 of the channel alone (northstar eval movielens --mf),
#            the numpy twin's on the dumped split, their difference (<= 0.005);
#   speed:   ALS training time (15 sweeps, k 64), alternating runs:
#            northstar -j 2 and -j 1, numpy with OMP_NUM_THREADS=1 (its best:
#            Debian's numpy runs on the OpenMP build of OpenBLAS, which takes
#            its thread count from OMP_NUM_THREADS and ignores
#            OPENBLAS_NUM_THREADS; with 2 its per-matrix LAPACK calls spin:
#            55 s against 4.3 s), PyTorch (torch.set_num_threads(2)).
# Data: $NORTHSTAR_DATA/movielens-100k (else ../shared/data); skips when absent.
# Run it under the measurement lock (bench/run.sh holds it; or
# flock /tmp/northstar-measure.lock sh bench/service/als_bench.sh build).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
runs=${2:-3}
bin="$build/northstar"
data="${NORTHSTAR_DATA:-$here/../../../shared/data}/movielens-100k"
[ -f "$data/u.data" ] || { echo "als_bench.sh: no MovieLens-100K at $data: skipped"; exit 0; }
py=/usr/bin/python3
tmp=$(mktemp -d /tmp/ns-als-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "--- quality: northstar eval movielens --mf --no-ranker (and the twins on its split)"
"$bin" eval movielens --data "$data" --mf --no-ranker -q -j 2 --work "$tmp/work" --dump "$tmp/dump" | grep -E "^mf:|channel:mf|channel:i2i"
OMP_NUM_THREADS=1 $py "$here/als_reference.py" "$tmp/dump" --model "$tmp/work/bundle/mf.safetensors"
$py "$here/als_reference.py" "$tmp/dump" --backend torch --threads 2 2>/dev/null | sed -n 3p
echo "--- speed: training time, alternating ($runs runs each)"
for r in $(seq "$runs"); do
  for j in 2 1; do
    printf 'northstar -j %s: ' "$j"
    "$bin" eval movielens --data "$data" --mf --no-ranker -q -j "$j" | sed -n 's/^mf: .*, \([0-9.]*\) s\./\1 s/p'
  done
  printf 'numpy OMP_NUM_THREADS=1: '
  OMP_NUM_THREADS=1 $py "$here/als_reference.py" "$tmp/dump" | sed -n 's/^numpy ALS.*: \([0-9.]*\) s$/\1 s/p'
  printf 'torch 2 threads: '
  $py "$here/als_reference.py" "$tmp/dump" --backend torch --threads 2 2>/dev/null | sed -n 's/^torch ALS.*: \([0-9.]*\) s$/\1 s/p'
done
