#!/bin/bash
# `make bench-move`: tenant moves under load, on a stack of its own with two PostgreSQL
# clusters and three shards (shard k on cluster k mod 2: 0 and 2 on cluster 0, 1 on cluster 1).
# A large tenant (100 quizzes of 10 questions, 10,000 attempts) is moved BENCH_MOVES (5) times
# between clusters (shards 0 and 1) and as often within cluster 0 (shards 0 and 2), while wrk
# writes attempts to it (16 connections) and reads quizzes of BENCH_TENANTS (8) other tenants
# (16 connections). Prints each move's write freeze and duration, their medians, the other
# tenants' quiz_get beside the writers without moves and during the moves, and the redirects
# the gateway followed, and where the CPU went before and during the moves.
#   BENCH_MOVES (5), BENCH_TENANTS (8), BENCH_KEEP=1
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
make --no-print-directory all >/dev/null
MOVES=${BENCH_MOVES:-5}
TENANTS=${BENCH_TENANTS:-8}
log() { echo "$*" >&2; }
WORK=$(mktemp -d /tmp/quiz-move.XXXXXX)
chmod 755 "$WORK"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  sh deploy/dev/pg.sh stop "$WORK/pg0"; sh deploy/dev/pg.sh stop "$WORK/pg1"
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
for c in 0 1; do
  for try in 1 2 3 4 5; do
    port=$(free_port 56100 800)
    url=$(sh deploy/dev/pg.sh start "$WORK/pg$c" "$port" --nosync 2>/dev/null) && break
  done
  eval "DSN$c=\$url"
