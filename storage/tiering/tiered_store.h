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
// Safety (nothing acknowledged is lost, nothing deleted comes back) does not
// depend on timing: a process may pause for any time at any point. Every
// step that acts on what it saw earlier is re-checked by Redis when it runs:
// write-backs and writes to ids that were absent check the demotion fence
// (storage/fence.h), writes to present ids compare exact bytes, demotion
// compare-and-deletes exact bytes after MySQL holds them. The argument, step
// by step, is in storage/SAFETY.md; tests pause processes inside each step.
//
// Errors: UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED (Redis full)
// from the tiers pass through; ABORTED when concurrent writers keep winning
// (max_write_attempts); CANCELLED when a demotion is cancelled.
// A missing record is a value (nullopt), never an error.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "storage/clock.h"
#include "storage/executor.h"
#include "storage/hot_cache.h"
#include "storage/metrics.h"
#include "storage/record_codec.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct TieredStoreOptions {
  // Upper bound on any Read/Write/Delete, whatever the caller's deadline.
  // A performance bound only: no safety argument depends on it. Default 5 s.
  absl::Duration max_operation_time = absl::Seconds(5);
  // Optimistic compare-and-set attempts per Write/Delete before ABORTED.
  // Default 8.
  int max_write_attempts = 8;
  // Keys per SCAN page during demotion. Default 500.
  int demote_scan_count = 500;
  // How long a request id's result answers retries. Default 24 h.
  absl::Duration request_ttl = absl::Hours(24);
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

// Makes a Write apply at most once per request id (AIP-155): the entry is
// stored by the same atomic step as the records, never evicted, and
// expires after TieredStoreOptions::request_ttl.
struct WriteOnce {
  std::string request_id;
  // The entry to record, built after every record was encoded (so it may
  // hold the response).
  std::function<std::string()> entry;
};

struct WriteResult {
  // New version per intent; empty if there was a conflict or a replay.
  std::vector<int64_t> versions;
  // Set when an expected_version did not match: nothing was written.
  std::optional<VersionConflict> conflict;
  // Set when the WriteOnce request id was already recorded: nothing was
  // written; this is the recorded entry.
  std::optional<std::string> recorded;
};

struct DemoteResult {
  int64_t scanned = 0;
  int64_t demoted = 0;
  int64_t tombstones_demoted = 0;
  int64_t skipped_changed = 0;
  // Records too large for one MySQL statement (max_allowed_packet): kept
  // in Redis; `too_large_ids` names up to 10 of them.
  int64_t too_large = 0;
  std::vector<std::string> too_large_ids;
  int64_t bytes = 0;  // Of the records and tombstones moved.
  // Idle values kept in Redis because MySQL already holds a newer version,
  // or another value under the same version (Redis behind MySQL).
  int64_t cold_newer = 0;
};

// The ids of one asynchronous read, as views into bytes the batch owns
// (e.g. the request's), so a read makes no string per id. Build it in
// place (Make) and never move it after `ids` point into `bytes`.
struct IdBatch {
  std::string bytes;
  std::vector<absl::string_view> ids;

  // A batch holding copies of `ids` (for callers that have strings).
  static std::shared_ptr<IdBatch> Copy(absl::Span<const std::string> ids);
};

// Produces the encoding of intent `index` stored at `version`.
using RecordEncoder = absl::FunctionRef<std::string(size_t index, int64_t version)>;

// Polled between demotion batches; true stops the demotion.
using CancelCheck = absl::FunctionRef<bool()>;

class TieredStore {
 public:
  // Does not take ownership; all pointers must outlive the store.
  // `executor` runs the blocking part of ReadAsync (default: inline).
  // `hot` (optional) is the in-process hot tier in front of Redis; its
  // InvalidationListener must run for it to serve anything.
  TieredStore(const RecordType& type, PrimaryTier* primary, ColdTier* cold, const Clock* clock, Metrics* metrics,
              TieredStoreOptions options, Executor* executor = nullptr, HotCache* hot = nullptr);

  // Values for `ids` (index-aligned), nullopt for missing or deleted ones.
  // Wholly from L1 (if any) when it holds every id; else one MGET; for
  // misses, one fence read, one cold query and one fenced write-back.
  absl::StatusOr<std::vector<MaybeValue>> Read(absl::Span<const std::string> ids, absl::Time deadline);

  // Read without L1: what Redis (and MySQL) hold now, for callers that
  // build cached data from it (an L1 entry may trail another server's
  // acknowledged write by the invalidation delay).
  absl::StatusOr<std::vector<MaybeValue>> ReadFresh(absl::Span<const std::string> ids, absl::Time deadline);

  // Read without blocking the calling thread: `done` runs exactly once, with
  // the ids and what Read would return, as views valid only during the call
  // (into L1's entries and Redis's reply when all were hot: no copy), on
  // the calling thread (all in L1), the thread that got Redis's reply (all
  // hot) or the executor (misses). `done` must not block.
  //
  // With ReadFrom::kReplicaOk the caller accepts values older than writes
  // already acknowledged (never values never written): when L1 does not
  // hold every id, a Redis replica is asked first (PrimaryTier::
  // MultiGetReplicaAsync, within half the time left) and its answer is used
  // only if it has a value for every id; otherwise (a miss, an error, a
  // timeout, no replica) the read goes on as kMaster. Nothing a replica
  // returned is put in L1 or written back.
  using ReadDone = std::function<void(absl::Span<const absl::string_view> ids,
                                      absl::StatusOr<absl::Span<const ValueView>> values)>;
  enum class ReadFrom { kMaster, kReplicaOk };
  void ReadAsync(std::shared_ptr<const IdBatch> ids, absl::Time deadline, ReadDone done,
                 ReadFrom from = ReadFrom::kMaster);

