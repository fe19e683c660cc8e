// ClusterCas: PrimaryTier::CompareAndSet for ids spread over the nodes of a
// Redis Cluster, all or nothing, with no timing assumption in its safety
// argument (docs/cluster-design.md; storage/SAFETY.md, "Writes across
// Cluster nodes"). It also carries the other primitives of a cluster
// primary tier that must respect its intents or reach every master:
// Promote, CompareAndDelete, ScanIdle, RestoreIdle, ExpireRequests.
//
// On one Redis, one Lua script checks and writes every id of a batch. On a
// cluster a script reaches one slot only, so a batch is a transaction T in
// five steps, each one script (or one per slot, every node at once):
//
//   1. Begin, on T's bucket (a slot chosen by the request id, or by T):
//      the transaction record txn:{bucket}T = {state: pending, created,
//      ids}, listed in the bucket's open set. With a request id already
//      recorded: kRequestDone (once the recording transaction is applied),
//      nothing else happens.
//   2. Prepare, per slot: every id's expectation and fence are checked as on
//      one Redis, and no other transaction may hold an intent on the id;
//      then an intent key per id (same slot as the record) names T and the
//      replacement. Readers never look at intents.
//   3. Commit, on T's bucket: pending -> committed (and the request entry
//      recorded, naming T), in one script. THE commit point.
//   4. Apply, per slot: each intent that still names T is written to its
//      record and deleted.
//   5. Finish, on T's bucket: the transaction record and its open-set entry
//      go (the request entry stays until its ttl).
//
// Abort is pending -> aborted on the transaction record (the same key as
// commit, so exactly one of them wins whoever runs them and however late),
// then T's intents are deleted. A writer aborts itself when a check fails
// (kChanged) or when another transaction holds an intent it needs (it then
// retries with a new T after a random pause, until the deadline: no
// deadlock, as it holds nothing while it waits). A transaction older than
// `stale_after` (by the Redis clock of the node holding its intent) that
// blocks a writer, or that ResolveStale finds in an open set, is resolved
// by anyone: aborted if still pending, applied if committed. A paused
// writer that resumes after that finds its commit refused (kChanged,
// nothing of it written) or its intents already applied: `stale_after` is
// a liveness bound only.
//
// What readers may see: until the commit every read returns the old values
// (intents are invisible). Between commit and the end of apply, a read of
// several ids may return some new values and some old ones (per-node MGETs
// are not one atomic step). Once CompareAndSet returns kApplied every read
// returns every new value. A writer that dies after its commit leaves its
// batch partly applied until someone resolves it (the next writer of one of
// its ids, or ResolveStale from the maintenance loop).
//
// Every other script that writes a record on a cluster leaves alone a
// record whose intent key exists: Promote (a write-back) and
// CompareAndDelete (a demotion) below.
//
// Durability: each step is acknowledged by the node's master alone (no
// WAIT yet); a master failover can lose a step like any asynchronous write,
// and with it the all-or-nothing outcome of a batch that was not yet
// acknowledged to the caller.
//
// Sent at most once: begin, prepare and commit (a copy of one of them
// running late could otherwise begin or prepare a transaction already
// settled). A lost reply to begin or prepare abandons T (aborted; nothing
// written); to commit, T is resolved: kApplied if it had committed, the
// original error ("nothing was written") if it had not, UNAVAILABLE
// "outcome unknown" if someone else had already settled it. Apply, abort,
// release and finish are idempotent and may be resent or run late: no
// intent can name T after its commit (every prepare was acknowledged once).
//
// Errors: as PrimaryTier (UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED when a node is full, INTERNAL for nonsense replies).
// Thread-safety: safe for concurrent use.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/record_codec.h"
#include "storage/redis/cluster.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct ClusterCasOptions {
  // A transaction older than this that stands in a writer's way is
  // resolved by that writer (ResolveStale uses its own age). Liveness
  // only: resolving a live transaction costs it its commit, never data.
  // Default 2 s.
  absl::Duration stale_after = absl::Seconds(2);
  // First pause before a writer retries after meeting another transaction
  // (random, up to this, doubling). Default 2 ms.
  absl::Duration first_backoff = absl::Milliseconds(2);
};

class ClusterCas {
 public:
  // The steps, for tests that pause a writer between two of them.
  enum class Step { kBegun, kPrepared, kCommitted, kApplied };

  // `cluster` and `metrics` must outlive this.
  ClusterCas(RedisCluster* cluster, const RecordType& type, Metrics* metrics, ClusterCasOptions options = {});
  virtual ~ClusterCas() = default;

