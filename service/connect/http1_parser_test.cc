#include <catch2/catch.hpp>

#include "service/connect/http_server.h"

namespace catalog::service {
namespace {

using State = Http1Parser::State;

TEST_CASE("Http1Parser reads a request with Content-Length, byte by byte too", "[http1]") {
  const std::string wire =
      "POST /catalog.v1.CatalogService/GetProduct?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
      "Content-Length: 12\r\n\r\n{\"id\":\"s-1\"}GET";
  Http1Parser parser(1024, 1024);
  for (size_t n = 0; n < wire.size() - 3; ++n) {
    REQUIRE(parser.Parse(absl::string_view(wire).substr(0, n)) == State::kNeedMore);
  }
  REQUIRE(parser.Parse(wire) == State::kRequest);
  CHECK(parser.request().method == "POST");
  CHECK(parser.request().path == "/catalog.v1.CatalogService/GetProduct");
  CHECK(parser.request().query == "x=1");
  CHECK(parser.request().Header("content-type") == "application/json");
  CHECK(parser.request().body == "{\"id\":\"s-1\"}");
  CHECK(parser.consumed() == wire.size() - 3);
  CHECK(parser.keep_alive());
}

TEST_CASE("Http1Parser decodes chunked bodies and drops trailers", "[http1]") {
  const std::string wire =
      "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\nNEXT";
  Http1Parser parser(1024, 1024);
  REQUIRE(parser.Parse(wire.substr(0, wire.size() - 10)) == State::kNeedMore);
  REQUIRE(parser.Parse(wire) == State::kRequest);
  CHECK(parser.request().body == "Wikipedia");
  CHECK(parser.consumed() == wire.size() - 4);
}

TEST_CASE("Http1Parser asks for 100-continue once, before the body", "[http1]") {
  const std::string head = "POST /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  Http1Parser parser(1024, 1024);
  CHECK(parser.Parse(head) == State::kExpectContinue);
  CHECK(parser.Parse(head + "a") == State::kNeedMore);
  CHECK(parser.Parse(head + "abc") == State::kRequest);
}

TEST_CASE("Http1Parser: connection persistence by version and Connection header", "[http1]") {
  Http1Parser parser(1024, 1024);
  REQUIRE(parser.Parse("POST /p HTTP/1.1\r\nConnection: close\r\n\r\n") == State::kRequest);
  CHECK_FALSE(parser.keep_alive());
  parser.Reset();
  REQUIRE(parser.Parse("POST /p HTTP/1.0\r\n\r\n") == State::kRequest);
  CHECK_FALSE(parser.keep_alive());
  parser.Reset();
  REQUIRE(parser.Parse("POST /p HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") == State::kRequest);
  CHECK(parser.keep_alive());
}

TEST_CASE("Http1Parser limits: head at and past max_header_bytes, body at and past max_request_bytes", "[http1]") {
  // A head of exactly 64 bytes passes, 65 does not.
  std::string head = "POST /p HTTP/1.1\r\nX: ";
  head += std::string(64 - head.size() - 4, 'a') + "\r\n\r\n";
  REQUIRE(head.size() == 64);
  Http1Parser at(64, 10);
  CHECK(at.Parse(head) == State::kRequest);
  Http1Parser past(63, 10);
  REQUIRE(past.Parse(head) == State::kError);
  CHECK(past.error_status() == 431);
  // An endless head is refused once it passes the limit, without its end.
  Http1Parser endless(64, 10);
  CHECK(endless.Parse("POST /p HTTP/1.1\r\nX: " + std::string(100, 'a')) == State::kError);

  Http1Parser body_at(1024, 10);
  CHECK(body_at.Parse("POST /p HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789") == State::kRequest);
  Http1Parser body_past(1024, 10);
  REQUIRE(body_past.Parse("POST /p HTTP/1.1\r\nContent-Length: 11\r\n\r\n") == State::kError);
  CHECK(body_past.error_status() == 413);
  CHECK(body_past.error_message() == "request body of 11 bytes exceeds the limit of 10 bytes (max_message_bytes)");
  Http1Parser chunked_past(1024, 10);
  CHECK(chunked_past.Parse("POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\n") ==
        State::kError);
  CHECK(chunked_past.error_status() == 413);
}

TEST_CASE("Http1Parser refuses what could be read two ways (request smuggling)", "[http1]") {
  const std::pair<const char*, int> cases[] = {
      {"POST /p HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"POST /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"POST /p HTTP/1.1\r\nContent-Length: +3\r\n\r\n", 400},
      {"POST /p HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"POST /p HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
      {"POST /p HTTP/1.1\r\nBad Name: a\r\n\r\n", 400},
      {"POST p HTTP/1.1\r\n\r\n", 400},
      {"POST /p HTTP/2.0\r\n\r\n", 505},
      {"POST /p HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
      {"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
  };
  for (const auto& [wire, status] : cases) {
    INFO(wire);
    Http1Parser parser(1024, 1024);
    REQUIRE(parser.Parse(wire) == State::kError);
    CHECK(parser.error_status() == status);
  }
}

TEST_CASE("ConnectErrorJson escapes the message", "[http1]") {
  CHECK(ConnectErrorJson("not_found", "product \"a\\b\"\n\x01") ==
        "{\"code\":\"not_found\",\"message\":\"product \\\"a\\\\b\\\"\\n\\u0001\"}");
}

}  // namespace
}  // namespace catalog::service
