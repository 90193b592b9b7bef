#!/bin/bash
# `make bench-fleet`: fleet operations at scale on its own cluster and stack (bench/stack.sh).
# BENCH_FLEET_TENANTS (10000) tenants: 10 made through the API and seeded (bench/seed.sql), the
# rest made in bulk as creation makes them (bench/fleet_bulk.sql.in). Measures:
#   - `quizctl migrate` with nothing to do (every tenant at the newest version);
#   - a real migration (a column with a default and an index) over all of them while wrk reads
#     quizzes of the seeded tenants (quiz_get), against the same load without a migration;
#   - `quizctl tenant export` and `import --as` of a tenant of 100 quizzes of 10 questions and
#     10,000 attempts: seconds and bytes.
# Prints one JSON object; writes bench/results/fleet-<UTC timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
. bench/seed.sh
make --no-print-directory all >/dev/null
N=${BENCH_FLEET_TENANTS:-10000}
SERVED=10
CONNS=${BENCH_CONNS:-32}
THREADS=${BENCH_THREADS:-2}
log() { echo "$*" >&2; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | awk '{printf "%.2f", $1}'; }
bench_stack bench-fleet
AUTH="Bearer $QUIZ_PLATFORM_TOKEN"
PSQL=(psql -X -q -At "$DSN")

log "seeding $SERVED tenants through the API..."
for i in $(seq "$SERVED"); do seed_tenant "$i"; done > "$WORK/tenants"

bulk=$((N - SERVED)); per=25
log "making $bulk tenants in bulk..."
t0=$(now)
blocks=$(( (bulk + per - 1) / per ))
sed "s/@N@/$per/" bench/fleet_bulk.sql.in > "$WORK/bulk.sql"
# Two sessions at once, one block (one transaction) of $per tenants at a time.
sessions=()
for half in 0 1; do
  ( for b in $(seq "$half" 2 $((blocks - 1))); do cat "$WORK/bulk.sql"; done |
      "${PSQL[@]}" -v ON_ERROR_STOP=1 -f - ) &
  sessions+=($!)
done
for p in "${sessions[@]}"; do wait "$p"; done # not the stack's processes
bulk_s=$(since "$t0")
tenants=$("${PSQL[@]}" -c "SELECT count(*) FROM quiz.tenants")
relations=$("${PSQL[@]}" -c "SELECT count(*) FROM pg_class")
log "$tenants tenants ($relations relations) after ${bulk_s}s"
"${PSQL[@]}" -c "VACUUM (ANALYZE)" 2>/dev/null || true

# migrate_run [ARGS]: quizctl migrate --json; prints "seconds<TAB>report".
migrate_run() {
  local t out
  t=$(now)
  out=$(build/quizctl migrate --json "$@" 2>/dev/null | tail -n 1) || true
  printf '%s\t%s\n' "$(since "$t")" "$out"
}
IFS=$'\t' read -r noop_s noop_report < <(migrate_run)
log "no-op migrate: ${noop_s}s"

# quiz_get SECONDS [background]: wrk over the seeded tenants' quizzes; its BENCH line.
quiz_get() {
  env BENCH_PATH='/api/quizzes/{quiz}' BENCH_IDS="$WORK/tenants" BENCH_USER=1 \
    wrk -t"$THREADS" -c"$CONNS" -d"$1s" --latency -s bench/wrk.lua "$URL" | sed -n 's/^BENCH //p'
}
quiz_get 5 >/dev/null # warm-up

mkdir -p "$WORK/migrations"
cat > "$WORK/migrations/900_bench_flag.sql" <<'SQL'
ALTER TABLE quizzes ADD COLUMN bench_flag boolean NOT NULL DEFAULT false;
CREATE INDEX quizzes_bench_flag_idx ON quizzes (bench_flag, created_at);
SQL
# The load runs from before the migration until after it; wrk is stopped once it is done.
log "real migration under quiz_get load..."
env BENCH_PATH='/api/quizzes/{quiz}' BENCH_IDS="$WORK/tenants" BENCH_USER=1 \
  wrk -t"$THREADS" -c"$CONNS" -d600s --latency -s bench/wrk.lua "$URL" > "$WORK/during" 2>&1 &
