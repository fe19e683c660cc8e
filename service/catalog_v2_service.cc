#include "service/catalog_v2_service.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/field_mask_util.h"
#include "service/grpc_glue.h"
#include "service/raw_read.h"
#include "service/wire_mask.h"

namespace catalog::service {
namespace {

using google::protobuf::FieldMask;
using google::protobuf::util::FieldMaskUtil;

// v1 and v2 products share one wire format: converting is re-reading bytes.
template <typename To, typename From>
To Convert(const From& from) {
  To to;
  to.ParseFromString(from.SerializeAsString());
  return to;
}

absl::Status ValidateReadMask(const FieldMask& mask) {
  for (int i = 0; i < mask.paths_size(); ++i) {
    if (!FieldMaskUtil::GetFieldDescriptors(catalog::v2::Product::descriptor(), mask.paths(i), nullptr)) {
      return absl::InvalidArgumentError(
          absl::StrCat("read_mask.paths[", i, "]: \"", mask.paths(i), "\" is not a field of catalog.v2.Product"));
    }
  }
  return absl::OkStatus();
}

// An empty mask means every field (AIP-157).
void ApplyReadMask(const FieldMask& mask, catalog::v2::Product* product) {
  if (mask.paths_size() > 0) FieldMaskUtil::TrimMessage(mask, product);
}

}  // namespace

CatalogV2Service::CatalogV2Service(CatalogCore* core, CallObservers observers, absl::Duration max_call,
                                   bool raw_reads)
    : RegisteredService(catalog::v2::Product::descriptor()->file()->FindServiceByName("CatalogService")),
      core_(core),
      observers_(observers),
      max_call_(max_call) {
  if (raw_reads) {
    RegisterRawCallback("GetProduct", &CatalogV2Service::GetProductRaw);
    RegisterRawCallback("BatchGetProducts", &CatalogV2Service::BatchGetProductsRaw);
  } else {
    Register("GetProduct", &CatalogV2Service::GetProduct);
    Register("BatchGetProducts", &CatalogV2Service::BatchGetProducts);
  }
  Register("ListProducts", &CatalogV2Service::ListProducts);
  Register("UpsertProducts", &CatalogV2Service::UpsertProducts);
  Register("DeleteProducts", &CatalogV2Service::DeleteProducts);
  Register("UpsertOffers", &CatalogV2Service::UpsertOffers);
  Register("DeleteOffers", &CatalogV2Service::DeleteOffers);
  Register("BatchGetOffers", &CatalogV2Service::BatchGetOffers);
  Register("BatchGetProductViews", &CatalogV2Service::BatchGetProductViews);
}

grpc::Status CatalogV2Service::GetProduct(grpc::ServerContext* context, const catalog::v2::GetProductRequest* request,
                                          catalog::v2::Product* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/GetProduct", [&]() -> absl::Status {
    if (absl::Status s = ValidateReadMask(request->read_mask()); !s.ok()) return s;
    absl::StatusOr<std::optional<catalog::v1::Product>> product =
        core_->Get(request->id(), CallDeadline(*context, max_call_));
    if (!product.ok()) return product.status();
    if (!product->has_value()) return absl::NotFoundError(absl::StrCat("product \"", request->id(), "\" not found"));
    *response = Convert<catalog::v2::Product>(**product);
    ApplyReadMask(request->read_mask(), response);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::BatchGetProducts(grpc::ServerContext* context,
                                                const catalog::v2::BatchGetProductsRequest* request,
                                                catalog::v2::BatchGetProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/BatchGetProducts", [&]() -> absl::Status {
    if (absl::Status s = ValidateReadMask(request->read_mask()); !s.ok()) return s;
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<std::vector<storage::MaybeValue>> values = core_->BatchGet(ids, CallDeadline(*context, max_call_));
    if (!values.ok()) return values.status();
    for (size_t i = 0; i < ids.size(); ++i) {
      catalog::v2::ProductResult* result = response->add_results();
      result->set_id(ids[i]);
      if (!(*values)[i].has_value()) {
        result->mutable_not_found();
        continue;
      }
      // The stored v1 encoding is a v2 encoding too.
      if (!result->mutable_product()->ParseFromString(*(*values)[i])) {
        return absl::DataLossError(absl::StrCat("stored product \"", ids[i], "\" does not parse"));
      }
      ApplyReadMask(request->read_mask(), result->mutable_product());
    }
    return absl::OkStatus();
  });
}

