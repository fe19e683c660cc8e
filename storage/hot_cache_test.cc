#include "storage/hot_cache.h"

#include <unistd.h>

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

// A pipe stands for the invalidation socket: bytes written to it are
// "arrived, not yet read".
struct Stream {
  int fds[2] = {-1, -1};
  Stream() { REQUIRE(pipe(fds) == 0); }
  ~Stream() {
    close(fds[0]);
    close(fds[1]);
  }
};

struct Fixture {
  ManualClock clock;
  Metrics metrics;
  Stream stream;
  HotCache cache;
  explicit Fixture(int64_t max_bytes = 1 << 20) : cache(Options(max_bytes), &clock, &metrics) {
    cache.Resubscribed(stream.fds[0]);
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
    return cache.LookupAll(ids, &out) ? *out : "<none>";
  }
};

TEST_CASE("L1 answers a batch only when it holds every id, counts hits and misses, and skips absent values") {
  Fixture f;
  const std::vector<absl::string_view> ids{"a", "b", "c"};
  const std::vector<ValueView> values{ValueView("va"), std::nullopt, ValueView("vc")};
  f.cache.Fill(f.cache.Begin(), ids, values);
  std::vector<HotCache::Value> out(3);
  CHECK_FALSE(f.cache.LookupAll(ids, out.data()));  // "b" is not held.
  CHECK(f.metrics.Get(Counter::l1_misses_total) == 3);
  const std::vector<absl::string_view> held{"c", "a"};
  REQUIRE(f.cache.LookupAll(held, out.data()));
  CHECK(*out[0] == "vc");
  CHECK(*out[1] == "va");
  CHECK(f.metrics.Get(Counter::l1_hits_total) == 2);
  CHECK(f.metrics.Get(Gauge::l1_entries) == 2);
  CHECK(f.cache.entries() == 2);
}

TEST_CASE("nothing is served while invalidations wait unread on the stream, or are being applied") {
  Fixture f;
  f.Put("a", "v1");
  REQUIRE(f.Get("a") == "v1");
  REQUIRE(write(f.stream.fds[1], "x", 1) == 1);  // A message arrived; the listener has not read it.
  CHECK(f.Get("a") == "<none>");
  char byte;
  REQUIRE(read(f.stream.fds[0], &byte, 1) == 1);  // The listener reads it...
  f.cache.BeginApply();
  CHECK(f.Get("a") == "<none>");  // ...and applies it.
  f.cache.EndApply();
  CHECK(f.Get("a") == "v1");
  close(f.stream.fds[1]);  // EOF: Redis closed the connection.
  f.stream.fds[1] = -1;
  CHECK(f.Get("a") == "<none>");
}

TEST_CASE("a writer's ids are evicted as one batch: a concurrent answer is never half old, half new") {
  Fixture f;
  f.Put("a", "a1");
  f.Put("b", "b1");
  const std::vector<absl::string_view> both{"a", "b"};
  std::vector<HotCache::Value> out(2);
  // While a batch is applied, a refill of one id after its eviction must
  // not let a lookup pair it with the other id's old value.
  f.cache.BeginApply();
  f.cache.Invalidate("a");
  f.Put("a", "a2");  // A read that saw the new value fills it.
  CHECK_FALSE(f.cache.LookupAll(both, out.data()));
  f.cache.Invalidate("b");
  f.cache.EndApply();
  CHECK_FALSE(f.cache.LookupAll(both, out.data()));  // b is gone: Redis answers.
  f.Put("b", "b2");
  REQUIRE(f.cache.LookupAll(both, out.data()));
  CHECK(*out[0] == "a2");
  CHECK(*out[1] == "b2");
  const std::vector<std::string> written{"a", "b"};
  f.cache.InvalidateBatch(written);
  CHECK(f.cache.entries() == 0);
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
  f.cache.Resubscribed(f.stream.fds[0]);
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
