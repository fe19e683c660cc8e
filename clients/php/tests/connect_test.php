<?php
// The PHP Connect client against a live catalog-server's Connect listener:
// every RPC of catalog.v1 and catalog.v2 over binary protobuf and over JSON
// (catalog.v2 also over h2c), with real values read back; errors (not_found,
// invalid_argument naming the field, aborted) as CatalogException with the
// Connect code and HTTP status; deadlines; connection reuse; request ids;
// unknown methods; a few protocol details checked with raw curl.
//
//   CATALOG_TEST_CONNECT_TARGET=127.0.0.1:8080 php clients/php/tests/connect_test.php
//
// tests/with_server.sh sets the variable. Ids are unique per run, so the
// suite can run against a server holding other data. Prints "ok: ..." per
// check and a final count; exits non-zero on any failure.
declare(strict_types=1);

require __DIR__ . '/../autoload.php';
require __DIR__ . '/check.php';

use Catalog\Connect\CallOptions;
use Catalog\Connect\CatalogException;
use Catalog\Connect\CatalogV1Client;
use Catalog\Connect\CatalogV2Client;
use Catalog\Connect\ConnectOptions;
use Catalog\Connect\ConnectTransport;
use Catalog\V1;
use Catalog\V2;
use Google\Protobuf\FieldMask;

$target = getenv('CATALOG_TEST_CONNECT_TARGET');
if ($target === false || $target === '') {
    fwrite(STDERR, "CATALOG_TEST_CONNECT_TARGET is not set (host:port of catalog-server's --http_listen_address)\n");
    exit(2);
}
$url = "http://$target";
$run = 'php' . bin2hex(random_bytes(4));
// Generous deadlines: the suite checks behaviour, not speed (a loaded CI box).
$options = static fn(bool $json = false, bool $http2 = false) =>
    new ConnectOptions(timeoutMs: 5000, json: $json, http2: $http2);

function v1_product(string $id, string $title, string $category): V1\Product
{
    return new V1\Product([
        'id' => $id,
        'sku' => "SKU-$id",
        'title' => $title,
        'description' => "The $title",
        'price' => new V1\Price(['currency_code' => 'EUR', 'amount_minor' => 1999]),
        'stock_quantity' => 4,
        'attributes' => ['color' => 'green', 'size' => '42'],
        'category_ids' => [$category],
    ]);
}

function v2_product(string $id, string $title, string $category, int $amountMinor): V2\Product
{
    return new V2\Product([
        'id' => $id,
        'sku' => "SKU-$id",
        'title' => $title,
        'description' => "The $title",
        'price' => new V2\Money(['currency_code' => 'EUR', 'amount_minor' => $amountMinor]),
        'stock_quantity' => 7,
        'attributes' => ['color' => 'blue'],
        'category_ids' => [$category],
    ]);
}

function offer(string $productId, string $market, int $amountMinor, int $availability, int $version = 0): V2\Offer
{
    return new V2\Offer([
        'product_id' => $productId,
        'market' => $market,
        'price' => new V2\Money(['currency_code' => 'EUR', 'amount_minor' => $amountMinor]),
        'stock_quantity' => 5,
        'availability' => $availability,
        'version' => $version,
    ]);
}

function key_of(string $productId, string $market): V2\OfferKey
{
    return new V2\OfferKey(['product_id' => $productId, 'market' => $market]);
}

function mask(string ...$paths): FieldMask
{
    return new FieldMask(['paths' => $paths]);
}

/** @param iterable<mixed> $items */
function ids(iterable $items, string $getter = 'getId'): array
{
    $ids = [];
    foreach ($items as $item) {
        $ids[] = $item->$getter();
    }
    return $ids;
}

/** A timestamp set by the server: within a day of now. */
function recent(?\Google\Protobuf\Timestamp $time): bool
{
    return $time !== null && abs($time->getSeconds() - time()) < 86400;
}

