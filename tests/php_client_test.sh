#!/usr/bin/env bash
# The PHP client without a catalog-server: every PHP file (generated src/,
# hand-written lib/, autoload.php, examples/, tests/) passes php -l;
# composer.json is valid and its autoload map finds both the Connect
# transport and the generated classes; the Connect transport passes its
# checks against a fake server (clients/php/tests/transport_test.php, under
# php -S). Freshness of the generated code is tests/generated_clients_test.sh's
# job; the live suite is tests/php_connect_test.sh.
# Needs php-cli, php-curl, php-google-protobuf, php-bcmath, composer.
set -euo pipefail
cd "$(dirname "$0")/../clients/php"
count=0
while IFS= read -r -d '' file; do
  php -l "$file" >/dev/null || { echo "FAIL: php -l $file"; php -l "$file"; exit 1; }
  count=$((count + 1))
done < <(find src lib examples tests autoload.php -name '*.php' -print0)
[ "$count" -ge 20 ] || { echo "FAIL: only $count PHP files found"; exit 1; }
grep -q 'class CatalogServiceClient' src/Catalog/V1/CatalogServiceClient.php
echo "ok: $count PHP files pass php -l"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/php-client.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export COMPOSER_HOME="$WORK/composer-home" COMPOSER_ALLOW_SUPERUSER=1 COMPOSER_NO_INTERACTION=1
composer validate --strict --no-check-publish --no-check-lock composer.json >"$WORK/validate.log" 2>&1 ||
  { echo "FAIL: composer validate"; cat "$WORK/validate.log"; exit 1; }
echo "ok: composer.json is valid (composer validate --strict)"
# Composer's own autoloader for this package (a copy: no vendor/ here), with
# the protobuf runtime from Debian's php-google-protobuf instead of Packagist.
cp -r composer.json src lib "$WORK/"
(cd "$WORK" && composer dump-autoload --no-scripts >"$WORK/dump.log" 2>&1) ||
  { echo "FAIL: composer dump-autoload"; cat "$WORK/dump.log"; exit 1; }
php -r '
  $loader = require $argv[1] . "/vendor/autoload.php";
  $loader->addPsr4("Google\\Protobuf\\", "/usr/share/php/Google/Protobuf/");
  $loader->addPsr4("GPBMetadata\\Google\\", "/usr/share/php/GPBMetadata/Google/");
  $client = new Catalog\Connect\CatalogV2Client("http://127.0.0.1:1");
  $request = (new Catalog\V2\GetProductRequest())->setId("x");
  exit($request->serializeToString() === "\x0a\x01x" ? 0 : 1);
' "$WORK" || { echo "FAIL: composer's autoload map does not find Catalog\\Connect and Catalog\\V2 classes"; exit 1; }
echo "ok: composer's autoload map loads Catalog\\Connect (lib/) and Catalog\\V2 (src/)"

php tests/transport_test.php
