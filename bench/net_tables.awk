# Markdown tables from run_net.sh's results (BUILD/bench/net_results.txt):
# one row per system, best of the rounds (highest rate, lowest CPU, lowest
# time), then the ratio lines as they were printed. -v only=N2 prints one
# section.
#   awk [-v only=N1] -f bench/net_tables.awk build/bench/net_results.txt
function kv(s, k,   m) { return match(s, " " k "=[^ ]+") ? substr(s, RSTART + length(k) + 2, RLENGTH - length(k) - 2) : "" }
function hi(a, b) { return a == "" || b + 0 > a + 0 ? b : a }
function lo(a, b) { return a == "" || b + 0 < a + 0 ? b : a }
function seen(key) { if (!(key in order)) { order[key] = ++n; keys[n] = key } }
$1 == "N1" && / rtt_per_s=/ {
  key = "N1|" $2; seen(key)
  c = kv($0, "c") "/" kv($0, "size"); cases[c] = 1
  r[key, c] = hi(r[key, c], kv($0, "rtt_per_s")); u[key, c] = lo(u[key, c], kv($0, "cpu_us_per_rt"))
}
$1 == "N2" && / req_per_s=/ {
  key = "N2|" $2; seen(key)
  r[key] = hi(r[key], kv($0, "req_per_s")); u[key] = lo(u[key], kv($0, "cpu_us_per_req"))
  p[key] = lo(p[key], kv($0, "p99_ms"))
}
$1 == "N3" && / wall_s=/ {
  key = "N3|" $2; seen(key)
  r[key] = lo(r[key], kv($0, "wall_s")); u[key] = lo(u[key], kv($0, "cpu_s"))
}
/ ratio / { ratios[$1, ++nr[$1]] = $0 }
function show_ratios(w,   i) {
  if (!nr[w]) return
  print "\nRatios (best of the rounds):\n```"
  for (i = 1; i <= nr[w]; i++) print ratios[w, i]
  print "```"
}
END {
  if (only == "" || only == "N1") n1()
  if (only == "" || only == "N2") n2()
  if (only == "" || only == "N3") n3()
}
function n1(   i, j, row, cl) {
  split("100/1024 100/100 1/1024 1/100", cl, " ")
  print "| N1 server | " cl[1] " rt/s | us/rt | " cl[2] " rt/s | us/rt | " cl[3] " rt/s | us/rt | " cl[4] " rt/s | us/rt |"
  print "|---|---|---|---|---|---|---|---|---|"
  for (i = 1; i <= n; i++) if (keys[i] ~ /^N1/) {
    row = "| " substr(keys[i], 4)
    for (j = 1; j <= 4; j++) row = row " | " r[keys[i], cl[j]] " | " u[keys[i], cl[j]]
    print row " |"
  }
  print "\n(C connections / message bytes; us/rt = server CPU microseconds per round trip)"
  show_ratios("N1")
}
function n2(   i) {
  print "| N2 server | req/s | p99 ms | server CPU us/req |\n|---|---|---|---|"
  for (i = 1; i <= n; i++) if (keys[i] ~ /^N2/) printf "| %s | %.0f | %s | %s |\n", substr(keys[i], 4), r[keys[i]], p[keys[i]], u[keys[i]]
  show_ratios("N2")
}
function n3(   i) {
  print "| N3 client | wall s | client CPU s |\n|---|---|---|"
  for (i = 1; i <= n; i++) if (keys[i] ~ /^N3/) printf "| %s | %s | %s |\n", substr(keys[i], 4), r[keys[i]], u[keys[i]]
  show_ratios("N3")
}