namespace {
// Where a read may be answered from (catalog.v2 ReadConsistency; values this
// version does not know read as the default).
storage::TieredStore::ReadFrom ReadFrom(uint64_t consistency) {
  return consistency == catalog::v2::READ_CONSISTENCY_REPLICA_OK ? storage::TieredStore::ReadFrom::kReplicaOk
                                                                  : storage::TieredStore::ReadFrom::kMaster;
}
}  // namespace

// The raw reads answer what the typed ones above answer, built from the
// stored bytes: the read_mask is applied to the wire encoding (WireMask).
grpc::ServerUnaryReactor* CatalogV2Service::GetProductRaw(grpc::CallbackServerContext* context,
                                                          const grpc::ByteBuffer* request, grpc::ByteBuffer* response) {
  return RawRead<catalog::v2::GetProductRequest>(
      context, request, response, observers_, "catalog.v2.CatalogService/GetProduct",
      [&](catalog::v2::GetProductRequest& parsed, RawFinish finish) {
        if (absl::Status s = ValidateReadMask(parsed.read_mask()); !s.ok()) return finish(s);
        auto mask = std::make_shared<const WireMask>(WireMask::For(catalog::v2::Product::descriptor(), parsed.read_mask()));
        core_->GetAsync(parsed.id(), CallDeadline(*context, max_call_),
                        [finish, mask, id = parsed.id()](absl::StatusOr<storage::ValueView> value) {
                          if (!value.ok()) return finish(value.status());
                          if (!value->has_value()) {
                            return finish(absl::NotFoundError(absl::StrCat("product \"", id, "\" not found")));
                          }
                          finish(EncodeProduct(id, **value, *mask));
                        },
                        ReadFrom(parsed.consistency()));
      });
}

grpc::ServerUnaryReactor* CatalogV2Service::BatchGetProductsRaw(grpc::CallbackServerContext* context,
                                                                const grpc::ByteBuffer* request,
                                                                grpc::ByteBuffer* response) {
  return RawBatchRead<catalog::v2::BatchGetProductsRequest>(
      context, request, response, observers_, "catalog.v2.CatalogService/BatchGetProducts",
      [&](BatchRequest& parsed, RawFinish finish) {
        FieldMask read_mask;
        if (!read_mask.ParseFromString(parsed.mask)) {
          return finish(absl::InvalidArgumentError("read_mask: does not parse"));  // Unreachable: parsed before.
        }
        if (absl::Status s = ValidateReadMask(read_mask); !s.ok()) return finish(s);
        auto mask = std::make_shared<const WireMask>(WireMask::For(catalog::v2::Product::descriptor(), read_mask));
        core_->BatchGetAsync(std::move(parsed.ids), CallDeadline(*context, max_call_),
                             [finish, mask](absl::Span<const absl::string_view> ids,
                                            absl::StatusOr<absl::Span<const storage::ValueView>> values) {
                               if (!values.ok()) return finish(values.status());
                               finish(EncodeV2BatchGet(ids, *values, *mask));
                             },
                             ReadFrom(parsed.consistency));
      });
}

