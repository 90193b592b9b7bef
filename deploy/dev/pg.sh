#!/bin/sh
# A private PostgreSQL cluster for development and tests (never a system one).
#   pg.sh start DIR PORT [--nosync]   initialise DIR if empty, start on 127.0.0.1:PORT, print DSN
#   pg.sh stop DIR                    fast shutdown
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user.
set -eu
cmd=$1 dir=$2
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] || { echo "pg.sh: no PostgreSQL server installed" >&2; exit 1; }
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  port=$3 sync=${4:-}
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; chmod 700 "$dir"; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_owner "$bindir/initdb" -D "$dir" -U quiz -A trust -E UTF8 --locale=C.UTF-8 ${sync:+--nosync} >"$dir.initdb.log" 2>&1 ||
      { cat "$dir.initdb.log" >&2; exit 1; }
  fi
  # wal_level=logical: tenant moves between clusters use logical replication.
  opts="-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c wal_level=logical"
  [ -n "$sync" ] && opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  as_owner "$bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null ||
    { tail -n 20 "$dir/server.log" >&2; exit 1; }
  as_owner "$bindir/psql" -h 127.0.0.1 -p "$port" -U quiz -d postgres -qAtc \
    "SELECT 1 FROM pg_database WHERE datname = 'quiz'" | grep -q 1 ||
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U quiz quiz
  echo "postgresql://quiz@127.0.0.1:$port/quiz"
  ;;
stop)
  [ -f "$dir/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: pg.sh start DIR PORT [--nosync] | stop DIR" >&2; exit 2 ;;
esac
