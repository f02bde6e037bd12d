#!/usr/bin/env bash
# Smoke test for P1-P4 and the pg_parallel example: each on a tiny run, so a
# change that breaks them shows in `make test`. Uses WEFT_PG_DSN, or starts a
# throwaway cluster (tests/pg_cluster.sh) when it is unset. Nothing is timed.
#   bench/smoke_pg.sh BENCH_PG_BENCH [PG_PARALLEL [BENCH_PG_P4]]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${WEFT_PG_DSN:-}" ]; then
  eval "$("$here/tests/pg_cluster.sh" start)"
  trap 'eval "$WEFT_PG_STOP"' EXIT
fi
for w in P1 P2 P3; do
  "$1" $w 0.3 2 | grep -q "^$w weft queries_per_s=" || { echo "$w failed" >&2; exit 1; }
  "$1" $w 0.3 2 acquire | grep -q "^$w weft-acquire " || { echo "$w acquire failed" >&2; exit 1; }
done
if [ -n "${3:-}" ]; then
  out=$("$3" 0.2 2)
  for s in types bytea arrays copy batch; do
    grep -q "^P4 weft sub=$s rows_per_s=" <<<"$out" || { echo "P4 $s failed" >&2; exit 1; }
  done
fi
if [ -n "${2:-}" ]; then
  "$2" 20 | grep -q "faster" || { echo "pg_parallel failed" >&2; exit 1; }
fi
echo ok
