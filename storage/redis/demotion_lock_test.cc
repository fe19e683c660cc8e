// The demotion lock script against a real redis-server.
#include <catch2/catch.hpp>

#include "absl/time/clock.h"
#include "storage/record_types.h"
#include "storage/redis/redis_connection.h"
#include "storage/redis/redis_tier.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

// A redis-server and the primary tier over it.
struct Tier {
  catalog::testing::RedisServer server;
  Metrics metrics;
  RedisOptions options = [this] {
    RedisOptions o;
    o.port = server.port();
    return o;
  }();
  RedisPool pool{options, &metrics};
  RedisTier tier{&pool, ProductRecordType(), &metrics};
};

TEST_CASE("demotion lock: one holder, renewals keep the token, others see the holder, tokens only grow") {
  Tier t;
  auto& [server, metrics, options, pool, tier] = t;

  auto a = tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  REQUIRE(a.ok());
  CHECK(a->held);
  CHECK(a->token == 1);
  // No Redis TTL: under volatile-lru it would be evicted first when full.
  CHECK(server.Command({"TTL", "product-demotion-lock"})->integer == -1);
  auto b = tier.AcquireDemotionLock("b", absl::Seconds(30), 0, Later());
  REQUIRE(b.ok());
  CHECK_FALSE(b->held);
  CHECK(b->holder == "a");
  auto renewed = tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  REQUIRE(renewed.ok());
  CHECK(renewed->held);
  CHECK(renewed->token == 1);

  // Only the holder releases it.
  REQUIRE(tier.ReleaseDemotionLock("b", Later()).ok());
  CHECK_FALSE(tier.AcquireDemotionLock("b", absl::Seconds(30), 0, Later())->held);
  REQUIRE(tier.ReleaseDemotionLock("a", Later()).ok());
  b = tier.AcquireDemotionLock("b", absl::Milliseconds(200), 0, Later());
  REQUIRE(b.ok());
  CHECK(b->held);
  CHECK(b->token == 2);

  // A holder that stops renewing loses it after its ttl, by Redis's clock.
  absl::SleepFor(absl::Milliseconds(400));
  a = tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  REQUIRE(a.ok());
  CHECK(a->held);
  CHECK(a->token == 3);
  auto late = tier.AcquireDemotionLock("b", absl::Seconds(30), 0, Later());
  CHECK_FALSE(late->held);
  CHECK(late->holder == "a");

  // A floor above the counter (MySQL saw a newer token than Redis now
  // remembers: a failover lost increments) lifts the next token past it.
  REQUIRE(tier.ReleaseDemotionLock("a", Later()).ok());
  auto lifted = tier.AcquireDemotionLock("a", absl::Seconds(30), 10, Later());
  REQUIRE(lifted.ok());
  CHECK(lifted->token == 11);
  // A holder name that is a prefix of another's does not release it.
  REQUIRE(tier.ReleaseDemotionLock("", Later()).ok());
  CHECK(tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later())->held);
}

TEST_CASE("demotion lock: taken when Redis is full (demotion is what frees memory)") {
  Tier t;
  auto& [server, metrics, options, pool, tier] = t;
  server.Command({"SET", "filler", std::string(2 << 20, 'x')});
  server.Command({"CONFIG", "SET", "maxmemory", "1mb"});
  auto refused = server.Command({"SET", "more", "x"});
  REQUIRE(refused->type == REDIS_REPLY_ERROR);  // Full: plain writes are refused.
  auto grant = tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  INFO(grant.status().ToString());
  REQUIRE(grant.ok());
  CHECK(grant->held);
  // Renewed while full, and still there (not evicted).
  auto renewed = tier.AcquireDemotionLock("a", absl::Seconds(30), 0, Later());
  REQUIRE(renewed.ok());
  CHECK(renewed->held);
  CHECK(renewed->token == grant->token);
}

}  // namespace
}  // namespace catalog::storage
