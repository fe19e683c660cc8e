#include "service/raw_read.h"

#include "google/protobuf/wire_format_lite.h"
#include "service/wire.h"

namespace catalog::service {

bool ParseBatchRequest(const grpc::ByteBuffer& request, storage::IdBatch* batch, std::string* mask,
                       uint64_t* consistency) {
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
  if (consistency != nullptr) *consistency = 0;
  absl::string_view in = batch->bytes;
  while (!in.empty()) {
    wire::Field field;
    if (!wire::ReadField(in, &field)) return false;  // The typed parser decides.
    if (field.number == 3 && field.wire_type == google::protobuf::internal::WireFormatLite::WIRETYPE_VARINT &&
        consistency != nullptr) {
      *consistency = static_cast<uint32_t>(field.varint);  // As protobuf reads an enum: its low 32 bits.
      continue;
    }
    if (field.wire_type != google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED) continue;
    if (field.number == 1) {
      for (char c : field.payload) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;  // UTF-8 rules: typed parse decides.
      }
      batch->ids.push_back(field.payload);
    } else if (field.number == 2) {
      mask->append(field.payload.data(), field.payload.size());  // Repeated occurrences merge, as in protobuf.
    }
  }
  return true;
}

}  // namespace catalog::service
