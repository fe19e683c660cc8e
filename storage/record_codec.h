// How records are laid out in the tiers.
//
// A stored value is either a record (the record's protobuf wire encoding,
// exactly what a client receives) or a delete tombstone. Tombstones start
// with byte 0x00, which can never begin a protobuf encoding (field number 0
// is invalid), so a reader tells them apart from the first byte alone.
//
// Thread-safety: plain functions and value types.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace catalog::storage {

// How one kind of record is keyed and versioned. Future record types (each
// possibly on its own Redis server) get their own RecordType.
struct RecordType {
  // Redis key of record `id` is key_prefix + id, e.g. "product:" + id.
  std::string key_prefix;
  // MySQL cold-tier table: (id VARBINARY PK, payload BLOB, version BIGINT,
  // updated_at TIMESTAMP(6)).
  std::string table;
  // Field number of the int64 `version` field inside the record encoding.
  int version_field_number = 0;
  // Redis key of secondary index `name` is index_prefix + name, e.g.
  // "product-index:" + "category:shoes".
  std::string index_prefix;
  // Demotion fences: fence_prefix + "{<slot tag>}" (storage/fence.h).
  std::string fence_prefix;
  // Request-id entries: request_prefix + request id, and the sorted set
  // request_expiry_key of their expiry times.
  std::string request_prefix;
  std::string request_expiry_key;
  // The demotion lock (storage/SAFETY.md, "Demotion lock"): the Redis key
  // holding "<holder>\n<token>", the counter of fencing tokens, and the
  // MySQL table (name PK, token) whose row for `table` demotion writes
  // check and advance.
  std::string demotion_lock_key;
  std::string demotion_token_key;
  std::string demotion_fence_table;
  // Assembled views built on this record type (pure cache, TTL'd): the
  // Redis hash of record `id` is view_prefix + id (field: the view's
  // variant, e.g. a market), guarded by fences view_fence_prefix +
  // "{<slot tag>}" (storage/SAFETY.md, "View cache"). Empty: no views.
  std::string view_prefix;
  std::string view_fence_prefix;
  // Writes across Redis Cluster nodes (storage/redis/cluster_cas.h): keys
  // txn_prefix + "intent:{<slot tag>}" + id, txn_prefix + "{<bucket tag>}"
  // + transaction id, txn_prefix + "open{<bucket tag>}".
  std::string txn_prefix;
};

enum class ValueKind { kRecord, kTombstone, kCorrupt };

struct DecodedValue {
  ValueKind kind = ValueKind::kCorrupt;
  // The record's version (0 if the field is absent), or the tombstone's.
  int64_t version = 0;
};

// Classifies a stored value and extracts its version without parsing the
// whole record.
DecodedValue DecodeStoredValue(absl::string_view value, int version_field_number);

// A tombstone recording that a record was deleted at `version`.
std::string EncodeTombstone(int64_t version);

inline bool IsTombstone(absl::string_view value) { return !value.empty() && value[0] == '\0'; }

}  // namespace catalog::storage
