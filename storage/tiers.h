// The two storage tiers behind TieredStore, as interfaces so tests can put a
// fault-injecting double in place of either (override one method).
//
// PrimaryTier (Redis): holds every recently used record and every recent
// delete tombstone; it is the serialization point for writes. ColdTier
// (MySQL): holds records and tombstones demoted for being idle, and stale
// copies of promoted records.
//
// Every method that moves a record between tiers, or writes on the strength
// of an earlier read, is checked inside Redis when it runs (a fence, see
// storage/fence.h and storage/SAFETY.md): no correctness argument here
// depends on how long anything takes.
//
// Conventions for every method:
// - `ids` are record ids without key prefix; results are index-aligned.
// - A missing record is a value (std::nullopt), never an error.
// - Errors: UNAVAILABLE when the backend cannot be reached or fails,
//   DEADLINE_EXCEEDED when `deadline` passes first, RESOURCE_EXHAUSTED when
//   Redis is full (writes only; see storage/backend_errors.h), INTERNAL for
//   replies that make no sense. Nothing is retried silently unless it is a
//   read.
// - Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace catalog::storage {

using MaybeValue = std::optional<std::string>;
// A value (or its absence) owned by someone else.
using ValueView = std::optional<absl::string_view>;

inline std::vector<ValueView> Views(absl::Span<const MaybeValue> values) {
  std::vector<ValueView> views(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].has_value()) views[i] = *values[i];
  }
  return views;
}

// The inverse: copies of the viewed values.
inline std::vector<MaybeValue> Owned(absl::Span<const ValueView> views) {
  std::vector<MaybeValue> values(views.size());
  for (size_t i = 0; i < views.size(); ++i) {
    if (views[i].has_value()) values[i].emplace(*views[i]);
  }
  return values;
}

// What the demotion fence of an id's bucket held when read (nullopt: no
// demotion has touched the bucket yet). Opaque; only compared for equality.
using FenceToken = std::optional<std::string>;

// Values and the fences read after them, in one round trip.
struct FencedRead {
  std::vector<MaybeValue> values;
  std::vector<FenceToken> fences;
};

// A cold record to write back to Redis.
struct Promotion {
  std::string id;
  std::string value;
  // The fence read after the key was seen absent and before the cold read.
  FenceToken fence;
};

// One key of an atomic compare-and-set.
struct CasEntry {
  std::string id;
  // The value that must be current (nullopt: the key must be absent).
  MaybeValue expected;
  // With `expected` nullopt: the fence read with it, which must still hold
  // (no demotion removed the key meanwhile). Ignored otherwise: the exact
  // bytes of a value name one version of one record.
  FenceToken fence;
  // The value to store if every expectation holds (nullopt: leave as is).
  MaybeValue replacement;
};

// Recorded in the same atomic step as a compare-and-set (request ids,
// AIP-155): never evicted, expired by ExpireRequests after `ttl`.
struct RequestEntry {
  std::string request_id;
  std::string value;
  absl::Duration ttl;
};

struct CasResult {
  enum class Outcome {
    kApplied,      // Every expectation held: replacements (and the request entry) stored.
    kChanged,      // Some key or fence changed: nothing stored; look again.
    kRequestDone,  // The request id was recorded already: nothing stored.
  };
  Outcome outcome = Outcome::kChanged;
  // With kRequestDone: the recorded value.
  std::string recorded;
};

struct IndexEntry {
  std::string index;  // e.g. "category:shoes"
  std::string id;
};

struct IdValue {
  std::string id;
  std::string value;
};

struct IdleValue {
  std::string id;
  std::string value;
  // Idle time when read, to put back if the record stays (RestoreIdle).
  int64_t idle_seconds = 0;
};

// One page of an idle-key scan.
struct IdleScanPage {
  // Cursor for the next call; 0 when the scan is complete.
  uint64_t next_cursor = 0;
  // Keys looked at in this page.
  int64_t scanned = 0;
  // Keys idle for at least the requested time, with their current values
  // (at most `max_values` of them).
  std::vector<IdleValue> idle;
};

struct LockGrant {
  bool held = false;
  // With `held`: the fencing token of this holding (> 0).
  int64_t token = 0;
  // Without `held`: who has the lock.
  std::string holder;
};

class PrimaryTier {
 public:
  virtual ~PrimaryTier() = default;

