#!/usr/bin/env bash
# deploy/*.service: `systemd-analyze verify` reports nothing (no unknown key,
# no bad value; ExecStart pointed at the built binary, which is not
# installed here), and `systemd-analyze security --offline` rates each
# unit's exposure at most 2.0 ("OK"). No systemd runs as PID 1 on this
# machine, so the units themselves are not started here (README, Deploy).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SERVER="$1"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/units.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
for unit in catalog-server catalog-migrate; do
  sed "s|/usr/local/bin/catalog-server|$SERVER|" "$ROOT/deploy/$unit.service" >"$WORK/$unit.service"
done
out="$(cd "$WORK" && systemd-analyze verify ./catalog-migrate.service ./catalog-server.service 2>&1)"
if [ -n "$out" ]; then
  echo "systemd-analyze verify complained:"
  echo "$out"
  exit 1
fi
for unit in catalog-server catalog-migrate; do
  line="$(cd "$WORK" && systemd-analyze security --offline=true "./$unit.service" 2>&1 | grep 'Overall exposure level')"
  score="$(sed -E 's/.*: ([0-9.]+) .*/\1/' <<<"$line")"
  echo "$unit: exposure $score"
  awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' || { echo "$unit: exposure $score is above 2.0"; exit 1; }
done
echo "units verified"
