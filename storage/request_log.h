// RequestLog: the outcomes of requests that carry a client-chosen request id
// (catalog.v2 UpsertProducts), so that a retried request is answered from
// the log instead of being applied twice (AIP-155).
//
// Entries are cache keys with a TTL: under maxmemory-policy volatile-lru
// Redis may evict them before the TTL under memory pressure, after which a
// retry is applied again. The guarantee is "once within the window, unless
// Redis had to evict", which the README states.
//
// Thread-safety: implementations are safe for concurrent use.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/redis_connection.h"

namespace catalog::storage {

struct RequestClaim {
  enum class Kind {
    kNew,         // Claimed: the caller applies the request, then Complete()s.
    kInProgress,  // Another call with this id is running.
    kDone,        // Already applied; `response` holds its result.
  };
  Kind kind = Kind::kNew;
  // What the earlier call was (kInProgress/kDone), to tell a retry from a
  // different request reusing the id.
  std::string fingerprint;
  std::string response;
};

class RequestLog {
 public:
  virtual ~RequestLog() = default;
  // Claims `request_id` for a request with this fingerprint, or reports the
  // earlier call's state.
  virtual absl::StatusOr<RequestClaim> Claim(const std::string& request_id, const std::string& fingerprint,
                                             absl::Time deadline) = 0;
  // Records the result of a claimed request.
  virtual absl::Status Complete(const std::string& request_id, const std::string& fingerprint,
                                const std::string& response, absl::Time deadline) = 0;
  // Drops a claim whose request failed, so a retry applies it.
  virtual absl::Status Abandon(const std::string& request_id, absl::Time deadline) = 0;
};

struct RequestLogOptions {
  // Keys are key_prefix + request id. Default "request:".
  std::string key_prefix = "request:";
  // A claim outlives any call holding it (calls end within max_call).
  // Default 30 s.
  absl::Duration claim_ttl = absl::Seconds(30);
  // How long a result answers retries. Default 24 h.
  absl::Duration result_ttl = absl::Hours(24);
};

class RedisRequestLog final : public RequestLog {
 public:
  // `pool` must outlive the log.
  RedisRequestLog(RedisPool* pool, RequestLogOptions options);

  absl::StatusOr<RequestClaim> Claim(const std::string& request_id, const std::string& fingerprint,
                                     absl::Time deadline) override;
  absl::Status Complete(const std::string& request_id, const std::string& fingerprint, const std::string& response,
                        absl::Time deadline) override;
  absl::Status Abandon(const std::string& request_id, absl::Time deadline) override;

 private:
  RedisPool* const pool_;
  const RequestLogOptions options_;
};

}  // namespace catalog::storage
