// deploy/haproxy/haproxy.cfg in front of three real catalog-server
// instances, under load through it: one instance SIGKILLed (the failed calls
// are counted and bounded), another SIGTERMed (it reports NOT_SERVING, the
// balancer takes it out, it drains: no call fails). Every acknowledged
// write is read back at the end.
//
// Prints the figures the issue notes report: run `e2e_tests "[haproxy]"`.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using catalog::testing::ChildProcess;

// The deployed configuration with the frontend on `port` and the backend's
// servers replaced by `servers` (public port, metrics port).
std::string HaproxyConfig(int port, const std::vector<std::pair<int, int>>& servers) {
  const std::string text = catalog::testing::ReadFileText(CATALOG_SOURCE_DIR "/deploy/haproxy/haproxy.cfg");
  std::string out;
  bool servers_written = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "    bind 127.0.0.1:50051 proto h2")) {
      absl::StrAppend(&out, "    bind 127.0.0.1:", port, " proto h2\n");
    } else if (absl::StartsWith(line, "    server ")) {
      if (servers_written) continue;
      for (size_t i = 0; i < servers.size(); ++i) {
        // The deployed line with this instance's ports.
        std::string server(line);
        server = absl::StrReplaceAll(server, {{"catalog1 10.0.0.51:50051", absl::StrCat("catalog", i + 1, " 127.0.0.1:",
                                                                                       servers[i].first)},
                                              {"port 9464", absl::StrCat("port ", servers[i].second)}});
        absl::StrAppend(&out, server, "\n");
      }
      servers_written = true;
    } else {
      absl::StrAppend(&out, line, "\n");
    }
  }
  REQUIRE(servers_written);
  REQUIRE(absl::StrContains(out, absl::StrCat("bind 127.0.0.1:", port)));
  return out;
}

struct Instance {
  int metrics_port = catalog::testing::FreePort();
  std::unique_ptr<CatalogServerProcess> process;
};

// Calls through the balancer by several threads, counted per phase.
struct Load {
  std::mutex mu;
  std::map<std::string, int> acked;  // id -> newest acknowledged title number.
  std::map<int, int64_t> calls, failed;  // Per phase.
  std::map<int, std::map<int, int>> codes;  // Per phase: status code -> count.
  std::string sample_error;
  std::atomic<int> phase{0};
  std::atomic<bool> stop{false};
};

int64_t RequestsOf(int metrics_port) {
  return MetricIn(HttpGet(metrics_port, "/metrics"), "catalog_rpc_requests_total");
}

