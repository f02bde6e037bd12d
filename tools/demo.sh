#!/usr/bin/env bash
# `make demo`: runs the tutorial's programs (examples/) one by one, showing
# their output, then a table of what each showed and how long it took.
# Usage: tools/demo.sh BUILD_DIR
#
# To extend the demo, add a `step` line to the list below:
#     step NAME "what it shows" COMMAND [ARGS...]
# A step that needs setup (a server to start first, say) can be a shell
# function defined here and named as the COMMAND. A step fails when its
# command exits non-zero or runs past DEMO_TIMEOUT seconds (default 60).
set -uo pipefail
B=$(cd "${1:-build}" && pwd) || exit 1
EX=$B/examples

names=() whats=() times=() states=()

step() {
  local name=$1 what=$2 t0 t1 rc
  shift 2
  printf '\n== %s: %s\n' "$name" "$what"
  t0=$(date +%s.%N)
  timeout "${DEMO_TIMEOUT:-60}" "$@" 2>&1 | sed 's/^/   /'
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  names+=("$name") whats+=("$what")
  times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')")
  if [ "$rc" = 0 ]; then states+=(ok); else states+=("FAILED($rc)"); fi
}

# weft serve --delay 1 answers every request after 1 s; fetching one by one
# costs 1 s per URL, with weft fetch -c 100 a hundred wait at once. The
# one-by-one run is cut to 10 URLs (1,000 would take 1,000 s) and scaled.
fetch_demo() {
  local W=$B/tools/weft/weft tmp port pid t0 t1 t2 i
  tmp=$(mktemp -d)
  "$W" serve --host 127.0.0.1 --port 0 --delay 1 2>"$tmp/serve.log" & pid=$!
  for i in $(seq 50); do
    port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/serve.log")
    [ -n "$port" ] && break; sleep 0.1
  done
  for i in $(seq 1000); do echo "http://127.0.0.1:$port/item/$i"; done > "$tmp/urls"
  t0=$(date +%s.%N)
  head -10 "$tmp/urls" | "$W" fetch -c 1 -i - >/dev/null
  t1=$(date +%s.%N)
  "$W" fetch -c 100 -i "$tmp/urls" >/dev/null
  local rc=$?
  t2=$(date +%s.%N)
  kill "$pid"; wait "$pid" 2>/dev/null
  rm -rf "$tmp"
  awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
    printf "one by one:    10 URLs in %.2f s  -> 1,000 URLs would take %.0f s\n", b - a, (b - a) * 100
    printf "weft fetch -c 100: 1,000 URLs in %.2f s (%.0fx faster)\n", c - b, (b - a) * 100 / (c - b) }'
  return $rc
}

# ---- the steps ----
step say_hello "Hello, a 1 s sleep, World" "$EX/say_hello"
step downloads_sync "three 2 s downloads, one after another (about 6 s)" "$EX/downloads_sync"
step downloads_async "the same three as tasks with weft_gather (about 2 s)" "$EX/downloads_async"
step gather_results "gather returns results in spawn order, not finish order" "$EX/gather_results"
step semaphore_limit "1,000 tasks, at most 10 at once (ideal 1.00 s)" "$EX/semaphore_limit"
step blocking_vs_thread "a blocking call stalls the loop; weft_to_thread does not" \
  "$EX/blocking_vs_thread"
step guide "docs/guide.md's programs: tasks, gather, semaphore, HTTP fetch, testing" \
  bash -c 'for p in hello tasks gather semaphore fetch testing; do
             echo "-- guide_$p"; "$0/guide_$p" || exit 1; done' "$EX"
step pitfalls "debug mode catching the classic mistakes (docs/guide.md)" "$EX/guide_pitfalls"
step task_dump "every task, what it waits on, where it is suspended" "$EX/guide_dump"
# (timeout runs programs, not shell functions: hand it a bash with the function)
step weft_fetch "1,000 URLs from a 1 s-latency server: one by one vs weft fetch -c 100" \
  bash -c "B='$B'; $(declare -f fetch_demo); fetch_demo"

# ---- summary ----
printf '\n== timings\n'
failed=0
for i in "${!names[@]}"; do
  printf '  %-20s %7s s  %-10s %s\n' "${names[$i]}" "${times[$i]}" "${states[$i]}" "${whats[$i]}"
  [ "${states[$i]}" = ok ] || failed=1
done
exit $failed
