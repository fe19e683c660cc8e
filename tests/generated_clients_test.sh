#!/usr/bin/env bash
# Fails when the committed generated clients are stale: regenerates them
# into a temporary directory with tools/gen-clients and compares.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
"$ROOT/tools/gen-clients" "$OUT" 2>/dev/null
status=0
for dir in python/src php/src typescript/src/gen; do
  if ! diff -r "$ROOT/clients/$dir" "$OUT/$dir" >"$OUT/diff.txt"; then
    echo "FAIL: clients/$dir is stale; run tools/gen-clients and commit:"
    head -20 "$OUT/diff.txt"
    status=1
  else
    echo "ok: clients/$dir is current"
  fi
done
exit $status
