#!/bin/bash
# `make run`: the whole stack in the foreground. Starts an embedded PostgreSQL under var/ unless
# DATABASE_URL or NEON_DATABASE_URL names one, applies migrations, runs one worker per shard and
# a gateway, and stops every process it started on Ctrl-C or SIGTERM. A daemon that dies is
# restarted with backoff, as systemd's Restart=on-failure does (deploy/*.service).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${QUIZ_RUN_BIN:-build}              # the daemons (tests: the sanitizer build)
VAR=${QUIZ_VAR:-$PWD/var}                # the cluster, keys and tokens (tests: a directory of their own)
SHARDS=${QUIZ_SHARDS:-2}                 # hashed shards, numbered from 0
DEDICATED=${QUIZ_DEDICATED_SHARDS:-0}    # dedicated shards, numbered after them
REPLICAS=${QUIZ_REPLICAS:-1}             # workers per shard
CLUSTERS=${QUIZ_CLUSTERS:-1}             # embedded PostgreSQL clusters; shard k on cluster k mod N
HTTP=${QUIZ_LISTEN:-127.0.0.1:8000}
PG_PORT=${QUIZ_PG_PORT:-55432}
ZMQ_BASE=${QUIZ_ZMQ_PORT:-7100}
METRICS_BASE=${QUIZ_METRICS_PORT:-9200}  # worker r of shard k: /metrics on METRICS_BASE + 100 r + k
mkdir -p "$VAR"