function v1_suite(CatalogV1Client $c, string $p, string $label): void
{
    $category = "{$p}shoes";
    $stored = no_throw("$label UpsertProducts", fn() => $c->upsertProducts(new V1\UpsertProductsRequest(
        ['products' => [v1_product("{$p}a", 'A', $category), v1_product("{$p}b", 'B', $category)]])));
    if ($stored === null) {
        return;
    }
    check_eq("$label UpsertProducts: stored in request order, version 1 each",
        [["{$p}a", "{$p}b"], [1, 1]], [ids($stored->getProducts()), ids($stored->getProducts(), 'getVersion')]);
    check("$label UpsertProducts: update_time set by the server", recent($stored->getProducts()[0]->getUpdateTime()));

    $got = no_throw("$label GetProduct", fn() => $c->getProduct(new V1\GetProductRequest(['id' => "{$p}a"])));
    check_eq("$label GetProduct: every field read back",
        ['A', "SKU-{$p}a", 'The A', 'EUR', 1999, 4, 'green', '42', [$category], 1],
        [$got?->getTitle(), $got?->getSku(), $got?->getDescription(), $got?->getPrice()?->getCurrencyCode(),
            $got?->getPrice()?->getAmountMinor(), $got?->getStockQuantity(), $got?->getAttributes()['color'] ?? null,
            $got?->getAttributes()['size'] ?? null, iterator_to_array($got?->getCategoryIds() ?? []), $got?->getVersion()]);

    $batch = no_throw("$label BatchGetProducts", fn() => $c->batchGetProducts(
        new V1\BatchGetProductsRequest(['ids' => ["{$p}b", "{$p}none", "{$p}a"]])));
    check_eq("$label BatchGetProducts: found in request order, unknown ids in missing_ids",
        [["{$p}b", "{$p}a"], ["{$p}none"], 'B'],
        [ids($batch?->getProducts() ?? []), iterator_to_array($batch?->getMissingIds() ?? []),
            $batch?->getProducts()[0]?->getTitle()]);

    $conditional = v1_product("{$p}a", 'A2', $category);
    $conditional->setVersion(1);
    $again = no_throw("$label UpsertProducts conditional", fn() => $c->upsertProducts(
        new V1\UpsertProductsRequest(['products' => [$conditional]])));
    check_eq("$label UpsertProducts with the version read: written, version 2", 2, $again?->getProducts()[0]?->getVersion());

    $stale = v1_product("{$p}a", 'stale', $category);
    $stale->setVersion(7);
    check_throws("$label UpsertProducts with a stale version: aborted, HTTP 409, message names the versions",
        fn() => $c->upsertProducts(new V1\UpsertProductsRequest(['products' => [$stale]])), 'aborted', 409,
        "products[0].version: 7 does not match the stored version 2 of id \"{$p}a\"; nothing was written");
    check_eq("$label ... and nothing was written",
        'A2', no_throw("$label GetProduct after aborted", fn() => $c->getProduct(new V1\GetProductRequest(['id' => "{$p}a"])))?->getTitle());

    check_throws("$label BatchGetProducts with a bad id: invalid_argument, HTTP 400, naming field and index",
        fn() => $c->batchGetProducts(new V1\BatchGetProductsRequest(['ids' => ['ok', 'not ok']])),
        'invalid_argument', 400, 'ids[1]: "not ok" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)');
    $noPrice = v1_product("{$p}c", 'C', $category);
    $noPrice->clearPrice();
    check_throws("$label UpsertProducts without a price: invalid_argument naming products[0].price",
        fn() => $c->upsertProducts(new V1\UpsertProductsRequest(['products' => [$noPrice]])),
        'invalid_argument', 400, 'products[0].price: required');

    // An empty message: a zero-length protobuf body ("{}" in JSON).
    check_throws("$label DeleteProducts of no ids (empty request body): invalid_argument naming ids",
        fn() => $c->deleteProducts(new V1\DeleteProductsRequest()), 'invalid_argument', 400, 'ids: must not be empty');
    $deleted = no_throw("$label DeleteProducts", fn() => $c->deleteProducts(
        new V1\DeleteProductsRequest(['ids' => ["{$p}a", "{$p}none"]])));
    check_eq("$label DeleteProducts: counts what existed", 1, $deleted?->getDeletedCount());
    $e = check_throws("$label GetProduct of a deleted product: not_found, HTTP 404",
        fn() => $c->getProduct(new V1\GetProductRequest(['id' => "{$p}a"])), 'not_found', 404,
        "product \"{$p}a\" not found");
    check_eq("$label ... getCode() is gRPC's NOT_FOUND (5)", 5, $e?->getCode());
    no_throw("$label cleanup", fn() => $c->deleteProducts(new V1\DeleteProductsRequest(['ids' => ["{$p}b"]])));
}

