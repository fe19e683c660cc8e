#include "storage/tiering/tiered_store.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "storage/hot_cache.h"
#include "storage/tiering/fake_tiers.h"

namespace catalog::storage {
namespace {

const RecordType kType{"product:", "products", catalog::v1::Product::kVersionFieldNumber};
bool NeverCancelled() { return false; }

std::string Record(const std::string& id, int64_t version, const std::string& title = "t") {
  catalog::v1::Product p;
  p.set_id(id);
  p.set_title(title);
  p.set_version(version);
  return p.SerializeAsString();
}

struct Fixture {
  FakePrimaryTier primary;
  FakeColdTier cold;
  Metrics metrics;
  TieredStore store{kType, &primary, &cold, Clock::Real(), &metrics, [] {
                      TieredStoreOptions o;
                      o.max_operation_time = absl::Seconds(2);
                      return o;
                    }()};
  absl::Time deadline = absl::Now() + absl::Seconds(5);
};

TEST_CASE("an all-hot read asks Redis once and MySQL never") {
  Fixture f;
  f.primary.values["a"] = Record("a", 1);
  f.primary.values["b"] = Record("b", 2);
  auto values = f.store.Read({"a", "b"}, f.deadline);
  REQUIRE(values.ok());
  CHECK(*(*values)[0] == Record("a", 1));
  CHECK(*(*values)[1] == Record("b", 2));
  CHECK(f.primary.multi_get_calls == 1);
  CHECK(f.cold.multi_get_calls == 0);
}

// ReadAsync, blocking until done: the values as strings ("-" for none).
absl::StatusOr<std::vector<std::string>> ReadAsyncNow(TieredStore& store, std::vector<std::string> ids,
                                                      TieredStore::ReadFrom from) {
  absl::StatusOr<std::vector<std::string>> out = absl::UnknownError("not called");
  store.ReadAsync(
      IdBatch::Copy(ids), absl::Now() + absl::Seconds(5),
      [&](absl::Span<const absl::string_view>, absl::StatusOr<absl::Span<const ValueView>> values) {
        if (!values.ok()) {
          out = values.status();
          return;
        }
        std::vector<std::string> strings;
        for (const ValueView& v : *values) strings.push_back(v.has_value() ? std::string(*v) : "-");
        out = strings;
      },
      from);
  return out;  // The fakes and the inline executor finish before returning.
}

TEST_CASE("replica-ok reads: a replica holding every id answers alone, else the master answers as usual") {
  Fixture f;
  f.primary.values = {{"a", Record("a", 2)}, {"b", Record("b", 2)}, {"gone", EncodeTombstone(3)}};
  f.primary.replica = std::map<std::string, std::string>{
      {"a", Record("a", 1)}, {"b", Record("b", 1)}, {"gone", EncodeTombstone(3)}};
  f.cold.rows["cold"] = ColdRecord{Record("cold", 1), 1};
  using From = TieredStore::ReadFrom;

  // Every id on the replica (a tombstone reads as missing): its (older)
  // values, the master not asked.
  auto read = ReadAsyncNow(f.store, {"a", "b", "gone"}, From::kReplicaOk);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 1), Record("b", 1), "-"});
  CHECK(f.primary.replica_calls == 1);
  CHECK(f.primary.multi_get_calls == 0);
  CHECK(f.metrics.Get(Counter::replica_read_keys_total) == 3);

  // One id missing there (not replicated yet, or cold): the whole batch
  // from the master, MySQL behind it, with the usual write-back of what
  // MySQL returned, never of a replica's value.
  read = ReadAsyncNow(f.store, {"a", "cold"}, From::kReplicaOk);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 2), Record("cold", 1)});
  CHECK(f.primary.replica_calls == 2);
  CHECK(f.primary.multi_get_calls == 1);
  CHECK(f.metrics.Get(Counter::replica_read_fallbacks_total) == 1);
  CHECK(f.primary.values.at("cold") == Record("cold", 1));
  CHECK(f.metrics.Get(Counter::promotions_total) == 1);  // "cold" only.

  // The replica failing: the master answers.
  f.primary.fail_replica = absl::UnavailableError("replica gone");
  read = ReadAsyncNow(f.store, {"b"}, From::kReplicaOk);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("b", 2)});
  CHECK(f.metrics.Get(Counter::replica_read_fallbacks_total) == 2);

  // The default never asks the replica.
  read = ReadAsyncNow(f.store, {"a", "b"}, From::kMaster);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 2), Record("b", 2)});
  CHECK(f.primary.replica_calls == 3);
}

