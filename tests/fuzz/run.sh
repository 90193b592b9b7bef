#!/bin/sh
# Runs libFuzzer targets (build-fuzz/fuzz_*, built by `make fuzz` or `make test`) for SECONDS
# each, from the seed corpus tests/fuzz/corpus/<target> into a working corpus under
# build-fuzz/corpus/<target> (kept between runs, never committed). A crash, leak, timeout (5 s
# for one input) or UBSan report fails the target; its input is left in build-fuzz/artifacts/.
# Prints one line per target: executions, executions per second, coverage, corpus size.
# Usage: tests/fuzz/run.sh SECONDS BIN...
set -u
cd "$(dirname "$0")/../.."
seconds=$1; shift
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
mkdir -p build-fuzz/artifacts build-fuzz/logs
for bin in "$@"; do
  name=$(basename "$bin")
  work=build-fuzz/corpus/$name
  mkdir -p "$work"
  log=build-fuzz/logs/$name.log
  if "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix=build-fuzz/artifacts/"$name"- "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    echo "[PASS] fuzz: $name: ${execs:-0} inputs in ${seconds}s (${rate:-0}/s), coverage ${cov:-0}, corpus $(ls "$work" | wc -l)"
  else
    tail -n 40 "$log"
    echo "[FAIL] fuzz: $name (log: $log)"
    status=1
  fi
done
exit $status
