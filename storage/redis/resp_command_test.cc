#include <catch2/catch.hpp>

#include "storage/redis/redis_async.h"

namespace catalog::storage {
namespace {

TEST_CASE("commands are encoded in RESP exactly as Redis reads them, binary-safe") {
  RespCommand mget(3, 0);
  mget.Add("MGET");
  mget.AddPrefixed("product:", "a");
  mget.AddPrefixed("product:", std::string("b\r\n\0", 4));
  constexpr char kExpected[] = "*3\r\n$4\r\nMGET\r\n$9\r\nproduct:a\r\n$12\r\nproduct:b\r\n\0\r\n";
  CHECK(mget.Take() == std::string(kExpected, sizeof(kExpected) - 1));
}

}  // namespace
}  // namespace catalog::storage
