#!/bin/bash
# `make bench`: an optimised build, its own PostgreSQL cluster and stack (gateway + 2 shards),
# BENCH_TENANTS tenants (default 100) created through the API, then wrk scenarios beside their
# ceilings in the same run. Prints a table and writes bench/results/<UTC timestamp>.json.
#   BENCH_QUICK=1   3 s per scenario instead of 10
#   BENCH_CONNS     wrk connections (32), BENCH_THREADS wrk threads (2)
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory all >/dev/null
TENANTS=${BENCH_TENANTS:-100}
DURATION=$([ "${BENCH_QUICK:-}" = 1 ] && echo 3 || echo 10)
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
WORK=$(mktemp -d /tmp/quiz-bench.XXXXXX)
chmod 755 "$WORK"
PG_PORT=$((56500 + RANDOM % 400))
HTTP_PORT=$((18000 + RANDOM % 1000))
ZMQ=$((19000 + RANDOM % 1000))
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  sh deploy/dev/pg.sh stop "$WORK/pg"
  [ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

export QUIZ_DATABASE_URL=$(sh deploy/dev/pg.sh start "$WORK/pg" "$PG_PORT" --nosync)
export QUIZ_PLATFORM_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
export QUIZ_KEYS_DIR=$WORK/keys
mkdir -p "$QUIZ_KEYS_DIR"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$QUIZ_KEYS_DIR/bench.key"
build/quiz-worker --migrate --shards 2 2>/dev/null
for k in 0 1; do
  # BENCH_WORKER_ARGS, e.g. --no-set-role, measures the cost of a worker option.
  build/quiz-worker --shard $k --shards 2 --endpoint tcp://127.0.0.1:$((ZMQ + k)) ${BENCH_WORKER_ARGS:-} \
    2>>"$WORK/worker$k.log" &
  pids+=($!)
done
# The benchmark logs in from one address far more than a person would: lift the per-address limit.
build/quiz-gateway --listen 127.0.0.1:$HTTP_PORT --login-rate 0 --shard tcp://127.0.0.1:$ZMQ \
  --shard tcp://127.0.0.1:$((ZMQ + 1)) 2>>"$WORK/gateway.log" &
pids+=($!)
URL=http://127.0.0.1:$HTTP_PORT
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done

# field NAME JSON: a string member of a flat JSON object.
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }

# Seeds one tenant: create, first login, change the temporary password, log in again.
# Prints "tenant<TAB>access token<TAB>email<TAB>password".
seed_tenant() {
  local i=$1 created id temp token pw="bench-password-$1"
  created=$(curl -sf -X POST "$URL/api/tenants/" -H "Authorization: $AUTH" \
    -d "{\"tenant_name\":\"Bench $i\",\"owner_email\":\"admin$i@bench.example\"}") || return 1
  id=$(echo "$created" | field tenant_id)
  temp=$(echo "$created" | field temp_password)
  token=$(curl -sf -X POST "$URL/api/auth/login" -H "X-Tenant-ID: $id" \
    -d "{\"email\":\"admin$i@bench.example\",\"password\":\"$temp\"}" | field access_token)
  curl -sf -X POST "$URL/api/users/me/password" -H "X-Tenant-ID: $id" -H "Authorization: Bearer $token" \
    -d "{\"current_password\":\"$temp\",\"new_password\":\"$pw\"}" >/dev/null || return 1
  token=$(curl -sf -X POST "$URL/api/auth/login" -H "X-Tenant-ID: $id" \
    -d "{\"email\":\"admin$i@bench.example\",\"password\":\"$pw\"}" | field access_token)
  printf '%s\t%s\t%s\t%s\n' "$id" "$token" "admin$i@bench.example" "$pw"
}

echo "seeding $TENANTS tenants..." >&2
seed_start=$(date +%s.%N)
for i in $(seq "$TENANTS"); do seed_tenant "$i"; done > "$WORK/tenants"
seed_s=$(echo "$(date +%s.%N) - $seed_start" | bc)
echo "seeded $(wc -l < "$WORK/tenants") tenants in ${seed_s}s" >&2

# run NAME PATH [extra env...]: one wrk scenario; prints its JSON object.
run() {
  local name=$1 path=$2; shift 2
  local out
  out=$(env BENCH_PATH="$path" BENCH_IDS="$WORK/tenants" "$@" \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p')
  printf '%-12s %s\n' "$name" "$out" >&2
  echo "\"$name\": $out"
}

results=()
results+=("$(run http /healthz)")
results+=("$(run transport /api/ping BENCH_HEADER_TENANT=1)")
results+=("$(run tenant_stats '/api/tenants/{tenant}/stats' BENCH_AUTH="$AUTH")")
results+=("$(run tenant_get '/api/tenants/{tenant}' BENCH_AUTH="$AUTH")")
results+=("$(run users_me /api/users/me BENCH_USER=1)")
results+=("$(run login /api/auth/login BENCH_HEADER_TENANT=1 BENCH_METHOD=POST \
  BENCH_BODY='{"email":"{email}","password":"{password}"}')")

rss() { ps -o rss= -p "$1" | awk '{printf "%.1f", $1 / 1024}'; }
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json="bench/results/$stamp.json"
{
  echo "{\"commit\": \"$(git rev-parse --short HEAD 2>/dev/null || echo unknown)\","
  echo " \"machine\": \"$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)\","
  echo " \"settings\": {\"tenants\": $TENANTS, \"duration_s\": $DURATION, \"connections\": $CONNS, \"threads\": $THREADS, \"worker_args\": \"${BENCH_WORKER_ARGS:-}\"},"
  echo " \"scenarios\": {$(IFS=,; echo "${results[*]}")},"
  echo " \"memory\": {\"gateway_rss_mib\": $(rss "${pids[2]}"), \"worker_rss_mib\": $(rss "${pids[0]}")}}"
} > "$json"
echo "written $json" >&2
cat "$json"
