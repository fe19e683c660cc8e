#include "service/wire_mask.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "catalog/v2/catalog.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"
#include "service/wire_writer.h"

namespace catalog::service {
namespace {

using google::protobuf::internal::WireFormatLite;
using google::protobuf::io::CodedOutputStream;
using wire::FieldSize;
using wire::LengthTag;
using wire::WriteField;

bool ReadVarint(absl::string_view& in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const uint8_t byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

void AppendVarint(uint64_t value, std::string* out) {
  uint8_t buffer[10];
  const uint8_t* end = CodedOutputStream::WriteVarint64ToArray(value, buffer);
  out->append(reinterpret_cast<const char*>(buffer), end - buffer);
}

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
    const char* start = in.data();
    uint64_t tag = 0;
    if (!ReadVarint(in, &tag)) return false;
    const int field = static_cast<int>(tag >> 3);
    absl::string_view payload;
    switch (tag & 7) {
      case WireFormatLite::WIRETYPE_VARINT: {
        uint64_t ignored;
        if (!ReadVarint(in, &ignored)) return false;
        break;
      }
      case WireFormatLite::WIRETYPE_FIXED64:
        if (in.size() < 8) return false;
        in.remove_prefix(8);
        break;
      case WireFormatLite::WIRETYPE_FIXED32:
        if (in.size() < 4) return false;
        in.remove_prefix(4);
        break;
      case WireFormatLite::WIRETYPE_LENGTH_DELIMITED: {
        uint64_t length = 0;
        if (!ReadVarint(in, &length) || length > in.size()) return false;
        payload = in.substr(0, length);
        in.remove_prefix(length);
        break;
      }
      default:
        return false;  // Groups are not used by these messages.
    }
    auto kept = children_.find(field);
    if (kept == children_.end()) continue;
    if (kept->second->keeps_all() || (tag & 7) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      out->append(start, in.data() - start);
      continue;
    }
    std::string inner;
    if (!kept->second->Apply(payload, &inner)) return false;
    AppendVarint(tag, out);
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
