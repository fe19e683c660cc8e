// CatalogV2Service: catalog.v2.CatalogService, an adapter over the same
// CatalogCore as v1. Products cross between the versions through their wire
// encoding, which the two protos keep identical (wire_compatibility_test.cc
// holds them to it); v2 adds read masks, per-id results, pages over a
// category and idempotent upserts on top of the core.
//
// Threading: as CatalogV1Service (its header says it): with `raw_reads`,
// GetProduct and BatchGetProducts are callback raw methods that apply the
// read_mask to the stored bytes (service/wire_mask.h); the rest are sync.
//
// Thread-safety: handlers run concurrently; no state of its own.
#pragma once

#include "catalog/v2/catalog.pb.h"
#include "service/catalog_core.h"
#include "service/grpc_glue.h"
#include "service/registered_service.h"

namespace catalog::service {

class CatalogV2Service final : public RegisteredService {
 public:
  // Does not take ownership.
  CatalogV2Service(CatalogCore* core, CallObservers observers, absl::Duration max_call, bool raw_reads = false);

  grpc::Status GetProduct(grpc::ServerContext* context, const catalog::v2::GetProductRequest* request,
                          catalog::v2::Product* response);
  grpc::Status BatchGetProducts(grpc::ServerContext* context, const catalog::v2::BatchGetProductsRequest* request,
                                catalog::v2::BatchGetProductsResponse* response);
  grpc::ServerUnaryReactor* GetProductRaw(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response);
  grpc::ServerUnaryReactor* BatchGetProductsRaw(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
                                                grpc::ByteBuffer* response);
  grpc::Status ListProducts(grpc::ServerContext* context, const catalog::v2::ListProductsRequest* request,
                            catalog::v2::ListProductsResponse* response);
  grpc::Status UpsertProducts(grpc::ServerContext* context, const catalog::v2::UpsertProductsRequest* request,
                              catalog::v2::UpsertProductsResponse* response);
  grpc::Status DeleteProducts(grpc::ServerContext* context, const catalog::v2::DeleteProductsRequest* request,
                              catalog::v2::DeleteProductsResponse* response);
  grpc::Status UpsertOffers(grpc::ServerContext* context, const catalog::v2::UpsertOffersRequest* request,
                            catalog::v2::UpsertOffersResponse* response);
  grpc::Status DeleteOffers(grpc::ServerContext* context, const catalog::v2::DeleteOffersRequest* request,
                            catalog::v2::DeleteOffersResponse* response);
  grpc::Status BatchGetOffers(grpc::ServerContext* context, const catalog::v2::BatchGetOffersRequest* request,
                              catalog::v2::BatchGetOffersResponse* response);
  grpc::Status BatchGetProductViews(grpc::ServerContext* context,
                                    const catalog::v2::BatchGetProductViewsRequest* request,
                                    catalog::v2::BatchGetProductViewsResponse* response);

 private:
  CatalogCore* const core_;
  const CallObservers observers_;
  const absl::Duration max_call_;
};

}  // namespace catalog::service
