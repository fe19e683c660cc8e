// Faults and pauses against a real redis-server and MariaDB: each test stops
// one caller between two of its steps (deterministically, through a hook on
// its cold tier) while another instance writes and demotes, or makes Redis
// or MySQL refuse, and then checks every acknowledged write on the servers.
#include <catch2/catch.hpp>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "storage/fence.h"
#include "storage/redis/redis_monitor.h"
#include "tests/harness/storage_stack.h"

namespace catalog::storage {
namespace {

constexpr int kRounds = 20;
constexpr int kIdsPerRound = 25;

std::string Title(const MaybeValue& value) { return value.has_value() ? Parse(*value).title() : "<none>"; }

// The observation of the review: a cold read's write-back, delayed past a
// write and a demotion by another instance, must not store what it read.
TEST_CASE("pause between a cold read and its write-back, many rounds: no stale value is ever promoted") {
  Stack a;
  auto b = a.Other();
  int64_t stale = 0, would_have_been_stale = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto ids = Ids(absl::StrCat("r", round, "_"), kIdsPerRound);
    b->Put(ids, "v1");
    b->DemoteAll();  // Cold: only in MySQL.
    a.cold->after_multi_get = [&] {
      b->Put(ids, "acknowledged");  // Acknowledged to its caller...
      b->DemoteAll();               // ...and moved to MySQL: the keys are absent again.
      for (const std::string& id : ids) {
        // A plain SET NX (the code before fences) would store v1 now.
        if (a.redis.Command({"EXISTS", "product:" + id})->integer == 0) ++would_have_been_stale;
      }
    };
    auto read = a.store->Read(ids, Instance::Later());
    REQUIRE(read.ok());
    auto now = b->store->Read(ids, Instance::Later());
    REQUIRE(now.ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (Title((*now)[i]) != "acknowledged") ++stale;
    }
  }
  CHECK(would_have_been_stale == kRounds * kIdsPerRound);
  CHECK(stale == 0);
  CHECK(a.metrics.Get(Counter::promotions_total) == 0);
  CHECK(a.metrics.Get(Counter::promotions_skipped_total) == kRounds * kIdsPerRound);
}

// The neighbour field report: demotion runs on several nodes disrupt each
// other. Instance A holds the demotion lock and is paused (its cold tier's
// hook) after reading idle records and before its MySQL write, longer than
// the lock's ttl; B takes the lock, demotes, and a write changes a record in
// Redis and demotes it again. A's late MySQL write must not happen at all.
TEST_CASE("a demotion paused past its lock's ttl writes nothing to MySQL after the new holder wrote") {
  Stack a;
  auto b = a.Other();
  const auto ids = Ids("lock_", 20);
  a.Put(ids, "v1");
  auto grant_a = a.store->AcquireDemotionLock("a", absl::Milliseconds(300), 0, Instance::Later());
  REQUIRE(grant_a.ok());
  REQUIRE(grant_a->held);
  int64_t b_token = 0;
  a.cold->before_put = [&] {
    absl::SleepFor(absl::Milliseconds(500));  // A's holding expires meanwhile.
    auto grant_b = b->store->AcquireDemotionLock("b", absl::Seconds(30), 0, Instance::Later());
    REQUIRE(grant_b.ok());
    REQUIRE(grant_b->held);
    b_token = grant_b->token;
    b->Put(ids, "acknowledged");  // Newer versions in Redis...
    auto demoted = b->store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled, b_token);
    REQUIRE(demoted.ok());
    CHECK(demoted->demoted == static_cast<int64_t>(ids.size()));  // ...and in MySQL, under B's token.
  };
  auto late = a.store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled, grant_a->token);
  REQUIRE_FALSE(late.ok());
  INFO(late.status().ToString());
  CHECK(absl::IsFailedPrecondition(late.status()));
  CHECK(absl::StrContains(late.status().message(), "another instance took the demotion lock"));
  CHECK(a.metrics.Get(Counter::demote_fenced_total) == 1);
  CHECK(b_token > grant_a->token);
  CHECK(a.mysql.client().QueryInt("SELECT token FROM demotion_fences WHERE name = 'products'") == b_token);
  // Every acknowledged write reads back.
  CHECK(a.mysql.client().QueryInt("SELECT COUNT(*) FROM products WHERE id LIKE 'lock\\_%'") ==
        static_cast<long long>(ids.size()));
  auto read = a.store->Read(ids, Instance::Later());
  REQUIRE(read.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(Title((*read)[i]) == "acknowledged");
  // At the limit: the current holder's own token is accepted.
  b->Put(ids, "again");
  auto again = b->store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled, b_token);
  INFO(again.status().ToString());
  CHECK(again.ok());
}

