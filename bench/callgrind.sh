#!/usr/bin/env bash
# Instructions per operation, from callgrind (deterministic, so a loaded
# machine does not move them): the before/after check of a core change.
#   bench/callgrind.sh BUILD     (WEFT_BACKEND=poll for the poll backend)
# M1: instructions per switch (runs of 100,000 and 200,000 yields per task,
# difference over the 200,000 extra switches). M2: instructions per task
# spawned and awaited, group and gather shapes (runs of 100,000 and 200,000
# tasks, difference over 100,000; the bench's own loops included). N1: instructions of
# examples/echo_server per echo round trip (one connection, 100 bytes,
# closed loop: runs of 2,000 and 4,000 round trips, difference over 2,000).
set -euo pipefail
build=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

total() { # the Ir total of a callgrind output file
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

m1() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/m1.$1" \
    "$build/bench/bench_m1_switch" "$1" >/dev/null 2>&1
  total "$tmp/m1.$1"
}
a=$(m1 100000)
b=$(m1 200000)
echo "M1 instructions_per_switch=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 200000 }')"

m2() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/m2.$1.$2" \
    "$build/bench/bench_m2_spawn" "$1" "$2" >/dev/null 2>&1
  total "$tmp/m2.$1.$2"
}
for shape in group gather; do
  a=$(m2 100000 $shape)
  b=$(m2 200000 $shape)
  echo "M2 $shape instructions_per_task=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 100000 }')"
done

n1() {
  local out=$tmp/n1.$1 log=$tmp/n1.$1.log port=""
  : >"$log"
  valgrind --tool=callgrind --callgrind-out-file="$out" \
    "$build/examples/echo_server" 0 2>"$log" &
  local pid=$!
  for _ in $(seq 300); do
    port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$log")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { echo "echo_server did not start" >&2; cat "$log" >&2; exit 1; }
  /usr/bin/python3 - "$port" "$1" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
msg = b"x" * 100
for _ in range(n):
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        c = s.recv(len(msg) - len(got))
        if not c: sys.exit("closed")
        got += c
    assert got == msg
s.close()
EOF
  kill -TERM "$pid" # (a background job of a script ignores SIGINT)
  wait "$pid" || true
  total "$out"
}
a=$(n1 2000)
b=$(n1 4000)
echo "N1 instructions_per_round_trip=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 2000 }')"
