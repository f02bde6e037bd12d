# Markdown tables, one per workload, from `WORKLOAD SYSTEM key=value` lines
# (e.g. BUILD/bench/peers/results.txt after `make bench`), for
# docs/benchmarks.md:  awk -f bench/tables.awk build/bench/peers/results.txt
# (the ratios of that run are in build/bench/peers/summary.txt)
{
  w = $1; s = $2
  if (!(w in nsys)) { order[++nw] = w; nsys[w] = 0 }
  if (!((w, s) in sidx)) { sidx[w, s] = ++nsys[w]; sys[w, nsys[w]] = s }
  for (i = 3; i <= NF; i++) {
    split($i, kv, "=")
    if (!((w, kv[1]) in kidx)) { kidx[w, kv[1]] = ++nkeys[w]; key[w, nkeys[w]] = kv[1] }
    # several rounds: keep the best (every figure here is lower-is-better)
    if (!((w, s, kv[1]) in val) || kv[2] + 0 < val[w, s, kv[1]] + 0) val[w, s, kv[1]] = kv[2]
  }
}
END {
  for (j = 1; j <= nw; j++) {
    w = order[j]
    printf "\n| %s | ", w
    for (k = 1; k <= nkeys[w]; k++) printf "%s | ", key[w, k]
    printf "\n|---|"
    for (k = 1; k <= nkeys[w]; k++) printf "---:|"
    printf "\n"
    for (i = 1; i <= nsys[w]; i++) {
      s = sys[w, i]
      printf "| %s | ", s
      for (k = 1; k <= nkeys[w]; k++) printf "%s | ", ((w, s, key[w, k]) in val) ? val[w, s, key[w, k]] : "-"
      printf "\n"
    }
  }
}
