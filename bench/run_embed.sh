#!/bin/sh
# run_embed.sh BUILD_DIR [text|graph|items]... — word2vec, DeepWalk/node2vec
# and item vectors against gensim and fastText (issue 3).
#
# Meant to run under the measurement lock: bench/run.sh takes it, or run
#   flock /tmp/northstar-measure.lock bench/run_embed.sh build
# Peers: scripts/install-deps.sh bench (gensim, fastText, scikit-learn).
# NS_BENCH_QUICK=1: one round, fewer runs (a smoke test, not for figures).
# Vectors and logs go to bench/out/embed-<stamp>/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
shift
[ $# -eq 0 ] && set -- text graph items
: "${NORTHSTAR_DATA:=$(cd "$here/../.." && pwd)/shared/data}"
out="$here/out/embed-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
quick=${NS_BENCH_QUICK:+--quick}
export OMP_WAIT_POLICY=passive
for part in "$@"; do
  case "$part" in
    text)  /usr/bin/python3 "$here/embed/text_bench.py" "$build" "$NORTHSTAR_DATA" "$out" $quick ;;
    graph) /usr/bin/python3 "$here/embed/graph_bench.py" "$build" "$NORTHSTAR_DATA" "$out" $quick ;;
    items) /usr/bin/python3 "$here/embed/movielens_bench.py" "$build" "$NORTHSTAR_DATA" "$out" ;;
    *) echo "run_embed.sh: unknown part '$part' (text, graph, items)" >&2; exit 2 ;;
  esac
done
