#!/usr/bin/env bash
# PostgreSQL benchmarks P1-P3 (issue 6): weft against asyncpg (uvloop) and
# Go's pgx in the same run, over a pool of 10 connections for 10 s each.
#
#   bench/run_pg.sh BUILD_DIR
#
# P1 SELECT 1+1; P2 SELECT * FROM generate_series(1,1000) (every value read);
# P3 a batch of 1,000 INSERTs (pipelined by all three). Two modes: "hold"
# (each of the 10 workers keeps one pooled connection, the pattern of
# asyncpg's published benchmark) and "acquire" (acquire/release around each
# query: systems weft-acquire, asyncpg-acquire, pgx-acquire).
# A throwaway cluster (tests/pg_cluster.sh) shares the machine with the
# client, as on a one-box deployment: a driver's CPU cost is CPU the server
# does not get. PG_PIN=1 pins the server to CPU 0 and clients to CPU 1
# instead: the server (one core) is then the bottleneck for every driver.
# P3 also runs bench/peers/pg_ideal.c, a raw-protocol client that is not
# weft and costs next to nothing per row (system `ideal`, asyncpg's
# messages; `ideal-libpq`, the messages libpq sends for weft): the most any
# client can get from this server, so the ceiling for the 1.5x target.
# Each line also gives client_cpu_us_per_query (the driver's own cost,
# from getrusage over the measured window) and server_cpu_us_per_query (the
# cluster's CPU over the run, bench/pg_server_cpu.sh). Selection as in bench/lib.sh: ONLY=P1,P3 SYSTEMS=weft,asyncpg
# SKIP=pgx BENCH_QUICK=1 (2 s runs) ROUNDS=3 (best of 3, in turns).
# P4 (ONLY=P4): asyncpg's own benchmark shape (bench/pg_p4.c): the pg_type
# read, 100 x 1 KiB bytea, 100 x int4[100], COPY of 1,000 records and a
# 1,000 x 7-column batch insert, each sub-workload by weft, asyncpg
# (pg_asyncpg_p4.py) and pgx (pg_pgx_p4.go), connections held; target: at
# least asyncpg's rows/s on each and less client CPU per row.
# Results: BUILD_DIR/bench/pg_results.txt.
set -uo pipefail
BUILD=$(cd "${1:-build}" && pwd) || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
SRC=$(cd "$(dirname "$0")" && pwd)
source "$SRC/lib.sh"
OUT=$BUILD/bench/peers
mkdir -p "$OUT"
RESULTS=$BUILD/bench/pg_results.txt
: >"$RESULTS"
export BENCH_RESULTS=$RESULTS
PY=/usr/bin/python3
DUR=10
[ "${BENCH_QUICK:-0}" = 1 ] && DUR=2
CONNS=10
any=0
for w in P1 P2 P3 P4; do want_workload $w && any=1; done
[ $any = 1 ] || exit 0

WEFT=$BUILD/bench/bench_pg_bench
[ -x "$WEFT" ] || { echo "# P1-P3: $WEFT not built"; exit 0; }

# pgx from Debian's packages, GOPATH mode, offline.
PGX=$OUT/pg_pgx PGX4=$OUT/pg_pgx_p4
for prog in pg_pgx pg_pgx_p4; do
  bin=$OUT/$prog
  if want_system pgx && { [ ! -e "$bin" ] || [ "$SRC/peers/$prog.go" -nt "$bin" ]; }; then
    tmp=$(mktemp -d)
    cp "$SRC/peers/$prog.go" "$tmp/main.go"
    (cd "$tmp" && GO111MODULE=off GOFLAGS= GOPROXY=off GOCACHE=$OUT/go-cache \
      GOPATH=/usr/share/gocode go build -o "$bin" main.go) 2>"$OUT/${prog}_build.log" ||
      echo "# pgx: build failed (golang-github-jackc-pgx-v4-dev?): $(head -c 200 "$OUT/${prog}_build.log")"
    rm -rf "$tmp"
  fi
