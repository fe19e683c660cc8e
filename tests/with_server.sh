#!/usr/bin/env bash
# usage: tests/with_server.sh SERVER_BINARY COMMAND [ARGS...]
# Runs COMMAND with CATALOG_TEST_TARGET=127.0.0.1:PORT (and its /metrics at
# CATALOG_TEST_METRICS_TARGET=127.0.0.1:PORT, its Connect listener at
# CATALOG_TEST_CONNECT_TARGET=127.0.0.1:PORT) pointing at a fresh
# catalog-server: its own redis-server on a free port, its own database in
# the MariaDB of tools/test (CATALOG_TEST_MYSQL_PORT). Stops both afterwards,
# and exits with COMMAND's status. For the client suites written in other
# languages; C++ tests use tests/harness instead.
source "$(dirname "$0")/../tools/lib.sh"
SERVER="$1"
shift
[ -n "${CATALOG_TEST_MYSQL_PORT:-}" ] || die "CATALOG_TEST_MYSQL_PORT is not set: run through tools/test"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/with-server.XXXXXX")"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  stop_pidfile "$WORK/redis/redis.pid"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

REDIS_PORT="$(free_port)"
start_redis "$WORK/redis" "$REDIS_PORT" --save '' --appendonly no
# A database tools/test granted the catalog accounts (catalog%), created by
# the harness's own account, migrated as catalog_migrate; the server runs as
# catalog with its password in the environment.
DATABASE="catalog_client_test_$$_$RANDOM"
MYSQL_PWD=catalog-test-admin mariadb --no-defaults -h 127.0.0.1 -P "$CATALOG_TEST_MYSQL_PORT" -ucatalog_test_admin \
  -e "CREATE DATABASE $DATABASE"
BUILD_DIR="$(dirname "$SERVER")/.." migrate_schema "$CATALOG_TEST_MYSQL_PORT" --mysql_database="$DATABASE"
PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
METRICS_PORT="$(free_port)"
CONNECT_PORT="$(free_port)"
CATALOG_MYSQL_PASSWORD="$CATALOG_LOCAL_SERVICE_PASSWORD" "$SERVER" --listen_address="127.0.0.1:$PORT" \
  --admin_listen_address="127.0.0.1:$ADMIN_PORT" --metrics_listen_address="127.0.0.1:$METRICS_PORT" \
  --http_listen_address="127.0.0.1:$CONNECT_PORT" --redis_port="$REDIS_PORT" \
  --mysql_port="$CATALOG_TEST_MYSQL_PORT" --mysql_database="$DATABASE" 2>"$WORK/server.log" &
SERVER_PID=$!
(wait_for_port "$PORT" 30 catalog-server && wait_for_port "$CONNECT_PORT" 10 "catalog-server (Connect)") || { tail -5 "$WORK/server.log" >&2; exit 1; }
export CATALOG_TEST_TARGET="127.0.0.1:$PORT"
export CATALOG_TEST_METRICS_TARGET="127.0.0.1:$METRICS_PORT"
export CATALOG_TEST_CONNECT_TARGET="127.0.0.1:$CONNECT_PORT"
export CATALOG_TEST_REDIS_PORT="$REDIS_PORT"
"$@"
