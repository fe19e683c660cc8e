// MySqlTier against the real MariaDB of tools/test.
#include "storage/mysql/mysql_tier.h"

#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "storage/record_types.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

struct Cold {
  catalog::testing::SharedMySql mysql;
  Metrics metrics;
  MySqlOptions options;
  std::unique_ptr<MySqlTier> tier;

  Cold() {
    options.port = mysql.port();
    options.user = catalog::testing::kServiceUser;
    options.password = catalog::testing::kServicePassword;
    options.database = mysql.database();
    tier = std::make_unique<MySqlTier>(options, ProductRecordType(), &metrics);
    REQUIRE(tier->CheckSchema(Later()).ok());  // Migrated by SharedMySql; rows only from here.
  }
  static absl::Time Later() { return absl::Now() + absl::Seconds(10); }
};

TEST_CASE("the cold tier is binary-safe and never replaces a newer row") {
  Cold s;
  std::string payload;
  for (int c = 0; c < 256; ++c) payload.push_back(static_cast<char>(c));
  std::vector<ColdWrite> writes = {{"bin", payload, 5}};
  REQUIRE(s.tier->PutIfNewer(writes, Cold::Later(), 0).ok());
  std::vector<ColdWrite> older = {{"bin", "older", 4}};
  auto held = s.tier->PutIfNewer(older, Cold::Later(), 0);
  REQUIRE(held.ok());
  CHECK_FALSE((*held)[0]);  // MySQL holds a newer version, not this one.
  auto rows = s.tier->MultiGet({"bin", "none"}, Cold::Later());
  REQUIRE(rows.ok());
  REQUIRE((*rows)[0].has_value());
  CHECK((*rows)[0]->payload == payload);
  CHECK((*rows)[0]->version == 5);
  CHECK_FALSE((*rows)[1].has_value());
  std::vector<ColdWrite> newer = {{"bin", "newer", 6}};
  REQUIRE(s.tier->PutIfNewer(newer, Cold::Later(), 0).ok());
  CHECK((*s.tier->MultiGet({"bin"}, Cold::Later()))[0]->payload == "newer");
}

TEST_CASE("the cold tier knows how large a record one statement carries") {
  Cold s;
  auto max = s.tier->MaxRecordBytes(Cold::Later());
  REQUIRE(max.ok());
  const long long packet = s.mysql.client().QueryInt("SELECT @@max_allowed_packet");
  CHECK(*max > 0);
  CHECK(*max < packet / 2);  // Hex literals double every byte.
}

}  // namespace
}  // namespace catalog::storage
