// Small helpers for protobuf wire format by hand (the raw reads, the read
// masks, and Connect's JSON written from and read into wire bytes): reading
// varints, fixed values and one field of a message, appending a varint, and
// the size and bytes of one length-delimited field.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/wire_format_lite.h"

namespace catalog::service::wire {

constexpr uint32_t LengthTag(int field) {
  return google::protobuf::internal::WireFormatLite::MakeTag(
      field, google::protobuf::internal::WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
}

// One field as read from a message encoding.
struct Field {
  int number = 0;
  int wire_type = 0;
  absl::string_view whole;    // Tag and value, as encoded.
  absl::string_view payload;  // Length-delimited fields: the bytes.
  uint64_t tag = 0;
  uint64_t varint = 0;  // Varint fields: the value.
};

inline bool ReadVarint(absl::string_view& in, uint64_t* value) {
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

// Reads a little-endian fixed value of `n` bytes (4 or 8) and consumes it.
inline bool ReadFixed(absl::string_view& in, size_t n, uint64_t* value) {
  if (in.size() < n) return false;
  uint64_t result = 0;
  for (size_t i = 0; i < n; ++i) result |= static_cast<uint64_t>(static_cast<uint8_t>(in[i])) << (8 * i);
  in.remove_prefix(n);
  *value = result;
  return true;
}

inline void AppendVarint(uint64_t value, std::string* out) {
  uint8_t buffer[10];
  const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint64ToArray(value, buffer);
  out->append(reinterpret_cast<const char*>(buffer), static_cast<size_t>(end - buffer));
}

// Reads the next field of `in` (non-empty) into `field` and consumes it.
// False for malformed bytes, field number 0, and groups (not used by these
// messages).
inline bool ReadField(absl::string_view& in, Field* field) {
  using google::protobuf::internal::WireFormatLite;
  const char* start = in.data();
  if (!ReadVarint(in, &field->tag)) return false;
  field->number = static_cast<int>(field->tag >> 3);
  field->wire_type = static_cast<int>(field->tag & 7);
  field->payload = {};
  if (field->number == 0) return false;
  switch (field->wire_type) {
    case WireFormatLite::WIRETYPE_VARINT:
      if (!ReadVarint(in, &field->varint)) return false;
      break;
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
      field->payload = in.substr(0, length);
      in.remove_prefix(length);
      break;
    }
    default:
      return false;
  }
  field->whole = absl::string_view(start, static_cast<size_t>(in.data() - start));
  return true;
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
