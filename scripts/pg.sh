#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL server for the tests.
#
#   eval "$(scripts/pg.sh start DIR)"   prints export XAGW_TEST_POSTGRES_DSN=...
#   scripts/pg.sh stop DIR
#
# The cluster lives in DIR, listens only on a Unix socket inside DIR and on a
# loopback port, trusts local connections, and is deleted on stop. initdb
# refuses to run as root, so as root the server runs as the "postgres" user.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?data directory}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "pg.sh: no PostgreSQL server found under /usr/lib/postgresql (run scripts/deps.sh test)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  port=$(( 20000 + RANDOM % 20000 ))
  as_owner "$bindir/initdb" -D "$dir/data" -A trust -U xagw -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export XAGW_TEST_POSTGRES_DSN='postgres://xagw@127.0.0.1:$port/postgres?sslmode=disable'"
  ;;
stop)
  [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*) echo "pg.sh: unknown command $cmd" >&2; exit 2 ;;
esac
