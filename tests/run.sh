#!/bin/sh
# `make test`: runs the unit test binaries, then starts a throwaway PostgreSQL cluster (fsync
# off, random port, removed afterwards) and runs the integration binaries against it. Prints
# one closing line "tests: N passed, N failed" and exits non-zero on any failure.
# Usage: tests/run.sh UNIT_BIN... -- INTEGRATION_BIN...
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
passed=0 failed=0 log=$(mktemp)

run() { # one Criterion binary; its Synthesis line is added to the totals
  "$@" --jobs 2 >"$log" 2>&1
  rc=$?
  cat "$log"
  line=$(grep -a "Synthesis:" "$log" | tail -n 1)
  p=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
  f=$(echo "$line" | sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 \2/p')
  passed=$((passed + ${p:-0}))
  set -- $f
  failed=$((failed + ${1:-0} + ${2:-0}))
  if [ $rc -ne 0 ] && [ -z "$line" ]; then failed=$((failed + 1)); fi
  [ $rc -eq 0 ]
}

status=0
# The systemd units must pass systemd-analyze verify (binaries pointed at this build).
if command -v systemd-analyze >/dev/null 2>&1; then
  units=$(mktemp -d)
  for u in deploy/*.service; do sed "s|/usr/bin/quiz-|$PWD/build-asan/quiz-|g" "$u" > "$units/$(basename "$u")"; done
  cp "$units/quiz-worker@.service" "$units/quiz-worker@0.service"
  if systemd-analyze verify "$units/quiz-gateway.service" "$units/quiz-worker@0.service"; then
    echo "[PASS] deploy: systemd-analyze verify"; passed=$((passed + 1))
  else
    echo "[FAIL] deploy: systemd-analyze verify"; failed=$((failed + 1)); status=1
  fi
  rm -rf "$units"
fi
# ... and the Kubernetes manifest and units must name only options the daemons have, with
# probes, limits and a restricted securityContext.
if /usr/bin/python3 tests/deploy_check.py build-asan; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
while [ $# -gt 0 ] && [ "$1" != "--" ]; do run "$1" || status=1; shift; done
[ $# -gt 0 ] && shift

if [ $# -gt 0 ]; then
  pgdir=""
  if [ -n "${QUIZ_TEST_DATABASE_URL:-}" ]; then
    # (and QUIZ_TEST_SECOND_CLUSTER_URL, a second cluster, for tests/integration/test_clusters)
    echo "integration: using QUIZ_TEST_DATABASE_URL"
  elif ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    pgdir=$(mktemp -d /tmp/quiz-test-pg.XXXXXX)
    chmod 755 "$pgdir"
    # A port someone else holds (a kept bench cluster, another run) fails the start: try others.
    for try in 1 2 3 4 5; do
      port=$(( ($$ + try * 389) % 2000 + 56000 ))
      QUIZ_TEST_DATABASE_URL=$(sh deploy/dev/pg.sh start "$pgdir/data" "$port" --nosync 2>/dev/null) && break
      QUIZ_TEST_DATABASE_URL=""
    done
    [ -n "$QUIZ_TEST_DATABASE_URL" ] || { echo "integration: could not start PostgreSQL" >&2; status=1; rm -rf "$pgdir"; pgdir=""; }
    export QUIZ_TEST_DATABASE_URL
    # Its data directory, for the test that restarts PostgreSQL under load (test_faults).
    [ -n "$QUIZ_TEST_DATABASE_URL" ] && export QUIZ_TEST_PGDATA="$pgdir/data"
    # A second cluster, for the tests of tenants on several clusters (tests/integration/
    # test_clusters.c makes databases of its own on both).
    QUIZ_TEST_SECOND_CLUSTER_URL=""
    for try in 1 2 3 4 5; do
      [ -n "$pgdir" ] || break
      port=$(( ($$ + try * 577 + 1000) % 2000 + 56000 ))
      QUIZ_TEST_SECOND_CLUSTER_URL=$(sh deploy/dev/pg.sh start "$pgdir/data2" "$port" --nosync 2>/dev/null) && break
      QUIZ_TEST_SECOND_CLUSTER_URL=""
    done
    [ -n "$pgdir" ] && [ -z "$QUIZ_TEST_SECOND_CLUSTER_URL" ] && { echo "integration: could not start a second PostgreSQL" >&2; status=1; }
    export QUIZ_TEST_SECOND_CLUSTER_URL
  elif [ "${CI:-}" = "true" ]; then
    echo "integration: no PostgreSQL available and CI=true" >&2; status=1
  else
    echo "integration: no PostgreSQL installed; skipping integration tests" >&2
  fi
  if [ -n "${QUIZ_TEST_DATABASE_URL:-}" ]; then
    QUIZ_DATABASE_URL=$QUIZ_TEST_DATABASE_URL build-asan/quiz-worker --migrate --shards 2 || status=1
    # The logins on the second cluster once, before tests make databases of their own there.
    if [ -n "${QUIZ_TEST_SECOND_CLUSTER_URL:-}" ]; then
      QUIZ_DATABASE_URL=$QUIZ_TEST_SECOND_CLUSTER_URL build-asan/quiz-worker --migrate --shards 4 || status=1
    fi
    export QUIZ_BIN_DIR=${QUIZ_BIN_DIR:-$PWD/build-asan}
    # Every answer the tests get is recorded and held against the OpenAPI document afterwards.
    QUIZ_TEST_TRAFFIC=$(mktemp /tmp/quiz-traffic.XXXXXX); export QUIZ_TEST_TRAFFIC
    for bin in "$@"; do
      case "$bin" in */test_pooler) continue ;; esac # the pooler pass's own, below
      run "$bin" || status=1
    done
    # The pooler pass, as on Neon: the workers of these suites connect through PgBouncer in
    # transaction mode with a pool of 3 and TLS required (tests/pooler/pgbouncer.sh), and
    # test_pooler forces two tenants through one server connection.
    if command -v pgbouncer >/dev/null 2>&1; then
      bouncer=$(mktemp -d /tmp/quiz-test-bouncer.XXXXXX); chmod 755 "$bouncer"
      for try in 1 2 3 4 5; do
        port=$(( ($$ + try * 211 + 500) % 2000 + 54000 ))
        QUIZ_TEST_POOLER_URL=$(sh tests/pooler/pgbouncer.sh start "$bouncer/b$try" "$QUIZ_TEST_DATABASE_URL" "$port") && break
        QUIZ_TEST_POOLER_URL=""
      done
      if [ -n "$QUIZ_TEST_POOLER_URL" ]; then
        QUIZ_TEST_POOLER_CANARY_URL=$(echo "$QUIZ_TEST_POOLER_URL" | sed 's|/quiz?|/quiz_canary?|')
        QUIZ_TEST_POOLER_ADMIN_URL=$(echo "$QUIZ_TEST_POOLER_URL" | sed 's|/quiz?|/pgbouncer?|')
        export QUIZ_TEST_POOLER_URL QUIZ_TEST_POOLER_CANARY_URL QUIZ_TEST_POOLER_ADMIN_URL
        echo "integration: the pooler pass through $QUIZ_TEST_POOLER_URL"
        for bin in "$@"; do
          case "$bin" in
            */test_pooler|*/test_quiz|*/test_reads|*/test_tenants|*/test_lifecycle|*/test_spares)
              run "$bin" || status=1 ;;
          esac
        done
        for d in "$bouncer"/b*; do sh tests/pooler/pgbouncer.sh stop "$d"; done
        unset QUIZ_TEST_POOLER_URL QUIZ_TEST_POOLER_CANARY_URL QUIZ_TEST_POOLER_ADMIN_URL
      else
        echo "[FAIL] integration: could not start PgBouncer"; failed=$((failed + 1)); status=1
      fi
      rm -rf "$bouncer"
    elif [ "${CI:-}" = "true" ]; then
      echo "[FAIL] integration: pgbouncer is not installed and CI=true"; failed=$((failed + 1)); status=1
    fi
    if python3 tests/openapi_traffic.py "$QUIZ_TEST_TRAFFIC" proto/openapi.json; then
      echo "[PASS] openapi: every status and media type of the tests' traffic is documented"
      passed=$((passed + 1))
    else
      echo "[FAIL] openapi: the tests' traffic has answers the document does not list"
      failed=$((failed + 1)); status=1
    fi
    rm -f "$QUIZ_TEST_TRAFFIC"; unset QUIZ_TEST_TRAFFIC
    # `make run`'s supervision: a killed worker is restarted, the other shard serves throughout.
    out=$(bash tests/integration/make_run.sh 2>&1); rc=$?
    echo "$out"
    p=$(echo "$out" | grep -c '^\[PASS\]'); passed=$((passed + p))
    if [ $rc -ne 0 ]; then failed=$((failed + 1)); status=1; fi
  fi
  if [ -n "$pgdir" ]; then
    sh deploy/dev/pg.sh stop "$pgdir/data"
    [ -d "$pgdir/data2" ] && sh deploy/dev/pg.sh stop "$pgdir/data2"
    rm -rf "$pgdir"
  fi
  # The benchmark scripts must keep working: a one-second smoke run of every scenario, checked
  # for a result with requests and no errors in each.
  if command -v wrk >/dev/null 2>&1 && command -v pgbench >/dev/null 2>&1; then
    if out=$(BENCH_SMOKE=1 bash bench/run.sh 2>&1) &&
       python3 - "$(ls -t bench/results/*.json | head -n 1)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
