// The real catalog-server on a real Redis Cluster (3 masters, 3 replicas)
// through a topology file: batches across every master, offers and views,
// demotion through the admin RPC, a live reshard under load, and a master
// killed under load. Every acknowledged write is read back afterwards.
//
// Prints the figures the issue notes report on stdout: run
// `e2e_tests "[cluster]"` to see them.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "catalog/v2/catalog.grpc.pb.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using catalog::testing::RedisClusterProcesses;

// Products and offers on the cluster, records in the shared MariaDB.
std::string ClusterTopology(RedisClusterProcesses& cluster, SharedMySql& mysql) {
  const std::string dir = std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
  const std::string path = dir + "/" + catalog::testing::UniqueName("cluster-topology") + ".textproto";
  std::ofstream(path) << "redis { name: \"main\" cluster { seeds: \"" << cluster.Addresses()[0] << "\" seeds: \""
                      << cluster.Addresses()[1] << "\" } }\n"
                      << "mysql { name: \"cold\" address: \"127.0.0.1:" << mysql.port()
                      << "\" user: \"catalog\" password_env: \"CATALOG_TEST_TOPOLOGY_PASSWORD\" database: \""
                      << mysql.database() << "\" }\n"
                      << "records { record_type: \"products\" redis: \"main\" mysql: \"cold\" }\n"
                      << "records { record_type: \"offers\" redis: \"main\" mysql: \"cold\" }\n";
  setenv("CATALOG_TEST_TOPOLOGY_PASSWORD", "catalog", 1);
  return path;
}

struct ClusterE2E {
  RedisClusterProcesses cluster;
  SharedMySql mysql;
  int metrics_port = catalog::testing::FreePort();
  CatalogServerProcess server;
  Client client;
  explicit ClusterE2E(std::vector<std::string> flags = {})
      : server(1, mysql.port(), mysql.database(),
               [&] {
                 flags.push_back("--topology_file=" + ClusterTopology(cluster, mysql));
                 flags.push_back(absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port));
                 return flags;
               }()),
        client(server) {}

  long long Calls(const std::string& command, int* masters = nullptr) {
    long long total = 0;
    if (masters != nullptr) *masters = 0;
    for (size_t i = 0; i < cluster.nodes.size(); ++i) {
      if (cluster.nodes[i]->Role() != "master") continue;
      const long long n = cluster.nodes[i]->CommandCalls(command);
      total += n;
      if (masters != nullptr && n > 0) ++*masters;
    }
    return total;
  }
  long long Keys(const std::string& pattern) {
    long long n = 0;
    for (size_t i = 0; i < 3; ++i) n += static_cast<long long>(cluster.nodes[i]->Command({"KEYS", pattern})->elements);
    return n;
  }
};

