#include "storage/redis/replica_endpoint.h"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {
namespace {

using ReplyPtr = std::unique_ptr<redisReply, void (*)(void*)>;

std::string Text(const redisReply* reply) {
  return reply != nullptr && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
             ? std::string(reply->str, reply->len)
             : std::string();
}

// ROLE of a replica: ["slave", master ip, master port, link state, offset].
// The master's host is compared as text (numeric, as the endpoints keep
// it): this runs on event loops, so no DNS; a name there is refused.
bool IsLiveReplicaOf(const redisReply* reply, const RedisAddress& master) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 || master.host.empty()) return false;
  const redisReply* port = reply->element[2];
  return Text(reply->element[0]) == "slave" && Text(reply->element[1]) == master.host &&
         port->type == REDIS_REPLY_INTEGER && port->integer == master.port && Text(reply->element[3]) == "connected";
}

// What the sentinels know of one replica (SENTINEL replicas: flat
// name/value pairs).
std::map<std::string, std::string> Fields(const redisReply* replica) {
  std::map<std::string, std::string> fields;
  if (replica->type != REDIS_REPLY_ARRAY) return fields;
  for (size_t i = 0; i + 1 < replica->elements; i += 2) {
    fields[Text(replica->element[i])] = Text(replica->element[i + 1]);
  }
  return fields;
}

// "ip:port" of the replicas the master's INFO replication lists online
// with their last acknowledgement at most `max_lag_s` seconds old
// ("slave0:ip=...,port=...,state=online,offset=...,lag=...").
std::set<std::string> CaughtUp(const std::string& info, int64_t max_lag_s) {
  std::set<std::string> out;
  for (absl::string_view line : absl::StrSplit(info, absl::ByAnyChar("\r\n"), absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "slave")) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    std::map<std::string, std::string> f;
    for (absl::string_view pair : absl::StrSplit(line.substr(colon + 1), ',')) {
      std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
      f[kv.first] = kv.second;
    }
    int64_t lag = 0;
    if (f["state"] == "online" && absl::SimpleAtoi(f["lag"], &lag) && lag <= max_lag_s) {
      out.insert(absl::StrCat(f["ip"], ":", f["port"]));
    }
  }
  return out;
}

}  // namespace

ReplicaEndpoint::ReplicaEndpoint(SentinelOptions options, RedisEndpoint* master, Metrics* metrics,
                                 absl::Duration max_lag)
    : options_(std::move(options)),
      master_(master),
      max_lag_(max_lag),
      name_(absl::StrCat("redis replica of '", options_.master_name, "'")),
      metrics_(metrics) {
  master_->SetMoveListener([this] { MasterMoved(); });
  Refresh();
  thread_ = std::thread([this] { Run(); });
}

ReplicaEndpoint::~ReplicaEndpoint() {
  master_->SetMoveListener(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

RedisAddress ReplicaEndpoint::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void ReplicaEndpoint::Suspect(uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (epoch == current_.epoch) wake_ = true;
}

bool ReplicaEndpoint::AcceptRole(const redisReply* reply) const { return IsLiveReplicaOf(reply, master_->Current()); }

void ReplicaEndpoint::MasterMoved() {
  {
    absl::MutexLock lock(&mu_);
    if (current_.host.empty()) {
      wake_ = true;
      return;
    }
    current_ = RedisAddress{"", 0, current_.epoch + 1};
    epoch_.store(current_.epoch, std::memory_order_release);
    wake_ = true;
  }
  metrics_->Add(Counter::redis_replica_changes_total);
}

void ReplicaEndpoint::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || wake_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
      if (stop_) return;
      wake_ = false;
    }
    Refresh();
    // Suspect() cannot make it look more often than this.
    absl::MutexLock lock(&mu_);
    auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
    mu_.AwaitWithTimeout(absl::Condition(&stopped), options_.min_ask_interval);
    if (stop_) return;
  }
}

