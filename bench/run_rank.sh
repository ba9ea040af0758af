#!/bin/sh
# bench/run_rank.sh BUILD_DIR — Wide & Deep (issue 5) against its peers, in one session.
#
# Run through bench/run.sh (which holds /tmp/northstar-measure.lock):
#   bench/run.sh build rank            ROUNDS=3 by default (env ROUNDS=N)
# 1. UCI Adult, train on adult.data, report on adult.test:
#    northstar wide / deep / wide_deep  vs  the PyTorch twin (bench/rank/wd_torch.py)
#    on the SAME encoded features (`northstar rank featurize`), same optimisers
#    (FTRL wide, Adam deep), batch 256, 10 epochs, no validation split.
#    Throughput = training examples / seconds in the training loop, both sides.
#    Runs alternate ours / twin, at 2 threads and at 1 thread, ROUNDS times;
#    the table shows medians and ratios at equal thread counts.
#    Peers for quality: xgboost and scikit-learn logistic regression.
# 2. Criteo and Avazu samples end to end with hashing (sanity: tiny data).
# 3. Serving: 500 candidates scored on one thread (bench_rank_serve).
# OPENBLAS_NUM_THREADS=1 for every Python peer (torch threads set explicitly).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
ns="$build/northstar"
data=${NORTHSTAR_DATA:-$(cd "$here/../.." && pwd)/shared/data}
rounds=${ROUNDS:-3}
py=/usr/bin/python3
export OPENBLAS_NUM_THREADS=1
adult="$data/adult"
if [ ! -f "$adult/adult.data" ]; then echo "rank: no $adult, skipped"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/results.jsonl"
spec="$here/rank/adult_spec.json"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(cd "$here/.." && git rev-parse --short HEAD 2>/dev/null || echo '?')"

"$ns" rank featurize -q --spec "$spec" --out "$tmp/adult_features.safetensors" "$adult/adult.data" "$adult/adult.test"

ours() { # model threads
  "$ns" rank train -q -j "$2" --train-threads "$2" --spec "$spec" --out "$tmp/$1.safetensors" --model "$1" \
    --val-fraction 0 --epochs 10 --batch 256 --json --test "$adult/adult.test" "$adult/adult.data" |
    sed "s/^{/{\"system\":\"northstar\",\"threads_req\":$2,/" >>"$out"
}
twin() { # model threads
  "$py" "$here/rank/wd_torch.py" "$tmp/adult_features.safetensors" --model "$1" --threads "$2" \
    --epochs 10 --batch 256 ${3:-} |
    sed "s/^{/{\"system\":\"pytorch\",\"threads_req\":$2,/" >>"$out"
}
i=1
while [ "$i" -le "$rounds" ]; do
  echo "round $i/$rounds: wide_deep, 2 and 1 threads, ours and the twin alternating"
  ours wide_deep 2; twin wide_deep 2; ours wide_deep 1; twin wide_deep 1
  i=$((i + 1))
done
echo "wide and deep alone (one round each side, 2 threads)"
ours wide 2; twin wide 2; ours deep 2; twin deep 2
echo "peers: scikit-learn logistic regression, xgboost (2 threads)"
"$py" "$here/rank/peers_adult.py" "$adult" --threads 2 | sed 's/^{/{"system":"peer",/' >>"$out"

echo "serving: 500 candidates, one thread"
"$build/bench/bench_rank_serve" "$tmp/wide_deep.safetensors" "$adult/adult.test" 500 2000 >>"$out"
twin wide_deep 1 "--epochs 1 --serve 500" 2>/dev/null || true

crit="$data/criteo-sample"
if [ -f "$crit/criteo_sample.txt" ]; then
  echo "criteo/avazu samples (sanity, training-set metrics: 200 and 100 rows)"
  "$ns" rank train -q --spec "$here/rank/criteo_spec.json" --out "$tmp/criteo.safetensors" --optimizer adagrad \
    --epochs 5 --val-fraction 0 --json --test "$crit/criteo_sample.txt" "$crit/criteo_sample.txt" |
    sed 's/^{/{"system":"northstar-criteo-csv",/' >>"$out"
  tail -n +2 "$crit/criteo_sample.txt" | tr ',' '\t' >"$tmp/criteo.tsv"
  "$ns" rank eval --json --format criteo "$tmp/criteo.safetensors" "$tmp/criteo.tsv" |
    sed 's/^{/{"system":"northstar-criteo-raw-tsv",/' >>"$out"
  "$ns" rank train -q --spec "$here/rank/avazu_spec.json" --out "$tmp/avazu.safetensors" --optimizer adagrad \
    --epochs 5 --val-fraction 0 --json --test "$crit/avazu_sample.txt" "$crit/avazu_sample.txt" |
    sed 's/^{/{"system":"northstar-avazu",/' >>"$out"
fi
"$py" "$here/rank/summarize.py" "$out"
