#!/usr/bin/env bash
# `make bench`: runs M1-M4 for weft and its peers in one run, prints one line
# per workload and system (`WORKLOAD SYSTEM key=value ...`), then the ratios
# and target checks; then runs every other bench/run_*.sh (network, HTTP,
# PostgreSQL benches added by their areas) with the same arguments.
#
# Usage: bench/run.sh BUILD_DIR   (the weft bench programs must be built)
# Selection (see bench/lib.sh): ONLY=M1,M4 SYSTEMS=weft,go SKIP=asyncio,uvloop
# BENCH_QUICK=1 (small sizes, a smoke run) BENCH_TIMEOUT=600; ROUNDS=N runs
# every system N times, in turns, and the ratios use each one's best figures
# (other load on a shared machine only ever makes a run worse).
# Peers are built into BUILD_DIR/bench/peers: Boost.Context (C++), Go (std
# only, offline), raw libuv (C); asyncio and uvloop run on /usr/bin/python3,
# Node on `node`. A peer that cannot be built or run is reported and skipped.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" && pwd) || exit 1
source "$here/bench/lib.sh"
peers=$BUILD/bench/peers
src=$here/bench/peers
mkdir -p "$peers"
export BENCH_RESULTS=$peers/results.txt
: >"$BENCH_RESULTS"
PY=/usr/bin/python3 # Debian's, which has uvloop; not a pyenv python on PATH

# Workload sizes: the issue's, or small ones for a smoke run. M4's ideal is
# 1.00 s either way.
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
  M1_N=200000 M2_N=100000 M3_N=100000 M3_S=1 M4_N=1000 M4_LIMIT=10 M4_MS=10
else
  M1_N=5000000 M2_N=1000000 M3_N=1000000 M3_S=1 M4_N=10000 M4_LIMIT=100 M4_MS=10
fi

skip() { echo "# skipping $1: $2"; SKIP="${SKIP:-},$1"; }

# ---- build the peers (only those that will run) ----
any_m=0
for w in M1 M2 M3 M4; do want_workload $w && any_m=1; done
if [ $any_m = 1 ]; then
  echo "# M1-M4: M1 2x$M1_N yields, M2 $M2_N tasks, M3 $M3_N sleepers of $M3_S s," \
    "M4 $M4_N tasks x $M4_MS ms behind a semaphore of $M4_LIMIT ($(nproc) cores, $(date -u +%FT%TZ))"
  if want_system boost && want_workload M1; then
    g++ -O2 -o "$peers/boost_m1" "$src/boost_m1.cpp" -lboost_context 2>"$peers/build.log" \
      || skip boost "g++ failed (libboost-context-dev?): $(head -c 200 "$peers/build.log")"
  fi
  if want_system go || want_system go-1p; then
    # Offline and module-free: std only, caches inside the build dir.
    GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$peers/go-cache GOPATH=$peers/go-path \
      go build -o "$peers/bench_go" "$src/bench.go" 2>"$peers/build.log" \
      || skip go "go build failed: $(head -c 200 "$peers/build.log")"
  fi
  if want_system libuv && want_workload M4; then
    gcc -O2 -o "$peers/uv_m4" "$src/uv_m4.c" -luv 2>"$peers/build.log" \
      || skip libuv "gcc failed (libuv1-dev?): $(head -c 200 "$peers/build.log")"
  fi
  want_system asyncio && { [ -x $PY ] || skip asyncio "$PY not found"; }
  want_system uvloop && { $PY -c 'import uvloop' 2>/dev/null || skip uvloop "python3-uvloop missing"; }
  want_system node && { command -v node >/dev/null || skip node "nodejs missing"; }
fi

# ---- run: each workload for each system ----
B=$BUILD/bench
PYB=$src/bench_asyncio.py
NODEB=$src/bench_node.js

# The machine's price of a fresh page, beside M1-M4 in every run: M2-M4 are
# bound by it, and it differs 5x between VMs of one class (bench/page_probe.c).
if [ $any_m = 1 ]; then
  out=$(timeout 120 "$B/bench_page_probe" 2>&1)
  printf '%s\n' "$out" | grep -E '^PROBE ' | tee -a "$BENCH_RESULTS" \
    || echo "PROBE machine FAILED: $(printf '%s' "$out" | head -c 200)"
