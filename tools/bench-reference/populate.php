<?php
// tools/bench-reference/populate.php: writes the reference keys that
// batch_get.php reads, `bench-ref:product:<id>` = that product's JSON, for
// the ids catalog-bench uses ("<prefix>%012d", i = 0 .. keys-1).
//
//   php populate.php --redis-port=P --keys=N [--prefix=bench] --from=URL
//   php populate.php --redis-port=P --keys=N [--prefix=bench] [--value-bytes=600]
//
// With --from (the way tools/bench uses it): URL is the catalog-server's
// Connect listener (http://127.0.0.1:PORT) after `catalog-bench populate`;
// the ids are read back with Connect JSON BatchGetProducts, 100 per call,
// and each returned product is stored as json_encode of its decoded object,
// one MSET per call. Chosen over generating the JSON here because the
// reference must answer exactly what the service answers -- field names,
// int64 as strings, the version and update_time the server stamped, which
// defaults it prints -- and copying holds whatever the server's JSON printer
// does; a generator would have to track it. Every id must be found (exit 1
// otherwise: populate the service first).
//
// Without --from: the JSON is generated here, as protobuf's default JSON
// printer renders the record `catalog-bench populate --value-bytes=B`
// writes (same fields, same description padding; version "1", update_time
// now). For smoke tests and for a server without a Connect listener.

$opts = getopt('', ['redis-port:', 'keys:', 'prefix:', 'from:', 'value-bytes:']);
$port = (int) ($opts['redis-port'] ?? 0);
$keys = (int) ($opts['keys'] ?? 0);
$prefix = $opts['prefix'] ?? 'bench';
$valueBytes = (int) ($opts['value-bytes'] ?? 600);
if ($port <= 0 || $keys <= 0) {
    fwrite(STDERR, "usage: php populate.php --redis-port=P --keys=N [--prefix=bench] [--from=http://H:P | --value-bytes=600]\n");
    exit(2);
}

$redis = new Redis();
$redis->connect('127.0.0.1', $port, 5.0);

function id_of(string $prefix, int $i): string
{
    return sprintf('%s%012d', $prefix, $i);
}

// Connect unary JSON call; returns the decoded response object.
function batch_get(string $base, array $ids): object
{
    $context = stream_context_create(['http' => [
        'method' => 'POST',
        'protocol_version' => 1.1,
        'header' => "Content-Type: application/json\r\nConnect-Protocol-Version: 1\r\nConnection: close\r\n",
        'content' => json_encode(['ids' => $ids]),
        'timeout' => 30,
        'ignore_errors' => true,
    ]]);
    $url = rtrim($base, '/') . '/catalog.v1.CatalogService/BatchGetProducts';
    $body = @file_get_contents($url, false, $context);
    $status = isset($http_response_header[0]) ? $http_response_header[0] : 'no response';
    if ($body === false || !preg_match('#^HTTP/\S+ 200\b#', $status)) {
        fwrite(STDERR, "populate.php: $url: $status " . substr((string) $body, 0, 300) . "\n");
        exit(1);
    }
    $response = json_decode($body);
    if (!is_object($response)) {
        fwrite(STDERR, "populate.php: $url: not a JSON object: " . substr($body, 0, 300) . "\n");
        exit(1);
    }
    return $response;
}

// Size of a length-delimited protobuf field of n bytes (tag < 16: 1 byte).
function pb_len(int $n): int
{
    $varint = 1;
    for ($v = $n; $v >= 128; $v >>= 7) {
        $varint++;
    }
    return 1 + $varint + $n;
}

// The product catalog-bench populate writes, in protobuf JSON (field order,
// camelCase names, int64 as strings).
function generated(string $prefix, int $i, int $valueBytes, string $now): array
{
    $id = id_of($prefix, $i);
    $sku = "SKU-$i";
    $title = "Benchmark product $i";
    // catalog-bench: description = value_bytes - (ByteSizeLong() + 16) - 3,
    // ByteSizeLong() before the description: id, sku, title, price {"EUR",
    // 1999} (10 bytes), stock_quantity 5 (2), category_ids ["bench"] (7).
    $size = pb_len(strlen($id)) + pb_len(strlen($sku)) + pb_len(strlen($title)) + 10 + 2 + 7;
    return [
        'id' => $id,
        'sku' => $sku,
        'title' => $title,
        'description' => str_repeat('d', max(0, $valueBytes - $size - 16 - 3)),
        'price' => ['currencyCode' => 'EUR', 'amountMinor' => '1999'],
        'stockQuantity' => '5',
        'categoryIds' => ['bench'],
        'version' => '1',
        'updateTime' => $now,
    ];
}

$flags = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION;
$now = (new DateTime('now', new DateTimeZone('UTC')))->format('Y-m-d\TH:i:s.u\Z');
$written = 0;
for ($start = 0; $start < $keys; $start += 100) {
    $ids = [];
    for ($i = $start; $i < min($keys, $start + 100); $i++) {
        $ids[] = id_of($prefix, $i);
    }
    $pairs = [];
    if (isset($opts['from'])) {
        $response = batch_get($opts['from'], $ids);
        if (!empty($response->missingIds)) {
            fwrite(STDERR, 'populate.php: the service lacks ' . count($response->missingIds) . ' ids, e.g. '
                . $response->missingIds[0] . " (run catalog-bench populate first)\n");
            exit(1);
        }
        foreach ($response->products ?? [] as $product) {
            $pairs['bench-ref:product:' . $product->id] = json_encode($product, $flags);
        }
        if (count($pairs) !== count($ids)) {
            fwrite(STDERR, 'populate.php: asked ' . count($ids) . ' ids, got ' . count($pairs) . " products\n");
            exit(1);
        }
    } else {
        for ($i = $start; $i < min($keys, $start + 100); $i++) {
            $pairs['bench-ref:product:' . id_of($prefix, $i)] = json_encode(generated($prefix, $i, $valueBytes, $now), $flags);
        }
    }
    if (!$redis->mSet($pairs)) {
        fwrite(STDERR, "populate.php: MSET failed\n");
        exit(1);
    }
    $written += count($pairs);
}
$sample = $redis->get('bench-ref:product:' . id_of($prefix, 0));
fwrite(STDERR, "populate.php: wrote $written keys bench-ref:product:*, " . strlen($sample) . " bytes of JSON each (first)\n");
