// Redis Sentinel failover under load, end to end: a real master, replica and
// three sentinels, the real catalog-server following them, the master killed
// with SIGKILL mid-load. Every acknowledged write is checked afterwards.
//
// Prints the figures the issue notes report (error window, failed calls,
// lost writes) on stdout: run `e2e_tests "[failover]"` to see them.
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <algorithm>

#include "absl/strings/match.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using catalog::testing::SentinelDeployment;
using catalog::testing::WaitUntilReplicating;

struct Outcome {
  std::mutex mu;
  // Acknowledged new products, and per updated product the highest
  // acknowledged title number.
  std::vector<std::string> created;
  std::map<std::string, int> updated;
  int64_t calls = 0, failed_reads = 0, failed_writes = 0, acked_after_switch = 0, stale_reads = 0;
  absl::Time first_failure = absl::InfiniteFuture(), last_failure = absl::InfinitePast();
  absl::Time last_read_failure = absl::InfinitePast();
  std::map<int, int> failure_codes;
  std::string sample_error;
};

struct Figures {
  int64_t calls, failed_reads, failed_writes, created, lost_created, lost_updates, acked_after_switch, stale_reads;
  int64_t failovers;  // As the sentinels saw them: 1 unless they failed over again.
  double window_ms, read_window_ms, failover_ms;
};

