// A TieredStore over the real redis-server and MariaDB of a test, as one
// catalog-server instance builds it, plus more "instances" (their own
// pools and tiers, as another process would have) over the same servers.
// Instance A's cold tier is wrapped so a test can stop A between two of its
// steps (a hook runs "during" the pause) or make MySQL writes fail.
// Integration tests only.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "catalog/v1/catalog.pb.h"
#include "storage/mysql/mysql_tier.h"
#include "storage/redis/redis_tier.h"
#include "storage/record_types.h"
#include "storage/tiering/tiered_store.h"
#include "tests/harness/harness.h"

namespace catalog::storage {

inline const RecordType& kType = ProductRecordType();

inline bool NeverCancelled() { return false; }

inline std::string Record(const std::string& id, int64_t version, const std::string& title, size_t size = 500) {
  catalog::v1::Product p;
  p.set_id(id);
  p.set_title(title);
  p.set_description(std::string(size, 'd'));
  p.set_version(version);
  return p.SerializeAsString();
}

inline catalog::v1::Product Parse(const std::string& value) {
  catalog::v1::Product p;
  REQUIRE(p.ParseFromString(value));
  return p;
}

inline std::vector<std::string> Ids(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat(prefix, i));
  return ids;
}

// The real cold tier with a pause point and a write fault.
class HookedColdTier : public ColdTier {
 public:
  explicit HookedColdTier(ColdTier* inner) : inner_(inner) {}
  // Runs once, after a MultiGet has its rows and before it returns them:
  // the caller is "paused" between its SELECT and its next Redis step.
  std::function<void()> after_multi_get;
  // Runs once at the start of a PutIfNewer (demotion's MySQL write).
  std::function<void()> before_put;
  absl::Status fail_put;

  absl::StatusOr<std::vector<std::optional<ColdRecord>>> MultiGet(absl::Span<const std::string> ids,
                                                                  absl::Time deadline) override {
    auto rows = inner_->MultiGet(ids, deadline);
    if (after_multi_get) std::exchange(after_multi_get, nullptr)();
    return rows;
  }
  absl::StatusOr<std::vector<bool>> PutIfNewer(absl::Span<const ColdWrite> records, absl::Time deadline,
                                               int64_t fencing_token) override {
    if (before_put) std::exchange(before_put, nullptr)();
    if (!fail_put.ok()) return fail_put;
    return inner_->PutIfNewer(records, deadline, fencing_token);
  }
  absl::StatusOr<int64_t> MaxRecordBytes(absl::Time deadline) override { return inner_->MaxRecordBytes(deadline); }

 private:
  ColdTier* const inner_;
};

// The serving account's options for `database` on 127.0.0.1:`port`.
inline MySqlOptions ServiceMySql(int port, const std::string& database) {
  MySqlOptions options;
  options.port = port;
  options.user = catalog::testing::kServiceUser;
  options.password = catalog::testing::kServicePassword;
  options.database = database;
  return options;
}

// One instance's pools, tiers and store.
struct Instance {
  Metrics metrics;
  RedisOptions redis_options;
  MySqlOptions mysql_options;
  std::unique_ptr<RedisPool> pool;
  std::unique_ptr<RedisTier> redis_tier;
  std::unique_ptr<MySqlTier> mysql_tier;
  std::unique_ptr<HookedColdTier> cold;
  std::unique_ptr<TieredStore> store;

  Instance(int redis_port, int mysql_port, const std::string& database,
           absl::Duration max_operation_time = absl::Seconds(5)) {
    redis_options.port = redis_port;
    mysql_options = ServiceMySql(mysql_port, database);
    pool = std::make_unique<RedisPool>(redis_options, &metrics);
    redis_tier = std::make_unique<RedisTier>(pool.get(), kType, &metrics);
    mysql_tier = std::make_unique<MySqlTier>(mysql_options, kType, &metrics);
    REQUIRE(mysql_tier->CheckSchema(Later()).ok());
    cold = std::make_unique<HookedColdTier>(mysql_tier.get());
    TieredStoreOptions options;
    options.max_operation_time = max_operation_time;
    store = std::make_unique<TieredStore>(kType, redis_tier.get(), cold.get(), Clock::Real(), &metrics, options);
  }
  static absl::Time Later() { return absl::Now() + absl::Seconds(10); }

  // Unconditional upsert of `ids`, all titled `title`; returns the versions.
  std::vector<int64_t> Put(const std::vector<std::string>& ids, const std::string& title, size_t size = 500) {
    std::vector<WriteIntent> intents;
    for (const std::string& id : ids) intents.push_back({id, 0});
    auto result = store->Write(
        intents, [&](size_t i, int64_t v) { return Record(ids[i], v, title, size); }, Later());
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    REQUIRE_FALSE(result->conflict.has_value());
    return result->versions;
  }
  DemoteResult DemoteAll() {
    auto result = store->Demote(absl::ZeroDuration(), 0, Later(), NeverCancelled);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    return *result;
  }
};

struct Servers {
  catalog::testing::RedisServer redis;
  catalog::testing::SharedMySql mysql;
};

// The servers (constructed first), and instance A over them.
struct Stack : Servers, Instance {
  explicit Stack(absl::Duration max_operation_time = absl::Seconds(5))
      : Instance(redis.port(), mysql.port(), mysql.database(), max_operation_time) {}
  // A second instance over the same servers.
  std::unique_ptr<Instance> Other() { return std::make_unique<Instance>(redis.port(), mysql.port(), mysql.database()); }

  void InsertCold(const std::string& id, int64_t version, const std::string& title) {
    mysql.client().Execute(absl::StrCat("INSERT INTO products (id, payload, version) VALUES ('", id, "', X'",
                                        absl::BytesToHexString(Record(id, version, title)), "', ", version, ")"));
  }
};

}  // namespace catalog::storage
