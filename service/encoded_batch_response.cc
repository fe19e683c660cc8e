#include "service/encoded_batch_response.h"

#include "catalog/v1/catalog.pb.h"
#include "service/wire.h"
#include "storage/tiers.h"

namespace catalog::service {
namespace {

using wire::FieldSize;
using wire::WriteField;

constexpr uint32_t kProductsTag = wire::LengthTag(catalog::v1::BatchGetProductsResponse::kProductsFieldNumber);
constexpr uint32_t kMissingIdsTag = wire::LengthTag(catalog::v1::BatchGetProductsResponse::kMissingIdsFieldNumber);

}  // namespace

EncodedBatchResponse EncodedBatchResponse::Build(absl::Span<const std::string> ids,
                                                 absl::Span<const std::optional<std::string>> values) {
  const std::vector<absl::string_view> id_views(ids.begin(), ids.end());
  return Build(id_views, storage::Views(values));
}

EncodedBatchResponse EncodedBatchResponse::Build(absl::Span<const absl::string_view> ids,
                                                 absl::Span<const std::optional<absl::string_view>> values) {
  size_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    total +=
        values[i].has_value() ? FieldSize(kProductsTag, values[i]->size()) : FieldSize(kMissingIdsTag, ids[i].size());
  }
  grpc::Slice slice(total);
  uint8_t* out = const_cast<uint8_t*>(slice.begin());
  // Canonical field order: all products (field 1), then all missing ids.
  for (size_t i = 0; i < ids.size(); ++i) {
    if (values[i].has_value()) out = WriteField(kProductsTag, *values[i], out);
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i].has_value()) out = WriteField(kMissingIdsTag, ids[i], out);
  }
  EncodedBatchResponse response;
  response.buffer = grpc::ByteBuffer(&slice, 1);
  return response;
}

}  // namespace catalog::service