TEST_CASE("replica-ok reads put nothing in L1, where a master read of the same ids does") {
  int stream[2];
  REQUIRE(pipe(stream) == 0);  // Stands for the invalidation socket (nothing unread: live).
  FakePrimaryTier primary;
  FakeColdTier cold;
  Metrics metrics;
  HotCache hot(HotCacheOptions{}, Clock::Real(), &metrics);
  hot.Resubscribed(stream[0]);
  hot.Confirm(absl::Now() + absl::Hours(1));  // Live for the whole test.
  REQUIRE(hot.live());
  TieredStore store(kType, &primary, &cold, Clock::Real(), &metrics, TieredStoreOptions{}, nullptr, &hot);
  primary.values = {{"a", Record("a", 2)}};
  primary.replica = std::map<std::string, std::string>{{"a", Record("a", 1)}};

  auto read = ReadAsyncNow(store, {"a"}, TieredStore::ReadFrom::kReplicaOk);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 1)});  // The replica's, older.
  CHECK_FALSE(hot.Holds("a"));
  read = ReadAsyncNow(store, {"a"}, TieredStore::ReadFrom::kMaster);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 2)});
  CHECK(hot.Holds("a"));  // The same read from the master fills L1: the check above can fail.
  close(stream[0]);
  close(stream[1]);
}

TEST_CASE("replica-ok reads without a replica in use go to the master") {
  Fixture f;
  f.primary.values["a"] = Record("a", 2);
  auto read = ReadAsyncNow(f.store, {"a"}, TieredStore::ReadFrom::kReplicaOk);
  REQUIRE(read.ok());
  CHECK(*read == std::vector<std::string>{Record("a", 2)});
  CHECK(f.primary.multi_get_calls == 1);
  CHECK(f.metrics.Get(Counter::replica_read_fallbacks_total) == 1);
}

TEST_CASE("misses go to the cold tier in one query and are promoted") {
  Fixture f;
  f.primary.values["hot"] = Record("hot", 1);
  f.primary.values["gone"] = EncodeTombstone(4);
  f.cold.rows["cold"] = ColdRecord{Record("cold", 3), 3};
  f.cold.rows["gone"] = ColdRecord{Record("gone", 3), 3};  // Stale row behind a tombstone.
  auto values = f.store.Read({"hot", "cold", "gone", "nothing"}, f.deadline);
  REQUIRE(values.ok());
  CHECK((*values)[0].has_value());
  CHECK(*(*values)[1] == Record("cold", 3));
  CHECK_FALSE((*values)[2].has_value());  // The tombstone wins: MySQL not consulted for it.
  CHECK_FALSE((*values)[3].has_value());
  CHECK(f.cold.multi_get_calls == 1);
  CHECK(f.cold.last_multi_get_ids == std::vector<std::string>{"cold", "nothing"});
  CHECK(f.primary.add_calls == 1);
  CHECK(f.primary.values.at("cold") == Record("cold", 3));
  CHECK(f.metrics.Get(Counter::promotions_total) == 1);
  CHECK(f.metrics.Get(Counter::read_misses_total) == 1);
}

TEST_CASE("a failed write-back counts but does not fail the read") {
  Fixture f;
  f.cold.rows["cold"] = ColdRecord{Record("cold", 3), 3};
  f.primary.fail_add = absl::UnavailableError("redis down for SET");
  auto values = f.store.Read({"cold"}, f.deadline);
  REQUIRE(values.ok());
  CHECK(*(*values)[0] == Record("cold", 3));
  CHECK(f.metrics.Get(Counter::promotion_failures_total) == 1);
}

TEST_CASE("promotion never overwrites a value written meanwhile") {
  Fixture f;
  f.cold.rows["x"] = ColdRecord{Record("x", 3), 3};
  f.cold.after_multi_get = [&] { f.primary.values["x"] = Record("x", 4); };  // A writer, between SELECT and SET.
  auto values = f.store.Read({"x"}, f.deadline);
  REQUIRE(values.ok());
  CHECK(f.primary.values["x"] == Record("x", 4));
  CHECK(f.metrics.Get(Counter::promotions_skipped_total) == 1);
}

TEST_CASE("with MySQL down, hot reads succeed and cold reads fail UNAVAILABLE") {
  Fixture f;
  f.primary.values["hot"] = Record("hot", 1);
  f.cold.fail = absl::UnavailableError("mysql down");
  CHECK(f.store.Read({"hot"}, f.deadline).ok());
  auto cold = f.store.Read({"hot", "cold"}, f.deadline);
  CHECK(absl::IsUnavailable(cold.status()));
}

