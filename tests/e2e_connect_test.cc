// End-to-end over the Connect listener (--http_listen_address) of the real
// server binary: answers equal to gRPC's in both encodings and both HTTP
// versions, and the same deadlines, admission limit, size limit, request
// ids, metrics and drain, checked with Redis or the server paused in the
// middle of the call.
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/e2e_support.h"

namespace catalog {
namespace {

using catalog::testing::FreePort;

struct HttpAnswer {
  int status = 0;
  std::map<std::string, std::string> headers;  // Lower-case names.
  std::string body;
};

// One HTTP/1.1 POST on its own connection (bounded by a 15 s socket
// timeout); status 0 if the connection is refused.
HttpAnswer Post(int port, const std::string& path, const std::string& content_type, const std::string& body,
                const std::vector<std::string>& headers = {}) {
  std::string request = absl::StrCat("POST ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ", content_type,
                                     "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n");
  for (const std::string& h : headers) absl::StrAppend(&request, h, "\r\n");
  request += "\r\n" + body;
  HttpAnswer answer;
  const std::optional<std::string> exchanged = HttpExchange(port, request, 15);
  if (!exchanged.has_value()) return answer;
  const std::string& response = *exchanged;
  const size_t head_end = response.find("\r\n\r\n");
  if (head_end == std::string::npos) return answer;
  std::vector<std::string> lines = absl::StrSplit(response.substr(0, head_end), "\r\n");
  (void)absl::SimpleAtoi(lines[0].substr(9, 3), &answer.status);
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    answer.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  answer.body = response.substr(head_end + 4);
  return answer;
}

// The same POST with curl over h2c (prior knowledge): status and body.
HttpAnswer PostH2(int port, const std::string& path, const std::string& content_type, const std::string& body) {
  char name[] = "/tmp/connect-body-XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  close(fd);
  const std::string command =
      absl::StrCat("curl -s --max-time 15 --http2-prior-knowledge -o - -w '\\n%{http_code} %{http_version}' -H ",
                   "'content-type: ", content_type, "' --data-binary @", name, " http://127.0.0.1:", port, path);
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string out;
  char buffer[65536];
  for (size_t n; (n = fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  pclose(pipe);
  unlink(name);
  HttpAnswer answer;
  const size_t last = out.rfind('\n');
  REQUIRE(last != std::string::npos);
  const std::string tail = out.substr(last + 1);
  INFO(tail);
  REQUIRE(absl::EndsWith(tail, " 2"));  // HTTP/2 it was.
  (void)absl::SimpleAtoi(tail.substr(0, 3), &answer.status);
  answer.body = out.substr(0, last);
  return answer;
}

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  REQUIRE(google::protobuf::util::MessageToJsonString(message, &json).ok());
  return json;
}

struct ConnectStack {
  explicit ConnectStack(std::vector<std::string> flags = {})
      : http_port(FreePort()),
        server(redis.port(), mysql.port(), mysql.database(), With(std::move(flags), http_port)),
        client(server) {}
  static std::vector<std::string> With(std::vector<std::string> flags, int port) {
    flags.push_back(absl::StrCat("--http_listen_address=127.0.0.1:", port));
    return flags;
  }
  RedisServer redis;
  SharedMySql mysql;
  int http_port;
  CatalogServerProcess server;
  Client client;
};

const char kV1[] = "/catalog.v1.CatalogService/";
const char kV2[] = "/catalog.v2.CatalogService/";

TEST_CASE("Connect answers equal gRPC's: binary and JSON, HTTP/1.1 and h2c, v1 and v2, errors too", "[connect]") {
  ConnectStack s;
  REQUIRE(s.client.Upsert({MakeProduct("cx-1"), MakeProduct("cx-2", "Second")}).ok());
  BatchGetProductsRequest request;
  for (const char* id : {"cx-1", "nope", "cx-2"}) request.add_ids(id);
  BatchGetProductsResponse via_grpc;
  REQUIRE(s.client.BatchGet({"cx-1", "nope", "cx-2"}, &via_grpc).ok());
  REQUIRE(via_grpc.products_size() == 2);

  for (bool h2 : {false, true}) {
    INFO((h2 ? "h2c" : "HTTP/1.1"));
    auto post = [&](const std::string& path, const std::string& type, const std::string& body) {
      return h2 ? PostH2(s.http_port, path, type, body) : Post(s.http_port, path, type, body);
    };
    HttpAnswer binary = post(absl::StrCat(kV1, "BatchGetProducts"), "application/proto", request.SerializeAsString());
    CHECK(binary.status == 200);
    BatchGetProductsResponse parsed;
    REQUIRE(parsed.ParseFromString(binary.body));
    CHECK(google::protobuf::util::MessageDifferencer::Equals(parsed, via_grpc));

    HttpAnswer json = post(absl::StrCat(kV1, "BatchGetProducts"), "application/json", Json(request));
    CHECK(json.status == 200);
    CHECK(json.body == Json(via_grpc));

    // v2 with a read mask, and an error with the gRPC message verbatim.
    HttpAnswer masked = post(absl::StrCat(kV2, "BatchGetProducts"), "application/json",
                             R"({"ids":["cx-2","gone"],"readMask":"title,price"})");
    CHECK(masked.status == 200);
    CHECK(masked.body == R"({"results":[{"id":"cx-2","product":{"title":"Second","price":{"currencyCode":"EUR",)"
                         R"("amountMinor":"1999"}}},{"id":"gone","notFound":{}}]})");
    HttpAnswer missing = post(absl::StrCat(kV2, "GetProduct"), "application/json", R"({"id":"gone"})");
    CHECK(missing.status == 404);
    CHECK(missing.body == R"({"code":"not_found","message":"product \"gone\" not found"})");
    HttpAnswer invalid = post(absl::StrCat(kV1, "BatchGetProducts"), "application/json", R"({"ids":["a b"]})");
    CHECK(invalid.status == 400);
    CHECK(absl::StrContains(invalid.body, R"("code":"invalid_argument","message":"ids[0]: \"a b\" is not a valid id)"));
    // Bytes that are no request message: the gRPC handler's own answer.
    HttpAnswer garbage = post(absl::StrCat(kV1, "GetProduct"), "application/proto", "\xff\xff\xff");
    CHECK(garbage.status == 400);
    CHECK(garbage.body ==
          R"({"code":"invalid_argument","message":"request body is not a valid catalog.v1.GetProductRequest message"})");
  }
  // Writes and their version checks go through the same core.
  Product stale_product = MakeProduct("cx-1");
  stale_product.set_version(7);  // Stored: version 1.
  HttpAnswer stale = Post(s.http_port, absl::StrCat(kV1, "UpsertProducts"), "application/json",
                          absl::StrCat(R"({"products":[)", Json(stale_product), "]}"));
  CHECK(stale.status == 409);
  CHECK(absl::StrContains(stale.body, R"("code":"aborted")"));
}

TEST_CASE("Connect JSON cache: records are copied from it, and a changed or deleted record is answered as it now is",
          "[connect]") {
  ConnectStack s;
  Product product = MakeProduct("jc-1");
  (*product.mutable_attributes())["size"] = "42";  // Two map entries.
  REQUIRE(s.client.Upsert({product, MakeProduct("jc-2")}).ok());
  const std::string path = absl::StrCat(kV1, "BatchGetProducts");
  const std::string body = R"({"ids":["jc-1","jc-2","jc-none"]})";
  // What gRPC answers now, as protobuf's JSON (maps compared as objects).
  const auto expect_now = [&](HttpAnswer answer) {
    BatchGetProductsResponse via_grpc;
    REQUIRE(s.client.BatchGet({"jc-1", "jc-2", "jc-none"}, &via_grpc).ok());
    CHECK(answer.status == 200);
    BatchGetProductsResponse via_json;
    INFO(answer.body);
    REQUIRE(google::protobuf::util::JsonStringToMessage(answer.body, &via_json).ok());
    CHECK(google::protobuf::util::MessageDifferencer::Equals(via_json, via_grpc));
    return via_grpc;
  };
  expect_now(Post(s.http_port, path, "application/json", body));
  std::string text = Metrics(s.client);
  CHECK(MetricIn(text, "catalog_http_json_cache_misses_total") == 2);
  CHECK(MetricIn(text, "catalog_http_json_cache_hits_total") == 0);
  CHECK(MetricIn(text, "catalog_http_json_cache_bytes") > 0);
  expect_now(Post(s.http_port, path, "application/json", body));
  CHECK(MetricIn(Metrics(s.client), "catalog_http_json_cache_hits_total") == 2);
  // Changed through gRPC, deleted through Connect: the next JSON answer is
  // the new state, not the cached one.
  product.set_title("Changed");
  product.set_version(1);
  REQUIRE(s.client.Upsert({product}).ok());
  HttpAnswer deleted = Post(s.http_port, absl::StrCat(kV1, "DeleteProducts"), "application/json",
                            R"({"ids":["jc-2"]})");
  CHECK(deleted.status == 200);
  BatchGetProductsResponse now = expect_now(Post(s.http_port, path, "application/json", body));
  REQUIRE(now.products_size() == 1);
  CHECK(now.products(0).title() == "Changed");
  CHECK(now.missing_ids_size() == 2);
  text = Metrics(s.client);
  CHECK(MetricIn(text, "catalog_http_json_cache_misses_total") == 3);  // The changed record.
  CHECK(MetricIn(text, "catalog_http_json_cache_hits_total") == 2);
}

TEST_CASE("Connect JSON cache off (http_json_cache_bytes=0): the same answers, nothing kept", "[connect]") {
  ConnectStack s({"--http_json_cache_bytes=0"});
  REQUIRE(s.client.Upsert({MakeProduct("jc-1")}).ok());
  BatchGetProductsResponse via_grpc;
  REQUIRE(s.client.BatchGet({"jc-1"}, &via_grpc).ok());
  for (int i = 0; i < 2; ++i) {
    HttpAnswer answer = Post(s.http_port, absl::StrCat(kV1, "BatchGetProducts"), "application/json",
                             R"({"ids":["jc-1"]})");
    CHECK(answer.status == 200);
    CHECK(answer.body == Json(via_grpc));
  }
  const std::string text = Metrics(s.client);
  CHECK(MetricIn(text, "catalog_http_json_cache_hits_total") == 0);
  CHECK(MetricIn(text, "catalog_http_json_cache_misses_total") == 0);
  CHECK(MetricIn(text, "catalog_http_json_cache_bytes") == 0);
}

TEST_CASE("Connect deadlines: Connect-Timeout-Ms and max_call_ms bound a call whose Redis is paused", "[connect]") {
  // The deadline comes before the Redis round trip's own bound (1 s).
  ConnectStack s({"--max_call_ms=700"});
  REQUIRE(s.client.Upsert({MakeProduct("dl-1")}).ok());
  REQUIRE(kill(s.redis.pid(), SIGSTOP) == 0);
  HttpAnswer timed = Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"dl-2"})",
                          {"Connect-Timeout-Ms: 300", "X-Request-Id: e2e-deadline-7"});
  // With no header, the server's own cap applies.
  HttpAnswer capped = Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"dl-3"})");
  REQUIRE(kill(s.redis.pid(), SIGCONT) == 0);
  CHECK(timed.status == 504);
  CHECK(absl::StartsWith(timed.body, R"({"code":"deadline_exceeded",)"));
  CHECK(timed.headers["trailer-x-request-id"] == "e2e-deadline-7");
  CHECK(capped.status == 504);
  CHECK(absl::StartsWith(capped.body, R"({"code":"deadline_exceeded",)"));
  // The failure is logged with the caller's request id, as for gRPC.
  CHECK(Eventually([&] { return absl::StrContains(s.server.Log(), "e2e-deadline-7"); }));
  // Redis back: served again.
  HttpAnswer after = Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"dl-1"})");
  CHECK(after.status == 200);
  CHECK(absl::StrContains(after.body, R"("id":"dl-1")"));
  // Connect calls are in the same per-method series as gRPC calls.
  const std::string text = Metrics(s.client);
  CHECK(SumOf(text, "catalog_rpc_duration_seconds_count",
              {"method=\"GetProduct\"", "code=\"DEADLINE_EXCEEDED\""}) == 2);
  CHECK(MetricIn(text, "catalog_http_requests_total") == 3);
}

