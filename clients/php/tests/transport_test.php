<?php
// Offline checks of the Connect transport (clients/php/lib) against
// fake_server.php under `php -S`: headers sent, error mapping for Connect and
// non-Connect answers, unusable answers, size limit, deadlines, refused and
// silent servers, option checks. Needs no catalog-server.
//
//   php clients/php/tests/transport_test.php
//
// Prints "ok: ..." per check and a final count; exits non-zero on any failure.
declare(strict_types=1);

require __DIR__ . '/../autoload.php';
require __DIR__ . '/check.php';

use Catalog\Connect\CallOptions;
use Catalog\Connect\CatalogException;
use Catalog\Connect\CatalogV1Client;
use Catalog\Connect\Code;
use Catalog\Connect\ConnectOptions;
use Catalog\Connect\ConnectTransport;
use Catalog\V1\GetProductRequest;
use Catalog\V1\Product;

/** A port nothing listens on (just released by us). */
function free_port(): int
{
    $socket = stream_socket_server('tcp://127.0.0.1:0', $errno, $error);
    if ($socket === false) {
        throw new RuntimeException("cannot bind: $error");
    }
    $port = (int)substr(strrchr(stream_socket_get_name($socket, false), ':'), 1);
    fclose($socket);
    return $port;
}

function wait_for_port(int $port, float $seconds): bool
{
    $until = microtime(true) + $seconds;
    while (microtime(true) < $until) {
        $socket = @stream_socket_client("tcp://127.0.0.1:$port", $errno, $error, 0.2);
        if ($socket !== false) {
            fclose($socket);
            return true;
        }
        usleep(50000);
    }
    return false;
}

function get(CatalogV1Client $client, string $id, ?CallOptions $options = null): Product
{
    return $client->getProduct((new GetProductRequest())->setId($id), $options);
}

// --- pure parts -----------------------------------------------------------
$table = [400 => 'internal', 401 => 'unauthenticated', 403 => 'permission_denied', 404 => 'unimplemented',
    429 => 'unavailable', 502 => 'unavailable', 503 => 'unavailable', 504 => 'unavailable',
    409 => 'unknown', 418 => 'unknown', 500 => 'unknown'];
$mapped = [];
foreach ($table as $status => $code) {
    $mapped[$status] = Code::fromHttpStatus($status);
}
check_eq('Code::fromHttpStatus follows the Connect spec table', $table, $mapped);
check_eq('Code::number gives gRPC numbers', [5, 3, 14, 2], [Code::number('not_found'),
    Code::number('invalid_argument'), Code::number('unavailable'), Code::number('no_such_code')]);
$e = new CatalogException('not_found', 'gone', 404, 'rid');
check_eq('CatalogException: getCode() is the gRPC number, describe() names everything',
    [5, 'not_found: gone (HTTP 404, request id rid)'], [$e->getCode(), $e->describe()]);

$refusals = [
    'timeoutMs 0' => fn() => new ConnectOptions(timeoutMs: 0),
    'header value with CRLF' => fn() => new CallOptions(headers: ['x-a' => "1\r\nx-b: 2"]),
    'header name with a space' => fn() => new CallOptions(headers: ['x a' => '1']),
    'a transport-owned header' => fn() => new CallOptions(headers: ['Connect-Timeout-Ms' => '5']),
    'request id with LF' => fn() => new CallOptions(requestId: "a\nb"),
    'per-call timeoutMs -1' => fn() => new CallOptions(timeoutMs: -1),
    'an ftp:// target' => fn() => new ConnectTransport('ftp://127.0.0.1:1'),
    'options beside a transport' => fn() => new CatalogV1Client(new ConnectTransport('127.0.0.1:1'), new ConnectOptions()),
    'a method that is not a name' => fn() => (new ConnectTransport('127.0.0.1:1'))
        ->unary('catalog.v1.CatalogService', 'Get/../x', new GetProductRequest(), Product::class),
];
foreach ($refusals as $what => $make) {
    try {
        $make();
        check("refused when built: $what", false, 'accepted');
    } catch (\InvalidArgumentException $e) {
        check("refused when built: $what", true);
    }
}
check_eq('a bare host:port target means http://',
    'http://127.0.0.1:9', (new ConnectTransport('127.0.0.1:9/'))->baseUrl());

// --- against the fake server ----------------------------------------------
$port = free_port();
$log = tempnam(sys_get_temp_dir(), 'fake-connect');
$server = proc_open([PHP_BINARY, '-S', "127.0.0.1:$port", __DIR__ . '/fake_server.php'],
    [0 => ['file', '/dev/null', 'r'], 1 => ['file', $log, 'a'], 2 => ['file', $log, 'a']], $pipes);
register_shutdown_function(static function () use ($server, $log): void {
    proc_terminate($server);
    proc_close($server);
    @unlink($log);
});
if (!check('the fake server starts', wait_for_port($port, 10))) {
    echo file_get_contents($log);
    checks_done();
}
$target = "http://127.0.0.1:$port";
$proto = new CatalogV1Client($target);
$json = new CatalogV1Client($target, new ConnectOptions(json: true, timeoutMs: 2000));

$echo = no_throw('echo call', fn() => get($proto, 'echo', new CallOptions(timeoutMs: 250)));
check_eq('proto: Connect-Timeout-Ms is the call deadline, Connect-Protocol-Version 1, Content-Type application/proto',
    ['250', '1', 'application/proto'], [$echo?->getTitle(), $echo?->getSku(), $echo?->getDescription()]);