TEST_CASE("haproxy: three instances behind deploy/haproxy, one killed and one drained under load", "[haproxy]") {
  RedisServer redis;
  SharedMySql mysql;
  std::vector<Instance> instances(3);
  for (Instance& instance : instances) {
    instance.process = std::make_unique<CatalogServerProcess>(
        redis.port(), mysql.port(), mysql.database(),
        std::vector<std::string>{absl::StrCat("--metrics_listen_address=127.0.0.1:", instance.metrics_port),
                                 "--drain_delay_ms=3000"});
  }
  const int port = catalog::testing::FreePort();
  const std::string config = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                             catalog::testing::UniqueName("haproxy") + ".cfg";
  std::vector<std::pair<int, int>> servers;
  for (const Instance& instance : instances) servers.push_back({instance.process->port(), instance.metrics_port});
  std::ofstream(config) << HaproxyConfig(port, servers);
  ChildProcess haproxy;
  haproxy.Start({"haproxy", "-db", "-f", config}, config + ".log");
  REQUIRE(catalog::testing::WaitForPort(port, absl::Seconds(30)));
  const std::string target = absl::StrCat("127.0.0.1:", port);

  // Every instance takes calls through the balancer (its checks passed).
  Client client(target, instances[2].process->admin_target());
  REQUIRE(Eventually([&] {
    BatchGetProductsResponse ignored;
    (void)client.BatchGet({"warm"}, &ignored, absl::Seconds(2));
    for (const Instance& instance : instances) {
      if (RequestsOf(instance.metrics_port) <= 0) return false;
    }
    return true;
  }));

  Load load;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Own channel per thread (the stub directly: Catch is not thread-safe).
      auto stub = CatalogService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
      for (int i = 0; !load.stop; ++i) {
        const std::string id = absl::StrCat("h", t, "-", i % 20);
        grpc::ClientContext context;
        Client::Deadline(context, absl::Seconds(5));
        grpc::Status status;
        if (i % 2 == 0) {
          UpsertProductsRequest request;
          *request.add_products() = MakeProduct(id, absl::StrCat(i));
          UpsertProductsResponse response;
          status = stub->UpsertProducts(&context, request, &response);
          if (status.ok()) {
            std::lock_guard<std::mutex> lock(load.mu);
            load.acked[id] = std::max(load.acked[id], i);
          }
        } else {
          BatchGetProductsRequest request;
          for (int k = 0; k < 10; ++k) request.add_ids(absl::StrCat("h", t, "-", k));
          BatchGetProductsResponse response;
          status = stub->BatchGetProducts(&context, request, &response);
        }
        // Counted in the phase it ended in: a call cut by the kill is the
        // kill's.
        const int phase = load.phase;
        std::lock_guard<std::mutex> lock(load.mu);
        ++load.calls[phase];
        if (!status.ok()) {
          ++load.failed[phase];
          ++load.codes[phase][status.error_code()];
          if (load.sample_error.empty()) load.sample_error = status.error_message();
        }
      }
    });
  }
  auto calls_in = [&](int phase) {
    std::lock_guard<std::mutex> lock(load.mu);
    return load.calls[phase];
  };
  // Phase 0: all three. Phase 1: instance 1 killed. Phase 2: instance 2
  // drained until it exited, and a while after. Each phase runs until it
  // has seen enough calls (a bound on waiting, not a timing claim).
  REQUIRE(Eventually([&] { return calls_in(0) >= 300; }));
  load.phase = 1;
  instances[0].process->process().Stop(SIGKILL, absl::Seconds(5));
  REQUIRE(Eventually([&] { return calls_in(1) >= 1000; }, absl::Seconds(60)));
  load.phase = 2;
  REQUIRE(kill(instances[1].process->process().pid(), SIGTERM) == 0);
  const int drained_exit = instances[1].process->Terminate(absl::Seconds(60));  // Waits for its own exit.
  const int64_t calls_at_exit = calls_in(2);
  REQUIRE(Eventually([&] { return calls_in(2) >= calls_at_exit + 300; }, absl::Seconds(60)));
  load.stop = true;
  for (std::thread& thread : threads) thread.join();

  // Every acknowledged write, through the balancer (one instance left).
  int64_t lost = 0;
  for (const auto& [id, title] : load.acked) {
    Product product;
    const grpc::Status status = client.Get(id, &product);
    INFO(status.error_message());
    REQUIRE(status.ok());
    if (std::stoi(product.title()) < title) ++lost;
  }
  std::string codes;
  for (const auto& [phase, by_code] : load.codes) {
    for (const auto& [code, count] : by_code) absl::StrAppend(&codes, " phase ", phase, " code ", code, ": ", count, ";");
  }
  std::printf("haproxy: %lld calls with 3 instances (failed %lld); %lld calls after SIGKILL of one (failed %lld); "
              "%lld calls while another drained and after it exited (failed %lld);%s %zu ids acknowledged, %lld lost; "
              "first error: %s\n",
              static_cast<long long>(load.calls[0]), static_cast<long long>(load.failed[0]),
              static_cast<long long>(load.calls[1]), static_cast<long long>(load.failed[1]),
              static_cast<long long>(load.calls[2]), static_cast<long long>(load.failed[2]), codes.c_str(),
              load.acked.size(), static_cast<long long>(lost), load.sample_error.c_str());
  std::fflush(stdout);
  INFO(catalog::testing::ReadFileText(config + ".log"));
  CHECK(load.failed[0] == 0);
  // A killed instance fails at most the calls it held: one per thread.
  CHECK(load.failed[1] <= kThreads);
  for (const auto& [code, count] : load.codes[1]) CHECK(code == grpc::StatusCode::UNAVAILABLE);
  // A drained one fails none.
  CHECK(drained_exit == 0);
  CHECK(load.failed[2] == 0);
  CHECK(lost == 0);
  haproxy.Stop(SIGTERM, absl::Seconds(10));
}

}  // namespace
}  // namespace catalog
