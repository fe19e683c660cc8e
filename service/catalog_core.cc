#include "service/catalog_core.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "service/validation.h"

namespace catalog::service {

using catalog::v1::Product;

const storage::RecordType& CatalogCore::ProductRecordType() {
  static const storage::RecordType* const type =
      new storage::RecordType{"product:", "products", Product::kVersionFieldNumber};
  return *type;
}

CatalogCore::CatalogCore(storage::TieredStore* store, const storage::Clock* clock, CoreOptions options)
    : store_(store), clock_(clock), options_(options) {}

absl::StatusOr<std::vector<storage::MaybeValue>> CatalogCore::BatchGet(absl::Span<const std::string> ids,
                                                                       absl::Time deadline) {
  if (absl::Status s = ValidateIdBatch(ids, "ids", options_.max_batch_size); !s.ok()) return s;
  return store_->Read(ids, deadline);
}

absl::StatusOr<std::optional<Product>> CatalogCore::Get(const std::string& id, absl::Time deadline) {
  if (absl::Status s = ValidateId(id, "id"); !s.ok()) return s;
  absl::StatusOr<std::vector<storage::MaybeValue>> values = store_->Read({id}, deadline);
  if (!values.ok()) return values.status();
  if (!values->front().has_value()) return std::nullopt;
  Product product;
  if (!product.ParseFromString(*values->front())) {
    return absl::DataLossError(absl::StrCat("stored product \"", id, "\" does not parse"));
  }
  return product;
}

absl::StatusOr<std::vector<Product>> CatalogCore::Upsert(absl::Span<const Product* const> products,
                                                         absl::Time deadline) {
  if (absl::Status s = ValidateProductBatch(products, "products", options_.max_batch_size); !s.ok()) return s;
  std::vector<storage::WriteIntent> intents;
  intents.reserve(products.size());
  for (const Product* product : products) intents.push_back({product->id(), product->version()});

  const google::protobuf::Timestamp now =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(clock_->Now()));
  std::vector<Product> stored(products.size());
  auto encode = [&](size_t index, int64_t version) {
    stored[index] = *products[index];
    stored[index].set_version(version);
    *stored[index].mutable_update_time() = now;
    return stored[index].SerializeAsString();
  };
  absl::StatusOr<storage::WriteResult> result = store_->Write(intents, encode, deadline);
  if (!result.ok()) return result.status();
  if (result->conflict.has_value()) {
    const storage::VersionConflict& c = *result->conflict;
    return absl::AbortedError(absl::StrCat(
        "products[", c.index, "].version: ", c.expected, " does not match ",
        c.stored == 0 ? std::string("any stored product") : absl::StrCat("the stored version ", c.stored),
        " of id \"", products[c.index]->id(), "\"; nothing was written"));
  }
  return stored;
}

absl::StatusOr<int64_t> CatalogCore::Delete(absl::Span<const std::string> ids, absl::Time deadline) {
  if (absl::Status s = ValidateIdBatch(ids, "ids", options_.max_batch_size); !s.ok()) return s;
  return store_->Delete(ids, deadline);
}

absl::StatusOr<storage::DemoteResult> CatalogCore::Demote(int64_t idle_seconds, int64_t limit, absl::Time deadline) {
  if (limit < 0) return absl::InvalidArgumentError(absl::StrCat("limit: ", limit, " must be >= 0"));
  return store_->Demote(absl::Seconds(idle_seconds), limit, deadline);
}

}  // namespace catalog::service
