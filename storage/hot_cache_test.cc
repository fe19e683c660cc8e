#include "storage/hot_cache.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace catalog::storage {
namespace {

class ManualClock : public Clock {
 public:
  absl::Time Now() const override { return now; }
  absl::Time now = absl::FromUnixSeconds(1000);
};

struct Fixture {
  ManualClock clock;
  Metrics metrics;
  HotCache cache;
  explicit Fixture(int64_t max_bytes = 1 << 20) : cache(Options(max_bytes), &clock, &metrics) {
    cache.Resubscribed();
    cache.Confirm(clock.now);
  }
  static HotCacheOptions Options(int64_t max_bytes) {
    HotCacheOptions options;
    options.max_bytes = max_bytes;
    options.lease = absl::Milliseconds(500);
    return options;
  }
  void Put(const std::string& id, const std::string& value) {
    const HotCache::Ticket ticket = cache.Begin();
    const std::vector<absl::string_view> ids{id};
    const std::vector<ValueView> values{ValueView(value)};
    cache.Fill(ticket, ids, values);
  }
  // The value held for `id`, or "<none>".
  std::string Get(const std::string& id) {
    HotCache::Value out;
    const std::vector<absl::string_view> ids{id};
    return cache.Lookup(ids, &out) == 1 ? *out : "<none>";
  }
};

TEST_CASE("L1 returns what was filled, counts hits and misses, and skips absent values") {
  Fixture f;
  const std::vector<absl::string_view> ids{"a", "b", "c"};
  const std::vector<ValueView> values{ValueView("va"), std::nullopt, ValueView("vc")};
  f.cache.Fill(f.cache.Begin(), ids, values);
  std::vector<HotCache::Value> out(3);
  CHECK(f.cache.Lookup(ids, out.data()) == 2);
  REQUIRE(out[0] != nullptr);
  CHECK(*out[0] == "va");
  CHECK(out[1] == nullptr);
  REQUIRE(out[2] != nullptr);
  CHECK(*out[2] == "vc");
  CHECK(f.metrics.Get(Counter::l1_hits_total) == 2);
  CHECK(f.metrics.Get(Counter::l1_misses_total) == 1);
  CHECK(f.metrics.Get(Gauge::l1_entries) == 2);
  CHECK(f.cache.entries() == 2);
}

TEST_CASE("a value read before an invalidation of its id is never stored, even if it arrives after it") {
  Fixture f;
  f.Put("a", "v1");
  const HotCache::Ticket before = f.cache.Begin();  // The reader sends its MGET...
  f.cache.Invalidate("a");                          // ...a write lands and is reported...
  const std::vector<absl::string_view> ids{"a", "b"};
  const std::vector<ValueView> stale{ValueView("v1"), ValueView("vb")};
  f.cache.Fill(before, ids, stale);  // ...then the old reply is filled.
  CHECK(f.Get("a") == "<none>");
  CHECK(f.metrics.Get(Counter::l1_fills_refused_total) >= 1);
  // Taken after the invalidation, a ticket fills again.
  f.Put("a", "v2");
  CHECK(f.Get("a") == "v2");
}

TEST_CASE("an invalidation erases the entry, and FLUSHALL (InvalidateAll) erases every entry") {
  Fixture f;
  f.Put("a", "v1");
  f.Put("b", "v1");
  f.cache.Invalidate("a");
  CHECK(f.Get("a") == "<none>");
  CHECK(f.Get("b") == "v1");
  f.cache.InvalidateAll();
  CHECK(f.Get("b") == "<none>");
  CHECK(f.cache.entries() == 0);
  CHECK(f.metrics.Get(Gauge::l1_bytes) == 0);
}

TEST_CASE("L1 serves only within the lease of the last pong: at the lease's end it stops, a pong renews it") {
  Fixture f;
  f.Put("a", "v1");
  f.clock.now += absl::Milliseconds(499);
  CHECK(f.Get("a") == "v1");
  f.clock.now += absl::Milliseconds(1);  // Exactly the lease after the ping: no longer.
  CHECK(f.Get("a") == "<none>");
  f.cache.Confirm(f.clock.now - absl::Milliseconds(10));  // A pong for a ping sent 10 ms ago.
  CHECK(f.Get("a") == "v1");
}

TEST_CASE("losing the invalidation connection empties L1 and refuses fills of reads begun before re-subscribing") {
  Fixture f;
  f.Put("a", "v1");
  const HotCache::Ticket during_loss_read = f.cache.Begin();
  f.cache.Lost();
  CHECK_FALSE(f.cache.live());
  CHECK(f.cache.entries() == 0);
  const HotCache::Ticket while_lost = f.cache.Begin();
  f.Put("b", "v1");  // Not subscribed: not stored.
  CHECK(f.cache.entries() == 0);
  f.cache.Resubscribed();
  CHECK_FALSE(f.cache.live());  // Not before a pong on the new connection.
  const std::vector<absl::string_view> ids{"a"};
  const std::vector<ValueView> values{ValueView("old")};
  f.cache.Fill(during_loss_read, ids, values);
  f.cache.Fill(while_lost, ids, values);
  CHECK(f.cache.entries() == 0);
  f.cache.Confirm(f.clock.now);
  CHECK(f.cache.live());
  f.Put("a", "v2");
  CHECK(f.Get("a") == "v2");
}

TEST_CASE("L1 stays within its byte bound, evicting the least recently used, and skips an entry past a shard's share") {
  // 32 shards x 1 KiB: each entry below costs 128 + 1 + 300 bytes.
  Fixture f(HotCache::kShards * 1024);
  const std::string value(300, 'x');
  for (int i = 0; i < 500; ++i) f.Put(std::to_string(i % 10) + std::string(1, static_cast<char>('a' + i % 26)), value);
  CHECK(f.cache.bytes() <= HotCache::kShards * 1024);
  CHECK(f.metrics.Get(Gauge::l1_bytes) == f.cache.bytes());
  CHECK(f.metrics.Get(Counter::l1_evictions_total) > 0);
  // Least recently used goes first: three ids of one shard, two fit; the
  // older one touched since stays, the one not touched goes.
  Fixture g(HotCache::kShards * 1024);
  std::vector<std::string> same;
  for (int i = 0; same.size() < 3; ++i) {
    const std::string id = "id" + std::to_string(i);
    if (HotCache::ShardOf(id) == HotCache::ShardOf("id0")) same.push_back(id);
  }
  g.Put(same[0], value);
  g.Put(same[1], value);
  CHECK(g.Get(same[0]) == value);
  g.Put(same[2], value);
  CHECK(g.Get(same[0]) == value);
  CHECK(g.Get(same[1]) == "<none>");
  CHECK(g.Get(same[2]) == value);
  const std::string too_big(2000, 'y');
  g.Put("big", too_big);
  CHECK(g.Get("big") == "<none>");
}

}  // namespace
}  // namespace catalog::storage
