#!/bin/bash
# `make bench-curve`: what CurveZMQ on the gateway-worker link costs. Alternates runs of the
# `http`, `transport` and `quiz_get` scenarios with CURVE on and off (BENCH_CURVE_ROUNDS pairs,
# 3), each on its own seeded stack of BENCH_TENANTS (20) tenants, and prints the medians of each
# mode and their ratio. Other bench/run.sh settings (BENCH_QUICK, BENCH_CONNS, ...) apply.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${BENCH_CURVE_ROUNDS:-3}
files=()
for ((i = 1; i <= rounds; i++)); do
  for mode in 1 0; do
    echo "bench-curve: round $i of $rounds, CURVE $([ $mode = 1 ] && echo on || echo off)" >&2
    BENCH_CURVE=$mode BENCH_ONLY="http transport quiz_get" BENCH_TENANTS=${BENCH_TENANTS:-20} \
      bash bench/run.sh >/dev/null
    files+=("$(ls -t bench/results/*.json | head -n 1)")
  done
done
python3 - "${files[@]}" <<'PY'
import json, statistics, sys
runs = [json.load(open(f)) for f in sys.argv[1:]]
def med(curve, scenario, key):
    vals = [({**r["ceilings"], **r["scenarios"]})[scenario][key] for r in runs
            if r["settings"]["curve"] == curve]
    return statistics.median(vals)
print(f"{'scenario':<12} {'CURVE req/s':>12} {'plain req/s':>12} {'ratio':>7} "
      f"{'CURVE p99':>10} {'plain p99':>10}")
for s in ("http", "transport", "quiz_get"):
    on, off = med(1, s, "rps"), med(0, s, "rps")
    print(f"{s:<12} {on:>12.0f} {off:>12.0f} {on / off:>7.1%} "
          f"{med(1, s, 'p99_ms'):>9.2f}ms {med(0, s, 'p99_ms'):>9.2f}ms")
print(f"medians of {len(runs) // 2} runs per mode; transport/http with CURVE "
      f"{med(1, 'transport', 'rps') / med(1, 'http', 'rps'):.0%}, without "
      f"{med(0, 'transport', 'rps') / med(0, 'http', 'rps'):.0%}")
PY
