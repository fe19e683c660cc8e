#!/usr/bin/env bash
# The PHP Connect client against a live catalog-server; run through
# tests/with_server.sh, which sets CATALOG_TEST_CONNECT_TARGET (host:port of
# --http_listen_address):
#   1. clients/php/tests/connect_test.php: every v1 and v2 RPC over binary
#      protobuf and JSON, HTTP/1.1 and h2c, errors, deadlines, connection
#      reuse, request ids;
#   2. clients/php/examples/product_page.php: a page of two stored products
#      and a missing one, a bad id (exit 1, "catalog error invalid_argument:
#      ..."), and an unreachable server (exit 1, "catalog error unavailable").
# Prints "ok: ..." per check and the counts; exits non-zero on any failure.
# Needs php-cli, php-curl, php-google-protobuf, php-bcmath.
set -euo pipefail
: "${CATALOG_TEST_CONNECT_TARGET:?run through tests/with_server.sh (CATALOG_TEST_CONNECT_TARGET is not set)}"
cd "$(dirname "$0")/../clients/php"
URL="http://$CATALOG_TEST_CONNECT_TARGET"

suite=0
php tests/connect_test.php || suite=$?

passed=0
failed=0
check() {  # check NAME COMMAND...: one line per check
  local name="$1"
  shift
  if "$@"; then
    echo "ok: example: $name"
    passed=$((passed + 1))
  else
    echo "FAIL: example: $name"
    failed=$((failed + 1))
  fi
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/php-connect.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
RUN="phpex-$$-$RANDOM"
# Two products for the page, through the client itself.
php -- "$URL" "$RUN" <<'PHP'
<?php
require 'autoload.php';
[, $url, $run] = $argv;
$products = [];
foreach ([["$run-1", 'Trail shoe', 8990], ["$run-2", 'Rain boot', 4505]] as [$id, $title, $amount]) {
    $products[] = new Catalog\V1\Product(['id' => $id, 'sku' => "SKU-$id", 'title' => $title,
        'price' => new Catalog\V1\Price(['currency_code' => 'EUR', 'amount_minor' => $amount])]);
}
(new Catalog\Connect\CatalogV1Client($url, new Catalog\Connect\ConnectOptions(timeoutMs: 5000)))
    ->upsertProducts(new Catalog\V1\UpsertProductsRequest(['products' => $products]));
PHP

status=0
php examples/product_page.php "$URL" "$RUN-2" "$RUN-gone" "$RUN-1" >"$WORK/page.out" 2>"$WORK/page.err" || status=$?
printf '%s\n' "$RUN-2  Rain boot  45.05 EUR" "$RUN-1  Trail shoe  89.90 EUR" "$RUN-gone  (no longer available)" \
  >"$WORK/page.expected"
check "a page of products in request order, prices formatted, missing ids listed" \
  bash -c "[ $status -eq 0 ] && diff '$WORK/page.expected' '$WORK/page.out'"
[ "$status" -eq 0 ] && diff -q "$WORK/page.expected" "$WORK/page.out" >/dev/null ||
  { echo "   exit $status; stdout:"; cat "$WORK/page.out"; echo "   stderr:"; cat "$WORK/page.err"; }

status=0
php examples/product_page.php "$URL" "$RUN-1" "not ok" >"$WORK/bad.out" 2>"$WORK/bad.err" || status=$?
check "a bad id: exit 1, the code and the server's message naming the field on stderr" \
  bash -c "[ $status -eq 1 ] && grep -qF 'catalog error invalid_argument: ids[1]: \"not ok\" is not a valid id' '$WORK/bad.err' && [ ! -s '$WORK/bad.out' ]"

# A port nothing listens on: taken from the kernel, then released.
closed_port="$(php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); echo substr(strrchr(stream_socket_get_name($s, false), ":"), 1);')"
status=0
php examples/product_page.php "http://127.0.0.1:$closed_port" "$RUN-1" >"$WORK/down.out" 2>"$WORK/down.err" || status=$?
check "no server: exit 1 with catalog error unavailable" \
  bash -c "[ $status -eq 1 ] && grep -q '^catalog error unavailable: ' '$WORK/down.err'"

php -- "$URL" "$RUN" <<'PHP'
<?php
require 'autoload.php';
[, $url, $run] = $argv;
(new Catalog\Connect\CatalogV1Client($url))->deleteProducts(new Catalog\V1\DeleteProductsRequest(['ids' => ["$run-1", "$run-2"]]));
PHP

echo "example checks: $passed passed, $failed failed"
[ "$suite" -eq 0 ] || { echo "FAIL: clients/php/tests/connect_test.php exited $suite"; exit 1; }
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
