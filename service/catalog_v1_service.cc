#include "service/catalog_v1_service.h"

#include "absl/strings/str_cat.h"
#include "service/grpc_glue.h"
#include "service/raw_read.h"
#include "service/wire_mask.h"

namespace catalog::service {

using namespace catalog::v1;

CatalogV1Service::CatalogV1Service(CatalogCore* core, CallObservers observers, absl::Duration max_call,
                                   bool raw_reads)
    : RegisteredService(GetProductRequest::descriptor()->file()->FindServiceByName("CatalogService")),
      core_(core),
      observers_(observers),
      max_call_(max_call) {
  if (raw_reads) {
    RegisterRawCallback("GetProduct", &CatalogV1Service::GetProductRaw);
    RegisterRawCallback("BatchGetProducts", &CatalogV1Service::BatchGetProductsRaw);
  } else {
    Register("GetProduct", &CatalogV1Service::GetProduct);
    Register("BatchGetProducts", &CatalogV1Service::BatchGetProducts);
  }
  Register("UpsertProducts", &CatalogV1Service::UpsertProducts);
  Register("DeleteProducts", &CatalogV1Service::DeleteProducts);
}

grpc::Status CatalogV1Service::GetProduct(grpc::ServerContext* context, const GetProductRequest* request,
                                          Product* response) {
  return Instrumented(observers_, context, "catalog.v1.CatalogService/GetProduct", [&]() -> absl::Status {
    absl::StatusOr<std::optional<Product>> product = core_->Get(request->id(), CallDeadline(*context, max_call_));
    if (!product.ok()) return product.status();
    if (!product->has_value()) return absl::NotFoundError(absl::StrCat("product \"", request->id(), "\" not found"));
    *response = **std::move(product);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV1Service::BatchGetProducts(grpc::ServerContext* context, const BatchGetProductsRequest* request,
                                                EncodedBatchResponse* response) {
  return Instrumented(observers_, context, "catalog.v1.CatalogService/BatchGetProducts", [&]() -> absl::Status {
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<std::vector<storage::MaybeValue>> values = core_->BatchGet(ids, CallDeadline(*context, max_call_));
    if (!values.ok()) return values.status();
    *response = EncodedBatchResponse::Build(ids, *values);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* CatalogV1Service::GetProductRaw(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawRead<GetProductRequest>(
      context, request, response, observers_, "catalog.v1.CatalogService/GetProduct",
      [&](GetProductRequest& parsed, RawFinish finish) {
        core_->GetAsync(parsed.id(), CallDeadline(*context, max_call_),
                        [finish, id = parsed.id()](absl::StatusOr<storage::ValueView> value) {
                          if (!value.ok()) return finish(value.status());
                          if (!value->has_value()) {
                            return finish(absl::NotFoundError(absl::StrCat("product \"", id, "\" not found")));
                          }
                          finish(EncodeProduct(id, **value, WireMask()));
                        });
      });
}

grpc::ServerUnaryReactor* CatalogV1Service::BatchGetProductsRaw(grpc::CallbackServerContext* context,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RawBatchRead<BatchGetProductsRequest>(
      context, request, response, observers_, "catalog.v1.CatalogService/BatchGetProducts",
      [&](BatchRequest& parsed, RawFinish finish) {
        core_->BatchGetAsync(std::move(parsed.ids), CallDeadline(*context, max_call_),
                             [finish](absl::Span<const absl::string_view> ids,
                                      absl::StatusOr<absl::Span<const storage::ValueView>> values) {
                               if (!values.ok()) return finish(values.status());
                               finish(EncodedBatchResponse::Build(ids, *values).buffer);
                             });
      });
}

grpc::Status CatalogV1Service::UpsertProducts(grpc::ServerContext* context, const UpsertProductsRequest* request,
                                              UpsertProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v1.CatalogService/UpsertProducts", [&]() -> absl::Status {
    absl::StatusOr<std::vector<Product>> stored = core_->Upsert(
        absl::MakeConstSpan(request->products().data(), request->products().size()), CallDeadline(*context, max_call_));
    if (!stored.ok()) return stored.status();
    for (Product& product : *stored) *response->add_products() = std::move(product);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV1Service::DeleteProducts(grpc::ServerContext* context, const DeleteProductsRequest* request,
                                              DeleteProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v1.CatalogService/DeleteProducts", [&]() -> absl::Status {
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<int64_t> deleted = core_->Delete(ids, CallDeadline(*context, max_call_));
    if (!deleted.ok()) return deleted.status();
    response->set_deleted_count(*deleted);
    return absl::OkStatus();
  });
}

}  // namespace catalog::service