wrk_pid=$!
sleep 1
IFS=$'\t' read -r real_s real_report < <(migrate_run --dir "$WORK/migrations" --jobs "${BENCH_FLEET_JOBS:-4}")
kill -INT "$wrk_pid"; wait "$wrk_pid" || true
during=$(sed -n 's/^BENCH //p' "$WORK/during")
log "real migration: ${real_s}s; quiz_get during it: $during"
load_s=$(echo "$real_s" | awk '{printf "%d", $1 < 5 ? 5 : $1 + 1}')
baseline=$(quiz_get "$load_s")
log "quiz_get without a migration (${load_s}s): $baseline"
at_version=$("${PSQL[@]}" -c "SELECT count(*) FROM quiz.tenants WHERE schema_version = '900_bench_flag'")

# One big tenant: the first seeded one, grown to 10,000 attempts of 10 answers each.
big=$(head -n 1 "$WORK/tenants" | cut -f1)
schema=tenant_$(echo "$big" | tr -d -)
"${PSQL[@]}" -c "SET search_path TO $schema;
  INSERT INTO attempts (quiz_id, user_id, score, max_score, results, submitted_at)
  SELECT q.id, u.id, (g % 11), 10,
         (SELECT jsonb_agg(jsonb_build_object('question_id', x.id, 'correct', (g + x.position) % 2 = 0,
                 'points', (g + x.position) % 2) ORDER BY x.position) FROM questions x WHERE x.quiz_id = q.id),
         now() - (g || ' minutes')::interval
  FROM generate_series(1, 10000 - (SELECT count(*) FROM attempts)) g
  JOIN LATERAL (SELECT id FROM quizzes ORDER BY id OFFSET (g % 100) LIMIT 1) q ON true
  JOIN LATERAL (SELECT id FROM users WHERE role = 'member' ORDER BY id OFFSET (g % 10) LIMIT 1) u ON true"
counts=$("${PSQL[@]}" -c "SELECT (SELECT count(*) FROM $schema.quizzes) || ' ' || (SELECT count(*) FROM $schema.questions) || ' ' || (SELECT count(*) FROM $schema.attempts)")
t=$(now)
build/quizctl tenant export "$big" > "$WORK/big.tenant.gz" 2>/dev/null
export_s=$(since "$t")
export_bytes=$(stat -c %s "$WORK/big.tenant.gz")
raw_bytes=$(zcat "$WORK/big.tenant.gz" | wc -c)
t=$(now)
import=$(build/quizctl tenant import --json --as "$(cat /proc/sys/kernel/random/uuid)" "$WORK/big.tenant.gz" 2>&1)
import_s=$(since "$t")
log "export ${export_s}s (${export_bytes} bytes), import ${import_s}s: $import"

mkdir -p bench/results
json="bench/results/fleet-$(date -u +%Y%m%dT%H%M%SZ).json"
cat > "$json" <<JSON
{"commit": "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)",
 "machine": "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)",
 "tenants": $tenants, "relations": $relations, "bulk_creation_s": $bulk_s,
 "migrate_noop": {"seconds": $noop_s, "report": ${noop_report:-null}},
 "migrate_real": {"seconds": $real_s, "tenants_at_new_version": $at_version, "report": ${real_report:-null}},
 "quiz_get_during_migration": ${during:-null},
 "quiz_get_without_migration": ${baseline:-null},
 "big_tenant": {"quizzes_questions_attempts": "$counts", "export_s": $export_s, "export_bytes": $export_bytes,
                "uncompressed_bytes": $raw_bytes, "import_s": $import_s, "import": ${import:-null}}}
JSON
cat "$json"
log "written $json"
