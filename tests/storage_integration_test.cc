// TieredStore over a real redis-server and MariaDB: the batching claims are
// proved by counting commands on the servers themselves.
#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "storage/fence.h"
#include "storage/mysql/mysql_tier.h"
#include "storage/redis/redis_monitor.h"
#include "storage/redis/redis_tier.h"
#include "storage/tiering/tiered_store.h"
#include "tests/harness/harness.h"
#include "tests/harness/storage_stack.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisServer;
using catalog::testing::SharedMySql;

TEST_CASE("an all-hot batch of 100 is one MGET and no SQL") {
  Stack s;
  const auto ids = Ids("hot", 100);
  s.Put(ids, "v1");
  s.redis.ResetStats();
  const long long selects = s.mysql.client().ComSelect();
  const int64_t round_trips = s.metrics.Get(Counter::redis_round_trips_total);

  auto values = s.store->Read(ids, Stack::Later());
  REQUIRE(values.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(Parse(*(*values)[i]).id() == ids[i]);
  CHECK(s.redis.CommandCalls("mget") == 1);
  CHECK(s.redis.CommandCalls("get") == 0);
  CHECK(s.metrics.Get(Counter::redis_round_trips_total) - round_trips == 1);
  CHECK(s.mysql.client().ComSelect() - selects == 0);
}

TEST_CASE("misses cost one fence read, one SELECT and one fenced write-back script, then are hot") {
  Stack s;
  const auto hot = Ids("h", 60);
  const auto cold = Ids("c", 40);
  s.Put(hot, "hot");
  for (const std::string& id : cold) s.InsertCold(id, 3, "cold");
  std::vector<std::string> ids = hot;
  ids.insert(ids.end(), cold.begin(), cold.end());
  ids.push_back("absent");

  s.redis.ResetStats();
  long long selects = s.mysql.client().ComSelect();
  const int64_t round_trips = s.metrics.Get(Counter::redis_round_trips_total);
  auto values = s.store->Read(ids, Stack::Later());
  REQUIRE(values.ok());
  CHECK(s.mysql.client().ComSelect() - selects == 1);
  CHECK(s.redis.CommandCalls("mget") == 2);  // Records, then the misses' fences.
  CHECK(s.redis.CommandCalls("eval") == 1);  // One write-back script...
  CHECK(s.redis.CommandCalls("set") == 40);  // ...storing the 40 cold records.
  CHECK(s.metrics.Get(Counter::redis_round_trips_total) - round_trips == 3);
  CHECK(Parse(*(*values)[60]).title() == "cold");
  CHECK(Parse(*(*values)[60]).version() == 3);
  CHECK_FALSE(values->back().has_value());

  selects = s.mysql.client().ComSelect();
  values = s.store->Read(cold, Stack::Later());
  REQUIRE(values.ok());
  CHECK(s.mysql.client().ComSelect() - selects == 0);  // Promoted: all hot now.
}

TEST_CASE("compare-and-set on Redis is all or nothing") {
  Stack s;
  s.Put({"a", "b"}, "v1");
  auto current = s.redis_tier->MultiGet({"a", "b"}, Stack::Later());
  REQUIRE(current.ok());
  std::vector<CasEntry> stale = {{"a", (*current)[0], std::nullopt, std::string("A2")},
                                 {"b", std::string("wrong"), std::nullopt, std::string("B2")}};
  CHECK(s.redis_tier->CompareAndSet(stale, nullptr, Stack::Later())->outcome == CasResult::Outcome::kChanged);
  auto after = s.redis_tier->MultiGet({"a", "b"}, Stack::Later());
  CHECK(*after == *current);
  std::vector<CasEntry> fresh = {{"a", (*current)[0], std::nullopt, std::string("A2")},
                                 {"c", std::nullopt, std::nullopt, std::string("C")}};
  CHECK(s.redis_tier->CompareAndSet(fresh, nullptr, Stack::Later())->outcome == CasResult::Outcome::kApplied);
  CHECK((*s.redis_tier->MultiGet({"a", "c"}, Stack::Later()))[1] == std::optional<std::string>("C"));
  // An absent key whose fence moved since it was read: refused.
  s.redis.Command({"SET", FenceKey("product-fence:", "product:d"), "moved"});
  std::vector<CasEntry> fenced = {{"d", std::nullopt, std::nullopt, std::string("D")}};
  CHECK(s.redis_tier->CompareAndSet(fenced, nullptr, Stack::Later())->outcome == CasResult::Outcome::kChanged);
  fenced[0].fence = "moved";
  CHECK(s.redis_tier->CompareAndSet(fenced, nullptr, Stack::Later())->outcome == CasResult::Outcome::kApplied);
}

TEST_CASE("an upsert of a cold-only record continues its version") {
  Stack s;
  s.InsertCold("c1", 7, "cold");
  CHECK(s.Put({"c1"}, "new") == std::vector<int64_t>{8});
}

TEST_CASE("demotion moves idle records to MySQL and reads bring them back") {
  Stack s(absl::Seconds(1));  // Demotion then needs idle >= 2 s.
  const auto ids = Ids("d", 20);
  s.Put(ids, "v1");
  absl::SleepFor(absl::Milliseconds(3100));
  s.Put({"d0"}, "busy");  // Just written: not idle.
  auto result = s.store->Demote(absl::Seconds(2), 0, Stack::Later(), NeverCancelled);
  REQUIRE(result.ok());
  CHECK(result->demoted == 19);
  CHECK(s.redis.Command({"EXISTS", "product:d1"})->integer == 0);
  CHECK(s.redis.Command({"EXISTS", "product:d0"})->integer == 1);
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 19);

  const long long selects = s.mysql.client().ComSelect();
  auto values = s.store->Read(ids, Stack::Later());
  REQUIRE(values.ok());
  CHECK(s.mysql.client().ComSelect() - selects == 1);
  CHECK(Parse(*(*values)[1]).title() == "v1");
  CHECK(Parse(*(*values)[0]).title() == "busy");
  CHECK(s.redis.Command({"EXISTS", "product:d1"})->integer == 1);
}

