#!/bin/sh
# A throwaway PgBouncer in front of a test cluster, as on Neon: transaction pooling, a small
# pool, TLS required of clients (a self-signed certificate made here).
#   pgbouncer.sh start DIR PG_URL PORT   prints the pooled URL (sslmode=require)
#   pgbouncer.sh stop DIR
# Two databases: `quiz` (pool of 3 server connections per login) and `quiz_canary` (1: every
# client of a login shares one server connection); the admin console is database `pgbouncer`
# for user quiz. Logins are trusted, as by the cluster (tests/run.sh's pg.sh); PgBouncer still
# wants every user named in its auth_file. As root it runs as `postgres`, which refuses root.
set -eu
cmd=$1 dir=$2
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  url=$3 port=$4
  pg_port=$(echo "$url" | sed -n 's|.*@[^:/]*:\([0-9]*\)/.*|\1|p')
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$dir/server.key" -out "$dir/server.crt" >/dev/null 2>&1
  {
    echo '"quiz" ""'
    echo '"quiz_provisioner" ""'
    for k in $(seq 0 15); do echo "\"quiz_shard_$k\" \"\""; done
  } > "$dir/users.txt"
  cat > "$dir/pgbouncer.ini" <<INI
[databases]
quiz = host=127.0.0.1 port=$pg_port dbname=quiz
quiz_canary = host=127.0.0.1 port=$pg_port dbname=quiz pool_size=1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
admin_users = quiz
pool_mode = transaction
default_pool_size = 3
max_client_conn = 1000
server_lifetime = 3600
client_tls_sslmode = require
client_tls_key_file = $dir/server.key
client_tls_cert_file = $dir/server.crt
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  [ "$(id -u)" = 0 ] && chown -R postgres "$dir"
  as_owner pgbouncer -d "$dir/pgbouncer.ini" || { cat "$dir/pgbouncer.log" >&2; exit 1; }
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  # Something else may answer on the port (the daemon then could not bind it and exited): only
  # a running PgBouncer that says it listens counts, else the caller tries another port.
  sleep 0.2
  if ! { [ -f "$dir/pgbouncer.pid" ] && kill -0 "$(cat "$dir/pgbouncer.pid")" 2>/dev/null &&
         grep -q "listening on 127.0.0.1:$port" "$dir/pgbouncer.log"; }; then
    cat "$dir/pgbouncer.log" >&2; exit 1
  fi
  echo "postgresql://quiz@127.0.0.1:$port/quiz?sslmode=require"
  ;;
stop)
  [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
  ;;
*)
  echo "usage: pgbouncer.sh start DIR PG_URL PORT | stop DIR" >&2; exit 2 ;;
esac
