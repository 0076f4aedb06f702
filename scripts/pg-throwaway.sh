#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the store's PostgreSQL tests and benchmark.
#
#   scripts/pg-throwaway.sh up     install Debian's postgresql if missing (needs root), create a
#                                  cluster in a temp dir as an unprivileged user, start it on
#                                  127.0.0.1 (trust authentication: loopback only, throw-away)
#   scripts/pg-throwaway.sh env    print `export SERVEBENCH_TEST_POSTGRES_URL=...`
#   scripts/pg-throwaway.sh down   stop it and delete its directory
#
# Settings: SERVEBENCH_PG_DIR (default ${TMPDIR:-/tmp}/servebench-pg), SERVEBENCH_PG_PORT
# (default 54329). Usage in CI (.ci/run):
#   scripts/pg-throwaway.sh up && eval "$(scripts/pg-throwaway.sh env)"
#   cargo test -p servebench-store --test backends -- --ignored postgres_
#   scripts/pg-throwaway.sh down
set -euo pipefail

DIR="${SERVEBENCH_PG_DIR:-${TMPDIR:-/tmp}/servebench-pg}"
PORT="${SERVEBENCH_PG_PORT:-54329}"
DB_USER=servebench

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# Runs a command as the unprivileged cluster owner: `postgres` when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

up() {
  local bin
  bin="$(pg_bin || true)"
  if [ -z "$bin" ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "pg-throwaway: PostgreSQL is not installed and we are not root: run 'apt-get install -y postgresql' as root" >&2
      exit 1
    fi
    echo "pg-throwaway: installing Debian's postgresql" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    bin="$(pg_bin)"
  fi
  if [ -f "$DIR/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
    echo "pg-throwaway: already running in $DIR" >&2
    return 0
  fi
  rm -rf "$DIR"
  mkdir -p "$DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$DIR"; fi
  as_owner "$bin/initdb" -D "$DIR/data" -U "$DB_USER" -A trust --no-sync >"$DIR/initdb.log" 2>&1 || {
    cat "$DIR/initdb.log" >&2
    exit 1
  }
  as_owner "$bin/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
    -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >&2 || {
    cat "$DIR/server.log" >&2
    exit 1
  }
  echo "postgres://$DB_USER@127.0.0.1:$PORT/postgres"
}

down() {
  local bin
  bin="$(pg_bin || true)"
  if [ -n "$bin" ] && [ -d "$DIR/data" ]; then
    as_owner "$bin/pg_ctl" -D "$DIR/data" -m fast -w stop >&2 || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export SERVEBENCH_TEST_POSTGRES_URL=postgres://$DB_USER@127.0.0.1:$PORT/postgres" ;;
  *)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
