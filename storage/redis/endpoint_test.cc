#include "storage/redis/endpoint.h"

#include <catch2/catch.hpp>

namespace catalog::storage {
namespace {

TEST_CASE("host:port lists: names, IPv4, bracketed IPv6, spaces, and each bad element named") {
  auto parsed = ParseHostPorts("sentinel-1:26379, 10.0.0.2:26380,[::1]:26381");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->size() == 3);
  CHECK((*parsed)[0].host == "sentinel-1");
  CHECK((*parsed)[0].port == 26379);
  CHECK((*parsed)[1].host == "10.0.0.2");
  CHECK((*parsed)[2].host == "::1");
  CHECK((*parsed)[2].port == 26381);
  CHECK(ParseHostPorts("a:1,b").status().message() == "\"b\" is not host:port");
  CHECK(ParseHostPorts("a:65536").status().message() == "\"a:65536\" is not host:port");
  CHECK(ParseHostPorts(":26379").status().message() == "\":26379\" is not host:port");
  CHECK(ParseHostPorts("[::1:26379").status().message() == "\"[::1:26379\" is not host:port");
  CHECK(ParseHostPorts("").status().message() == "no host:port given");
  CHECK(ParseHostPorts("a:65535").ok());
}

TEST_CASE("a static endpoint is one address in one epoch, never checked with ROLE") {
  StaticEndpoint endpoint("127.0.0.1", 6380);
  CHECK(endpoint.Current().host == "127.0.0.1");
  CHECK(endpoint.Current().port == 6380);
  CHECK(endpoint.epoch() == 1);
  CHECK(endpoint.Current().epoch == 1);
  endpoint.Suspect(1);
  CHECK(endpoint.epoch() == 1);
  CHECK_FALSE(endpoint.verify_role());
  CHECK(endpoint.name() == "redis 127.0.0.1:6380");
}

}  // namespace
}  // namespace catalog::storage