TEST_CASE("with Redis down, every read fails UNAVAILABLE") {
  Fixture f;
  f.primary.fail_multi_get = absl::UnavailableError("redis down");
  CHECK(absl::IsUnavailable(f.store.Read({"a"}, f.deadline).status()));
  CHECK(f.cold.multi_get_calls == 0);
}

TEST_CASE("writes version from the newest tier and honour expected versions") {
  Fixture f;
  f.primary.values["a"] = Record("a", 5);
  f.cold.rows["b"] = ColdRecord{Record("b", 7), 7};  // Only in MySQL.
  std::vector<WriteIntent> intents = {{"a", 5}, {"b", 0}, {"c", 0}};
  auto encode = [&](size_t i, int64_t v) { return Record(intents[i].id, v, "new"); };
  auto result = f.store.Write(intents, encode, f.deadline);
  REQUIRE(result.ok());
  REQUIRE_FALSE(result->conflict.has_value());
  CHECK(result->versions == std::vector<int64_t>{6, 8, 1});
  CHECK(f.primary.values["b"] == Record("b", 8, "new"));

  SECTION("a mismatched version writes nothing") {
    std::vector<WriteIntent> stale = {{"c", 1}, {"a", 5}};
    auto conflict = f.store.Write(
        stale, [&](size_t i, int64_t v) { return Record(stale[i].id, v, "x"); }, f.deadline);
    REQUIRE(conflict.ok());
    REQUIRE(conflict->conflict.has_value());
    CHECK(conflict->conflict->index == 1);
    CHECK(conflict->conflict->expected == 5);
    CHECK(conflict->conflict->stored == 6);
    CHECK(f.primary.values["c"] == Record("c", 1, "new"));
  }
  SECTION("a version sent for an absent record conflicts with stored 0") {
    std::vector<WriteIntent> absent = {{"zzz", 3}};
    auto conflict = f.store.Write(
        absent, [&](size_t, int64_t v) { return Record("zzz", v); }, f.deadline);
    REQUIRE(conflict.ok());
    REQUIRE(conflict->conflict.has_value());
    CHECK(conflict->conflict->stored == 0);
    CHECK(f.primary.values.count("zzz") == 0);
  }
}

TEST_CASE("a write that loses a race retries on fresh state") {
  Fixture f;
  f.primary.values["a"] = Record("a", 1);
  f.primary.before_cas = [&] { f.primary.values["a"] = Record("a", 2, "other writer"); };
  std::vector<WriteIntent> intents = {{"a", 0}};
  auto result = f.store.Write(
      intents, [](size_t, int64_t v) { return Record("a", v, "mine"); }, f.deadline);
  REQUIRE(result.ok());
  CHECK(result->versions == std::vector<int64_t>{3});
  CHECK(f.primary.values["a"] == Record("a", 3, "mine"));
  CHECK(f.metrics.Get(Counter::write_conflict_retries_total) == 1);
}

TEST_CASE("deletes write tombstones that hide cold rows and count what existed") {
  Fixture f;
  f.primary.values["hot"] = Record("hot", 2);
  f.cold.rows["hot"] = ColdRecord{Record("hot", 1), 1};  // Stale copy left by a promotion.
  f.cold.rows["cold"] = ColdRecord{Record("cold", 5), 5};
  auto deleted = f.store.Delete({"hot", "cold", "never"}, f.deadline);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 2);
  CHECK(f.primary.values["hot"] == EncodeTombstone(3));
  CHECK(f.primary.values["cold"] == EncodeTombstone(6));
  CHECK(f.primary.values.count("never") == 0);
  CHECK(f.cold.rows.at("hot").payload == EncodeTombstone(3));  // Old payloads gone from MySQL too.
  CHECK(f.cold.rows.at("cold").payload == EncodeTombstone(6));
  // A late promotion of the old cold value cannot bring it back.
  std::vector<Promotion> late = {{"cold", Record("cold", 5), f.primary.FenceOf("cold")}};
  CHECK_FALSE((*f.primary.Promote(late, f.deadline))[0]);
  auto values = f.store.Read({"hot", "cold"}, f.deadline);
  REQUIRE(values.ok());
  CHECK_FALSE((*values)[0].has_value());
  CHECK_FALSE((*values)[1].has_value());
  // Writing again continues after the tombstone's version.
  std::vector<WriteIntent> again = {{"cold", 0}};
  auto result = f.store.Write(
      again, [](size_t, int64_t v) { return Record("cold", v); }, f.deadline);
  REQUIRE(result.ok());
  CHECK(result->versions == std::vector<int64_t>{7});
}