done
$PY -c 'import asyncpg, uvloop' 2>/dev/null || echo "# asyncpg: python3-asyncpg/uvloop missing"
# P3's ceiling: a raw-protocol client with next to no client cost (not weft).
IDEAL=$OUT/pg_ideal
if { want_system ideal || want_system ideal-libpq; } && { [ ! -e "$IDEAL" ] || [ "$SRC/peers/pg_ideal.c" -nt "$IDEAL" ]; }; then
  gcc -O2 -o "$IDEAL" "$SRC/peers/pg_ideal.c" $(pkg-config --cflags --libs libpq 2>/dev/null || echo -lpq) \
    2>"$OUT/ideal_build.log" || echo "# ideal: build failed: $(head -c 200 "$OUT/ideal_build.log")"
fi

PIN=${PG_PIN:-0}
CPUS=; C1=
[ "$PIN" = 1 ] && { CPUS=0; C1="taskset -c 1"; }
eval "$(PG_CPUS=$CPUS "$SRC/../tests/pg_cluster.sh" start)" || { echo "# P1-P3: no PostgreSQL"; exit 0; }
trap 'eval "$WEFT_PG_STOP"' EXIT
# Each P1-P3 line also gets the server's CPU per query (bench/pg_server_cpu.sh).
SCPU=$SRC/pg_server_cpu.sh
where="server and client share the CPUs"
[ "$PIN" = 1 ] && where="server on CPU 0, clients on CPU 1"
echo "# P1-P3: pool of $CONNS, ${DUR} s each, $where ($(nproc) cores, $(date -u +%FT%TZ))"
for round in $(seq "${ROUNDS:-1}"); do
  [ "${ROUNDS:-1}" -gt 1 ] && echo "# round $round"
  for w in P1 P2 P3; do
    for mode in hold acquire; do
      sfx=; [ $mode = acquire ] && sfx=-acquire
      bench_run $w weft$sfx $SCPU $C1 "$WEFT" $w $DUR $CONNS $mode
      bench_run $w asyncpg$sfx $SCPU $C1 $PY "$SRC/peers/pg_asyncpg.py" $w $DUR $CONNS $mode
      [ -x "$PGX" ] && bench_run $w pgx$sfx $SCPU $C1 "$PGX" $w $DUR $CONNS $mode
    done
    # Issue 12: weft on 2 loops (a pool per loop), against pgx on every core.
    [ $w != P3 ] && [ "$PIN" != 1 ] && bench_run $w weft-loops2 $SCPU "$WEFT" $w $DUR $CONNS loops 2
    # The ceiling for P3 (connections held, so it compares with hold mode).
    [ $w = P3 ] && [ -x "$IDEAL" ] && bench_run P3 ideal $C1 "$IDEAL" P3 $DUR $CONNS
    [ $w = P3 ] && [ -x "$IDEAL" ] && bench_run P3 ideal-libpq $C1 "$IDEAL" P3 $DUR $CONNS libpq
  done
  # P4: one program per system runs the five sub-workloads in turn.
  [ -x "$BUILD/bench/bench_pg_p4" ] && bench_run P4 weft $C1 "$BUILD/bench/bench_pg_p4" $DUR $CONNS
  bench_run P4 asyncpg $C1 $PY "$SRC/peers/pg_asyncpg_p4.py" $DUR $CONNS
  [ -x "$PGX4" ] && bench_run P4 pgx $C1 "$PGX4" $DUR $CONNS
done

