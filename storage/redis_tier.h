// RedisTier: the primary tier on one Redis server (or one per record type,
// later). Records live under key_prefix + id with no TTL, so they are never
// evicted under maxmemory-policy volatile-lru; only TTL'd cache keys are.
//
// Multi-key atomic operations (CompareAndSet, CompareAndDelete, ScanIdle)
// are Lua scripts sent with EVAL: a script runs atomically on the server,
// and EVAL needs no per-connection state, so a restarted Redis (which
// forgets loaded scripts) needs no recovery path.
//
// Contract: see PrimaryTier. Thread-safe.
#pragma once

#include "storage/record_codec.h"
#include "storage/redis_connection.h"
#include "storage/tiers.h"

namespace catalog::storage {

class RedisTier : public PrimaryTier {
 public:
  // `pool` must outlive the tier.
  RedisTier(RedisPool* pool, RecordType type);

  absl::StatusOr<std::vector<MaybeValue>> MultiGet(absl::Span<const std::string> ids, absl::Time deadline) override;
  absl::StatusOr<std::vector<bool>> AddIfAbsent(absl::Span<const IdValue> entries, absl::Time deadline) override;
  absl::StatusOr<bool> CompareAndSet(absl::Span<const CasEntry> entries, absl::Time deadline) override;
  absl::StatusOr<std::vector<bool>> CompareAndDelete(absl::Span<const IdValue> entries, absl::Time deadline) override;
  absl::StatusOr<IdleScanPage> ScanIdle(uint64_t cursor, absl::Duration min_idle, int count,
                                        absl::Time deadline) override;
  // Indexes are sorted sets with every score 0, so ZRANGEBYLEX pages them
  // in id order.
  absl::Status IndexAdd(absl::Span<const IndexEntry> entries, absl::Time deadline) override;
  absl::StatusOr<std::vector<std::string>> IndexRange(const std::string& index, const std::string& after, int limit,
                                                      absl::Time deadline) override;

 private:
  std::string Key(absl::string_view id) const;
  absl::StatusOr<RedisReplyPtr> One(RedisCommand command, absl::Time deadline, bool idempotent, absl::string_view what);

  RedisPool* const pool_;
  const RecordType type_;
};

}  // namespace catalog::storage
