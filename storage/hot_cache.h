// HotCache: the in-process hot tier (L1) in front of Redis. It holds stored
// encodings exactly as Redis returned them (records and delete tombstones),
// so a hot read touches neither Redis nor the allocator: a hit is a
// refcount on an immutable string.
//
// What it never does: serve a value older than one whose write was
// acknowledged before the invalidation for it arrived in this process. How
// (storage/SAFETY.md has the whole argument; the tests attack each point):
// - Invalidation. InvalidationListener (storage/redis/invalidation_listener.h)
//   keeps one Redis connection in client-side-caching broadcast mode for
//   the record prefix: Redis sends the name of every key that changes
//   (writes, deletes, scripts, promotions, demotions, FLUSHALL) to it. Each
//   arrives here as Invalidate(id) (or InvalidateAll).
// - Arrived means arrived. Nothing is served while the invalidation socket
//   has unread bytes or is closed (a poll with no wait, per lookup), or
//   while the listener is applying what it read (BeginApply/EndApply): a
//   server that was paused, or whose listener thread is descheduled, misses
//   instead of serving what an unread message would evict.
// - Fills cannot resurrect. A reader takes a Ticket before it sends its
//   MGET and passes it to Fill with the reply. Every invalidation gets a
//   sequence number, recorded for its id's slot under the shard lock; Fill
//   stores a value only if no invalidation of its slot (and no flush)
//   came after the Ticket. A write applied by Redis after the MGET read the
//   key is thus invalidated either before the Fill (refused) or after it
//   (erased).
// - Whole answers. LookupAll answers only if every id is held, no batch
//   of invalidations is being applied (a Redis message, or a writer's own
//   ids: InvalidateBatch), and no invalidation happened during the lookup,
//   so one answer is never half before and half after one atomic write.
// - Lost invalidations. Served only under a lease: the listener pings on
//   the invalidation connection; a pong renews the lease to (ping sent) +
//   lease, on a monotonic clock. Past it nothing is served. When the
//   connection is lost, Lost() empties the cache; Resubscribed() starts a
//   new stream and refuses fills of reads begun before it.
// The writer's own instance evicts synchronously (TieredStore evicts the
// ids of every Write and Delete before returning).
// "Not found" (in neither tier) is held as a tombstone: creating the record
// is a change under the prefix, so the broadcast covers it like any other.
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
  // served. Bounds staleness if invalidations stop arriving without the
  // connection failing (a partition). Default 500 ms.
  absl::Duration lease = absl::Milliseconds(500);
};

class HotCache {
 public:
  static constexpr int kShards = 32;
  // Invalidation slots (ids hash onto them): more slots, fewer fills
  // refused because another id of the slot changed.
  static constexpr int kSlots = 4096;
  // Approximate bookkeeping per entry (node, map slot, string headers).
  static constexpr int64_t kEntryOverheadBytes = 128;

  using Value = std::shared_ptr<const std::string>;
  // The invalidation sequence when a read began.
  struct Ticket {
    uint64_t sequence = 0;
  };

  // `clock` (monotonic: the lease is measured on it) and `metrics` must
  // outlive the cache. Starts not live: nothing is served before the
  // listener's first subscription and pong.
  HotCache(HotCacheOptions options, const Clock* clock, Metrics* metrics);

  // True, with out[i] set for every i, only if every id is held and the
  // cache is live throughout; otherwise false (out unspecified).
  bool LookupAll(absl::Span<const absl::string_view> ids, Value* out);

  Ticket Begin() const;
  // Stores the present values (others are ignored) of ids read by an MGET
  // sent after `ticket` was taken, unless invalidated since.
  void Fill(const Ticket& ticket, absl::Span<const absl::string_view> ids, absl::Span<const ValueView> values);

  void Invalidate(absl::string_view id);
  // The ids of one atomic write, evicted as one batch (see LookupAll).
  void InvalidateBatch(absl::Span<const std::string> ids);
  void InvalidateAll();

  // From the listener. Resubscribed: a new stream on socket `fd` (while it
  // has unread bytes or is closed, nothing is served). Confirm: every
  // invalidation Redis sent before it got a ping sent at `ping_sent` (this
  // cache's clock) has been applied. BeginApply/EndApply bracket reading
  // and applying messages. Lost: the stream failed; nothing is served or
  // stored until the next Resubscribed and Confirm.
  // With `epoch_source`: the stream was opened to the master of `epoch`;
  // nothing is served once *epoch_source moves on (the master changed:
  // this stream no longer carries its changes), until the next
  // Resubscribed.
  void Resubscribed(int fd, const std::atomic<uint64_t>* epoch_source = nullptr, uint64_t epoch = 0);
  void Confirm(absl::Time ping_sent);
  void BeginApply();
  void EndApply();
  void Lost();

  bool live() const;
  // Whether `id` is held, live or not (for tests).
  bool Holds(absl::string_view id) const;
  absl::Time Now() const { return clock_->Now(); }
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
    int64_t bytes = 0;
  };
  // An id's shard and invalidation slot, from one hash of it.
  struct Place {
    size_t shard;
    size_t slot;
  };
  static Place PlaceOf(absl::string_view id);
  // Removes every entry; fills of reads begun before it are refused.
  void Clear();
  void EraseLocked(Shard& shard, std::list<Node>::iterator it);

  const HotCacheOptions options_;
  const Clock* const clock_;
  Metrics* const metrics_;
  const int64_t shard_max_bytes_;
  std::atomic<uint64_t> sequence_{0};    // Invalidations and flushes so far.
  std::atomic<uint64_t> cleared_at_{0};  // Sequence of the last flush.
  std::array<std::atomic<uint64_t>, kSlots> invalidated_at_{};
  std::atomic<int> appliers_{0};  // Batches of invalidations being applied.
  std::atomic<int> stream_fd_{-1};
  std::atomic<bool> subscribed_{false};
  std::atomic<int64_t> live_until_nanos_{0};
  std::atomic<const std::atomic<uint64_t>*> epoch_source_{nullptr};
  std::atomic<uint64_t> epoch_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace catalog::storage
