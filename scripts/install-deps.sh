#!/bin/sh
# install-deps.sh — the one place that lists northstar's Debian packages.
#
# Usage: scripts/install-deps.sh [build|test|bench|all]...   (default: build)
#
#   build  compiler, CMake and the C libraries libnorthstar links against
#   test   build + what the test suite uses when present (PyTorch to regenerate
#          reference fixtures, curl for HTTP tests)
#   bench  test + the peers the benchmarks measure us against (gensim, fastText,
#          FAISS, hnswlib, Xapian, scikit-learn, xgboost, wrk, hyperfine)
#
# Idempotent: packages already installed are not touched; `apt-get update` runs
# at most once, and only when something is missing. Needs root (or sudo) only
# when something is missing.
set -eu

BUILD_PKGS="build-essential cmake pkg-config
  libopenblas-openmp-dev libjansson-dev libsqlite3-dev libutf8proc-dev
  libstemmer-dev libxxhash-dev libroaring-dev libmicrohttpd-dev"
TEST_PKGS="python3 python3-numpy python3-torch curl"
BENCH_PKGS="python3-gensim fasttext python3-faiss python3-hnswlib python3-xapian
  python3-sklearn python3-xgboost python3-scipy wrk hyperfine linux-perf"

want=""
[ $# -eq 0 ] && set -- build
for group in "$@"; do
  case "$group" in
    build) want="$want $BUILD_PKGS" ;;
    test)  want="$want $BUILD_PKGS $TEST_PKGS" ;;
    bench|all) want="$want $BUILD_PKGS $TEST_PKGS $BENCH_PKGS" ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown group '$group' (expected build, test, bench or all)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  case " $missing " in *" $p "*) continue ;; esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps.sh: missing packages:$missing (no apt-get here: install them by hand)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps.sh: missing packages:$missing (run as root or install sudo)" >&2
    exit 1
  fi
fi

echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