void ReplicaEndpoint::Refresh() {
  absl::MutexLock refreshing(&refresh_mu_);
  const RedisAddress master = master_->Current();
  if (master.host.empty()) return Use(HostPort{}, master.epoch);
  // Every sentinel's list: one that missed a failover lists the old
  // master's replicas (the master's view and ROLE below weed them out).
  std::set<std::pair<std::string, int>> listed, flagged;
  for (const HostPort& sentinel : options_.sentinels) {
    RedisContextPtr context = TryConnect(ResolveHost(sentinel.host), sentinel.port, options_.connect_timeout,
                                              SentinelCredentials(options_));
    if (context == nullptr) continue;
    ReplyPtr reply(static_cast<redisReply*>(redisCommand(context.get(), "SENTINEL replicas %b",
                                                         options_.master_name.data(), options_.master_name.size())),
                   freeReplyObject);
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) continue;
    for (size_t i = 0; i < reply->elements; ++i) {
      std::map<std::string, std::string> f = Fields(reply->element[i]);
      int port = 0;
      if (!absl::SimpleAtoi(f["port"], &port)) continue;
      const std::pair<std::string, int> at{ResolveHost(f["ip"]), port};
      const std::string& flags = f["flags"];
      if (absl::StrContains(flags, "s_down") || absl::StrContains(flags, "o_down") ||
          absl::StrContains(flags, "disconnected")) {
        flagged.insert(at);
      }
      listed.insert(at);
    }
  }
  // The master's view: online, acknowledged within max_lag.
  std::set<std::string> caught_up;
  if (RedisContextPtr context = TryConnect(master.host, master.port, options_.connect_timeout, options_.data_credentials);
      context != nullptr) {
    ReplyPtr info(static_cast<redisReply*>(redisCommand(context.get(), "INFO replication")), freeReplyObject);
    caught_up = CaughtUp(Text(info.get()), absl::ToInt64Seconds(max_lag_));
  }
  std::vector<HostPort> candidates;
  for (const auto& at : listed) {
    if (flagged.count(at) == 0 && caught_up.count(absl::StrCat(at.first, ":", at.second)) > 0) {
      candidates.push_back(HostPort{at.first, at.second});
    }
  }
  // The one in use first while it qualifies, then one picked by process id.
  const RedisAddress now = Current();
  std::vector<HostPort> order;
  for (const HostPort& c : candidates) {
    if (c.host == now.host && c.port == now.port) order.push_back(c);
  }
  for (size_t i = 0; i < candidates.size(); ++i) {
    const HostPort& c = candidates[(i + static_cast<size_t>(getpid())) % candidates.size()];
    if (!(c.host == now.host && c.port == now.port)) order.push_back(c);
  }
  HostPort chosen;
  for (const HostPort& c : order) {
    RedisContextPtr context = TryConnect(c.host, c.port, options_.connect_timeout, options_.data_credentials);
    if (context == nullptr) continue;
    ReplyPtr role(static_cast<redisReply*>(redisCommand(context.get(), "ROLE")), freeReplyObject);
    if (IsLiveReplicaOf(role.get(), master)) {
      chosen = c;
      break;
    }
  }
  Use(chosen, master.epoch);
}

void ReplicaEndpoint::Use(const HostPort& chosen, uint64_t master_epoch) {
  {
    absl::MutexLock lock(&mu_);
    // The master moved while we looked: what we found is about the old one;
    // MasterMoved() has cleared the replica and woken the thread.
    if (master_->epoch() != master_epoch) return;
    if (chosen.host == current_.host && chosen.port == current_.port && master_epoch == master_epoch_) return;
    current_ = RedisAddress{chosen.host, chosen.port, current_.epoch + 1};
    master_epoch_ = master_epoch;
    epoch_.store(current_.epoch, std::memory_order_release);
  }
  metrics_->Add(Counter::redis_replica_changes_total);
}

}  // namespace catalog::storage
