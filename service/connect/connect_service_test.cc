#include "service/connect/connect_service.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"
#include "catalog/v1/catalog.pb.h"

namespace catalog::service {
namespace {

// Requests refused before any call: the channel is never used.
struct Fixture {
  Fixture(std::vector<std::string> origins = {})
      : service(grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
                {catalog::v1::Product::descriptor()->file()->FindServiceByName("CatalogService")},
                ConnectOptions{std::move(origins)}, &metrics) {}

  HttpResponse Call(HttpRequest request) {
    HttpResponse got;
    bool answered = false;
    service.Handle(std::move(request), [&](HttpResponse r) {
      got = std::move(r);
      answered = true;
    });
    REQUIRE(answered);
    return got;
  }
  storage::Metrics metrics;
  ConnectService service;
};

HttpRequest Post(std::string path, std::string content_type, std::string body = "") {
  HttpRequest request;
  request.method = "POST";
  request.path = std::move(path);
  request.headers.emplace_back("content-type", std::move(content_type));
  request.body = std::move(body);
  return request;
}

std::optional<std::string> HeaderOf(const HttpResponse& r, absl::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

TEST_CASE("Connect codes and HTTP statuses follow the protocol's table", "[connect]") {
  const std::tuple<grpc::StatusCode, const char*, int> table[] = {
      {grpc::StatusCode::CANCELLED, "canceled", 499},
      {grpc::StatusCode::UNKNOWN, "unknown", 500},
      {grpc::StatusCode::INVALID_ARGUMENT, "invalid_argument", 400},
      {grpc::StatusCode::DEADLINE_EXCEEDED, "deadline_exceeded", 504},
      {grpc::StatusCode::NOT_FOUND, "not_found", 404},
      {grpc::StatusCode::ALREADY_EXISTS, "already_exists", 409},
      {grpc::StatusCode::PERMISSION_DENIED, "permission_denied", 403},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, "resource_exhausted", 429},
      {grpc::StatusCode::FAILED_PRECONDITION, "failed_precondition", 400},
      {grpc::StatusCode::ABORTED, "aborted", 409},
      {grpc::StatusCode::OUT_OF_RANGE, "out_of_range", 400},
      {grpc::StatusCode::UNIMPLEMENTED, "unimplemented", 501},
      {grpc::StatusCode::INTERNAL, "internal", 500},
      {grpc::StatusCode::UNAVAILABLE, "unavailable", 503},
      {grpc::StatusCode::DATA_LOSS, "data_loss", 500},
      {grpc::StatusCode::UNAUTHENTICATED, "unauthenticated", 401},
  };
  for (const auto& [code, name, status] : table) {
    CHECK(ConnectCodeName(code) == name);
    CHECK(ConnectHttpStatus(code) == status);
  }
}

TEST_CASE("Connect: requests refused before a call get a precise status, code and message", "[connect]") {
  Fixture f;
  HttpResponse r = f.Call(Post("/catalog.v1.CatalogService/Nope", "application/json"));
  CHECK(r.status == 404);
  CHECK(absl::StartsWith(r.body, "{\"code\":\"unimplemented\",\"message\":\"no method at "
                                 "/catalog.v1.CatalogService/Nope; served: "));
  CHECK(absl::StrContains(r.body, "/catalog.v1.CatalogService/BatchGetProducts"));

  HttpRequest get = Post("/catalog.v1.CatalogService/GetProduct", "application/json");
  get.method = "GET";
  r = f.Call(std::move(get));
  CHECK(r.status == 405);
  CHECK(HeaderOf(r, "allow") == "POST");

  r = f.Call(Post("/catalog.v1.CatalogService/GetProduct", "application/grpc"));
  CHECK(r.status == 415);
  CHECK(HeaderOf(r, "accept-post") == "application/json, application/proto");
  r = f.Call(Post("/catalog.v1.CatalogService/GetProduct", "application/connect+proto"));
  CHECK(r.status == 415);
  r = f.Call(Post("/catalog.v1.CatalogService/GetProduct", "application/json; charset=latin1"));
  CHECK(r.status == 415);

  HttpRequest gzip = Post("/catalog.v1.CatalogService/GetProduct", "application/proto");
  gzip.headers.emplace_back("content-encoding", "gzip");
  r = f.Call(std::move(gzip));
  CHECK(r.status == 501);
  CHECK(HeaderOf(r, "accept-encoding") == "identity");

  HttpRequest version = Post("/catalog.v1.CatalogService/GetProduct", "application/proto");
  version.headers.emplace_back("connect-protocol-version", "2");
  r = f.Call(std::move(version));
  CHECK(r.status == 400);
  CHECK(r.body == "{\"code\":\"invalid_argument\",\"message\":\"Connect-Protocol-Version \\\"2\\\" is not supported; "
                  "send 1\"}");

  for (const char* bad : {"", "0", "-1", "1.5", "12345678901", "abc"}) {
    HttpRequest timeout = Post("/catalog.v1.CatalogService/GetProduct", "application/proto");
    timeout.headers.emplace_back("connect-timeout-ms", bad);
    r = f.Call(std::move(timeout));
    INFO(bad);
    CHECK(r.status == 400);
    CHECK(absl::StrContains(r.body, "Connect-Timeout-Ms"));
  }

  r = f.Call(Post("/catalog.v1.CatalogService/GetProduct", "application/json", "{\"id\": 5, \"nope\": 1}"));
  CHECK(r.status == 400);
  CHECK(absl::StartsWith(r.body, "{\"code\":\"invalid_argument\",\"message\":\"request body is not a valid JSON "
                                 "catalog.v1.GetProductRequest: "));
  r = f.Call(Post("/catalog.v1.CatalogService/GetProduct", "application/json", "{\"unknownField\": 1}"));
  CHECK(r.status == 400);
  CHECK(f.metrics.Get(storage::Counter::http_rejected_total) == 15);
}

TEST_CASE("Connect CORS: off by default, listed origins only, preflights answered", "[connect]") {
  HttpRequest preflight;
  preflight.method = "OPTIONS";
  preflight.path = "/catalog.v1.CatalogService/GetProduct";
  preflight.headers.emplace_back("origin", "https://shop.example");
  preflight.headers.emplace_back("access-control-request-method", "POST");
  {
    Fixture off;
    HttpResponse r = off.Call(preflight);
    CHECK(r.status == 403);
    CHECK_FALSE(HeaderOf(r, "access-control-allow-origin").has_value());
    HttpRequest post = Post("/catalog.v1.CatalogService/Nope", "application/json");
    post.headers.emplace_back("origin", "https://shop.example");
    CHECK_FALSE(HeaderOf(off.Call(std::move(post)), "access-control-allow-origin").has_value());
  }
  Fixture on({"https://shop.example"});
  HttpResponse r = on.Call(preflight);
  CHECK(r.status == 204);
  CHECK(HeaderOf(r, "access-control-allow-origin") == "https://shop.example");
  CHECK(HeaderOf(r, "access-control-allow-methods") == "POST");
  CHECK(absl::StrContains(*HeaderOf(r, "access-control-allow-headers"), "connect-timeout-ms"));
  HttpRequest other = preflight;
  other.headers[0].second = "https://evil.example";
  CHECK(on.Call(other).status == 403);
  // Error answers carry the CORS headers too, so the browser shows the error.
  HttpRequest post = Post("/catalog.v1.CatalogService/Nope", "application/json");
  post.headers.emplace_back("origin", "https://shop.example");
  r = on.Call(std::move(post));
  CHECK(r.status == 404);
  CHECK(HeaderOf(r, "access-control-allow-origin") == "https://shop.example");
  CHECK(absl::StrContains(*HeaderOf(r, "access-control-expose-headers"), "trailer-x-request-id"));
}

}  // namespace
}  // namespace catalog::service
