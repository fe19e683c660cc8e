<?php
// tools/bench-reference/batch_get.php: the reference tools/bench measures the
// Connect listener against -- the case study's stack (docs: shared context
// 001), nginx + PHP-FPM answering JSON from ONE Redis MGET, i.e. what a PHP
// team would otherwise keep serving BatchGetProducts.
//
// It speaks the Connect unary JSON shape of catalog.v1 so the same load
// scripts and the same body drive both: POST
// /catalog.v1.CatalogService/BatchGetProducts with `{"ids":[...]}` in,
// `{"products":[...],"missingIds":[...]}` out (as protobuf's JSON printer
// does, an empty list is left out), errors as Connect error JSON
// (`{"code":"invalid_argument","message":...}`, HTTP 400; Redis down: 503).
//
// This is the MOST FAVOURABLE case for PHP, on purpose:
//   - the Redis keys (bench-ref:product:<id>, written by populate.php) hold
//     each product's JSON ready-made, as a PHP team caching JSON in Redis
//     would store it, so no product is ever decoded or encoded here: the
//     work is decode the request, one MGET, concatenate the strings;
//   - no framework (no Symfony kernel, routing, serializer, Monolog), no
//     per-id validation (the service checks the id pattern and duplicates;
//     this only checks for a list of 1..1000 strings), no metrics, no logs;
//   - a persistent phpredis connection per FPM child (pconnect: no connect
//     per request), opcache on with timestamps unchecked (php_stack.sh).
// So whatever ratio the service shows against this, a real Symfony service
// doing the same would look worse.

function fail(int $http, string $code, string $message): void
{
    http_response_code($http);
    header('Content-Type: application/json');
    echo json_encode(['code' => $code, 'message' => $message], JSON_UNESCAPED_SLASHES);
}

if (($_SERVER['REQUEST_METHOD'] ?? '') !== 'POST') {
    header('Allow: POST');
    fail(405, 'unimplemented', 'POST only');
    return;
}
$contentType = $_SERVER['CONTENT_TYPE'] ?? '';
if (strncmp($contentType, 'application/json', 16) !== 0) {
    http_response_code(415);
    header('Accept-Post: application/json');
    return;
}

$request = json_decode(file_get_contents('php://input'), true);
$ids = is_array($request) ? ($request['ids'] ?? null) : null;
if (!is_array($ids) || !array_is_list($ids) || count($ids) === 0 || count($ids) > 1000) {
    fail(400, 'invalid_argument', 'ids: 1 to 1000 ids');
    return;
}
$keys = [];
foreach ($ids as $id) {
    if (!is_string($id)) {
        fail(400, 'invalid_argument', 'ids: strings only');
        return;
    }
    $keys[] = 'bench-ref:product:' . $id;
}

try {
    $redis = new Redis();
    // One connection per FPM child, kept across requests (php_stack.sh puts
    // the port in the pool's environment).
    $redis->pconnect('127.0.0.1', (int) getenv('BENCH_REF_REDIS_PORT'), 1.0);
    $values = $redis->mGet($keys);
} catch (RedisException $e) {
    fail(503, 'unavailable', 'redis: ' . $e->getMessage());
    return;
}
if (!is_array($values)) {
    fail(503, 'unavailable', 'redis: MGET failed');
    return;
}

$found = [];
$missing = [];
foreach ($values as $i => $json) {
    if ($json === false) {
        $missing[] = $ids[$i];
    } else {
        $found[] = $json;
    }
}
$out = '{';
if ($found) {
    $out .= '"products":[' . implode(',', $found) . ']';
}
if ($missing) {
    $out .= ($found ? ',' : '') . '"missingIds":' . json_encode($missing, JSON_UNESCAPED_SLASHES);
}
$out .= '}';
header('Content-Type: application/json');
header('Content-Length: ' . strlen($out));
echo $out;
