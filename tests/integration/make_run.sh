#!/bin/bash
# `make run` keeps the stack up when a daemon dies: deploy/dev/run.sh (what `make run` executes)
# against $QUIZ_TEST_DATABASE_URL, in a directory of its own, with the sanitizer build. A tenant
# on each shard is read throughout; shard 0's worker is killed with SIGKILL. Asserted: shard 1
# answered 200 every time, shard 0 only 503/504 (or nothing within 1 s) until it answered 200
# again within 5 s, the restart was logged. Then the operator dashboard and the API reference are
# checked in headless Chromium (tests/browser/dashboard.py, screenshots in build/browser/), and
# SIGTERM stops every process of the run.
# Prints "[PASS] ..." or "[FAIL] ..." lines; exits non-zero on a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${QUIZ_TEST_DATABASE_URL:?}"
BIN=${QUIZ_BIN_DIR:-$PWD/build-asan}
WORK=$(mktemp -d /tmp/quiz-make-run.XXXXXX)
port=$(( ($$ % 500) * 2 + 21000 ))
zmq=$(( ($$ % 500) * 4 + 23000 ))
URL=http://127.0.0.1:$port
main=""
fail() { echo "[FAIL] make run: $*"; tail -n 20 "$WORK/run.log"; exit 1; }
cleanup() {
  [ -n "$main" ] && kill -TERM "$main" 2>/dev/null && wait "$main" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

DATABASE_URL=$QUIZ_TEST_DATABASE_URL QUIZ_VAR=$WORK QUIZ_RUN_BIN=$BIN QUIZ_LISTEN=127.0.0.1:$port \
  QUIZ_ZMQ_PORT=$zmq QUIZ_METRICS_PORT=$((zmq + 2000)) QUIZ_GATEWAY_ARGS="--samples-ms 500" setsid bash deploy/dev/run.sh > "$WORK/run.log" 2>&1 &
main=$!
for _ in $(seq 150); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "$URL/readyz" >/dev/null || fail "not ready within 30 s"
AUTH="Authorization: Bearer $(cat "$WORK/platform_token")"

# A tenant on each shard.
declare -A on
for i in $(seq 40); do
  created=$(curl -sf -X POST "$URL/api/tenants/" -H "$AUTH" \
    -d "{\"tenant_name\":\"Run $i\",\"owner_email\":\"admin@run$i.example\"}") || fail "tenant creation"
  id=$(echo "$created" | grep -o '"tenant_id" *: *"[^"]*"' | cut -d'"' -f4)
  shard=$(echo "$created" | grep -o '"shard" *: *[0-9]*' | grep -o '[0-9]*$')
  [ -z "${on[$shard]:-}" ] && on[$shard]=$id
  [ -n "${on[0]:-}" ] && [ -n "${on[1]:-}" ] && break
done
[ -n "${on[0]:-}" ] && [ -n "${on[1]:-}" ] || fail "no tenant on each shard"

# Readers of each shard's tenant, one line "ms status" per request, until $WORK/stop exists. A
# request in flight to the killed worker is lost with it and answered only at the gateway's
# deadline (5 s): the reader gives up on it after 1 s (status 000) and asks again.
read_shard() {
  local t0=$1 k=$2
  while [ ! -e "$WORK/stop" ]; do
    st=$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$URL/api/tenants/${on[$k]}/stats" -H "$AUTH")
    echo "$(( ($(date +%s%N) - t0) / 1000000 )) $st"
    sleep 0.05
  done > "$WORK/shard$k"
}
t0=$(date +%s%N)
read_shard "$t0" 0 & r0=$!
read_shard "$t0" 1 & r1=$!
sleep 1
victim=$(pgrep -f "quiz-worker --shard 0 .*--endpoint tcp://127.0.0.1:$zmq\b" | head -n 1)
[ -n "$victim" ] || fail "no worker of shard 0 found"
killed=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -9 "$victim"
for _ in $(seq 100); do # until shard 0 answers again (at most 10 s)
  sleep 0.1
  awk -v k="$killed" '$1 > k + 100 && $2 == 200 {found=1} END {exit !found}' "$WORK/shard0" 2>/dev/null && break
done
sleep 1
touch "$WORK/stop"; wait $r0 $r1

back=$(awk -v k="$killed" '$1 > k + 100 && $2 == 200 {print $1 - k; exit}' "$WORK/shard0")
[ -n "$back" ] || fail "shard 0 did not answer again within 10 s of its worker's death"
[ "$back" -le 5000 ] || fail "shard 0 answered again only after $back ms"
others=$(awk '$2 != 200' "$WORK/shard1" | wc -l)
[ "$others" -eq 0 ] || fail "shard 1 did not answer 200 $others times while shard 0 was down"
bad=$(awk '$2 != 200 && $2 != 503 && $2 != 504 && $2 != "000"' "$WORK/shard0" | head -n 3)
[ -z "$bad" ] || fail "shard 0 answered other than 200/503/504 (or nothing): $bad"
[ "$(wc -l < "$WORK/shard1")" -gt 20 ] || fail "too few reads of shard 1"
grep -q "make run: worker 0.0 exited with status 137 .*restarting" "$WORK/run.log" ||
  fail "the restart was not logged"
echo "[PASS] make run: worker of shard 0 killed; shard 0 back after $back ms, shard 1 served all" \
  "$(wc -l < "$WORK/shard1") reads"

# The operator dashboard and the API reference in headless Chromium, against this stack.
name="Browser check $$"
curl -sf -X POST "$URL/api/tenants/" -H "$AUTH" \
  -d "{\"tenant_name\":\"$name\",\"owner_email\":\"admin@browser.example\"}" >/dev/null ||
  fail "tenant creation for the browser check"
sleep 1 # two of the gateway's samples (--samples-ms 500) for a chart
/usr/bin/python3 tests/browser/dashboard.py "$URL" "$(cat "$WORK/platform_token")" "$name" \
  "$PWD/build/browser" || fail "the browser check failed"

kill -TERM "$main"
for _ in $(seq 100); do kill -0 "$main" 2>/dev/null || break; sleep 0.1; done
kill -0 "$main" 2>/dev/null && fail "still running 10 s after SIGTERM"
main=""
left=$(pgrep -f "tcp://127.0.0.1:$zmq\b|--listen 127.0.0.1:$port" | wc -l)
[ "$left" -eq 0 ] || fail "$left processes left after SIGTERM"
grep -q "make run: stopped" "$WORK/run.log" || fail "no clean stop logged"
echo "[PASS] make run: SIGTERM stops every process"
