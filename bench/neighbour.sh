#!/bin/bash
# `make bench-neighbour`: a noisy neighbour on one shard, with the service's defaults (a rate
# of 1000/s per tenant at the gateway, its 429s held 250 ms; --tenant-share 50 in the worker).
# Tenant B reads quizzes at its own pace (BENCH_B_CONNS connections, 2, each pausing
# BENCH_B_PAUSE_MS, 2, between requests) for BENCH_SECONDS (10): alone, then while tenant A, on
# the same shard, floods it with 64 connections. Each of BENCH_ROUNDS (3) rounds prints B's
# throughput and p99 both ways; then the medians of the ratios (goal: at least 70% of solo
# throughput, p99 at most 2x). BENCH_GATEWAY_ARGS / BENCH_WORKER_ARGS change the defaults, e.g.
# BENCH_GATEWAY_ARGS="--tenant-rate 0" measures the worker's share alone.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
. bench/seed.sh
make --no-print-directory all >/dev/null
SECS=${BENCH_SECONDS:-10} ROUNDS=${BENCH_ROUNDS:-3}
B_CONNS=${BENCH_B_CONNS:-2} B_PAUSE=${BENCH_B_PAUSE_MS:-2}
# The stack's rate (lifted for the other benchmarks) back at the default, and a thread for every
# connection (civetweb holds one per connection).
BENCH_GATEWAY_ARGS="--tenant-rate 1000 --threads 128 ${BENCH_GATEWAY_ARGS:-}"
bench_stack neighbour
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
PSQL=(psql -X -q -At "$DSN")
# Two tenants on one shard: tenants are placed by hash, so make them until two share one.
declare -A first
for i in $(seq 20); do
  line=$(seed_tenant "$i")
  shard=$(curl -sf "$URL/api/tenants/$(echo "$line" | cut -f1)" -H "Authorization: $AUTH" |
    grep -o '"shard" *: *[0-9]*' | grep -o '[0-9]*$')
  if [ -n "${first[$shard]:-}" ]; then
    echo "${first[$shard]}" > "$WORK/a"; echo "$line" > "$WORK/b"; break
  fi
  first[$shard]=$line
done
[ -s "$WORK/b" ] || { echo "no two tenants on one shard" >&2; exit 1; }
if [ -n "${BENCH_A_RATE:-}" ]; then # A's own rate in the registry (PUT /api/tenants/{id}/rate)
  curl -sf -X PUT "$URL/api/tenants/$(cut -f1 "$WORK/a")/rate" -H "Authorization: $AUTH" \
    -H 'Content-Type: application/json' -d "{\"requests_per_second\": $BENCH_A_RATE}" >/dev/null
  sleep 6 # the workers read rates again every 5 s
fi
b_run() { # -> BENCH JSON of B's reads
  BENCH_IDS=$WORK/b BENCH_USER=1 BENCH_PATH='/api/quizzes/{quiz}' BENCH_PAUSE_MS=$B_PAUSE \
    wrk -t1 -c"$B_CONNS" -d"${SECS}s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p'
}
ratios=() p99s=()
for r in $(seq "$ROUNDS"); do
  solo=$(b_run)
  BENCH_IDS=$WORK/a BENCH_USER=1 BENCH_PATH='/api/quizzes/{quiz}' \
    wrk -t2 -c64 -d"$((SECS + 2))s" -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p' > "$WORK/flood" &
  flood_pid=$!
  sleep 1
  beside=$(b_run)
  wait "$flood_pid"
  read -r ratio p99x < <(python3 - "$solo" "$beside" "$(cat "$WORK/flood")" <<'PY'
import json, sys
s, b, a = (json.loads(x) for x in sys.argv[1:4])
print(f"{b['rps'] / s['rps']:.3f} {b['p99_ms'] / s['p99_ms']:.2f}")
print(f"round: B solo {s['rps']:.0f} req/s p99 {s['p99_ms']:.2f} ms (errors {s['errors']}); beside A "
      f"({a['rps']:.0f} answers/s, {a['errors']} of them refused) {b['rps']:.0f} req/s p99 "
      f"{b['p99_ms']:.2f} ms (errors {b['errors']}): {100 * b['rps'] / s['rps']:.0f}% of solo, "
      f"p99 {b['p99_ms'] / s['p99_ms']:.1f}x", file=sys.stderr)
PY
)
  ratios+=("$ratio") p99s+=("$p99x")
done
python3 - "${ratios[*]}" "${p99s[*]}" <<'PY'
import statistics, sys
r = [float(x) for x in sys.argv[1].split()]
p = [float(x) for x in sys.argv[2].split()]
print(f"neighbour: median of {len(r)} rounds: B keeps {100 * statistics.median(r):.0f}% of its solo "
      f"throughput (goal >= 70%), p99 {statistics.median(p):.1f}x solo (goal <= 2x)")
PY