TEST_CASE("cluster: the server on a 3-master cluster reads, writes, deletes, demotes and serves views across nodes",
          "[cluster]") {
  ClusterE2E e;
  const std::vector<std::string> ids = Ids("p", 100);
  std::vector<Product> products;
  for (const std::string& id : ids) products.push_back(MakeProduct(id, "v1"));
  // One upsert of 100 products, all or nothing across the three masters.
  REQUIRE(e.client.Upsert(products).ok());
  CHECK(e.Keys("product:*") == 100);
  CHECK(e.Keys("product-txn:*") == 0);

  for (auto& node : e.cluster.nodes) node->ResetStats();
  BatchGetProductsResponse response;
  REQUIRE(e.client.BatchGet(ids, &response).ok());
  CHECK(response.products_size() == 100);
  int masters = 0;
  const long long mgets = e.Calls("mget", &masters);
  CHECK(masters == 3);  // Every master, one MGET per slot of the batch.
  CHECK(mgets <= 100);

  // A stale expected version anywhere in a batch: nothing is written.
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    UpsertProductsRequest request;
    Product fresh = MakeProduct("p0", "never");
    fresh.set_version(1);
    Product stale = MakeProduct("p99", "never");
    stale.set_version(7);
    *request.add_products() = fresh;
    *request.add_products() = stale;
    UpsertProductsResponse ignored;
    const grpc::Status status = e.client.stub->UpsertProducts(&context, request, &ignored);
    CHECK(status.error_code() == grpc::StatusCode::ABORTED);
    Product p0;
    REQUIRE(e.client.Get("p0", &p0).ok());
    CHECK(p0.title() == "v1");
  }

  // Offers and a view assembled from both, on the cluster.
  auto v2 = catalog::v2::CatalogService::NewStub(e.client.channel);
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::v2::UpsertOffersRequest request;
    catalog::v2::Offer* offer = request.add_offers();
    offer->set_product_id("p1");
    offer->set_market("de");
    offer->mutable_price()->set_currency_code("EUR");
    offer->mutable_price()->set_amount_minor(1234);
    offer->set_availability(catalog::v2::AVAILABILITY_IN_STOCK);
    catalog::v2::UpsertOffersResponse ignored;
    const grpc::Status status = v2->UpsertOffers(&context, request, &ignored);
    INFO(status.error_message());
    REQUIRE(status.ok());
  }
  for (int round = 0; round < 2; ++round) {  // A miss that fills, then a hit.
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::v2::BatchGetProductViewsRequest request;
    request.add_product_ids("p1");
    request.set_market("de");
    catalog::v2::BatchGetProductViewsResponse views;
    const grpc::Status status = v2->BatchGetProductViews(&context, request, &views);
    INFO(status.error_message());
    REQUIRE(status.ok());
    REQUIRE(views.results_size() == 1);
    CHECK(views.results(0).view().offer().price().amount_minor() == 1234);
    CHECK(views.results(0).view().product().title() == "v1");
  }
  CHECK(e.Keys("product-view:*") == 1);

  // Demotion through the admin RPC scans every master.
  const auto demoted = e.client.Demote(0);
  CHECK(demoted.demoted() >= 100);
  CHECK(e.Keys("product:*") == 0);
  CHECK(e.mysql.client().QueryInt("SELECT COUNT(*) FROM products") == 100);
  const long long selects = e.mysql.client().ComSelect();
  REQUIRE(e.client.BatchGet(ids, &response).ok());
  CHECK(response.products_size() == 100);
  CHECK(e.mysql.client().ComSelect() - selects == 1);  // One SELECT ... IN for the batch.
  CHECK(e.Keys("product:*") == 100);                   // Promoted back.

  DeleteProductsResponse deleted;
  REQUIRE(e.client.Delete(std::vector<std::string>(ids.begin(), ids.begin() + 40), &deleted).ok());
  REQUIRE(e.client.BatchGet(ids, &response).ok());
  CHECK(response.products_size() == 60);
  CHECK(response.missing_ids_size() == 40);
}

// Load: writers create products in batches of 4 (ids on several masters)
// and update their own products; readers check no read is older than what
// was acknowledged before it began.
struct Load {
  std::mutex mu;
  std::vector<std::string> created;
  std::map<std::string, int> updated;
  int64_t calls = 0, failed = 0, acked_after = 0, stale_reads = 0;
  absl::Time first_failure = absl::InfiniteFuture(), last_failure = absl::InfinitePast();
  std::map<int, int> codes;
  std::string sample_error;
  std::atomic<bool> after{false};  // Set once the disruption is over.
};

struct LoadFigures {
  int64_t calls, failed, created, lost_created, lost_updates, stale_reads, acked_after;
  double window_ms;
  std::string codes, sample_error;
  std::map<int, int> code_counts;
};

