<?php
// GENERATED CODE -- DO NOT EDIT!

// Original file comments:
// catalog.v1: the product catalog API served to frontend websites.
//
// Compatibility promise: once released, nothing in this package is renamed,
// renumbered, retyped or removed. Additive changes only (new fields, new
// RPCs); anything else goes into a new package (catalog.v2) beside this one.
namespace Catalog\V1;

/**
 * Reads and writes products. Every RPC honours the caller's deadline; the
 * server caps it at its configured maximum (see README, max_call_ms).
 */
class CatalogServiceClient extends \Grpc\BaseStub {

    /**
     * @param string $hostname hostname
     * @param array $opts channel options
     * @param \Grpc\Channel $channel (optional) re-use channel object
     */
    public function __construct($hostname, $opts, $channel = null) {
        parent::__construct($hostname, $opts, $channel);
    }

    /**
     * Returns one product. NOT_FOUND if no product has this id.
     * @param \Catalog\V1\GetProductRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function GetProduct(\Catalog\V1\GetProductRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v1.CatalogService/GetProduct',
        $argument,
        ['\Catalog\V1\Product', 'decode'],
        $metadata, $options);
    }

    /**
     * Returns the products for up to max_batch_size ids (default 1000), in
     * request order; unknown ids are listed in missing_ids instead.
     * @param \Catalog\V1\BatchGetProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function BatchGetProducts(\Catalog\V1\BatchGetProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v1.CatalogService/BatchGetProducts',
        $argument,
        ['\Catalog\V1\BatchGetProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Creates or replaces products, all or nothing. A product sent with
     * version > 0 must match the stored version, or the call fails with ABORTED
     * and writes nothing. Returns the stored products with their new version
     * and update_time.
     * @param \Catalog\V1\UpsertProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function UpsertProducts(\Catalog\V1\UpsertProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v1.CatalogService/UpsertProducts',
        $argument,
        ['\Catalog\V1\UpsertProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Deletes products by id; unknown ids are not an error.
     * @param \Catalog\V1\DeleteProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function DeleteProducts(\Catalog\V1\DeleteProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v1.CatalogService/DeleteProducts',
        $argument,
        ['\Catalog\V1\DeleteProductsResponse', 'decode'],
        $metadata, $options);
    }

}
