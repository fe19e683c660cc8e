<?php
// A frontend website's product listing: one BatchGetProducts call for the
// whole page, over the Connect protocol (no ext-grpc: curl and the protobuf
// runtime), products in request order, unknown ids reported separately.
//
//   php examples/product_page.php http://127.0.0.1:8080 shoe-1 shoe-2
//
// The first argument is catalog-server's Connect listener (--http_listen_address).
// Exit status: 0 with the page printed, 1 with "catalog error CODE: MESSAGE"
// on stderr when the call fails.
declare(strict_types=1);

// Composer's autoloader when installed with Composer, else the bundled one.
require is_file(__DIR__ . '/../vendor/autoload.php') ? __DIR__ . '/../vendor/autoload.php' : __DIR__ . '/../autoload.php';

use Catalog\Connect\CatalogException;
use Catalog\Connect\CatalogV1Client;
use Catalog\Connect\ConnectOptions;
use Catalog\V1\BatchGetProductsRequest;

$target = $argv[1] ?? 'http://127.0.0.1:8080';
$ids = array_slice($argv, 2) ?: ['shoe-1'];

// Every call gets a deadline: a slow catalog must not hang the page.
$catalog = new CatalogV1Client($target, new ConnectOptions(timeoutMs: 300));
try {
    $page = $catalog->batchGetProducts((new BatchGetProductsRequest())->setIds($ids));
} catch (CatalogException $e) {
    // invalid_argument names the field and index, e.g. ids[3]: "a b" is not a valid id (...);
    // unavailable / deadline_exceeded: show the page without the catalog's part.
    fwrite(STDERR, "catalog error {$e->connectCode()}: {$e->getMessage()}"
        . ($e->requestId() !== null ? " (request id {$e->requestId()})" : '') . "\n");
    exit(1);
}
foreach ($page->getProducts() as $product) {
    $price = $product->getPrice();
    printf("%s  %s  %d.%02d %s\n", $product->getId(), $product->getTitle(),
        intdiv($price->getAmountMinor(), 100), $price->getAmountMinor() % 100, $price->getCurrencyCode());
}
foreach ($page->getMissingIds() as $id) {
    printf("%s  (no longer available)\n", $id);
}
