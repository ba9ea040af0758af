#!/bin/sh
# bench/llm/crosscheck_runc.sh BUILD_DIR — our Llama export checked against llama2.c's run.c.
#
# Trains small Llama-family models on TinyStories with a trained byte-level BPE (GQA with a
# shared classifier, MQA and MHA with separate classifiers), exports each with
# `northstar llm export --tokenizer-out`, and decodes greedily with llama2.c's run.c and with
# `northstar llm generate` from the same start (BOS = id 1, like run.c without a prompt), then
# with a few prompts that run.c encodes itself. Not timed; single-threaded training.
#
# run.c is a peer, never part of this repository. Get it from the upstream repository
# github.com/karpathy/llama2.c (file run.c; this check was first run against commit
# bd182289c596fa6059eb7b3b7c8ccd04b5c90fc3, the version-0 "legacy" format reader), outside
# the tree, and build it:   gcc -O3 -o /tmp/llama2c/run /tmp/llama2c/run.c -lm
# then:   LLAMA2C_RUN=/tmp/llama2c/run bench/llm/crosscheck_runc.sh build
#
# How the two sides are compared:
#   ids   run.c prints text only, so it runs a second time with a tokenizer.bin whose piece i
#         is "[i]" (same model file): its output is then its token ids. Ours prints ids with
#         --prompt-ids 1. run.c stops when it samples id 1 (BOS); ours is cut there too.
#   text  run.c with our exported tokenizer.bin, against our ids decoded by the tokenizer
#         the model was trained with, with run.c's one display rule applied: the first
#         piece after BOS loses a leading space. (Our tokenizer.bin gives bytes as raw
#         pieces, so run.c prints every byte but NUL.)
#   prompt run.c -i P encodes P itself (sentencepiece style: a " " piece first, bytes not
#         in the vocabulary as id 3 + byte, then the best-scoring merge of adjacent pieces
#         until none applies). Ours feeds 1 + our own encoding of " " + P. run.c does not
#         print the ids it encoded, so this check is on text (prompt + continuation): a
#         prompt encoded differently would steer the greedy continuation elsewhere.
# Knobs: XC_STEPS (400 training steps), XC_VOCAB (1024), XC_TOKENS (tokens per greedy run,
# default the context, 128), XC_THREADS (1).
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
ns=$build/northstar
PY=/usr/bin/python3
: "${NORTHSTAR_DATA:=$(cd "$here/../../.." && pwd)/shared/data}"
stories=$NORTHSTAR_DATA/tinystories/tiny_stories.txt
run=${LLAMA2C_RUN:-}
if [ -z "$run" ] || [ ! -x "$run" ]; then
  echo "crosscheck_runc: skipped: set LLAMA2C_RUN to a compiled llama2.c run binary (see the top of $0)"
  exit 0
fi
if [ ! -f "$stories" ]; then
  echo "crosscheck_runc: skipped: $stories not found (set NORTHSTAR_DATA)"
  exit 0
