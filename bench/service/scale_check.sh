#!/bin/sh
# scale_check.sh BUILD_DIR [WORK_DIR] — the recommendation service at 10x
# the playground's size (issue 13): `northstar sim --users 100000 --items
# 200000 --days 3 --seed 42` (about 3.0M events) into a store, `northstar
# train` (the playground's models: EASE i2i, item vectors + HNSW, BM25,
# Wide & Deep on impressions), then `northstar serve --models --workers 2`
# under wrk (GET /v1/recommend/u<random>?n=10 at 8 and 32 connections,
# NS_BENCH_SECS each, default 20) on the same 2 cores. Prints the load
# figures and the server's resident memory after loading and after the
# load. WORK_DIR keeps the store and models between runs (they are made
# only when absent). Run it under the measurement lock:
#   flock /tmp/northstar-measure.lock bench/service/scale_check.sh build /tmp/scale
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin="$(cd "$1" && pwd)/northstar"
work=${2:-$(mktemp -d /tmp/ns-scale.XXXXXX)}
secs=${NS_BENCH_SECS:-20}
command -v wrk >/dev/null || { echo "scale_check.sh: wrk missing (scripts/install-deps.sh bench)" >&2; exit 1; }
mkdir -p "$work"
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
if [ ! -f "$work/big.db" ]; then
  echo "--- northstar sim --users 100000 --items 200000 --days 3 --seed 42"
  "$bin" sim -q --db "$work/big.db" --users 100000 --items 200000 --days 3 --seed 42 --sync normal
fi
if [ ! -f "$work/models/pipeline.json" ]; then
  echo "--- northstar train"
  "$bin" train -q --db "$work/big.db" --out "$work/models"
fi
"$bin" serve -q --db "$work/big.db" --port 0 --workers 2 --models "$work/models" > "$work/serve.out" 2>&1 &
pid=$!
i=0
until grep -q listening "$work/serve.out"; do
  i=$((i + 1)); [ $i -gt 3000 ] && { echo "server did not start" >&2; cat "$work/serve.out" >&2; exit 1; }
  sleep 0.2
done
url=$(grep -o 'http://[0-9.:]*' "$work/serve.out")
rss() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/$pid/status"; }
echo "--- server $url, loaded: RSS $(rss); $(curl -s "$url/health")"
cd "$here"
export NS_USERS=100000
wrk -t2 -c8 -d3s -s recommend.lua "$url" > /dev/null
for c in 8 32; do
  wrk -t2 -c$c -d${secs}s --latency -s recommend.lua "$url" > "$work/rec-$c.txt"
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/rec-$c.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/rec-$c.txt"); p99=$(awk '$1 == "99%" {print $2}' "$work/rec-$c.txt")
  errs=$(grep -E "Non-2xx|Socket errors" "$work/rec-$c.txt" | tr '\n' ' ' || true)
  echo "recommend, $c connections: $rps req/s, p50 $p50, p99 $p99 $errs"
done
echo "--- after the load: RSS $(rss)"
