#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan+fuzzer) and, with -r
# SECONDS, runs each for that long on a copy of its corpus.
# Usage: fuzz/build.sh [-r SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$here/build-fuzz}
mkdir -p "$out"
srcs=$(ls "$here"/src/http/{parser,util}.c /usr/share/llhttp/*.c "$here"/src/core/error.c)
for t in request response; do
  clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$here/include" -I"$here/src" \
    -I/usr/share/include/llhttp "$here/fuzz/fuzz_http_$t.c" $srcs -lz -o "$out/fuzz_http_$t"
done
if [ "${1:-}" = "-r" ]; then
  for t in request response; do
    mkdir -p "$out/corpus_$t" && cp "$here/fuzz/corpus/$t"/* "$out/corpus_$t/"
    "$out/fuzz_http_$t" -max_total_time="${2:-30}" "$out/corpus_$t"
  done
fi
