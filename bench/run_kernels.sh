#!/bin/sh
# run_kernels.sh BUILD_DIR — kernels against PyTorch (issue 2).
# Two alternating rounds of: northstar, torch with OpenBLAS single-threaded
# beside 2 torch threads, torch with 2 OpenBLAS threads (each op keeps its
# best configuration). Results: bench/out/kernels-*.jsonl and a table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
out="$here/out"; mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
quick=${NS_BENCH_QUICK:+--quick}
export OMP_WAIT_POLICY=passive
files=""
for round in 1 2; do
  f="$out/kernels-$stamp-ns-$round.jsonl"
  NS_THREADS=2 "$build/bench/bench_kernels" $quick > "$f"; files="$files $f"
  f="$out/kernels-$stamp-torch1-$round.jsonl"
  OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 /usr/bin/python3 "$here/kernels/torch_kernels.py" --threads 2 $quick > "$f"; files="$files $f"
  f="$out/kernels-$stamp-torch2-$round.jsonl"
  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 /usr/bin/python3 "$here/kernels/torch_kernels.py" --threads 2 $quick > "$f"; files="$files $f"
done
# shellcheck disable=SC2086
/usr/bin/python3 "$here/kernels/compare.py" $files
