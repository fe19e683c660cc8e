// WireMask: a FieldMask (AIP-157 read_mask) applied to a message's wire
// encoding, and the catalog.v2 read answers built from stored encodings
// with it, without parsing a product.
//
// A stored product is its wire encoding; keeping the fields a mask names is
// copying those (tag, value) runs and dropping the others, recursing into
// sub-messages a path goes through ("price.amount_minor"). The result is
// what FieldMaskUtil::TrimMessage and serialization of the parsed message
// give, field for field (tested byte for byte against it); unknown fields
// are dropped by any non-empty mask.
//
// Thread-safety: a WireMask is immutable after For(); share it freely.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/field_mask.pb.h"
#include "grpcpp/support/byte_buffer.h"

namespace catalog::service {

class WireMask {
 public:
  // `mask`'s paths must already be valid for `descriptor` (each names a
  // field, dotted through singular message fields). Empty keeps everything.
  static WireMask For(const google::protobuf::Descriptor* descriptor, const google::protobuf::FieldMask& mask);

  bool keeps_all() const { return children_.empty(); }
  // Appends the kept fields of `encoded` to `out`. False if `encoded` is
  // not a well-formed message encoding (then `out` holds a partial result).
  bool Apply(absl::string_view encoded, std::string* out) const;

 private:
  // Field number -> what to keep of it (keeps_all(): the whole field).
  absl::flat_hash_map<int, std::shared_ptr<WireMask>> children_;
};

// catalog.v2.BatchGetProductsResponse for `ids`: per id a ProductResult
// with the id and either the stored product under `mask` or not_found.
// DATA_LOSS naming the id if a stored value is not a message encoding.
absl::StatusOr<grpc::ByteBuffer> EncodeV2BatchGet(absl::Span<const absl::string_view> ids,
                                                  absl::Span<const std::optional<absl::string_view>> values,
                                                  const WireMask& mask);

// One stored product under `mask`, as a whole response message (v2
// GetProduct); with an all-keeping mask, the stored bytes (v1 GetProduct).
absl::StatusOr<grpc::ByteBuffer> EncodeProduct(absl::string_view id, absl::string_view value, const WireMask& mask);

}  // namespace catalog::service
