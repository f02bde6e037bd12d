#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan+fuzzer) and, with -r
# SECONDS, runs each for that long on a copy of its corpus.
#   fuzz_http_request/response: the parser, as the server and client drive it
#   fuzz_http_reply_head: the server's response head with random inputs
#   fuzz_static_path: static-file path resolution beneath a root, with symlinks
#   fuzz_http_cookie: the client's cookie jar, Set-Cookie to cookie file
#   fuzz_ws_frame: WebSocket frames read (as server and client, with and without
#     permessage-deflate) and built again
#   fuzz_pg_values: the PostgreSQL value decoders (arrays, numeric, records...)
#   fuzz_pg_copy: the binary COPY stream parser (whole and in pieces)
#   fuzz_http_multipart: multipart/form-data framing and part heads, fed
#     whole and in pieces
# Usage: fuzz/build.sh [-r SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_OUT:-$here/build-fuzz}
mkdir -p "$out"
http=$(ls "$here"/src/http/{parser,util}.c /usr/share/llhttp/*.c "$here"/src/core/error.c)
declare -A srcs=(
  [http_request]="$http" [http_response]="$http"
  [http_reply_head]="$here/src/http/reply_head.c $http"
  [static_path]="$here/src/http/static_open.c"
  [ws_frame]="$here/src/http/ws_frame.c $here/src/http/ws_deflate.c $http"
  [http_cookie]="$(ls "$here"/src/http/{cookie,cookie_parse,cookie_file,url,util}.c "$here"/src/core/error.c)"
  [pg_values]="$here/src/pg/values.c $here/src/pg/array.c $here/src/pg/numtext.c"
  [pg_copy]="$here/src/pg/copybin.c $here/src/pg/values.c $here/src/pg/array.c $here/src/pg/numtext.c"
  [http_multipart]="$here/src/http/multipart_parse.c $here/src/http/form.c $http"
)
targets=${FUZZ_TARGETS:-"http_request http_response http_reply_head static_path ws_frame http_cookie pg_values pg_copy http_multipart"}
pginc=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
for t in $targets; do
  # shellcheck disable=SC2086 # the source lists are meant to split
  clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$here/include" -I"$here/src" \
    -I/usr/share/include/llhttp -I"$pginc" "$here/fuzz/fuzz_$t.c" ${srcs[$t]} -lz -lpsl -o "$out/fuzz_$t"
done
if [ "${1:-}" = "-r" ]; then
  for t in $targets; do
    c=${t#http_}
    mkdir -p "$out/corpus_$c" && cp "$here/fuzz/corpus/$c"/* "$out/corpus_$c/"
    "$out/fuzz_$t" -max_total_time="${2:-30}" "$out/corpus_$c"
  done
fi
