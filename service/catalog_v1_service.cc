#include "service/catalog_v1_service.h"

#include "absl/strings/str_cat.h"
#include "service/grpc_glue.h"

namespace catalog::service {

using namespace catalog::v1;

CatalogV1Service::CatalogV1Service(CatalogCore* core, storage::Metrics* metrics, absl::Duration max_call)
    : core_(core), metrics_(metrics), max_call_(max_call) {}

grpc::Status CatalogV1Service::GetProduct(grpc::ServerContext* context, const GetProductRequest* request,
                                          Product* response) {
  return Instrumented(*metrics_, [&]() -> absl::Status {
    absl::StatusOr<std::optional<Product>> product = core_->Get(request->id(), CallDeadline(*context, max_call_));
    if (!product.ok()) return product.status();
    if (!product->has_value()) return absl::NotFoundError(absl::StrCat("product \"", request->id(), "\" not found"));
    *response = **std::move(product);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV1Service::BatchGetProducts(grpc::ServerContext* context, const BatchGetProductsRequest* request,
                                                BatchGetProductsResponse* response) {
  return Instrumented(*metrics_, [&]() -> absl::Status {
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<std::vector<storage::MaybeValue>> values = core_->BatchGet(ids, CallDeadline(*context, max_call_));
    if (!values.ok()) return values.status();
    response->mutable_products()->Reserve(static_cast<int>(ids.size()));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!(*values)[i].has_value()) {
        response->add_missing_ids(ids[i]);
      } else if (!response->add_products()->ParseFromString(*(*values)[i])) {
        return absl::DataLossError(absl::StrCat("stored product \"", ids[i], "\" does not parse"));
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status CatalogV1Service::UpsertProducts(grpc::ServerContext* context, const UpsertProductsRequest* request,
                                              UpsertProductsResponse* response) {
  return Instrumented(*metrics_, [&]() -> absl::Status {
    absl::StatusOr<std::vector<Product>> stored =
        core_->Upsert(absl::MakeConstSpan(request->products().data(), request->products().size()),
                      CallDeadline(*context, max_call_));
    if (!stored.ok()) return stored.status();
    for (Product& product : *stored) *response->add_products() = std::move(product);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV1Service::DeleteProducts(grpc::ServerContext* context, const DeleteProductsRequest* request,
                                              DeleteProductsResponse* response) {
  return Instrumented(*metrics_, [&]() -> absl::Status {
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<int64_t> deleted = core_->Delete(ids, CallDeadline(*context, max_call_));
    if (!deleted.ok()) return deleted.status();
    response->set_deleted_count(*deleted);
    return absl::OkStatus();
  });
}

}  // namespace catalog::service
