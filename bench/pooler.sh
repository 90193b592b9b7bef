#!/bin/bash
# `make bench-pooler`: quiz_get with the workers on PostgreSQL directly and through PgBouncer in
# transaction mode (tests/pooler/pgbouncer.sh: a pool of 3 server connections per login, TLS
# required of the workers), in the same run on one stack: BENCH_ROUNDS (3) rounds, each
# restarting the workers on one and then the other and reading BENCH_TENANTS' (10) quizzes with
# wrk (-c16) for BENCH_SECONDS (10). Prints every run and the medians, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
. bench/seed.sh
make --no-print-directory all >/dev/null
SECS=${BENCH_SECONDS:-10} ROUNDS=${BENCH_ROUNDS:-3} TENANTS=${BENCH_TENANTS:-10}
bench_stack pooler
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
PSQL=(psql -X -q -At "$DSN")
for i in $(seq "$TENANTS"); do seed_tenant "$i"; done > "$WORK/tenants"
"${PSQL[@]}" -c "VACUUM (ANALYZE)"
POOLED=$(sh tests/pooler/pgbouncer.sh start "$WORK/bouncer" "$DSN" "$(free_port 54100 800)")
stop_bouncer() { sh tests/pooler/pgbouncer.sh stop "$WORK/bouncer"; bench_stack_cleanup; }
trap stop_bouncer EXIT
quiz_get() { # -> BENCH JSON
  BENCH_IDS=$WORK/tenants BENCH_USER=1 BENCH_PATH='/api/quizzes/{quiz}' \
    wrk -t2 -c16 -d"${SECS}s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p'
}
ready() { # until a read of every tenant (so of both shards) through the gateway is answered
  local line ok
  for _ in $(seq 100); do
    ok=1
    while IFS= read -r line; do
      curl -sf "$URL/api/quizzes/$(echo "$line" | cut -f5 | cut -d, -f1)" -H "X-Tenant-ID: $(echo "$line" | cut -f1)" \
        -H "Authorization: Bearer $(echo "$line" | cut -f2)" >/dev/null || { ok=0; break; }
    done < "$WORK/tenants"
    [ "$ok" = 1 ] && return 0
    sleep 0.1
  done
  echo "the workers did not come back" >&2; return 1
}
: > "$WORK/runs"
for r in $(seq "$ROUNDS"); do
  for mode in direct pooled; do
    if [ "$mode" = direct ]; then bench_workers "$DSN"; else bench_workers "$POOLED"; fi
    ready
    out=$(quiz_get)
    echo "$mode $out" | tee -a "$WORK/runs" >&2
  done
done
python3 - "$WORK/runs" <<'PY'
import json, statistics, sys
runs = {"direct": [], "pooled": []}
for line in open(sys.argv[1]):
    mode, js = line.split(" ", 1)
    runs[mode].append(json.loads(js))
med = {m: (statistics.median(r["rps"] for r in v), statistics.median(r["p99_ms"] for r in v),
           sum(r["errors"] for r in v)) for m, v in runs.items()}
for m, (rps, p99, err) in med.items():
    print(f"pooler: quiz_get {m}: median {rps:.0f} req/s, p99 {p99:.2f} ms, {err} errors")
print(f"pooler: through PgBouncer {100 * med['pooled'][0] / med['direct'][0]:.0f}% of direct, "
      f"p99 {med['pooled'][1] / med['direct'][1]:.2f}x")
PY
