#!/usr/bin/env bash
# The PHP client cannot be run here (ext-grpc is not packaged for Debian 12):
# check that every generated file and the example are valid PHP. Freshness of
# the generated code is tests/generated_clients_test.sh's job.
set -euo pipefail
cd "$(dirname "$0")/../clients/php"
count=0
while IFS= read -r -d '' file; do
  php -l "$file" >/dev/null || { echo "FAIL: php -l $file"; php -l "$file"; exit 1; }
  count=$((count + 1))
done < <(find src examples -name '*.php' -print0)
[ "$count" -ge 10 ] || { echo "FAIL: only $count PHP files found"; exit 1; }
grep -q 'class CatalogServiceClient' src/Catalog/V1/CatalogServiceClient.php
echo "ok: $count PHP files pass php -l"
