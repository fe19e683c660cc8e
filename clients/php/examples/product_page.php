<?php
// A frontend website's product listing: one BatchGetProducts call for the
// whole page, products in request order, unknown ids reported separately.
//
//   composer install && php examples/product_page.php 127.0.0.1:50051 shoe-1 shoe-2
declare(strict_types=1);

require __DIR__ . '/../vendor/autoload.php';

use Catalog\V1\BatchGetProductsRequest;
use Catalog\V1\CatalogServiceClient;

$target = $argv[1] ?? '127.0.0.1:50051';
$ids = array_slice($argv, 2) ?: ['shoe-1'];

$client = new CatalogServiceClient($target, [
    'credentials' => Grpc\ChannelCredentials::createInsecure(),
]);
$request = (new BatchGetProductsRequest())->setIds($ids);

// Every call gets a deadline (microseconds): a slow catalog must not hang the page.
[$response, $status] = $client->BatchGetProducts($request, [], ['timeout' => 300000])->wait();
if ($status->code !== Grpc\STATUS_OK) {
    // INVALID_ARGUMENT names the field and index, e.g. ids[3]: "a b" is not a valid id
    fwrite(STDERR, "catalog error {$status->code}: {$status->details}\n");
    exit(1);
}
foreach ($response->getProducts() as $product) {
    $price = $product->getPrice();
    printf("%s  %s  %d.%02d %s\n", $product->getId(), $product->getTitle(),
        intdiv($price->getAmountMinor(), 100), $price->getAmountMinor() % 100, $price->getCurrencyCode());
}
foreach ($response->getMissingIds() as $id) {
    printf("%s  (no longer available)\n", $id);
}
