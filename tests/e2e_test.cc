// End-to-end: the real catalog-server binary over a real gRPC channel, on a
// real redis-server and MariaDB started by the harness.
#include <arpa/inet.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "catalog/admin/v1/admin.grpc.pb.h"
#include "catalog/v1/catalog.grpc.pb.h"
#include "catalog/v2/catalog.grpc.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/e2e_support.h"
#include "tests/harness/harness.h"

namespace catalog {
namespace {

TEST_CASE("upsert, get, batch get in request order, delete") {
  Stack s;
  UpsertProductsResponse upserted;
  REQUIRE(s.client.Upsert({MakeProduct("a", "A"), MakeProduct("b", "B")}, &upserted).ok());
  REQUIRE(upserted.products_size() == 2);
  CHECK(upserted.products(0).version() == 1);
  CHECK(upserted.products(0).update_time().seconds() > 0);

  Product got;
  REQUIRE(s.client.Get("a", &got).ok());
  CHECK(got.title() == "A");
  CHECK(got.attributes().at("color") == "red");
  CHECK(got.version() == 1);

  BatchGetProductsResponse batch;
  REQUIRE(s.client.BatchGet({"b", "unknown", "a"}, &batch).ok());
  REQUIRE(batch.products_size() == 2);
  CHECK(batch.products(0).id() == "b");
  CHECK(batch.products(1).id() == "a");
  CHECK(batch.missing_ids_size() == 1);
  CHECK(batch.missing_ids(0) == "unknown");

  Product again = MakeProduct("a", "A2");
  again.set_version(1);
  REQUIRE(s.client.Upsert({again}, &upserted).ok());
  CHECK(upserted.products(0).version() == 2);

  DeleteProductsResponse deleted;
  REQUIRE(s.client.Delete({"a", "unknown"}, &deleted).ok());
  CHECK(deleted.deleted_count() == 1);
  grpc::Status status = s.client.Get("a", &got);
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_message() == "product \"a\" not found");
}

TEST_CASE("a stale version fails the whole upsert with ABORTED and writes nothing") {
  Stack s;
  REQUIRE(s.client.Upsert({MakeProduct("a", "A")}).ok());
  Product fresh = MakeProduct("new", "N");
  Product stale = MakeProduct("a", "stale");
  stale.set_version(5);
  grpc::Status status = s.client.Upsert({fresh, stale});
  CHECK(status.error_code() == grpc::StatusCode::ABORTED);
  CHECK(status.error_message() ==
        "products[1].version: 5 does not match the stored version 1 of id \"a\"; nothing was written");
  Product got;
  CHECK(s.client.Get("new", &got).error_code() == grpc::StatusCode::NOT_FOUND);
  REQUIRE(s.client.Get("a", &got).ok());
  CHECK(got.title() == "A");
}

TEST_CASE("bad input gets INVALID_ARGUMENT naming the field and index") {
  Stack s({"--max_batch_size=5"});
  BatchGetProductsResponse batch;
  grpc::Status status = s.client.BatchGet({}, &batch);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "ids: must not be empty");
  status = s.client.BatchGet(Ids("x", 6), &batch);
  CHECK(status.error_message() == "ids: 6 ids exceed the limit of 5");
  status = s.client.BatchGet({"ok", "o k"}, &batch);
  CHECK(status.error_message() == "ids[1]: \"o k\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");
  status = s.client.BatchGet({"a", "b", "a"}, &batch);
  CHECK(status.error_message() == "ids[2]: duplicate of ids[0] \"a\"");