function v2_suite(CatalogV2Client $c, string $p, string $label): void
{
    $category = "{$p}boots";
    $products = [v2_product("{$p}1", 'One', $category, 1000), v2_product("{$p}2", 'Two', $category, 2500),
        v2_product("{$p}3", 'Three', $category, 3000)];
    $request = new V2\UpsertProductsRequest(['products' => $products, 'request_id' => "{$p}req"]);
    $first = no_throw("$label UpsertProducts", fn() => $c->upsertProducts($request));
    if ($first === null) {
        return;
    }
    check_eq("$label UpsertProducts: stored in request order, version 1 each",
        [["{$p}1", "{$p}2", "{$p}3"], [1, 1, 1]], [ids($first->getProducts()), ids($first->getProducts(), 'getVersion')]);
    check("$label UpsertProducts: update_time set by the server", recent($first->getProducts()[0]->getUpdateTime()));
    $retry = no_throw("$label UpsertProducts retried", fn() => $c->upsertProducts($request));
    check_eq("$label UpsertProducts retried with the same request_id: the first answer, nothing rewritten",
        [[1, 1, 1], $first->getProducts()[2]->getUpdateTime()->serializeToJsonString()],
        [ids($retry?->getProducts() ?? [], 'getVersion'), $retry?->getProducts()[2]?->getUpdateTime()?->serializeToJsonString()]);
    $changed = new V2\UpsertProductsRequest(['products' => [v2_product("{$p}1", 'Other', $category, 1)],
        'request_id' => "{$p}req"]);
    check_throws("$label UpsertProducts reusing a request_id for other products: invalid_argument",
        fn() => $c->upsertProducts($changed), 'invalid_argument', 400,
        "request_id: \"{$p}req\" was already used for a different request");

    $masked = no_throw("$label GetProduct with read_mask", fn() => $c->getProduct(
        new V2\GetProductRequest(['id' => "{$p}1", 'read_mask' => mask('id', 'title', 'category_ids')])));
    check_eq("$label GetProduct with read_mask id,title,category_ids: only those fields",
        ["{$p}1", 'One', [$category], '', false, 0],
        [$masked?->getId(), $masked?->getTitle(), iterator_to_array($masked?->getCategoryIds() ?? []),
            $masked?->getDescription(), $masked?->hasPrice(), $masked?->getVersion()]);
    $replica = no_throw("$label GetProduct REPLICA_OK", fn() => $c->getProduct(new V2\GetProductRequest(
        ['id' => "{$p}2", 'consistency' => V2\ReadConsistency::READ_CONSISTENCY_REPLICA_OK])));
    check_eq("$label GetProduct with READ_CONSISTENCY_REPLICA_OK: the whole product",
        ['Two', 'EUR', 2500, 7, 'blue', 1],
        [$replica?->getTitle(), $replica?->getPrice()?->getCurrencyCode(), $replica?->getPrice()?->getAmountMinor(),
            $replica?->getStockQuantity(), $replica?->getAttributes()['color'] ?? null, $replica?->getVersion()]);
    check_throws("$label GetProduct of an unknown id: not_found, HTTP 404",
        fn() => $c->getProduct(new V2\GetProductRequest(['id' => "{$p}none"])), 'not_found', 404,
        "product \"{$p}none\" not found");
    check_throws("$label GetProduct with a read_mask path that is no field: invalid_argument naming it",
        fn() => $c->getProduct(new V2\GetProductRequest(['id' => "{$p}1", 'read_mask' => mask('id', 'nope')])),
        'invalid_argument', 400, 'read_mask.paths[1]: "nope" is not a field of catalog.v2.Product');

    $batch = no_throw("$label BatchGetProducts", fn() => $c->batchGetProducts(new V2\BatchGetProductsRequest(
        ['ids' => ["{$p}2", "{$p}none", "{$p}1"], 'read_mask' => mask('id', 'price')])));
    $results = $batch?->getResults() ?? [];
    check_eq("$label BatchGetProducts: one result per id in request order, found or not_found",
        [["{$p}2", "{$p}none", "{$p}1"], ['product', 'not_found', 'product']],
        [ids($results), ids($results, 'getResult')]);
    check_eq("$label BatchGetProducts: read_mask id,price applied to each product",
        [2500, '', 1000], [$results[0]?->getProduct()?->getPrice()?->getAmountMinor(),
            $results[0]?->getProduct()?->getTitle(), $results[2]?->getProduct()?->getPrice()?->getAmountMinor()]);

    $page1 = no_throw("$label ListProducts", fn() => $c->listProducts(new V2\ListProductsRequest(
        ['category_id' => $category, 'page_size' => 2, 'read_mask' => mask('id', 'title')])));
    check_eq("$label ListProducts: first page of 2 in id order, with a next_page_token",
        [["{$p}1", "{$p}2"], ['One', 'Two'], true],
        [ids($page1?->getProducts() ?? []), ids($page1?->getProducts() ?? [], 'getTitle'),
            ($page1?->getNextPageToken() ?? '') !== '']);
    check_eq("$label ListProducts: read_mask applied", ['', false],
        [$page1?->getProducts()[0]?->getSku(), $page1?->getProducts()[0]?->hasPrice()]);
    $page2 = no_throw("$label ListProducts page 2", fn() => $c->listProducts(new V2\ListProductsRequest(
        ['category_id' => $category, 'page_size' => 2, 'page_token' => $page1?->getNextPageToken() ?? ''])));
    check_eq("$label ListProducts: last page, no next_page_token", [["{$p}3"], ''],
        [ids($page2?->getProducts() ?? []), $page2?->getNextPageToken()]);
    check_throws("$label ListProducts without a category: invalid_argument naming category_id",
        fn() => $c->listProducts(new V2\ListProductsRequest(['page_size' => 2])), 'invalid_argument', 400,
        'category_id: "" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)');

    $offers = no_throw("$label UpsertOffers", fn() => $c->upsertOffers(new V2\UpsertOffersRequest(['offers' => [
        offer("{$p}1", 'de', 1000, V2\Availability::AVAILABILITY_IN_STOCK),
        offer("{$p}2", 'de', 2000, V2\Availability::AVAILABILITY_PREORDER),
    ], 'request_id' => "{$p}offers"])));
    check_eq("$label UpsertOffers: stored in request order, version 1, availability kept",
        [["{$p}1", "{$p}2"], [1, 1], [V2\Availability::AVAILABILITY_IN_STOCK, V2\Availability::AVAILABILITY_PREORDER]],
        [ids($offers?->getOffers() ?? [], 'getProductId'), ids($offers?->getOffers() ?? [], 'getVersion'),
            ids($offers?->getOffers() ?? [], 'getAvailability')]);
    check("$label UpsertOffers: update_time set by the server", recent($offers?->getOffers()[0]?->getUpdateTime()));
    check_throws("$label UpsertOffers with a stale version: aborted, HTTP 409",
        fn() => $c->upsertOffers(new V2\UpsertOffersRequest(['offers' => [
            offer("{$p}1", 'de', 1, V2\Availability::AVAILABILITY_IN_STOCK, 7)]])), 'aborted', 409);
    check_throws("$label UpsertOffers with a bad market: invalid_argument naming offers[0].market",
        fn() => $c->upsertOffers(new V2\UpsertOffersRequest(['offers' => [
            offer("{$p}1", 'd e', 1, V2\Availability::AVAILABILITY_IN_STOCK)]])), 'invalid_argument', 400,
        "offers[0].market: \"d e\" may only hold A-Z, a-z, 0-9, '_' and '-'");

    $got = no_throw("$label BatchGetOffers", fn() => $c->batchGetOffers(new V2\BatchGetOffersRequest(
        ['keys' => [key_of("{$p}1", 'de'), key_of("{$p}3", 'de')]])));
    $results = $got?->getResults() ?? [];
    check_eq("$label BatchGetOffers: one result per key in request order, offer or not_found",
        [["{$p}1", "{$p}3"], ['offer', 'not_found'], 1000, 'EUR', V2\Availability::AVAILABILITY_IN_STOCK, 5, 1],
        [[$results[0]?->getKey()?->getProductId(), $results[1]?->getKey()?->getProductId()], ids($results, 'getResult'),
            $results[0]?->getOffer()?->getPrice()?->getAmountMinor(), $results[0]?->getOffer()?->getPrice()?->getCurrencyCode(),
            $results[0]?->getOffer()?->getAvailability(), $results[0]?->getOffer()?->getStockQuantity(),
            $results[0]?->getOffer()?->getVersion()]);

    $views = no_throw("$label BatchGetProductViews", fn() => $c->batchGetProductViews(new V2\BatchGetProductViewsRequest(
        ['product_ids' => ["{$p}1", "{$p}3", "{$p}none"], 'market' => 'de'])));
    $results = $views?->getResults() ?? [];
    check_eq("$label BatchGetProductViews: product with its offer, product without one, unknown product",
        [["{$p}1", "{$p}3", "{$p}none"], ['view', 'view', 'not_found'], 'One', 1000, 'Three', false],
        [ids($results, 'getProductId'), ids($results, 'getResult'), $results[0]?->getView()?->getProduct()?->getTitle(),
            $results[0]?->getView()?->getOffer()?->getPrice()?->getAmountMinor(),
            $results[1]?->getView()?->getProduct()?->getTitle(), $results[1]?->getView()?->hasOffer()]);
    $changed = no_throw("$label UpsertOffers conditional", fn() => $c->upsertOffers(new V2\UpsertOffersRequest(
        ['offers' => [offer("{$p}1", 'de', 1100, V2\Availability::AVAILABILITY_IN_STOCK, 1)]])));
    check_eq("$label UpsertOffers with the version read: version 2", 2, $changed?->getOffers()[0]?->getVersion());
    $views = no_throw("$label BatchGetProductViews again", fn() => $c->batchGetProductViews(
        new V2\BatchGetProductViewsRequest(['product_ids' => ["{$p}1"], 'market' => 'de'])));
    check_eq("$label BatchGetProductViews after the write: the new offer (views are never stale)",
        [1100, 2], [$views?->getResults()[0]?->getView()?->getOffer()?->getPrice()?->getAmountMinor(),
            $views?->getResults()[0]?->getView()?->getOffer()?->getVersion()]);

    $deleted = no_throw("$label DeleteOffers", fn() => $c->deleteOffers(new V2\DeleteOffersRequest(
        ['keys' => [key_of("{$p}1", 'de'), key_of("{$p}3", 'de')]])));
    check_eq("$label DeleteOffers: counts what existed", 1, $deleted?->getDeletedCount());
    $got = no_throw("$label BatchGetOffers after delete", fn() => $c->batchGetOffers(
        new V2\BatchGetOffersRequest(['keys' => [key_of("{$p}1", 'de')]])));
    check_eq("$label BatchGetOffers after DeleteOffers: not_found", 'not_found', $got?->getResults()[0]?->getResult());

    $deleted = no_throw("$label DeleteProducts", fn() => $c->deleteProducts(new V2\DeleteProductsRequest(
        ['ids' => ["{$p}1", "{$p}2", "{$p}3", "{$p}none"]])));
    check_eq("$label DeleteProducts: counts what existed", 3, $deleted?->getDeletedCount());
    check_throws("$label GetProduct after DeleteProducts: not_found",
        fn() => $c->getProduct(new V2\GetProductRequest(['id' => "{$p}2"])), 'not_found', 404);
    no_throw("$label cleanup", fn() => $c->deleteOffers(new V2\DeleteOffersRequest(['keys' => [key_of("{$p}2", 'de')]])));
}

