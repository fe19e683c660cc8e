#!/usr/bin/env bash
# Run by tests/with_server.sh: a real prometheus with deploy/prometheus's
# configuration and alert rules, its targets replaced by the live server's
# /metrics (CATALOG_TEST_METRICS_TARGET) and a 1 s scrape interval. Passes
# when the HTTP API answers `up` = 1 for the server, a catalog series with a
# value, and all the rules loaded and healthy.
set -euo pipefail
source "$(dirname "$0")/../tools/lib.sh"
[ -n "${CATALOG_TEST_METRICS_TARGET:-}" ] || die "run through tests/with_server.sh"
command -v prometheus >/dev/null || die "prometheus is missing (apt-get install prometheus)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/prometheus.XXXXXX")"
cleanup() {
  local rc=$?
  [ -n "${PROM_PID:-}" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

DEPLOY="$ROOT/deploy/prometheus"
cp "$DEPLOY/alerts.yml" "$WORK/"
sed -e "s/scrape_interval: 15s/scrape_interval: 1s/" -e "s/evaluation_interval: 15s/evaluation_interval: 1s/" \
  -e "s/targets: \[.*\]/targets: [\"$CATALOG_TEST_METRICS_TARGET\"]/" "$DEPLOY/prometheus.yml" >"$WORK/prometheus.yml"
grep -q "\"$CATALOG_TEST_METRICS_TARGET\"" "$WORK/prometheus.yml" || die "could not point the scrape config at the server"
PORT="$(free_port)"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
  --web.listen-address="127.0.0.1:$PORT" >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
wait_for_port "$PORT" 30 prometheus

# The value of the first sample of an instant query, "" if none yet.
query() {
  curl -sf --get --data-urlencode "query=$1" "http://127.0.0.1:$PORT/api/v1/query" |
    python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
up=""
for _ in $(seq 300); do
  up="$(query "up{job=\"catalog\", instance=\"$CATALOG_TEST_METRICS_TARGET\"}" || true)"
  [ "$up" = 1 ] && break
  sleep 0.1
done
[ "$up" = 1 ] || { tail -20 "$WORK/prometheus.log" >&2; die "prometheus never scraped the server (up = '$up')"; }
policy="$(query 'catalog_redis_maxmemory_policy_ok{job="catalog"}')"
[ "$policy" = 1 ] || die "catalog_redis_maxmemory_policy_ok is '$policy', not 1"
requests="$(query 'catalog_rpc_requests_total{job="catalog"}')"
[ -n "$requests" ] || die "no catalog_rpc_requests_total series"
# A labelled series, selected by its labels through the API.
build="$(query 'catalog_build_info{job="catalog", version=~".+", revision=~".+"}')"
[ "$build" = 1 ] || die "catalog_build_info{version, revision} is '$build', not 1"
pools="$(query 'count(catalog_pool_max_connections{job="catalog"} > 0)')"
[ -n "$pools" ] && [ "$pools" -ge 2 ] || die "pools with catalog_pool_max_connections > 0: '$pools' (want a Redis and a MySQL pool)"
# Rules are "unknown" until their first evaluation (every second here).
rules=""
for _ in $(seq 300); do
  rules="$(curl -sf "http://127.0.0.1:$PORT/api/v1/rules" | python3 -c '
import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
print(len(rules), sum(r["health"] == "ok" for r in rules))' || true)"
  [ "$rules" = "7 7" ] && break
  sleep 0.1
done
[ "$rules" = "7 7" ] || die "rules loaded / healthy: '$rules' (want 7 7)"
echo "prometheus scraped $CATALOG_TEST_METRICS_TARGET: up 1, policy_ok $policy, rpc_requests_total $requests," \
  "build_info 1, pools $pools, rules $rules"
