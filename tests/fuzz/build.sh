#!/bin/sh
# build.sh — build the libFuzzer target for the safetensors reader and the schema check with clang
# (ASan + UBSan + libFuzzer) into build-fuzz/, and a seed corpus. See README.md.
set -eu
cd "$(dirname "$0")/../.."
out=build-fuzz
mkdir -p "$out/corpus"
CC=${CC:-clang}
src="src/base/error.c src/base/mem.c src/base/file.c src/base/log.c src/tensor/dtype.c src/tensor/safetensors.c src/tensor/schema.c"
flags="-std=c11 -D_GNU_SOURCE -g -O1 -Iinclude $(pkg-config --cflags jansson) -fsanitize=address,undefined -fno-sanitize-recover=undefined"
libs="$(pkg-config --libs jansson) -lpthread -lm"
# shellcheck disable=SC2086
$CC $flags -fsanitize=fuzzer tests/fuzz/fuzz_safetensors.c $src $libs -o "$out/fuzz_safetensors"
# shellcheck disable=SC2086
$CC $flags tests/fuzz/make_seeds.c $src $libs -o "$out/make_seeds"
"$out/make_seeds" "$out/corpus"
echo "built $out/fuzz_safetensors; run: $out/fuzz_safetensors -max_total_time=60 $out/corpus"
