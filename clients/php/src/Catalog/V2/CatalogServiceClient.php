<?php
// GENERATED CODE -- DO NOT EDIT!

// Original file comments:
// catalog.v2: the product catalog API, second version, served beside v1 by
// the same server over the same storage.
//
// What changed from v1, following Google's API guidance: reads take a
// read_mask (AIP-157) so a listing page fetches only what it shows; batch
// reads say per id whether the product was found (AIP-231); prices are a
// Money type (AIP-143 style currency + amount); ListProducts pages through a
// category (AIP-158); upserts carry a request_id so a retried call is applied
// once (AIP-155).
//
// Wire compatibility with v1 (relied upon, and checked by a test): Product
// and Money use exactly v1's field numbers and types, so a product stored
// through either version decodes in the other.
namespace Catalog\V2;

/**
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
     * One product; NOT_FOUND if absent.
     * @param \Catalog\V2\GetProductRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function GetProduct(\Catalog\V2\GetProductRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/GetProduct',
        $argument,
        ['\Catalog\V2\Product', 'decode'],
        $metadata, $options);
    }

    /**
     * One result per requested id, in request order, telling found from not
     * found.
     * @param \Catalog\V2\BatchGetProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function BatchGetProducts(\Catalog\V2\BatchGetProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/BatchGetProducts',
        $argument,
        ['\Catalog\V2\BatchGetProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * The products of one category, in id order, page by page.
     * @param \Catalog\V2\ListProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function ListProducts(\Catalog\V2\ListProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/ListProducts',
        $argument,
        ['\Catalog\V2\ListProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Creates or replaces products, all or nothing (see v1). With a
     * request_id, a retried call returns the first call's result instead of
     * writing again.
     * @param \Catalog\V2\UpsertProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function UpsertProducts(\Catalog\V2\UpsertProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/UpsertProducts',
        $argument,
        ['\Catalog\V2\UpsertProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Deletes products by id; returns how many existed.
     * @param \Catalog\V2\DeleteProductsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function DeleteProducts(\Catalog\V2\DeleteProductsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/DeleteProducts',
        $argument,
        ['\Catalog\V2\DeleteProductsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Creates or replaces offers (what one market sells a product for), all
     * or nothing, with the same optimistic versions as products. An offer
     * does not require its product to exist (they may be written in either
     * order).
     * @param \Catalog\V2\UpsertOffersRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function UpsertOffers(\Catalog\V2\UpsertOffersRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/UpsertOffers',
        $argument,
        ['\Catalog\V2\UpsertOffersResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Deletes offers by key; returns how many existed.
     * @param \Catalog\V2\DeleteOffersRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function DeleteOffers(\Catalog\V2\DeleteOffersRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/DeleteOffers',
        $argument,
        ['\Catalog\V2\DeleteOffersResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * One result per requested key, in request order.
     * @param \Catalog\V2\BatchGetOffersRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function BatchGetOffers(\Catalog\V2\BatchGetOffersRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/BatchGetOffers',
        $argument,
        ['\Catalog\V2\BatchGetOffersResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Products with their offer in one market, one result per requested id,
     * in request order. Assembled views are cached (never older than an
     * acknowledged write of the product or the offer).
     * @param \Catalog\V2\BatchGetProductViewsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function BatchGetProductViews(\Catalog\V2\BatchGetProductViewsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.v2.CatalogService/BatchGetProductViews',
        $argument,
        ['\Catalog\V2\BatchGetProductViewsResponse', 'decode'],
        $metadata, $options);
    }

}
