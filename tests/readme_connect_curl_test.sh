#!/usr/bin/env bash
# Runs the README's Connect curl block (after <!-- readme-test:connect-curl -->)
# against the live server's Connect listener in CATALOG_TEST_CONNECT_TARGET and
# checks what it prints, so the walkthrough a PHP or frontend engineer copies
# keeps working.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
block="$(awk '/<!-- readme-test:connect-curl -->/ { found = 1; next }
              found && /^```sh/ { inside = 1; next }
              inside && /^```/ { exit }
              inside { print }' README.md)"
[ -n "$block" ] || { echo "FAIL: no Connect curl block in README.md"; exit 1; }
grep -q '^C=http://127.0.0.1:8080$' <<<"$block" || { echo "FAIL: README block no longer sets C="; exit 1; }
block="${block/C=http:\/\/127.0.0.1:8080/C=http://$CATALOG_TEST_CONNECT_TARGET}"
output="$(bash -euo pipefail -c "$block" 2>&1)" || { echo "FAIL: the README block failed:"; echo "$output"; exit 1; }
# Extended regular expressions; JSON may be compact or spaced; header names
# and the status line are matched without regard to case.
s='[[:space:]]*'
for expected in \
  "\"id\":$s\"boot-1\"" "\"version\":$s\"1\"" "\"amountMinor\":$s\"8999\"" "\"missingIds\":$s\\[$s\"nope\"$s\\]" \
  "\"code\":$s\"not_found\"" 'product \\"nope\\" not found' ' HTTP 404$' \
  '^HTTP/1\.1 200' '^trailer-x-request-id: page-42' "\"notFound\":$s\\{$s\\}" "\"title\":$s\"Brown boot\"" \
  '^  id: "boot-1"$' '^  version: 1$' '^missing_ids: "nope"$'; do
  grep -qiE -- "$expected" <<<"${output//$'\r'/}" || { echo "FAIL: README output lacks /$expected/:"; echo "$output"; exit 1; }
  echo "ok: /$expected/"
done
