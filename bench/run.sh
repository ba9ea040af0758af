#!/bin/sh
# bench/run.sh BUILD_DIR [AREA...] — run the benchmarks against their peers.
#
# Each area has its own script bench/run_<area>.sh taking the build dir; by
# default every one runs, one at a time (never two timings at once). Results
# print as tables with ratios; copy the figures with their command into
# docs/BENCHMARKS.md. Peers are installed by `scripts/install-deps.sh bench`.
# Data sets come from $NORTHSTAR_DATA or ../shared/data; scripts skip an
# area whose data is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
build=$(cd "$build" && pwd)
: "${NORTHSTAR_DATA:=$(cd "$here/../.." && pwd)/shared/data}"
export NORTHSTAR_DATA
# OpenBLAS picks its kernels from the CPU when it loads, and Debian 12's does
# not know every CPU (it falls back to Prescott, SSE3): the command then
# re-runs itself with OPENBLAS_CORETYPE (src/tensor/blas.c). Every process of
# the run, the benchmark programs and the peers (PyTorch, numpy and FAISS use
# the same OpenBLAS) gets the same kernels, so no side runs handicapped.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core=$("$build/northstar" version | awk '/OpenBLAS/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^MAX_THREADS=/) print $i }')
  if [ -n "$core" ]; then OPENBLAS_CORETYPE=$core; export OPENBLAS_CORETYPE; fi
fi
echo "bench: OpenBLAS kernels ${OPENBLAS_CORETYPE:-as detected}"
if [ $# -eq 0 ]; then
  set -- $(cd "$here" && ls run_*.sh 2>/dev/null | sed 's/^run_//; s/\.sh$//')
fi
for area in "$@"; do
  script="$here/run_$area.sh"
  if [ ! -x "$script" ]; then echo "bench: no area '$area' (bench/run_$area.sh)" >&2; exit 2; fi
  echo "=== bench: $area ($(date -u +%Y-%m-%dT%H:%MZ))"
  NS_MEASURE_LOCKED=1 flock /tmp/northstar-measure.lock "$script" "$build"
done
