<?php
// A fake Connect server for transport_test.php, run as `php -S ADDR fake_server.php`.
//
// Contract: answers any POST as the test asks through the request's first
// field, read as a catalog.v1.GetProductRequest id (binary or JSON body):
//   echo        200 Product: title = Connect-Timeout-Ms, sku =
//               Connect-Protocol-Version, description = Content-Type,
//               category_ids = [Expect, Content-Length]; trailer-x-request-id
//               = the x-request-id sent, else "server-made"
//   json-extra  200 JSON Product with a field the schema lacks
//   connect-404 404 Connect error not_found with a detail
//   bad-code    409 JSON error whose code is not a Connect code
//   plain-NNN   status NNN, text/html body, no Connect error
//   wrong-type  200 text/plain
//   garbage     200 application/proto that does not decode
//   big         200 Product with a 2 MiB description
//   slow        200 Product after 600 ms
// Anything else: 500 with a Connect internal error naming it. Test-only.
declare(strict_types=1);

require __DIR__ . '/../autoload.php';

use Catalog\V1\GetProductRequest;
use Catalog\V1\Product;

$type = strtolower(trim(explode(';', $_SERVER['CONTENT_TYPE'] ?? '', 2)[0]));
$json = $type === 'application/json';
$request = new GetProductRequest();
try {
    $json ? $request->mergeFromJsonString(file_get_contents('php://input')) : $request->mergeFromString(file_get_contents('php://input'));
} catch (\Throwable $e) {
    $request->setId('undecodable: ' . $e->getMessage());
}

function answer(int $status, string $contentType, string $body, array $headers = []): void
{
    http_response_code($status);
    header("Content-Type: $contentType");
    foreach ($headers as $name => $value) {
        header("$name: $value");
    }
    echo $body;
}

function product(Product $product, bool $json, array $headers = []): void
{
    answer(200, $json ? 'application/json' : 'application/proto',
        $json ? $product->serializeToJsonString() : $product->serializeToString(), $headers);
}

$id = $request->getId();
if ($id === 'echo') {
    product((new Product())->setId('echo')
        ->setTitle($_SERVER['HTTP_CONNECT_TIMEOUT_MS'] ?? '')
        ->setSku($_SERVER['HTTP_CONNECT_PROTOCOL_VERSION'] ?? '')
        ->setDescription($_SERVER['CONTENT_TYPE'] ?? '')
        ->setCategoryIds([$_SERVER['HTTP_EXPECT'] ?? 'no-expect', $_SERVER['CONTENT_LENGTH'] ?? '']), $json,
        ['trailer-x-request-id' => $_SERVER['HTTP_X_REQUEST_ID'] ?? 'server-made']);
} elseif ($id === 'json-extra') {
    answer(200, 'application/json; charset=utf-8', '{"id":"json-extra","title":"T","fieldFromTheFuture":{"a":1}}');
} elseif ($id === 'connect-404') {
    answer(404, 'application/json', json_encode(['code' => 'not_found', 'message' => 'product "connect-404" not found',
        'details' => [['type' => 'google.rpc.ErrorInfo', 'value' => 'AA==']]]), ['trailer-x-request-id' => 'rid-404']);
} elseif ($id === 'bad-code') {
    answer(409, 'application/json', '{"code":"teapot","message":"no such code"}');
} elseif (preg_match('/^plain-(\d{3})$/', $id, $m) === 1) {
    answer((int)$m[1], 'text/html', "<html><body>status {$m[1]} from a proxy</body></html>");
} elseif ($id === 'wrong-type') {
    answer(200, 'text/plain', 'hello');
} elseif ($id === 'garbage') {
    answer(200, $json ? 'application/json' : 'application/proto', $json ? '{"id":' : "\x0f");
} elseif ($id === 'big') {
    product((new Product())->setId('big')->setDescription(str_repeat('x', 2 << 20)), $json);
} elseif ($id === 'slow') {
    usleep(600000);
    product((new Product())->setId('slow'), $json);
} else {
    answer(500, 'application/json', json_encode(['code' => 'internal', 'message' => "fake server: no case for \"$id\""]));
}
