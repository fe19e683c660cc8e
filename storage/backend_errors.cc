#include "storage/backend_errors.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace catalog::storage {
namespace {
// Marks the message of an OOM status so IsRedisOutOfMemory needs no payload.
constexpr absl::string_view kOomMarker = "is full (OOM)";
}  // namespace

BackendFault ClassifyRedisError(absl::string_view message) {
  for (absl::string_view transient : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"}) {
    if (absl::StartsWith(message, transient)) return BackendFault::kRetryable;
  }
  if (absl::StartsWith(message, "OOM")) return BackendFault::kOutOfMemory;
  if (absl::StartsWith(message, "MOVED") || absl::StartsWith(message, "ASK")) return BackendFault::kMoved;
  return BackendFault::kFatal;
}

absl::Status RedisErrorStatus(absl::string_view endpoint, absl::string_view what, absl::string_view message) {
  switch (ClassifyRedisError(message)) {
    case BackendFault::kRetryable:
      return absl::UnavailableError(absl::StrCat(endpoint, " ", what, ": ", message));
    case BackendFault::kOutOfMemory:
      return absl::ResourceExhaustedError(
          absl::StrCat(endpoint, " ", kOomMarker,
                       ": used_memory is above maxmemory and no key with a TTL is left to evict, so ", what,
                       " was refused and nothing was written. Reads still work. Operator: demote idle records to MySQL "
                       "(catalog-admin demote) or raise maxmemory. Redis said: ",
                       message));
    case BackendFault::kMoved:
      return absl::UnavailableError(absl::StrCat(endpoint, " ", what, ": redirected (", message,
                                                 "); this deployment is not configured as a cluster"));
    case BackendFault::kFatal:
      break;
  }
  return absl::InternalError(absl::StrCat(endpoint, " ", what, ": ", message));
}

bool IsRedisOutOfMemory(const absl::Status& status) {
  return absl::IsResourceExhausted(status) && absl::StrContains(status.message(), kOomMarker);
}

}  // namespace catalog::storage