  // Values of all ids in ONE round trip (MGET).
  virtual absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time deadline) = 0;

  // MultiGet without blocking the caller: `done` runs exactly once, on some
  // thread, with what MultiGet would return, as views into the reply that
  // are valid only during the call (so a response can be built from them
  // with one copy). It must not block (it may run on an event-loop thread).
  // By default MultiGet runs inline.
  // `ids` must stay valid until `done` has run.
  using ValuesDone = std::function<void(absl::StatusOr<absl::Span<const ValueView>>)>;
  virtual void MultiGetAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) {
    const std::vector<std::string> owned(ids.begin(), ids.end());
    absl::StatusOr<std::vector<MaybeValue>> values = MultiGet(owned, deadline);
    if (!values.ok()) return done(values.status());
    const std::vector<ValueView> views = Views(*values);
    done(absl::MakeConstSpan(views));
  }

  // MultiGetAsync on a replica, for reads whose callers accept an answer
  // older than writes already acknowledged (never one never written). The
  // same contract otherwise. UNAVAILABLE when no replica is in use (by
  // default always): the caller reads the master instead.
  virtual void MultiGetReplicaAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) {
    done(absl::UnavailableError("no replica reads here"));
  }

  // The fences of the ids' buckets, in one round trip.
  virtual absl::StatusOr<std::vector<FenceToken>> ReadFences(absl::Span<const std::string> ids,
                                                             absl::Time deadline) = 0;

  // Values, then their fences (each fence read after its value): one
  // pipelined round trip on one Redis (MGET, MGET), two rounds on a cluster.
  virtual absl::StatusOr<FencedRead> MultiGetFenced(absl::Span<const std::string> ids, absl::Time deadline) = 0;

  // Per entry, atomically: stores the value if the key is absent AND its
  // fence still holds `fence`. Returns, per entry, whether it was stored.
  // One round trip.
  virtual absl::StatusOr<std::vector<bool>> Promote(absl::Span<const Promotion> entries, absl::Time deadline) = 0;

  // Atomically: if `request` is given and its id is recorded, kRequestDone;
  // else if every entry's key holds `expected` (and, for expected-absent
  // keys, the fence holds `fence`), stores every replacement and the
  // request entry: kApplied; otherwise changes nothing: kChanged. Refused
  // whole (RESOURCE_EXHAUSTED) when Redis is full.
  virtual absl::StatusOr<CasResult> CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                                  absl::Time deadline) = 0;

  // Per entry, atomically: deletes the key if it still holds `value`, and
  // then writes a fresh token into its bucket's fence. Works when Redis is
  // full (it frees memory). Returns, per entry, whether it was deleted.
  virtual absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries,
                                                             absl::Time deadline) = 0;

  // Scans about `count` keys from `cursor` (0 starts a scan) and returns up
  // to `max_values` of those unused for at least `min_idle`. Only the keys
  // returned are read (which resets their idle clocks: RestoreIdle puts the
  // clocks back for those that stay).
  virtual absl::StatusOr<IdleScanPage> ScanIdle(uint64_t cursor, absl::Duration min_idle, int count, int max_values,
                                                absl::Time deadline) = 0;

  // Per entry still holding `value` and not used since the scan read it
  // `since_scan` ago: sets its idle clock to `idle_seconds` + since_scan, so
  // a record that was read by a scan but not demoted stays as idle as it
  // would have been. Entries used meanwhile keep their clocks.
  virtual absl::Status RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan,
                                   absl::Time deadline) = 0;

  // Secondary indexes: named sets of ids, kept in the primary tier only and
  // never demoted. Adds every (index, id) pair in one round trip.
  virtual absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) = 0;

  // Up to `limit` ids of `index` greater than `after` ("" for the first),
  // in byte order.
  virtual absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after,
                                                              int limit, absl::Time deadline) = 0;

  // The value recorded for `request_id` by a CompareAndSet, if any.
  virtual absl::StatusOr<MaybeValue> GetRequest(const std::string& request_id, absl::Time deadline) = 0;

  // Removes up to `limit` request entries whose ttl has passed (by Redis's
  // clock). Returns how many were removed.
  virtual absl::StatusOr<int64_t> ExpireRequests(int limit, absl::Time deadline) = 0;

  // Settles writes that writers left unfinished (they died or paused
  // between the steps of a write across Redis Cluster nodes): for the
  // maintenance loop. Returns how many were settled. By default nothing:
  // on one Redis every write is one script.
  virtual absl::StatusOr<int64_t> ResolveStale(absl::Time deadline) { return int64_t{0}; }

  // The demotion lock of this record type (storage/SAFETY.md, "Demotion
  // lock"). Atomically: if the lock is free, `holder` takes it for `ttl`
  // with a fencing token greater than every token handed out before; if
  // `holder` has it, its ttl restarts and the token stays. Works when Redis
  // is full (demotion is the remedy then). A new token is also greater
  // than `token_floor` (the newest token MySQL has seen, should the counter
  // have fallen behind it: a failover lost its increments).
  virtual absl::StatusOr<LockGrant> AcquireDemotionLock(const std::string& holder, absl::Duration ttl,
                                                        int64_t token_floor, absl::Time deadline) = 0;
  // Frees the lock if `holder` has it; otherwise changes nothing.
  virtual absl::Status ReleaseDemotionLock(const std::string& holder, absl::Time deadline) = 0;
};

