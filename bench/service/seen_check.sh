#!/bin/sh
# seen_check.sh BUILD_DIR — what the service serves is what the user has not
# consumed, on MovieLens-100K: import it (ratings 1..5 as events), `northstar
# train` without --implicit-ratings, `northstar serve --models DIR` with no
# flag, GET /v1/recommend/<u>?n=10 for each of the 943 users, and count the
# served items the user had already rated (any rating). Data from
# $NORTHSTAR_DATA/movielens-100k (default ../shared/data). Run it under the
# measurement lock: flock /tmp/northstar-measure.lock bench/service/seen_check.sh build
set -eu
build=$(cd "$1" && pwd)
bin="$build/northstar"
data=${NORTHSTAR_DATA:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/data}
ml="$data/movielens-100k"
[ -f "$ml/u.data" ] || { echo "seen_check.sh: no $ml/u.data" >&2; exit 77; }
tmp=$(mktemp -d /tmp/ns-seen.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM
"$bin" import movielens --db "$tmp/ml.db" --sync normal "$ml" >/dev/null
"$bin" train --quiet --db "$tmp/ml.db" --out "$tmp/models" >/dev/null
"$bin" serve --quiet --port 0 --db "$tmp/ml.db" --models "$tmp/models" >"$tmp/serve.out" &
pid=$!
i=0
until grep -q listening "$tmp/serve.out" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/serve.out" | head -1)
/usr/bin/python3 - "$ml/u.data" "$port" <<'PY'
import collections, json, sys, urllib.request
rated = collections.defaultdict(set)
for line in open(sys.argv[1]):
    u, i, r, t = line.split('\t')
    rated[u].add(i)
slots = bad = 0
for u in sorted(rated, key=int):
    j = json.load(urllib.request.urlopen('http://127.0.0.1:%s/v1/recommend/%s?n=10' % (sys.argv[2], u)))
    for it in j['items']:
        slots += 1
        bad += it['id'] in rated[u]
print('seen_check: %d users, %d served slots, %d already rated' % (len(rated), slots, bad))
sys.exit(1 if bad else 0)
PY
