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
#   fuzz_http_sse: the Server-Sent Events reader, whole and in pieces
#   fuzz_http_decode: body decoding (gzip, deflate, br, zstd), whole and in
#     pieces into small buffers
#   fuzz_http_url: the client's URL parser, formatter and Location resolver
# Usage: fuzz/build.sh [-r SECONDS]   (make fuzz: every target, FUZZ_SECONDS each)
# Every fuzz/fuzz_*.c must have its sources listed below (else it stops).
# With -r, each target runs on a copy of fuzz/corpus/<kind> (kind: the
# name without "http_"); afterwards the inputs that reach new coverage are
# merged back into fuzz/corpus/<kind> (commit them), and each crash,
# timeout or leak input is copied there too as crash-<target>-<hash>, so
# that test_*_fuzz_corpus replays it until it is fixed. The run goes on
# through every target and fails at the end if any found something.
# FUZZ_TARGETS="a b" picks targets.
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
  [http_sse]="$here/src/http/sse_client.c $http"
  [http_decode]="$here/src/http/decode.c $here/src/core/error.c"
  [http_url]="$here/src/http/url.c $here/src/http/util.c $here/src/core/error.c"
  [http_multipart]="$here/src/http/multipart_parse.c $here/src/http/form.c $http"
)
all=$(printf '%s\n' "${!srcs[@]}" | sort | tr '\n' ' ')
for f in "$here"/fuzz/fuzz_*.c; do
  t=$(basename "$f" .c)
  t=${t#fuzz_}
  [ -n "${srcs[$t]:-}" ] || { echo "fuzz/build.sh: no sources listed for fuzz_$t" >&2; exit 2; }
done
targets=${FUZZ_TARGETS:-$all}
pginc=$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
for t in $targets; do
  [ -n "${srcs[$t]:-}" ] || { echo "fuzz/build.sh: no target $t (have: $all)" >&2; exit 2; }
  # shellcheck disable=SC2086 # the source lists are meant to split
  clang -g -O1 -fsanitize=fuzzer,address,undefined -I"$here/include" -I"$here/src" \
    -I/usr/share/include/llhttp -I"$pginc" "$here/fuzz/fuzz_$t.c" ${srcs[$t]} -lz -lpsl -lbrotlidec -lzstd -o "$out/fuzz_$t"
done
[ "${1:-}" = "-r" ] || exit 0
secs=${2:-${FUZZ_SECONDS:-600}}
found=""
for t in $targets; do
  c=${t#http_}
  keep="$here/fuzz/corpus/$c" work="$out/corpus_$c" art="$out/artifacts_$t"
  mkdir -p "$keep" "$art"
  rm -rf "$work" && mkdir -p "$work"
  cp -r "$keep"/. "$work"/
  echo "== fuzz_$t: $secs s on $(find "$work" -type f | wc -l) inputs" >&2
  rc=0
  "$out/fuzz_$t" -max_total_time="$secs" -artifact_prefix="$art/" -print_final_stats=1 \
    "$work" 2>"$out/log_$t.txt" || rc=$?
  tail -n 12 "$out/log_$t.txt" >&2
  # What grew the coverage goes back into the kept corpus.
  before=$(find "$keep" -type f | wc -l)
  "$out/fuzz_$t" -merge=1 "$keep" "$work" >/dev/null 2>&1 || true
  echo "== fuzz_$t: corpus $before -> $(find "$keep" -type f | wc -l) inputs" >&2
  for a in "$art"/*; do
    [ -f "$a" ] || continue
    name="crash-$t-$(sha1sum "$a" | cut -c1-12)"
    cp "$a" "$keep/$name"
    echo "== fuzz_$t FOUND $(basename "$a"): kept as fuzz/corpus/$c/$name" >&2
    found="$found $t"
    rm -f "$a"
  done
  if [ "$rc" -ne 0 ] && [[ " $found " != *" $t "* ]]; then found="$found $t"; fi
done
if [ -n "$found" ]; then
  echo "fuzz: findings in:$found (logs in $out/log_*.txt)" >&2
  exit 1
fi
echo "fuzz: no findings" >&2
