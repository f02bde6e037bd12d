#!/usr/bin/env bash
# Puts run_net.sh's results into docs/benchmarks.md: the tables of each
# section go between its `<!-- N1 results -->` and `<!-- /N1 results -->`
# markers (everything else in the file is left alone).
#   bench/net_docs.sh RESULTS_FILE "how it was run (date, command, load)"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
res=$1 note=$2 doc=$here/docs/benchmarks.md
for w in N1 N2 N3; do
  grep -q "^$w " "$res" || continue
  block=$(mktemp)
  { echo "$note"; echo; awk -v only=$w -f "$here/bench/net_tables.awk" "$res"; } >"$block"
  awk -v w=$w -v f="$block" '
    $0 == "<!-- " w " results -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
    $0 == "<!-- /" w " results -->" { skip = 0 }
    !skip' "$doc" >"$doc.tmp" && mv "$doc.tmp" "$doc"
  rm -f "$block"
done
