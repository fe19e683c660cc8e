// Small helpers for writing protobuf wire format by hand (the raw read
// answers): the size and bytes of one length-delimited field.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace catalog::service::wire {

constexpr uint32_t LengthTag(int field) {
  return google::protobuf::internal::WireFormatLite::MakeTag(
      field, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

// Bytes of a length-delimited field with `length` bytes of payload.
inline size_t FieldSize(uint32_t tag, size_t length) {
  using google::protobuf::io::CodedOutputStream;
  return CodedOutputStream::VarintSize32(tag) + CodedOutputStream::VarintSize32(static_cast<uint32_t>(length)) + length;
}

// Writes tag, length and `bytes` at `out`; returns the end.
inline uint8_t* WriteField(uint32_t tag, absl::string_view bytes, uint8_t* out) {
  using google::protobuf::io::CodedOutputStream;
  out = CodedOutputStream::WriteVarint32ToArray(tag, out);
  out = CodedOutputStream::WriteVarint32ToArray(static_cast<uint32_t>(bytes.size()), out);
  return std::copy(bytes.begin(), bytes.end(), out);
}

}  // namespace catalog::service::wire
