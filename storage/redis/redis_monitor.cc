#include "storage/redis/redis_monitor.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/backend_errors.h"
#include "storage/status_macros.h"

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

// One server's INFO memory/stats/keyspace, as the fields we use.
struct RedisMonitor::Info {
  std::string endpoint;
  absl::Status error;  // This server did not say (a cluster master); fields empty.
  absl::flat_hash_map<std::string, std::string> fields;
  int64_t Number(const std::string& name) const {
    int64_t value = 0;
    auto it = fields.find(name);
    if (it != fields.end() && !absl::SimpleAtoi(it->second, &value)) value = 0;
    return value;
  }
  // db0:keys=N,expires=M,avg_ttl=T (absent when db0 is empty).
  std::pair<int64_t, int64_t> KeysAndExpires() const {
    int64_t keys = 0, expires = 0;
    if (auto db0 = fields.find("db0"); db0 != fields.end()) {
      for (absl::string_view pair : absl::StrSplit(db0->second, ',')) {
        std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(pair, '=');
        if (kv.first == "keys") (void)absl::SimpleAtoi(kv.second, &keys);
        if (kv.first == "expires") (void)absl::SimpleAtoi(kv.second, &expires);
      }
    }
    return {keys, expires};
  }
};

namespace {

absl::StatusOr<absl::flat_hash_map<std::string, std::string>> ParseInfo(int type, absl::string_view text,
                                                                        absl::string_view endpoint) {
  if (type == REDIS_REPLY_ERROR) return RedisErrorStatus(endpoint, "INFO", text);
  if (type != REDIS_REPLY_STRING && type != REDIS_REPLY_STATUS) {
    return absl::InternalError(absl::StrCat(endpoint, " INFO: unexpected reply type ", type));
  }
  absl::flat_hash_map<std::string, std::string> fields;
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    const size_t colon = line.find(':');
    if (line.empty() || line[0] == '#' || colon == absl::string_view::npos) continue;
    fields[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return fields;
}

}  // namespace

RedisMonitor::RedisMonitor(RedisPool* pool, Metrics* metrics, bool gauges)
    : pool_(pool), metrics_(metrics), gauges_(gauges) {
  SetGauge(Gauge::redis_maxmemory_policy_ok, -1);
}

RedisMonitor::RedisMonitor(RedisCluster* cluster, Metrics* metrics, bool gauges)
    : cluster_(cluster), metrics_(metrics), gauges_(gauges) {
  SetGauge(Gauge::redis_maxmemory_policy_ok, -1);
}

void RedisMonitor::SetGauge(Gauge gauge, int64_t value) {
  if (gauges_) metrics_->Set(gauge, value);
}

absl::StatusOr<std::vector<RedisMonitor::Info>> RedisMonitor::Ask(absl::Time deadline) {
  std::vector<Info> infos;
  if (pool_ != nullptr) {
    ASSIGN_OR_RETURN(std::vector<RedisReplyPtr> replies,
                     pool_->RoundTrip({{"INFO", "memory", "stats", "keyspace"}}, deadline, /*idempotent=*/true));
    const redisReply& reply = *replies.front();
    Info& info = infos.emplace_back();
    info.endpoint = pool_->endpoint();
    ASSIGN_OR_RETURN(info.fields, ParseInfo(reply.type, absl::string_view(reply.str, reply.len), info.endpoint));
    return infos;
  }
  // Masters of a map read afresh, so one added since the last tick is
  // checked too.
  RETURN_IF_ERROR(cluster_->Refresh(deadline));
  ASSIGN_OR_RETURN(std::vector<uint16_t> masters, cluster_->MasterSlots(deadline));
  // Each master on its own: one that does not answer must not hide what
  // the others say (an unsafe policy above all).
  for (uint16_t slot : masters) {
    Info& info = infos.emplace_back();
    info.endpoint = absl::StrCat("redis cluster master ", cluster_->OwnerOf(slot));
    absl::StatusOr<std::vector<OwnedReply>> reply = cluster_->Exec({{slot, {"INFO", "memory", "stats", "keyspace"}}}, deadline);
    absl::StatusOr<absl::flat_hash_map<std::string, std::string>> fields =
        reply.ok() ? ParseInfo((*reply)[0].type, (*reply)[0].str, info.endpoint) : reply.status();
    if (fields.ok()) {
      info.fields = *std::move(fields);
    } else {
      info.error = fields.status();
    }
  }
  return infos;
}

RedisMonitor::Memory RedisMonitor::LastMemory() const {
  return {used_bytes_.load(std::memory_order_relaxed), max_bytes_.load(std::memory_order_relaxed)};
}

absl::Status RedisMonitor::CheckOnce(absl::Time deadline) {
  absl::StatusOr<std::vector<Info>> infos = Ask(deadline);
  if (!infos.ok()) {
    metrics_->Add(Counter::redis_info_failures_total);
    return infos.status();
  }
  // Memory: the master with the largest share of its maxmemory in use (or,
  // without maxmemory, the most bytes), of those that answered; with none,
  // the gauges keep their last values.
  absl::Status unknown;
  const Info* fullest = nullptr;
  auto share = [](const Info& info) {
    const int64_t max = info.Number("maxmemory");
    return max > 0 ? static_cast<double>(info.Number("used_memory")) / static_cast<double>(max) : 0.0;
  };
  int64_t keys = 0, expires = 0, evicted = 0;
  for (const Info& info : *infos) {
    if (!info.error.ok()) {
      metrics_->Add(Counter::redis_info_failures_total);
      unknown.Update(info.error);
      continue;
    }
    if (fullest == nullptr || share(info) > share(*fullest) ||
        (share(info) == share(*fullest) && info.Number("used_memory") > fullest->Number("used_memory"))) {
      fullest = &info;
    }
    const auto [k, e] = info.KeysAndExpires();
    keys += k;
    expires += e;
    evicted += info.Number("evicted_keys");
  }
  if (fullest == nullptr) return unknown;
  used_bytes_.store(fullest->Number("used_memory"), std::memory_order_relaxed);
  max_bytes_.store(fullest->Number("maxmemory"), std::memory_order_relaxed);
  SetGauge(Gauge::redis_used_memory_bytes, fullest->Number("used_memory"));
  SetGauge(Gauge::redis_maxmemory_bytes, fullest->Number("maxmemory"));
  SetGauge(Gauge::redis_evicted_keys, evicted);
  SetGauge(Gauge::redis_keys, keys);
  SetGauge(Gauge::redis_keys_with_ttl, expires);
  // An unsafe policy anywhere outweighs a server that did not say.
  absl::Status unsafe;
  for (const Info& info : *infos) {
    if (!info.error.ok()) continue;
    auto policy = info.fields.find("maxmemory_policy");
    if (policy == info.fields.end()) {
      unknown.Update(absl::InternalError(absl::StrCat(info.endpoint, " INFO memory has no maxmemory_policy")));
    } else {
      unsafe.Update(CheckMaxmemoryPolicy(policy->second, info.endpoint));
    }
  }
  if (!unsafe.ok()) {
    SetGauge(Gauge::redis_maxmemory_policy_ok, 0);
    return unsafe;
  }
  if (!unknown.ok()) return unknown;
  SetGauge(Gauge::redis_maxmemory_policy_ok, 1);
  return absl::OkStatus();
}

}  // namespace catalog::storage