LoadFigures RunUnderLoad(ClusterE2E& e, const std::function<void(Load&)>& disrupt) {
  constexpr int kWriters = 2, kUpdated = 10;
  std::vector<Product> seed;
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < kUpdated; ++k) seed.push_back(MakeProduct(absl::StrCat("u", w, "-", k), "0"));
  }
  REQUIRE(e.client.Upsert(seed).ok());
  Load load;
  std::atomic<bool> stop{false};
  auto failed = [&](const grpc::Status& status) {
    std::lock_guard<std::mutex> lock(load.mu);
    ++load.failed;
    load.first_failure = std::min(load.first_failure, absl::Now());
    load.last_failure = absl::Now();
    load.codes[status.error_code()]++;
    if (load.sample_error.empty()) load.sample_error = status.error_message();
  };
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      Client mine(e.server);
      for (int i = 0; !stop; ++i) {
        const bool create = i % 2 == 0;
        std::vector<std::string> ids;
        if (create) {
          for (int k = 0; k < 4; ++k) ids.push_back(absl::StrCat("n", w, "-", i, "-", k));
        } else {
          ids.push_back(absl::StrCat("u", w, "-", (i / 2) % kUpdated));
        }
        grpc::ClientContext context;  // Not Client::Upsert: Catch is not thread-safe.
        Client::Deadline(context, absl::Seconds(5));
        UpsertProductsRequest request;
        for (const std::string& id : ids) *request.add_products() = MakeProduct(id, absl::StrCat(i));
        UpsertProductsResponse response;
        const grpc::Status status = mine.stub->UpsertProducts(&context, request, &response);
        {
          std::lock_guard<std::mutex> lock(load.mu);
          ++load.calls;
        }
        if (!status.ok()) {
          failed(status);
          continue;
        }
        std::lock_guard<std::mutex> lock(load.mu);
        if (load.after) ++load.acked_after;
        if (create) {
          load.created.insert(load.created.end(), ids.begin(), ids.end());
        } else {
          load.updated[ids[0]] = std::max(load.updated[ids[0]], i);
        }
      }
    });
  }
  threads.emplace_back([&] {
    Client mine(e.server);
    while (!stop) {
      std::vector<std::string> ids;
      for (int w = 0; w < kWriters; ++w) {
        for (int k = 0; k < kUpdated; ++k) ids.push_back(absl::StrCat("u", w, "-", k));
      }
      std::map<std::string, int> floor;
      {
        std::lock_guard<std::mutex> lock(load.mu);
        for (const std::string& id : ids) floor[id] = load.updated.count(id) ? load.updated[id] : 0;
      }
      grpc::ClientContext context;
      Client::Deadline(context, absl::Seconds(5));
      BatchGetProductsRequest request;
      for (const std::string& id : ids) request.add_ids(id);
      BatchGetProductsResponse response;
      const grpc::Status status = mine.stub->BatchGetProducts(&context, request, &response);
      {
        std::lock_guard<std::mutex> lock(load.mu);
        ++load.calls;
        if (status.ok()) {
          load.stale_reads += response.missing_ids_size();
          for (const Product& product : response.products()) {
            if (std::atoi(product.title().c_str()) < floor[product.id()]) ++load.stale_reads;
          }
        }
      }
      if (!status.ok()) failed(status);
    }
  });
  absl::SleepFor(absl::Milliseconds(1000));
  disrupt(load);
  load.after = true;
  // Load goes on until writes have been acknowledged for a while after the
  // disruption (bounded: a server that never recovers fails below).
  const absl::Time until = absl::Now() + absl::Seconds(20);
  while (absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(100));
    std::lock_guard<std::mutex> lock(load.mu);
    if (load.acked_after >= 100 && absl::Now() - load.last_failure > absl::Seconds(2)) break;
  }
  stop = true;
  for (std::thread& t : threads) t.join();

  // Every acknowledged write, read back through the server.
  int64_t lost_created = 0, lost_updates = 0;
  for (size_t start = 0; start < load.created.size(); start += 500) {
    const std::vector<std::string> chunk(load.created.begin() + start,
                                         load.created.begin() + std::min(load.created.size(), start + 500));
    BatchGetProductsResponse response;
    const grpc::Status status = e.client.BatchGet(chunk, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    lost_created += response.missing_ids_size();
  }
  for (const auto& [id, acked] : load.updated) {
    Product product;
    const grpc::Status status = e.client.Get(id, &product);
    INFO(status.error_message());
    REQUIRE(status.ok());
    if (std::stoi(product.title()) < acked) ++lost_updates;
  }
  std::string codes;
  for (const auto& [code, count] : load.codes) absl::StrAppend(&codes, " code ", code, ": ", count, ";");
  return LoadFigures{load.calls,
                     load.failed,
                     static_cast<int64_t>(load.created.size()),
                     lost_created,
                     lost_updates,
                     load.stale_reads,
                     load.acked_after,
                     load.failed > 0 ? absl::ToDoubleMilliseconds(load.last_failure - load.first_failure) : 0.0,
                     codes,
                     load.sample_error,
                     load.codes};
}