  Product bad = MakeProduct("p");
  bad.mutable_price()->set_currency_code("euro");
  status = s.client.Upsert({MakeProduct("q"), bad});
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() ==
        "products[1].price.currency_code: \"euro\" is not a 3-letter upper-case ISO 4217 code");
  Product got;
  CHECK(s.client.Get("q", &got).error_code() == grpc::StatusCode::NOT_FOUND);  // Nothing partial.

  DeleteProductsResponse deleted;
  status = s.client.Delete({"a", "a"}, &deleted);
  CHECK(status.error_message() == "ids[1]: duplicate of ids[0] \"a\"");
  status = s.client.Get(std::string(200, 'x'), &got);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("malformed request bytes are rejected and the server keeps serving") {
  Stack s;
  grpc::GenericStub generic(s.client.channel);
  grpc::ClientContext context;
  Client::Deadline(context);
  const std::string garbage = "\xff\xff\xff\xff\x0f garbage";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  std::promise<grpc::Status> done;
  grpc::ByteBuffer response;
  generic.UnaryCall(&context, "/catalog.v1.CatalogService/BatchGetProducts", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "request body is not a valid catalog.v1.BatchGetProductsRequest message");
  BatchGetProductsResponse batch;
  CHECK(s.client.BatchGet({"a"}, &batch).ok());
}

TEST_CASE("batch reads: one MGET, no SQL when hot, one SELECT for cold misses") {
  Stack s({"--max_call_ms=1000"});
  const auto ids = Ids("p", 100);
  std::vector<Product> products;
  for (const std::string& id : ids) products.push_back(MakeProduct(id));
  REQUIRE(s.client.Upsert(products).ok());

  s.redis.ResetStats();
  long long selects = s.mysql.client().ComSelect();
  BatchGetProductsResponse batch;
  REQUIRE(s.client.BatchGet(ids, &batch).ok());
  CHECK(batch.products_size() == 100);
  CHECK(s.redis.CommandCalls("mget") == 1);
  CHECK(s.mysql.client().ComSelect() - selects == 0);

  CHECK(s.client.Demote(0).demoted() == 100);
  s.redis.ResetStats();
  selects = s.mysql.client().ComSelect();
  batch.Clear();
  REQUIRE(s.client.BatchGet(ids, &batch).ok());
  CHECK(batch.products_size() == 100);
  CHECK(batch.products(42).id() == "p42");
  CHECK(s.redis.CommandCalls("mget") == 2);   // Records, then the misses' fences.
  CHECK(s.redis.CommandCalls("eval") == 1);   // One fenced write-back script...
  CHECK(s.redis.CommandCalls("set") == 100);  // ...storing all 100.
  CHECK(s.mysql.client().ComSelect() - selects == 1);
}

// The service names reflection on `channel` lists.
std::set<std::string> ReflectedServices(const std::shared_ptr<grpc::Channel>& channel) {
  using namespace grpc::reflection::v1alpha;
  auto stub = ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  Client::Deadline(context);
  auto stream = stub->ServerReflectionInfo(&context);
  ServerReflectionRequest request;
  request.set_list_services("*");
  REQUIRE(stream->Write(request));
  ServerReflectionResponse response;
  REQUIRE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& service : response.list_services_response().service()) names.insert(service.name());
  stream->WritesDone();
  return names;
}

TEST_CASE("reflection lists the public services on the public port, the admin service on the admin plane only") {
  Stack s;
  const std::set<std::string> names = ReflectedServices(s.client.channel);
  CHECK(names == std::set<std::string>{"catalog.v1.CatalogService", "catalog.v2.CatalogService",
                                       "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"});
  CHECK(ReflectedServices(s.client.admin_channel) ==
        std::set<std::string>{"catalog.admin.v1.CatalogAdminService", "grpc.health.v1.Health",
                              "grpc.reflection.v1alpha.ServerReflection"});

  using namespace grpc::reflection::v1alpha;
  auto stub = ServerReflection::NewStub(s.client.channel);
  grpc::ClientContext context;
  Client::Deadline(context);
  auto stream = stub->ServerReflectionInfo(&context);
  ServerReflectionRequest request;
  ServerReflectionResponse response;
  for (const std::string symbol : {"grpc.health.v1.Health", "catalog.v1.CatalogService"}) {
    request.set_file_containing_symbol(symbol);
    REQUIRE(stream->Write(request));
    REQUIRE(stream->Read(&response));
    INFO(symbol);
    CHECK(response.file_descriptor_response().file_descriptor_proto_size() >= 1);
  }
  stream->WritesDone();
}

