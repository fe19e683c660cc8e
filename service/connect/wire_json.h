// WireJson: writes a message's wire encoding as proto3 JSON directly from
// the bytes, byte for byte what protobuf's MessageToJsonString (default
// options) prints for the parsed message, an order of magnitude faster (no
// parse, no reflection per value, no intermediate streams). Connect
// answers in JSON go through it.
//
// Covered: every scalar type but float and double, enums, strings (with
// protobuf's escaping, code points included), bytes, nested messages,
// repeated fields (packed or not), oneofs, maps, google.protobuf.Timestamp.
// A map's entries are printed in wire order, protobuf's in its map's
// iteration order: the same object, keys perhaps in another order (which
// JSON does not give a meaning; one entry, the same bytes). Anything else —
// float/double values, other well-known types (FieldMask...), groups, a
// singular message field or oneof met twice (merged by protobuf), a map key
// met twice, invalid UTF-8, out-of-range timestamps, malformed bytes —
// makes Write return false: the caller then uses MessageToJsonString,
// which is always right.
//
// With a JsonMemo, a nested message of at least its min_message_bytes (a
// product in an answer's list) is written once and then copied from the
// memo, found by its exact bytes (json_memo.h says why that is never
// stale); the output is the same byte for byte.
//
// Thread-safety: immutable after construction (the memo is synchronized on
// its own); Write may run concurrently.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"
#include "service/connect/json_memo.h"

namespace catalog::service {

class WireJson {
 public:
  // Plans every message type reachable from `roots`. `memo` (not owned,
  // may be null: none) must outlive this.
  explicit WireJson(const std::vector<const google::protobuf::Descriptor*>& roots, JsonMemo* memo = nullptr);
  ~WireJson();

  // Memo lookups of one Write: nested messages found, and not found (then
  // written and kept).
  struct MemoUse {
    int64_t hits = 0;
    int64_t misses = 0;
  };

  // Appends the JSON of `wire` (an encoding of `type`, one of the planned
  // types) to `out`; false (out unspecified) when not covered (see above).
  // `use`, if not null, gets the memo lookups added.
  bool Write(const google::protobuf::Descriptor* type, absl::string_view wire, std::string* out,
             MemoUse* use = nullptr) const;

  struct Plan;        // wire_json.cc only.
  struct PlanField;   // wire_json.cc only.
  struct Occurrence;  // wire_json.cc only.

 private:
  const Plan* PlanOf(const google::protobuf::Descriptor* type) const;
  // `use` null: inside a message the memo keeps (not looked up again).
  bool WritePlan(const Plan& plan, absl::string_view wire, std::string* out, MemoUse* use) const;
  bool WriteValue(const PlanField& field, const Occurrence& o, std::string* out, MemoUse* use) const;
  // The map field's occurrences [begin, end) of the per-thread scratch.
  bool WriteMap(const PlanField& field, size_t begin, size_t end, std::string* out, MemoUse* use) const;
  void Add(const google::protobuf::Descriptor* type);
  absl::flat_hash_map<const google::protobuf::Descriptor*, std::unique_ptr<Plan>> plans_;
  JsonMemo* const memo_;
};

}  // namespace catalog::service
