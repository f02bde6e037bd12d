#!/usr/bin/env bash
# MC1-MC2, several loops (issue 12), run by bench/run.sh after M1-M4:
#   MC1 1,000,000 tasks spread over 2 loops, all awaited: weft on 2 loops and
#       on 1, Go with GOMAXPROCS=2;
#   MC2 1,000,000 cross-loop round trips through two channels (weft_chan of
#       capacity 1; Go's unbuffered channels on 2 Ps), weft_call round trips,
#       weft's chan with both tasks on one loop, and the floor of a cross-core
#       round trip (two threads spinning on two cache lines, bench/mc2_floor.c).
# On 2 cores the two sides compete with everything else: each line also
# gives CPU per operation.
# Usage: bench/run_mc.sh BUILD_DIR; ONLY/SYSTEMS/SKIP/BENCH_QUICK as run.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-build}" && pwd) || exit 1
source "$here/bench/lib.sh"
peers=$BUILD/bench/peers
mkdir -p "$peers"
export BENCH_RESULTS=${BENCH_RESULTS:-$peers/results_mc.txt}
if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
  MC1_N=100000 MC2_N=20000
else
  MC1_N=1000000 MC2_N=1000000
fi
want_workload MC1 || want_workload MC2 || exit 0
echo "# MC1-MC2: MC1 $MC1_N tasks over 2 loops, MC2 $MC2_N round trips ($(nproc) cores, $(date -u +%FT%TZ))"
go_ok=0
if want_system go; then
  GOFLAGS=-mod=mod GOPROXY=off GOCACHE=$peers/go-cache GOPATH=$peers/go-path \
    go build -o "$peers/mc_go" "$here/bench/peers/bench.go" 2>"$peers/build_mc.log" && go_ok=1 \
    || echo "# skipping go: go build failed: $(head -c 200 "$peers/build_mc.log")"
fi
B=$BUILD/bench
bench_run MC1 weft-2loops "$B/bench_mc1_spawn" $MC1_N 2
bench_run MC1 weft-1loop "$B/bench_mc1_spawn" $MC1_N 1
[ $go_ok = 1 ] && bench_run MC1 go env GOMAXPROCS=2 "$peers/mc_go" mc1 $MC1_N
bench_run MC2 weft "$B/bench_mc2_pingpong" $MC2_N
bench_run MC2 floor "$B/bench_mc2_floor" $MC2_N
[ $go_ok = 1 ] && bench_run MC2 go env GOMAXPROCS=2 "$peers/mc_go" mc2 $MC2_N
exit 0
