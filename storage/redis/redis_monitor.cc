#include "storage/redis/redis_monitor.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/backend_errors.h"

namespace catalog::storage {

absl::Status CheckMaxmemoryPolicy(absl::string_view policy, absl::string_view endpoint) {
  for (absl::string_view accepted : {"volatile-lru", "volatile-ttl", "volatile-random", "noeviction"}) {
    if (policy == accepted) return absl::OkStatus();
  }
  const std::string why = policy == "volatile-lfu"
                              ? "keeps no idle times (OBJECT IDLETIME fails), so demotion cannot find idle records"
                              : "may evict keys without a TTL, which are the only copy of recently written records";
  return absl::FailedPreconditionError(
      absl::StrCat(endpoint, ": maxmemory-policy ", policy, " ", why,
                   "; set maxmemory-policy to volatile-lru (or volatile-ttl, volatile-random, noeviction)"));
}

RedisMonitor::RedisMonitor(RedisPool* pool, Metrics* metrics, bool gauges)
    : pool_(pool), metrics_(metrics), gauges_(gauges) {
  SetGauge(Gauge::redis_maxmemory_policy_ok, -1);
}

void RedisMonitor::SetGauge(Gauge gauge, int64_t value) {
  if (gauges_) metrics_->Set(gauge, value);
}

absl::Status RedisMonitor::CheckOnce(absl::Time deadline) {
  absl::StatusOr<std::vector<RedisReplyPtr>> replies =
      pool_->RoundTrip({{"INFO", "memory", "stats", "keyspace"}}, deadline, /*idempotent=*/true);
  if (!replies.ok()) {
    metrics_->Add(Counter::redis_info_failures_total);
    return replies.status();
  }
  const redisReply& reply = *replies->front();
  if (reply.type == REDIS_REPLY_ERROR) {
    metrics_->Add(Counter::redis_info_failures_total);
    return RedisErrorStatus(pool_->endpoint(), "INFO", absl::string_view(reply.str, reply.len));
  }
  if (reply.type != REDIS_REPLY_STRING && reply.type != REDIS_REPLY_STATUS) {
    metrics_->Add(Counter::redis_info_failures_total);
    return absl::InternalError(absl::StrCat(pool_->endpoint(), " INFO: unexpected reply type ", reply.type));
  }
  absl::flat_hash_map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(absl::string_view(reply.str, reply.len), "\r\n")) {
    const size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == absl::string_view::npos) continue;
    fields[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  auto number = [&](const std::string& name) {
    int64_t value = 0;
    auto it = fields.find(name);
    if (it != fields.end() && !absl::SimpleAtoi(it->second, &value)) value = 0;
    return value;
  };
  SetGauge(Gauge::redis_used_memory_bytes, number("used_memory"));
  SetGauge(Gauge::redis_maxmemory_bytes, number("maxmemory"));
  SetGauge(Gauge::redis_evicted_keys, number("evicted_keys"));
  // db0:keys=N,expires=M,avg_ttl=T (absent when db0 is empty).
  int64_t keys = 0, expires = 0;
  if (auto db0 = fields.find("db0"); db0 != fields.end()) {
    for (absl::string_view pair : absl::StrSplit(db0->second, ',')) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
      if (kv.first == "keys") (void)absl::SimpleAtoi(kv.second, &keys);
      if (kv.first == "expires") (void)absl::SimpleAtoi(kv.second, &expires);
    }
  }
  SetGauge(Gauge::redis_keys, keys);
  SetGauge(Gauge::redis_keys_with_ttl, expires);
  auto policy = fields.find("maxmemory_policy");
  if (policy == fields.end()) {
    return absl::InternalError(absl::StrCat(pool_->endpoint(), " INFO memory has no maxmemory_policy"));
  }
  absl::Status status = CheckMaxmemoryPolicy(policy->second, pool_->endpoint());
  SetGauge(Gauge::redis_maxmemory_policy_ok, status.ok() ? 1 : 0);
  return status;
}

}  // namespace catalog::storage
