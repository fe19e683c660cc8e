#include "storage/tiered_store.h"

#include <catch2/catch.hpp>

#include "catalog/v1/catalog.pb.h"
#include "storage/fake_tiers.h"

namespace catalog::storage {
namespace {

const RecordType kType{"product:", "products", catalog::v1::Product::kVersionFieldNumber};

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
  f.primary.values["x"] = Record("x", 4);  // Already newer in Redis: AddIfAbsent must not replace it.
  std::vector<IdValue> entries = {{"x", Record("x", 3)}};
  auto stored = f.primary.AddIfAbsent(entries, f.deadline);
  REQUIRE(stored.ok());
  CHECK_FALSE((*stored)[0]);
  CHECK(f.primary.values["x"] == Record("x", 4));
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
  std::vector<IdValue> late = {{"cold", Record("cold", 5)}};
  CHECK_FALSE((*f.primary.AddIfAbsent(late, f.deadline))[0]);
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

  CHECK(absl::IsInvalidArgument(f.store.Demote(absl::Seconds(2), 0, f.deadline).status()));

  auto result = f.store.Demote(absl::Seconds(10), 0, f.deadline);
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
  CHECK(absl::IsUnavailable(f.store.Demote(absl::Seconds(10), 0, f.deadline).status()));
  CHECK(f.primary.values.count("idle") == 1);
}

}  // namespace
}  // namespace catalog::storage
