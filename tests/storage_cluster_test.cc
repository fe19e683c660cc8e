// TieredStore over a real Redis Cluster (3 masters, 3 replicas) and
// MariaDB, as catalog-server builds it for a `cluster {}` deployment:
// batches across every master, demotion and promotion, deletes, indexes,
// views, the demotion lock's fence between two instances, and the
// configuration monitor over every master. Claims are counted on the
// servers (INFO commandstats, Com_select).
#include <catch2/catch.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "storage/fence.h"
#include "storage/mysql/mysql_tier.h"
#include "storage/redis/cluster.h"
#include "storage/redis/cluster_tier.h"
#include "storage/redis/redis_monitor.h"
#include "storage/tiering/tiered_store.h"
#include "tests/harness/harness.h"
#include "tests/harness/storage_stack.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisClusterProcesses;
using catalog::testing::SharedMySql;

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

// One instance's cluster client, tiers and store.
struct ClusterInstance {
  Metrics metrics;
  std::unique_ptr<RedisCluster> cluster;
  std::unique_ptr<ClusterTier> tier;
  std::unique_ptr<MySqlTier> mysql_tier;
  std::unique_ptr<HookedColdTier> cold;
  std::unique_ptr<TieredStore> store;

  ClusterInstance(int seed_port, int mysql_port, const std::string& database) {
    ClusterOptions options;
    options.seeds = {HostPort{"127.0.0.1", seed_port}};
    cluster = std::make_unique<RedisCluster>(options, &metrics);
    REQUIRE(cluster->Refresh(Later()).ok());
    tier = std::make_unique<ClusterTier>(cluster.get(), kType, &metrics);
    mysql_tier = std::make_unique<MySqlTier>(ServiceMySql(mysql_port, database), kType, &metrics);
    REQUIRE(mysql_tier->CheckSchema(Later()).ok());
    cold = std::make_unique<HookedColdTier>(mysql_tier.get());
    TieredStoreOptions store_options;
    store_options.max_operation_time = absl::Seconds(5);
    store = std::make_unique<TieredStore>(kType, tier.get(), cold.get(), Clock::Real(), &metrics, store_options);
  }

  std::vector<int64_t> Put(const std::vector<std::string>& ids, const std::string& title) {
    std::vector<WriteIntent> intents;
    for (const std::string& id : ids) intents.push_back({id, 0});
    auto result = store->Write(
        intents, [&](size_t i, int64_t v) { return Record(ids[i], v, title); }, Later());
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    REQUIRE_FALSE(result->conflict.has_value());
    return result->versions;
  }
};

struct ClusterStack {
  RedisClusterProcesses redis;
  SharedMySql mysql;
  ClusterInstance a{redis.nodes[0]->port(), mysql.port(), mysql.database()};

  std::unique_ptr<ClusterInstance> Other() {
    return std::make_unique<ClusterInstance>(redis.nodes[1]->port(), mysql.port(), mysql.database());
  }
  // Calls of `command` on the three masters, and how many masters had any.
  std::pair<long long, int> Calls(const std::string& command) {
    long long total = 0;
    int masters = 0;
    for (size_t i = 0; i < 3; ++i) {
      const long long n = redis.nodes[i]->CommandCalls(command);
      total += n;
      masters += n > 0 ? 1 : 0;
    }
    return {total, masters};
  }
  void ResetStats() {
    for (size_t i = 0; i < 3; ++i) redis.nodes[i]->ResetStats();
  }
  // Record keys on all masters.
  long long RecordKeys() {
    long long n = 0;
    for (size_t i = 0; i < 3; ++i) {
      auto reply = redis.nodes[i]->Command({"KEYS", kType.key_prefix + "*"});
      n += static_cast<long long>(reply->elements);
    }
    return n;
  }
};

