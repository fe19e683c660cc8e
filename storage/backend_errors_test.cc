#include "storage/backend_errors.h"

#include <catch2/catch.hpp>

#include "absl/strings/match.h"

namespace catalog::storage {
namespace {

TEST_CASE("Redis error replies are classified by their first word") {
  CHECK(ClassifyRedisError("LOADING Redis is loading the dataset in memory") == BackendFault::kRetryable);
  CHECK(ClassifyRedisError("READONLY You can't write against a read only replica.") == BackendFault::kRetryable);
  CHECK(ClassifyRedisError("OOM command not allowed when used memory > 'maxmemory'.") == BackendFault::kOutOfMemory);
  CHECK(ClassifyRedisError("MOVED 3999 127.0.0.1:6381") == BackendFault::kMoved);
  CHECK(ClassifyRedisError("ASK 3999 127.0.0.1:6381") == BackendFault::kMoved);
  CHECK(ClassifyRedisError("ERR Error running script") == BackendFault::kFatal);
}

TEST_CASE("OOM becomes RESOURCE_EXHAUSTED with a message for the operator") {
  const absl::Status status = RedisErrorStatus("redis 127.0.0.1:6390", "compare-and-set",
                                               "OOM command not allowed when used memory > 'maxmemory'.");
  CHECK(absl::IsResourceExhausted(status));
  CHECK(IsRedisOutOfMemory(status));
  CHECK(absl::StrContains(status.message(), "redis 127.0.0.1:6390 is full (OOM)"));
  CHECK(absl::StrContains(status.message(), "nothing was written"));
  CHECK(absl::StrContains(status.message(), "catalog-admin demote"));
  CHECK_FALSE(IsRedisOutOfMemory(absl::ResourceExhaustedError("other")));
  CHECK(absl::IsUnavailable(RedisErrorStatus("redis x", "MGET", "LOADING wait")));
  CHECK(absl::IsInternal(RedisErrorStatus("redis x", "EVAL", "ERR bad")));
}

}  // namespace
}  // namespace catalog::storage
