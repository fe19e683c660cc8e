#!/usr/bin/env bash
# The proto gate, as one test: buf lint passes; the API is not breaking
# against any released baseline (proto/releases/*.binpb); and the gate bites:
# each breaking edit, applied to a copy, fails `buf breaking` with its rule
# named.   usage: proto_gate_test.sh BUF PROTO_DIR
set -euo pipefail
BUF="$1"
PROTO="$2"
BASELINE="$PROTO/releases/v1.0.binpb"

"$BUF" lint "$PROTO"
echo "ok: buf lint"
for baseline in "$PROTO"/releases/*.binpb; do
  "$BUF" breaking "$PROTO" --against "$baseline"
  echo "ok: not breaking against $(basename "$baseline")"
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
expect_break() { # what, sed expression on catalog/v1/catalog.proto, rule
  rm -rf "$WORK/p"
  cp -r "$PROTO" "$WORK/p"
  rm -rf "$WORK/p/releases"
  local file="$WORK/p/catalog/v1/catalog.proto"
  sed -i "$2" "$file"
  if cmp -s "$file" "$PROTO/catalog/v1/catalog.proto"; then
    echo "FAIL: the edit for '$1' changed nothing (the test is stale)"
    exit 1
  fi
  local out
  if out="$("$BUF" breaking "$WORK/p" --against "$BASELINE" --error-format json)"; then
    echo "FAIL: $1 was not flagged as breaking"
    exit 1
  fi
  if ! grep -q "\"type\":\"$3\"" <<<"$out"; then
    echo "FAIL: $1 was flagged, but not with rule $3: $out"
    exit 1
  fi
  echo "ok: $1 -> $3"
}
expect_break "renumber Product.title" 's/  string title = 3;/  string title = 33;/' FIELD_NO_DELETE
expect_break "remove RPC DeleteProducts" '/rpc DeleteProducts/d' RPC_NO_DELETE
expect_break "retype Product.stock_quantity" 's/  int64 stock_quantity = 6;/  int32 stock_quantity = 6;/' FIELD_SAME_TYPE
expect_break "rename Product.sku" 's/  string sku = 2;/  string stock_keeping_unit = 2;/' FIELD_SAME_NAME

# And an additive change is not flagged.
rm -rf "$WORK/p" && cp -r "$PROTO" "$WORK/p" && rm -rf "$WORK/p/releases"
echo 'message AddedLater { string note = 1; }' >>"$WORK/p/catalog/v1/catalog.proto"
"$BUF" breaking "$WORK/p" --against "$BASELINE"
echo "ok: an added message is not breaking"
