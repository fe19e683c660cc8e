#include "storage/hot_cache.h"

#include <poll.h>

#include "absl/hash/hash.h"

namespace catalog::storage {

HotCache::HotCache(HotCacheOptions options, const Clock* clock, Metrics* metrics)
    : options_(options),
      clock_(clock),
      metrics_(metrics),
      shard_max_bytes_(std::max<int64_t>(options.max_bytes / kShards, 0)) {}

// The map inside a shard uses the hash's low bits: shards and slots take
// high ones, so ids of one shard still spread over the map.
HotCache::Place HotCache::PlaceOf(absl::string_view id) {
  const uint64_t hash = absl::HashOf(id);
  return Place{static_cast<size_t>(hash >> 59), static_cast<size_t>((hash >> 40) % kSlots)};
}
size_t HotCache::ShardOf(absl::string_view id) { return PlaceOf(id).shard; }

// In this order: the socket first, then whether a batch is being applied,
// then the lease. If the socket is empty, the listener has either read
// nothing new, or read it after BeginApply, so appliers_ is above zero
// until the evictions are done. Lost() clears subscribed_ before the socket closes,
// so a poll of a closed (even reused) descriptor is followed by a refusal.
bool HotCache::live() const {
  const int fd = stream_fd_.load(std::memory_order_acquire);
  if (fd < 0) return false;
  pollfd stream{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&stream, 1, 0) != 0) return false;  // Unread invalidations, EOF, or an error.
  if (appliers_.load(std::memory_order_acquire) != 0) return false;
  const std::atomic<uint64_t>* source = epoch_source_.load(std::memory_order_acquire);
  if (source != nullptr && source->load(std::memory_order_acquire) != epoch_.load(std::memory_order_acquire)) {
    return false;
  }
  return subscribed_.load(std::memory_order_acquire) &&
         absl::ToUnixNanos(clock_->Now()) < live_until_nanos_.load(std::memory_order_acquire);
}

bool HotCache::LookupAll(absl::Span<const absl::string_view> ids, Value* out) {
  bool all = live();
  const uint64_t sequence = sequence_.load(std::memory_order_acquire);
  for (size_t i = 0; all && i < ids.size(); ++i) {
    Shard& shard = shards_[ShardOf(ids[i])];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto found = shard.index.find(ids[i]);
    if (found == shard.index.end()) {
      all = false;
      break;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
    out[i] = found->second->value;
  }
  // An invalidation meanwhile may have evicted some of the ids after they
  // were taken: the answer could mix before and after one write.
  all = all && appliers_.load(std::memory_order_acquire) == 0 &&
        sequence_.load(std::memory_order_acquire) == sequence;
  metrics_->Add(all ? Counter::l1_hits_total : Counter::l1_misses_total, static_cast<int64_t>(ids.size()));
  return all;
}

HotCache::Ticket HotCache::Begin() const { return Ticket{sequence_.load(std::memory_order_acquire)}; }

// The slot's last invalidation is compared under the shard's lock, and
// Invalidate records it under the same lock: an invalidation either came
// before this check (the value is refused) or after the insert (it erases
// the value). A flush records cleared_at_ before emptying the shards.
void HotCache::Fill(const Ticket& ticket, absl::Span<const absl::string_view> ids,
                    absl::Span<const ValueView> values) {
  if (!subscribed_.load(std::memory_order_acquire)) return;
  int64_t filled = 0;
  int64_t refused = 0;
  int64_t evicted = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i].has_value()) continue;
    const int64_t bytes = static_cast<int64_t>(ids[i].size() + values[i]->size()) + kEntryOverheadBytes;
    if (bytes > shard_max_bytes_) continue;
    const Place place = PlaceOf(ids[i]);
    Shard& shard = shards_[place.shard];
    {
      // Already held (the common case when a read fell back to Redis for a
      // few missing ids): keep the entry, no allocation, no comparison. If
      // the bytes differ, a write's invalidation is on its way and will
      // erase it; until then either value may be served (see the header).
      std::lock_guard<std::mutex> lock(shard.mu);
      if (shard.index.contains(ids[i])) continue;
    }
    // Built outside the lock: the allocation is the expensive part.
    Value value = std::make_shared<const std::string>(*values[i]);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (invalidated_at_[place.slot].load(std::memory_order_acquire) > ticket.sequence ||
        cleared_at_.load(std::memory_order_acquire) > ticket.sequence) {
      ++refused;
      continue;
    }
    auto found = shard.index.find(ids[i]);
    if (found != shard.index.end()) EraseLocked(shard, found->second);
    shard.lru.push_front(Node{std::string(ids[i]), std::move(value), bytes});
    shard.index.emplace(absl::string_view(shard.lru.front().id), shard.lru.begin());
    shard.bytes += bytes;
    metrics_->Add(Gauge::l1_bytes, bytes);
    metrics_->Add(Gauge::l1_entries, 1);
    ++filled;
    while (shard.bytes > shard_max_bytes_) {
      EraseLocked(shard, std::prev(shard.lru.end()));
      ++evicted;
    }
  }
  metrics_->Add(Counter::l1_fills_total, filled);
  metrics_->Add(Counter::l1_fills_refused_total, refused);
  metrics_->Add(Counter::l1_evictions_total, evicted);
}

