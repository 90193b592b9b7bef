#!/bin/bash
# `make soak`: mixed load for SOAK_SECONDS (1800) on a stack of its own (release build, the
# service's default per-tenant rate lifted as in the other benchmarks): SOAK_TENANTS (10)
# tenants' members read quizzes and submit attempts (wrk, BENCH_MIX: 9 reads to 1 attempt, 16
# connections), their authors create quizzes (4 connections, paced). Every SOAK_SAMPLE seconds
# (30) it prints the resident memory (VmRSS) of the gateway and of each worker; at the end the
# curve goes to bench/results/soak-<time>.json and the verdict compares the last sample with the
# one after warm-up (a quarter of the run): flat is growth under 10%. The load runs in rounds of
# SOAK_ROUND seconds (300), everyone logging in again between them: access tokens live 15 min.
# Warm-up first: civetweb hands each new connection to the next of its --threads threads in turn,
# and a thread's first request costs it about 18 KiB for good (the pages of its stack and of its
# request buffer it touches), so the gateway grows with the threads it has used, up to all of them (29.5 MiB at 512);
# the soak opens three connections per thread before its curve starts, or that growth would
# spread over the run (the load opens a few dozen connections every round).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
. bench/seed.sh
make --no-print-directory all >/dev/null
SECS=${SOAK_SECONDS:-1800} EVERY=${SOAK_SAMPLE:-30} TENANTS=${SOAK_TENANTS:-10}
ROUND=${SOAK_ROUND:-300}
bench_stack soak
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
PSQL=(psql -X -q -At "$DSN")
for i in $(seq "$TENANTS"); do seed_tenant "$i"; done > "$WORK/tenants"
threads=$(ls "/proc/${pids[2]}/task" | wc -l)
seq $((3 * threads)) | xargs -P 4 -I{} curl -s -o /dev/null "$URL/api/ping" -H "Authorization: $AUTH"
echo "soak: the gateway's $threads threads warmed up: $(awk '/^VmRSS/ {print $2}' "/proc/${pids[2]}/status") kB"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; } # kB
relogin() { # fresh member and author tokens in the tenants file
  local id member email pw quizzes author i=0
  while IFS=$'\t' read -r id member email pw quizzes author; do
    i=$((i + 1))
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$(login "$id" "$email" "$pw")" "$email" "$pw" \
      "$quizzes" "$(login "$id" "admin$i@bench.example" "$pw")"
  done < "$WORK/tenants" > "$WORK/tenants.new"
  mv "$WORK/tenants.new" "$WORK/tenants"
}
# sampler: the curve, every EVERY seconds until the run ends.
echo "t_s gateway_kB worker0_kB worker1_kB" | tee "$WORK/rss"
start=$(date +%s)
( while [ ! -e "$WORK/done" ]; do
    echo "$(( $(date +%s) - start )) $(rss "${pids[2]}") $(rss "${pids[0]}") $(rss "${pids[1]}")" | tee -a "$WORK/rss"
    for _ in $(seq "$EVERY"); do [ -e "$WORK/done" ] && break; sleep 1; done
  done ) &
sampler=$!
: > "$WORK/reads"; : > "$WORK/writes"
while left=$(( SECS - ($(date +%s) - start) )); [ "$left" -gt 0 ]; do
  [ "$left" -gt "$ROUND" ] && left=$ROUND
  relogin
  BENCH_IDS=$WORK/tenants BENCH_USER=1 BENCH_MIX=1 BENCH_PATH='/api/quizzes/{quiz}' \
    wrk -t2 -c16 -d"${left}s" --timeout 10s -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p' >> "$WORK/reads" &
  reads=$!
  BENCH_IDS=$WORK/tenants BENCH_AUTHOR=1 BENCH_METHOD=POST BENCH_PATH=/api/quizzes \
    BENCH_BODY='{"title":"soak"}' BENCH_PAUSE_MS=20 \
    wrk -t1 -c4 -d"${left}s" --timeout 10s -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p' >> "$WORK/writes" &
  writes=$!
  wait "$reads" "$writes"
done
touch "$WORK/done"
wait "$sampler"
mkdir -p bench/results
out=bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ).json
python3 - "$WORK/rss" "$WORK/reads" "$WORK/writes" "$out" <<'PY'
import json, sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
def total(path):  # the rounds summed: requests and errors, throughput over the whole run
    runs = [json.loads(l) for l in open(path) if l.strip()]
    secs = sum(r["requests"] / r["rps"] for r in runs if r["rps"] > 0)
    req, err = sum(r["requests"] for r in runs), sum(r["errors"] for r in runs)
    return {"rounds": len(runs), "requests": req, "errors": err, "rps": req / secs if secs else 0}
reads, writes = total(sys.argv[2]), total(sys.argv[3])
names = ["gateway", "worker0", "worker1"]
warm = rows[len(rows) // 4] if len(rows) >= 4 else rows[0]
last = rows[-1]
growth = {n: (last[i + 1] - warm[i + 1]) / warm[i + 1] if warm[i + 1] else 0 for i, n in enumerate(names)}
json.dump({"curve_kB": rows, "reads": reads, "writes": writes, "growth_after_warmup": growth},
          open(sys.argv[4], "w"), indent=1)
print(f"soak: {rows[-1][0]} s; reads+attempts {reads['rps']:.0f} req/s ({reads['errors']} errors), "
      f"quiz creations {writes['rps']:.0f} req/s ({writes['errors']} errors)")
for n in names:
    verdict = "flat" if growth[n] < 0.10 else "GROWING"
    print(f"soak: {n}: {warm[names.index(n) + 1] / 1024:.1f} MiB after warm-up (t={warm[0]} s), "
          f"{last[names.index(n) + 1] / 1024:.1f} MiB at the end: {100 * growth[n]:+.1f}% {verdict}")
print(f"written {sys.argv[4]}")
PY
