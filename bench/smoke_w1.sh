#!/usr/bin/env bash
# ctest smoke test of W1's floor servers (issue 14): each one given answers
# `weft ws` for a moment: a text line echoed, a 100 KiB binary message (a
# 64-bit length, frames split across reads) echoed byte for byte, and the
# load mode (5 connections, 50 messages each) complete. Nothing is timed.
#   bench/smoke_w1.sh WEFT SERVER...
set -u
weft=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 102400 /dev/urandom >"$tmp/bin"
for server in "$@"; do
  name=$(basename "$server")
  # a random port may be taken: a server that exits at once failed to bind
  for _ in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    "$server" "$port" >"$tmp/log" 2>&1 &
    pid=$!
    sleep 0.2
    kill -0 "$pid" 2>/dev/null && break
    wait "$pid" 2>/dev/null
  done
  url=ws://127.0.0.1:$port/ws
  fail() { echo "$name: $*" >&2; cat "$tmp/log" >&2; kill "$pid"; wait "$pid" 2>/dev/null; exit 1; }
  # stdin through a pipe: `weft ws` does not take a regular file as stdin
  [ "$(echo hello | timeout 10 "$weft" ws "$url")" = hello ] || fail "text echo"
  cat "$tmp/bin" | timeout 10 "$weft" ws --binary "$url" >"$tmp/out" || fail "binary echo"
  cmp -s "$tmp/bin" "$tmp/out" || fail "binary echo differs"
  out=$(timeout 20 "$weft" ws -n 50 --concurrency 5 "$url" 2>&1 | head -1)
  case $out in "250 messages in "*) ;; *) fail "load: $out" ;; esac
  kill "$pid"
  wait "$pid" 2>/dev/null
  echo "$name: ok ($out)"
done
