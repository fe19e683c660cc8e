#!/usr/bin/env bash
# The Redis and MariaDB configuration fragments in deploy/ are accepted by
# the real servers: MariaDB parses deploy/mariadb/catalog.cnf (an unknown or
# misspelt option fails), and a redis-server started with deploy/redis.conf
# reports the policy and persistence catalog-service relies on.
set -euo pipefail
source "$(dirname "$0")/../tools/lib.sh"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/deploy-config.XXXXXX")"
cleanup() {
  local rc=$?
  if [ -n "${REDIS_PID:-}" ]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

mariadbd --defaults-file="$ROOT/deploy/mariadb/catalog.cnf" --help --verbose >"$WORK/mariadb.out" 2>"$WORK/mariadb.err" ||
  { cat "$WORK/mariadb.err" >&2; die "mariadbd refuses deploy/mariadb/catalog.cnf"; }
for want in "max-allowed-packet 67108864" "sync-binlog 1" "binlog-format ROW" "slow-query-log TRUE"; do
  grep -Eq "^${want% *} +${want#* }\$" "$WORK/mariadb.out" || die "catalog.cnf: mariadbd does not report $want"
done

PORT="$(free_port)"
redis-server "$ROOT/deploy/redis.conf" --port "$PORT" --bind 127.0.0.1 --dir "$WORK" --maxmemory 64mb \
  >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
wait_for_port "$PORT" 10 redis-server
policy="$(redis-cli -p "$PORT" config get maxmemory-policy | tail -1)"
aof="$(redis-cli -p "$PORT" config get appendonly | tail -1)"
[ "$policy" = volatile-lru ] || die "deploy/redis.conf: maxmemory-policy is '$policy'"
[ "$aof" = yes ] || die "deploy/redis.conf: appendonly is '$aof'"
echo "deploy/mariadb/catalog.cnf accepted by mariadbd; deploy/redis.conf: policy $policy, appendonly $aof"