TEST_CASE("pause between a write's look and its compare-and-set, many rounds: no acknowledged write is lost") {
  Stack a;
  auto b = a.Other();
  int64_t lost = 0, aborted = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto ids = Ids(absl::StrCat("w", round, "_"), kIdsPerRound);
    b->Put(ids, "v1");
    b->DemoteAll();
    std::vector<int64_t> acked;
    a.cold->after_multi_get = [&] {
      acked = b->Put(ids, "theirs");
      b->DemoteAll();
    };
    const bool conditional = round % 2 == 1;
    std::vector<WriteIntent> intents;
    for (const std::string& id : ids) intents.push_back({id, conditional ? 1 : 0});
    auto mine = a.store->Write(
        intents, [&](size_t i, int64_t v) { return Record(ids[i], v, "mine"); }, Instance::Later());
    REQUIRE(mine.ok());
    if (conditional) {
      // It saw version 1, which is no longer current: nothing written.
      REQUIRE(mine->conflict.has_value());
      ++aborted;
    }
    // After everything goes cold and comes back, the last acknowledged
    // write of each id is what reads.
    b->DemoteAll();
    auto now = b->store->Read(ids, Instance::Later());
    REQUIRE(now.ok());
    for (size_t i = 0; i < ids.size(); ++i) {
      const catalog::v1::Product p = Parse(*(*now)[i]);
      if (conditional ? (p.title() != "theirs" || p.version() != acked[i])
                      : (p.title() != "mine" || p.version() != mine->versions[i] || p.version() <= acked[i])) {
        ++lost;
      }
    }
  }
  CHECK(lost == 0);
  CHECK(aborted == kRounds / 2);
  CHECK(a.metrics.Get(Counter::write_conflict_retries_total) >= kRounds / 2);
}

TEST_CASE("pause between a delete's look and its compare-and-set, many rounds: nothing deleted comes back") {
  Stack a;
  auto b = a.Other();
  int64_t resurrected = 0;
  for (int round = 0; round < kRounds; ++round) {
    const auto ids = Ids(absl::StrCat("d", round, "_"), kIdsPerRound);
    b->Put(ids, "v1");
    b->DemoteAll();
    a.cold->after_multi_get = [&] {
      b->Put(ids, "theirs");
      b->DemoteAll();
    };
    auto deleted = a.store->Delete(ids, Instance::Later());
    REQUIRE(deleted.ok());
    CHECK(*deleted == kIdsPerRound);
    b->DemoteAll();  // The tombstones go cold over the rows.
    auto now = b->store->Read(ids, Instance::Later());
    REQUIRE(now.ok());
    for (const MaybeValue& value : *now) resurrected += value.has_value() ? 1 : 0;
  }
  CHECK(resurrected == 0);
}

// Redis at maxmemory with nothing evictable.
struct FullRedis {
  Stack s;
  FullRedis() {
    s.Put(Ids("fill", 200), "filler", 2000);
    const long long used = std::stoll(Info("used_memory"));
    s.redis.Command({"CONFIG", "SET", "maxmemory", std::to_string(used)});
  }
  std::string Info(const std::string& field) {
    auto reply = s.redis.Command({"INFO", "memory"});
    const std::string text(reply->str, reply->len);
    const size_t at = text.find(field + ":");
    return text.substr(at + field.size() + 1, text.find("\r\n", at) - at - field.size() - 1);
  }
};