TEST_CASE("a delete decided in Redis succeeds even when MySQL cannot take the tombstones") {
  Fixture f;
  f.primary.values["hot"] = Record("hot", 2);
  f.cold.fail = absl::UnavailableError("mysql down");
  auto deleted = f.store.Delete({"hot"}, f.deadline);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(f.metrics.Get(Counter::cold_tombstone_failures_total) == 1);
  auto values = f.store.Read({"hot"}, f.deadline);
  REQUIRE(values.ok());
  CHECK_FALSE((*values)[0].has_value());
}

TEST_CASE("demotion moves idle records and tombstones, keeps busy ones") {
  Fixture f;
  f.primary.values["idle"] = Record("idle", 4);
  f.primary.values["busy"] = Record("busy", 1);
  f.primary.values["dead"] = EncodeTombstone(9);
  f.cold.rows["dead"] = ColdRecord{Record("dead", 8), 8};
  f.primary.idle_seconds = {{"idle", 100}, {"busy", 0}, {"dead", 100}};

  CHECK(absl::IsInvalidArgument(f.store.Demote(absl::Seconds(-1), 0, f.deadline, NeverCancelled).status()));

  auto result = f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled);
  REQUIRE(result.ok());
  CHECK(result->demoted == 1);
  CHECK(result->tombstones_demoted == 1);
  CHECK(f.primary.values.count("idle") == 0);
  CHECK(f.primary.values.count("dead") == 0);
  CHECK(f.primary.values.count("busy") == 1);
  CHECK(f.cold.rows.at("idle").version == 4);
  CHECK(f.cold.rows.at("dead").payload == EncodeTombstone(9));
  auto values = f.store.Read({"idle", "dead"}, f.deadline);
  REQUIRE(values.ok());
  CHECK(*(*values)[0] == Record("idle", 4));
  CHECK_FALSE((*values)[1].has_value());       // A cold tombstone reads as deleted...
  CHECK(f.primary.values.count("dead") == 0);  // ...and is not promoted.
  std::vector<WriteIntent> again = {{"dead", 0}};
  auto written = f.store.Write(
      again, [](size_t, int64_t v) { return Record("dead", v); }, f.deadline);
  REQUIRE(written.ok());
  CHECK(written->versions == std::vector<int64_t>{10});  // Versions keep growing.
}

TEST_CASE("demotion with MySQL down leaves Redis untouched") {
  Fixture f;
  f.primary.values["idle"] = Record("idle", 4);
  f.primary.idle_seconds = {{"idle", 100}};
  f.cold.fail = absl::UnavailableError("mysql down");
  CHECK(absl::IsUnavailable(f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled).status()));
  CHECK(f.primary.values.count("idle") == 1);
  CHECK(f.primary.read_by_scan.empty());  // Its idle clock was put back.
}

// Below, "meanwhile" runs inside a hook: the caller is stopped between two
// of its steps (as by SIGSTOP or a long GC pause) while another instance
// writes and demotes through the same tiers. No timing is involved.
struct TwoInstances : Fixture {
  TieredStore other{kType, &primary, &cold, Clock::Real(), &metrics, TieredStoreOptions()};
  void OtherWrites(const std::string& id, const std::string& title, int64_t* version) {
    std::vector<WriteIntent> intent = {{id, 0}};
    auto r = other.Write(
        intent, [&](size_t, int64_t v) { return Record(id, v, title); }, deadline);
    REQUIRE(r.ok());
    *version = r->versions[0];
  }
  void OtherDemotesEverything() {
    auto r = other.Demote(absl::ZeroDuration(), 0, deadline, NeverCancelled);
    REQUIRE(r.ok());
  }
  // "x" is cold at version 1; `pause` (a hook of ours) is where the other
  // instance writes "x" (acknowledged, version in `acked`) and demotes it.
  int64_t acked = 0;
  void ColdThenOtherWritesDuring(std::function<void()>* pause) {
    cold.rows["x"] = ColdRecord{Record("x", 1, "old"), 1};
    *pause = [this] {
      OtherWrites("x", "acknowledged", &acked);
      OtherDemotesEverything();
    };
  }
};

