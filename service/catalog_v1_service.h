// CatalogV1Service: catalog.v1.CatalogService over CatalogCore.
//
// Threading. Writes are sync handlers: every storage call blocks on a pooled
// connection, so the call runs on a gRPC server thread from start to end,
// bounded by its deadline (capped at max_call). The reads, GetProduct and
// BatchGetProducts, are (with `raw_reads`) callback raw methods
// (service/raw_read.h): the handler parses, validates and looks in L1; all
// there, it answers at once on the same thread; otherwise it sends one MGET
// through the asynchronous Redis client and returns, and the call is
// finished on the Redis event-loop thread when the reply comes (all hot) or
// on the store's executor (misses: MySQL), so no thread blocks or is handed
// the call in between. Timers bound it by the call's deadline. Without
// `raw_reads` the reads are sync handlers too (the reference the raw ones
// are tested against byte for byte).
//
// The methods are registered by hand (RegisteredService) rather than through
// the generated CatalogService::Service so that reads answer with stored
// bytes, never parsed (EncodedBatchResponse).
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
  CatalogV1Service(CatalogCore* core, CallObservers observers, absl::Duration max_call, bool raw_reads = false);

  grpc::Status GetProduct(grpc::ServerContext* context, const catalog::v1::GetProductRequest* request,
                          catalog::v1::Product* response);
  grpc::Status BatchGetProducts(grpc::ServerContext* context, const catalog::v1::BatchGetProductsRequest* request,
                                EncodedBatchResponse* response);
  grpc::ServerUnaryReactor* GetProductRaw(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response);
  grpc::ServerUnaryReactor* BatchGetProductsRaw(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
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