runs = {**r["ceilings"], **r["scenarios"]}
# Logins paced under a second of full-speed quiz_get may all still be hashing when it ends.
paced = {"login_with_quiz_get"}
bad = [k for k, v in runs.items()
       if (v["rps"] <= 0 and k not in paced) or v.get("errors", 0) > 0]
assert len(runs) >= 12 and not bad, f"scenarios without results or with errors: {bad}"
split = r["settings"]["tenants_per_shard"]
assert len(split) == 2 and sum(split) == r["settings"]["tenants"], f"tenants per shard: {split}"
PY
    then echo "[PASS] bench: smoke run of every scenario"; passed=$((passed + 1))
    else echo "$out" | tail -n 20; echo "[FAIL] bench: smoke run"; failed=$((failed + 1)); status=1
    fi
  fi
fi
# A short pass of every libFuzzer target from its seed corpus (tests/fuzz/run.sh; `make fuzz`
# runs them for longer).
for bin in ${QUIZ_FUZZ_BINS:-}; do
  if sh tests/fuzz/run.sh "${QUIZ_FUZZ_SECONDS:-5}" "$bin"; then passed=$((passed + 1))
  else failed=$((failed + 1)); status=1
  fi
done
rm -f "$log"
[ $failed -gt 0 ] && status=1
echo "tests: $passed passed, $failed failed"
exit $status
