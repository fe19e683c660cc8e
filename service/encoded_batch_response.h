// EncodedBatchResponse: a catalog.v1.BatchGetProductsResponse assembled
// directly in wire format from the stored product encodings.
//
// Why: Redis already holds each product's exact wire encoding, and a repeated
// message field is just (tag, length, bytes) per element. Parsing 100
// products only for gRPC to serialize them again was the largest cost of a
// batch read; this writes each stored value once into the response buffer.
//
// Thread-safety: a value type; build it on one thread.
#pragma once

#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace catalog::service {

struct EncodedBatchResponse {
  grpc::ByteBuffer buffer;

  // products: `values[i]` for each present value, in order (each must be a
  // valid catalog.v1.Product encoding); missing_ids: `ids[i]` where absent.
  // Each value is copied once, into the response's one slice.
  static EncodedBatchResponse Build(absl::Span<const absl::string_view> ids,
                                    absl::Span<const std::optional<absl::string_view>> values);
  static EncodedBatchResponse Build(absl::Span<const std::string> ids,
                                    absl::Span<const std::optional<std::string>> values);
};

}  // namespace catalog::service

template <>
class grpc::SerializationTraits<catalog::service::EncodedBatchResponse, void> {
 public:
  static grpc::Status Serialize(const catalog::service::EncodedBatchResponse& message, grpc::ByteBuffer* buffer,
                                bool* own_buffer) {
    *buffer = message.buffer;  // Shares the slices; no copy.
    *own_buffer = true;
    return grpc::Status::OK;
  }
  // Only ever sent by the server, never received.
  static grpc::Status Deserialize(grpc::ByteBuffer*, catalog::service::EncodedBatchResponse*) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "EncodedBatchResponse is write-only");
  }
};
