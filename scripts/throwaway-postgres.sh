#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster for the tests, in a temporary directory, on a free
# local port, as an unprivileged user (postgres refuses to run as root). Meant to be sourced:
#   source scripts/throwaway-postgres.sh   # sets HOSTGUARD_TEST_POSTGRES_URL, stops on exit
#   HOSTGUARD_PG_DURABLE=1 source ...      # the same, with fsync and synchronous commits on
set -euo pipefail

pg_bin=${PG_BIN:-/usr/lib/postgresql/15/bin}
pg_dir=$(mktemp -d /tmp/hostguard-pg.XXXXXX)
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

if [ "$(id -u)" = 0 ]; then
  pg_user=${PG_OS_USER:-postgres}
  id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home "$pg_user"
  chown "$pg_user" "$pg_dir"
  pg_run=(runuser -u "$pg_user" --)
else
  pg_run=()
fi

"${pg_run[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log"; exit 1; }
# The tests trade durability for speed: a crash of this cluster loses nothing they need. The
# bench measures what users get, so HOSTGUARD_PG_DURABLE=1 (scripts/bench.sh) keeps
# PostgreSQL's own settings: every commit flushed (fsync) before it returns.
pg_fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ "${HOSTGUARD_PG_DURABLE:-}" != 1 ] || pg_fast=""
"${pg_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 $pg_fast -c max_connections=400" \
  start >/dev/null

stop_throwaway_postgres() {
  "${pg_run[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap stop_throwaway_postgres EXIT

export HOSTGUARD_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
echo "throwaway PostgreSQL on 127.0.0.1:$pg_port ($pg_dir)"