void HotCache::EraseLocked(Shard& shard, std::list<Node>::iterator it) {
  shard.bytes -= it->bytes;
  metrics_->Add(Gauge::l1_bytes, -it->bytes);
  metrics_->Add(Gauge::l1_entries, -1);
  shard.index.erase(absl::string_view(it->id));
  shard.lru.erase(it);
}

void HotCache::Invalidate(absl::string_view id) {
  const Place place = PlaceOf(id);
  Shard& shard = shards_[place.shard];
  std::lock_guard<std::mutex> lock(shard.mu);
  invalidated_at_[place.slot].store(sequence_.fetch_add(1, std::memory_order_acq_rel) + 1, std::memory_order_release);
  auto found = shard.index.find(id);
  if (found != shard.index.end()) EraseLocked(shard, found->second);
  metrics_->Add(Counter::l1_invalidations_total);
}

void HotCache::InvalidateBatch(absl::Span<const std::string> ids) {
  BeginApply();
  for (const std::string& id : ids) Invalidate(id);
  EndApply();
}

void HotCache::InvalidateAll() {
  Clear();
  metrics_->Add(Counter::l1_flushes_total);
}

void HotCache::Clear() {
  cleared_at_.store(sequence_.fetch_add(1, std::memory_order_acq_rel) + 1, std::memory_order_release);
  for (Shard& shard : shards_) {
    std::list<Node> dropped;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      metrics_->Add(Gauge::l1_bytes, -shard.bytes);
      metrics_->Add(Gauge::l1_entries, -static_cast<int64_t>(shard.index.size()));
      shard.index.clear();
      shard.bytes = 0;
      dropped.swap(shard.lru);
    }
    // `dropped` is freed here, outside the lock.
  }
}

void HotCache::Resubscribed(int fd, const std::atomic<uint64_t>* epoch_source, uint64_t epoch) {
  // Reads that began while invalidations could be missed hold older
  // tickets: their fills are refused.
  Clear();
  live_until_nanos_.store(0, std::memory_order_release);
  epoch_.store(epoch, std::memory_order_release);
  epoch_source_.store(epoch_source, std::memory_order_release);
  stream_fd_.store(fd, std::memory_order_release);
  subscribed_.store(true, std::memory_order_release);
}

void HotCache::Confirm(absl::Time ping_sent) {
  if (!subscribed_.load(std::memory_order_acquire)) return;
  const int64_t until = absl::ToUnixNanos(ping_sent + options_.lease);
  int64_t current = live_until_nanos_.load(std::memory_order_relaxed);
  while (current < until && !live_until_nanos_.compare_exchange_weak(current, until, std::memory_order_release)) {
  }
}

void HotCache::BeginApply() { appliers_.fetch_add(1, std::memory_order_acq_rel); }
void HotCache::EndApply() { appliers_.fetch_sub(1, std::memory_order_acq_rel); }

void HotCache::Lost() {
  subscribed_.store(false, std::memory_order_release);
  stream_fd_.store(-1, std::memory_order_release);
  live_until_nanos_.store(0, std::memory_order_release);
  Clear();
  metrics_->Add(Counter::l1_flushes_total);
}

bool HotCache::Holds(absl::string_view id) const {
  const Shard& shard = shards_[ShardOf(id)];
  std::lock_guard<std::mutex> lock(shard.mu);
  return shard.index.contains(id);
}

int64_t HotCache::bytes() const {
  int64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    total += shard.bytes;
  }
  return total;
}

int64_t HotCache::entries() const {
  int64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    total += static_cast<int64_t>(shard.index.size());
  }
  return total;
}

}  // namespace catalog::storage
