#!/usr/bin/env bash
# Runs the README's buf curl block (after <!-- readme-test:buf-curl -->)
# against the live server in CATALOG_TEST_TARGET and checks what it prints,
# so the walkthrough a frontend engineer copies keeps working.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
block="$(awk '/<!-- readme-test:buf-curl -->/ { found = 1; next }
              found && /^```sh/ { inside = 1; next }
              inside && /^```/ { exit }
              inside { print }' README.md)"
[ -n "$block" ] || { echo "FAIL: no buf curl block in README.md"; exit 1; }
grep -q '^S=http://127.0.0.1:50051$' <<<"$block" || { echo "FAIL: README block no longer sets S="; exit 1; }
block="${block/S=http:\/\/127.0.0.1:50051/S=http://$CATALOG_TEST_TARGET}"
output="$(bash -euo pipefail -c "$block" 2>&1)" || { echo "FAIL: the README block failed:"; echo "$output"; exit 1; }
for expected in 'catalog.v1.CatalogService' 'grpc.health.v1.Health' 'grpc.reflection.v1alpha.ServerReflection' \
  'catalog.v1.CatalogService/BatchGetProducts' '"id": "shoe-1"' '"version": "1"' '"missingIds": [' '"nope"' \
  '"status": "SERVING"' 'catalog.v2.CatalogService' '"results": [' '"notFound": {}'; do
  grep -qF -- "$expected" <<<"$output" || { echo "FAIL: README output lacks $expected:"; echo "$output"; exit 1; }
  echo "ok: $expected"
done