TEST_CASE("Connect limits: max_in_flight_calls at and past it, max_message_bytes at and past it", "[connect]") {
  ConnectStack s({"--max_in_flight_calls=1", "--max_message_bytes=4096", "--max_record_bytes=2048",
                  "--redis_command_timeout_ms=20000", "--max_call_ms=30000"});
  REQUIRE(s.client.Upsert({MakeProduct("lim-1")}).ok());
  REQUIRE(kill(s.redis.pid(), SIGSTOP) == 0);
  auto first = std::async(std::launch::async, [&] {
    return Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"lim-1"})",
                {"Connect-Timeout-Ms: 10000"});
  });
  REQUIRE(Eventually([&] { return Metric(s.client, "catalog_rpc_in_flight") == 1; }));
  HttpAnswer refused = Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"lim-1"})");
  REQUIRE(kill(s.redis.pid(), SIGCONT) == 0);
  CHECK(refused.status == 429);
  CHECK(absl::StrContains(refused.body, R"("code":"resource_exhausted")"));
  CHECK(absl::StrContains(refused.body, "max_in_flight_calls"));
  const HttpAnswer held = first.get();
  CHECK(held.status == 200);  // The admitted call finishes once Redis is back.

  // A body of exactly max_message_bytes is served (unknown field 15 pads a
  // GetProductRequest); one byte more is refused before it is read.
  GetProductRequest at_limit;
  at_limit.set_id("lim-1");
  std::string body = at_limit.SerializeAsString();
  const size_t pad = 4096 - body.size() - 3;  // Tag (1) and a 2-byte length.
  body += "\x7a";  // Field 15, length-delimited.
  body += static_cast<char>(0x80 | (pad & 0x7f));
  body += static_cast<char>(pad >> 7);
  body += std::string(pad, 'p');
  REQUIRE(body.size() == 4096);
  HttpAnswer at = Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/proto", body);
  CHECK(at.status == 200);
  for (bool h2 : {false, true}) {
    const std::string past = body + "p";
    HttpAnswer over = h2 ? PostH2(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/proto", past)
                         : Post(s.http_port, absl::StrCat(kV1, "GetProduct"), "application/proto", past);
    CHECK(over.status == 413);
    CHECK(absl::StrContains(over.body, R"("code":"resource_exhausted")"));
    CHECK(absl::StrContains(over.body, "max_message_bytes"));
  }
}