/** A raw Connect POST, for protocol details the client cannot get wrong on purpose. */
function raw_post(string $url, string $contentType, string $body, array $headers = []): array
{
    $received = [];
    $curl = curl_init($url);
    curl_setopt_array($curl, [
        CURLOPT_POST => true,
        CURLOPT_POSTFIELDS => $body,
        CURLOPT_HTTPHEADER => array_merge(["Content-Type: $contentType", 'Expect:'], $headers),
        CURLOPT_RETURNTRANSFER => true,
        CURLOPT_TIMEOUT_MS => 5000,
        CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use (&$received): int {
            if (($colon = strpos($line, ':')) !== false) {
                $received[strtolower(trim(substr($line, 0, $colon)))] = trim(substr($line, $colon + 1));
            }
            return strlen($line);
        },
    ]);
    $answer = curl_exec($curl);
    return [(int)curl_getinfo($curl, CURLINFO_RESPONSE_CODE), $received, is_string($answer) ? $answer : ''];
}

// --- every RPC, both codecs, HTTP/1.1 and h2c --------------------------------
v1_suite(new CatalogV1Client($url, $options()), "$run-v1p-", 'v1 proto:');
v1_suite(new CatalogV1Client($url, $options(json: true)), "$run-v1j-", 'v1 JSON:');
v2_suite(new CatalogV2Client($url, $options()), "$run-v2p-", 'v2 proto:');
v2_suite(new CatalogV2Client($url, $options(json: true)), "$run-v2j-", 'v2 JSON:');
v2_suite(new CatalogV2Client($url, $options(http2: true)), "$run-v2h-", 'v2 proto h2c:');
v1_suite(new CatalogV1Client($url, $options(json: true, http2: true)), "$run-v1jh-", 'v1 JSON h2c:');