grpc::Status CatalogV2Service::ListProducts(grpc::ServerContext* context,
                                            const catalog::v2::ListProductsRequest* request,
                                            catalog::v2::ListProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/ListProducts", [&]() -> absl::Status {
    if (absl::Status s = ValidateReadMask(request->read_mask()); !s.ok()) return s;
    absl::StatusOr<ProductPage> page = core_->List(request->category_id(), request->page_size(), request->page_token(),
                                                   CallDeadline(*context, max_call_));
    if (!page.ok()) return page.status();
    for (const catalog::v1::Product& p : page->products) {
      catalog::v2::Product* out = response->add_products();
      *out = Convert<catalog::v2::Product>(p);
      ApplyReadMask(request->read_mask(), out);
    }
    response->set_next_page_token(page->next_page_token);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::UpsertProducts(grpc::ServerContext* context,
                                              const catalog::v2::UpsertProductsRequest* request,
                                              catalog::v2::UpsertProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/UpsertProducts", [&]() -> absl::Status {
    std::vector<catalog::v1::Product> products;
    products.reserve(request->products_size());
    for (const catalog::v2::Product& p : request->products()) products.push_back(Convert<catalog::v1::Product>(p));
    std::vector<const catalog::v1::Product*> pointers;
    for (const catalog::v1::Product& p : products) pointers.push_back(&p);
    const absl::Time deadline = CallDeadline(*context, max_call_);
    absl::StatusOr<std::vector<catalog::v1::Product>> stored =
        request->request_id().empty() ? core_->Upsert(pointers, deadline)
                                      : core_->UpsertOnce(request->request_id(), pointers, deadline);
    if (!stored.ok()) return stored.status();
    for (const catalog::v1::Product& p : *stored) *response->add_products() = Convert<catalog::v2::Product>(p);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::DeleteProducts(grpc::ServerContext* context,
                                              const catalog::v2::DeleteProductsRequest* request,
                                              catalog::v2::DeleteProductsResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/DeleteProducts", [&]() -> absl::Status {
    const std::vector<std::string> ids(request->ids().begin(), request->ids().end());
    absl::StatusOr<int64_t> deleted = core_->Delete(ids, CallDeadline(*context, max_call_));
    if (!deleted.ok()) return deleted.status();
    response->set_deleted_count(*deleted);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::UpsertOffers(grpc::ServerContext* context,
                                            const catalog::v2::UpsertOffersRequest* request,
                                            catalog::v2::UpsertOffersResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/UpsertOffers", [&]() -> absl::Status {
    const std::vector<const catalog::v2::Offer*> offers(request->offers().pointer_begin(),
                                                        request->offers().pointer_end());
    absl::StatusOr<std::vector<catalog::v2::Offer>> stored =
        core_->UpsertOffers(offers, CallDeadline(*context, max_call_), request->request_id());
    if (!stored.ok()) return stored.status();
    for (catalog::v2::Offer& offer : *stored) *response->add_offers() = std::move(offer);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::DeleteOffers(grpc::ServerContext* context,
                                            const catalog::v2::DeleteOffersRequest* request,
                                            catalog::v2::DeleteOffersResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/DeleteOffers", [&]() -> absl::Status {
    const std::vector<const catalog::v2::OfferKey*> keys(request->keys().pointer_begin(), request->keys().pointer_end());
    absl::StatusOr<int64_t> deleted = core_->DeleteOffers(keys, CallDeadline(*context, max_call_));
    if (!deleted.ok()) return deleted.status();
    response->set_deleted_count(*deleted);
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::BatchGetOffers(grpc::ServerContext* context,
                                              const catalog::v2::BatchGetOffersRequest* request,
                                              catalog::v2::BatchGetOffersResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/BatchGetOffers", [&]() -> absl::Status {
    const std::vector<const catalog::v2::OfferKey*> keys(request->keys().pointer_begin(), request->keys().pointer_end());
    absl::StatusOr<std::vector<std::optional<catalog::v2::Offer>>> offers =
        core_->BatchGetOffers(keys, CallDeadline(*context, max_call_));
    if (!offers.ok()) return offers.status();
    for (size_t i = 0; i < offers->size(); ++i) {
      catalog::v2::OfferResult* result = response->add_results();
      *result->mutable_key() = *keys[i];
      if ((*offers)[i].has_value()) {
        *result->mutable_offer() = std::move(*(*offers)[i]);
      } else {
        result->mutable_not_found();
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status CatalogV2Service::BatchGetProductViews(grpc::ServerContext* context,
                                                    const catalog::v2::BatchGetProductViewsRequest* request,
                                                    catalog::v2::BatchGetProductViewsResponse* response) {
  return Instrumented(observers_, context, "catalog.v2.CatalogService/BatchGetProductViews", [&]() -> absl::Status {
    const std::vector<std::string> ids(request->product_ids().begin(), request->product_ids().end());
    absl::StatusOr<std::vector<storage::MaybeValue>> views =
        core_->BatchGetProductViews(ids, request->market(), CallDeadline(*context, max_call_));
    if (!views.ok()) return views.status();
    for (size_t i = 0; i < ids.size(); ++i) {
      catalog::v2::ProductViewResult* result = response->add_results();
      result->set_product_id(ids[i]);
      if (!(*views)[i].has_value()) {
        result->mutable_not_found();
      } else if (!result->mutable_view()->ParseFromString(*(*views)[i])) {
        return absl::DataLossError(absl::StrCat("cached view of product \"", ids[i], "\" does not parse"));
      }
    }
    return absl::OkStatus();
  });
}

}  // namespace catalog::service
