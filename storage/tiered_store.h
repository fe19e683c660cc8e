// TieredStore: records of one RecordType over a primary tier (Redis) and a
// cold tier (MySQL).
//
// Where a record lives:
// - Redis holds every recently used record and recent delete tombstones. It
//   is the source of truth for any id it has a value for, and the one place
//   where writes are serialized (atomic compare-and-set scripts).
// - MySQL holds records and tombstones demoted for being idle, plus stale
//   copies that a promotion left behind; it is the truth only for ids absent
//   from Redis.
//
// Safety invariant (why nothing acknowledged is lost and nothing deleted comes
// back): every Read/Write/Delete finishes within `max_operation_time`, and
// Demote only touches keys idle for longer than that. So a read that found a
// record in MySQL and writes it back with SET NX can never race with a
// demotion of a newer version, and a write that saw an id absent from Redis
// can never be overtaken by a demotion of a value written after its look.
// Deletes write tombstones in Redis (no TTL, so never evicted); demotion
// moves idle ones to MySQL like records, replacing the older row there. So a
// late promotion never resurrects a deleted record, and versions keep
// growing across a delete and a re-create.
//
// Errors: UNAVAILABLE / DEADLINE_EXCEEDED from the tiers pass through;
// ABORTED when concurrent writers keep winning (max_write_attempts);
// INVALID_ARGUMENT for a demotion idle time that breaks the invariant.
// A missing record is a value (nullopt), never an error.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "storage/clock.h"
#include "storage/metrics.h"
#include "storage/record_codec.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct TieredStoreOptions {
  // Upper bound on any Read/Write/Delete, whatever the caller's deadline.
  // Demotion requires idle times above it. Default 5 s.
  absl::Duration max_operation_time = absl::Seconds(5);
  // Optimistic compare-and-set attempts per Write/Delete before ABORTED.
  // Default 8.
  int max_write_attempts = 8;
  // Keys per SCAN page during demotion. Default 500.
  int demote_scan_count = 500;
};

// One record of a conditional write.
struct WriteIntent {
  std::string id;
  // The version the caller read; 0 writes unconditionally.
  int64_t expected_version = 0;
};

struct VersionConflict {
  size_t index = 0;      // Into the intents.
  int64_t expected = 0;  // What the caller sent.
  int64_t stored = 0;    // What is stored (0: no record).
};

struct WriteResult {
  // New version per intent; empty if there was a conflict.
  std::vector<int64_t> versions;
  // Set when an expected_version did not match: nothing was written.
  std::optional<VersionConflict> conflict;
};

struct DemoteResult {
  int64_t scanned = 0;
  int64_t demoted = 0;
  int64_t tombstones_demoted = 0;
  int64_t skipped_changed = 0;
};

// Produces the encoding of intent `index` stored at `version`.
using RecordEncoder = absl::FunctionRef<std::string(size_t index, int64_t version)>;

class TieredStore {
 public:
  // Does not take ownership; all pointers must outlive the store.
  TieredStore(const RecordType& type, PrimaryTier* primary, ColdTier* cold, const Clock* clock, Metrics* metrics,
              TieredStoreOptions options);

  // Values for `ids` (index-aligned), nullopt for missing or deleted ones.
  // One MGET; one cold query for the misses, if any; found cold records are
  // written back to Redis (one pipelined SET NX round trip).
  absl::StatusOr<std::vector<MaybeValue>> Read(absl::Span<const std::string> ids, absl::Time deadline);

  // Writes all records or none. Ids must be distinct.
  absl::StatusOr<WriteResult> Write(absl::Span<const WriteIntent> intents, RecordEncoder encode, absl::Time deadline);

  // Deletes ids (distinct); returns how many existed. One compare-and-set
  // of tombstones in Redis decides; the same tombstones then replace the
  // MySQL rows in one statement (a failure there is counted, not returned:
  // the Redis tombstones already hide the rows, and demotion rewrites them).
  absl::StatusOr<int64_t> Delete(absl::Span<const std::string> ids, absl::Time deadline);

  // Moves up to `limit` (0: all) records and tombstones idle for at least
  // `min_idle` to the cold tier. `min_idle` must exceed
  // max_operation_time + 1 s (Redis idle clocks tick in seconds).
  absl::StatusOr<DemoteResult> Demote(absl::Duration min_idle, int64_t limit, absl::Time deadline);

  // Secondary indexes (see PrimaryTier::IndexAdd): kept in Redis only.
  // Entries may outlive a record or its indexed value; readers check the
  // records they get (CatalogCore::List does).
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline);
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time deadline);

  absl::Duration min_demote_idle() const { return options_.max_operation_time + absl::Seconds(1); }

 private:
  // What the tiers hold for a batch of ids, read for a Write/Delete.
  struct Snapshot {
    std::vector<MaybeValue> primary;    // Raw Redis values (expected by CAS).
    std::vector<bool> live;             // A record (not a tombstone) exists.
    std::vector<int64_t> live_version;  // Version of the live record, 0 if none.
    std::vector<int64_t> last_version;  // Highest version ever seen (tombstones too).
  };
  absl::StatusOr<Snapshot> Look(absl::Span<const std::string> ids, absl::Time deadline);
  void Promote(std::vector<IdValue> promotions, absl::Time deadline);
  absl::Time Bound(absl::Time deadline) const;

  const RecordType type_;
  PrimaryTier* const primary_;
  ColdTier* const cold_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const TieredStoreOptions options_;
};

}  // namespace catalog::storage
