// ClusterTier: the primary tier and view cache of one record type on a Redis
// Cluster (docs/cluster-design.md). It joins the cluster's routing
// (storage/redis/cluster.h: slot-aware batches, redirections, map refresh)
// and its writes across nodes (storage/redis/cluster_cas.h: all-or-nothing
// compare-and-set, write-backs and demotions that respect its intents,
// the idle scan over every master).
//
// Keys are the standalone tier's (RecordType), so a record, its fence and
// its intent share a slot; the demotion lock and its token counter get one
// hash tag ({<demotion_lock_key>}) so one script can touch both.
//
// Reads: MultiGet is one MGET per slot, pipelined per node, every node at
// once. MultiGetFenced reads the values and then (a second round) their
// fences: the order the fence argument needs (storage/fence.h). Replica
// reads are not offered on a cluster (UNAVAILABLE: the caller reads the
// masters).
//
// Writes: CompareAndSet, Promote and CompareAndDelete as ClusterCas
// documents them; IndexAdd one ZADD per entry (idempotent, resent after a
// lost reply); InvalidateViews one script per slot with its own fresh
// token, sent at most once (a late copy would put an older token back over
// a newer one). Durability: each step is acknowledged by a master alone;
// write_replicas (WAIT) is refused for cluster deployments by the topology
// check.
//
// ResolveStale: the maintenance loop's sweep of transactions and intents
// older than `stale_after`.
//
// Errors and thread-safety: as PrimaryTier and ViewTier.
#pragma once

#include <atomic>
#include <string>

#include "storage/metrics.h"
#include "storage/record_codec.h"
#include "storage/redis/cluster.h"
#include "storage/redis/cluster_cas.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct ClusterTierOptions {
  // Transactions (and intents) older than this are resolved by a writer
  // they block and by ResolveStale. Liveness only. Default 2 s.
  absl::Duration stale_after = absl::Seconds(2);
  // How long an assembled view stays cached. Default 5 min.
  absl::Duration view_ttl = absl::Minutes(5);
};

class ClusterTier : public PrimaryTier, public ViewTier {
 public:
  // `cluster` and `metrics` must outlive the tier.
  ClusterTier(RedisCluster* cluster, RecordType type, Metrics* metrics, ClusterTierOptions options = {});

  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time deadline) override;
  absl::StatusOr<std::vector<FenceToken>> ReadFences(absl::Span<const std::string> ids, absl::Time deadline) override;
  absl::StatusOr<FencedRead> MultiGetFenced(absl::Span<const std::string> ids, absl::Time deadline) override;
  absl::StatusOr<std::vector<bool>> Promote(absl::Span<const Promotion> entries, absl::Time deadline) override;
  absl::StatusOr<CasResult> CompareAndSet(absl::Span<const CasEntry> entries, const RequestEntry* request,
                                          absl::Time deadline) override;
  absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries, absl::Time deadline) override;
  absl::StatusOr<IdleScanPage> ScanIdle(uint64_t cursor, absl::Duration min_idle, int count, int max_values,
                                        absl::Time deadline) override;
  absl::Status RestoreIdle(absl::Span<const IdleValue> entries, absl::Duration since_scan,
                           absl::Time deadline) override;
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) override;
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time deadline) override;
  absl::StatusOr<MaybeValue> GetRequest(const std::string& request_id, absl::Time deadline) override;
  absl::StatusOr<int64_t> ExpireRequests(int limit, absl::Time deadline) override;
  absl::StatusOr<int64_t> ResolveStale(absl::Time deadline) override;
  absl::StatusOr<LockGrant> AcquireDemotionLock(const std::string& holder, absl::Duration ttl, int64_t token_floor,
                                                absl::Time deadline) override;
  absl::Status ReleaseDemotionLock(const std::string& holder, absl::Time deadline) override;

  absl::StatusOr<ViewLookup> LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                         absl::Time deadline) override;
  absl::Status FillViews(absl::Span<const ViewFill> entries, const std::string& variant,
                         absl::Time deadline) override;
  absl::Status InvalidateViews(absl::Span<const std::string> ids, const std::string& variant,
                               absl::Time deadline) override;

  // The demotion lock's keys on a cluster (one slot).
  std::string LockKey() const;
  std::string LockTokenKey() const;

 private:
  std::vector<std::string> Keys(absl::Span<const std::string> ids, absl::string_view prefix) const;
  std::string ViewKey(absl::string_view id) const;
  // One script per slot of the view keys of `ids`: `per_slot(indices)`
  // builds its arguments after the keys (n view keys, then n fences).
  absl::Status ViewScripts(const char* script, absl::Span<const std::string> ids, bool at_most_once,
                           const std::function<std::vector<std::string>(const std::vector<size_t>&)>& args,
                           absl::string_view what, absl::Time deadline);
  absl::StatusOr<OwnedReply> OnLockSlot(RedisCommand command, absl::string_view what, absl::Time deadline);

  RedisCluster* const cluster_;
  const RecordType type_;
  const ClusterTierOptions options_;
  ClusterCas cas_;
};

}  // namespace catalog::storage
