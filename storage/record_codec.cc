#include "storage/record_codec.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace catalog::storage {
namespace {
constexpr absl::string_view kTombstonePrefix("\0tombstone:", 11);
using google::protobuf::internal::WireFormatLite;
}  // namespace

std::string EncodeTombstone(int64_t version) { return absl::StrCat(kTombstonePrefix, version); }

DecodedValue DecodeStoredValue(absl::string_view value, int version_field_number) {
  DecodedValue decoded;
  if (IsTombstone(value)) {
    int64_t version = 0;
    if (value.substr(0, kTombstonePrefix.size()) == kTombstonePrefix &&
        absl::SimpleAtoi(value.substr(kTombstonePrefix.size()), &version)) {
      decoded.kind = ValueKind::kTombstone;
      decoded.version = version;
    }
    return decoded;
  }
  // Walk the top-level fields only: the version is a plain varint field, so
  // skipping everything else is far cheaper than parsing the record.
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(value.data()),
                                            static_cast<int>(value.size()));
  int64_t version = 0;
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) break;
    if (WireFormatLite::GetTagFieldNumber(tag) == version_field_number &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint64_t raw = 0;
      if (!in.ReadVarint64(&raw)) return decoded;
      version = static_cast<int64_t>(raw);  // Last occurrence wins, as in protobuf.
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return decoded;
    }
  }
  if (!in.ConsumedEntireMessage()) return decoded;
  decoded.kind = ValueKind::kRecord;
  decoded.version = version;
  return decoded;
}

}  // namespace catalog::storage
