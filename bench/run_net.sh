#!/usr/bin/env bash
# Network benchmarks N1 (TCP echo, issue 3), N2 (HTTP server), N3 (HTTP
# client, issue 5) and W1 (WebSocket echo, issue 14): weft against its peers
# in the same run, with ratios.
#
#   bench/run_net.sh BUILD_DIR
#
# Selection as in bench/lib.sh (bench/run.sh passes it on):
#   ONLY=N1,N3,W1     sections to run (default: all; M*/P* names select none;
#                     N2M and N3M: N2 and N3 on both cores, issue 12)
#   SYSTEMS=weft,epoll  servers/clients to run; a name also matches each of
#                     its dash-separated parts (SYSTEMS=uvloop runs
#                     uvloop-protocol, uvloop-streams and aiohttp-uvloop)
#   SKIP=asyncio      servers/clients not to run (same matching)
#   BENCH_QUICK=1     2 s measured runs instead of 10 s (checks the harness)
#   PERF=DIR          perf record (-g) the weft server/client over each
#                     measured window into DIR/<case>.data, with the top
#                     symbols in DIR/<case>.txt (for the owners to act on)
#   PERF_ALL=1        with PERF: every server/client, not only weft's (W1
#                     records 4 s of each server, 1 s into its load run)
#   ROUNDS=3          run every server/client that many times, in turns; the
#                     ratios use each one's best rate and lowest CPU (the
#                     other load on a shared machine only ever makes a run
#                     worse). Default 1.
#
# Servers are pinned to CPU 0 and load generators to CPU 1 (N3: client on
# CPU 0, nginx on CPU 1). Server CPU time is utime+stime from /proc/PID/stat
# over the measured window. Every server is started and stopped by its pid.
# Results also go to BUILD_DIR/bench/net_results.txt.
set -uo pipefail

BUILD=$(cd "${1:-build}" && pwd) || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")" && pwd)
source "$SRC/lib.sh"
PEERS_SRC=$SRC/peers
OUT=$BUILD/bench/peers
mkdir -p "$OUT"
RESULTS=$BUILD/bench/net_results.txt
: >"$RESULTS"
PY=/usr/bin/python3
DUR=10; WARM=1
[ "${BENCH_QUICK:-0}" = 1 ] && { DUR=2; WARM=1; }
ROUNDS=${ROUNDS:-1}
TMP=$(mktemp -d /tmp/weft-benchnet.XXXXXX)
SERVER_PID=
NGINX_PID=