done
export QUIZ_DATABASE_URL=$DSN0 QUIZ_CLUSTER_URLS=$DSN1 QUIZ_KEYS_DIR=$WORK/keys
export QUIZ_PLATFORM_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
mkdir -p "$QUIZ_KEYS_DIR"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$QUIZ_KEYS_DIR/bench.key"
build/quizctl keygen --dir "$WORK/curve" worker >/dev/null
build/quizctl keygen --dir "$WORK/curve" gateway >/dev/null
mkdir -p "$WORK/curve/allowed" && cp "$WORK/curve/gateway.pub" "$WORK/curve/allowed/"
build/quiz-worker --migrate --shards 3 2>/dev/null
zmq=$(free_port 19000 999)
http_port=$(free_port 17000 1900)
shard_args=()
for k in 0 1 2; do
  build/quiz-worker --shard $k --shards 3 --endpoint tcp://127.0.0.1:$((zmq + k)) \
    --curve-secret "$WORK/curve/worker.secret" --allowed-gateways "$WORK/curve/allowed" \
    2>>"$WORK/worker$k.log" &
  pids+=($!)
  shard_args+=(--shard tcp://127.0.0.1:$((zmq + k)))
done
build/quiz-gateway --listen 127.0.0.1:$http_port --login-rate 0 --tenant-rate 100000000 --password-inflight 64 \
  "${shard_args[@]}" --curve-secret "$WORK/curve/gateway.secret" \
  --worker-key "$WORK/curve/worker.pub" 2>>"$WORK/gateway.log" &
pids+=($!)
URL=http://127.0.0.1:$http_port
for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
AUTH="Authorization: Bearer $QUIZ_PLATFORM_TOKEN"
field() { grep -o "\"$1\" *: *[^,}]*" | head -n 1 | cut -d: -f2- | tr -d '" ' ; }
login() {
  curl -sf -X POST "$URL/api/auth/login" -H "X-Tenant-ID: $1" -d "{\"email\":\"$2\",\"password\":\"$3\"}" | field access_token
}
# seed N: a tenant through the API, seeded by SQL on its cluster; prints its wrk line.
seed() {
  local created id temp token pw="bench-password-$1" shard dsn schema quizzes member
  created=$(curl -sf -X POST "$URL/api/tenants/" -H "$AUTH" \
    -d "{\"tenant_name\":\"Move $1\",\"owner_email\":\"admin$1@bench.example\"}")
  id=$(echo "$created" | field tenant_id); temp=$(echo "$created" | field temp_password)
  shard=$(echo "$created" | field shard)
  token=$(login "$id" "admin$1@bench.example" "$temp")
  curl -sf -X POST "$URL/api/users/me/password" -H "X-Tenant-ID: $id" -H "Authorization: Bearer $token" \
    -d "{\"current_password\":\"$temp\",\"new_password\":\"$pw\"}" >/dev/null
  if [ $((shard % 2)) = 0 ]; then dsn=$DSN0; else dsn=$DSN1; fi
  schema=tenant_$(echo "$id" | tr -d -)
  quizzes=$(psql -X -q -At "$dsn" -v schema="$schema" -f bench/seed.sql | tail -n 1)
  member=$(login "$id" "member1@bench.example" "$pw")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$member" "member1@bench.example" "$pw" "$quizzes" "$shard" "$dsn"
}
log "seeding the large tenant and $TENANTS others..."
# The large tenant must start on shard 0: draw until one lands there.
for i in $(seq 40); do
  line=$(seed "big$i"); [ "$(echo "$line" | cut -f6)" = 0 ] && break
done
echo "$line" | cut -f1-5 > "$WORK/big"
BIG=$(echo "$line" | cut -f1)
schema=tenant_$(echo "$BIG" | tr -d -)
psql -X -q -At "$DSN0" -c "INSERT INTO $schema.attempts (quiz_id, user_id, score, max_score, results)
  SELECT q.id, u.id, 5, 10, '[]' FROM $schema.quizzes q, generate_series(1, 100) g,
  (SELECT id FROM $schema.users WHERE role = 'member' LIMIT 1) u; ANALYZE"
for i in $(seq "$TENANTS"); do seed "$i" | cut -f1-5; done > "$WORK/others"
log "large tenant $BIG: $(psql -X -At "$DSN0" -c "SELECT count(*) FROM $schema.attempts") attempts"

quiz_get() { # seconds -> JSON of wrk on the other tenants
  env BENCH_PATH='/api/quizzes/{quiz}' BENCH_IDS="$WORK/others" BENCH_USER=1 \
    wrk -t1 -c16 -d"${1}s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p'
}
redirects() { curl -s "$URL/metrics" | awk '/^quiz_shard_redirects_total/ {print $2}'; }
# move TO: one move of the large tenant; prints "freeze_ms total_ms".
move() {
  local op state=""
  op=$(curl -sf -X POST "$URL/api/tenants/$BIG/move" -H "$AUTH" -d "{\"shard\":$1}" | field operation_id)
  for _ in $(seq 1200); do
    state=$(curl -sf "$URL/api/operations/$op" -H "$AUTH" | field state)
    [ "$state" = done ] || [ "$state" = failed ] && break
    sleep 0.2 # an operator polls; curl at 20/s would cost the machine 10% of its CPU
  done
  [ "$state" = done ] || { log "move to $1 ended $state"; curl -s "$URL/api/operations/$op" -H "$AUTH" >&2; return 1; }
  psql -X -At "$DSN0" -c "SELECT freeze_ms, (extract(epoch FROM finished_at - started_at) * 1000)::int
    FROM quiz.operations WHERE id = '$op'" | tr '|' ' '
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Writers to the large tenant, honouring Retry-After as a client should (one that does not is
# the rate limiter's business): the other tenants' reads are measured beside them, first
# without moves (the baseline), then during the moves.
writers() { # seconds output: wrk writing attempts to the large tenant
  exec env BENCH_PATH='/api/quizzes/{quiz}/attempts' BENCH_IDS="$WORK/big" BENCH_USER=1 BENCH_METHOD=POST \
    BENCH_BODY='{"answers":[]}' BENCH_RETRY_AFTER=1 wrk -t1 -c16 -d"${1}s" -s bench/wrk.lua "$URL" > "$2" 2>&1
}
writers 12 "$WORK/writers-before" &
before_writers=$!
sleep 1
log "quiz_get of the other tenants beside the writers, no move (10 s)..."
bench/cpu.py snap "$WORK/cpu0"
before=$(quiz_get 10)
bench/cpu.py snap "$WORK/cpu1"
log "before: $before"
wait $before_writers
writers 600 "$WORK/writers" &
writers=$!
log "moving the large tenant $((4 * MOVES)) times under load..."
env BENCH_PATH='/api/quizzes/{quiz}' BENCH_IDS="$WORK/others" BENCH_USER=1 \
  wrk -t1 -c16 -d600s --latency -s bench/wrk.lua "$URL" > "$WORK/during" 2>&1 &
readers=$!
r0=$(redirects)
bench/cpu.py snap "$WORK/cpu2"
: > "$WORK/cross"; : > "$WORK/same"
for i in $(seq "$MOVES"); do
  move 1 >> "$WORK/cross"; move 0 >> "$WORK/cross"
done
for i in $(seq "$MOVES"); do
  move 2 >> "$WORK/same"; move 0 >> "$WORK/same"
done
r1=$(redirects)
bench/cpu.py snap "$WORK/cpu3"
kill -INT $readers $writers 2>/dev/null || true
wait $readers $writers 2>/dev/null || true
during=$(sed -n 's/^BENCH //p' "$WORK/during")
log "during: $during"
echo "moves between clusters (freeze ms, total ms):"; cat "$WORK/cross"
echo "moves within cluster 0 (freeze ms, total ms):"; cat "$WORK/same"
echo "median freeze between clusters: $(cut -d' ' -f1 "$WORK/cross" | median) ms (max $(cut -d' ' -f1 "$WORK/cross" | sort -n | tail -1));" \
  "median total: $(cut -d' ' -f2 "$WORK/cross" | median) ms"
echo "freezes between clusters, by stage (from the workers' logs):"
grep -ho 'across clusters in .*; operation' "$WORK"/worker*.log | sed 's/^across clusters in/  /; s/; operation$/)/'
echo "median move within a cluster: $(cut -d' ' -f2 "$WORK/same" | median) ms"
python3 - "$before" "$during" <<'PY'
import json, sys
b, d = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"other tenants' quiz_get: {b['rps']:.0f} req/s (p99 {b['p99_ms']:.1f} ms) before, "
      f"{d['rps']:.0f} (p99 {d['p99_ms']:.1f} ms) during the moves: {d['rps'] / b['rps']:.0%}")
PY
echo "redirects followed by the gateway during $(( 4 * MOVES )) moves: $(( ${r1%.*} - ${r0%.*} ))"
echo "writes to the large tenant before the moves: $(sed -n 's/^BENCH //p' "$WORK/writers-before")"
echo "writes to the large tenant during the moves: $(sed -n 's/^BENCH //p' "$WORK/writers")"
echo "CPU before the moves, by process:"; bench/cpu.py diff "$WORK/cpu0" "$WORK/cpu1"
echo "CPU during the moves, by process:"; bench/cpu.py diff "$WORK/cpu2" "$WORK/cpu3"