Figures RunFailover(bool wait_for_replica) {
  SentinelDeployment deployment;
  SharedMySql mysql;
  const int metrics_port = catalog::testing::FreePort();
  std::vector<std::string> flags = {"--redis_sentinels=" + deployment.SentinelList(),
                                    absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port),
                                    absl::StrCat("--redis_master_name=", SentinelDeployment::kName)};
  if (wait_for_replica) {
    flags.push_back("--redis_write_replicas=1");
    flags.push_back("--redis_wait_timeout_ms=500");
  }
  // The redis_port flag points at the master only to show it is unused.
  CatalogServerProcess server(deployment.master->port(), mysql.port(), mysql.database(), flags);
  Client client(server);

  constexpr int kWriters = 2, kUpdatedPerWriter = 20;
  std::vector<Product> seed;
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < kUpdatedPerWriter; ++k) seed.push_back(MakeProduct(absl::StrCat("u", w, "-", k), "0"));
  }
  REQUIRE(client.Upsert(seed).ok());

  Outcome out;
  std::atomic<bool> stop{false};
  std::atomic<bool> switched{false};
  // Every call counts once; a failure also counts by kind and status.
  auto failed = [&](const grpc::Status& status, bool write) {
    std::lock_guard<std::mutex> lock(out.mu);
    (write ? out.failed_writes : out.failed_reads)++;
    out.first_failure = std::min(out.first_failure, absl::Now());
    out.last_failure = absl::Now();
    if (!write) out.last_read_failure = out.last_failure;
    out.failure_codes[status.error_code()]++;
    if (out.sample_error.empty()) out.sample_error = status.error_message();
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Client mine(server);
      for (int i = 0; !stop; ++i) {
        // Alternately a new product and a newer title for one of this
        // writer's own products (so "newest acknowledged" is well defined).
        const bool create = i % 2 == 0;
        const std::string id =
            create ? absl::StrCat("n", w, "-", i) : absl::StrCat("u", w, "-", (i / 2) % kUpdatedPerWriter);
        {
          std::lock_guard<std::mutex> lock(out.mu);
          ++out.calls;
        }
        // The stub directly: Catch's macros (in Client::Upsert) are not
        // thread-safe.
        grpc::ClientContext context;
        Client::Deadline(context, absl::Seconds(5));
        UpsertProductsRequest request;
        *request.add_products() = MakeProduct(id, absl::StrCat(i));
        UpsertProductsResponse response;
        const grpc::Status status = mine.stub->UpsertProducts(&context, request, &response);
        if (!status.ok()) {
          failed(status, true);
          continue;
        }
        std::lock_guard<std::mutex> lock(out.mu);
        if (switched) ++out.acked_after_switch;
        if (create) {
          out.created.push_back(id);
        } else {
          out.updated[id] = std::max(out.updated[id], i);
        }
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      Client mine(server);
      std::mt19937 random(r);
      while (!stop) {
        std::vector<std::string> ids;  // 20 distinct ids (duplicates are INVALID_ARGUMENT).
        for (int w = 0; w < kWriters; ++w) {
          for (int k = 0; k < kUpdatedPerWriter; ++k) ids.push_back(absl::StrCat("u", w, "-", k));
        }
        std::shuffle(ids.begin(), ids.end(), random);
        ids.resize(20);
        // What was acknowledged before this read began: the read must not
        // return anything older (Redis, L1 and the failover included).
        std::map<std::string, int> floor;
        {
          std::lock_guard<std::mutex> lock(out.mu);
          for (const std::string& id : ids) {
            auto it = out.updated.find(id);
            floor[id] = it == out.updated.end() ? 0 : it->second;
          }
        }
        // The stub directly (Catch's macros are not thread-safe).
        grpc::ClientContext context;
        Client::Deadline(context, absl::Seconds(5));
        BatchGetProductsRequest request;
        for (const std::string& id : ids) request.add_ids(id);
        BatchGetProductsResponse response;
        const grpc::Status status = mine.stub->BatchGetProducts(&context, request, &response);
        {
          std::lock_guard<std::mutex> lock(out.mu);
          ++out.calls;
          if (status.ok()) {
            // Every id was seeded: a missing one is as stale as it gets.
            out.stale_reads += response.missing_ids_size();
            for (const Product& product : response.products()) {
              if (std::atoi(product.title().c_str()) < floor[product.id()]) ++out.stale_reads;
            }
          }
        }
        if (!status.ok()) failed(status, false);
      }
    });
  }

  absl::SleepFor(absl::Milliseconds(1500));
  const absl::Time killed = absl::Now();
  deployment.master->Stop();  // SIGKILL.
  const bool promoted = deployment.WaitForMaster(deployment.replica->port(), absl::Seconds(60));
  const absl::Time promoted_at = absl::Now();
  switched = true;
  // The old master comes back as a replica of the new one, as Redis asks
  // for an instance without persistence, and not eligible for promotion
  // (replica-priority 0) until its first sync is done: until then it holds
  // nothing, and a second failover that promoted it would make the new
  // master resync from it, empty (README, Failover: a run of this test lost
  // 1,073 acknowledged writes that way, when down-after-milliseconds 1000
  // let the sentinels find the new master "down" a second after switching
  // to it). With redis_write_replicas=1 it is the replica the new master's
  // writes wait for; the service must not use it as a master.
  if (promoted) {
    deployment.master->Start({"--replicaof", "127.0.0.1", std::to_string(deployment.replica->port()),
                              "--replica-priority", "0"});
    WaitUntilReplicating(*deployment.master);
    CHECK(deployment.master->Command({"CONFIG", "SET", "replica-priority", "100"})->type == REDIS_REPLY_STATUS);
  }
  // Load goes on until writes have been acknowledged by the new master for
  // a while (bounded: a server that never recovers fails below).
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    std::lock_guard<std::mutex> lock(out.mu);
    if (out.acked_after_switch >= 200 && absl::Now() - out.last_failure > absl::Seconds(2)) break;
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  REQUIRE(promoted);

  // Every acknowledged write, read back through the server.
  int64_t lost_created = 0, lost_updates = 0, lost_but_in_redis = 0;
  for (size_t start = 0; start < out.created.size(); start += 500) {
    const std::vector<std::string> chunk(out.created.begin() + start,
                                         out.created.begin() + std::min(out.created.size(), start + 500));
    BatchGetProductsResponse response;
    const grpc::Status status = client.BatchGet(chunk, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    lost_created += response.missing_ids_size();  // v1 lists ids with no product apart.
    // Where a lost write went: still in the new master's Redis (then the
    // server answered wrongly) or gone from Redis too.
    for (const std::string& id : response.missing_ids()) {
      if (deployment.replica->Command({"EXISTS", "product:" + id})->integer == 1) ++lost_but_in_redis;
    }
  }
  for (const auto& [id, acked] : out.updated) {
    Product product;
    const grpc::Status status = client.Get(id, &product);
    INFO(status.error_message());
    REQUIRE(status.ok());
    if (std::stoi(product.title()) < acked) ++lost_updates;
  }

  Figures figures{out.calls,
                  out.failed_reads,
                  out.failed_writes,
                  static_cast<int64_t>(out.created.size()),
                  lost_created,
                  lost_updates,
                  out.acked_after_switch,
                  out.stale_reads,
                  deployment.Failovers(),
                  out.failed_reads + out.failed_writes > 0
                      ? absl::ToDoubleMilliseconds(out.last_failure - out.first_failure)
                      : 0.0,
                  out.failed_reads > 0 ? absl::ToDoubleMilliseconds(out.last_read_failure - out.first_failure) : 0.0,
                  absl::ToDoubleMilliseconds(promoted_at - killed)};
  std::string codes;
  for (const auto& [code, count] : out.failure_codes) absl::StrAppend(&codes, " code ", code, ": ", count, ";");
  std::printf(
      "failover (%s): %lld calls; failed %lld writes, %lld reads (%s); error window %.0f ms (reads %.0f ms); sentinels agreed on the "
      "new master %.0f ms after the kill (failovers: %lld); acknowledged %lld new products (lost %lld) and updates of %zu products "
      "(lost %lld); %lld writes acknowledged after the switch; %lld reads older than an acknowledged write; first "
      "error: %s\n",
      wait_for_replica ? "redis_write_replicas=1" : "asynchronous", static_cast<long long>(figures.calls),
      static_cast<long long>(figures.failed_writes), static_cast<long long>(figures.failed_reads), codes.c_str(),
      figures.window_ms, figures.read_window_ms, figures.failover_ms, static_cast<long long>(figures.failovers),
      static_cast<long long>(figures.created),
      static_cast<long long>(figures.lost_created), out.updated.size(), static_cast<long long>(figures.lost_updates),
      static_cast<long long>(figures.acked_after_switch), static_cast<long long>(figures.stale_reads),
      out.sample_error.c_str());
  if (lost_created > 0) {
    std::printf("failover: of the %lld lost new products, %lld are in the new master's Redis (role %s, old master "
                "role %s)\n",
                static_cast<long long>(lost_created), static_cast<long long>(lost_but_in_redis),
                deployment.replica->Role().c_str(), deployment.master->Role().c_str());
  }
  std::fflush(stdout);
  INFO(HttpGet(metrics_port, "/metrics"));
  INFO(server.Log());
  // Only precise, retryable statuses while the master was gone.
  for (const auto& [code, count] : out.failure_codes) {
    INFO("status code " << code);
    CHECK((code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED));
  }
  // The service recovered on the new master without a restart.
  CHECK(figures.acked_after_switch >= 200);
  // Exactly one failover: a second one is a deployment fault the test's
  // Sentinel settings must not produce (the figures would not be this
  // failover's).
  CHECK(figures.failovers == 1);
  return figures;
}

