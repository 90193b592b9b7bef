# Sourced by the bench scripts: their own throwaway stack. bench_stack NAME starts a PostgreSQL
# cluster (fsync off), migrates it, starts 2 release workers (plus $BENCH_WORKER_ARGS) and a
# gateway on free ports, waits until it is ready, and stops and removes all of it on exit
# (BENCH_KEEP=1 keeps the work directory). It sets WORK, DSN, URL, QUIZ_PLATFORM_TOKEN and pids
# (worker 0, worker 1, gateway).

# free_port BASE SPAN: a random port in [BASE, BASE+SPAN) that no one listens on now, so a
# leftover cluster or a test run next door cannot collide with ours.
free_port() {
  local p
  for _ in $(seq 50); do
    p=$(($1 + RANDOM % $2))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "no free port in $1+$2" >&2; return 1
}

bench_stack_cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  sh deploy/dev/pg.sh stop "$WORK/pg"
  if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}

bench_stack() {
  WORK=$(mktemp -d "/tmp/quiz-$1.XXXXXX")
  chmod 755 "$WORK"
  pids=()
  trap bench_stack_cleanup EXIT
  local pg_port http_port zmq
  pg_port=$(free_port 56100 800)
  http_port=$(free_port 17000 1900)
  zmq=$(free_port 19000 999)
  DSN=$(sh deploy/dev/pg.sh start "$WORK/pg" "$pg_port" --nosync)
  export QUIZ_DATABASE_URL=$DSN QUIZ_KEYS_DIR=$WORK/keys
  export QUIZ_PLATFORM_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$QUIZ_KEYS_DIR"
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$QUIZ_KEYS_DIR/bench.key"
  build/quiz-worker --migrate --shards 2 2>/dev/null
  for k in 0 1; do
    # shellcheck disable=SC2086
    build/quiz-worker --shard $k --shards 2 --endpoint tcp://127.0.0.1:$((zmq + k)) \
      ${BENCH_WORKER_ARGS:-} 2>>"$WORK/worker$k.log" &
    pids+=($!)
  done
  # The benchmarks log in from one address far more than a person would, and with more
  # connections than a quarter of the gateway's threads: lift both limits.
  build/quiz-gateway --listen 127.0.0.1:$http_port --login-rate 0 --password-inflight 64 --shard tcp://127.0.0.1:$zmq \
    --shard tcp://127.0.0.1:$((zmq + 1)) 2>>"$WORK/gateway.log" &
  pids+=($!)
  URL=http://127.0.0.1:$http_port
  for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
}
