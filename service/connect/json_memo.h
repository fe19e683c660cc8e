// JsonMemo: the proto3 JSON of messages already written, found again by
// their exact wire bytes, so a record read often is rendered as JSON once
// (what the PHP stack it replaces does by storing JSON in Redis).
//
// Never stale, by construction: an entry's key is the message type and the
// whole encoding, compared byte for byte on every hit (the hash only picks
// the bucket), and WireJson's output is a function of those alone. A product
// changed, deleted or trimmed by a read mask has other bytes, hence another
// key; nothing is ever invalidated because nothing can go out of date. An
// entry that is not used again is only memory, reclaimed by the bound below.
//
// Bounded: at most `max_bytes` held (keys, JSON and bookkeeping), split over
// shards; past it, entries are dropped oldest first, but one used since it
// was last passed over gets a second chance (CLOCK). An entry larger than a
// shard's share is not kept.
//
// Thread-safety: every method may run concurrently; each shard has its own
// mutex, held for one map lookup and one copy into the caller's string (no
// I/O; an insertion's entry is built before the lock).
//
// Answers whose bytes are not stable for the same record (a typed answer
// re-serialized by protobuf, whose maps of two or more entries come out in
// an order seeded per map) miss and add entries that are not used again;
// the CLOCK drops those first, so they cost the writing they would have
// cost anyway plus one insertion. The hot reads (BatchGetProducts, v1 and
// v2) pass the stored bytes through and are stable.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace catalog::service {

class JsonMemo {
 public:
  struct Options {
    // Most bytes held; 0: nothing is kept (every lookup misses). Default
    // 64 MiB: some 40,000 products of 1.5 KB (encoding and JSON).
    size_t max_bytes = size_t{64} << 20;
    // Messages shorter than this (encoded) are not kept: writing them costs
    // about what a lookup does. Default 128.
    size_t min_message_bytes = 128;
  };

  // What a lookup and an insertion are keyed by. `wire` is not owned: it
  // must outlive the Key.
  struct Key {
    const void* type;  // The message type (its descriptor).
    absl::string_view wire;
    size_t hash;
  };

  explicit JsonMemo(Options options);
  ~JsonMemo();
  JsonMemo(const JsonMemo&) = delete;
  JsonMemo& operator=(const JsonMemo&) = delete;

  const Options& options() const { return options_; }
  static Key KeyOf(const void* type, absl::string_view wire);

  // Appends the JSON kept for `key` to `out` and returns true; false (out
  // untouched) if none is kept.
  bool Append(const Key& key, std::string* out);

  // Keeps `json` as the JSON of `key` (a no-op if one is kept already, if
  // it is too large, or if max_bytes is 0), dropping others to stay within
  // max_bytes.
  void Insert(const Key& key, absl::string_view json);

  // Bytes held now, by the accounting of max_bytes.
  int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  struct Entry {
    const void* type;
    size_t hash;
    size_t wire_size;
    std::string data;  // The encoding, then the JSON.
    bool used = false;  // Looked up since the CLOCK hand last passed it.
    absl::string_view wire() const { return absl::string_view(data).substr(0, wire_size); }
    absl::string_view json() const { return absl::string_view(data).substr(wire_size); }
    size_t cost() const;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.hash; }
  };
  struct KeyEq {
    bool operator()(const Key& a, const Key& b) const { return a.type == b.type && a.wire == b.wire; }
  };
  struct Shard {
    absl::Mutex mu;
    // Oldest first; the map's keys point into the entries' own bytes.
    std::list<Entry> order ABSL_GUARDED_BY(mu);
    absl::flat_hash_map<Key, std::list<Entry>::iterator, KeyHash, KeyEq> index ABSL_GUARDED_BY(mu);
    size_t bytes ABSL_GUARDED_BY(mu) = 0;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardOf(const Key& key) { return shards_[(key.hash >> 56) % kShards]; }

  const Options options_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> bytes_{0};
};

}  // namespace catalog::service