TEST_CASE("failover: master killed under load with redis_write_replicas=1: no acknowledged write is lost",
          "[failover]") {
  const Figures figures = RunFailover(/*wait_for_replica=*/true);
  CHECK(figures.created > 0);
  CHECK(figures.lost_created == 0);
  CHECK(figures.lost_updates == 0);
  CHECK(figures.stale_reads == 0);
}

TEST_CASE("failover: master killed under load with asynchronous replication: the service follows the new master",
          "[failover]") {
  const Figures figures = RunFailover(/*wait_for_replica=*/false);
  // Losses are possible here by design (README, Failover): counted and
  // printed, not asserted.
  CHECK(figures.created > 0);
}

}  // namespace
}  // namespace catalog

namespace catalog {
namespace {

// One v2 BatchGetProducts with the given consistency: the ids found.
std::vector<std::string> FoundV2(catalog::v2::CatalogService::Stub& stub, const std::vector<std::string>& ids,
                                 catalog::v2::ReadConsistency consistency) {
  grpc::ClientContext context;
  Client::Deadline(context);
  catalog::v2::BatchGetProductsRequest request;
  for (const std::string& id : ids) request.add_ids(id);
  request.set_consistency(consistency);
  catalog::v2::BatchGetProductsResponse response;
  const grpc::Status status = stub.BatchGetProducts(&context, request, &response);
  INFO(status.error_message());
  REQUIRE(status.ok());
  std::vector<std::string> found;
  for (const auto& result : response.results()) {
    if (result.has_product()) found.push_back(result.product().id());
  }
  return found;
}

TEST_CASE("replica reads: v2 reads that opt in are answered by the replica, every other read by the master") {
  SentinelDeployment deployment;
  SharedMySql mysql;
  const int metrics_port = catalog::testing::FreePort();
  // L1 off, so every read reaches Redis and is counted there; WAIT 1, so an
  // acknowledged write is on the replica.
  CatalogServerProcess server(deployment.master->port(), mysql.port(), mysql.database(),
                              {"--redis_sentinels=" + deployment.SentinelList(),
                               absl::StrCat("--redis_master_name=", SentinelDeployment::kName),
                               absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port), "--l1_max_bytes=0",
                               "--redis_write_replicas=1", "--redis_wait_timeout_ms=500"});
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("r1", "one"), MakeProduct("r2", "two")}).ok());
  auto v2 = catalog::v2::CatalogService::NewStub(client.channel);
  auto& master = *deployment.master;
  auto& replica = *deployment.replica;
  master.ResetStats();
  replica.ResetStats();

  // Opted in, every id on the replica: the replica alone.
  CHECK(FoundV2(*v2, {"r1", "r2"}, catalog::v2::READ_CONSISTENCY_REPLICA_OK) ==
        std::vector<std::string>{"r1", "r2"});
  CHECK(replica.CommandCalls("mget") == 1);
  CHECK(master.CommandCalls("mget") == 0);
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::v2::GetProductRequest request;
    request.set_id("r2");
    request.set_consistency(catalog::v2::READ_CONSISTENCY_REPLICA_OK);
    catalog::v2::Product product;
    REQUIRE(v2->GetProduct(&context, request, &product).ok());
    CHECK(product.title() == "two");
  }
  CHECK(replica.CommandCalls("mget") == 2);
  CHECK(master.CommandCalls("mget") == 0);

  // The default: the master.
  CHECK(FoundV2(*v2, {"r1", "r2"}, catalog::v2::READ_CONSISTENCY_UNSPECIFIED) ==
        std::vector<std::string>{"r1", "r2"});
  CHECK(master.CommandCalls("mget") == 1);
  CHECK(replica.CommandCalls("mget") == 2);

  // Opted in, one id not on the replica: asked there, then answered by the
  // master (which also looks in MySQL for the missing one).
  CHECK(FoundV2(*v2, {"r1", "nope"}, catalog::v2::READ_CONSISTENCY_REPLICA_OK) == std::vector<std::string>{"r1"});
  CHECK(replica.CommandCalls("mget") == 3);
  CHECK(master.CommandCalls("mget") >= 2);

  const std::string metrics = HttpGet(metrics_port, "/metrics");
  INFO(metrics);
  CHECK(absl::StrContains(metrics, "catalog_replica_read_keys_total 3\n"));
  CHECK(absl::StrContains(metrics, "catalog_replica_read_fallbacks_total 1\n"));
}

}  // namespace
}  // namespace catalog