TEST_CASE("Connect drain: SIGTERM while an upsert waits on a paused Redis, which is answered and kept", "[connect]") {
  // Redis round trips may take the whole pause.
  auto s = std::make_unique<ConnectStack>(
      std::vector<std::string>{"--redis_command_timeout_ms=20000", "--max_call_ms=30000"});
  REQUIRE(kill(s->redis.pid(), SIGSTOP) == 0);
  auto upsert = std::async(std::launch::async, [&] {
    return Post(s->http_port, absl::StrCat(kV1, "UpsertProducts"), "application/json",
                absl::StrCat(R"({"products":[)", Json(MakeProduct("drain-1")), "]}"), {"Connect-Timeout-Ms: 20000"});
  });
  REQUIRE(Eventually([&] { return Metric(s->client, "catalog_rpc_in_flight") == 1; }));
  auto exit_code = std::async(std::launch::async, [&] { return s->server.Terminate(absl::Seconds(30)); });
  // The listener stops taking connections while the call is still held.
  REQUIRE(Eventually([&] { return Post(s->http_port, "/", "application/json", "").status == 0; }));
  REQUIRE(kill(s->redis.pid(), SIGCONT) == 0);
  const HttpAnswer answer = upsert.get();
  INFO(answer.body);
  CHECK(answer.status == 200);
  CHECK(absl::StrContains(answer.body, R"("version":"1")"));
  CHECK(exit_code.get() == 0);
  // Acknowledged means stored: a new server on the same Redis has it.
  const int port = FreePort();
  CatalogServerProcess again(s->redis.port(), s->mysql.port(), s->mysql.database(),
                             {absl::StrCat("--http_listen_address=127.0.0.1:", port)});
  HttpAnswer read = Post(port, absl::StrCat(kV1, "GetProduct"), "application/json", R"({"id":"drain-1"})");
  CHECK(read.status == 200);
  CHECK(absl::StrContains(read.body, R"("version":"1")"));
}

}  // namespace
}  // namespace catalog