TEST_CASE("Redis full: writes fail RESOURCE_EXHAUSTED for an operator, nothing half-applied, demotion frees room") {
  FullRedis full;
  Stack& s = full.s;
  std::vector<WriteIntent> intents = {{"new1", 0}, {"fill0", 0}};
  WriteOnce once{"req-oom", [] { return std::string("entry"); }};
  auto refused = s.store->Write(
      intents, [&](size_t i, int64_t v) { return Record(intents[i].id, v, "refused"); }, Instance::Later(), &once);
  INFO(refused.status().ToString());
  REQUIRE(absl::IsResourceExhausted(refused.status()));
  CHECK(absl::StrContains(refused.status().message(), "is full (OOM)"));
  CHECK(absl::StrContains(refused.status().message(), "nothing was written"));
  CHECK(s.metrics.Get(Counter::redis_oom_errors_total) == 1);
  CHECK(s.redis.Command({"EXISTS", "product:new1"})->integer == 0);
  CHECK(Parse(s.redis.Command({"GET", "product:fill0"})->str).title() == "filler");
  CHECK(s.redis.Command({"EXISTS", "request:req-oom"})->integer == 0);  // No half-recorded request.
  // Reads still work.
  CHECK(s.store->Read({"fill1"}, Instance::Later()).ok());
  // Demotion runs while Redis is full (it frees memory), then writes work.
  auto demoted = s.store->Demote(absl::ZeroDuration(), 100, Instance::Later(), NeverCancelled);
  INFO(demoted.status().ToString());
  REQUIRE(demoted.ok());
  CHECK(demoted->demoted == 100);
  auto applied = s.store->Write(
      intents, [&](size_t i, int64_t v) { return Record(intents[i].id, v, "applied"); }, Instance::Later(), &once);
  INFO(applied.status().ToString());
  REQUIRE(applied.ok());
  CHECK_FALSE(applied->recorded.has_value());
  // Recorded without a TTL: volatile-lru cannot evict it.
  CHECK(s.redis.Command({"TTL", "request:req-oom"})->integer == -1);
  CHECK(s.redis.Command({"ZSCORE", "request-expiry", "request:req-oom"})->type == REDIS_REPLY_STRING);
}

TEST_CASE("a request id under eviction pressure and a reply lost after apply: applied exactly once") {
  Stack s;
  // Cache keys with TTLs fill Redis until volatile-lru evicts.
  for (int i = 0; i < 300; ++i) {
    s.redis.Command({"SET", absl::StrCat("cache:", i), std::string(4000, 'c'), "EX", "3600"});
  }
  WriteOnce once{"req-evict", [] { return std::string("entry-evict"); }};
  std::vector<WriteIntent> intents = {{"e1", 0}};
  auto first = s.store->Write(
      intents, [](size_t, int64_t v) { return Record("e1", v, "once"); }, Instance::Later(), &once);
  REQUIRE(first.ok());
  s.redis.Command({"CONFIG", "SET", "maxmemory", "2mb"});
  for (int i = 300; i < 900; ++i) {
    s.redis.Command({"SET", absl::StrCat("cache:", i), std::string(4000, 'c'), "EX", "3600"});
  }
  auto info = s.redis.Command({"INFO", "stats"});
  CHECK(absl::StrContains(std::string(info->str, info->len), "evicted_keys:"));
  CHECK_FALSE(absl::StrContains(std::string(info->str, info->len), "evicted_keys:0\r\n"));  // Eviction happened...
  CHECK(s.redis.Command({"GET", "request:req-evict"})->type == REDIS_REPLY_STRING);         // ...but not of the record.
  s.redis.Command({"CONFIG", "SET", "maxmemory", "0"});

  // The reply to a compare-and-set comes after the caller's deadline:
  // between the caller's look and its compare-and-set, a script on another
  // connection keeps Redis busy for 600 ms; the caller gives up after 300 ms
  // and Redis runs its compare-and-set when the busy script ends.
  // An id absent from Redis, so the write asks MySQL (where the pause is).
  std::vector<WriteIntent> late_intents = {{"e2", 0}};
  WriteOnce late{"req-late", [] { return std::string("entry-late"); }};
  std::thread busy;
  s.cold->after_multi_get = [&] {
    busy = std::thread([&] {
      s.redis.Command({"EVAL",
                       "#!lua flags=no-writes\nlocal t = redis.call('TIME'); local until_us = t[1] * 1e6 + t[2] + "
                       "600000\nrepeat t = redis.call('TIME') until t[1] * 1e6 + t[2] >= until_us\nreturn 1",
                       "0"});
    });
    absl::SleepFor(absl::Milliseconds(100));  // The script is running.
  };
  auto timed_out = s.store->Write(
      late_intents, [](size_t, int64_t v) { return Record("e2", v, "late"); }, absl::Now() + absl::Milliseconds(300),
      &late);
  REQUIRE(busy.joinable());
  busy.join();
  INFO(timed_out.status().ToString());
  CHECK(absl::IsDeadlineExceeded(timed_out.status()));
  auto stored = s.store->Read({"e2"}, Instance::Later());
  REQUIRE(stored.ok());
  CHECK(Parse(*(*stored)[0]).title() == "late");  // Redis applied it after all.
  auto retry = s.store->Write(
      late_intents, [](size_t, int64_t v) { return Record("e2", v, "late"); }, Instance::Later(), &late);
  REQUIRE(retry.ok());
  REQUIRE(retry->recorded.has_value());  // Answered from the record, not applied again.
  CHECK(*retry->recorded == "entry-late");
  CHECK(Parse(*(*s.store->Read({"e2"}, Instance::Later()))[0]).version() == 1);
}

