#!/usr/bin/env bash
# ctest smoke test of the N1 harness: each echo server given serves
# bench_echo_load for a moment (10 connections, 1 KiB and 100 B); the load
# generator checks every echoed byte and fails on a mismatch or a closed
# connection. Nothing is timed.
#   bench/smoke_n1.sh ECHO_LOAD SERVER...
set -u
load=$1
shift
for server in "$@"; do
  for size in 1024 100; do
    # A random port may be taken (a test's PostgreSQL, another server): a
    # server that exits at once failed to bind; try another port.
    for _ in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 20000))
      "$server" "$port" >/dev/null 2>&1 &
      pid=$!
      sleep 0.2
      kill -0 "$pid" 2>/dev/null && break
      wait "$pid" 2>/dev/null
    done
    out=$("$load" "$port" 10 "$size" 0.1 0.3 "$pid" 2>&1)
    rc=$?
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$(basename "$server") size=$size: $out"
    [ $rc = 0 ] || exit 1
    case $out in *" rtts=0 "* | "") echo "no round trips" >&2; exit 1 ;; esac
  done
done