TEST_CASE("deleted records stay deleted through demotion of their tombstones") {
  Stack s(absl::Seconds(1));
  s.Put({"x", "y"}, "v1");
  absl::SleepFor(absl::Milliseconds(3100));
  REQUIRE(s.store->Demote(absl::Seconds(2), 0, Stack::Later(), NeverCancelled)->demoted == 2);  // Both cold now.
  auto deleted = s.store->Delete({"x"}, Stack::Later());
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  // The old payload left MySQL at once: the row holds the tombstone (byte 0).
  CHECK(s.mysql.client().QueryInt("SELECT ASCII(payload) FROM products WHERE id = 'x'") == 0);
  CHECK(s.mysql.client().QueryInt("SELECT version FROM products WHERE id = 'x'") == 2);
  absl::SleepFor(absl::Milliseconds(3100));
  auto demoted = s.store->Demote(absl::Seconds(2), 0, Stack::Later(), NeverCancelled);
  REQUIRE(demoted.ok());
  CHECK(demoted->tombstones_demoted == 1);
  CHECK(s.redis.Command({"EXISTS", "product:x"})->integer == 0);
  CHECK(s.mysql.client().QueryInt("SELECT version FROM products WHERE id = 'x'") == 2);
  auto values = s.store->Read({"x", "y"}, Stack::Later());
  REQUIRE(values.ok());
  CHECK_FALSE((*values)[0].has_value());
  CHECK((*values)[1].has_value());
  CHECK(s.redis.Command({"EXISTS", "product:x"})->integer == 0);  // Tombstones are not promoted.
  CHECK(s.Put({"x"}, "again") == std::vector<int64_t>{3});
}

