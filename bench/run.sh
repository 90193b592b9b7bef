#!/bin/bash
# `make bench`: an optimised build, its own PostgreSQL cluster and stack (gateway + 2 shards),
# BENCH_TENANTS tenants (100) created through the API and seeded (bench/seed.sql: an admin, 10
# members, 100 quizzes of 10 questions, some attempts), then every scenario with wrk beside the
# ceilings measured in the same run. Prints a table; writes bench/results/<UTC timestamp>.json.
#   BENCH_QUICK=1   3 s per scenario (finishes within 2 minutes)
#   BENCH_SMOKE=1   1 s per scenario and 3 tenants: checks the scripts work (make test runs it)
#   BENCH_CONNS (32), BENCH_THREADS (2), BENCH_WORKER_ARGS (e.g. --no-set-role), BENCH_KEEP=1
#   BENCH_ONLY="sql sql_json quiz_get"   only these ceilings and scenarios (for experiments)
#   BENCH_CURVE=0   the gateway-worker link in plaintext (--insecure-no-curve), to measure CURVE
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
. bench/seed.sh
make --no-print-directory all >/dev/null
if [ "${BENCH_SMOKE:-}" = 1 ]; then DURATION=1; TENANTS=${BENCH_TENANTS:-3}
elif [ "${BENCH_QUICK:-}" = 1 ]; then DURATION=3; TENANTS=${BENCH_TENANTS:-100}
else DURATION=10; TENANTS=${BENCH_TENANTS:-100}; fi
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
log() { echo "$*" >&2; }
bench_stack bench
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
PSQL=(psql -X -q -At "$DSN")

log "seeding $TENANTS tenants..."
seed_start=$(date +%s.%N)
for i in $(seq "$TENANTS"); do seed_tenant "$i"; done > "$WORK/tenants"
log "seeded $(wc -l < "$WORK/tenants") tenants in $(echo "$(date +%s.%N) - $seed_start" | bc)s"
# Settle the freshly seeded tables now, or autovacuum (insert-triggered vacuum of every tenant's
# questions) runs during the measurements and shows up as second-long tails.
"${PSQL[@]}" -c "VACUUM (ANALYZE)"

# wanted NAME: whether BENCH_ONLY (if set) names this ceiling or scenario.
wanted() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }

# run NAME PATH [VAR=value...]: one wrk scenario; prints its JSON object.
run() {
  local name=$1 path=$2; shift 2
  wanted "$name" || return 0
  local out
  bench/cpu.py snap "$WORK/cpu_a"
  out=$(env BENCH_PATH="$path" BENCH_IDS="$WORK/tenants" "$@" \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p')
  bench/cpu.py snap "$WORK/cpu_b"
  out=$(bench/cpu.py per_request "$WORK/cpu_a" "$WORK/cpu_b" "$out")
  printf '%-15s %s\n' "$name" "$out" >&2
  echo "\"$name\": $out"
}

# sql_ceiling NAME: pgbench with the statements of $WORK/NAME_<tenant>.sql, same client count,
# all tenants. `sql`: what quiz_get sends; `sql_json`: what it sent when PostgreSQL built the
# JSON on every read; `sql_point`: a bare point lookup of a quiz's id, the least a read costs.
sql_ceiling() {
  local name=$1
  wanted "$name" || return 0
  local files=() f out
  for f in "$WORK"/"$name"_[0-9]*.sql; do files+=(-f "$f@1"); done
  bench/cpu.py snap "$WORK/cpu_a"
  out=$(pgbench -n -M extended -c "$CONNS" -j "$THREADS" -T "$DURATION" "${files[@]}" \
    --log --log-prefix="$WORK/pgb" "$DSN" 2>&1) || { log "$out"; return 1; }
  # p50/p99 from the per-transaction log (latency in µs is the third column).
  bench/cpu.py snap "$WORK/cpu_b"
  local tps p50 p99 n
  tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | tail -n 1)
  n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
  read -r p50 p99 < <(cat "$WORK"/pgb.* | awk '{print $3}' | sort -n |
    awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[int(NR*0.5)]/1000, a[int(NR*0.99)]/1000}')
  rm -f "$WORK"/pgb.*
  local json="{\"rps\": $tps, \"p50_ms\": $p50, \"p99_ms\": $p99, \"requests\": ${n:-0}}"
  json=$(bench/cpu.py per_request "$WORK/cpu_a" "$WORK/cpu_b" "$json")
  printf '%-15s %s\n' "$name" "$json" >&2
  echo "\"$name\": $json"
}

# Warm-up, not measured: every worker connection meets every tenant of its shard once (catalog
# and plan caches), as in a service that has been up for a while.
env BENCH_PATH='/api/quizzes/{quiz}' BENCH_IDS="$WORK/tenants" BENCH_USER=1 BENCH_MIX=1 \
  wrk -t"$THREADS" -c"$CONNS" -d"$((DURATION > 3 ? 5 : 2))s" -s bench/wrk.lua "$URL" >/dev/null 2>&1

