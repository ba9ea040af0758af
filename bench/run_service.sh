#!/bin/sh
# run_service.sh BUILD_DIR — load on the recommendation service (issue 7).
#
# Data: `northstar sim` (10,000 users, 50,000 items, 7 days, seed 42) into a
# fresh store, then `northstar train` (EASE i2i, item vectors + HNSW, BM25
# keyword index, Wide & Deep ranker) — the playground's models. Server:
# `northstar serve --models DIR --workers 2`, the full pipeline (durability
# on: every commit fsynced). NS_BENCH_BUILTIN=1 serves the built-in
# config (no trained models: popular/trending/segment channels, blend rank).
# Load: wrk on the same 2 cores (it competes with the
# server for them, as a co-located client would).
#   1. GET /v1/recommend/u<random>?n=10 at 8, 32 and 128 connections
#   2. GET /health at 32 connections (HTTP layer only, same run)
#   3. POST /v1/events, batches of 500 events, at 1, 4 and 16 connections
# Prints throughput and latency percentiles. bench/run.sh holds the
# measurement lock around this script. Override durations with NS_BENCH_SECS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
bin="$build/northstar"
secs=${NS_BENCH_SECS:-20}
command -v wrk >/dev/null || { echo "run_service.sh: wrk missing (scripts/install-deps.sh bench)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ns-svc-bench.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

echo "--- data: northstar sim --users 10000 --items 50000 --seed 42 (not timed)"
"$bin" sim -q --db "$tmp/bench.db" --users 10000 --items 50000 --seed 42 --sync normal
models=""
if [ "${NS_BENCH_BUILTIN:-0}" != 1 ]; then
  t0=$(date +%s.%N)
  "$bin" train -q --db "$tmp/bench.db" --out "$tmp/models"
  echo "--- northstar train: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}') s (not part of the load figures)"
  models="--models $tmp/models"
fi
# shellcheck disable=SC2086
"$bin" serve -q --db "$tmp/bench.db" --port 0 --workers 2 $models > "$tmp/serve.out" 2>&1 &
pid=$!
i=0
until grep -q listening "$tmp/serve.out"; do
  i=$((i + 1)); [ $i -gt 600 ] && { echo "server did not start" >&2; cat "$tmp/serve.out" >&2; exit 1; }
  sleep 0.2
done
url=$(grep -o 'http://[0-9.:]*' "$tmp/serve.out")
echo "--- server $url ($(grep -c . "$tmp/serve.out") lines of log); $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
curl -s "$url/health"; echo

cd "$here/service"
summary() { # label wrk-output multiplier
  rps=$(awk '/Requests\/sec/ {print $2}' "$2")
  p50=$(awk '$1 == "50%" {print $2}' "$2"); p90=$(awk '$1 == "90%" {print $2}' "$2")
  p99=$(awk '$1 == "99%" {print $2}' "$2"); errs=$(grep -E "Non-2xx|Socket errors" "$2" | tr '\n' ' ')
  printf "%-34s %10.0f req/s %12.0f %-8s p50 %-8s p90 %-8s p99 %-8s %s\n" "$1" "$rps" \
    "$(awk -v r="$rps" -v m="$3" 'BEGIN {print r * m}')" "$4" "$p50" "$p90" "$p99" "$errs"
}
wrk -t2 -c8 -d3s -s recommend.lua "$url" > /dev/null   # warm-up: caches, page cache
echo "--- GET /v1/recommend (n=10), ${secs}s each"
for c in 8 32 128; do
  wrk -t2 -c$c -d${secs}s --latency -s recommend.lua "$url" > "$tmp/rec-$c.txt"
  summary "recommend, $c connections" "$tmp/rec-$c.txt" 1 "recs/s"
done
echo "--- GET /health (the HTTP layer alone: the ceiling the pipeline's cost is measured against)"
wrk -t2 -c32 -d${secs}s --latency "$url/health" > "$tmp/health.txt"
summary "health, 32 connections" "$tmp/health.txt" 1 "req/s"
echo "--- POST /v1/events (batches of 500, fsync per commit), ${secs}s each"
for c in 1 4 16; do
  wrk -t$([ $c -ge 2 ] && echo 2 || echo 1) -c$c -d${secs}s --latency -s events.lua "$url" > "$tmp/ev-$c.txt"
  summary "events, $c connections" "$tmp/ev-$c.txt" 500 "events/s"
done
curl -s "$url/metrics" | grep -E "^northstar_(events|north_star|recommendations|store)" || true
