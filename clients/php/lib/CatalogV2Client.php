<?php
// Catalog\Connect\CatalogV2Client: catalog.v2.CatalogService over Connect.
//
//   $catalog = new CatalogV2Client('http://catalog.internal:8080', new ConnectOptions(timeoutMs: 300));
//   $views = $catalog->batchGetProductViews(
//       (new BatchGetProductViewsRequest())->setProductIds(['shoe-1'])->setMarket('de'));
//
// Contract: one method per RPC of proto/catalog/v2/catalog.proto, taking the
// generated request message (clients/php/src) and an optional CallOptions
// (deadline, request id, headers), returning the generated response message.
// Semantics are the RPCs' own (see the .proto): batch reads answer one result
// per requested id or key, in request order, with not_found set for missing
// ones; reads honour read_mask; ListProducts pages through a category;
// upserts are all or nothing, fail with aborted on a stale version, and with
// a request_id a retried upsert returns the first call's result. Every
// failure is a CatalogException (see ConnectTransport for transport, deadline
// and connection behaviour). Nothing is retried. The client owns a transport
// made from ($target, $options), or uses the one it is given (then $options
// must be null), which may be shared with other clients (e.g. a
// CatalogV1Client, over the same connection); not for use from several
// threads at once.
declare(strict_types=1);

namespace Catalog\Connect;

use Catalog\V2\BatchGetOffersRequest;
use Catalog\V2\BatchGetOffersResponse;
use Catalog\V2\BatchGetProductViewsRequest;
use Catalog\V2\BatchGetProductViewsResponse;
use Catalog\V2\BatchGetProductsRequest;
use Catalog\V2\BatchGetProductsResponse;
use Catalog\V2\DeleteOffersRequest;
use Catalog\V2\DeleteOffersResponse;
use Catalog\V2\DeleteProductsRequest;
use Catalog\V2\DeleteProductsResponse;
use Catalog\V2\GetProductRequest;
use Catalog\V2\ListProductsRequest;
use Catalog\V2\ListProductsResponse;
use Catalog\V2\Product;
use Catalog\V2\UpsertOffersRequest;
use Catalog\V2\UpsertOffersResponse;
use Catalog\V2\UpsertProductsRequest;
use Catalog\V2\UpsertProductsResponse;

final class CatalogV2Client
{
    use ServiceClient;

    public const SERVICE = 'catalog.v2.CatalogService';

    /** @throws CatalogException not_found if no product has the id */
    public function getProduct(GetProductRequest $request, ?CallOptions $options = null): Product
    {
        return $this->transport->unary(self::SERVICE, 'GetProduct', $request, Product::class, $options);
    }

    /** @throws CatalogException */
    public function batchGetProducts(BatchGetProductsRequest $request,
                                     ?CallOptions $options = null): BatchGetProductsResponse
    {
        return $this->transport->unary(self::SERVICE, 'BatchGetProducts', $request,
            BatchGetProductsResponse::class, $options);
    }

    /** @throws CatalogException */
    public function listProducts(ListProductsRequest $request, ?CallOptions $options = null): ListProductsResponse
    {
        return $this->transport->unary(self::SERVICE, 'ListProducts', $request,
            ListProductsResponse::class, $options);
    }

    /** @throws CatalogException aborted on a stale version (nothing written) */
    public function upsertProducts(UpsertProductsRequest $request,
                                   ?CallOptions $options = null): UpsertProductsResponse
    {
        return $this->transport->unary(self::SERVICE, 'UpsertProducts', $request,
            UpsertProductsResponse::class, $options);
    }

    /** @throws CatalogException */
    public function deleteProducts(DeleteProductsRequest $request,
                                   ?CallOptions $options = null): DeleteProductsResponse
    {
        return $this->transport->unary(self::SERVICE, 'DeleteProducts', $request,
            DeleteProductsResponse::class, $options);
    }

    /** @throws CatalogException aborted on a stale version (nothing written) */
    public function upsertOffers(UpsertOffersRequest $request, ?CallOptions $options = null): UpsertOffersResponse
    {
        return $this->transport->unary(self::SERVICE, 'UpsertOffers', $request,
            UpsertOffersResponse::class, $options);
    }

    /** @throws CatalogException */
    public function deleteOffers(DeleteOffersRequest $request, ?CallOptions $options = null): DeleteOffersResponse
    {
        return $this->transport->unary(self::SERVICE, 'DeleteOffers', $request,
            DeleteOffersResponse::class, $options);
    }

    /** @throws CatalogException */
    public function batchGetOffers(BatchGetOffersRequest $request,
                                   ?CallOptions $options = null): BatchGetOffersResponse
    {
        return $this->transport->unary(self::SERVICE, 'BatchGetOffers', $request,
            BatchGetOffersResponse::class, $options);
    }

    /** @throws CatalogException */
    public function batchGetProductViews(BatchGetProductViewsRequest $request,
                                         ?CallOptions $options = null): BatchGetProductViewsResponse
    {
        return $this->transport->unary(self::SERVICE, 'BatchGetProductViews', $request,
            BatchGetProductViewsResponse::class, $options);
    }
}
