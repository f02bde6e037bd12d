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

# ---- summary ----
printf '\n== timings\n'
failed=0
for i in "${!names[@]}"; do
  printf '  %-20s %7s s  %-10s %s\n' "${names[$i]}" "${times[$i]}" "${states[$i]}" "${whats[$i]}"
  [ "${states[$i]}" = ok ] || failed=1
done
exit $failed