  // PrimaryTier::CompareAndSet across slots (contract above).
  absl::StatusOr<CasResult> CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                          absl::Time deadline);

  // The value recorded for `request_id` by a CompareAndSet, if any.
  absl::StatusOr<MaybeValue> GetRequest(const std::string& request_id, absl::Time deadline);

  // PrimaryTier::Promote on a cluster: per entry, stores the value only if
  // the record is absent, its fence holds the entry's fence, and no
  // transaction holds an intent on it (a prepared expectation must not
  // change under it). One script per slot, every node at once, sent at most
  // once (a second copy would report its own write as "not stored").
  absl::StatusOr<std::vector<bool>> Promote(absl::Span<const Promotion> entries, absl::Time deadline);

  // PrimaryTier::CompareAndDelete on a cluster: per entry, deletes the
  // record if it holds the value and no transaction holds an intent on it,
  // and writes a fresh token into its fence. One script per slot, each with
  // its own token, sent at most once (a late copy would write its token
  // again over a newer one).
  absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries, absl::Time deadline);

  // PrimaryTier::ScanIdle on a cluster: the masters one after another (in
  // address order), `cursor` carrying the master's index in its top 8 bits
  // and its SCAN cursor below; the idle check per slot. A reshard during a
  // scan may skip or repeat keys (demotion is a best effort that runs
  // again; every demotion is checked by CompareAndDelete).
  absl::StatusOr<IdleScanPage> ScanIdle(uint64_t cursor, absl::Duration min_idle, int count, int max_values,
                                        absl::Time deadline);
  // PrimaryTier::RestoreIdle on a cluster: one script per slot.
  absl::Status RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan, absl::Time deadline);

  // Removes up to `limit` request entries per bucket whose ttl has passed
  // (Redis clock); returns how many. For the maintenance loop.
  absl::StatusOr<int64_t> ExpireRequests(int limit, absl::Time deadline);

  // Resolves every transaction opened more than `older_than` ago (Redis
  // clock) and not finished: pending ones are aborted, committed ones
  // applied; then the intents written more than `older_than` ago found in
  // the next slice of the masters' keys (a bounded part per call; the
  // next call goes on from there), each through the transaction it names
  // (an intent of a finished transaction is released). Returns how many
  // were resolved. For the maintenance loop.
  absl::StatusOr<int64_t> ResolveStale(absl::Duration older_than, absl::Time deadline);

  // The intent key of record `id`: same slot as the record.
  std::string IntentKey(absl::string_view id) const;

  static constexpr int kBuckets = 16;

 protected:
  // Called after each step of a CompareAndSet with the transaction's
  // record key; does nothing. A test overrides it to pause the writer.
  virtual void AfterStep(Step step, const std::string& txn_key) {}

 private:
  struct Txn;
  enum class Attempt { kApplied, kChanged, kRequestDone, kBusy };
  absl::StatusOr<Attempt> TryOnce(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                  absl::Time deadline, CasResult* result, std::string* blocker);
  // Aborts the transaction if still pending, then applies its intents if it
  // committed or deletes them otherwise, and finishes it. `known_ids`: ids
  // that may hold its intents besides those its record lists (released
  // if the record is gone: then nothing can commit it any more).
  enum class Settled { kCommitted, kAborted, kGone };
  absl::StatusOr<Settled> Resolve(const std::string& txn_key, absl::Span<const std::string> known_ids,
                                  absl::Time deadline);
  // A recorded request "<txn key>\n<answer>": its transaction resolved (so
  // its batch is applied everywhere), then the answer.
  absl::StatusOr<std::string> RecordedAnswer(const std::string& recorded, absl::Time deadline);
  // Runs the apply (commit = true) or release script on each slot of
  // `intent_keys` for transaction `txn_id`.
  absl::Status Settle(const std::string& txn_id, const std::vector<std::string>& intent_keys, bool apply,
                      absl::Time deadline);
  absl::Status Finish(const std::string& txn_key, const std::string& txn_id, absl::Time deadline);
  std::string BucketTag(absl::string_view name) const;
  struct NodePage {
    uint64_t next = 0;  // SCAN cursor; 0 when done.
    std::vector<std::string> keys;
  };
  // One SCAN page of the master owning `master_slot`.
  absl::StatusOr<NodePage> ScanNode(uint16_t master_slot, uint64_t cursor, const std::string& match, int count,
                                    absl::Time deadline);
  // Runs `script` once per slot over `keys` (any slots) with `args` after
  // them. Each reply lists groups of `width` elements {index into the
  // slot's keys (1-based), fields...}; `found` gets each group's key and
  // fields.
  absl::Status ScriptOverKeys(const char* script, const std::vector<std::string>& keys,
                              const std::vector<std::string>& args, size_t width, absl::string_view what,
                              const std::function<void(const std::string&, const OwnedReply*)>& found,
                              absl::Time deadline);
  // The intent half of ResolveStale: the next slice (16 SCAN pages of
  // 1000) of every master's keys in turn, resumed by the next call.
  absl::StatusOr<int64_t> ReleaseOldIntents(absl::Duration older_than, absl::Time deadline);
  // Indices of `ids` grouped by their records' slots.
  std::map<uint16_t, std::vector<size_t>> BySlot(const std::function<const std::string&(size_t)>& id, size_t n) const;
  // Runs `script` once per slot group (at most once) with, per entry, the
  // record, fence and intent keys and `args(i)`, then `tail` arguments;
  // returns one flag per entry from the per-slot 0/1 replies.
  absl::StatusOr<std::vector<bool>> PerSlotFlags(const char* script, size_t n,
                                                 const std::function<const std::string&(size_t)>& id,
                                                 const std::function<void(size_t, RedisCommand&)>& args,
                                                 const std::function<std::vector<std::string>()>& tail,
                                                 absl::string_view what, absl::Time deadline);

  RedisCluster* const cluster_;
  const RecordType type_;
  Metrics* const metrics_;
  const ClusterCasOptions options_;
  // Where the next intent sweep resumes (ReleaseOldIntents).
  absl::Mutex sweep_mu_;
  uint64_t sweep_cursor_ ABSL_GUARDED_BY(sweep_mu_) = 0;
};

}  // namespace catalog::storage
