// The L1 invalidation stream against a real redis-server: every way a
// record key changes reaches the cache, FLUSHALL empties it, and a killed or
// paused invalidation connection empties it and stops it serving until a
// new subscription proves the stream again.
#include "storage/redis/invalidation_listener.h"

#include <signal.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

struct Listening {
  catalog::testing::RedisServer redis;
  Metrics metrics;
  HotCache cache{[] {
                   HotCacheOptions options;
                   options.lease = absl::Milliseconds(300);
                   return options;
                 }(),
                 Clock::Real(), &metrics};
  InvalidationListener listener{[&] {
                                  InvalidationListenerOptions options;
                                  options.port = redis.port();
                                  options.key_prefix = "product:";
                                  options.heartbeat = absl::Milliseconds(50);
                                  options.pong_timeout = absl::Milliseconds(300);
                                  return options;
                                }(),
                                &cache, &metrics};

  // Waits (bounded) until `predicate` holds.
  template <typename Predicate>
  bool Await(Predicate predicate) {
    for (int i = 0; i < 1000; ++i) {
      if (predicate()) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }
  void Put(const std::string& id, const std::string& value) {
    const std::vector<absl::string_view> ids{id};
    const std::vector<ValueView> values{ValueView(value)};
    cache.Fill(cache.Begin(), ids, values);
  }
  // Held in L1 (whether or not it is live at this instant: a pong in the
  // socket makes it briefly not live).
  bool Holds(const std::string& id) { return cache.Holds(id); }
};

TEST_CASE("a change by any command or script to a record key evicts it from L1, other prefixes do not") {
  Listening l;
  REQUIRE(l.Await([&] { return l.cache.live(); }));
  const std::vector<std::vector<std::string>> writes = {
      {"SET", "product:1", "x"},
      {"DEL", "product:2"},  // Deleting a key that exists.
      {"EVAL", "redis.call('SET', KEYS[1], 'y') return 1", "1", "product:3"},
      {"RENAME", "product:4", "product:44"},
  };
  l.redis.Command({"SET", "product:2", "x"});
  l.redis.Command({"SET", "product:4", "x"});
  absl::SleepFor(absl::Milliseconds(100));  // Their own invalidations pass first.
  for (size_t i = 0; i < writes.size(); ++i) {
    const std::string id = writes[i][0] == "EVAL" ? "3" : writes[i][0] == "RENAME" ? "4" : writes[i][1].substr(8);
    l.Put(id, "cached");
    REQUIRE(l.Holds(id));
    l.redis.Command(writes[i]);
    INFO(writes[i][0] << " on " << id);
    CHECK(l.Await([&] { return !l.Holds(id); }));
  }
  l.Put("9", "cached");
  l.redis.Command({"SET", "other:9", "x"});
  l.redis.Command({"SET", "product:sentinel", "x"});  // Arrives after other:9 would have.
  // 2 setup writes, SET, DEL, EVAL, RENAME (2 keys): 7; the marker: 8.
  REQUIRE(l.Await([&] { return l.metrics.Get(Counter::l1_invalidations_total) >= 8; }));
  CHECK(l.Holds("9"));
}

TEST_CASE("FLUSHALL empties L1") {
  Listening l;
  REQUIRE(l.Await([&] { return l.cache.live(); }));
  l.Put("1", "a");
  l.Put("2", "b");
  l.redis.Command({"FLUSHALL"});
  CHECK(l.Await([&] { return l.cache.entries() == 0; }));
  CHECK(l.metrics.Get(Counter::l1_flushes_total) >= 1);
}

TEST_CASE("a killed invalidation connection empties L1, which serves again only after re-subscribing") {
  Listening l;
  REQUIRE(l.Await([&] { return l.cache.live(); }));
  for (int round = 0; round < 3; ++round) {
    l.Put("1", "a");
    REQUIRE(l.Holds("1"));
    const int64_t before = l.listener.subscriptions();
    REQUIRE(l.redis.Command({"CLIENT", "KILL", "TYPE", "pubsub"})->integer == 1);
    CHECK(l.Await([&] { return l.metrics.Get(Counter::l1_connection_losses_total) == round + 1; }));
    CHECK(l.Await([&] { return l.listener.subscriptions() == before + 1 && l.cache.live(); }));
    CHECK_FALSE(l.Holds("1"));  // Emptied with the loss.
  }
}

TEST_CASE("a Redis that stops answering (SIGSTOP) stops L1 within the lease and empties it") {
  Listening l;
  REQUIRE(l.Await([&] { return l.cache.live(); }));
  l.Put("1", "a");
  REQUIRE(kill(l.redis.pid(), SIGSTOP) == 0);
  const absl::Time stopped = absl::Now();
  const bool stopped_serving = l.Await([&] { return !l.cache.live(); });
  const bool dropped = l.Await([&] { return l.metrics.Get(Counter::l1_connection_losses_total) >= 1; });
  const int64_t entries = l.cache.entries();
  INFO("L1 stopped serving " << absl::FormatDuration(absl::Now() - stopped) << " after Redis stopped (lease 300 ms)");
  REQUIRE(kill(l.redis.pid(), SIGCONT) == 0);
  CHECK(stopped_serving);
  CHECK(dropped);
  CHECK(entries == 0);
  CHECK(l.Await([&] { return l.cache.live(); }));  // And back once Redis answers.
}

}  // namespace
}  // namespace catalog::storage