TEST_CASE("request entries expire by Redis's clock, removed by the service") {
  Stack s;
  TieredStoreOptions options;
  options.request_ttl = absl::Milliseconds(300);
  TieredStore store(kType, s.redis_tier.get(), s.cold.get(), Clock::Real(), &s.metrics, options);
  std::vector<WriteIntent> intents = {{"x1", 0}};
  WriteOnce once{"req-exp", [] { return std::string("entry"); }};
  REQUIRE(store
              .Write(
                  intents, [](size_t, int64_t v) { return Record("x1", v, "t"); }, Instance::Later(), &once)
              .ok());
  CHECK(*store.ExpireRequests(100, Instance::Later()) == 0);  // Not yet.
  absl::SleepFor(absl::Milliseconds(500));
  CHECK(*store.ExpireRequests(100, Instance::Later()) == 1);
  CHECK(s.redis.Command({"EXISTS", "request:req-exp"})->integer == 0);
  CHECK(s.redis.Command({"ZCARD", "request-expiry"})->integer == 0);
}

TEST_CASE("maxmemory-policy: records-evicting and LFU policies are refused, the safe ones accepted") {
  Stack s;
  RedisMonitor monitor(s.pool.get(), &s.metrics, /*gauges=*/true);
  for (const char* policy : {"volatile-lru", "volatile-ttl", "volatile-random", "noeviction"}) {
    s.redis.Command({"CONFIG", "SET", "maxmemory-policy", policy});
    INFO(policy);
    CHECK(monitor.CheckOnce(Instance::Later()).ok());
    CHECK(s.metrics.Get(Gauge::redis_maxmemory_policy_ok) == 1);
  }
  for (const char* policy : {"allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lfu"}) {
    s.redis.Command({"CONFIG", "SET", "maxmemory-policy", policy});
    const absl::Status status = monitor.CheckOnce(Instance::Later());
    INFO(status.ToString());
    CHECK(absl::IsFailedPrecondition(status));
    CHECK(absl::StrContains(status.message(), absl::StrCat("maxmemory-policy ", policy)));
    CHECK(s.metrics.Get(Gauge::redis_maxmemory_policy_ok) == 0);
  }
}

TEST_CASE("INFO gauges: memory, keys and keys with a TTL") {
  Stack s;
  s.Put(Ids("g", 10), "t");
  s.redis.Command({"SET", "cache:1", "x", "EX", "100"});
  s.redis.Command({"CONFIG", "SET", "maxmemory", "100mb"});
  RedisMonitor monitor(s.pool.get(), &s.metrics, /*gauges=*/true);
  REQUIRE(monitor.CheckOnce(Instance::Later()).ok());
  CHECK(s.metrics.Get(Gauge::redis_keys) == 11);
  CHECK(s.metrics.Get(Gauge::redis_keys_with_ttl) == 1);
  CHECK(s.metrics.Get(Gauge::redis_maxmemory_bytes) == 100 * 1024 * 1024);
  CHECK(s.metrics.Get(Gauge::redis_used_memory_bytes) > 0);
}

int64_t IdleTime(Stack& s, const std::string& id) {
  return s.redis.Command({"OBJECT", "IDLETIME", "product:" + id})->integer;
}

TEST_CASE("the idle scan leaves the keys it does not demote as idle as they were") {
  Stack s;
  const auto ids = Ids("i", 10);
  s.Put(ids, "t");
  absl::SleepFor(absl::Milliseconds(2100));
  SECTION("with a limit") {
    auto result = s.store->Demote(absl::Seconds(2), 3, Instance::Later(), NeverCancelled);
    REQUIRE(result.ok());
    CHECK(result->demoted == 3);
    int kept = 0;
    for (const std::string& id : ids) {
      if (s.redis.Command({"EXISTS", "product:" + id})->integer == 0) continue;
      ++kept;
      CHECK(IdleTime(s, id) >= 2);
    }
    CHECK(kept == 7);
  }
  SECTION("when the MySQL write fails; a key a client read meanwhile keeps its fresh clock") {
    // A client reads i0 two seconds after the scan (idle clocks tick in
    // seconds: a read within the first second is not told apart).
    s.cold->before_put = [&] {
      absl::SleepFor(absl::Milliseconds(2100));
      s.redis.Command({"GET", "product:i0"});
    };
    s.cold->fail_put = absl::UnavailableError("mysql refused");
    CHECK(absl::IsUnavailable(s.store->Demote(absl::Seconds(2), 0, Instance::Later(), NeverCancelled).status()));
    CHECK(IdleTime(s, "i0") == 0);
    for (size_t i = 1; i < ids.size(); ++i) CHECK(IdleTime(s, ids[i]) >= 4);  // 2 s idle at the scan, 2 s since.
  }
}