// What a record costs a cold-tier statement beyond its id and payload bytes
// (see ColdTier::MaxRecordBytes).
inline constexpr int64_t kColdRowOverheadBytes = 24;

struct ColdRecord {
  std::string payload;
  int64_t version = 0;
};

struct ColdWrite {
  std::string id;
  std::string payload;
  int64_t version = 0;
};

inline constexpr char kFenceTokenPayload[] = "catalog.storage/fence-token";

class ColdTier {
 public:
  virtual ~ColdTier() = default;

  // Rows for all ids in ONE query (SELECT ... WHERE id IN (...)).
  virtual absl::StatusOr<std::vector<std::optional<ColdRecord>>> MultiGet(absl::Span<const std::string> ids,
                                                                          absl::Time deadline) = 0;

  // Inserts each record, or replaces the stored row only if the record's
  // version is greater. As few statements as the server's packet limit
  // allows; each row's change is atomic and only ever moves it forward, so
  // a failure part-way leaves nothing that a retry would not repair.
  // Returns, per record, whether MySQL now holds exactly it (this version
  // and these bytes): false where a newer version, or another value under
  // the same version, was there (Redis behind MySQL, e.g. after a Redis
  // failover lost writes that had been demoted). INVALID_ARGUMENT naming
  // the id if one record alone exceeds MaxRecordBytes() (nothing is written
  // then).
  //
  // `fencing_token` > 0 (demotion): the writes are made only if no write
  // with a greater token has been made before, and in one transaction with
  // recording the token, so a holder of the demotion lock that lost it
  // (paused past its ttl) writes nothing once a newer holder has written:
  // FAILED_PRECONDITION then, nothing written, with the newest token as
  // the payload kFenceTokenPayload (decimal), so the lock's counter can be
  // raised past it. 0: no check (deletes).
  virtual absl::StatusOr<std::vector<bool>> PutIfNewer(absl::Span<const ColdWrite> records, absl::Time deadline,
                                                       int64_t fencing_token) = 0;

  // The largest id + payload size PutIfNewer can write in one statement
  // (from the server's max_allowed_packet). Records fit one statement
  // together when the sum of (id + payload + kColdRowOverheadBytes) is at
  // most MaxRecordBytes() + kColdRowOverheadBytes.
  virtual absl::StatusOr<int64_t> MaxRecordBytes(absl::Time deadline) = 0;
};

// Assembled views of records (e.g. a product with its offer in one market):
// pure cache in the primary tier's Redis, TTL'd so volatile-lru evicts them
// first. Each view is keyed by a record id and a variant (the market).
// Safety (storage/SAFETY.md, "View cache"): a view is stored only if no
// invalidation of its id ran since the caller's Lookup, and every write that
// changes a part of a view invalidates it before it is acknowledged.
struct ViewLookup {
  std::vector<MaybeValue> views;   // Index-aligned with the ids.
  std::vector<FenceToken> fences;  // Read with them; pass to Fill.
};

struct ViewFill {
  std::string id;
  FenceToken fence;  // From the Lookup that missed.
  std::string view;
};

class ViewTier {
 public:
  virtual ~ViewTier() = default;
  // The cached views of `ids` in `variant` and their fences: one round trip.
  virtual absl::StatusOr<ViewLookup> LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                                 absl::Time deadline) = 0;
  // Per entry, atomically: stores the view if the id's fence still holds
  // `fence`. One round trip; refused entries are simply not stored.
  virtual absl::Status FillViews(absl::Span<const ViewFill> entries, const std::string& variant,
                                 absl::Time deadline) = 0;
  // For each id, atomically: a fresh token into its fence, and its views
  // removed (all variants when `variant` is empty). Works when Redis is full.
  virtual absl::Status InvalidateViews(absl::Span<const std::string> ids, const std::string& variant,
                                       absl::Time deadline) = 0;
};

}  // namespace catalog::storage