$echo = no_throw('echo call with the default deadline', fn() => get($proto, 'echo'));
check_eq('the client default deadline is sent when the call sets none', '1000', $echo?->getTitle());
check_eq('without a request id the server\'s own comes back', 'server-made', $proto->lastCall()?->requestId());
no_throw('echo call with a request id', fn() => get($proto, 'echo', new CallOptions(requestId: 'php-rid-1')));
check_eq('the request id comes back as trailer-x-request-id, and trailers() strips the prefix',
    ['php-rid-1', ['php-rid-1']], [$proto->lastCall()?->requestId(), $proto->lastCall()?->trailers()['x-request-id'] ?? null]);
check_eq('lastCall: HTTP 200 over HTTP/1.1', [200, '1.1'], [$proto->lastCall()?->httpStatus, $proto->lastCall()?->httpVersion]);

$echo = no_throw('JSON echo call', fn() => get($json, 'echo'));
check_eq('JSON: Content-Type application/json, the JSON client\'s deadline',
    ['application/json', '2000'], [$echo?->getDescription(), $echo?->getTitle()]);
// A body over 1 MiB: curl 7.88 would otherwise send "Expect: 100-continue" and wait.
$large = (new Product())->setId('echo')->setDescription(str_repeat('d', 1100000));
$start = microtime(true);
$echo = no_throw('large request body', fn() => $proto->transport()->unary('catalog.v1.CatalogService', 'GetProduct',
    $large, Product::class));
check('a large request body is sent without Expect: 100-continue, whole, at once',
    ($echo?->getCategoryIds()[0] ?? null) === 'no-expect' && ($echo?->getCategoryIds()[1] ?? null) === (string)strlen($large->serializeToString())
    && microtime(true) - $start < 0.5,
    'server saw ' . json_encode(iterator_to_array($echo?->getCategoryIds() ?? [])));

$product = no_throw('JSON answer with an unknown field', fn() => get($json, 'json-extra'));
check_eq('JSON: unknown response fields are ignored, charset parameter accepted', 'T', $product?->getTitle());

foreach (['proto' => $proto, 'JSON' => $json] as $codec => $client) {
    $e = check_throws("$codec: a Connect error body gives its code, message and HTTP status",
        fn() => get($client, 'connect-404'), 'not_found', 404, 'product "connect-404" not found');
    check_eq("$codec: the error carries its details, request id and gRPC number",
        [1, 'rid-404', 5], [count($e?->details() ?? []), $e?->requestId(), $e?->getCode()]);
    check_eq("$codec: lastCall() is kept for a failed call", 404, $client->lastCall()?->httpStatus);
}
check_throws('an error body with an unknown code falls back to the HTTP status', fn() => get($proto, 'bad-code'),
    'unknown', 409);
foreach ($table as $status => $code) {
    check_throws("HTTP $status without a Connect body is $code", fn() => get($proto, "plain-$status"), $code, $status);
}
$e = check_throws('the message of a non-Connect error names the status and quotes the body',
    fn() => get($proto, 'plain-503'), 'unavailable', 503);
check('... "HTTP 503 without a Connect error (text/html): <html>..."',
    str_contains($e?->getMessage() ?? '', 'HTTP 503 without a Connect error (text/html): <html><body>status 503'),
    (string)$e?->getMessage());
check_throws('200 with another Content-Type is internal', fn() => get($proto, 'wrong-type'), 'internal', 200);
check_throws('proto: an undecodable 200 body is internal', fn() => get($proto, 'garbage'), 'internal', 200);
check_throws('JSON: an undecodable 200 body is internal', fn() => get($json, 'garbage'), 'internal', 200);
$product = no_throw('a 2 MiB answer', fn() => get($proto, 'big'));
check_eq('a 2 MiB answer arrives whole under the default limit', 2 << 20, strlen($product?->getDescription() ?? ''));
$small = new CatalogV1Client($target, new ConnectOptions(maxResponseBytes: 1 << 20));
check_throws('an answer above maxResponseBytes is resource_exhausted', fn() => get($small, 'big'), 'resource_exhausted');

$start = microtime(true);
$e = check_throws('a server slower than the deadline: deadline_exceeded, no HTTP status',
    fn() => get($proto, 'slow', new CallOptions(timeoutMs: 100)), 'deadline_exceeded', 0);
$elapsed = microtime(true) - $start;
check('... given up shortly after the deadline (100 ms + 50 ms grace)', $elapsed >= 0.1 && $elapsed < 0.45,
    sprintf('%.3f s', $elapsed));
usleep(700000);  // Let the single-threaded fake finish the slow answer.
$product = no_throw('a call after a timed-out one', fn() => get($proto, 'echo'));
check_eq('the transport works again after a timeout', 'echo', $product?->getId());

$refused = new CatalogV1Client('http://127.0.0.1:' . free_port());
check_throws('connection refused is unavailable, HTTP status 0', fn() => get($refused, 'x'), 'unavailable', 0);
$silent = stream_socket_server('tcp://127.0.0.1:0');  // Accepts connections (backlog), never answers.
$silentTarget = 'http://' . stream_socket_get_name($silent, false);
$start = microtime(true);
check_throws('a server that never answers: deadline_exceeded',
    fn() => get(new CatalogV1Client($silentTarget, new ConnectOptions(timeoutMs: 200)), 'x'), 'deadline_exceeded', 0);
check('... after about the deadline', microtime(true) - $start < 0.6, sprintf('%.3f s', microtime(true) - $start));
fclose($silent);

checks_done();