// --- the two versions share storage ------------------------------------------
$shared = new ConnectTransport($url, $options());
$v1 = new CatalogV1Client($shared);
$v2 = new CatalogV2Client($shared);
no_throw('v1 UpsertProducts for v2', fn() => $v1->upsertProducts(new V1\UpsertProductsRequest(
    ['products' => [v1_product("$run-x-1", 'Cross', "$run-x")]])));
$read = no_throw('v2 GetProduct of a v1 write', fn() => $v2->getProduct(new V2\GetProductRequest(['id' => "$run-x-1"])));
check_eq('a product written through v1 reads back through v2 (one transport, both clients)',
    ['Cross', 1999, 1], [$read?->getTitle(), $read?->getPrice()?->getAmountMinor(), $read?->getVersion()]);
check_eq('... over one connection', 0, $shared->lastCall()?->newConnections);

// --- HTTP versions and connection reuse --------------------------------------
foreach (['HTTP/1.1' => [false, '1.1'], 'h2c' => [true, '2']] as $name => [$http2, $version]) {
    $client = new CatalogV1Client($url, $options(http2: $http2));
    $connections = 0;
    $versions = [];
    $failures = 0;
    for ($i = 0; $i < 20; $i++) {
        try {
            $client->batchGetProducts(new V1\BatchGetProductsRequest(['ids' => ["$run-x-1", "$run-reuse-$i"]]));
        } catch (CatalogException $e) {
            $failures++;
        }
        $connections += $client->lastCall()?->newConnections ?? 0;
        $versions[$client->lastCall()?->httpVersion ?? ''] = true;
    }
    check_eq("$name: 20 calls succeed over HTTP $version", [0, [$version]], [$failures, array_map(strval(...), array_keys($versions))]);
    if ($client->transport()->reusesConnections()) {
        check_eq("$name: 20 calls open one connection (curl reused it 19 times)", 1, $connections);
    } else {
        // libcurl < 8.0.0 cannot reuse h2c prior-knowledge connections (curl/curl#10634).
        check_eq("$name: libcurl " . curl_version()['version'] . ' cannot reuse h2c connections: one per call, all working',
            20, $connections);
    }
}

