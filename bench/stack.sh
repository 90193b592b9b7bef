# Sourced by the bench scripts: their own throwaway stack. bench_stack NAME starts a PostgreSQL
# cluster (fsync off), migrates it, starts 2 release workers (plus $BENCH_WORKER_ARGS) and a
# gateway on free ports, waits until it is ready, and stops and removes all of it on exit
# (BENCH_KEEP=1 keeps the work directory; $BENCH_GATEWAY_ARGS go last on the gateway's command
# line). It sets WORK, DSN, URL, QUIZ_PLATFORM_TOKEN and pids (worker 0, worker 1, gateway).

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

# bench_workers URL: (re)starts the stack's two workers on the database at URL (bench/pooler.sh
# points them at a pooler), as pids[0] and pids[1].
bench_workers() {
  local k
  for k in 0 1; do
    if [ "${pids[$k]:-0}" != 0 ]; then kill -TERM "${pids[$k]}" 2>/dev/null || true; wait "${pids[$k]}" 2>/dev/null || true; fi
  done
  for k in 0 1; do
    # shellcheck disable=SC2086
    QUIZ_DATABASE_URL=$1 build/quiz-worker --shard $k --shards 2 --endpoint tcp://127.0.0.1:$((BENCH_ZMQ + k)) \
      "${wk_link[@]}" ${BENCH_WORKER_ARGS:-} 2>>"$WORK/worker$k.log" &
    pids[k]=$!
  done
}

bench_stack() {
  WORK=$(mktemp -d "/tmp/quiz-$1.XXXXXX")
  chmod 755 "$WORK"
  pids=()
  trap bench_stack_cleanup EXIT
  local pg_port http_port zmq
  http_port=$(free_port 17000 1900)
  zmq=$(free_port 19000 999)
  BENCH_ZMQ=$zmq
  # A port can be taken between the check and the start (a test cluster stopping or starting
  # next door): try a few.
  for try in 1 2 3 4 5; do
    pg_port=$(free_port 56100 800)
    DSN=$(sh deploy/dev/pg.sh start "$WORK/pg" "$pg_port" --nosync 2>"$WORK/pg-start.log") && break
    [ "$try" = 5 ] && { cat "$WORK/pg-start.log" >&2; return 1; }
  done
  export QUIZ_DATABASE_URL=$DSN QUIZ_KEYS_DIR=$WORK/keys
  export QUIZ_PLATFORM_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  mkdir -p "$QUIZ_KEYS_DIR"
  od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$QUIZ_KEYS_DIR/bench.key"
  build/quiz-worker --migrate --shards 2 2>/dev/null
  # The worker link as deployed (CurveZMQ), unless BENCH_CURVE=0 measures it in plaintext.
  local gw_link=()
  wk_link=()
  if [ "${BENCH_CURVE:-1}" = 0 ]; then
    wk_link=(--insecure-no-curve) gw_link=(--insecure-no-curve)
  else
    build/quizctl keygen --dir "$WORK/curve" worker >/dev/null
    build/quizctl keygen --dir "$WORK/curve" gateway >/dev/null
    mkdir -p "$WORK/curve/allowed" && cp "$WORK/curve/gateway.pub" "$WORK/curve/allowed/"
    wk_link=(--curve-secret "$WORK/curve/worker.secret" --allowed-gateways "$WORK/curve/allowed")
    gw_link=(--curve-secret "$WORK/curve/gateway.secret" --worker-key "$WORK/curve/worker.pub")
  fi
  pids=(0 0)
  bench_workers "$DSN"
  # The benchmarks log in from one address far more than a person would, with more connections
  # than a quarter of the gateway's threads, and drive a few tenants each far past the
  # per-tenant rate: lift those limits (the tenant rate is still checked, never reached).
  build/quiz-gateway --listen 127.0.0.1:$http_port --login-rate 0 --tenant-rate 100000000 --password-inflight 64 --shard tcp://127.0.0.1:$zmq \
    --shard tcp://127.0.0.1:$((zmq + 1)) "${gw_link[@]}" ${BENCH_GATEWAY_ARGS:-} 2>>"$WORK/gateway.log" &
  pids+=($!)
  URL=http://127.0.0.1:$http_port
  for _ in $(seq 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
}