// Writers own disjoint ids, so "the last acknowledged operation" of each id
// is well defined; readers (which promote) and a demoter run against all
// ids at once. At the end every id must read as its last acknowledged state.
TEST_CASE("stress: concurrent upserts, deletes, promoting reads and demotion lose nothing") {
  Stack s(absl::Seconds(1));
  constexpr int kWriters = 3;
  constexpr int kIdsPerWriter = 8;
  struct Acked {
    bool exists = false;
    std::string title;
    int64_t version = 0;
  };
  std::vector<std::vector<Acked>> acked(kWriters, std::vector<Acked>(kIdsPerWriter));
  auto id_of = [](int w, int i) { return absl::StrCat("s", w, "_", i); };
  std::atomic<bool> stop{false};
  std::mutex failures_mu;
  std::vector<std::string> failures;
  auto fail = [&](std::string why) {
    std::lock_guard<std::mutex> lock(failures_mu);
    failures.push_back(std::move(why));
  };
  std::atomic<int64_t> acknowledged{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w + 1);
      int op = 0;
      while (!stop) {
        // Two busy ids, six that are written rarely and so go idle.
        const int i = rng() % 10 < 8 ? rng() % 2 : 2 + rng() % (kIdsPerWriter - 2);
        const std::string id = id_of(w, i);
        Acked& state = acked[w][i];
        if (rng() % 5 == 0) {
          auto deleted = s.store->Delete({id}, Stack::Later());
          if (!deleted.ok()) {
            fail(absl::StrCat(id, " delete: ", deleted.status().ToString()));
            continue;
          }
          if (*deleted != (state.exists ? 1 : 0)) fail(absl::StrCat(id, " delete count ", *deleted));
          state.exists = false;
        } else {
          const std::string title = absl::StrCat("w", w, "op", op++);
          const bool conditional = state.exists && rng() % 2 == 0;
          std::vector<WriteIntent> intent = {{id, conditional ? state.version : 0}};
          auto result = s.store->Write(
              intent, [&](size_t, int64_t v) { return Record(id, v, title); }, Stack::Later());
          if (!result.ok()) {
            fail(absl::StrCat(id, " write: ", result.status().ToString()));
            continue;
          }
          if (result->conflict.has_value()) {
            fail(absl::StrCat(id, " conflict at ", state.version));
            continue;
          }
          if (result->versions[0] <= state.version) {  // Versions only grow, across deletes too.
            fail(absl::StrCat(id, " version ", result->versions[0], " after ", state.version));
          }
          state = Acked{true, title, result->versions[0]};
        }
        ++acknowledged;
        absl::SleepFor(absl::Milliseconds(50 + rng() % 150));
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(100 + r);
      while (!stop) {
        // A busy id, and now and then a rarely used one (promoting it if
        // it was demoted).
        std::vector<std::string> ids = {id_of(rng() % kWriters, rng() % 2)};
        if (rng() % 10 < 3) ids.push_back(id_of(rng() % kWriters, 2 + rng() % (kIdsPerWriter - 2)));
        auto values = s.store->Read(ids, Stack::Later());
        if (!values.ok()) fail(absl::StrCat("read: ", values.status().ToString()));
        absl::SleepFor(absl::Milliseconds(100 + rng() % 300));
      }
    });
  }
  std::atomic<int64_t> demoted{0};
  threads.emplace_back([&] {
    while (!stop) {
      auto result = s.store->Demote(absl::Seconds(2), 0, Stack::Later(), NeverCancelled);
      if (!result.ok())
        fail(absl::StrCat("demote: ", result.status().ToString()));
      else
        demoted += result->demoted + result->tombstones_demoted;
      absl::SleepFor(absl::Milliseconds(200));
    }
  });

  // Run until demotion and promotion have both happened a fair number of
  // times (bounded: 40 s), at least 6 s.
  const absl::Time start = absl::Now();
  while (absl::Now() - start < absl::Seconds(40)) {
    absl::SleepFor(absl::Milliseconds(200));
    if (absl::Now() - start > absl::Seconds(6) && demoted >= 10 && s.metrics.Get(Counter::promotions_total) >= 5) break;
  }
  stop = true;
  for (std::thread& t : threads) t.join();

  INFO("demoted " << demoted << ", promoted " << s.metrics.Get(Counter::promotions_total) << ", acknowledged "
                  << acknowledged);
  CHECK(failures == std::vector<std::string>{});
  CHECK(demoted >= 10);
  CHECK(s.metrics.Get(Counter::promotions_total) >= 5);
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kIdsPerWriter; ++i) {
      const std::string id = id_of(w, i);
      auto values = s.store->Read({id}, Stack::Later());
      REQUIRE(values.ok());
      const Acked& state = acked[w][i];
      INFO(id);
      REQUIRE((*values)[0].has_value() == state.exists);
      if (state.exists) {
        CHECK(Parse(*(*values)[0]).title() == state.title);
        CHECK(Parse(*(*values)[0]).version() == state.version);
      }
    }
  }
}

}  // namespace
}  // namespace catalog::storage
