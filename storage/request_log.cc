#include "storage/request_log.h"

#include "absl/strings/str_cat.h"

namespace catalog::storage {
namespace {

// Stored values: 'P' + fingerprint + '\n' while claimed, 'D' + fingerprint +
// '\n' + response once done.
constexpr char kPending = 'P';
constexpr char kDone = 'D';

std::string Millis(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

}  // namespace

RedisRequestLog::RedisRequestLog(RedisPool* pool, RequestLogOptions options)
    : pool_(pool), options_(std::move(options)) {}

absl::StatusOr<RequestClaim> RedisRequestLog::Claim(const std::string& request_id, const std::string& fingerprint,
                                                    absl::Time deadline) {
  const std::string key = options_.key_prefix + request_id;
  // SET NX and GET in one round trip: the GET sees our claim or the earlier one.
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(
      {{"SET", key, absl::StrCat(std::string(1, kPending), fingerprint, "\n"), "NX", "PX", Millis(options_.claim_ttl)},
       {"GET", key}},
      deadline, /*idempotent=*/false);
  if (!replies.ok()) return replies.status();
  const redisReply& set = *(*replies)[0];
  const redisReply& get = *(*replies)[1];
  if (set.type == REDIS_REPLY_ERROR) return RedisReplyError(set, "SET NX");
  RequestClaim claim;
  if (set.type == REDIS_REPLY_STATUS) return claim;  // kNew: ours.
  if (get.type != REDIS_REPLY_STRING) {
    return absl::UnavailableError("request log: the earlier claim expired meanwhile; retry the call");
  }
  const std::string value(get.str, get.len);
  const size_t newline = value.find('\n');
  if (value.empty() || newline == std::string::npos || (value[0] != kPending && value[0] != kDone)) {
    return absl::InternalError(absl::StrCat("request log: malformed entry for request id \"", request_id, "\""));
  }
  claim.kind = value[0] == kDone ? RequestClaim::Kind::kDone : RequestClaim::Kind::kInProgress;
  claim.fingerprint = value.substr(1, newline - 1);
  claim.response = value.substr(newline + 1);
  return claim;
}

absl::Status RedisRequestLog::Complete(const std::string& request_id, const std::string& fingerprint,
                                       const std::string& response, absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReplyPtr>> replies = pool_->RoundTrip(
      {{"SET", options_.key_prefix + request_id, absl::StrCat(std::string(1, kDone), fingerprint, "\n", response), "PX",
        Millis(options_.result_ttl)}},
      deadline, /*idempotent=*/true);
  if (!replies.ok()) return replies.status();
  if ((*replies)[0]->type == REDIS_REPLY_ERROR) return RedisReplyError(*(*replies)[0], "SET");
  return absl::OkStatus();
}

absl::Status RedisRequestLog::Abandon(const std::string& request_id, absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      pool_->RoundTrip({{"DEL", options_.key_prefix + request_id}}, deadline, /*idempotent=*/true);
  return replies.ok() ? absl::OkStatus() : replies.status();
}

}  // namespace catalog::storage
