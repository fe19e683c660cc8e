#include "service/wire_mask.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "service/wire.h"

namespace catalog::service {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;
using wire::AppendVarint;
using wire::FieldSize;
using wire::LengthTag;
using wire::WriteField;

}  // namespace

WireMask WireMask::For(const google::protobuf::Descriptor* descriptor, const google::protobuf::FieldMask& mask) {
  WireMask root;
  for (const std::string& path : mask.paths()) {
    WireMask* node = &root;
    const google::protobuf::Descriptor* type = descriptor;
    bool covered = false;  // A shorter path already keeps this whole field.
    const std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
    for (size_t i = 0; i < parts.size() && !covered; ++i) {
      const google::protobuf::FieldDescriptor* field = type->FindFieldByName(std::string(parts[i]));
      if (field == nullptr) break;  // Validated before; nothing to keep.
      std::shared_ptr<WireMask>& child = node->children_[field->number()];
      const bool last = i + 1 == parts.size();
      if (child == nullptr) {
        child = std::make_shared<WireMask>();
        // A node made here for a non-last part gets children below, so it
        // stops keeping everything; one for the last part keeps the field.
      } else if (child->keeps_all()) {
        covered = true;  // Whole already.
        break;
      }
      if (last) {
        child->children_.clear();  // The whole field, whatever was below.
      } else {
        type = field->message_type();
        node = child.get();
      }
    }
  }
  return root;
}

bool WireMask::Apply(absl::string_view encoded, std::string* out) const {
  if (keeps_all()) {
    out->append(encoded.data(), encoded.size());
    return true;
  }
  absl::string_view in = encoded;
  while (!in.empty()) {
    wire::Field field;
    if (!wire::ReadField(in, &field)) return false;
    auto kept = children_.find(field.number);
    if (kept == children_.end()) continue;
    if (kept->second->keeps_all() || field.wire_type != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      out->append(field.whole.data(), field.whole.size());
      continue;
    }
    std::string inner;
    if (!kept->second->Apply(field.payload, &inner)) return false;
    AppendVarint(field.tag, out);
    AppendVarint(inner.size(), out);
    out->append(inner);
  }
  return true;
}

absl::StatusOr<grpc::ByteBuffer> EncodeV2BatchGet(absl::Span<const absl::string_view> ids,
                                                  absl::Span<const std::optional<absl::string_view>> values,
                                                  const WireMask& mask) {
  using catalog::v2::ProductResult;
  constexpr uint32_t kResultsTag = LengthTag(catalog::v2::BatchGetProductsResponse::kResultsFieldNumber);
  constexpr uint32_t kIdTag = LengthTag(ProductResult::kIdFieldNumber);
  constexpr uint32_t kProductTag = LengthTag(ProductResult::kProductFieldNumber);
  constexpr uint32_t kNotFoundTag = LengthTag(ProductResult::kNotFoundFieldNumber);
  // Products under a mask are filtered first (their lengths come before them).
  std::vector<std::string> filtered;
  if (!mask.keeps_all()) {
    filtered.resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (values[i].has_value() && !mask.Apply(*values[i], &filtered[i])) {
        return absl::DataLossError(absl::StrCat("stored product \"", ids[i], "\" does not parse"));
      }
    }
  }
  auto product = [&](size_t i) -> absl::string_view { return filtered.empty() ? *values[i] : filtered[i]; };
  auto inner_size = [&](size_t i) {
    return FieldSize(kIdTag, ids[i].size()) +
           (values[i].has_value() ? FieldSize(kProductTag, product(i).size()) : FieldSize(kNotFoundTag, 0));
  };
  size_t total = 0;
  for (size_t i = 0; i < ids.size(); ++i) total += FieldSize(kResultsTag, inner_size(i));
  grpc::Slice slice(total);
  uint8_t* out = const_cast<uint8_t*>(slice.begin());
  for (size_t i = 0; i < ids.size(); ++i) {
    out = CodedOutputStream::WriteVarint32ToArray(kResultsTag, out);
    out = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(inner_size(i)), out);
    out = WriteField(kIdTag, ids[i], out);
    out = values[i].has_value() ? WriteField(kProductTag, product(i), out) : WriteField(kNotFoundTag, {}, out);
  }
  return grpc::ByteBuffer(&slice, 1);
}

absl::StatusOr<grpc::ByteBuffer> EncodeProduct(absl::string_view id, absl::string_view value, const WireMask& mask) {
  if (mask.keeps_all()) {
    grpc::Slice slice(value.data(), value.size());
    return grpc::ByteBuffer(&slice, 1);
  }
  std::string filtered;
  if (!mask.Apply(value, &filtered)) {
    return absl::DataLossError(absl::StrCat("stored product \"", id, "\" does not parse"));
  }
  grpc::Slice slice(std::move(filtered));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace catalog::service
