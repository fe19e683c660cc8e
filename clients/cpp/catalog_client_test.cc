// CatalogClient against the real catalog-server (harness-started Redis,
// MariaDB and server binary).
#include "clients/cpp/catalog_client.h"

#include <catch2/catch.hpp>

#include "absl/strings/str_cat.h"
#include "catalog/admin/v1/admin.grpc.pb.h"
#include "tests/harness/harness.h"

namespace catalog::client {
namespace {

using catalog::v1::Product;

Product MakeProduct(const std::string& id) {
  Product p;
  p.set_id(id);
  p.set_sku("SKU-" + id);
  p.set_title("Title " + id);
  p.mutable_price()->set_currency_code("EUR");
  p.mutable_price()->set_amount_minor(100);
  return p;
}

struct Stack {
  testing::RedisServer redis;
  testing::SharedMySql mysql;
  testing::CatalogServerProcess server;
  explicit Stack(std::vector<std::string> flags = {})
      : server(redis.port(), mysql.port(), mysql.database(), std::move(flags)) {}
  ClientOptions Options() const {
    ClientOptions options;
    options.target = server.target();
    return options;
  }
  int64_t ServerCalls() {
    auto admin = catalog::admin::v1::CatalogAdminService::NewStub(
        grpc::CreateChannel(server.admin_target(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    catalog::admin::v1::GetMetricsResponse metrics;
    REQUIRE(admin->GetMetrics(&context, {}, &metrics).ok());
    const std::string key = "\ncatalog_rpc_requests_total ";  // The sample, not its HELP line.
    return std::stoll(metrics.text().substr(metrics.text().find(key) + key.size()));
  }
};

TEST_CASE("client: id lists over the server limit are split, sent in parallel and merged in order") {
  Stack s({"--max_batch_size=5"});
  ClientOptions options = s.Options();
  options.max_batch_size = 5;
  options.max_parallel_batches = 3;
  CatalogClient client(options);
  std::vector<std::string> ids;
  for (int i = 0; i < 23; ++i) ids.push_back(absl::StrCat("p", i));
  for (int start = 0; start < 20; start += 5) {  // p20..p22 stay missing.
    std::vector<Product> chunk;
    for (int i = start; i < start + 5; ++i) chunk.push_back(MakeProduct(ids[i]));
    REQUIRE(client.UpsertProducts(chunk).ok());
  }
  std::swap(ids[3], ids[21]);  // A missing id in the middle of the first batch.
  s.redis.ResetStats();

  absl::StatusOr<BatchResult> result = client.BatchGetProducts(ids);
  REQUIRE(result.ok());
  REQUIRE(result->products.size() == 20);
  std::vector<std::string> expected_order;
  for (const std::string& id : ids) {
    if (id != "p20" && id != "p21" && id != "p22") expected_order.push_back(id);
  }
  for (size_t i = 0; i < expected_order.size(); ++i) CHECK(result->products[i].id() == expected_order[i]);
  CHECK(result->missing_ids == std::vector<std::string>{"p21", "p20", "p22"});
  // ceil(23 / 5) batches of records, plus the fence reads of the two
  // batches holding the missing ids (before asking MySQL for them).
  CHECK(s.redis.CommandCalls("mget") == 5 + 2);
}

TEST_CASE("client: reads are retried on UNAVAILABLE by the service config, then fail with one error type") {
  Stack s;
  ClientOptions options = s.Options();
  options.max_attempts = 4;
  CatalogClient client(options);
  REQUIRE(client.UpsertProducts(std::vector<Product>{MakeProduct("a")}).ok());
  s.redis.Stop();
  const int64_t before = s.ServerCalls();
  absl::StatusOr<BatchResult> result = client.BatchGetProducts(std::vector<std::string>{"a"});
  CHECK(absl::IsUnavailable(result.status()));
  CHECK(s.ServerCalls() - before == 4);  // Every attempt reached the server.

  s.redis.Start();
  REQUIRE(client.UpsertProducts(std::vector<Product>{MakeProduct("a")}).ok());
  CHECK(client.BatchGetProducts(std::vector<std::string>{"a"}).ok());
}

TEST_CASE("client: writes are not retried") {
  Stack s;
  CatalogClient client(s.Options());
  s.redis.Stop();
  const int64_t before = s.ServerCalls();
  CHECK(absl::IsUnavailable(client.UpsertProducts(std::vector<Product>{MakeProduct("a")}).status()));
  CHECK(s.ServerCalls() - before == 1);
}

TEST_CASE("client: every call has a deadline by default") {
  Stack s;
  ClientOptions options = s.Options();
  options.timeout = absl::Milliseconds(300);
  CatalogClient client(options);
  s.redis.Command({"CLIENT", "PAUSE", "2000"});
  absl::StatusOr<std::optional<Product>> product = client.GetProduct("a");
  CHECK(absl::IsDeadlineExceeded(product.status()));
}

TEST_CASE("client: server errors and missing products") {
  Stack s;
  CatalogClient client(s.Options());
  absl::StatusOr<std::optional<Product>> missing = client.GetProduct("nothing");
  REQUIRE(missing.ok());
  CHECK_FALSE(missing->has_value());
  absl::StatusOr<BatchResult> invalid = client.BatchGetProducts(std::vector<std::string>{"ok", "not ok"});
  CHECK(absl::IsInvalidArgument(invalid.status()));
  CHECK(invalid.status().message() == "ids[1]: \"not ok\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  ClientOptions small = s.Options();
  small.max_batch_size = 2;
  CatalogClient splitting(small);
  absl::StatusOr<BatchResult> duplicate = splitting.BatchGetProducts(std::vector<std::string>{"a", "b", "c", "a"});
  CHECK(duplicate.status().message() == "ids[3]: duplicate of ids[0] \"a\"");
  Product stale = MakeProduct("x");
  stale.set_version(3);
  CHECK(absl::IsAborted(client.UpsertProducts(std::vector<Product>{stale}).status()));
  absl::StatusOr<int64_t> deleted = client.DeleteProducts(std::vector<std::string>{"x"});
  REQUIRE(deleted.ok());
  CHECK(*deleted == 0);
}

}  // namespace
}  // namespace catalog::client
