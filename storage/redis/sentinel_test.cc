// Master discovery and failover through real redis-sentinel processes, the
// ROLE check, and WAIT durability, against real redis-server masters and
// replicas.
#include "storage/redis/sentinel.h"

#include <hiredis/hiredis.h>
#include <signal.h>

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "storage/record_types.h"
#include "storage/redis/redis_async.h"
#include "storage/redis/redis_connection.h"
#include "storage/redis/redis_tier.h"
#include "storage/redis/replica_endpoint.h"
#include "tests/harness/harness.h"

namespace catalog::storage {
namespace {

using catalog::testing::RedisServer;
using catalog::testing::SentinelDeployment;

absl::Time Later() { return absl::Now() + absl::Seconds(10); }

// One command through the async client: the reply as text, or the error.
absl::StatusOr<std::string> AsyncCommand(AsyncRedis& redis, RedisCommand command) {
  absl::Notification done;
  absl::StatusOr<std::string> out = absl::UnknownError("no reply");
  redis.Send(std::move(command), Later(), [&](absl::StatusOr<const redisReply*> reply) {
    if (!reply.ok()) {
      out = reply.status();
    } else if ((*reply)->type == REDIS_REPLY_ARRAY && (*reply)->elements == 1 &&
               (*reply)->element[0]->type == REDIS_REPLY_STRING) {
      out = std::string((*reply)->element[0]->str, (*reply)->element[0]->len);
    } else {
      out = (*reply)->str != nullptr ? std::string((*reply)->str, (*reply)->len) : "";
    }
    done.Notify();
  });
  REQUIRE(done.WaitForNotificationWithTimeout(absl::Seconds(20)));
  return out;
}

std::string Get(RedisServer& server, const std::string& key) {
  auto reply = server.Command({"GET", key});
  return reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len) : "(nil)";
}

SentinelOptions OptionsFor(const SentinelDeployment& deployment) {
  SentinelOptions options;
  options.sentinels = *ParseHostPorts(deployment.SentinelList());
  options.master_name = SentinelDeployment::kName;
  return options;
}

TEST_CASE("sentinel: the master is found, followed across a failover, and the old one gets nothing more") {
  SentinelDeployment deployment;
  Metrics metrics;
  const SentinelOptions options = OptionsFor(deployment);
  SentinelEndpoint endpoint(options, &metrics);
  REQUIRE(endpoint.Current().port == deployment.master->port());
  const uint64_t first_epoch = endpoint.epoch();
  CHECK(first_epoch >= 1);

  RedisOptions redis_options;
  RedisPool pool(redis_options, &metrics, &endpoint);
  AsyncRedisOptions async_options;
  async_options.endpoint = &endpoint;
  AsyncRedis async(async_options);
  auto set = pool.RoundTrip({{"SET", "k", "before"}}, Later(), /*idempotent=*/false);
  REQUIRE(set.ok());
  REQUIRE(AsyncCommand(async, {"MGET", "k"}).value() == "before");  // Opens the async connection.
  catalog::testing::WaitUntilReplicating(*deployment.replica);

  // A failover the sentinels carry out (promote the replica, demote the
  // master); the pool and the async loop each hold a connection to the old
  // master meanwhile.
  {
    redisContext* c = redisConnect("127.0.0.1", deployment.sentinels[0]->port());
    REQUIRE(c != nullptr);
    auto* reply = static_cast<redisReply*>(redisCommand(c, "SENTINEL FAILOVER %s", SentinelDeployment::kName));
    REQUIRE(reply != nullptr);
    INFO(std::string(reply->str != nullptr ? reply->str : ""));
    REQUIRE(reply->type == REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    redisFree(c);
  }
  REQUIRE(deployment.WaitForMaster(deployment.replica->port(), absl::Seconds(30)));
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (endpoint.Current().port != deployment.replica->port() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  REQUIRE(endpoint.Current().port == deployment.replica->port());
  CHECK(endpoint.epoch() > first_epoch);
  CHECK(metrics.Get(Counter::redis_master_changes_total) >= 2);

  // Both clients now write and read on the new master only.
  set = pool.RoundTrip({{"SET", "k", "after"}}, Later(), /*idempotent=*/false);
  REQUIRE(set.ok());
  INFO(((*set)[0]->str != nullptr ? std::string((*set)[0]->str, (*set)[0]->len) : ""));
  CHECK((*set)[0]->type == REDIS_REPLY_STATUS);  // OK, not READONLY.
  CHECK(Get(*deployment.replica, "k") == "after");
  CHECK(AsyncCommand(async, {"MGET", "k"}).value() == "after");
}

TEST_CASE("replica endpoint: names the in-sync replica, reads go there only, a master or a dead replica is refused") {
  SentinelDeployment deployment;
  Metrics metrics;
  const SentinelOptions options = OptionsFor(deployment);
  SentinelEndpoint master(options, &metrics);
  REQUIRE(master.Current().port == deployment.master->port());
  // It looks again only when told to here (Refresh), or when the master
  // moves: what changes below is not its poll's doing.
  SentinelOptions replica_options = options;
  replica_options.poll_interval = absl::Hours(1);
  ReplicaEndpoint replica(replica_options, &master, &metrics);
  REQUIRE(replica.Current().port == deployment.replica->port());
  const uint64_t first_epoch = replica.epoch();
  CHECK(first_epoch >= 1);

  // ROLE as each server answers it: only the replica of this master passes.
  CHECK(replica.AcceptRole(deployment.replica->Command({"ROLE"}).get()));
  CHECK_FALSE(replica.AcceptRole(deployment.master->Command({"ROLE"}).get()));
  CHECK(master.AcceptRole(deployment.master->Command({"ROLE"}).get()));

  // Reads through it reach the replica, not the master.
  REQUIRE(deployment.master->Command({"SET", "k", "v"})->type == REDIS_REPLY_STATUS);
  REQUIRE(deployment.master->Command({"WAIT", "1", "5000"})->integer == 1);
  deployment.master->ResetStats();
  deployment.replica->ResetStats();
  AsyncRedisOptions async_options;
  async_options.endpoint = &replica;
  AsyncRedis async(async_options);
  CHECK(AsyncCommand(async, {"MGET", "k"}).value() == "v");
  CHECK(deployment.replica->CommandCalls("mget") == 1);
  CHECK(deployment.master->CommandCalls("mget") == 0);

  // The replica dies: the next look finds none (its own ROLE cannot be
  // had, whatever the sentinels still say), a new epoch; reads fail at
  // once instead of hanging (the tier then reads the master).
  deployment.replica->Stop();
  replica.Refresh();
  CHECK(replica.Current().host.empty());
  CHECK(replica.epoch() > first_epoch);
  CHECK_FALSE(AsyncCommand(async, {"MGET", "k"}).ok());
  CHECK(metrics.Get(Counter::redis_replica_changes_total) >= 2);

  // Back (empty, resyncing or in sync): used again only once it is a
  // connected replica of this master.
  deployment.replica->Start();
  catalog::testing::WaitUntilReplicating(*deployment.replica);
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (replica.Current().port != deployment.replica->port()) {
    REQUIRE(absl::Now() < until);
    absl::SleepFor(absl::Milliseconds(100));
    replica.Refresh();
  }
  CHECK(AsyncCommand(async, {"MGET", "k"}).value() == "v");

  // A failover while the replica connection is open: the replica is let go
  // the moment the master endpoint moves (not at the next look), so no
  // opted-in read goes on as if it were still a replica of the old master.
  const uint64_t before_failover = replica.epoch();
  REQUIRE(deployment.sentinels[0]->Failover(SentinelDeployment::kName) == "OK");
  while (master.Current().port != deployment.replica->port()) {
    REQUIRE(absl::Now() < until + absl::Seconds(30));
    absl::SleepFor(absl::Milliseconds(10));
  }
  while (replica.epoch() == before_failover) {  // The listener runs just after the move.
    REQUIRE(absl::Now() < until + absl::Seconds(30));
    absl::SleepFor(absl::Milliseconds(10));
  }
  CHECK(replica.Current().host.empty());
  deployment.replica->ResetStats();
  auto after = AsyncCommand(async, {"MGET", "k"});  // No replica yet: fails (the tier then reads the master).
  CHECK_FALSE(after.ok());
  CHECK(deployment.replica->CommandCalls("mget") == 0);
}

// Not the service: the deployment rule README (Failover) gives operators,
// shown on real processes with the variant without it beside it. An old
// master without persistence comes back empty; until its first sync from
// the new master is done, promoting it would make the new master resync
// from it and drop everything (a second failover did exactly that in one
// run of tests/e2e_failover_test.cc). Rejoining with replica-priority 0
// keeps the sentinels from choosing it.
TEST_CASE("sentinel: an old master rejoining empty with replica-priority 0 is never promoted before its first sync") {
  SentinelDeployment deployment;
  auto& sentinel = *deployment.sentinels[0];
  const int old_port = deployment.master->port(), new_port = deployment.replica->port();
  REQUIRE(deployment.master->Command({"SET", "acknowledged", "yes"})->type == REDIS_REPLY_STATUS);
  REQUIRE(deployment.master->Command({"WAIT", "1", "5000"})->integer == 1);
  deployment.master->Stop();  // SIGKILL: no persistence, it comes back empty.
  REQUIRE(deployment.WaitForMaster(new_port, absl::Seconds(60)));
  // Its first sync stays pending for a while: the new master delays the
  // transfer (diskless sync waits for more replicas).
  REQUIRE(deployment.replica->Command({"CONFIG", "SET", "repl-diskless-sync-delay", "60"})->type ==
          REDIS_REPLY_STATUS);
  deployment.master->Start({"--replicaof", "127.0.0.1", std::to_string(new_port), "--replica-priority", "0"});
  // Replicas' INFO every second instead of every 10 s (Redis 7.0's
  // SENTINEL DEBUG), so the priority changes are seen sooner.
  for (auto& s : deployment.sentinels) REQUIRE(s->Command({"SENTINEL", "DEBUG", "info-period", "1000"}) == "OK");
  auto wait_for_priority = [&](const std::string& priority) {
    const absl::Time until = absl::Now() + absl::Seconds(40);
    while (sentinel.ReplicaField(SentinelDeployment::kName, old_port, "slave-priority") != priority ||
           absl::StrContains(sentinel.ReplicaField(SentinelDeployment::kName, old_port, "flags"), "disconnected")) {
      REQUIRE(absl::Now() < until);
      absl::SleepFor(absl::Milliseconds(100));
    }
  };
  wait_for_priority("0");
  CHECK(deployment.master->Command({"DBSIZE"})->integer == 0);
  CHECK(absl::StartsWith(sentinel.Failover(SentinelDeployment::kName), "NOGOODSLAVE"));
  CHECK(Get(*deployment.replica, "acknowledged") == "yes");
  CHECK(deployment.Failovers() == 1);

  // Without it: the same empty replica is promoted and the data is gone.
  REQUIRE(deployment.master->Command({"CONFIG", "SET", "replica-priority", "100"})->type == REDIS_REPLY_STATUS);
  wait_for_priority("100");
  CHECK(deployment.master->Command({"DBSIZE"})->integer == 0);
  CHECK(sentinel.Failover(SentinelDeployment::kName) == "OK");
  REQUIRE(deployment.WaitForMaster(old_port, absl::Seconds(60)));
  const absl::Time until = absl::Now() + absl::Seconds(60);
  while (Get(*deployment.replica, "acknowledged") == "yes") {
    REQUIRE(absl::Now() < until);
    absl::SleepFor(absl::Milliseconds(100));
  }
  CHECK(deployment.replica->Role() == "slave");
  CHECK(Get(*deployment.replica, "acknowledged") == "(nil)");
}

// Names one fixed server and asks for the ROLE check, as a sentinel that
// reports a replica would (a sentinel cannot be made to do that on demand).
class FixedEndpoint : public RedisEndpoint {
 public:
  explicit FixedEndpoint(int port) : address_{"127.0.0.1", port, 1} { epoch_ = 1; }
  RedisAddress Current() const override { return address_; }
  void Suspect(uint64_t) override { ++suspected; }
  bool verify_role() const override { return true; }
  std::string name() const override { return "fixed"; }
  std::atomic<int> suspected{0};

 private:
  RedisAddress address_;
};

// Moves between two masters on demand: the epoch change alone (both stay
// masters, nobody kills connections) must move every client.
class SwitchableEndpoint : public RedisEndpoint {
 public:
  explicit SwitchableEndpoint(int port) { MoveTo(port); }
  void MoveTo(int port) {
    absl::MutexLock lock(&mu_);
    address_ = RedisAddress{"127.0.0.1", port, address_.epoch + 1};
    epoch_.store(address_.epoch, std::memory_order_release);
  }
  RedisAddress Current() const override {
    absl::MutexLock lock(&mu_);
    return address_;
  }
  bool verify_role() const override { return true; }
  std::string name() const override { return "switchable"; }

 private:
  mutable absl::Mutex mu_;
  RedisAddress address_;
};

TEST_CASE("sentinel: once the master moves, pooled and async connections to the old one get no more commands") {
  RedisServer old_master, new_master;
  SwitchableEndpoint endpoint(old_master.port());
  Metrics metrics;
  RedisOptions options;
  RedisPool pool(options, &metrics, &endpoint);
  AsyncRedisOptions async_options;
  async_options.endpoint = &endpoint;
  async_options.connections = 1;
  AsyncRedis async(async_options);
  REQUIRE(pool.RoundTrip({{"SET", "k", "old"}}, Later(), false).ok());
  REQUIRE(AsyncCommand(async, {"MGET", "k"}).value() == "old");
  old_master.ResetStats();

  endpoint.MoveTo(new_master.port());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(pool.RoundTrip({{"SET", "k", "new"}}, Later(), false).ok());
    REQUIRE(AsyncCommand(async, {"MGET", "k"}).value() == "new");
  }
  CHECK(old_master.CommandCalls("set") == 0);
  CHECK(old_master.CommandCalls("mget") == 0);
  CHECK(new_master.CommandCalls("set") == 20);
  CHECK(new_master.CommandCalls("mget") == 20);
}

TEST_CASE("sentinel: a server that is not the master is refused (ROLE) and the endpoint told") {
  RedisServer master;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  FixedEndpoint endpoint(replica.port());
  Metrics metrics;
  RedisOptions options;
  RedisPool pool(options, &metrics, &endpoint);
  auto got = pool.RoundTrip({{"GET", "k"}}, Later(), /*idempotent=*/true);
  REQUIRE_FALSE(got.ok());
  INFO(got.status().ToString());
  CHECK(absl::IsUnavailable(got.status()));
  CHECK(absl::StrContains(got.status().message(), "is not the master"));
  CHECK(replica.CommandCalls("get") == 0);  // Nothing but ROLE was sent.
  CHECK(metrics.Get(Counter::redis_not_master_total) >= 1);

  AsyncRedisOptions async_options;
  async_options.endpoint = &endpoint;
  AsyncRedis async(async_options);
  absl::StatusOr<std::string> read = AsyncCommand(async, {"MGET", "k"});
  REQUIRE_FALSE(read.ok());
  INFO(read.status().ToString());
  CHECK(absl::IsUnavailable(read.status()));
  CHECK(absl::StrContains(read.status().message(), "not the master"));
  CHECK(endpoint.suspected >= 2);
}

TEST_CASE("WAIT: a write is acknowledged once a replica has it, unconfirmed is UNAVAILABLE, at and past the limit") {
  RedisServer master;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  catalog::testing::WaitUntilReplicating(replica);
  Metrics metrics;
  RedisOptions options;
  options.port = master.port();
  RedisPool pool(options, &metrics);
  auto cas = [](RedisTier& tier, const std::string& id) {
    std::vector<CasEntry> entries = {CasEntry{id, std::nullopt, std::nullopt, std::string("v-") + id}};
    return tier.CompareAndSet(entries, nullptr, Later());
  };
  RedisTierOptions one;
  one.write_replicas = 1;
  one.wait_timeout = absl::Milliseconds(200);
  RedisTier tier(&pool, ProductRecordType(), &metrics, nullptr, one);

  // At the limit (one replica, one asked for): acknowledged, and the
  // replica holds it when the caller hears so.
  auto applied = cas(tier, "a");
  INFO(applied.status().ToString());
  REQUIRE(applied.ok());
  CHECK(applied->outcome == CasResult::Outcome::kApplied);
  CHECK(Get(replica, "product:a") == "v-a");
  CHECK(tier.IndexAdd({IndexEntry{"category:x", "a"}}, Later()).ok());

  // Past it (two asked for, one exists): applied on the master, not
  // acknowledged.
  RedisTierOptions two = one;
  two.write_replicas = 2;
  RedisTier tier2(&pool, ProductRecordType(), &metrics, nullptr, two);
  auto short_write = cas(tier2, "b");
  REQUIRE_FALSE(short_write.ok());
  INFO(short_write.status().ToString());
  CHECK(absl::IsUnavailable(short_write.status()));
  CHECK(absl::StrContains(short_write.status().message(), "confirmed by 1 of 2 replicas"));
  CHECK(absl::StrContains(short_write.status().message(), "may be lost"));
  CHECK(Get(master, "product:b") == "v-b");
  auto index = tier2.IndexAdd({IndexEntry{"category:x", "b"}}, Later());
  CHECK(absl::IsUnavailable(index));

  // The replica stopped: nothing confirms.
  REQUIRE(kill(replica.pid(), SIGSTOP) == 0);
  auto stopped = cas(tier, "c");
  REQUIRE(kill(replica.pid(), SIGCONT) == 0);
  REQUIRE_FALSE(stopped.ok());
  INFO(stopped.status().ToString());
  CHECK(absl::StrContains(stopped.status().message(), "confirmed by 0 of 1 replicas"));
  CHECK(metrics.Get(Counter::redis_wait_short_total) == 3);
}

TEST_CASE("WAIT: a retry of an unconfirmed write is not acknowledged until a replica has it, on any connection") {
  RedisServer master;
  RedisServer replica({"--replicaof", "127.0.0.1", std::to_string(master.port())});
  catalog::testing::WaitUntilReplicating(replica);
  Metrics metrics;
  RedisOptions options;
  options.port = master.port();
  RedisTierOptions one;
  one.write_replicas = 1;
  one.wait_timeout = absl::Milliseconds(200);
  std::vector<CasEntry> entries = {CasEntry{"r", std::nullopt, std::nullopt, std::string("v-r")}};
  const RequestEntry request{"req-1", "recorded", absl::Hours(1)};

  REQUIRE(kill(replica.pid(), SIGSTOP) == 0);
  RedisPool first_pool(options, &metrics);
  RedisTier first(&first_pool, ProductRecordType(), &metrics, nullptr, one);
  auto applied = first.CompareAndSet(entries, &request, Later());
  CHECK(absl::IsUnavailable(applied.status()));  // Applied on the master, not confirmed.
  // The retry on fresh connections finds the request recorded: still not
  // confirmed, so still not acknowledged (before: WAIT measured the new
  // connection's own, empty, history and passed at once).
  RedisPool second_pool(options, &metrics);
  RedisTier second(&second_pool, ProductRecordType(), &metrics, nullptr, one);
  auto replay = second.CompareAndSet(entries, &request, Later());
  CHECK(absl::IsUnavailable(replay.status()));
  RedisPool third_pool(options, &metrics);
  RedisTier third(&third_pool, ProductRecordType(), &metrics, nullptr, one);
  CHECK(absl::IsUnavailable(third.GetRequest("req-1", Later()).status()));
  REQUIRE(kill(replica.pid(), SIGCONT) == 0);

  // Confirmed once the replica is back (up to 900 ms to catch up).
  RedisTierOptions patient = one;
  patient.wait_timeout = absl::Milliseconds(900);
  RedisTier second_patient(&second_pool, ProductRecordType(), &metrics, nullptr, patient);
  auto confirmed = second_patient.CompareAndSet(entries, &request, Later());
  INFO(confirmed.status().ToString());
  REQUIRE(confirmed.ok());
  CHECK(confirmed->outcome == CasResult::Outcome::kRequestDone);
  CHECK(Get(replica, "product:r") == "v-r");
  auto found = third.GetRequest("req-1", Later());
  REQUIRE(found.ok());
  CHECK(found->value_or("") == "recorded");
}

}  // namespace
}  // namespace catalog::storage