// --- request ids ----------------------------------------------------------------
foreach (['HTTP/1.1 proto' => $options(), 'h2c JSON' => $options(json: true, http2: true)] as $name => $o) {
    $client = new CatalogV1Client($url, $o);
    $rid = "$run-rid-" . ($o->http2 ? 'h2' : 'h1');
    no_throw("$name: GetProduct with a request id", fn() => $client->getProduct(
        new V1\GetProductRequest(['id' => "$run-x-1"]), new CallOptions(requestId: $rid)));
    check_eq("$name: the x-request-id sent comes back in the trailer-x-request-id header",
        [$rid, $rid], [$client->lastCall()?->trailer('x-request-id'), $client->lastCall()?->requestId()]);
    $e = check_throws("$name: an error with a request id", fn() => $client->getProduct(
        new V1\GetProductRequest(['id' => "$run-none"]), new CallOptions(requestId: "$rid-err")), 'not_found', 404);
    check_eq("$name: ... the request id comes back with the error", ["$rid-err", "$rid-err"],
        [$e?->requestId(), $client->lastCall()?->trailer('x-request-id')]);
    no_throw("$name: GetProduct without a request id", fn() => $client->getProduct(
        new V1\GetProductRequest(['id' => "$run-x-1"])));
    check("$name: without one, the server makes up a 32-hex-digit id",
        preg_match('/^[0-9a-f]{32}$/D', (string)$client->lastCall()?->trailer('x-request-id')) === 1,
        var_export($client->lastCall()?->trailer('x-request-id'), true));
}

