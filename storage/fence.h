// Demotion fences: the Redis keys that make every tier move safe without any
// timing assumption. The argument is in storage/SAFETY.md; in short:
//
// Each record key belongs to a bucket, its Redis Cluster hash slot
// (CRC16(key) mod 16384), and each bucket has a fence key. Every demotion
// that removes a record key from Redis writes a new, never repeated token
// into the fence of that key's bucket, in the same script that removes the
// key. A reader that found a key absent reads the fence before it asks
// MySQL; a write-back or a compare-and-set that expects the key absent then
// runs as a script that re-checks, atomically inside Redis, that the key is
// still absent and the fence still holds the token it read. If a demotion
// removed the key in between, whatever was read from MySQL may be older than
// what that demotion moved there, and the script refuses.
//
// The fence key of a slot carries a hash tag that maps to the same slot, so
// in a Redis Cluster a record and its fence always live on one node (one
// script may touch both).
//
// Thread-safety: plain functions over immutable tables.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace catalog::storage {

inline constexpr int kSlotCount = 16384;

// The Redis Cluster hash slot of `key` (honours {hash tags}).
uint16_t KeySlot(absl::string_view key);

// A short string whose hash slot is `slot`: "{<tag>}" in a key pins the key
// to that slot.
const std::string& SlotTag(uint16_t slot);

// The fence key guarding `record_key`, e.g. "product-fence:{3f}" for
// fence_prefix "product-fence:".
std::string FenceKey(absl::string_view fence_prefix, absl::string_view record_key);

// 128 bits from the kernel, as 32 hex digits: fence tokens and cluster
// transaction ids, which must never repeat (a transaction's intents are
// owned by its id alone). Thread-safe.
std::string RandomToken();

}  // namespace catalog::storage
