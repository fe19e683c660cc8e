<?php
// Catalog\Connect\CatalogV1Client: catalog.v1.CatalogService over Connect.
//
//   $catalog = new CatalogV1Client('http://catalog.internal:8080', new ConnectOptions(timeoutMs: 300));
//   $page = $catalog->batchGetProducts((new BatchGetProductsRequest())->setIds(['shoe-1', 'shoe-2']));
//
// Contract: one method per RPC of proto/catalog/v1/catalog.proto, taking the
// generated request message (clients/php/src) and an optional CallOptions
// (deadline, request id, headers), returning the generated response message.
// Semantics are the RPCs' own (see the .proto): GetProduct fails with
// not_found, BatchGetProducts lists unknown ids in missing_ids, UpsertProducts
// is all or nothing and fails with aborted on a stale version, DeleteProducts
// counts what existed. Every failure is a CatalogException (see
// ConnectTransport for transport, deadline and connection behaviour). Nothing
// is retried. The client owns a transport made from ($target, $options), or
// uses the one it is given (then $options must be null), which may be shared
// with other clients; not for use from several threads at once.
declare(strict_types=1);

namespace Catalog\Connect;

use Catalog\V1\BatchGetProductsRequest;
use Catalog\V1\BatchGetProductsResponse;
use Catalog\V1\DeleteProductsRequest;
use Catalog\V1\DeleteProductsResponse;
use Catalog\V1\GetProductRequest;
use Catalog\V1\Product;
use Catalog\V1\UpsertProductsRequest;
use Catalog\V1\UpsertProductsResponse;

final class CatalogV1Client
{
    use ServiceClient;

    public const SERVICE = 'catalog.v1.CatalogService';

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
}
