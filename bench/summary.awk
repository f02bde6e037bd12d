# Ratios and target checks for M1-M4 from `WORKLOAD SYSTEM key=value` lines
# (bench/run.sh feeds it the lines of one run). -v m3_tasks=N for RSS/task.
function has(w, s, k) { return ((w SUBSEP s SUBSEP k) in v) }
function get(w, s, k) { return v[w, s, k] }
# ratio of a over b for key k, printed as "label=x.xx", or nothing if missing
function ratio(w, a, b, k, label) {
  if (!has(w, a, k) || !has(w, b, k) || get(w, b, k) == 0) return ""
  return sprintf(" %s=%.2f", label, get(w, a, k) / get(w, b, k))
}
function check(name, value, op, limit) {
  ok = (op == "<=") ? value <= limit : value >= limit
  return sprintf("  %s=%.2f (target %s %s) %s\n", name, value, op, limit, ok ? "ok" : "MISS")
}
{
  for (i = 3; i <= NF; i++) {
    split($i, kv, "=")
    # several rounds: keep the best (every figure here is lower-is-better)
    if (kv[2] != "" && (!(($1, $2, kv[1]) in v) || kv[2] + 0 < v[$1, $2, kv[1]]))
      v[$1, $2, kv[1]] = kv[2] + 0
  }
  seen[$1] = 1
}
END {
  if ("M1" in seen) {
    k = "ns_per_switch"; line = "M1 ratio"
    line = line ratio("M1", "weft", "boost", k, "weft/boost")
    n = split("go asyncio uvloop node node-immediate", peers, " ")
    for (i = 1; i <= n; i++) line = line ratio("M1", peers[i], "weft", k, peers[i] "/weft")
    print line
    if (has("M1", "weft", k) && has("M1", "boost", k))
      printf "%s", check("weft/boost", get("M1", "weft", k) / get("M1", "boost", k), "<=", 1.5)
    if (has("M1", "weft", k) && has("M1", "go", k))
      printf "%s", check("go/weft", get("M1", "go", k) / get("M1", "weft", k), ">=", 8)
  }
  if ("M2" in seen) {
    # "weft" is the group program (weft_group_spawn_into: Go's go + WaitGroup
    # shape, weft's way to run this workload), which the targets check;
    # "weft-gather" (a handle per task + weft_gather, asyncio's create_task +
    # gather shape) is shown beside it, without a target.
    k = "ns_per_task"; line = "M2 ratio"
    n = split("go go-1p asyncio uvloop node", peers, " ")
    for (i = 1; i <= n; i++) line = line ratio("M2", peers[i], "weft", k, peers[i] "/weft")
    line = line ratio("M2", "asyncio", "weft-gather", k, "asyncio/weft-gather")
    line = line ratio("M2", "uvloop", "weft-gather", k, "uvloop/weft-gather")
    line = line ratio("M2", "weft", "go", "peak_rss_mb", "rss_weft/go")
    line = line ratio("M2", "weft-gather", "go", "peak_rss_mb", "rss_weft-gather/go")
    print line
    if (has("M2", "weft", k) && has("M2", "go", k))
      printf "%s", check("go/weft", get("M2", "go", k) / get("M2", "weft", k), ">=", 5)
    if (has("M2", "weft", k) && has("M2", "asyncio", k))
      printf "%s", check("asyncio/weft", get("M2", "asyncio", k) / get("M2", "weft", k), ">=", 50)
    if (has("M2", "weft", "peak_rss_mb") && has("M2", "go", "peak_rss_mb"))
      printf "%s", check("rss_weft/go", get("M2", "weft", "peak_rss_mb") / get("M2", "go", "peak_rss_mb"), "<=", 1)
  }
  if ("M3" in seen) {
    k = "wall_s"; line = "M3 ratio"
    line = line ratio("M3", "weft", "go", k, "wall_weft/go")
    n = split("go-1p node asyncio uvloop", peers, " ")
    for (i = 1; i <= n; i++) line = line ratio("M3", peers[i], "weft", k, "wall_" peers[i] "/weft")
    line = line ratio("M3", "weft", "go", "peak_rss_mb", "rss_weft/go")
    if (has("M3", "weft", "peak_rss_mb") && m3_tasks > 0)
      line = line sprintf(" weft_kib_per_task=%.2f", get("M3", "weft", "peak_rss_mb") * 1024 / m3_tasks)
    print line
    # The floor the probe's page cost sets: every sleeper needs one fresh
    # page (its stack's top), so N x cost / cores on top of the sleep itself;
    # faulted one at a time (fresh_page_us) or populated in bulk
    # (populate_page_us, what weft does).
    if (has("PROBE", "machine", "fresh_page_us") && m3_tasks > 0) {
      cores = has("PROBE", "machine", "cores") ? get("PROBE", "machine", "cores") : 1
      fl = m3_sleep + m3_tasks * get("PROBE", "machine", "fresh_page_us") * 1e-6 / cores
      line = sprintf("M3 floor fault_floor_s=%.2f", fl)
      if (has("PROBE", "machine", "populate_page_us"))
        line = line sprintf(" populate_floor_s=%.2f", m3_sleep + m3_tasks * get("PROBE", "machine", "populate_page_us") * 1e-6 / cores)
      print line
      if (has("M3", "weft", k)) printf "%s", check("wall_weft/fault_floor", get("M3", "weft", k) / fl, "<=", 1.2)
    }
    if (has("M3", "weft", k) && has("M3", "go", k))
      printf "%s", check("wall_weft/go", get("M3", "weft", k) / get("M3", "go", k), "<=", 1)
    if (has("M3", "weft", "peak_rss_mb") && m3_tasks > 0)
      printf "%s", check("weft_pages_per_task", get("M3", "weft", "peak_rss_mb") * 256 / m3_tasks, "<=", 1.1)
  }
  if ("M4" in seen) {
    k = "overhead_pct"; line = "M4 overhead_pct"
    n = split("weft weft-warm libuv go go-1p asyncio uvloop node", sys, " ")
    best = ""
    for (i = 1; i <= n; i++) {
      if (!has("M4", sys[i], k)) continue
      line = line sprintf(" %s=%.1f", sys[i], get("M4", sys[i], k))
      # libuv is the no-task floor, not a peer to beat; go-1p is informative
      if (i > 3 && sys[i] != "go-1p" && (best == "" || get("M4", sys[i], k) < get("M4", best, k))) best = sys[i]
    }
    print line
    if (has("M4", "weft", k) && best != "")
      printf "  weft=%.1f%% vs best peer %s=%.1f%% (target below every peer) %s\n",
        get("M4", "weft", k), best, get("M4", best, k),
        get("M4", "weft", k) < get("M4", best, k) ? "ok" : "MISS"
    if (has("M4", "weft-warm", k))
      printf "%s", check("weft-warm_overhead_pct", get("M4", "weft-warm", k), "<=", 3)
    # Pinned to one CPU, both (taskset -c 0; Go with GOMAXPROCS=1)
    if (has("M4", "weft-pinned", k) && has("M4", "go-pinned", k))
      printf "  pinned: weft=%.1f%% (warm %.1f%%) vs go=%.1f%% (target below) %s\n",
        get("M4", "weft-pinned", k), get("M4", "weft-pinned-warm", k), get("M4", "go-pinned", k),
        get("M4", "weft-pinned", k) < get("M4", "go-pinned", k) ? "ok" : "MISS"
  }
}
