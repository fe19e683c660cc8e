// JsonWire: reads a Connect JSON request straight into the message's wire
// encoding, for the request shapes frontends send on the hot path (ids,
// strings, integers, enums, booleans, nested objects, arrays of these).
// The message it yields is the one protobuf's JsonStringToMessage (default
// options: unknown fields are errors) would parse, about ten times faster.
//
// It accepts only what it is sure of: anything else — string escapes,
// floats, null, maps, well-known types (FieldMask, Timestamp, ...), bytes,
// a key named twice, two members of one oneof, unknown keys, numbers out
// of range or not plain integers, malformed JSON — makes Parse return
// false, and the caller uses protobuf's parser, which also words the
// INVALID_ARGUMENT a bad request gets.
//
// Thread-safety: immutable after construction; Parse may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace catalog::service {

class JsonWire {
 public:
  // Plans every message type reachable from `roots`.
  explicit JsonWire(const std::vector<const google::protobuf::Descriptor*>& roots);
  ~JsonWire();

  // Appends the encoding of `json` as `type` to `wire`; false (wire
  // unspecified) when not covered.
  bool Parse(const google::protobuf::Descriptor* type, absl::string_view json, std::string* wire) const;

  struct Plan;  // json_wire.cc only.

 private:
  void Add(const google::protobuf::Descriptor* type);
  absl::flat_hash_map<const google::protobuf::Descriptor*, std::unique_ptr<Plan>> plans_;
};

}  // namespace catalog::service
