#!/usr/bin/env bash
# Where a W1 server's CPU goes per message (issue 14): each server on CPU 0
# under the W1 load (`weft ws -n N --concurrency 100`, 64-byte text, on
# CPU 1), its CPU per message from /proc/PID/stat over the whole run, and a
# perf record -g of 3 s of it (1 s in) split into the kernel paths every
# server shares:
#   send      tcp_sendmsg, inclusive: building and transmitting the echo,
#   loopback  ... of which the softirq run at the end of that send: on
#             loopback the client socket's TCP receive (and the client's
#             wake-up) runs here and is charged to the server,
#   recv      tcp_recvmsg, inclusive,
#   wait      epoll_wait / io_uring's completion wait (incl. sleeping),
#   user      the server's own code (everything outside the kernel),
#   other     the rest: syscall entry/exit, epoll_ctl, io_uring's own work.
#
#   bench/w1_breakdown.sh BUILD_DIR [N]      (N messages a connection, 3000)
#
# SYSTEMS=weft,node,epoll-floor,uring-floor selects servers (all by default).
# perf's own sampling costs a little: compare these splits, and take CPU
# per message for ratios from bench/run_net.sh's W1.
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd) || exit 2
N=${2:-3000}
SRC=$(cd "$(dirname "$0")" && pwd)
WEFT=$BUILD/tools/weft/weft
TMP=$(mktemp -d /tmp/weft-w1b.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"' EXIT
ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# pct REPORT SYMBOL...: summed inclusive percentage of the symbols
pct() {
  local f=$1; shift
  awk -v syms=" $* " '$3 == "[k]" && index(syms, " " $4 " ") { s += $1 } END { printf "%.4f", s / 100 }' "$f"
}

one() { # name cmd... (PORT replaced by the port)
  local name=$1; shift
  [ -z "${SYSTEMS:-}" ] || [[ ",$SYSTEMS," == *",$name,"* ]] || return 0
  local port=$((30000 + RANDOM % 2000))
  taskset -c 0 "${@/PORT/$port}" >"$TMP/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  local t0 t1 out
  t0=$(ticks "$PID")
  (sleep 1; exec perf record -q -F 2999 -g -p "$PID" -o "$TMP/$name.data" -- sleep 3) >/dev/null 2>&1 &
  local perf=$!
  out=$(taskset -c 1 "$WEFT" ws -n "$N" --concurrency 100 "ws://127.0.0.1:$port/ws" 2>&1 | head -1)
  t1=$(ticks "$PID")
  wait "$perf"
  kill "$PID"; wait "$PID" 2>/dev/null; PID=
  local cpu
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$TICK" -v n=$((N * 100)) 'BEGIN { printf "%.3f", t / hz / n * 1e6 }')
  perf report -i "$TMP/$name.data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' >"$TMP/$name.rep"
  local kern
  kern=$(perf report -i "$TMP/$name.data" --no-children --sort dso --stdio -g none 2>/dev/null |
    awk '$2 == "[kernel.kallsyms]" { sub(/%/, "", $1); print $1 / 100 }')
  local send loop recv wait
  send=$(pct "$TMP/$name.rep" tcp_sendmsg)
  loop=$(pct "$TMP/$name.rep" handle_softirqs __do_softirq)
  recv=$(pct "$TMP/$name.rep" tcp_recvmsg)
  wait=$(pct "$TMP/$name.rep" do_epoll_wait io_cqring_wait)
  awk -v n="$name" -v c="$cpu" -v s="$send" -v l="$loop" -v r="$recv" -v w="$wait" -v k="${kern:-1}" -v o="$out" 'BEGIN {
    u = 1 - k
    printf "W1B %s cpu_us_per_msg=%.2f send=%.2f loopback=%.2f recv=%.2f wait=%.2f user=%.2f other=%.2f (%s)\n",
      n, c, s * c, l * c, r * c, w * c, u * c, (k - s - r - w) * c, o }'
}

one weft "$WEFT" serve --host 127.0.0.1 --port PORT
one node env NODE_PATH=/usr/share/nodejs node "$SRC/peers/ws_node.js" PORT
one epoll-floor "$BUILD/bench/bench_ws_epoll_echo" PORT
one uring-floor "$BUILD/bench/bench_ws_uring_echo" PORT
