#!/usr/bin/env bash
# Runs the suite in build dir $1: starts the services the tests need (a
# throwaway PostgreSQL cluster), runs ctest, stops them.
set -euo pipefail
BUILD=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
cleanup() { [ -n "${WEFT_PG_STOP:-}" ] && eval "$WEFT_PG_STOP" || true; }
trap cleanup EXIT
if [ -x "$here/tests/pg_cluster.sh" ]; then
  eval "$("$here/tests/pg_cluster.sh" start)"
fi
cd "$BUILD"
ctest --output-on-failure -j "${WEFT_TEST_JOBS:-2}"