// --- deadlines ------------------------------------------------------------------
$client = new CatalogV1Client($url, $options());
$outcomes = [];
for ($i = 0; $i < 10; $i++) {
    try {
        $client->batchGetProducts(new V1\BatchGetProductsRequest(['ids' => ["$run-x-1"]]), new CallOptions(timeoutMs: 1));
        $outcomes['ok'] = ($outcomes['ok'] ?? 0) + 1;
    } catch (CatalogException $e) {
        $key = $e->connectCode() . ($e->connectCode() === 'deadline_exceeded' ? '' : ': ' . $e->describe());
        $outcomes[$key] = ($outcomes[$key] ?? 0) + 1;
    }
}
check('a 1 ms deadline: each call succeeds or fails with deadline_exceeded, nothing else',
    array_diff(array_keys($outcomes), ['ok', 'deadline_exceeded']) === [], json_encode($outcomes));
echo '   (1 ms deadline outcomes: ' . json_encode($outcomes) . ")\n";
$e = null;
try {
    $client->batchGetProducts(new V1\BatchGetProductsRequest(['ids' => ["$run-x-1"]]), new CallOptions(timeoutMs: 1));
} catch (CatalogException $e) {
}
check('a 1 ms deadline answered by the server is HTTP 504 (or curl gave up: 0)',
    $e === null || in_array($e->httpStatus(), [0, 504], true), (string)$e?->describe());
$page = no_throw('a 10 s deadline', fn() => $client->batchGetProducts(new V1\BatchGetProductsRequest(['ids' => ["$run-x-1"]]),
    new CallOptions(timeoutMs: 10000)));
check_eq('a 10 s per-call deadline overrides the client default', ["$run-x-1"], ids($page?->getProducts() ?? []));

// --- unknown RPCs and protocol details ---------------------------------------------
foreach (['catalog.v1.CatalogService/NoSuchMethod', 'catalog.v9.CatalogService/GetProduct'] as $path) {
    [$service, $method] = explode('/', $path);
    $e = check_throws("$path: unimplemented", fn() => $shared->unary($service, $method,
        new V1\GetProductRequest(['id' => "$run-x-1"]), V1\Product::class), 'unimplemented');
    check("$path: ... HTTP 404 (no such route) or 501 (Connect unimplemented)",
        in_array($e?->httpStatus(), [404, 501], true), (string)$e?->describe());
}
$client = new CatalogV1Client($url, $options());
try {
    $client->getProduct(new V1\GetProductRequest(['id' => "$run-none"]));
} catch (CatalogException $e) {
}
check_eq('a Connect error answer is application/json', 'application/json',
    strtolower(trim(explode(';', (string)$client->lastCall()?->header('content-type'))[0])));
$rpc = "$url/catalog.v1.CatalogService/GetProduct";
$body = (new V1\GetProductRequest(['id' => "$run-x-1"]))->serializeToString();
[$status, $headers, $answer] = raw_post($rpc, 'application/proto', $body);
$product = new V1\Product();
try {
    $product->mergeFromString($answer);
} catch (\Throwable $e) {
}
check_eq('raw: without Connect-Protocol-Version the call still succeeds, as application/proto',
    [200, 'application/proto', 'Cross'], [$status, $headers['content-type'] ?? null, $product->getTitle()]);
[$status, $headers, $answer] = raw_post($rpc, 'text/plain', $body);
check('raw: an unsupported Content-Type is refused with HTTP 415',
    $status === 415, "HTTP $status, " . ($headers['content-type'] ?? 'no content-type') . ': ' . substr($answer, 0, 200));
[$status, $headers, $answer] = raw_post($rpc, 'application/json', '{"id": ');
$error = json_decode($answer, true);
check('raw: a JSON body that does not parse is a Connect error: invalid_argument (HTTP 400) or internal (HTTP 500)',
    in_array([$status, $error['code'] ?? null], [[400, 'invalid_argument'], [500, 'internal']], true),
    "HTTP $status: " . substr($answer, 0, 200));

no_throw('cleanup', fn() => $v1->deleteProducts(new V1\DeleteProductsRequest(['ids' => ["$run-x-1"]])));
checks_done();