TEST_CASE("cluster: a live reshard under load: no failed call, no lost or stale write", "[cluster]") {
  ClusterE2E e({"--l1_max_bytes=0"});
  int cli_status = -1;
  const LoadFigures figures = RunUnderLoad(e, [&](Load&) {
    const std::string log = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                            catalog::testing::UniqueName("reshard") + ".log";
    cli_status = e.cluster.Cli({"reshard", e.cluster.Addresses()[0], "--cluster-from", e.cluster.Id(0), "--cluster-to",
                                e.cluster.Id(1), "--cluster-slots", "3000", "--cluster-yes", "--cluster-pipeline",
                                "10"},
                               log);
  });
  const std::string metrics = HttpGet(e.metrics_port, "/metrics");
  std::printf("cluster reshard (3000 slots): %lld calls, %lld failed (%s); %lld products created in batches of 4, "
              "lost %lld; lost updates %lld; stale reads %lld; first error: %s\n",
              static_cast<long long>(figures.calls), static_cast<long long>(figures.failed), figures.codes.c_str(),
              static_cast<long long>(figures.created), static_cast<long long>(figures.lost_created),
              static_cast<long long>(figures.lost_updates), static_cast<long long>(figures.stale_reads),
              figures.sample_error.c_str());
  std::fflush(stdout);
  REQUIRE(cli_status == 0);
  INFO(figures.sample_error);
  CHECK(figures.failed == 0);
  CHECK(figures.created > 0);
  CHECK(figures.lost_created == 0);
  CHECK(figures.lost_updates == 0);
  CHECK(figures.stale_reads == 0);
  INFO(metrics);
  CHECK(MetricIn(metrics, "catalog_redis_cluster_moves_total") > 0);  // It followed (-1: no such sample).
}

TEST_CASE("cluster: a master killed under load: the service follows the promoted replica", "[cluster]") {
  ClusterE2E e({"--l1_max_bytes=0"});
  double failover_ms = 0;
  const LoadFigures figures = RunUnderLoad(e, [&](Load&) {
    const absl::Time killed = absl::Now();
    e.cluster.nodes[0]->Stop();  // SIGKILL.
    // Until one of the replicas reports itself master and the cluster is ok.
    const absl::Time until = absl::Now() + absl::Seconds(60);
    for (bool done = false; !done && absl::Now() < until;) {
      absl::SleepFor(absl::Milliseconds(50));
      for (size_t i = 3; i < e.cluster.nodes.size() && !done; ++i) {
        auto info = e.cluster.nodes[1]->Command({"CLUSTER", "INFO"});
        done = e.cluster.nodes[i]->Role() == "master" &&
               absl::StrContains(std::string(info->str, info->len), "cluster_state:ok");
      }
    }
    failover_ms = absl::ToDoubleMilliseconds(absl::Now() - killed);
  });
  std::printf("cluster failover: %lld calls, %lld failed (%s), error window %.0f ms; the cluster was ok again %.0f ms "
              "after the kill; %lld products created (lost %lld), lost updates %lld, stale reads %lld, %lld writes "
              "acknowledged after; first error: %s\n",
              static_cast<long long>(figures.calls), static_cast<long long>(figures.failed), figures.codes.c_str(),
              figures.window_ms, failover_ms, static_cast<long long>(figures.created),
              static_cast<long long>(figures.lost_created), static_cast<long long>(figures.lost_updates),
              static_cast<long long>(figures.stale_reads), static_cast<long long>(figures.acked_after),
              figures.sample_error.c_str());
  std::fflush(stdout);
  INFO(e.server.Log());
  CHECK(failover_ms < 60000);  // The cluster itself recovered (a bound, not a performance claim).
  // Only precise, retryable statuses while the master was gone.
  for (const auto& [code, count] : figures.code_counts) {
    INFO("status code " << code);
    CHECK((code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED));
  }
  CHECK(figures.acked_after >= 100);  // Recovered without a restart.
  // Replication is asynchronous on a cluster (README, Redis Cluster): a
  // write acknowledged by the killed master in its last moments may be
  // lost. Counted and printed, not asserted; short of such a loss, no read
  // may be older than a write acknowledged before it began.
  CHECK(figures.created > 0);
  if (figures.lost_created == 0 && figures.lost_updates == 0) CHECK(figures.stale_reads == 0);
}

}  // namespace
}  // namespace catalog
