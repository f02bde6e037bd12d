# Shared by bench/run.sh and every bench/run_*.sh hook (source it).
# Selection, from the environment (make passes its command-line variables on):
#   ONLY=M1,M4           workloads to run (default: all); hooks match their own
#                        names (N1, N2, P1, ...) against it the same way
#   SYSTEMS=weft,go      systems to run (default: all)
#   SKIP=asyncio,uvloop  systems not to run (e.g. the slow ones)
#   BENCH_QUICK=1        small sizes: a smoke run of the whole harness
#   BENCH_TIMEOUT=600    seconds one program may take before it is killed
# Every accepted result line is appended to $BENCH_RESULTS, so a summary can
# compute ratios from one run.

# in_list ITEM LIST: LIST is comma-separated; case-insensitive.
in_list() {
  local item=${1,,} list=",${2,,},"
  [[ $list == *",$item,"* ]]
}

# want_workload W: 0 if W was selected by ONLY (or ONLY is empty).
want_workload() { [ -z "${ONLY:-}" ] || in_list "$1" "$ONLY"; }

# want_system S: 0 if S was selected by SYSTEMS and not excluded by SKIP.
want_system() {
  { [ -z "${SYSTEMS:-}" ] || in_list "$1" "$SYSTEMS"; } && ! in_list "$1" "${SKIP:-}"
}

# bench_run WORKLOAD SYSTEM CMD...: runs CMD if both are wanted, under a
# timeout; prints its `WORKLOAD SYSTEM key=value` lines and records them. A
# failure prints one `WORKLOAD SYSTEM FAILED ...` line and never stops the run.
bench_run() {
  local w=$1 s=$2 out rc err
  shift 2
  want_workload "$w" && want_system "$s" || return 0
  err=$(mktemp)
  out=$(timeout "${BENCH_TIMEOUT:-600}" "$@" 2>"$err")
  rc=$?
  printf '%s\n' "$out" | grep -E "^$w [^ ]+ " | tee -a "${BENCH_RESULTS:-/dev/null}"
  if [ $rc -ne 0 ]; then
    [ $rc -eq 124 ] && echo "$w $s FAILED timeout after ${BENCH_TIMEOUT:-600} s" \
      || echo "$w $s FAILED exit=$rc: $(tr '\n' ' ' <"$err" | cut -c1-300)"
  fi
  rm -f "$err"
  return 0
}
