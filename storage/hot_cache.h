// HotCache: the in-process hot tier (L1) in front of Redis. It holds stored
// encodings exactly as Redis returned them (records and delete tombstones),
// so a hot read touches neither Redis nor the allocator: a hit is a
// refcount on an immutable string.
//
// What it never does: serve a value older than one whose write was
// acknowledged before the invalidation for it arrived. How (the argument
// the tests attack; storage/SAFETY.md has the whole of it):
// - Invalidation. InvalidationListener (storage/invalidation_listener.h)
//   keeps one Redis connection in client-side-caching broadcast mode for
//   the record prefix: Redis pushes the name of every key that changes
//   (writes, deletes, scripts, promotions, demotions, FLUSHALL) to it.
//   Each arrives here as Invalidate(id) (or InvalidateAll).
// - Fills cannot resurrect. A reader takes a Ticket before it sends its
//   MGET and passes it to Fill with the reply. Every invalidation bumps the
//   generation of the id's shard under the shard's lock; Fill stores a
//   value only if that generation is unchanged since the Ticket. A write
//   that Redis applied after the MGET read the key either invalidates
//   before the Fill (generation changed: not stored) or after it (the
//   entry is erased).
// - The writer's own instance evicts synchronously (Invalidate before the
//   write is acknowledged), so a client reads its own writes at once.
// - Lost invalidations. Served only under a lease: the listener pings on
//   the invalidation connection; a pong proves every invalidation Redis
//   sent before it had arrived, so Confirm(ping sent at t) extends the
//   lease to t + lease. Past the lease nothing is served (every lookup
//   misses). When the connection is lost (error, EOF, a pong overdue by a
//   lease) Lost() empties the cache and bumps every generation, and after
//   re-subscribing Resubscribed() bumps them again, so no value read
//   while invalidations could go missing is ever stored or served.
// "Not found" is not cached: only what Redis holds, which the broadcast
// covers (a key created later is invalidated like any other).
//
// Bounded by bytes (ids + values + a per-entry overhead), least recently
// used evicted first, per shard (bytes / shards each).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/clock.h"
#include "storage/metrics.h"
#include "storage/tiers.h"

namespace catalog::storage {

struct HotCacheOptions {
  // Most bytes held (ids, values and kEntryOverheadBytes per entry).
  // Default 128 MiB.
  int64_t max_bytes = int64_t{128} << 20;
  // How long one pong on the invalidation connection lets values be
  // served. Also bounds staleness when invalidations stop arriving without
  // the connection failing (a partition). Default 500 ms.
  absl::Duration lease = absl::Milliseconds(500);
};

class HotCache {
 public:
  static constexpr int kShards = 32;
  // Approximate bookkeeping per entry (node, map slot, string headers).
  static constexpr int64_t kEntryOverheadBytes = 128;

  using Value = std::shared_ptr<const std::string>;
  // Shard generations when a read began (see the header comment).
  struct Ticket {
    std::array<uint64_t, kShards> generations{};
  };

  // `clock` and `metrics` must outlive the cache. Starts not live: nothing
  // is served before the listener's first Confirm.
  HotCache(HotCacheOptions options, const Clock* clock, Metrics* metrics);

  // Looks up every id; out[i] is the value or null. Returns the number of
  // hits. Misses everything when the lease has run out.
  size_t Lookup(absl::Span<const absl::string_view> ids, Value* out);

  Ticket Begin() const;
  // Stores the present values (others are ignored) of ids read by an MGET
  // sent after `ticket` was taken, unless invalidated since.
  void Fill(const Ticket& ticket, absl::Span<const absl::string_view> ids, absl::Span<const ValueView> values);

  void Invalidate(absl::string_view id);
  void InvalidateAll();

  // From the listener: every invalidation sent before a ping sent at
  // `ping_sent` has been applied.
  void Confirm(absl::Time ping_sent);
  // The invalidation connection failed: nothing is served or stored until
  // Resubscribed() and a Confirm.
  void Lost();
  void Resubscribed();

  bool live() const;
  int64_t bytes() const;
  int64_t entries() const;
  // Which shard holds `id` (for tests).
  static size_t ShardOf(absl::string_view id);

 private:
  struct Node {
    std::string id;
    Value value;
    int64_t bytes = 0;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Node> lru;  // Most recently used first.
    absl::flat_hash_map<absl::string_view, std::list<Node>::iterator> index;
    uint64_t generation = 0;
    std::atomic<uint64_t> published_generation{0};  // For Begin() without the lock.
    int64_t bytes = 0;
  };
  // Removes every entry and bumps every generation.
  void Clear();
  void EraseLocked(Shard& shard, std::list<Node>::iterator it);

  const HotCacheOptions options_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const int64_t shard_max_bytes_;
  std::atomic<int64_t> live_until_nanos_{0};
  std::atomic<bool> subscribed_{false};
  std::array<Shard, kShards> shards_;
};

}  // namespace catalog::storage