TEST_CASE("pause before write-back: a write and a demotion meanwhile win, the stale value is not promoted") {
  TwoInstances f;
  f.ColdThenOtherWritesDuring(&f.cold.after_multi_get);  // After our SELECT, before our write-back.
  const int64_t& acked = f.acked;
  auto values = f.store.Read({"x"}, f.deadline);
  REQUIRE(values.ok());
  CHECK(*(*values)[0] == Record("x", 1, "old"));  // What existed when the read began.
  CHECK(f.primary.values.count("x") == 0);        // The write-back was refused by the fence.
  CHECK(f.metrics.Get(Counter::promotions_skipped_total) == 1);
  auto now = f.store.Read({"x"}, f.deadline);
  REQUIRE(now.ok());
  CHECK(*(*now)[0] == Record("x", acked, "acknowledged"));
}

TEST_CASE("pause before compare-and-set of an absent id: the acknowledged write meanwhile is not overwritten") {
  TwoInstances f;
  f.ColdThenOtherWritesDuring(&f.primary.before_cas);
  const int64_t& acked = f.acked;
  SECTION("unconditional: retried on fresh state, versions keep growing") {
    std::vector<WriteIntent> intent = {{"x", 0}};
    auto r = f.store.Write(
        intent, [](size_t, int64_t v) { return Record("x", v, "mine"); }, f.deadline);
    REQUIRE(r.ok());
    CHECK(r->versions[0] == acked + 1);
    CHECK(f.primary.values.at("x") == Record("x", acked + 1, "mine"));
  }
  SECTION("conditional on the version it saw: conflict, nothing written") {
    std::vector<WriteIntent> intent = {{"x", 1}};
    auto r = f.store.Write(
        intent, [](size_t, int64_t v) { return Record("x", v, "mine"); }, f.deadline);
    REQUIRE(r.ok());
    REQUIRE(r->conflict.has_value());
    CHECK(r->conflict->stored == acked);
    auto now = f.store.Read({"x"}, f.deadline);
    REQUIRE(now.ok());
    CHECK(*(*now)[0] == Record("x", acked, "acknowledged"));
  }
}

TEST_CASE("pause before a delete's compare-and-set: the tombstone supersedes the write meanwhile") {
  TwoInstances f;
  f.ColdThenOtherWritesDuring(&f.primary.before_cas);
  const int64_t& acked = f.acked;
  auto deleted = f.store.Delete({"x"}, f.deadline);
  REQUIRE(deleted.ok());
  CHECK(*deleted == 1);
  CHECK(f.primary.values.at("x") == EncodeTombstone(acked + 1));
  f.OtherDemotesEverything();  // The tombstone goes cold over the acknowledged row.
  CHECK(f.cold.rows.at("x").payload == EncodeTombstone(acked + 1));
  auto now = f.store.Read({"x"}, f.deadline);
  REQUIRE(now.ok());
  CHECK_FALSE((*now)[0].has_value());
}

TEST_CASE("Redis behind MySQL (a failover lost demoted writes): demotion keeps Redis's value, nothing is lost") {
  Fixture f;
  // MySQL holds W at version 2 (written and demoted before a failover);
  // the new Redis master only has V at version 1.
  f.cold.rows["x"] = ColdRecord{Record("x", 2, "W"), 2};
  f.primary.values["x"] = Record("x", 1, "V");
  // A write on the new master is acknowledged at version 2 too.
  std::vector<WriteIntent> intent = {{"x", 0}};
  auto x = f.store.Write(
      intent, [](size_t, int64_t v) { return Record("x", v, "X"); }, f.deadline);
  REQUIRE(x.ok());
  CHECK(x->versions[0] == 2);
  f.primary.idle_seconds["x"] = 100;
  auto demoted = f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled);
  REQUIRE(demoted.ok());
  CHECK(demoted->demoted == 0);
  CHECK(demoted->cold_newer == 1);  // MySQL kept W: X stays in Redis.
  auto now = f.store.Read({"x"}, f.deadline);
  REQUIRE(now.ok());
  CHECK(*(*now)[0] == Record("x", 2, "X"));
  // The next write moves past both, and then demotes normally.
  auto next = f.store.Write(
      intent, [](size_t, int64_t v) { return Record("x", v, "X2"); }, f.deadline);
  REQUIRE(next.ok());
  CHECK(next->versions[0] == 3);
  REQUIRE(f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled)->demoted == 1);
  CHECK(f.cold.rows.at("x").payload == Record("x", 3, "X2"));
}