pids=()
pg_started=()
cleanup() {
  trap - INT TERM EXIT
  echo "make run: stopping" >&2
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for d in "${pg_started[@]}"; do sh deploy/dev/pg.sh stop "$d"; done
  echo "make run: stopped" >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Cluster 0 (the control cluster, with the registry) is DATABASE_URL or var/pg; further ones are
# QUIZ_CLUSTER_URLS with DATABASE_URL, or var/pg1, var/pg2, ... on the next ports.
DSN=${DATABASE_URL:-${NEON_DATABASE_URL:-}}
if [ -z "$DSN" ]; then
  DSN=$(sh deploy/dev/pg.sh start "$VAR/pg" "$PG_PORT")
  pg_started+=("$VAR/pg")
  echo "make run: embedded PostgreSQL on 127.0.0.1:$PG_PORT (data in var/pg)" >&2
  others=""
  for ((c = 1; c < CLUSTERS; c++)); do
    url=$(sh deploy/dev/pg.sh start "$VAR/pg$c" "$((PG_PORT + c))")
    pg_started+=("$VAR/pg$c")
    others="${others:+$others,}$url"
    echo "make run: embedded PostgreSQL cluster $c on 127.0.0.1:$((PG_PORT + c)) (var/pg$c)" >&2
  done
  export QUIZ_CLUSTER_URLS=$others
else
  commas=${QUIZ_CLUSTER_URLS:-}; commas=${commas//[^,]/}
  CLUSTERS=$(( ${QUIZ_CLUSTER_URLS:+1} + ${#commas} + 1 ))
fi
export QUIZ_DATABASE_URL=$DSN

if [ -z "${QUIZ_PLATFORM_TOKEN:-}" ]; then
  if [ ! -s "$VAR/platform_token" ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$VAR/platform_token")
  fi
  export QUIZ_PLATFORM_TOKEN=$(cat "$VAR/platform_token")
  token_note="platform token in var/platform_token"
else
  token_note="platform token from QUIZ_PLATFORM_TOKEN"
fi

# Access tokens are signed with keys from var/keys (a new key file there is picked up on restart).
export QUIZ_KEYS_DIR=$VAR/keys
if ! ls "$QUIZ_KEYS_DIR"/*.key >/dev/null 2>&1; then
  (umask 077; mkdir -p "$QUIZ_KEYS_DIR"; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$QUIZ_KEYS_DIR/$(date -u +%Y%m%d).key")
fi

# The gateway <-> worker link is CurveZMQ: a keypair for the workers, one for the gateway, and the
# directory of gateway keys the workers let in (made once; see README "The worker link").
CURVE=$VAR/curve
if [ ! -s "$CURVE/worker.secret" ] || [ ! -s "$CURVE/gateway.secret" ]; then
  rm -rf "$CURVE"
  "$BIN/quizctl" keygen --dir "$CURVE" worker >/dev/null
  "$BIN/quizctl" keygen --dir "$CURVE" gateway >/dev/null
  (umask 077; mkdir -p "$CURVE/allowed"; cp "$CURVE/gateway.pub" "$CURVE/allowed/")
fi

TOTAL=$((SHARDS + DEDICATED))
placement=(--shards "$TOTAL")
for ((k = SHARDS; k < TOTAL; k++)); do placement+=(--dedicated "$k"); done
"$BIN/quiz-worker" --migrate "${placement[@]}"

# supervise NAME CMD...: runs CMD in the background and again whenever it fails (non-zero exit
# or signal), after 0.2 s doubling to 5 s; the wait is back to 0.2 s once a run lasted 10 s.
# A command that fails within a second five times in a row cannot start (a port taken, a bad
# option): the whole run stops, rather than retrying forever. A clean exit is not restarted.
supervise() {
  local name=$1; shift
  (
    child=""
    trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child"; fi; exit 0' TERM
    delay_ms=200 quick=0
    while :; do
      started=$SECONDS
      "$@" &
      child=$!
      rc=0; wait "$child" || rc=$?
      child=""
      [ "$rc" -eq 0 ] && { echo "make run: $name exited cleanly; not restarting" >&2; exit 0; }
      lived=$((SECONDS - started))
      if [ "$lived" -ge 10 ]; then delay_ms=200 quick=0; fi
      if [ "$lived" -lt 1 ]; then quick=$((quick + 1)); else quick=0; fi
      if [ "$quick" -ge 5 ]; then
        echo "make run: $name failed at start 5 times in a row (status $rc); stopping" >&2
        kill -TERM $$; exit 1
      fi
      echo "make run: $name exited with status $rc after ${lived}s; restarting in" \
        "$((delay_ms / 1000)).$((delay_ms % 1000 / 100))s" >&2
      sleep "$((delay_ms / 1000)).$((delay_ms % 1000 / 100))" & child=$!
      wait "$child" || true; child=""
      delay_ms=$((delay_ms * 2 > 5000 ? 5000 : delay_ms * 2))
    done
  ) &
  pids+=($!)
}

# Replica r of shard k listens on ZMQ_BASE + 100 r + k; the gateway spreads a shard's requests
# over its replicas.
shard_args=()
for ((k = 0; k < TOTAL; k++)); do
  eps=""
  for ((r = 0; r < REPLICAS; r++)); do
    ep="tcp://127.0.0.1:$((ZMQ_BASE + 100 * r + k))"
    supervise "worker $k.$r" "$BIN/quiz-worker" --shard "$k" "${placement[@]}" --endpoint "$ep" \
      --curve-secret "$CURVE/worker.secret" --allowed-gateways "$CURVE/allowed" \
      --metrics-listen "127.0.0.1:$((METRICS_BASE + 100 * r + k))"
    eps="${eps:+$eps,}$ep"
  done
  shard_args+=(--shard "$eps")
done
dedicated_args=()
for ((k = SHARDS; k < TOTAL; k++)); do dedicated_args+=(--dedicated "$k"); done
# QUIZ_GATEWAY_ARGS: more gateway options, e.g. "--samples-ms 500" (tests).
# shellcheck disable=SC2086
supervise gateway "$BIN/quiz-gateway" --listen "$HTTP" "${shard_args[@]}" "${dedicated_args[@]}" \
  --curve-secret "$CURVE/gateway.secret" --worker-key "$CURVE/worker.pub" ${QUIZ_GATEWAY_ARGS:-}

echo "make run: quiz backend on http://$HTTP ($SHARDS hashed + $DEDICATED dedicated shards," \
  "$REPLICAS worker(s) each, $CLUSTERS cluster(s), $token_note); workers' /metrics on" \
  "127.0.0.1:$METRICS_BASE + 100 replica + shard; Ctrl-C stops it" >&2
# Until Ctrl-C or SIGTERM (the traps above), or until every supervisor has ended.
wait "${pids[@]}" || true
exit 0
