// The one place that classifies what a backend (Redis, MySQL) answered when
// it did not answer with data, and turns it into an absl::Status the service
// maps to a gRPC code (service/grpc_glue.h) without looking further.
//
// Classes (like mcrouter's McResUtil.h):
// - kRetryable: transient server state (LOADING, BUSY, MASTERDOWN, TRYAGAIN,
//   CLUSTERDOWN, READONLY) or a lost connection -> UNAVAILABLE; the caller
//   may retry the call.
// - kOutOfMemory: Redis is at maxmemory with nothing evictable (OOM) ->
//   RESOURCE_EXHAUSTED with a message for the operator; writes are refused
//   whole (our scripts are flagged so Redis refuses them before they run),
//   reads still work.
// - kMoved: a Redis Cluster redirect (MOVED, ASK) -> UNAVAILABLE until
//   cluster routing follows redirects.
// - kFatal: anything else (script errors, wrong types) -> INTERNAL.
//
// Thread-safety: plain functions.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace catalog::storage {

enum class BackendFault { kRetryable, kOutOfMemory, kMoved, kFatal };

// Classifies a Redis error reply by its first word.
BackendFault ClassifyRedisError(absl::string_view message);

// The status for a Redis error reply to `what` (e.g. "MGET") from
// `endpoint` (e.g. "redis 127.0.0.1:6379").
absl::Status RedisErrorStatus(absl::string_view endpoint, absl::string_view what, absl::string_view message);

// Whether `status` says that Redis refused a write for lack of memory.
bool IsRedisOutOfMemory(const absl::Status& status);

}  // namespace catalog::storage