  // Writes all records or none. Ids must be distinct. With `once`, at most
  // once per request id: a request id already recorded returns its entry
  // in WriteResult::recorded and writes nothing.
  absl::StatusOr<WriteResult> Write(absl::Span<const WriteIntent> intents, RecordEncoder encode, absl::Time deadline,
                                    const WriteOnce* once = nullptr);

  // The entry recorded for `request_id` by a Write with WriteOnce, if any.
  absl::StatusOr<MaybeValue> LookupRequest(const std::string& request_id, absl::Time deadline);

  // Removes up to `limit` request entries past their ttl; returns how many.
  absl::StatusOr<int64_t> ExpireRequests(int limit, absl::Time deadline);

  // PrimaryTier::ResolveStale: unfinished writes settled; how many.
  absl::StatusOr<int64_t> ResolveStale(absl::Time deadline);

  // Deletes ids (distinct); returns how many existed. One compare-and-set
  // of tombstones in Redis decides; the same tombstones then replace the
  // MySQL rows in one statement (a failure there is counted, not returned:
  // the Redis tombstones already hide the rows, and demotion rewrites them).
  absl::StatusOr<int64_t> Delete(absl::Span<const std::string> ids, absl::Time deadline);

  // Moves up to `limit` (0: all) records and tombstones idle for at least
  // `min_idle` to the cold tier, in MySQL statements that fit the server's
  // max_allowed_packet. Keys it reads but does not move keep their idle
  // clocks. Returns CANCELLED (with what was done so far in the message)
  // when `cancelled` turns true between batches.
  // `fencing_token` (> 0) is the caller's demotion lock token: every MySQL
  // write checks it (ColdTier::PutIfNewer), so after another instance took
  // the lock and wrote, this run writes nothing more (FAILED_PRECONDITION).
  absl::StatusOr<DemoteResult> Demote(absl::Duration min_idle, int64_t limit, absl::Time deadline,
                                      CancelCheck cancelled, int64_t fencing_token = 0);

  // The demotion lock (PrimaryTier::AcquireDemotionLock).
  absl::StatusOr<LockGrant> AcquireDemotionLock(const std::string& holder, absl::Duration ttl, int64_t token_floor,
                                                absl::Time deadline);
  absl::Status ReleaseDemotionLock(const std::string& holder, absl::Time deadline);

  // Secondary indexes (see PrimaryTier::IndexAdd): kept in Redis only.
  // Entries may outlive a record or its indexed value; readers check the
  // records they get (CatalogCore::List does).
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline);
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time deadline);

 private:
  // What the tiers hold for a batch of ids, read for a Write/Delete.
  struct Snapshot {
    std::vector<MaybeValue> primary;    // Raw Redis values (expected by CAS).
    std::vector<FenceToken> fences;     // Read after them, before MySQL.
    std::vector<bool> live;             // A record (not a tombstone) exists.
    std::vector<int64_t> live_version;  // Version of the live record, 0 if none.
    std::vector<int64_t> last_version;  // Highest version ever seen (tombstones too).
  };
  absl::StatusOr<Snapshot> Look(absl::Span<const std::string> ids, absl::Time deadline);
  // Completes a read from Redis's values: tombstones, misses, write-backs.
  // With `ticket` (taken before the MGET), ids found nowhere are stored
  // in L1 as not found.
  absl::StatusOr<std::vector<MaybeValue>> ReadMisses(absl::Span<const absl::string_view> ids, std::vector<MaybeValue> values,
                                                     absl::Time deadline, const HotCache::Ticket* ticket = nullptr);
  void Promote(std::vector<Promotion> promotions, absl::Time deadline);
  // Demotes one page's idle values; returns an error only when nothing
  // further should be tried.
  absl::Status DemotePage(std::vector<IdleValue> idle, absl::Time scanned_at, int64_t max_record_bytes,
                          absl::Time deadline, CancelCheck cancelled, int64_t fencing_token, DemoteResult* result);
  absl::Time Bound(absl::Time deadline) const;
  struct HotLookup;
  HotLookup LookupHot(absl::Span<const absl::string_view> ids) const;
  // ReadAsync past L1: one MGET on the master, or first on a replica.
  void ReadMaster(std::shared_ptr<const IdBatch> ids, std::shared_ptr<const HotLookup> hot, absl::Time deadline,
                  ReadDone done);
  void ReadReplica(std::shared_ptr<const IdBatch> ids, std::shared_ptr<const HotLookup> hot, absl::Time deadline,
                   ReadDone done);
  std::vector<ValueView> MergeHot(const HotLookup& hot, absl::Span<const absl::string_view> ids,
                                  absl::Span<const ValueView> fetched) const;
  void Answer(const std::shared_ptr<const IdBatch>& ids, std::vector<ValueView> views, HotCache::Ticket ticket,
              absl::Time deadline, const ReadDone& done);
  void EvictLocally(absl::Span<const std::string> ids);

  const RecordType type_;
  PrimaryTier* const primary_;
  ColdTier* const cold_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const TieredStoreOptions options_;
  Executor* const executor_;
  HotCache* const hot_;
};

}  // namespace catalog::storage