fi
STEPS=${XC_STEPS:-400}
VOCAB=${XC_VOCAB:-1024}
CTX=128
N=${XC_TOKENS:-$CTX}
J=${XC_THREADS:-1}
tmp=$(mktemp -d /tmp/ns-xc-runc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

echo "# llama2.c run.c cross-check — $(date -u +%Y-%m-%dT%H:%MZ), run.c = $run"
echo "tokenizer: byte-level BPE, $VOCAB ids, trained on TinyStories; models: 4 layers, dim 128, 4 heads, context $CTX, $STEPS steps"
"$ns" llm tokenizer train -q --vocab "$VOCAB" --out "$tmp/tok.json" "$stories" >/dev/null

# tokenizer.bin whose piece i is "[i]": run.c then prints the ids it samples.
$PY - "$tmp/ids.bin" "$VOCAB" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
with open(path, "wb") as f:
    f.write(struct.pack("<i", 2 + len(str(n))))
    for i in range(n):
        s = ("[%d]" % i).encode()
        f.write(struct.pack("<fi", 0.0, len(s)) + s)
EOF

# first_diff FILE_A FILE_B: "identical" or the first differing position (1-based) and the two values
first_diff() {
  awk 'NR == FNR { a[NR] = $0; na = NR; next }
       { b[FNR] = $0; nb = FNR }
       END { n = na < nb ? na : nb
             for (i = 1; i <= n; i++) if (a[i] != b[i]) { printf "token %d: run.c %s, ours %s\n", i, a[i], b[i]; exit }
             if (na != nb) printf "length: run.c %d, ours %d\n", na, nb; else print "identical" }' "$1" "$2"
}

printf '\n| model | kv heads | classifier | val loss | tokens compared | ids identical | first divergence | text identical |\n|---|---|---|---|---|---|---|---|\n'
fail=0
for spec in "gqa 2 tied" "mqa 1 untied" "mha 4 untied"; do
  set -- $spec
  name=$1 kvh=$2 cls=$3
  ut=""; [ "$cls" = untied ] && ut=--untied
  loss=$("$ns" llm train -q --data "$stories" --tokenizer "$tmp/tok.json" --arch llama --layers 4 --heads 4 \
    --kv-heads "$kvh" $ut --dim 128 --context $CTX --batch 8 --seq $CTX --steps "$STEPS" --lr 3e-3 --min-lr 3e-4 \
    --warmup 40 --eval-every 0 --eval-iters 20 --seed 7 --out "$tmp/$name.st" -j"$J" | sed -n 's/.*val_loss \([0-9.]*\).*/\1/p')
  "$ns" llm export -q -m "$tmp/$name.st" -o "$tmp/$name.bin" --tokenizer-out "$tmp/$name.tok.bin" >/dev/null
  # ids: run.c (stops before printing BOS) vs ours (cut at the first BOS, run.c's stop rule)
  OMP_NUM_THREADS=1 "$run" "$tmp/$name.bin" -z "$tmp/ids.bin" -t 0 -n "$N" 2>/dev/null |
    grep -o '[0-9][0-9]*' > "$tmp/$name.runc.ids"
  "$ns" llm generate -m "$tmp/$name.bin" --prompt-ids 1 --temperature 0 --max-tokens "$N" -j1 |
    tr ' ' '\n' | awk '$0 == 1 { exit } NF { print }' > "$tmp/$name.ours.ids"
  ncmp=$(wc -l < "$tmp/$name.runc.ids" | tr -d ' ')
  d=$(first_diff "$tmp/$name.runc.ids" "$tmp/$name.ours.ids")
  same=no; div=$d; [ "$d" = identical ] && { same=yes; div=-; }
  # text: run.c with our tokenizer.bin vs our ids decoded by the training tokenizer
  OMP_NUM_THREADS=1 "$run" "$tmp/$name.bin" -z "$tmp/$name.tok.bin" -t 0 -n "$N" 2>/dev/null > "$tmp/$name.runc.txt"
  "$ns" llm tokenizer decode --tokenizer "$tmp/tok.json" $(cat "$tmp/$name.ours.ids") | sed '1s/^ //' > "$tmp/$name.ours.txt"
  tsame=no; cmp -s "$tmp/$name.runc.txt" "$tmp/$name.ours.txt" && tsame=yes
  [ "$same" = yes ] && [ "$tsame" = yes ] || fail=1
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$kvh" "$cls" "$loss" "$ncmp" "$same" "$div" "$tsame"
done

echo
echo "greedy text from BOS (model gqa, run.c):"
sed 's/^/    /' "$tmp/gqa.runc.txt"

printf '\n| model | prompt | prompt ids (ours) | llama2.c-style encoding == ours | run.c text == ours |\n|---|---|---|---|---|\n'
nl=$(printf '\nx'); nl=${nl%x}
for name in gqa mqa; do
  for k in 1 2 3 4; do
    case $k in
      1) p="Once upon a time" ;;
      2) p="Tom and Lily went to the park.${nl}${nl}They saw" ;;
      3) p="The café was open, and she said: \"hi\"!" ;;
      4) p="Mia said, “Let’s share the big red ball!”" ;;
    esac
    ids=$("$ns" llm tokenizer encode --tokenizer "$tmp/tok.json" " $p")
    np=$(echo "$ids" | wc -w | tr -d ' ')
    # run.c's algorithm as our tokenizer.bin reader implements it (not run.c's own output)
    esame=no; [ "$("$ns" llm tokenizer encode --tokenizer "$tmp/$name.tok.bin" "$p")" = "$ids" ] && esame=yes
    OMP_NUM_THREADS=1 "$run" "$tmp/$name.bin" -z "$tmp/$name.tok.bin" -t 0 -n "$N" -i "$p" 2>/dev/null > "$tmp/p.runc.txt"
    "$ns" llm generate -m "$tmp/$name.bin" --prompt-ids "1 $ids" --temperature 0 --max-tokens $((N - np)) -j1 |
      tr ' ' '\n' | awk '$0 == 1 { exit } NF { print }' > "$tmp/p.ours.ids"
    "$ns" llm tokenizer decode --tokenizer "$tmp/tok.json" $ids $(cat "$tmp/p.ours.ids") | sed '1s/^ //' > "$tmp/p.ours.txt"
    psame=no; cmp -s "$tmp/p.runc.txt" "$tmp/p.ours.txt" && psame=yes
    [ "$psame" = yes ] || fail=1
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$(printf '%s' "$p" | sed ':a;N;$!ba;s/\n/\\n/g')" "$np" "$esame" "$psame"
  done
done
echo
if [ "$fail" = 0 ]; then echo "crosscheck_runc: all identical"; else echo "crosscheck_runc: DIFFERENCES (see above)"; fi
exit "$fail"