ceilings=("$(run http /healthz)" "$(run transport /api/ping BENCH_HEADER_TENANT=1)" "$(sql_ceiling sql)" "$(sql_ceiling sql_json)"
          "$(sql_ceiling sql_point)")
results=()
# Reads first: the writes leave autovacuum work behind that would tail the reads after them.
results+=("$(run quiz_get '/api/quizzes/{quiz}' BENCH_USER=1)")
results+=("$(run quiz_list '/api/quizzes?limit=20' BENCH_USER=1)")
results+=("$(run users_me /api/users/me BENCH_USER=1)")
results+=("$(run tenant_stats '/api/tenants/{tenant}/stats' BENCH_AUTH="$AUTH")")
results+=("$(run login /api/auth/login BENCH_HEADER_TENANT=1 BENCH_METHOD=POST \
  BENCH_BODY='{"email":"{email}","password":"{password}"}')")
# wrk leaves up to BENCH_CONNS logins queued in the workers when it stops; on an idle stack they
# finish within a second, while under the next scenario's load they would be paced and hold
# gateway threads through it.
wanted login && sleep 1

# quiz_get while logins run at the same time (4 connections hashing passwords); the logins'
# own figures show what the workers' password pacing (--password-share) leaves them under load.
if wanted quiz_get_with_login; then
  env BENCH_PATH=/api/auth/login BENCH_IDS="$WORK/tenants" BENCH_HEADER_TENANT=1 BENCH_METHOD=POST \
    BENCH_BODY='{"email":"{email}","password":"{password}"}' \
    wrk -t1 -c4 -d"${DURATION}s" --timeout 10s --latency -s bench/wrk.lua "$URL" \
    > "$WORK/login_load" 2>&1 &
  login_load=$!
  results+=("$(run quiz_get_with_login '/api/quizzes/{quiz}' BENCH_USER=1)")
  wait $login_load || true
  out=$(sed -n 's/^BENCH //p' "$WORK/login_load")
  printf '%-15s %s\n' login_with_quiz_get "$out" >&2
  results+=("\"login_with_quiz_get\": $out")
fi

results+=("$(run quiz_create /api/quizzes BENCH_USER=1 BENCH_METHOD=POST BENCH_BODY='{"title":"Bench quiz"}')")
results+=("$(run attempt_submit '/api/quizzes/{quiz}/attempts' BENCH_USER=1 BENCH_METHOD=POST BENCH_BODY='{"answers":[]}')")
results+=("$(run mixed '/api/quizzes/{quiz}' BENCH_USER=1 BENCH_MIX=1)")
# Last, as it grows the quizzes the others read: a question added to a quiz by its author, the
# write that renders the quiz's stored documents again (the cost reads no longer pay).
results+=("$(run question_add '/api/quizzes/{quiz}/questions' BENCH_AUTHOR=1 BENCH_METHOD=POST \
  BENCH_BODY='{"kind":"single_choice","prompt":"Added","choices":["a","b"],"correct":1}')")

# join ITEM...: the non-empty items, comma-separated (BENCH_ONLY leaves some empty).
join() { local out="" i; for i in "$@"; do [ -n "$i" ] && out="${out:+$out, }$i"; done; echo "$out"; }
rss() { ps -o rss= -p "$1" | awk '{printf "%.1f", $1 / 1024}'; }
memory="{\"gateway_rss_mib\": $(rss "${pids[2]}"), \"worker_rss_mib\": $(rss "${pids[0]}"), \"worker1_rss_mib\": $(rss "${pids[1]}")}"
# Tenants per shard: the split of random tenant ids moves the figures (a 60/40 split cost
# quiz_get 3-8% of its throughput against 50/50 on the same stack), so each run records its own.
split=$("${PSQL[@]}" -c "SELECT string_agg((SELECT count(*) FROM quiz.tenants WHERE shard = k)::text, ', ' ORDER BY k) FROM generate_series(0, 1) k")
mkdir -p bench/results
json="bench/results/$(date -u +%Y%m%dT%H%M%SZ).json"
{
  echo "{\"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo " \"machine\": \"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)\","
  echo " \"settings\": {\"tenants\": $TENANTS, \"duration_s\": $DURATION, \"connections\": $CONNS, \"threads\": $THREADS, \"worker_args\": \"${BENCH_WORKER_ARGS:-}\", \"curve\": ${BENCH_CURVE:-1}, \"tenants_per_shard\": [$split]},"
  echo " \"ceilings\": {$(join "${ceilings[@]}")},"
  echo " \"scenarios\": {$(join "${results[@]}")},"
  echo " \"memory\": $memory}"
} > "$json"
python3 bench/report.py "$json"
log "written $json"