# Ratios from each system's best rate (target: weft >= 1.5x asyncpg).
echo "# P1-P3 ratios (best of ${ROUNDS:-1}; queries/s)"
awk '$1 == "P4" { s = ""; for (i = 3; i <= NF; i++) { split($i, kv, "=")
      if (kv[1] == "sub") s = kv[2]
      if (kv[1] == "rows_per_s" && kv[2] + 0 > p4[$2 " " s]) p4[$2 " " s] = kv[2] + 0
      if (kv[1] == "client_cpu_us_per_row" && (!(($2 " " s) in p4cpu) || kv[2] + 0 < p4cpu[$2 " " s])) p4cpu[$2 " " s] = kv[2] + 0 }
    next }
  { for (i = 3; i <= NF; i++) { split($i, kv, "=")
    if (kv[1] == "queries_per_s" && kv[2] + 0 > best[$1 " " $2]) best[$1 " " $2] = kv[2] + 0
    if (kv[1] == "client_cpu_us_per_query" && (!(($1 " " $2) in cpu) || kv[2] + 0 < cpu[$1 " " $2])) cpu[$1 " " $2] = kv[2] + 0 } }
  END {
    split("P1 P2 P3", ws, " ")
    for (i = 1; i <= 3; i++) for (m = 0; m < 2; m++) {
      s = m ? "-acquire" : ""; w = ws[i]
      a = best[w " weft" s]; b = best[w " asyncpg" s]; g = best[w " pgx" s]
      if (a == "") continue
      line = sprintf("%s%s ratio", w, s)
      if (b > 0) line = line sprintf(" weft/asyncpg=%.2f%s", a / b, a / b >= 1.5 ? " (target >= 1.5 ok)" : " (target >= 1.5 MISS)")
      if (g > 0) line = line sprintf(" weft/pgx=%.2f", a / g)
      if (cpu[w " weft" s] > 0 && cpu[w " asyncpg" s] > 0)
        line = line sprintf(" client-cpu asyncpg/weft=%.2f", cpu[w " asyncpg" s] / cpu[w " weft" s])
      if (cpu[w " weft" s] > 0 && cpu[w " pgx" s] > 0)
        line = line sprintf(" pgx/weft=%.2f", cpu[w " pgx" s] / cpu[w " weft" s])
      print line
    }
    for (i = 1; i <= 2; i++) {
      w = ws[i]; a = best[w " weft-loops2"]; g = best[w " pgx"]
      if (a > 0 && g > 0)
        print sprintf("%s on 2 loops ratio weft-loops2/pgx=%.2f%s weft-loops2/weft=%.2f", w, a / g,
          (a / g >= 1 ? " (target >= 1 ok)" : " (target >= 1 MISS)"), (best[w " weft"] > 0 ? a / best[w " weft"] : 0))
    }
    # P4, per sub-workload: rows/s and client CPU per row.
    split("types bytea arrays copy batch", subs, " ")
    for (i = 1; i <= 5; i++) {
      s = subs[i]; a = p4["weft " s]; b = p4["asyncpg " s]; g = p4["pgx " s]
      if (a == "") continue
      line = sprintf("P4 %s ratio", s)
      if (b > 0) line = line sprintf(" weft/asyncpg=%.2f%s", a / b, a >= b ? " (target >= 1 ok)" : " (target >= 1 MISS)")
      if (g > 0) line = line sprintf(" weft/pgx=%.2f", a / g)
      if (p4cpu["weft " s] > 0 && p4cpu["asyncpg " s] > 0)
        line = line sprintf(" client-cpu-per-row asyncpg/weft=%.2f", p4cpu["asyncpg " s] / p4cpu["weft " s])
      if (p4cpu["weft " s] > 0 && p4cpu["pgx " s] > 0)
        line = line sprintf(" pgx/weft=%.2f", p4cpu["pgx " s] / p4cpu["weft " s])
      print line
    }
    # What any client could get on this machine: the raw-protocol peer.
    i = best["P3 ideal"]; b = best["P3 asyncpg"]; l = best["P3 ideal-libpq"]
    if (i > 0 && b > 0) {
      note = i / b >= 1.5 ? "" : " (below 1.5: no client meets the target here)"
      lp = l > 0 ? sprintf(" ideal-libpq/ideal=%.2f (Describe + text parameters)", l / i) : ""
      printf("P3 ceiling ideal/asyncpg=%.2f%s weft/ideal=%.2f%s\n", i / b, note,
             best["P3 weft"] / i, lp)
    }
  }' "$RESULTS" | tee -a "$RESULTS.summary"
exit 0
