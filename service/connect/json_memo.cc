#include "service/connect/json_memo.h"

#include <utility>

#include "absl/hash/hash.h"

namespace catalog::service {

// The entry's bytes plus what holds it: the list node (two pointers) and
// a map slot (key, iterator, control byte), rounded up.
size_t JsonMemo::Entry::cost() const { return data.capacity() + sizeof(Entry) + sizeof(Key) + 64; }

JsonMemo::JsonMemo(Options options) : options_(options), shards_(new Shard[kShards]) {}

JsonMemo::~JsonMemo() = default;

JsonMemo::Key JsonMemo::KeyOf(const void* type, absl::string_view wire) {
  return Key{type, wire, absl::Hash<std::pair<const void*, absl::string_view>>{}({type, wire})};
}

bool JsonMemo::Append(const Key& key, std::string* out) {
  if (options_.max_bytes == 0) return false;
  Shard& shard = ShardOf(key);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.index.find(key);  // Compares the whole encoding (KeyEq).
  if (it == shard.index.end()) return false;
  Entry& entry = *it->second;
  entry.used = true;
  const absl::string_view json = entry.json();
  out->append(json.data(), json.size());
  return true;
}

void JsonMemo::Insert(const Key& key, absl::string_view json) {
  const size_t budget = options_.max_bytes / kShards;
  // Too large for a shard's share: known before anything is allocated
  // (cost() adds at least this to the bytes).
  if (key.wire.size() + json.size() + sizeof(Entry) + sizeof(Key) + 64 > budget) return;
  Entry entry{key.type, key.hash, key.wire.size(), {}};
  // Built before the lock: the allocation and copy need no mutex.
  entry.data.reserve(key.wire.size() + json.size());
  entry.data.append(key.wire.data(), key.wire.size());
  entry.data.append(json.data(), json.size());
  const size_t cost = entry.cost();
  if (cost > budget) return;
  Shard& shard = ShardOf(key);
  std::list<Entry> dropped;  // Freed after the lock is released.
  {
    absl::MutexLock lock(&shard.mu);
    if (shard.index.contains(key)) return;  // Another thread wrote it too.
    // CLOCK over the insertion order: the oldest entry goes unless it was
    // used since it was last passed over, then it moves to the back once.
    while (shard.bytes + cost > budget && !shard.order.empty()) {
      auto oldest = shard.order.begin();
      if (oldest->used) {
        oldest->used = false;
        shard.order.splice(shard.order.end(), shard.order, oldest);
        continue;
      }
      shard.index.erase(Key{oldest->type, oldest->wire(), oldest->hash});
      shard.bytes -= oldest->cost();
      bytes_.fetch_sub(static_cast<int64_t>(oldest->cost()), std::memory_order_relaxed);
      dropped.splice(dropped.end(), shard.order, oldest);
    }
    shard.order.push_back(std::move(entry));
    auto it = std::prev(shard.order.end());
    shard.index.emplace(Key{it->type, it->wire(), it->hash}, it);
    shard.bytes += cost;
    bytes_.fetch_add(static_cast<int64_t>(cost), std::memory_order_relaxed);
  }
}

}  // namespace catalog::service
