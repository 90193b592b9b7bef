#!/bin/bash
# `make bench-tenants`: creates BENCH_TENANTS (2000) tenants through the API on its own cluster
# and stack, and reports: the median and p99 time of one creation over the first and the last
# 100, next to one Argon2id hash alone; the catalog size; and the resident memory of one
# worker's PostgreSQL backends after they served every tenant of their shard.
# Creations are BENCH_TENANT_GAP_MS (50) apart, a sign-up rate far above any real one that still
# lets the workers rebuild their spare schemas in between (see worker/wk_spare.h); 0 sends them
# back to back, which measures how creation degrades once the spares run out.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/stack.sh
N=${BENCH_TENANTS:-2000}
GAP_MS=${BENCH_TENANT_GAP_MS:-50}
bench_stack bench-tenants

# The hash alone, measured before the load starts.
hash=$(build/bench-argon2 | tr -d '{}')
# Every worker has its spare schemas ready, as in a service that has been up a while: wait until
# their number stops growing.
spares=-1
for _ in $(seq 100); do
  now=$(psql -X -At "$DSN" -c "SELECT count(*) FROM quiz.spare_schemas")
  [ "$now" = "$spares" ] && break; spares=$now; sleep 0.5
done
echo "creating $N tenants, ${GAP_MS} ms apart..." >&2
for i in $(seq "$N"); do
  curl -s -o "$WORK/last" -w '%{http_code} %{time_total}\n' -X POST "$URL/api/tenants/" \
    -H "Authorization: Bearer $QUIZ_PLATFORM_TOKEN" \
    -d "{\"tenant_name\":\"Scale $i\",\"owner_email\":\"admin$i@scale.example\"}"
  [ $((i % 500)) -eq 0 ] && echo "  $i" >&2
  if [ "$GAP_MS" -gt 0 ]; then sleep "$(echo "scale=3; $GAP_MS / 1000" | bc)"; fi
done > "$WORK/times"
failed=$(awk '$1 != 201' "$WORK/times" | wc -l)

# stats NAME FROM TO: median and p99 in ms of creations FROM..TO.
stats() {
  sed -n "$2,$3p" "$WORK/times" | awk '{print $2 * 1000}' | sort -n |
    awk -v name="$1" '{a[NR]=$1} END {printf "\"%s\": {\"median_ms\": %.1f, \"p99_ms\": %.1f}", name, a[int((NR+1)/2)], a[int(NR*0.99)]}'
}
first=$(stats first_100 1 100)
from=$((N > 100 ? N - 99 : 1))
last=$(stats last_100 "$from" "$N")

# Every tenant of shard 0 once on each of its worker's connections (4 threads: 4 rounds).
psql -X -At "$DSN" -c "SELECT id FROM quiz.tenants WHERE shard = 0" > "$WORK/shard0"
for round in 1 2 3 4 5 6; do
  while read -r id; do
    curl -s -o /dev/null "$URL/api/tenants/$id/stats" -H "Authorization: Bearer $QUIZ_PLATFORM_TOKEN"
  done < "$WORK/shard0"
done
backend_kib=$(psql -X -At "$DSN" -c "SELECT pid FROM pg_stat_activity WHERE usename = 'quiz_shard_0'" |
  while read -r pid; do awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; done | awk '{s += $1; n++} END {printf "%d %d", s, n}')
read -r rss_kib nbackends <<< "$backend_kib"
catalog=$(psql -X -At "$DSN" -c "SELECT (SELECT count(*) FROM pg_class) || ' ' || pg_total_relation_size('pg_class') + pg_total_relation_size('pg_attribute') + pg_total_relation_size('pg_depend') + pg_total_relation_size('pg_index')")
read -r relations catalog_bytes <<< "$catalog"
cat <<JSON
{"tenants": $N, "gap_ms": $GAP_MS, "worker_args": "${BENCH_WORKER_ARGS:-}", "spares_at_start": $spares,
 "failed": $failed, $hash,
 "creation": {$first, $last},
 "catalog": {"relations": $relations, "main_catalog_bytes": $catalog_bytes},
 "shard0_backends": {"count": $nbackends, "rss_mib_total": $(echo "scale=1; $rss_kib / 1024" | bc)}}
JSON