// After a Redis failover that lost writes already demoted, Redis holds an
// older version than MySQL: a new write gets a version MySQL already has.
TEST_CASE("Redis behind MySQL: the acknowledged write on top stays in Redis through demotion") {
  Stack s;
  s.Put({"x"}, "V");  // Version 1 in Redis.
  // MySQL holds W, version 2 (demoted on the old master, lost by Redis).
  s.mysql.client().Execute(absl::StrCat("INSERT INTO products (id, payload, version) VALUES ('x', X'",
                                        absl::BytesToHexString(Record("x", 2, "W")), "', 2)"));
  CHECK(s.Put({"x"}, "X") == std::vector<int64_t>{2});  // Acknowledged.
  auto demoted = s.store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled);
  REQUIRE(demoted.ok());
  CHECK(demoted->demoted == 0);
  CHECK(demoted->cold_newer == 1);
  CHECK(s.metrics.Get(Counter::demote_cold_newer_total) == 1);
  auto now = s.store->Read({"x"}, Instance::Later());
  REQUIRE(now.ok());
  CHECK(Title((*now)[0]) == "X");
  CHECK(s.Put({"x"}, "X2") == std::vector<int64_t>{3});
  REQUIRE(s.store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled)->demoted == 1);
  CHECK(Title((*s.store->Read({"x"}, Instance::Later()))[0]) == "X2");
}

// Sets the server's max_allowed_packet for connections made from now on,
// and puts it back.
struct MaxAllowedPacket {
  catalog::testing::MySqlClient& client;
  long long saved;
  MaxAllowedPacket(catalog::testing::MySqlClient& c, long long bytes)
      : client(c), saved(c.QueryInt("SELECT @@global.max_allowed_packet")) {
    client.Execute(absl::StrCat("SET GLOBAL max_allowed_packet = ", bytes));
  }
  ~MaxAllowedPacket() { client.Execute(absl::StrCat("SET GLOBAL max_allowed_packet = ", saved)); }
};

TEST_CASE("demotion fits MySQL's max_allowed_packet, and names a record that cannot fit") {
  catalog::testing::RedisServer redis;
  catalog::testing::SharedMySql mysql;
  MaxAllowedPacket packet(mysql.client(), 1 << 20);
  Instance a(redis.port(), mysql.port(), mysql.database());
  // 60 valid records of ~90 KB: 10.8 MB of hex, ten times the packet.
  const auto ids = Ids("big", 60);
  a.Put(ids, "large", 90 * 1024);
  // A legacy record larger than any statement (written behind the
  // service's back, as an older version with no size limit could have).
  redis.Command({"SET", "product:huge", Record("huge", 1, "huge", 600 * 1024)});
  const long long inserts = mysql.client().QueryInt(
      "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
      "WHERE VARIABLE_NAME = 'COM_INSERT'");
  auto result = a.store->Demote(absl::ZeroDuration(), 0, Instance::Later(), NeverCancelled);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  CHECK(result->demoted == 60);
  CHECK(result->too_large == 1);
  CHECK(result->too_large_ids == std::vector<std::string>{"huge"});
  CHECK(mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 60);
  const long long statements = mysql.client().QueryInt(
                                   "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
                                   "WHERE VARIABLE_NAME = 'COM_INSERT'") -
                               inserts;
  CHECK(statements >= 11);  // At least 10.8 MB / 1 MB.
  CHECK(statements <= 20);
  CHECK(redis.Command({"EXISTS", "product:huge"})->integer == 1);
  CHECK(a.metrics.Get(Counter::demote_too_large_total) == 1);
  auto back = a.store->Read(ids, Instance::Later());
  REQUIRE(back.ok());
  for (const MaybeValue& value : *back) CHECK(Title(value) == "large");
}

}  // namespace
}  // namespace catalog::storage