TEST_CASE("a corrupt Redis value: a write continues from MySQL's version, so it survives demotion") {
  Fixture f;
  f.primary.values["x"] = std::string("\xff\xff garbage", 10);
  f.cold.rows["x"] = ColdRecord{Record("x", 5, "stale copy"), 5};
  std::vector<WriteIntent> intent = {{"x", 0}};
  auto written = f.store.Write(
      intent, [](size_t, int64_t v) { return Record("x", v, "new"); }, f.deadline);
  REQUIRE(written.ok());
  CHECK(written->versions[0] == 6);
  f.primary.idle_seconds["x"] = 100;
  REQUIRE(f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled)->demoted == 1);
  auto now = f.store.Read({"x"}, f.deadline);
  REQUIRE(now.ok());
  CHECK(*(*now)[0] == Record("x", 6, "new"));
}

TEST_CASE("demotion with a limit reads only the records it moves") {
  Fixture f;
  for (const char* id : {"a", "b", "c", "d"}) {
    f.primary.values[id] = Record(id, 1);
    f.primary.idle_seconds[id] = 100;
  }
  auto result = f.store.Demote(absl::Seconds(10), 2, f.deadline, NeverCancelled);
  REQUIRE(result.ok());
  CHECK(result->demoted == 2);
  CHECK(f.primary.values.size() == 2);
  CHECK(f.primary.scan_values_read == 2);  // Only the two moved were read...
  CHECK(f.primary.read_by_scan.empty());   // ...so no kept key had its idle clock reset.
}

TEST_CASE("demotion batches by bytes and keeps records too large for one statement") {
  Fixture f;
  f.cold.max_record_bytes = 2500;
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("r", i);
    f.primary.values[id] = Record(id, 1, std::string(1000, 'x'));
    f.primary.idle_seconds[id] = 100;
  }
  f.primary.values["huge"] = Record("huge", 1, std::string(3000, 'x'));
  f.primary.idle_seconds["huge"] = 100;
  auto result = f.store.Demote(absl::Seconds(10), 0, f.deadline, NeverCancelled);
  REQUIRE(result.ok());
  CHECK(result->demoted == 6);
  CHECK(f.cold.put_calls == 3);  // Two ~1 KB records per 2.5 KB statement.
  CHECK(result->too_large == 1);
  CHECK(result->too_large_ids == std::vector<std::string>{"huge"});
  CHECK(f.primary.values.count("huge") == 1);
  CHECK(f.primary.read_by_scan.empty());  // The kept one's idle clock restored.
  CHECK(f.metrics.Get(Counter::demote_too_large_total) == 1);
}

TEST_CASE("demotion stops between batches when cancelled and restores what it did not move") {
  Fixture f;
  f.cold.max_record_bytes = 1200;
  for (int i = 0; i < 4; ++i) {
    const std::string id = absl::StrCat("r", i);
    f.primary.values[id] = Record(id, 1, std::string(1000, 'x'));
    f.primary.idle_seconds[id] = 100;
  }
  int polls = 0;
  auto result = f.store.Demote(absl::Seconds(10), 0, f.deadline, [&] { return ++polls > 2; });
  REQUIRE(absl::IsCancelled(result.status()));
  INFO(result.status().message());
  CHECK(absl::StrContains(result.status().message(), "demoted 1 records"));
  CHECK(f.primary.values.size() == 3);
  CHECK(f.primary.read_by_scan.empty());
}

TEST_CASE("a write with a request id is applied once, its retry answered from the record") {
  Fixture f;
  std::vector<WriteIntent> intent = {{"a", 0}};
  auto encode = [](size_t, int64_t v) { return Record("a", v, "once"); };
  WriteOnce once{"req-1", [] { return std::string("entry-1"); }};
  auto first = f.store.Write(intent, encode, f.deadline, &once);
  REQUIRE(first.ok());
  CHECK_FALSE(first->recorded.has_value());
  CHECK(f.primary.requests.at("req-1") == "entry-1");
  auto retry = f.store.Write(intent, encode, f.deadline, &once);
  REQUIRE(retry.ok());
  REQUIRE(retry->recorded.has_value());
  CHECK(*retry->recorded == "entry-1");
  CHECK(f.primary.values.at("a") == Record("a", 1, "once"));  // Not written twice.
  SECTION("a conditional retry that now conflicts with its own first write is a replay, not ABORTED") {
    std::vector<WriteIntent> stale = {{"a", 5}};
    auto again = f.store.Write(stale, encode, f.deadline, &once);
    REQUIRE(again.ok());
    CHECK(again->recorded.has_value());
  }
}

}  // namespace
}  // namespace catalog::storage