TEST_CASE("cluster store: a batch across every master is read with per-slot MGETs, demoted, promoted and deleted") {
  ClusterStack s;
  const std::vector<std::string> ids = Ids("p", 100);
  std::set<uint16_t> slots;
  std::set<std::string> owners;
  for (const std::string& id : ids) {
    slots.insert(KeySlot(kType.key_prefix + id));
    owners.insert(s.a.cluster->OwnerOf(KeySlot(kType.key_prefix + id)));
  }
  REQUIRE(owners.size() == 3);
  const std::vector<int64_t> versions = s.a.Put(ids, "v1");
  CHECK(versions == std::vector<int64_t>(100, 1));
  CHECK(s.RecordKeys() == 100);

  // An all-hot read: one MGET per slot (every master at once), no SQL.
  s.ResetStats();
  const long long selects = s.mysql.client().ComSelect();
  auto values = s.a.store->Read(ids, Later());
  REQUIRE(values.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(Parse(*(*values)[i]).id() == ids[i]);
  CHECK(s.Calls("mget") == std::pair<long long, int>{static_cast<long long>(slots.size()), 3});
  CHECK(s.mysql.client().ComSelect() == selects);

  // Demotion scans every master: everything moves to MySQL.
  auto demoted = s.a.store->Demote(absl::ZeroDuration(), 0, Later(), NeverCancelled);
  INFO(demoted.status().ToString());
  REQUIRE(demoted.ok());
  CHECK(demoted->demoted == 100);
  CHECK(s.RecordKeys() == 0);
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 100);

  // A cold read: the fences, one SELECT, then write-backs; hot again.
  const long long before = s.mysql.client().ComSelect();
  values = s.a.store->Read(ids, Later());
  REQUIRE(values.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(Parse(*(*values)[i]).title() == "v1");
  CHECK(s.mysql.client().ComSelect() - before == 1);
  CHECK(s.RecordKeys() == 100);

  // Versions continue; a stale expectation anywhere changes nothing.
  CHECK(s.a.Put({"p0", "p1", "p2"}, "v2") == std::vector<int64_t>{2, 2, 2});
  std::vector<WriteIntent> stale = {{"p3", 1}, {"p0", 1}};
  auto conflict = s.a.store->Write(
      stale, [&](size_t i, int64_t v) { return Record(stale[i].id, v, "never"); }, Later());
  REQUIRE(conflict.ok());
  REQUIRE(conflict->conflict.has_value());
  CHECK(conflict->conflict->index == 1);
  values = s.a.store->Read({"p3"}, Later());
  CHECK(Parse(*(*values)[0]).title() == "v1");

  // Deletes across masters; a deleted id stays deleted through demotion.
  const std::vector<std::string> gone(ids.begin(), ids.begin() + 30);
  auto deleted = s.a.store->Delete(gone, Later());
  REQUIRE(deleted.ok());
  CHECK(*deleted == 30);
  demoted = s.a.store->Demote(absl::ZeroDuration(), 0, Later(), NeverCancelled);
  REQUIRE(demoted.ok());
  CHECK(demoted->tombstones_demoted == 30);
  values = s.a.store->Read(ids, Later());
  REQUIRE(values.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK((*values)[i].has_value() == (i >= 30));

  // Nothing of the transactions is left behind.
  for (size_t i = 0; i < 3; ++i) {
    CHECK(s.redis.nodes[i]->Command({"KEYS", kType.txn_prefix + "*"})->elements == 0);
  }
}

TEST_CASE("cluster store: indexes and views on a cluster") {
  ClusterStack s;
  ClusterTier& tier = *s.a.tier;
  std::vector<IndexEntry> entries;
  for (int i = 0; i < 20; ++i) entries.push_back({i % 2 == 0 ? "category:a" : "category:b", absl::StrCat("i", 10 + i)});
  REQUIRE(tier.IndexAdd(entries, Later()).ok());
  auto page = tier.IndexRange("category:a", "", 5, Later());
  REQUIRE(page.ok());
  CHECK(*page == std::vector<std::string>{"i10", "i12", "i14", "i16", "i18"});
  page = tier.IndexRange("category:a", "i18", 100, Later());
  REQUIRE(page.ok());
  CHECK(page->size() == 5);

  const std::vector<std::string> ids = Ids("v", 30);
  auto lookup = tier.LookupViews(ids, "de", Later());
  REQUIRE(lookup.ok());
  for (const MaybeValue& view : lookup->views) CHECK_FALSE(view.has_value());
  std::vector<ViewFill> fills;
  for (size_t i = 0; i < ids.size(); ++i) fills.push_back({ids[i], lookup->fences[i], "view-" + ids[i]});
  REQUIRE(tier.FillViews(fills, "de", Later()).ok());
  lookup = tier.LookupViews(ids, "de", Later());
  REQUIRE(lookup.ok());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(lookup->views[i] == "view-" + ids[i]);
  // An invalidation between a lookup and its fill refuses the fill.
  std::vector<std::string> first_ten(ids.begin(), ids.begin() + 10);
  auto missed = tier.LookupViews(first_ten, "fr", Later());
  REQUIRE(missed.ok());
  REQUIRE(tier.InvalidateViews(first_ten, "", Later()).ok());
  std::vector<ViewFill> late;
  for (size_t i = 0; i < first_ten.size(); ++i) late.push_back({first_ten[i], missed->fences[i], "old"});
  REQUIRE(tier.FillViews(late, "fr", Later()).ok());
  lookup = tier.LookupViews(ids, "fr", Later());
  REQUIRE(lookup.ok());
  for (const MaybeValue& view : lookup->views) CHECK_FALSE(view.has_value());
  lookup = tier.LookupViews(ids, "de", Later());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(lookup->views[i].has_value() == (i >= 10));
}

TEST_CASE("cluster store: a demoter that lost the lock while paused writes nothing to MySQL") {
  ClusterStack s;
  std::unique_ptr<ClusterInstance> b = s.Other();
  s.a.Put(Ids("a", 20), "from-a");

  auto grant_a = s.a.store->AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  REQUIRE(grant_a.ok());
  REQUIRE(grant_a->held);
  auto refused = b->store->AcquireDemotionLock("b", absl::Seconds(30), 0, Later());
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->held);
  CHECK(refused->holder == "a");
  // A's last renewal: 1 ms (the same token), so it lapses while A is paused.
  auto renewed = s.a.store->AcquireDemotionLock("a", absl::Milliseconds(1), 0, Later());
  REQUIRE(renewed.ok());
  REQUIRE(renewed->token == grant_a->token);
  // A is paused just before its MySQL write, past its ttl; B takes the
  // lock meanwhile (a greater token) and demotes.
  absl::StatusOr<DemoteResult> b_result;
  s.a.cold->before_put = [&] {
    absl::StatusOr<LockGrant> grant_b;
    for (int tries = 0;; ++tries) {  // Until A's holding has lapsed by Redis's clock.
      grant_b = b->store->AcquireDemotionLock("b", absl::Seconds(30), 0, Later());
      REQUIRE(grant_b.ok());
      if (grant_b->held) break;
      REQUIRE(tries < 1000);
      absl::SleepFor(absl::Milliseconds(1));
    }
    CHECK(grant_b->token > grant_a->token);
    s.a.Put({"a0"}, "newer");  // Written after A's scan read "from-a".
    b_result = b->store->Demote(absl::ZeroDuration(), 0, Later(), NeverCancelled, grant_b->token);
  };
  auto a_result = s.a.store->Demote(absl::ZeroDuration(), 0, Later(), NeverCancelled, grant_a->token);
  INFO(a_result.status().ToString());
  CHECK(absl::IsFailedPrecondition(a_result.status()));
  REQUIRE(b_result.ok());
  CHECK(b_result->demoted == 20);
  // MySQL holds B's demotion: a0 at its newer version, nothing of A's.
  CHECK(s.mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 20);
  CHECK(s.mysql.client().QueryInt("SELECT version FROM products WHERE id = 'a0'") == 2);
  auto values = s.a.store->Read({"a0", "a1"}, Later());
  REQUIRE(values.ok());
  CHECK(Parse(*(*values)[0]).title() == "newer");
  CHECK(Parse(*(*values)[1]).title() == "from-a");
}

TEST_CASE("cluster store: the monitor checks every master's policy and sums their keys") {
  ClusterStack s;
  s.a.Put(Ids("m", 60), "x");
  RedisMonitor monitor(s.a.cluster.get(), &s.a.metrics, /*gauges=*/true);
  REQUIRE(monitor.CheckOnce(Later()).ok());
  CHECK(s.a.metrics.Get(Gauge::redis_maxmemory_policy_ok) == 1);
  CHECK(s.a.metrics.Get(Gauge::redis_keys) >= 60);
  // One master evicting records is enough to refuse.
  REQUIRE(s.redis.nodes[2]->Command({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"})->type ==
          REDIS_REPLY_STATUS);
  const absl::Status unsafe = monitor.CheckOnce(Later());
  CHECK(absl::IsFailedPrecondition(unsafe));
  CHECK(unsafe.message().find(absl::StrCat("127.0.0.1:", s.redis.nodes[2]->port())) != absl::string_view::npos);
  CHECK(unsafe.message().find("allkeys-lru") != absl::string_view::npos);
  CHECK(s.a.metrics.Get(Gauge::redis_maxmemory_policy_ok) == 0);
  // A master that does not answer (killed; still in the slot map until its
  // replica takes over) does not hide the unsafe one.
  s.redis.nodes[1]->Stop();
  const absl::Status still = monitor.CheckOnce(Later());
  INFO(still.ToString());
  CHECK(absl::IsFailedPrecondition(still));
  CHECK(still.message().find("allkeys-lru") != absl::string_view::npos);
}

}  // namespace
}  // namespace catalog::storage
