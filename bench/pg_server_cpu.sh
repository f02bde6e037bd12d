#!/usr/bin/env bash
# Runs a P1-P3 client (its arguments) and adds to each result line the
# PostgreSQL server's CPU per query over the run: every process of the
# throwaway cluster (backends that exit during the run are counted through
# the postmaster's children totals). On a machine where client and server
# share the cores, a driver that makes the server work less per query (fewer
# sleeps and wake-ups of its backends) gets more queries/s from the same
# server; this figure shows it. Needs WEFT_PG_SOCKDIR (tests/pg_cluster.sh).
set -u
pm=$(head -1 "$WEFT_PG_SOCKDIR/data/postmaster.pid" 2>/dev/null) || { exec "$@"; }
ticks() {
  local t=0 p a b
  for p in $pm $(pgrep -P "$pm"); do
    read -r a b < <(awk '{ print $14 + $15, $16 + $17 }' "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + a)); [ "$p" = "$pm" ] && t=$((t + b))
  done
  echo $t
}
t0=$(ticks)
out=$("$@"); rc=$?
t1=$(ticks)
hz=$(getconf CLK_TCK)
awk -v d=$((t1 - t0)) -v hz="$hz" '{
    q = 0; s = 0
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "queries_per_s") q = kv[2]; if (kv[1] == "seconds") s = kv[2] }
    if (q > 0 && s > 0) $0 = $0 sprintf(" server_cpu_us_per_query=%.1f", d / hz / (q * s) * 1e6)
    print }' <<<"$out"
exit $rc
