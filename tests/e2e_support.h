// Shared by the end-to-end tests: a client of the real catalog-server, a
// stack of real processes, and small helpers.
#pragma once

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "catalog/admin/v1/admin.grpc.pb.h"
#include "catalog/v1/catalog.grpc.pb.h"
#include "catalog/v2/catalog.grpc.pb.h"
#include "tests/harness/harness.h"

namespace catalog {

using catalog::testing::CatalogServerProcess;
using catalog::testing::PrivateMySql;
using catalog::testing::RedisServer;
using catalog::testing::SharedMySql;
using namespace catalog::v1;

inline Product MakeProduct(const std::string& id, const std::string& title = "Title") {
  Product p;
  p.set_id(id);
  p.set_sku("SKU-" + id);
  p.set_title(title);
  p.set_description(std::string(450, 'd'));
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(1999);
  p.set_stock_quantity(7);
  (*p.mutable_attributes())["color"] = "red";
  p.add_category_ids("shoes");
  return p;
}

struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<CatalogService::Stub> stub;
  std::unique_ptr<catalog::admin::v1::CatalogAdminService::Stub> admin;

  std::shared_ptr<grpc::Channel> admin_channel;

  // The public API at `target`; the admin stub at `admin_target` (the
  // server's admin plane), or on `target` if empty (where the public port
  // must answer UNIMPLEMENTED).
  explicit Client(const std::string& target, const std::string& admin_target = "")
      : channel(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
        stub(CatalogService::NewStub(channel)),
        admin_channel(admin_target.empty() ? channel
                                           : grpc::CreateChannel(admin_target, grpc::InsecureChannelCredentials())) {
    admin = catalog::admin::v1::CatalogAdminService::NewStub(admin_channel);
  }
  explicit Client(const CatalogServerProcess& server) : Client(server.target(), server.admin_target()) {}

  static void Deadline(grpc::ClientContext& context, absl::Duration d = absl::Seconds(10)) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + d));
  }
  grpc::Status Upsert(const std::vector<Product>& products, UpsertProductsResponse* response = nullptr) {
    grpc::ClientContext context;
    Deadline(context);
    UpsertProductsRequest request;
    for (const Product& p : products) *request.add_products() = p;
    UpsertProductsResponse ignored;
    grpc::Status status = stub->UpsertProducts(&context, request, response ? response : &ignored);
    UNSCOPED_INFO("upsert: " << status.error_code() << " " << status.error_message());
    return status;
  }
  grpc::Status BatchGet(const std::vector<std::string>& ids, BatchGetProductsResponse* response,
                        absl::Duration deadline = absl::Seconds(10)) {
    grpc::ClientContext context;
    Deadline(context, deadline);
    BatchGetProductsRequest request;
    for (const std::string& id : ids) request.add_ids(id);
    return stub->BatchGetProducts(&context, request, response);
  }
  grpc::Status Get(const std::string& id, Product* response) {
    grpc::ClientContext context;
    Deadline(context);
    GetProductRequest request;
    request.set_id(id);
    return stub->GetProduct(&context, request, response);
  }
  grpc::Status Delete(const std::vector<std::string>& ids, DeleteProductsResponse* response) {
    grpc::ClientContext context;
    Deadline(context);
    DeleteProductsRequest request;
    for (const std::string& id : ids) request.add_ids(id);
    return stub->DeleteProducts(&context, request, response);
  }
  catalog::admin::v1::DemoteResponse Demote(int64_t idle_seconds) {
    grpc::ClientContext context;
    Deadline(context, absl::Seconds(60));
    catalog::admin::v1::DemoteRequest request;
    request.set_idle_seconds(idle_seconds);
    catalog::admin::v1::DemoteResponse response;
    grpc::Status status = admin->Demote(&context, request, &response);
    INFO(status.error_message());
    REQUIRE(status.ok());
    return response;
  }
};

struct Stack {
  RedisServer redis;
  SharedMySql mysql;
  CatalogServerProcess server;
  Client client;
  explicit Stack(const std::vector<std::string>& flags = {})
      : server(redis.port(), mysql.port(), mysql.database(), flags), client(server) {}
};

inline std::vector<std::string> Ids(const std::string& prefix, int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat(prefix, i));
  return ids;
}

// The value of sample `name` (labels included, exactly as rendered) in
// Prometheus text, -1 if absent.
inline int64_t MetricIn(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  int64_t value = 0;
  (void)absl::SimpleAtoi(text.substr(at + key.size(), text.find('\n', at + 1) - at - key.size()), &value);
  return value;
}

// The sum of the samples of `name` (e.g. "catalog_pool_connections") whose
// labels contain every one of `label_pairs` (e.g. "state=\"open\""); -1 if
// none does.
inline int64_t SumOf(const std::string& text, const std::string& name, const std::vector<std::string>& label_pairs) {
  int64_t sum = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name + "{")) continue;
    const size_t close = line.rfind("} ");
    if (close == absl::string_view::npos) continue;
    const absl::string_view labels = line.substr(name.size(), close - name.size() + 1);
    bool all = true;
    for (const std::string& pair : label_pairs) all = all && absl::StrContains(labels, pair);
    int64_t value = 0;
    if (!all || !absl::SimpleAtoi(line.substr(close + 2), &value)) continue;
    sum = std::max<int64_t>(sum, 0) + value;
  }
  return sum;
}

// The Prometheus text of a server, through the admin RPC.
inline std::string Metrics(Client& client) {
  grpc::ClientContext context;
  Client::Deadline(context);
  catalog::admin::v1::GetMetricsResponse response;
  REQUIRE(client.admin->GetMetrics(&context, {}, &response).ok());
  return response.text();
}

inline int64_t Metric(Client& client, const std::string& name) { return MetricIn(Metrics(client), name); }

// Polls `done` until it holds (true) or `timeout` passes (false): a bound
// for waiting on a server, not a claim about its speed.
inline bool Eventually(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(30),
                       absl::Duration poll = absl::Milliseconds(50)) {
  const absl::Time until = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > until) return false;
    absl::SleepFor(poll);
  }
  return true;
}

// Sends `request` (whole, asking the server to close) on a new loopback
// connection to `port` and returns all it answers; nullopt if the
// connection is refused. A server that never answers fails the test after
// `timeout`, not the suite.
inline std::optional<std::string> HttpExchange(int port, const std::string& request, int timeout_seconds = 10) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return std::nullopt;
  }
  const timeval timeout{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  REQUIRE(write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) response.append(buffer, static_cast<size_t>(n));
  close(fd);
  return response;
}

inline std::string HttpGet(int port, const std::string& path) {
  std::optional<std::string> response =
      HttpExchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  REQUIRE(response.has_value());
  return *response;
}

}  // namespace catalog