# want_peer NAME: selected by SYSTEMS/SKIP through its name or any of its
# dash-separated parts.
want_peer() {
  local parts=$1 p sel=0
  [ -z "${SYSTEMS:-}" ] && sel=1
  for p in "$1" ${parts//-/ }; do
    [ -n "${SYSTEMS:-}" ] && in_list "$p" "$SYSTEMS" && sel=1
    in_list "$p" "${SKIP:-}" && return 1
  done
  [ $sel = 1 ]
}
say() { echo "$*" | tee -a "$RESULTS"; }

stop_pid() { # pid: TERM, then KILL after 3 s; always reaped
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}
cleanup() {
  stop_pid "$SERVER_PID"
  stop_pid "$NGINX_PID"
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_port() { # port: until something accepts there (max 10 s)
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# free_port: a random port below the ephemeral range that nothing listens on
# (several copies of this script, and other tests, may run at once).
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 12000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo 29999
}
PORT=$(free_port)

cpu_ticks() { # pid -> utime+stime in clock ticks (all threads)
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
user_ticks() { # pid -> utime alone (the rest of cpu_ticks is the kernel's)
  awk '{ sub(/.*\) /, ""); print $12 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TICK=$(getconf CLK_TCK)
cpu_ticks_tree() { # pid -> utime+stime of it and its children (nginx's workers)
  local t=0 c
  t=$(cpu_ticks "$1")
  for c in $(pgrep -P "$1"); do t=$((t + $(cpu_ticks "$c"))); done
  echo "$t"
}

# ---- building the peers (into BUILD_DIR/bench/peers, only when stale) ------
stale() { [ ! -e "$1" ] || [ "$2" -nt "$1" ]; }
build_c() { # name libs...
  local name=$1; shift
  if stale "$OUT/$name" "$PEERS_SRC/$name.c" || stale "$OUT/$name" "$PEERS_SRC/uv_serve.h"; then
    gcc -O2 -o "$OUT/$name" "$PEERS_SRC/$name.c" "$@" || echo "build of $name failed" >&2
  fi
}
build_go() {
  local name=$1
  if stale "$OUT/$name" "$PEERS_SRC/$name.go"; then
    # std only (and Debian's Go packages), offline, caches inside the build
    # dir (as bench/run.sh)
    (cd "$TMP" && GO111MODULE=off GOFLAGS= GOPROXY=off GOCACHE=$OUT/go-cache \
      GOPATH=$OUT/go-path:/usr/share/gocode go build -o "$OUT/$name" "$PEERS_SRC/$name.go") ||
      echo "build of $name failed" >&2
  fi
}
build_c echo_libuv -luv
build_c http_libuv -luv
build_c get_curl -lcurl
build_go echo_go
build_go http_go
build_go get_go
want_workload W1 && build_go ws_go

# Where the weft sides are (each may not have landed yet).
WEFT_ECHO=${WEFT_ECHO:-$BUILD/examples/echo_server}
WEFT_GET=${WEFT_GET:-$BUILD/examples/http_get_many}
WEFT_CLI=${WEFT_CLI:-$BUILD/tools/weft/weft}

# start_server NAME CMD...: pinned to CPU 0, waits for PORT to accept.
# Environment for the command goes before taskset via `env`.
start_server() {
  local name=$1; shift
  "$@" >"$TMP/$name.log" 2>&1 &
  SERVER_PID=$!
  if ! wait_port "$PORT" || ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "$name did not start:" >&2
    tail -5 "$TMP/$name.log" >&2
    stop_pid "$SERVER_PID"; SERVER_PID=
    return 1
  fi
}
stop_server() { stop_pid "$SERVER_PID"; SERVER_PID=; PORT=$(free_port); }

# perf_start NAME CASE PID SECONDS [DELAY]: when PERF is set and NAME is
# weft (any NAME with PERF_ALL), records PID for SECONDS after DELAY, in the background (perf_wait
# collects it).
PERF_PID=
perf_start() {
  [ -n "${PERF:-}" ] && { [ "$1" = weft ] || [ -n "${PERF_ALL:-}" ]; } || return 0
  mkdir -p "$PERF"
  (sleep "${5:-0}"; exec perf record -q -F 999 -g -p "$3" -o "$PERF/$2.data" -- sleep "$4") >/dev/null 2>&1 &
  PERF_PID=$!
  PERF_CASE=$2
}
perf_wait() {
  [ -n "$PERF_PID" ] || return 0
  wait "$PERF_PID"
  PERF_PID=
  perf report -i "$PERF/$PERF_CASE.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -40 >"$PERF/$PERF_CASE.txt"
  echo "# perf: $PERF/$PERF_CASE.data, top symbols in $PERF/$PERF_CASE.txt"
}

# ratio A B -> A/B with 2 decimals ("-" if either is missing)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 <= 0 || a + 0 < 0) print "-"; else printf "%.2f", a / b }'; }
# best OLD NEW [time]: "rate cpu" pairs -> the higher rate and the lower
# cpu; with `time`, "seconds cpu" pairs -> the lower of both.
best() {
  awk -v a="$1" -v b="$2" -v t="${3:-}" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    if (n < 2) { print b; exit }
    hi = t == "" ? (y[1] + 0 > x[1] + 0) : (y[1] + 0 < x[1] + 0)
    printf "%s %s\n", (hi ? y[1] : x[1]), (y[2] + 0 < x[2] + 0 ? y[2] : x[2]) }'
}
# field KEY LINE -> value of KEY=value in LINE
field() { sed -n "s/.*[ ^]$1=\([^ ]*\).*/\1/p" <<<" $2"; }

# ---- N1: TCP echo -----------------------------------------------------------
N1_CASES="100:1024 100:100 1:1024 1:100"
declare -A N1

n1_server() { # name cmd...
  local name=$1; shift
  want_peer "$name" || return 0
  if ! start_server "$name" "$@"; then
    say "N1 $name failed (did not start)"; return 0
  fi
  local c s
  for cs in $N1_CASES; do
    c=${cs%%:*}; s=${cs##*:}
    local line
    perf_start "$name" "N1-$name-c$c-s$s" "$SERVER_PID" "$DUR" "$WARM"
    line=$(taskset -c 1 "$BUILD/bench/bench_echo_load" "$PORT" "$c" "$s" "$WARM" "$DUR" "$SERVER_PID" 2>&1 | tail -1)
    perf_wait
    local r cpu
    r=$(field rtt_per_s "$line"); cpu=$(field cpu_us_per_rt "$line")
    if [ -z "$r" ]; then
      say "N1 $name c=$c size=$s failed: $line"
      continue
    fi
    N1[$name,$cs]=$(best "${N1[$name,$cs]:-}" "$r $cpu")
    say "N1 $name c=$c size=$s rtt_per_s=$r cpu_us_per_rt=$cpu server_cpu_pct=$(field server_cpu_pct "$line")"
  done
  stop_server
}

run_n1() {
  echo "== N1 TCP echo: server on CPU 0, bench_echo_load on CPU 1, ${DUR}s after ${WARM}s warm-up, $ROUNDS round(s)"
  for _ in $(seq "$ROUNDS"); do n1_round; done
  n1_ratios
}

n1_round() {
  if [ -x "$WEFT_ECHO" ]; then
    n1_server weft taskset -c 0 "$WEFT_ECHO" "$PORT"
  else
    want_peer weft && say "N1 weft skipped (not built)"
  fi
  n1_server epoll taskset -c 0 "$BUILD/bench/bench_epoll_echo" "$PORT"
  n1_server libuv taskset -c 0 "$OUT/echo_libuv" "$PORT"
  n1_server uvloop-protocol taskset -c 0 $PY "$PEERS_SRC/echo_asyncio.py" uvloop protocol "$PORT"
  n1_server uvloop-streams taskset -c 0 $PY "$PEERS_SRC/echo_asyncio.py" uvloop streams "$PORT"
  n1_server asyncio-protocol taskset -c 0 $PY "$PEERS_SRC/echo_asyncio.py" asyncio protocol "$PORT"
  n1_server asyncio-streams taskset -c 0 $PY "$PEERS_SRC/echo_asyncio.py" asyncio streams "$PORT"
  n1_server go env GOMAXPROCS=1 taskset -c 0 "$OUT/echo_go" "$PORT"
  n1_server node taskset -c 0 node "$PEERS_SRC/echo_node.js" "$PORT"
}

n1_ratios() {
  # weft against the epoll limit and uvloop's Protocol server (targets:
  # rtt >= 0.95x epoll; cpu/rt <= 1.1x epoll and <= 0.7x uvloop-protocol).
  for cs in $N1_CASES; do
    [ -n "${N1[weft,$cs]:-}" ] || continue
    read -r wr wc <<<"${N1[weft,$cs]}"
    read -r er ec <<<"${N1[epoll,$cs]:-}"
    read -r ur uc <<<"${N1[uvloop-protocol,$cs]:-}"
    say "N1 ratio c=${cs%%:*} size=${cs##*:} weft/epoll rtt=$(ratio "$wr" "$er") cpu=$(ratio "$wc" "$ec")" \
      "weft/uvloop-protocol rtt=$(ratio "$wr" "$ur") cpu=$(ratio "$wc" "$uc")"
  done
}

# ---- nginx (N2 peer, N3 origin) ------------------------------------------------
# nginx_start CPU: one process (master_process off) serving / -> "Hello,
# World!" and /1k -> a 1 KiB body, config and logs in $TMP.
nginx_start() { # CPU [WORKERS]: with WORKERS > 1, a master and that many workers, unpinned
  local cpu=$1 workers=${2:-1} master=off user=""
  [ "$workers" -gt 1 ] && master=on
  # a master started as root runs its workers as nobody, who cannot read $TMP
  [ "$master" = on ] && [ "$(id -u)" = 0 ] && user="user root;"
  mkdir -p "$TMP/nginx/www"
  head -c 1024 /dev/zero | tr '\0' 'x' >"$TMP/nginx/www/1k"
  cat >"$TMP/nginx/nginx.conf" <<EOF
daemon off;
$user
master_process $master;
worker_processes $workers;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  server {
    listen 127.0.0.1:$PORT backlog=1024;
    location = / { default_type text/plain; return 200 "Hello, World!"; }
    location = /1k { root $TMP/nginx/www; default_type text/plain; }
  }
}
EOF
  local pin=(taskset -c "$cpu")
  [ "$workers" -gt 1 ] && pin=()
  "${pin[@]}" nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -e "$TMP/nginx/error.log" \
    >"$TMP/nginx.log" 2>&1 &
  NGINX_PID=$!
  wait_port "$PORT" && kill -0 "$NGINX_PID" 2>/dev/null || { echo "nginx did not start" >&2; cat "$TMP/nginx/error.log" >&2; return 1; }
}
nginx_stop() { stop_pid "$NGINX_PID"; NGINX_PID=; PORT=$(free_port); }

# ---- N2: HTTP server ----------------------------------------------------------
declare -A N2
# wrk_run SECONDS URL -> prints "rps p99_ms requests"
wrk_run() {
  local out
  out=$(taskset -c 1 wrk -t1 -c100 -d"$1"s --latency "$2" 2>&1)
  local rps p99 reqs
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p99=$(awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
          else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
          printf "%.2f", v }' <<<"$out")
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  local errs
  errs=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  [ -n "$errs" ] && echo "wrk: $errs" >&2
  echo "${rps:-} ${p99:-} ${reqs:-}"
}

n2_measure() { # name pid
  local name=$1 pid=$2
  wrk_run 2 "http://127.0.0.1:$PORT/" >/dev/null # warm-up
  local t0 t1 rps p99 reqs
  t0=$(cpu_ticks "$pid")
  perf_start "$name" "N2-$name" "$pid" "$DUR"
  read -r rps p99 reqs <<<"$(wrk_run "$DUR" "http://127.0.0.1:$PORT/")"
  t1=$(cpu_ticks "$pid")
  perf_wait
  if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
    say "N2 $name failed (no wrk result)"; return
  fi
  local cpu_us pct
  cpu_us=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  pct=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v s="$DUR" 'BEGIN { printf "%.0f", d / t / s * 100 }')
  N2[$name]=$(best "${N2[$name]:-}" "$rps $cpu_us")
  say "N2 $name req_per_s=$rps p99_ms=$p99 cpu_us_per_req=$cpu_us server_cpu_pct=$pct"
}

n2_server() { # name cmd...
  local name=$1; shift
  want_peer "$name" || return 0
  if ! start_server "$name" "$@"; then
    say "N2 $name failed (did not start)"; return 0
  fi
  n2_measure "$name" "$SERVER_PID"
  stop_server
}

run_n2() {
  echo "== N2 HTTP server: server on CPU 0, wrk -t1 -c100 -d${DUR}s --latency on CPU 1 after a 2 s warm-up, $ROUNDS round(s)"
  for _ in $(seq "$ROUNDS"); do n2_round; done
  n2_ratios
}

n2_round() {
  if [ -x "$WEFT_CLI" ]; then
    # `weft serve` without a directory is the hello endpoint
    n2_server weft taskset -c 0 "$WEFT_CLI" serve --host 127.0.0.1 --port "$PORT"
  else
    want_peer weft && say "N2 weft skipped (not built)"
  fi
  if want_peer nginx; then
    if nginx_start 0; then n2_measure nginx "$NGINX_PID"; else say "N2 nginx failed (did not start)"; fi
    nginx_stop
  fi
  n2_server libuv taskset -c 0 "$OUT/http_libuv" "$PORT"
  n2_server go env GOMAXPROCS=1 taskset -c 0 "$OUT/http_go" "$PORT"
  n2_server node taskset -c 0 node "$PEERS_SRC/http_node.js" "$PORT"
  n2_server aiohttp-uvloop taskset -c 0 $PY "$PEERS_SRC/http_aiohttp.py" uvloop "$PORT"
  n2_server aiohttp-asyncio taskset -c 0 $PY "$PEERS_SRC/http_aiohttp.py" asyncio "$PORT"
}

n2_ratios() {
  # targets: req/s >= 0.95x nginx; cpu/req <= nginx's and <= 1/3 of Node's
  if [ -n "${N2[weft]:-}" ]; then
    read -r wr wc <<<"${N2[weft]}"
    read -r nr nc <<<"${N2[nginx]:-}"
    read -r _ oc <<<"${N2[node]:-}"
    say "N2 ratio weft/nginx req=$(ratio "$wr" "$nr") cpu=$(ratio "$wc" "$nc") weft/node cpu=$(ratio "$wc" "$oc")"
  fi
}

# ---- N3: HTTP client ----------------------------------------------------------
N3_N=20000
N3_C=100
declare -A N3

# n3_client name cmd...: the client on CPU 0 against nginx on CPU 1; wall
# time and client CPU (user+sys) of the whole process, start-up included.
n3_client() {
  local name=$1; shift
  want_peer "$name" || return 0
  local TIMEFORMAT='%R %U %S' out rc wall usr sys
  { time taskset -c 0 "$@" >"$TMP/$name.out" 2>&1; } 2>"$TMP/$name.time"
  rc=$?
  out=$(tail -1 "$TMP/$name.out")
  read -r wall usr sys <"$TMP/$name.time"
  if [ "$rc" != 0 ] || [ -z "$wall" ]; then
    say "N3 $name failed: $out"; return
  fi
  local cpu
  cpu=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  N3[$name]=$(best "${N3[$name]:-}" "$wall $cpu" time)
  say "N3 $name wall_s=$wall cpu_s=$cpu ($out)"
}

run_n3() {
  echo "== N3 HTTP client: $N3_N GETs of 1 KiB, <= $N3_C in flight, keep-alive; client on CPU 0, nginx on CPU 1, $ROUNDS round(s)"
  nginx_start 1 || { say "N3 skipped (nginx did not start)"; return; }
  local url="http://127.0.0.1:$PORT/1k"
  curl -sf "$url" | cmp -s - "$TMP/nginx/www/1k" || { say "N3 skipped (nginx /1k wrong)"; nginx_stop; return; }
  for _ in $(seq "$ROUNDS"); do n3_round "$url"; done
  nginx_stop
  n3_ratios
}

n3_round() {
  local url=$1
  if [ -x "$WEFT_GET" ]; then
    n3_client weft "$WEFT_GET" "$url" "$N3_N" "$N3_C"
  else
    want_peer weft && say "N3 weft skipped (not built)"
  fi
  n3_client curl-multi "$OUT/get_curl" "$url" "$N3_N" "$N3_C"
  n3_client go env GOMAXPROCS=1 "$OUT/get_go" "$url" "$N3_N" "$N3_C"
  n3_client node node "$PEERS_SRC/get_node.js" "$url" "$N3_N" "$N3_C"
  n3_client aiohttp-uvloop $PY "$PEERS_SRC/get_aiohttp.py" uvloop "$url" "$N3_N" "$N3_C"
  n3_client aiohttp-asyncio $PY "$PEERS_SRC/get_aiohttp.py" asyncio "$url" "$N3_N" "$N3_C"
  # wrk's rate over a few seconds, scaled to N3_N requests: the limit.
  if want_peer wrk; then
    local pid rps reqs t0 t1
    taskset -c 0 wrk -t1 -c"$N3_C" -d3s "$url" >"$TMP/wrk3.out" 2>&1 &
    pid=$!
    sleep 0.2; t0=$(cpu_ticks "$pid")
    sleep 2.6; t1=$(cpu_ticks "$pid")
    wait "$pid"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk3.out")
    if [ -n "$rps" ]; then
      local wall cpu
      wall=$(awk -v n="$N3_N" -v r="$rps" 'BEGIN { printf "%.3f", n / r }')
      # CPU per request over 2.6 s of steady state, times N3_N
      cpu=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v r="$rps" -v n="$N3_N" \
        'BEGIN { printf "%.2f", d / t / (2.6 * r) * n }')
      N3[wrk]=$(best "${N3[wrk]:-}" "$wall $cpu" time)
      say "N3 wrk wall_s=$wall cpu_s=$cpu (rate $rps req/s scaled to $N3_N)"
    else
      say "N3 wrk failed"
    fi
  fi
}

n3_ratios() {
  # targets: faster than curl multi, within 1.5x of wrk
  if [ -n "${N3[weft]:-}" ]; then
    read -r ww wc <<<"${N3[weft]}"
    read -r cw cc <<<"${N3[curl-multi]:-}"
    read -r kw kc <<<"${N3[wrk]:-}"
    say "N3 ratio weft/curl-multi wall=$(ratio "$ww" "$cw") cpu=$(ratio "$wc" "$cc")" \
      "weft/wrk wall=$(ratio "$ww" "$kw") cpu=$(ratio "$wc" "$kc")"
  fi
}

# ---- W1: WebSocket echo (issue 14) ------------------------------------------
# 1,000,000 text messages of 64 bytes, 100 connections each sending one at a
# time and waiting for its echo (`weft ws -n 10000 --concurrency 100`, the
# load tool of issue 14, on CPU 1), against each server on CPU 0: messages/s
# and server CPU per message (over the whole load run, handshakes included).
W1_N=10000 W1_C=100
[ "${BENCH_QUICK:-0}" = 1 ] && { W1_N=500; W1_C=20; }
declare -A W1

w1_server() { # name cmd...
  local name=$1; shift
  want_peer "$name" || return 0
  if ! start_server "$name" "$@"; then
    say "W1 $name failed (did not start)"; return 0
  fi
  local t0 t1 u0 u1 w0 w1 out rate msgs cpu user p99 pct
  t0=$(cpu_ticks "$SERVER_PID") u0=$(user_ticks "$SERVER_PID") w0=$(date +%s.%N)
  perf_start "$name" "W1-$name" "$SERVER_PID" 4 1
  out=$(taskset -c 1 "$WEFT_CLI" ws -n "$W1_N" --concurrency "$W1_C" "ws://127.0.0.1:$PORT/ws" 2>&1)
  t1=$(cpu_ticks "$SERVER_PID") u1=$(user_ticks "$SERVER_PID") w1=$(date +%s.%N)
  perf_wait
  stop_server
  msgs=$(sed -n 's/^\([0-9]*\) messages in .*/\1/p' <<<"$out" | head -1)
  rate=$(sed -n 's/.*: \([0-9.]*\) messages\/s$/\1/p' <<<"$out" | head -1)
  p99=$(sed -n 's/.* p99 \([0-9.]*\) .*/\1/p' <<<"$out" | head -1)
  if [ -z "$rate" ] || [ "$msgs" != $((W1_N * W1_C)) ]; then
    say "W1 $name failed: $(tr '\n' ' ' <<<"$out" | cut -c1-200)"; return 0
  fi
  cpu=$(awk -v t=$((t1 - t0)) -v hz="$TICK" -v n="$msgs" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
  user=$(awk -v t=$((u1 - u0)) -v hz="$TICK" -v n="$msgs" 'BEGIN { printf "%.2f", t / hz / n * 1e6 }')
  # server_cpu_pct: how busy the server was over the run; a server that
  # idles sleeps and wakes more often per message (fewer ready sockets a
  # wakeup), which is part of its cost per message
  pct=$(awk -v t=$((t1 - t0)) -v hz="$TICK" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.0f", t / hz / (b - a) * 100 }')
  W1[$name]=$(best "${W1[$name]:-}" "$rate $cpu")
  # user_us_per_msg: the server's own code; the rest is the kernel's TCP
  # work (one read and one send per message at the least, for every server)
  say "W1 $name msgs_per_s=$rate cpu_us_per_msg=$cpu user_us_per_msg=$user p99_ms=$p99 server_cpu_pct=$pct"
}

run_w1() {
  echo "== W1 WebSocket echo: server on CPU 0, weft ws -n $W1_N --concurrency $W1_C (64-byte text) on CPU 1, $ROUNDS round(s)"
  [ -x "$WEFT_CLI" ] || { say "W1 skipped (weft not built: $WEFT_CLI)"; return; }
  for _ in $(seq "$ROUNDS"); do
    # `weft serve` answers WebSockets at /ws with an echo
    w1_server weft taskset -c 0 "$WEFT_CLI" serve --host 127.0.0.1 --port "$PORT"
    w1_server node env NODE_PATH=/usr/share/nodejs taskset -c 0 node "$PEERS_SRC/ws_node.js" "$PORT"
    w1_server aiohttp-uvloop taskset -c 0 $PY "$PEERS_SRC/http_aiohttp.py" uvloop "$PORT"
    w1_server go env GOMAXPROCS=1 taskset -c 0 "$OUT/ws_go" "$PORT"
    # floors, not peers: hand-written echo servers with nothing but the
    # system calls of each design (bench/ws_epoll_echo.c, ws_uring_echo.c)
    [ -x "$BUILD/bench/bench_ws_epoll_echo" ] &&
      w1_server epoll-floor taskset -c 0 "$BUILD/bench/bench_ws_epoll_echo" "$PORT"
    if [ -x "$BUILD/bench/bench_ws_uring_echo" ]; then
      w1_server uring-floor taskset -c 0 "$BUILD/bench/bench_ws_uring_echo" "$PORT"
    else
      want_peer uring-floor && say "W1 uring-floor skipped (not built: liburing-dev missing)"
    fi
  done
  w1_ratios
}

w1_ratios() {
  # targets: server CPU per message <= 0.5x Node's, and below every peer's
  [ -n "${W1[weft]:-}" ] || return 0
  local wr wc line="W1 ratio" ok=yes p r c
  read -r wr wc <<<"${W1[weft]}"
  for p in node aiohttp-uvloop go; do
    [ -n "${W1[$p]:-}" ] || continue
    read -r r c <<<"${W1[$p]}"
    line+=" weft/$p msgs=$(ratio "$wr" "$r") cpu=$(ratio "$wc" "$c")"
    awk -v a="$wc" -v b="$c" 'BEGIN { exit !(a < b) }' || ok=no
  done
  say "$line"
  # the floors against Node: the least a design can cost per message
  line="W1 floors"
  for p in epoll-floor uring-floor; do
    [ -n "${W1[$p]:-}" ] || continue
    read -r r c <<<"${W1[$p]}"
    line+=" weft/$p cpu=$(ratio "$wc" "$c")"
    [ -n "${W1[node]:-}" ] && line+=" $p/node cpu=$(ratio "$c" "$(cut -d' ' -f2 <<<"${W1[node]}")")"
  done
  [ "$line" != "W1 floors" ] && say "$line"
  if [ -n "${W1[node]:-}" ]; then
    read -r r c <<<"${W1[node]}"
    say "W1 target cpu<=0.5x node: $(awk -v a="$wc" -v b="$c" 'BEGIN { print (a <= 0.5 * b) ? "met" : "missed" }');" \
      "cpu below every peer: $([ $ok = yes ] && echo met || echo missed)"
  fi
}

[ -x "$BUILD/bench/bench_echo_load" ] || { echo "build first: $BUILD/bench/bench_echo_load missing" >&2; exit 1; }
# ---- N2M and N3M: N2 and N3 on both cores (issue 12) -------------------------
# Nothing pinned: each system may use both CPUs, and so does its load
# generator, which competes with it (2 cores here): requests/s and CPU per
# request (the server's, all its threads/processes) are both reported.
# N2M: weft serve --loops 2, nginx with 2 workers, Go with GOMAXPROCS=2;
# wrk -t2 -c100. N3M: the N3 workload (20,000 GETs of 1 KiB, <= 100 in
# flight) from weft fetch --loops 2 (a session per loop), Go with
# GOMAXPROCS=2 and curl multi (one thread), against nginx with 2 workers.
declare -A N2M N3M
n2m_measure() { # name pid
  local name=$1 pid=$2 out rps reqs t0 t1
  taskset -c 0,1 wrk -t2 -c100 -d2s "http://127.0.0.1:$PORT/" >/dev/null 2>&1 # warm-up
  t0=$(cpu_ticks_tree "$pid")
  out=$(wrk -t2 -c100 -d"$DUR"s "http://127.0.0.1:$PORT/" 2>&1)
  t1=$(cpu_ticks_tree "$pid")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  if [ -z "$rps" ] || [ -z "$reqs" ] || [ "$reqs" = 0 ]; then say "N2M $name failed"; return; fi
  local cpu_us
  cpu_us=$(awk -v d=$((t1 - t0)) -v t="$TICK" -v n="$reqs" 'BEGIN { printf "%.2f", d / t * 1e6 / n }')
  N2M[$name]=$(best "${N2M[$name]:-}" "$rps $cpu_us")
  say "N2M $name req_per_s=$rps cpu_us_per_req=$cpu_us"
}

run_n2m() {
  echo "== N2M HTTP server on 2 cores: weft --loops 2, nginx 2 workers, Go GOMAXPROCS=2; wrk -t2 -c100 -d${DUR}s, nothing pinned, $ROUNDS round(s)"
  for _ in $(seq "$ROUNDS"); do
    if want_peer weft && [ -x "$WEFT_CLI" ] && start_server weft "$WEFT_CLI" serve --host 127.0.0.1 --port "$PORT" --loops 2; then
      n2m_measure weft "$SERVER_PID"; stop_server
    fi
    if want_peer nginx; then
      if nginx_start 0 2; then sleep 0.3; n2m_measure nginx "$NGINX_PID"; fi
      nginx_stop
    fi
    if want_peer go && start_server go env GOMAXPROCS=2 "$OUT/http_go" "$PORT"; then
      n2m_measure go "$SERVER_PID"; stop_server
    fi
  done
  if [ -n "${N2M[weft]:-}" ] && [ -n "${N2M[nginx]:-}" ]; then
    read -r wr wc <<<"${N2M[weft]}"; read -r nr nc <<<"${N2M[nginx]}"
    say "N2M ratio weft/nginx-2-workers req=$(ratio "$wr" "$nr") cpu=$(ratio "$wc" "$nc") (targets: req >= 1, cpu <= 1)"
  fi
}

n3m_client() { # name cmd...
  local name=$1; shift
  want_peer "$name" || return 0
  local TIMEFORMAT='%R %U %S' rc wall usr sys
  { time "$@" >"$TMP/$name.m.out" 2>&1; } 2>"$TMP/$name.m.time"
  rc=$?
  read -r wall usr sys <"$TMP/$name.m.time"
  if [ "$rc" != 0 ] || [ -z "$wall" ]; then say "N3M $name failed: $(tail -1 "$TMP/$name.m.out")"; return; fi
  N3M[$name]=$(best "${N3M[$name]:-}" "$wall $(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" time)
  say "N3M $name wall_s=$wall cpu_s=$(awk -v u="$usr" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
}

run_n3m() {
  echo "== N3M HTTP client on 2 cores: $N3_N GETs of 1 KiB, <= $N3_C in flight, nginx 2 workers, nothing pinned, $ROUNDS round(s)"
  nginx_start 0 2 || { say "N3M skipped (nginx did not start)"; return; }
  sleep 0.3
  local url="http://127.0.0.1:$PORT/1k"
  yes "$url" | head -n "$N3_N" >"$TMP/n3m_urls"
  for _ in $(seq "$ROUNDS"); do
    [ -x "$WEFT_CLI" ] && n3m_client weft "$WEFT_CLI" fetch -c "$N3_C" --loops 2 -i "$TMP/n3m_urls"
    n3m_client go env GOMAXPROCS=2 "$OUT/get_go" "$url" "$N3_N" "$N3_C"
    n3m_client curl-multi "$OUT/get_curl" "$url" "$N3_N" "$N3_C"
  done
  nginx_stop
  if [ -n "${N3M[weft]:-}" ] && [ -n "${N3M[go]:-}" ]; then
    read -r ww wc <<<"${N3M[weft]}"; read -r gw gc <<<"${N3M[go]}"
    say "N3M ratio weft/go wall=$(ratio "$ww" "$gw") cpu=$(ratio "$wc" "$gc") (target: wall < 1)"
  fi
}

want_workload N1 && run_n1
want_workload N2 && run_n2
want_workload N3 && run_n3
want_workload W1 && run_w1
want_workload N2M && run_n2m
want_workload N3M && run_n3m
exit 0
