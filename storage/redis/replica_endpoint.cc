#include "storage/redis/replica_endpoint.h"

#include <hiredis/hiredis.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {
namespace {

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, void (*)(void*)>;

ContextPtr Connect(const std::string& host, int port, absl::Duration timeout) {
  const timeval tv = absl::ToTimeval(timeout);
  ContextPtr context(redisConnectWithTimeout(host.c_str(), port, tv));
  if (context == nullptr || context->err != 0) return nullptr;
  redisSetTimeout(context.get(), tv);
  return context;
}

std::string Text(const redisReply* reply) {
  return reply != nullptr && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS)
             ? std::string(reply->str, reply->len)
             : std::string();
}

// ROLE of a replica: ["slave", master ip, master port, link state, offset].
bool IsLiveReplicaOf(const redisReply* reply, const RedisAddress& master) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 || master.host.empty()) return false;
  const redisReply* port = reply->element[2];
  return Text(reply->element[0]) == "slave" && ResolveHost(Text(reply->element[1])) == master.host &&
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

}  // namespace

ReplicaEndpoint::ReplicaEndpoint(SentinelOptions options, const RedisEndpoint* master, Metrics* metrics)
    : options_(std::move(options)),
      master_(master),
      name_(absl::StrCat("redis replica of '", options_.master_name, "'")),
      metrics_(metrics) {
  Refresh();
  thread_ = std::thread([this] { Run(); });
}

ReplicaEndpoint::~ReplicaEndpoint() {
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
  }
}

void ReplicaEndpoint::Refresh() {
  absl::MutexLock refreshing(&refresh_mu_);
  const RedisAddress master = master_->Current();
  // The candidates, as the first sentinel that answers lists them.
  std::vector<HostPort> candidates;
  bool answered = false;
  for (const HostPort& sentinel : options_.sentinels) {
    ContextPtr context = Connect(ResolveHost(sentinel.host), sentinel.port, options_.connect_timeout);
    if (context == nullptr) continue;
    ReplyPtr reply(static_cast<redisReply*>(redisCommand(context.get(), "SENTINEL replicas %b",
                                                         options_.master_name.data(), options_.master_name.size())),
                   freeReplyObject);
    if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) continue;
    answered = true;
    for (size_t i = 0; i < reply->elements; ++i) {
      std::map<std::string, std::string> f = Fields(reply->element[i]);
      int port = 0, master_port = 0;
      const std::string& flags = f["flags"];
      if (absl::StrContains(flags, "s_down") || absl::StrContains(flags, "o_down") ||
          absl::StrContains(flags, "disconnected") || f["master-link-status"] != "ok" ||
          !absl::SimpleAtoi(f["port"], &port) || !absl::SimpleAtoi(f["master-port"], &master_port) ||
          master_port != master.port || ResolveHost(f["master-host"]) != master.host) {
        continue;
      }
      candidates.push_back(HostPort{ResolveHost(f["ip"]), port});
    }
    break;
  }
  if (!answered) return;  // Keep what we have; the next poll asks again.
  // The one in use first while it qualifies, then one picked by process id.
  RedisAddress now = Current();
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
    // Its own word too: the sentinels' view of a replica may be 10 s old.
    ContextPtr context = Connect(c.host, c.port, options_.connect_timeout);
    if (context == nullptr) continue;
    ReplyPtr role(static_cast<redisReply*>(redisCommand(context.get(), "ROLE")), freeReplyObject);
    if (IsLiveReplicaOf(role.get(), master)) {
      chosen = c;
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  if (chosen.host == current_.host && chosen.port == current_.port && master.epoch == master_epoch_) return;
  current_ = RedisAddress{chosen.host, chosen.port, current_.epoch + 1};
  master_epoch_ = master.epoch;
  epoch_.store(current_.epoch, std::memory_order_release);
  metrics_->Add(Counter::redis_replica_changes_total);
}

}  // namespace catalog::storage
