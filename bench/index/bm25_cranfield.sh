#!/bin/sh
# bench/index/bm25_cranfield.sh BUILD_DIR OUT_DIR — northstar BM25 vs Xapian
# BM25 on Cranfield (k1 1, b 0.5, English stemming, title + body), same run.
#
# Quality: nDCG@10, MAP, Recall@100 of depth-100 runs, one evaluator
# (cranfield.py eval) for both. Speed: indexing (1,400 documents: read,
# tokenize, index, write to disk; median of $REPEAT builds) and query
# throughput at depth 10 ($QREPEAT passes over the 225 queries, one thread).
# Every timed step holds the measurement lock unless NS_MEASURE_LOCKED=1.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$1
out=$2/cranfield
py=/usr/bin/python3
ns="$build/northstar"
data="${NORTHSTAR_DATA:-$here/../../../shared/data}/cranfield"
REPEAT=${REPEAT:-5}
QREPEAT=${QREPEAT:-20}
if [ ! -f "$data/cran.all.1400" ]; then echo "bm25 bench: no Cranfield data in $data, skipped" >&2; exit 0; fi
lock() {
  if [ "${NS_MEASURE_LOCKED:-0}" = 1 ]; then "$@"; else flock /tmp/northstar-measure.lock "$@"; fi
}
mkdir -p "$out"
"$py" "$here/cranfield.py" prepare "$data" "$out"
: > "$out/ns-build.txt"
i=0
while [ $i -lt "$REPEAT" ]; do
  lock "$ns" bm25 build -i "$out/docs.jsonl" -o "$out/cran.bm25" --k1 1 --b 0.5 --json --quiet >> "$out/ns-build.txt"
  i=$((i + 1))
done
lock "$ns" bm25 search "$out/cran.bm25" -Q "$out/queries.tsv" -k 10 --repeat "$QREPEAT" > /dev/null 2> "$out/ns-query.txt"
"$ns" bm25 search "$out/cran.bm25" -Q "$out/queries.tsv" -k 100 --trec northstar --quiet > "$out/run.northstar"
lock "$py" "$here/cranfield.py" xapian "$out" 1 0.5 "$REPEAT" > "$out/xapian.txt"
"$py" "$here/cranfield.py" eval "$out/qrels.tsv" "$out/run.northstar" "$out/run.xapian" > "$out/eval.txt"
"$py" - "$out" "$QREPEAT" <<'PY'
import json, re, statistics, sys
out = sys.argv[1]
b = [json.loads(l) for l in open(f"{out}/ns-build.txt") if l.strip()]
ns_index = statistics.median(x["seconds_total"] for x in b)
ns_qps = float(re.search(r"\(([0-9.]+) queries/s", open(f"{out}/ns-query.txt").read()).group(1))
x = dict(l.split() for l in open(f"{out}/xapian.txt"))
xa_index, xa_qps = float(x["index_seconds"]), float(x["query_qps_10"])
ev = {}
for l in open(f"{out}/eval.txt"):
    f = l.split()
    ev[f[0]] = (float(f[2]), float(f[4]), float(f[6]))
n, xq = ev["run.northstar"], ev["run.xapian"]
print("\n### BM25 on Cranfield (1,400 docs, 225 queries; k1 1, b 0.5, stemmed title + body)\n")
print("| engine | nDCG@10 | MAP | Recall@100 | indexing docs/s | queries/s (depth 10, 1 thread) |")
print("|---|---|---|---|---|---|")
print(f"| northstar | {n[0]:.4f} | {n[1]:.4f} | {n[2]:.4f} | {1400 / ns_index:,.0f} | {ns_qps:,.0f} |")
print(f"| Xapian | {xq[0]:.4f} | {xq[1]:.4f} | {xq[2]:.4f} | {1400 / xa_index:,.0f} | {xa_qps:,.0f} |")
print(f"| ratio | {n[0] / xq[0]:.3f} | {n[1] / xq[1]:.3f} | {n[2] / xq[2]:.3f} | {xa_index / ns_index:.2f}x | {ns_qps / xa_qps:.2f}x |")
PY
