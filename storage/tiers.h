// The two storage tiers behind TieredStore, as interfaces so tests can put a
// fault-injecting double in place of either (override one method).
//
// PrimaryTier (Redis): holds every recently used record and every recent
// delete tombstone; it is the serialization point for writes. ColdTier
// (MySQL): holds records and tombstones demoted for being idle, and stale
// copies of promoted records.
//
// Conventions for every method:
// - `ids` are record ids without key prefix; results are index-aligned.
// - A missing record is a value (std::nullopt), never an error.
// - Errors: UNAVAILABLE when the backend cannot be reached or fails,
//   DEADLINE_EXCEEDED when `deadline` passes first, INTERNAL for replies
//   that make no sense. Nothing is retried silently unless it is a read.
// - Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace catalog::storage {

using MaybeValue = std::optional<std::string>;

// One key of an atomic compare-and-set.
struct CasEntry {
  std::string id;
  // The value that must be current (nullopt: the key must be absent).
  MaybeValue expected;
  // The value to store if every expectation holds (nullopt: leave as is).
  MaybeValue replacement;
};

struct IndexEntry {
  std::string index;  // e.g. "category:shoes"
  std::string id;
};

struct IdValue {
  std::string id;
  std::string value;
};

// One page of an idle-key scan.
struct IdleScanPage {
  // Cursor for the next call; 0 when the scan is complete.
  uint64_t next_cursor = 0;
  // Keys looked at in this page.
  int64_t scanned = 0;
  // Keys idle for at least the requested time, with their current values.
  std::vector<IdValue> idle;
};

class PrimaryTier {
 public:
  virtual ~PrimaryTier() = default;

  // Values of all ids in ONE round trip (MGET).
  virtual absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time deadline) = 0;

  // Stores each value only where the key is absent (SET NX), all in one
  // pipelined round trip. Returns, per entry, whether it was stored.
  virtual absl::StatusOr<std::vector<bool>> AddIfAbsent(absl::Span<const IdValue> entries, absl::Time deadline) = 0;

  // Atomically: if every entry's key holds `expected`, store every
  // `replacement` and return true; otherwise change nothing, return false.
  virtual absl::StatusOr<bool> CompareAndSet(absl::Span<const CasEntry> entries, absl::Time deadline) = 0;

  // Per entry, atomically deletes the key if it still holds `value`.
  // Returns, per entry, whether it was deleted.
  virtual absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries,
                                                             absl::Time deadline) = 0;

  // Scans about `count` keys from `cursor` (0 starts a scan) and returns
  // those unused for at least `min_idle`, without touching their LRU clocks.
  virtual absl::StatusOr<IdleScanPage> ScanIdle(uint64_t cursor, absl::Duration min_idle, int count,
                                                absl::Time deadline) = 0;

  // Secondary indexes: named sets of ids, kept in the primary tier only and
  // never demoted. Adds every (index, id) pair in one round trip.
  virtual absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) = 0;

  // Up to `limit` ids of `index` greater than `after` ("" for the first),
  // in byte order.
  virtual absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after,
                                                              int limit, absl::Time deadline) = 0;
};

struct ColdRecord {
  std::string payload;
  int64_t version = 0;
};

struct ColdWrite {
  std::string id;
  std::string payload;
  int64_t version = 0;
};

class ColdTier {
 public:
  virtual ~ColdTier() = default;

  // Rows for all ids in ONE query (SELECT ... WHERE id IN (...)).
  virtual absl::StatusOr<std::vector<std::optional<ColdRecord>>> MultiGet(absl::Span<const std::string> ids,
                                                                          absl::Time deadline) = 0;

  // Inserts each record, or replaces the stored row only if the record's
  // version is greater, in one statement.
  virtual absl::Status PutIfNewer(absl::Span<const ColdWrite> records, absl::Time deadline) = 0;
};

}  // namespace catalog::storage
