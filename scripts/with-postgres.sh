#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster: initdb into a temp dir, start it
# on a free loopback port, export ERRAND_TEST_POSTGRES_URL, run "$@", stop and delete
# the cluster. Installs PostgreSQL from Debian packages when it is missing.
set -euo pipefail

find_pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if ! PG_BIN=$(find_pg_bin); then
  echo "with-postgres: installing postgresql from Debian packages" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  PG_BIN=$(find_pg_bin) || { echo "with-postgres: postgresql installed but initdb not found" >&2; exit 1; }
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
PGDIR=$(mktemp -d /tmp/errand-pg.XXXXXX)
chmod 755 "$PGDIR"

# PostgreSQL refuses to run as root: run the cluster as the postgres user then.
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PGDIR" --shell /usr/sbin/nologin postgres
  chown postgres "$PGDIR"
  as_owner() { runuser -u postgres -- "$@"; }
fi

stop() {
  as_owner "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap stop EXIT

as_owner "$PG_BIN/initdb" -D "$PGDIR/data" -U errand -A trust -E UTF8 --no-locale >/dev/null
as_owner "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 60 start \
  -o "-p $PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" >/dev/null

export ERRAND_TEST_POSTGRES_URL="postgres://errand@127.0.0.1:$PORT/postgres"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PORT" >&2
"$@"
