// What balancers see, on the real server: readiness through the gRPC health
// service and GET /ready, NOT_SERVING while Redis does not answer, and a
// drain on SIGTERM that reports NOT_SERVING while it still serves calls.
#include <signal.h>

#include "absl/strings/match.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using grpc::health::v1::HealthCheckResponse;

// The health status of service "" (SERVICE_UNKNOWN if the call fails).
HealthCheckResponse::ServingStatus Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext context;
  Client::Deadline(context, absl::Seconds(2));
  grpc::health::v1::HealthCheckRequest request;
  HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) return HealthCheckResponse::SERVICE_UNKNOWN;
  return response.status();
}

TEST_CASE("readiness: NOT_SERVING (gRPC health and GET /ready) while Redis does not answer, SERVING after") {
  RedisServer redis;
  SharedMySql mysql;
  const int metrics_port = catalog::testing::FreePort();
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(),
                              {"--redis_info_interval_ms=200",
                               absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port)});
  Client client(server);
  CHECK(Health(client.channel) == HealthCheckResponse::SERVING);
  CHECK(absl::StartsWith(HttpGet(metrics_port, "/ready"), "HTTP/1.1 200 OK"));
  redis.Stop();  // SIGKILL.
  CHECK(Eventually([&] { return Health(client.channel) == HealthCheckResponse::NOT_SERVING; }));
  const std::string ready = HttpGet(metrics_port, "/ready");
  CHECK(absl::StartsWith(ready, "HTTP/1.1 503"));
  CHECK(absl::StrContains(ready, "NOT_SERVING"));
  redis.Start();
  CHECK(Eventually([&] { return Health(client.channel) == HealthCheckResponse::SERVING; }));
  CHECK(absl::StartsWith(HttpGet(metrics_port, "/ready"), "HTTP/1.1 200 OK"));
  REQUIRE(client.Upsert({MakeProduct("back", "again")}).ok());
  INFO(server.Log());
  CHECK(absl::StrContains(server.Log(), "health NOT_SERVING until it does"));
}

TEST_CASE("drain: SIGTERM reports NOT_SERVING at once, calls are still served for drain_delay_ms, then exit 0") {
  RedisServer redis;
  SharedMySql mysql;
  const int metrics_port = catalog::testing::FreePort();
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(),
                              {"--drain_delay_ms=10000",
                               absl::StrCat("--metrics_listen_address=127.0.0.1:", metrics_port)});
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("d1", "before")}).ok());
  REQUIRE(kill(server.process().pid(), SIGTERM) == 0);
  REQUIRE(Eventually([&] { return Health(client.channel) == HealthCheckResponse::NOT_SERVING; }));
  CHECK(absl::StartsWith(HttpGet(metrics_port, "/ready"), "HTTP/1.1 503"));
  // Still serving: writes and reads succeed while balancers take it out
  // (20 rounds of a few milliseconds each, well inside the 10 s delay).
  for (int round = 0; round < 20; ++round) {
    REQUIRE(client.Upsert({MakeProduct("d2", absl::StrCat(round))}).ok());
    Product read;
    REQUIRE(client.Get("d2", &read).ok());
    CHECK(read.title() == absl::StrCat(round));
  }
  CHECK(server.Terminate(absl::Seconds(30)) == 0);  // Already stopping: exits by itself.
  INFO(server.Log());
  CHECK(absl::StrContains(server.Log(), "NOT_SERVING, draining for 10000 ms"));
  CHECK(absl::StrContains(server.Log(), "\"channel\":\"server\",\"msg\":\"stopped\""));
}

}  // namespace
}  // namespace catalog
