// RedisTier: the primary tier on one Redis server (or one per record type,
// later). Records live under key_prefix + id with no TTL, so they are never
// evicted under maxmemory-policy volatile-lru; only TTL'd cache keys are.
// Request-id entries and demotion fences have no TTL either.
//
// Everything that must be atomic is a Lua script sent with EVAL (no
// per-connection state, so a restarted Redis needs no recovery path). Each
// script declares its flags (Redis 7 "#!lua" shebang): writers that add
// data are refused whole by Redis when it is at maxmemory, before they run;
// demotion, expiry and idle-clock restores are allowed then (they free or
// keep memory); the idle scan is read-only. Each script names every key it
// touches except ExpireRequests' (see there).
//
// Contract: see PrimaryTier. Thread-safe.
#pragma once

#include <atomic>

#include "absl/functional/function_ref.h"

#include "storage/metrics.h"
#include "storage/record_codec.h"
#include "storage/redis/redis_async.h"
#include "storage/redis/redis_connection.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct RedisTierOptions {
  // Durability of acknowledged writes (README, "Failover"). With N > 0,
  // CompareAndSet and IndexAdd send `WAIT N wait_timeout` in the same round
  // trip and succeed only if N replicas confirm: a failover to one of them
  // keeps the write. Fewer within wait_timeout: UNAVAILABLE saying so; the
  // write is applied on the master (readers see it) but may be lost in a
  // failover, and a retry is safe (same value, or the same request id,
  // answered from the request log). 0 (default): acknowledged once the
  // master applied it; a failover loses what the replica had not received.
  int write_replicas = 0;
  // Default 100 ms; must stay below the pool's command_timeout.
  absl::Duration wait_timeout = absl::Milliseconds(100);
  // How long an assembled view stays cached (ViewTier). Default 5 min.
  absl::Duration view_ttl = absl::Minutes(5);
};

class RedisTier : public PrimaryTier, public ViewTier {
 public:
  // `pool`, `metrics`, `async` and `replica` (if given) must outlive the
  // tier. With `async`, MultiGetAsync sends its MGET without blocking a
  // thread. With `replica` (async connections to a ReplicaEndpoint),
  // MultiGetReplicaAsync reads there; nothing else ever does.
  RedisTier(RedisPool* pool, RecordType type, Metrics* metrics, AsyncRedis* async = nullptr,
            RedisTierOptions options = {}, AsyncRedis* replica = nullptr);

  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time deadline) override;
  void MultiGetAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) override;
  void MultiGetReplicaAsync(absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done) override;
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
  // Indexes are sorted sets with every score 0, so ZRANGEBYLEX pages them
  // in id order.
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) override;
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time deadline) override;
  absl::StatusOr<MaybeValue> GetRequest(const std::string& request_id, absl::Time deadline) override;
  // The script reads the expired request keys from the expiry set rather
  // than from KEYS (it cannot know them in advance): fine on one server; a
  // Redis Cluster deployment must hash-tag them with the set.
  absl::StatusOr<int64_t> ExpireRequests(int limit, absl::Time deadline) override;
  absl::StatusOr<LockGrant> AcquireDemotionLock(const std::string& holder, absl::Duration ttl, int64_t token_floor,
                                                absl::Time deadline) override;
  absl::Status ReleaseDemotionLock(const std::string& holder, absl::Time deadline) override;

  // Views (the record type's view_prefix): a hash per id, one field per
  // variant. Lookup pipelines one HGET per id and one MGET of the fences.
  absl::StatusOr<ViewLookup> LookupViews(absl::Span<const std::string> ids, const std::string& variant,
                                         absl::Time deadline) override;
  absl::Status FillViews(absl::Span<const ViewFill> entries, const std::string& variant,
                         absl::Time deadline) override;
  absl::Status InvalidateViews(absl::Span<const std::string> ids, const std::string& variant,
                               absl::Time deadline) override;

 private:
  // One MGET of the ids on `to` (the master's or the replica's loops).
  void SendMultiGet(AsyncRedis* to, absl::Span<const absl::string_view> ids, absl::Time deadline, ValuesDone done);
  std::string Key(absl::string_view id) const;
  std::string Fence(absl::string_view id) const;
  std::string ViewKey(absl::string_view id) const;
  // A token no demotion has written before, on any server: a random
  // per-process prefix and a counter. Each is sent in one command that is
  // never resent, so it is written by at most one execution.
  std::string NewFenceToken();
  // One command; an error reply becomes a status (and is counted).
  absl::StatusOr<RedisReplyPtr> One(RedisCommand command, absl::Time deadline, bool idempotent, absl::string_view what);
  // One write command, followed by WAIT when write_replicas > 0: the
  // write's reply, or UNAVAILABLE if it was applied but not confirmed.
  // `acknowledges`: whether this reply acknowledges a write (then WAIT must
  // have confirmed it); false for outcomes that wrote nothing.
  absl::StatusOr<RedisReplyPtr> Durable(
      RedisCommand command, absl::Time deadline, absl::string_view what,
      absl::FunctionRef<bool(const redisReply&)> acknowledges = [](const redisReply&) { return true; });
  RedisCommand WaitCommand(absl::Time deadline) const;
  // Checks a WAIT reply for `applied` (the write changed something).
  absl::Status CheckWait(const redisReply& reply, absl::string_view what);
  absl::Status ReplyError(const redisReply& reply, absl::string_view what);

  // The values of an MGET reply for `count` keys, as views into the reply;
  // `what` names the command in errors.
  absl::StatusOr<std::vector<ValueView>> MultiGetViews(const redisReply& reply, size_t count, absl::string_view what);
  RedisCommand MultiGetCommand(absl::Span<const std::string> ids) const;

  RedisPool* const pool_;
  const RecordType type_;
  Metrics* const metrics_;
  AsyncRedis* const async_;
  AsyncRedis* const replica_;
  // MGETs on the async connections, under pool "async <endpoint>" (null
  // without that connection).
  std::unique_ptr<OperationMetrics> async_operations_;
  std::unique_ptr<OperationMetrics> replica_operations_;
  const RedisTierOptions options_;
  const std::string token_prefix_;
  std::atomic<uint64_t> token_counter_{0};
};

}  // namespace catalog::storage