fi

for round in $(seq "${ROUNDS:-1}"); do
  [ "${ROUNDS:-1}" -gt 1 ] && echo "# round $round"
  bench_run M1 weft "$B/bench_m1_switch" $M1_N
  bench_run M1 boost "$peers/boost_m1" $M1_N
  bench_run M1 go "$peers/bench_go" m1 $M1_N
  bench_run M1 asyncio $PY "$PYB" asyncio m1 $M1_N
  bench_run M1 uvloop $PY "$PYB" uvloop m1 $M1_N
  bench_run M1 node node "$NODEB" m1 $M1_N

  bench_run M2 weft "$B/bench_m2_spawn" $M2_N group
  bench_run M2 weft-gather "$B/bench_m2_spawn" $M2_N gather
  bench_run M2 weft-eager "$B/bench_m2_spawn" $M2_N eager
  bench_run M2 go "$peers/bench_go" m2 $M2_N
  bench_run M2 go-1p env GOMAXPROCS=1 BENCH_GO_NAME=go-1p "$peers/bench_go" m2 $M2_N
  bench_run M2 asyncio $PY "$PYB" asyncio m2 $M2_N
  bench_run M2 uvloop $PY "$PYB" uvloop m2 $M2_N
  bench_run M2 node node "$NODEB" m2 $M2_N

  bench_run M3 weft "$B/bench_m3_sleepers" $M3_N $M3_S
  bench_run M3 go "$peers/bench_go" m3 $M3_N $M3_S
  bench_run M3 go-1p env GOMAXPROCS=1 BENCH_GO_NAME=go-1p "$peers/bench_go" m3 $M3_N $M3_S
  bench_run M3 node node "$NODEB" m3 $M3_N $M3_S
  bench_run M3 asyncio $PY "$PYB" asyncio m3 $M3_N $M3_S
  bench_run M3 uvloop $PY "$PYB" uvloop m3 $M3_N $M3_S

  bench_run M4 weft "$B/bench_m4_semaphore" $M4_N $M4_LIMIT $M4_MS
  bench_run M4 libuv "$peers/uv_m4" $M4_N $M4_LIMIT $M4_MS
  bench_run M4 go "$peers/bench_go" m4 $M4_N $M4_LIMIT $M4_MS
  bench_run M4 go-1p env GOMAXPROCS=1 BENCH_GO_NAME=go-1p "$peers/bench_go" m4 $M4_N $M4_LIMIT $M4_MS
  # Both pinned to one CPU (issue 13): no second core for weft's prefault
  # helper nor for Go's other P.
  bench_run M4 weft env BENCH_WEFT_NAME=weft-pinned taskset -c 0 "$B/bench_m4_semaphore" $M4_N $M4_LIMIT $M4_MS
  bench_run M4 go env GOMAXPROCS=1 BENCH_GO_NAME=go-pinned taskset -c 0 "$peers/bench_go" m4 $M4_N $M4_LIMIT $M4_MS
  bench_run M4 asyncio $PY "$PYB" asyncio m4 $M4_N $M4_LIMIT $M4_MS
  bench_run M4 uvloop $PY "$PYB" uvloop m4 $M4_N $M4_LIMIT $M4_MS
  bench_run M4 node node "$NODEB" m4 $M4_N $M4_LIMIT $M4_MS
done

if [ -s "$BENCH_RESULTS" ]; then
  echo "# ratios (same run; targets from issue 2)"
  awk -v m3_tasks=$M3_N -v m3_sleep=$M3_S -f "$here/bench/summary.awk" "$BENCH_RESULTS" | tee "$peers/summary.txt"
fi

# ---- the other areas' benches ----
for hook in "$here"/bench/run_*.sh; do
  [ -e "$hook" ] || continue
  echo "# ${hook#$here/}"
  bash "$hook" "$BUILD" || echo "# ${hook#$here/} failed (exit $?)"
done
exit 0
