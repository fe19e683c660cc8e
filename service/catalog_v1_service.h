// CatalogV1Service: catalog.v1.CatalogService over CatalogCore.
//
// Threading. Writes and GetProduct are sync handlers: every storage call
// blocks on a pooled connection, so the call runs on a gRPC server thread
// from start to end, bounded by its deadline (capped at max_call).
// BatchGetProducts, the hot read, is (with `async_batch_get`) a callback raw
// method: the handler parses, validates and sends one MGET through the
// asynchronous Redis client, and returns; the call is finished on the Redis
// event-loop thread when the reply comes (all hot: the response is built
// there) or on the store's executor (misses: MySQL), so no thread blocks or
// is handed the call in between. The Redis client's timers bound it by the
// call's deadline.
//
// The methods are registered by hand (RegisteredService) rather than through
// the generated CatalogService::Service so that BatchGetProducts can answer
// with an EncodedBatchResponse (stored bytes, never parsed).
//
// Thread-safety: handlers run concurrently; the service holds no state of
// its own.
#pragma once

#include "catalog/v1/catalog.pb.h"
#include "service/catalog_core.h"
#include "service/encoded_batch_response.h"
#include "service/grpc_glue.h"
#include "service/registered_service.h"

namespace catalog::service {

class CatalogV1Service final : public RegisteredService {
 public:
  // Does not take ownership.
  CatalogV1Service(CatalogCore* core, CallObservers observers, absl::Duration max_call, bool async_batch_get = false);

  grpc::Status GetProduct(grpc::ServerContext* context, const catalog::v1::GetProductRequest* request,
                          catalog::v1::Product* response);
  grpc::Status BatchGetProducts(grpc::ServerContext* context, const catalog::v1::BatchGetProductsRequest* request,
                                EncodedBatchResponse* response);
  grpc::ServerUnaryReactor* BatchGetProductsAsync(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                                  grpc::ByteBuffer* response);
  grpc::Status UpsertProducts(grpc::ServerContext* context, const catalog::v1::UpsertProductsRequest* request,
                              catalog::v1::UpsertProductsResponse* response);
  grpc::Status DeleteProducts(grpc::ServerContext* context, const catalog::v1::DeleteProductsRequest* request,
                              catalog::v1::DeleteProductsResponse* response);

 private:
  CatalogCore* const core_;
  const CallObservers observers_;
  const absl::Duration max_call_;
};

}  // namespace catalog::service
