#include "service/raw_read.h"

#include "google/protobuf/wire_format_lite.h"

namespace catalog::service {
namespace {

using google::protobuf::internal::WireFormatLite;

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

}  // namespace

bool ParseBatchRequest(const grpc::ByteBuffer& request, storage::IdBatch* batch, std::string* mask) {
  // One copy of the request: the ids point into it for the whole call.
  std::vector<grpc::Slice> slices;
  if (!request.Dump(&slices).ok()) return false;
  batch->bytes.clear();
  batch->bytes.reserve(request.Length());
  for (const grpc::Slice& slice : slices) {
    batch->bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  batch->ids.clear();
  mask->clear();
  absl::string_view in = batch->bytes;
  while (!in.empty()) {
    uint64_t tag = 0;
    if (!ReadVarint(in, &tag)) return false;
    const int field = static_cast<int>(tag >> 3);
    if (field == 0) return false;
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
        const absl::string_view value = in.substr(0, length);
        in.remove_prefix(length);
        if (field == 1) {
          for (char c : value) {
            if (static_cast<unsigned char>(c) >= 0x80) return false;  // UTF-8 rules: typed parse decides.
          }
          batch->ids.push_back(value);
        } else if (field == 2) {
          mask->append(value.data(), value.size());  // Repeated occurrences merge, as protobuf merges them.
        }
        break;
      }
      default:
        return false;  // Groups: not in these messages; the typed parser decides.
    }
  }
  return true;
}

}  // namespace catalog::service