TEST_CASE("health check reports SERVING") {
  Stack s;
  auto stub = grpc::health::v1::Health::NewStub(s.client.channel);
  grpc::ClientContext context;
  Client::Deadline(context);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  REQUIRE(stub->Check(&context, request, &response).ok());
  CHECK(response.status() == grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_CASE("Redis down: UNAVAILABLE inside a 1 s deadline, then recovery without restart") {
  Stack s;
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  s.redis.Stop();
  BatchGetProductsResponse batch;
  for (int i = 0; i < 3; ++i) {  // Each call, not only the first.
    grpc::Status status = s.client.BatchGet({"a"}, &batch, absl::Seconds(1));
    INFO(status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  CHECK(s.client.Upsert({MakeProduct("b")}).error_code() == grpc::StatusCode::UNAVAILABLE);
  // Operators see why in the log: method, code, and Redis's own words.
  const std::string log = s.server.Log();
  INFO(log);
  CHECK(log.find("\"level\":\"warning\",\"channel\":\"rpc\",\"request_id\":") != std::string::npos);
  CHECK(log.find("\"msg\":\"catalog.v1.CatalogService/BatchGetProducts UNAVAILABLE: ") != std::string::npos);
  CHECK(log.find("Connection refused") != std::string::npos);
  s.redis.Start();  // Empty again: this test Redis keeps no data.
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  batch.Clear();
  grpc::Status status = s.client.BatchGet({"a"}, &batch, absl::Seconds(1));
  INFO(status.error_message());
  CHECK(status.ok());
  CHECK(batch.products_size() == 1);
}

TEST_CASE("MySQL down: hot batches succeed, cold ones fail UNAVAILABLE, then recovery") {
  RedisServer redis;
  PrivateMySql mysql;
  CatalogServerProcess server(redis.port(), mysql.port(), mysql.database(), {"--max_call_ms=1000"});
  Client client(server);
  REQUIRE(client.Upsert({MakeProduct("cold")}).ok());
  absl::SleepFor(absl::Milliseconds(3100));
  REQUIRE(client.Demote(2).demoted() == 1);
  REQUIRE(client.Upsert({MakeProduct("hot")}).ok());

  mysql.Stop();
  BatchGetProductsResponse batch;
  grpc::Status status = client.BatchGet({"hot"}, &batch, absl::Seconds(1));
  CHECK(status.ok());
  status = client.BatchGet({"hot", "cold"}, &batch, absl::Seconds(1));
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::UNAVAILABLE);

  mysql.Start();
  batch.Clear();
  status = client.BatchGet({"hot", "cold"}, &batch, absl::Seconds(5));
  INFO(status.error_message());
  CHECK(status.ok());
  CHECK(batch.products_size() == 2);
}

TEST_CASE("slow Redis: the call ends at its deadline and the server stays healthy") {
  Stack s;
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  s.redis.Command({"CLIENT", "PAUSE", "3000"});
  BatchGetProductsResponse batch;
  grpc::Status status = s.client.BatchGet({"a"}, &batch, absl::Milliseconds(500));
  INFO(status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED);
  s.redis.Command({"CLIENT", "UNPAUSE"});
  batch.Clear();
  status = s.client.BatchGet({"a"}, &batch, absl::Seconds(5));
  INFO(status.error_message());
  CHECK(status.ok());
  CHECK(batch.products_size() == 1);
}

TEST_CASE("slow MySQL: a cold read ends at its deadline, hot reads are unaffected") {
  Stack s({"--max_call_ms=1000"});
  REQUIRE(s.client.Upsert({MakeProduct("cold")}).ok());
  absl::SleepFor(absl::Milliseconds(3100));
  REQUIRE(s.client.Demote(2).demoted() == 1);
  REQUIRE(s.client.Upsert({MakeProduct("hot")}).ok());
  // Another session holds the table: the server's SELECT waits on the lock.
  s.mysql.client().Execute("LOCK TABLES products WRITE");
  BatchGetProductsResponse batch;
  grpc::Status status = s.client.BatchGet({"hot", "cold"}, &batch, absl::Milliseconds(700));
  INFO(status.error_message());
  CHECK((status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         status.error_code() == grpc::StatusCode::UNAVAILABLE));
  batch.Clear();
  CHECK(s.client.BatchGet({"hot"}, &batch, absl::Milliseconds(700)).ok());
  s.mysql.client().Execute("UNLOCK TABLES");
  batch.Clear();
  status = s.client.BatchGet({"hot", "cold"}, &batch, absl::Seconds(5));
  INFO(status.error_message());
  CHECK(status.ok());
  CHECK(batch.products_size() == 2);
}

TEST_CASE("SIGTERM: in-flight calls finish, then the server exits 0") {
  Stack s({"--redis_command_timeout_ms=5000"});
  REQUIRE(s.client.Upsert({MakeProduct("a")}).ok());
  // Hold every Redis command for a while (less than redis_command_timeout_ms)
  // so a call is surely in flight.
  s.redis.Command({"CLIENT", "PAUSE", "1500"});
  auto in_flight = std::async(std::launch::async, [&] {
    BatchGetProductsResponse batch;
    grpc::Status status = s.client.BatchGet({"a"}, &batch, absl::Seconds(10));
    return std::make_pair(status, batch.products_size());
  });
  absl::SleepFor(absl::Milliseconds(500));
  kill(s.server.process().pid(), SIGTERM);
  auto [status, found] = in_flight.get();
  INFO(status.error_message());
  CHECK(status.ok());
  CHECK(found == 1);
  CHECK(s.server.Terminate() == 0);
}

TEST_CASE("metrics are served over HTTP for Prometheus and pass promtool") {
  const int metrics_port = catalog::testing::FreePort();
  Stack s({"--metrics_listen_address=127.0.0.1:" + std::to_string(metrics_port)});
  BatchGetProductsResponse batch;
  REQUIRE(s.client.BatchGet({"a"}, &batch).ok());
  const std::string response = HttpGet(metrics_port, "/metrics");
  INFO(response.substr(0, 300));
  REQUIRE(response.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(response.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  const std::string body = response.substr(response.find("\r\n\r\n") + 4);
  CHECK(body.find("catalog_rpc_requests_total 1\n") != std::string::npos);
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                           catalog::testing::UniqueName("http_metrics") + ".txt";
  std::ofstream(path) << body;
  CHECK(std::system(("promtool check metrics < " + path + " > /dev/null 2>&1").c_str()) == 0);
  CHECK(HttpGet(metrics_port, "/other").rfind("HTTP/1.1 404", 0) == 0);
}

TEST_CASE("labelled metrics tell v1 from v2, codes, backend operations and pools apart, matching Redis's count") {
  Stack s;
  s.redis.ResetStats();
  // s.client speaks catalog.v1.
  BatchGetProductsResponse batch;
  for (int i = 0; i < 3; ++i) REQUIRE(s.client.BatchGet({"a", "b"}, &batch).ok());  // misses: MGET, then SELECT
  Product got;
  REQUIRE(s.client.Get(std::string(200, 'x'), &got).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  auto v2 = catalog::v2::CatalogService::NewStub(s.client.channel);
  {
    grpc::ClientContext context;
    Client::Deadline(context);
    catalog::v2::BatchGetProductsRequest request;
    request.add_ids("c");
    catalog::v2::BatchGetProductsResponse response;
    REQUIRE(v2->BatchGetProducts(&context, request, &response).ok());
  }
  const std::string text = Metrics(s.client);
  INFO(text);
  auto rpc = [&](const std::string& service, const std::string& method, const std::string& code) {
    return MetricIn(text, absl::StrCat("catalog_rpc_duration_seconds_count{service=\"", service, "\",method=\"", method,
                                       "\",code=\"", code, "\"}"));
  };
  CHECK(rpc("catalog.v2.CatalogService", "BatchGetProducts", "OK") == 1);
  CHECK(rpc("catalog.v1.CatalogService", "GetProduct", "INVALID_ARGUMENT") == 1);
  CHECK(rpc("catalog.v1.CatalogService", "BatchGetProducts", "OK") == 3);
  CHECK(rpc("catalog.v1.CatalogService", "BatchGetProducts", "INTERNAL") == -1);  // only codes that happened
  // Every MGET the server sent, by its own count, is one Redis counted.
  const int64_t mgets = SumOf(text, "catalog_redis_command_duration_seconds_count", {"operation=\"MGET\""});
  CHECK(mgets >= 4);
  CHECK(mgets == s.redis.CommandCalls("mget"));
  CHECK(SumOf(text, "catalog_mysql_statement_duration_seconds_count", {"operation=\"SELECT\""}) >= 4);
  CHECK(SumOf(text, "catalog_redis_command_errors_total", {}) <= 0);  // none failed
  CHECK(SumOf(text, "catalog_pool_connections", {"state=\"open\""}) >= 1);
  // Nothing leased but perhaps the INFO poll's connection.
  CHECK(SumOf(text, "catalog_pool_connections", {"state=\"in_use\""}) >= 0);
  CHECK(SumOf(text, "catalog_pool_connections", {"state=\"in_use\""}) <= 1);
  CHECK(SumOf(text, "catalog_pool_max_connections", {}) >= 2);
  CHECK(SumOf(text, "catalog_build_info", {"version=\"", "revision=\"", "grpc=\"1."}) == 1);
  CHECK(MetricIn(text, "process_resident_memory_bytes") > 1'000'000);
  CHECK(MetricIn(text, "process_open_fds") > 3);
  CHECK(MetricIn(text, "process_threads") > 2);
}

TEST_CASE("admin metrics are exported as Prometheus text") {
  Stack s;
  BatchGetProductsResponse batch;
  REQUIRE(s.client.BatchGet({"a"}, &batch).ok());
  grpc::ClientContext context;
  Client::Deadline(context);
  catalog::admin::v1::GetMetricsResponse metrics;
  REQUIRE(s.client.admin->GetMetrics(&context, {}, &metrics).ok());
  CHECK(metrics.text().find("catalog_rpc_requests_total 1\n") != std::string::npos);
  CHECK(metrics.text().find("catalog_read_misses_total 1\n") != std::string::npos);

  // Prometheus's own linter accepts the exposition.
  const std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/" +
                           catalog::testing::UniqueName("metrics") + ".txt";
  std::ofstream(path) << metrics.text();
  const std::string command = "promtool check metrics < " + path + " > " + path + ".out 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(path + ".out");
  const std::string promtool_output((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  INFO("promtool: " << promtool_output);
  CHECK(rc == 0);
  CHECK(promtool_output.empty());
}

grpc::ClientContext* WithDeadline(grpc::ClientContext* context) {
  Client::Deadline(*context);
  return context;
}

TEST_CASE("a product written through v2 reads the same through v1") {
  Stack s;
  auto v2 = catalog::v2::CatalogService::NewStub(s.client.channel);
  catalog::v2::UpsertProductsRequest upsert;
  catalog::v2::Product* p = upsert.add_products();
  p->set_id("cross-2");
  p->set_sku("SKU-X");
  p->set_title("Written by v2");
  p->mutable_price()->set_currency_code("CHF");
  p->mutable_price()->set_amount_minor(995);
  p->set_stock_quantity(3);
  (*p->mutable_attributes())["material"] = "wool";
  p->add_category_ids("knitwear");
  catalog::v2::UpsertProductsResponse stored;
  grpc::ClientContext context;
  REQUIRE(v2->UpsertProducts(WithDeadline(&context), upsert, &stored).ok());
  REQUIRE(stored.products_size() == 1);
  CHECK(stored.products(0).version() == 1);

  Product via_v1;
  REQUIRE(s.client.Get("cross-2", &via_v1).ok());
  CHECK(via_v1.title() == "Written by v2");
  CHECK(via_v1.price().currency_code() == "CHF");
  CHECK(via_v1.price().amount_minor() == 995);
  CHECK(via_v1.attributes().at("material") == "wool");
  CHECK(via_v1.category_ids(0) == "knitwear");
  CHECK(via_v1.version() == 1);
  CHECK(via_v1.SerializeAsString() == stored.products(0).SerializeAsString());  // Same bytes, both ways.
}

TEST_CASE("a product written through v1 reads through v2, with read masks and per-id results") {
  Stack s;
  REQUIRE(s.client.Upsert({MakeProduct("cross-1", "Written by v1")}).ok());
  auto v2 = catalog::v2::CatalogService::NewStub(s.client.channel);

  catalog::v2::GetProductRequest get;
  get.set_id("cross-1");
  catalog::v2::Product full;
  grpc::ClientContext c1;
  REQUIRE(v2->GetProduct(WithDeadline(&c1), get, &full).ok());
  Product v1_copy;
  REQUIRE(s.client.Get("cross-1", &v1_copy).ok());
  CHECK(full.SerializeAsString() == v1_copy.SerializeAsString());

  catalog::v2::BatchGetProductsRequest batch;
  batch.add_ids("nope");
  batch.add_ids("cross-1");
  batch.mutable_read_mask()->add_paths("id");
  batch.mutable_read_mask()->add_paths("title");
  batch.mutable_read_mask()->add_paths("price");
  catalog::v2::BatchGetProductsResponse results;
  grpc::ClientContext c2;
  REQUIRE(v2->BatchGetProducts(WithDeadline(&c2), batch, &results).ok());
  REQUIRE(results.results_size() == 2);
  CHECK(results.results(0).id() == "nope");
  CHECK(results.results(0).has_not_found());
  CHECK(results.results(1).id() == "cross-1");
  REQUIRE(results.results(1).has_product());
  const catalog::v2::Product& trimmed = results.results(1).product();
  CHECK(trimmed.title() == "Written by v1");
  CHECK(trimmed.price().amount_minor() == 1999);
  CHECK(trimmed.description().empty());  // Not in the mask.
  CHECK(trimmed.attributes().empty());
  CHECK(trimmed.version() == 0);

  batch.mutable_read_mask()->add_paths("colour");
  grpc::ClientContext c3;
  grpc::Status status = v2->BatchGetProducts(WithDeadline(&c3), batch, &results);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "read_mask.paths[3]: \"colour\" is not a field of catalog.v2.Product");

  catalog::v2::DeleteProductsRequest del;
  del.add_ids("cross-1");
  catalog::v2::DeleteProductsResponse deleted;
  grpc::ClientContext c4;
  REQUIRE(v2->DeleteProducts(WithDeadline(&c4), del, &deleted).ok());
  CHECK(deleted.deleted_count() == 1);
  CHECK(s.client.Get("cross-1", &v1_copy).error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("a v2 upsert retried with the same request_id is applied once") {
  Stack s;
  auto v2 = catalog::v2::CatalogService::NewStub(s.client.channel);
  catalog::v2::UpsertProductsRequest request;
  request.set_request_id("req-7f3a");
  catalog::v2::Product* p = request.add_products();
  p->set_id("once");
  p->set_sku("S");
  p->set_title("Applied once");
  p->mutable_price()->set_currency_code("EUR");
  catalog::v2::UpsertProductsResponse first, retry;
  grpc::ClientContext c1, c2;
  REQUIRE(v2->UpsertProducts(WithDeadline(&c1), request, &first).ok());
  REQUIRE(v2->UpsertProducts(WithDeadline(&c2), request, &retry).ok());
  CHECK(first.products(0).version() == 1);
  CHECK(retry.SerializeAsString() == first.SerializeAsString());  // The recorded result, not a new write.
  Product stored;
  REQUIRE(s.client.Get("once", &stored).ok());
  CHECK(stored.version() == 1);
  // The log entry has no TTL (volatile-lru cannot evict it); the service
  // expires it after request_ttl_s through the expiry set.
  CHECK(s.redis.Command({"TTL", "request:req-7f3a"})->integer == -1);
  CHECK(s.redis.Command({"ZSCORE", "request-expiry", "request:req-7f3a"})->type == REDIS_REPLY_STRING);
  CHECK(s.redis.Command({"TTL", "product:once"})->integer == -1);  // Products never expire.

  p->set_title("Something else");
  grpc::ClientContext c3;
  grpc::Status status = v2->UpsertProducts(WithDeadline(&c3), request, &retry);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "request_id: \"req-7f3a\" was already used for a different request");

  request.set_request_id("not valid");
  grpc::ClientContext c4;
  status = v2->UpsertProducts(WithDeadline(&c4), request, &retry);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "request_id: \"not valid\" is not a valid id (^[A-Za-z0-9._:-]{1,128}$)");

  // A call that failed is forgotten: its retry is applied.
  request.set_request_id("req-conflict");
  p->set_version(5);
  grpc::ClientContext c5;
  CHECK(v2->UpsertProducts(WithDeadline(&c5), request, &retry).error_code() == grpc::StatusCode::ABORTED);
  p->set_version(1);
  grpc::ClientContext c6;
  REQUIRE(v2->UpsertProducts(WithDeadline(&c6), request, &retry).ok());
  CHECK(retry.products(0).version() == 2);
}

TEST_CASE("v2 ListProducts pages through a category, following moves and deletes") {
  Stack s;
  auto v2 = catalog::v2::CatalogService::NewStub(s.client.channel);
  std::vector<Product> products;
  for (const char* id : {"s1", "s2", "s3", "s4", "s5"}) products.push_back(MakeProduct(id));  // MakeProduct: "shoes".
  Product both = MakeProduct("b1");
  both.add_category_ids("hats");
  products.push_back(both);
  Product hat = MakeProduct("h1");
  hat.clear_category_ids();
  hat.add_category_ids("hats");
  products.push_back(hat);
  REQUIRE(s.client.Upsert(products).ok());

  auto list_all = [&](const std::string& category, int page_size, std::vector<std::string>* pages_seen) {
    std::vector<std::string> ids;
    std::string token;
    for (int page = 0; page < 20; ++page) {
      catalog::v2::ListProductsRequest request;
      request.set_category_id(category);
      request.set_page_size(page_size);
      request.set_page_token(token);
      request.mutable_read_mask()->add_paths("id");
      catalog::v2::ListProductsResponse response;
      grpc::ClientContext context;
      grpc::Status status = v2->ListProducts(WithDeadline(&context), request, &response);
      INFO(status.error_message());
      REQUIRE(status.ok());
      std::string seen;
      for (const auto& p : response.products()) {
        CHECK(p.title().empty());  // Trimmed to the mask.
        ids.push_back(p.id());
        seen += p.id() + " ";
      }
      if (pages_seen != nullptr) pages_seen->push_back(seen);
      token = response.next_page_token();
      if (token.empty()) break;
    }
    return ids;
  };
  std::vector<std::string> pages;
  CHECK(list_all("shoes", 2, &pages) == std::vector<std::string>{"b1", "s1", "s2", "s3", "s4", "s5"});
  CHECK(pages.front() == "b1 s1 ");
  CHECK(list_all("hats", 0, nullptr) == std::vector<std::string>{"b1", "h1"});

  Product moved = MakeProduct("s2");
  moved.clear_category_ids();
  moved.add_category_ids("hats");
  REQUIRE(s.client.Upsert({moved}).ok());
  DeleteProductsResponse deleted;
  REQUIRE(s.client.Delete({"s3"}, &deleted).ok());
  CHECK(list_all("shoes", 2, nullptr) == std::vector<std::string>{"b1", "s1", "s4", "s5"});
  CHECK(list_all("hats", 1, nullptr) == std::vector<std::string>{"b1", "h1", "s2"});

  catalog::v2::ListProductsRequest request;
  request.set_category_id("shoes");
  request.set_page_size(1);
  catalog::v2::ListProductsResponse response;
  grpc::ClientContext c1;
  REQUIRE(v2->ListProducts(WithDeadline(&c1), request, &response).ok());
  REQUIRE_FALSE(response.next_page_token().empty());
  request.set_category_id("hats");
  request.set_page_token(response.next_page_token());
  grpc::ClientContext c2;
  grpc::Status status = v2->ListProducts(WithDeadline(&c2), request, &response);
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message() == "page_token: belongs to category \"shoes\", not \"hats\"");
  request.set_page_token("garbage!");
  grpc::ClientContext c3;
  CHECK(v2->ListProducts(WithDeadline(&c3), request, &response).error_message() ==
        "page_token: not a token returned by ListProducts");
  request.set_page_token("");
  request.set_page_size(-1);
  grpc::ClientContext c4;
  CHECK(v2->ListProducts(WithDeadline(&c4), request, &response).error_message() == "page_size: -1 must be >= 0");
}

}  // namespace
}  // namespace catalog
