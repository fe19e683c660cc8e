#include "storage/hot_cache.h"

#include "absl/hash/hash.h"

namespace catalog::storage {

HotCache::HotCache(HotCacheOptions options, const Clock* clock, Metrics* metrics)
    : options_(options),
      clock_(clock),
      metrics_(metrics),
      shard_max_bytes_(std::max<int64_t>(options.max_bytes / kShards, 0)) {}

size_t HotCache::ShardOf(absl::string_view id) { return absl::HashOf(id) % kShards; }

bool HotCache::live() const {
  return subscribed_.load(std::memory_order_acquire) &&
         absl::ToUnixNanos(clock_->Now()) < live_until_nanos_.load(std::memory_order_acquire);
}

size_t HotCache::Lookup(absl::Span<const absl::string_view> ids, Value* out) {
  if (!live()) {
    metrics_->Add(Counter::l1_misses_total, static_cast<int64_t>(ids.size()));
    return 0;
  }
  size_t hits = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    Shard& shard = shards_[ShardOf(ids[i])];
    std::lock_guard<std::mutex> lock(shard.mu);
    auto found = shard.index.find(ids[i]);
    if (found == shard.index.end()) {
      out[i] = nullptr;
      continue;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
    out[i] = found->second->value;
    ++hits;
  }
  metrics_->Add(Counter::l1_hits_total, static_cast<int64_t>(hits));
  metrics_->Add(Counter::l1_misses_total, static_cast<int64_t>(ids.size() - hits));
  return hits;
}

HotCache::Ticket HotCache::Begin() const {
  Ticket ticket;
  for (int s = 0; s < kShards; ++s) {
    ticket.generations[s] = shards_[s].published_generation.load(std::memory_order_acquire);
  }
  return ticket;
}

// The generation is compared under the shard's lock, and every
// invalidation bumps it under the same lock: an invalidation either
// happened before this check (the value is refused) or after the insert
// (it erases the value).
void HotCache::Fill(const Ticket& ticket, absl::Span<const absl::string_view> ids, absl::Span<const ValueView> values) {
  if (!subscribed_.load(std::memory_order_acquire)) return;
  int64_t filled = 0;
  int64_t refused = 0;
  int64_t evicted = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!values[i].has_value()) continue;
    const int64_t bytes = static_cast<int64_t>(ids[i].size() + values[i]->size()) + kEntryOverheadBytes;
    if (bytes > shard_max_bytes_) continue;
    const size_t s = ShardOf(ids[i]);
    Shard& shard = shards_[s];
    // Built outside the lock: the allocation is the expensive part.
    Value value = std::make_shared<const std::string>(*values[i]);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (shard.generation != ticket.generations[s]) {
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
  if (filled > 0) metrics_->Add(Counter::l1_fills_total, filled);
  if (refused > 0) metrics_->Add(Counter::l1_fills_refused_total, refused);
  if (evicted > 0) metrics_->Add(Counter::l1_evictions_total, evicted);
}

void HotCache::EraseLocked(Shard& shard, std::list<Node>::iterator it) {
  shard.bytes -= it->bytes;
  metrics_->Add(Gauge::l1_bytes, -it->bytes);
  metrics_->Add(Gauge::l1_entries, -1);
  shard.index.erase(absl::string_view(it->id));
  shard.lru.erase(it);
}

void HotCache::Invalidate(absl::string_view id) {
  Shard& shard = shards_[ShardOf(id)];
  std::lock_guard<std::mutex> lock(shard.mu);
  ++shard.generation;
  shard.published_generation.store(shard.generation, std::memory_order_release);
  auto found = shard.index.find(id);
  if (found != shard.index.end()) EraseLocked(shard, found->second);
  metrics_->Add(Counter::l1_invalidations_total);
}

void HotCache::InvalidateAll() {
  Clear();
  metrics_->Add(Counter::l1_flushes_total);
}

void HotCache::Clear() {
  for (Shard& shard : shards_) {
    std::list<Node> dropped;
    {
      std::lock_guard<std::mutex> lock(shard.mu);
      ++shard.generation;
      shard.published_generation.store(shard.generation, std::memory_order_release);
      metrics_->Add(Gauge::l1_bytes, -shard.bytes);
      metrics_->Add(Gauge::l1_entries, -static_cast<int64_t>(shard.index.size()));
      shard.index.clear();
      shard.bytes = 0;
      dropped.swap(shard.lru);
    }
    // `dropped` is freed here, outside the lock.
  }
}

void HotCache::Confirm(absl::Time ping_sent) {
  if (!subscribed_.load(std::memory_order_acquire)) return;
  const int64_t until = absl::ToUnixNanos(ping_sent + options_.lease);
  int64_t current = live_until_nanos_.load(std::memory_order_relaxed);
  while (current < until && !live_until_nanos_.compare_exchange_weak(current, until, std::memory_order_release)) {
  }
}

void HotCache::Lost() {
  subscribed_.store(false, std::memory_order_release);
  live_until_nanos_.store(0, std::memory_order_release);
  Clear();
  metrics_->Add(Counter::l1_flushes_total);
}

void HotCache::Resubscribed() {
  // Reads that began while invalidations could be missed hold older
  // generations: their fills are refused.
  Clear();
  live_until_nanos_.store(0, std::memory_order_release);
  subscribed_.store(true, std::memory_order_release);
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
