#include "storage/redis/cluster.h"

#include <hiredis/hiredis.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"

namespace catalog::storage {

struct RedisCluster::Node {
  RedisOptions options;
  std::unique_ptr<RedisPool> pool;    // Slot maps and ASK retries.
  std::unique_ptr<AsyncRedis> async;  // The reads.
};

// The keys of one slot in one call, and what the last round did with them.
struct RedisCluster::Group {
  uint16_t slot = 0;
  std::vector<size_t> indices;  // Into the call's keys.
  std::string ask;              // ASK target for the next round ("" none).
  enum class Next { kDone, kRefresh, kAsk, kAgain, kFail } next = Next::kDone;
  absl::Status error;
  std::vector<MaybeValue> values;  // Aligned with indices, when done.
};

namespace {

// "MOVED 3999 127.0.0.1:6381" -> its words.
std::vector<std::string> Words(const redisReply& reply) {
  return absl::StrSplit(absl::string_view(reply.str, reply.len), ' ', absl::SkipEmpty());
}

}  // namespace

RedisCluster::RedisCluster(ClusterOptions options, Metrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

RedisCluster::~RedisCluster() = default;

RedisCluster::Node* RedisCluster::NodeAt(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(address);
  if (it != nodes_.end()) return it->second.get();
  absl::StatusOr<std::vector<HostPort>> parsed = ParseHostPorts(address);
  if (!parsed.ok() || parsed->size() != 1) return nullptr;
  auto node = std::make_unique<Node>();
  node->options = options_.node;
  node->options.host = (*parsed)[0].host;
  node->options.port = (*parsed)[0].port;
  node->pool = std::make_unique<RedisPool>(node->options, metrics_);
  AsyncRedisOptions async;
  async.host = node->options.host;
  async.port = node->options.port;
  async.connections = 1;
  async.command_timeout = node->options.command_timeout;
  node->async = std::make_unique<AsyncRedis>(async);
  Node* raw = node.get();
  nodes_[address] = std::move(node);
  return raw;
}

std::string RedisCluster::OwnerOf(uint16_t slot) const {
  absl::MutexLock lock(&mu_);
  return owner_[slot];
}

absl::Status RedisCluster::Refresh(absl::Time deadline) {
  metrics_->Add(Counter::redis_cluster_refreshes_total);
  std::vector<std::string> candidates;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [address, node] : nodes_) candidates.push_back(address);
  }
  for (const HostPort& seed : options_.seeds) candidates.push_back(absl::StrCat(seed.host, ":", seed.port));
  absl::Status last = absl::UnavailableError("redis cluster: no seed nodes");
  for (const std::string& address : candidates) {
    Node* node = NodeAt(address);
    if (node == nullptr) continue;
    absl::StatusOr<std::vector<RedisReplyPtr>> replies =
        node->pool->RoundTrip({{"CLUSTER", "SLOTS"}}, deadline, /*idempotent=*/true);
    if (!replies.ok()) {
      last = replies.status();
      continue;
    }
    const redisReply& r = *(*replies)[0];
    if (r.type != REDIS_REPLY_ARRAY) {
      last = absl::UnavailableError(absl::StrCat("redis ", address, ": CLUSTER SLOTS: unexpected reply"));
      continue;
    }
    std::array<std::string, kSlotCount> owner;
    for (size_t i = 0; i < r.elements; ++i) {
      const redisReply* range = r.element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
      const redisReply* master = range->element[2];
      if (master->type != REDIS_REPLY_ARRAY || master->elements < 2) continue;
      const std::string at = absl::StrCat(std::string(master->element[0]->str, master->element[0]->len), ":",
                                          master->element[1]->integer);
      for (long long slot = range->element[0]->integer; slot <= range->element[1]->integer && slot < kSlotCount;
           ++slot) {
        owner[slot] = at;
      }
    }
    absl::MutexLock lock(&mu_);
    owner_ = std::move(owner);
    return absl::OkStatus();
  }
  return last;
}

void RedisCluster::SendRound(std::vector<Group*>& groups, absl::Span<const std::string> keys, absl::Time deadline) {
  absl::BlockingCounter replies(static_cast<int>(groups.size()));
  for (Group* group : groups) {
    const std::string address = group->ask.empty() ? OwnerOf(group->slot) : group->ask;
    Node* node = address.empty() ? nullptr : NodeAt(address);
    RedisCommand mget = {"MGET"};
    for (size_t index : group->indices) mget.push_back(keys[index]);
    if (node == nullptr) {
      group->next = Group::Next::kRefresh;
      group->error = absl::UnavailableError(absl::StrCat("redis cluster: no node known for slot ", group->slot));
      replies.DecrementCount();
      continue;
    }
    if (!group->ask.empty()) {
      // ASKING must reach the same connection right before the command: a
      // blocking pipelined pair (rare: only while a slot migrates).
      group->ask.clear();
      metrics_->Add(Counter::redis_cluster_redirects_total);
      absl::StatusOr<std::vector<RedisReplyPtr>> pair =
          node->pool->RoundTrip({{"ASKING"}, std::move(mget)}, deadline, /*idempotent=*/true);
      if (!pair.ok()) {
        group->next = Group::Next::kRefresh;
        group->error = pair.status();
      } else {
        const redisReply& r = *(*pair)[1];
        group->next = Group::Next::kDone;
        if (r.type == REDIS_REPLY_ERROR) {
          group->next = absl::StartsWith(absl::string_view(r.str, r.len), "TRYAGAIN") ? Group::Next::kAgain
                                                                                        : Group::Next::kRefresh;
          group->error = absl::UnavailableError(absl::StrCat("redis ", address, ": ", std::string(r.str, r.len)));
        } else {
          group->values.assign(group->indices.size(), std::nullopt);
          for (size_t k = 0; k < r.elements && k < group->indices.size(); ++k) {
            if (r.element[k]->type == REDIS_REPLY_STRING) group->values[k].emplace(r.element[k]->str, r.element[k]->len);
          }
        }
      }
      replies.DecrementCount();
      continue;
    }
    node->async->Send(std::move(mget), deadline, [group, address, &replies](absl::StatusOr<const redisReply*> reply) {
      if (!reply.ok()) {
        group->next = absl::IsDeadlineExceeded(reply.status()) ? Group::Next::kFail : Group::Next::kRefresh;
        group->error = reply.status();
      } else if ((*reply)->type == REDIS_REPLY_ERROR) {
        const std::vector<std::string> words = Words(**reply);
        const std::string kind = words.empty() ? "" : words[0];
        group->error = absl::UnavailableError(
            absl::StrCat("redis ", address, ": ", std::string((*reply)->str, (*reply)->len)));
        if (kind == "MOVED") {
          group->next = Group::Next::kRefresh;
        } else if (kind == "ASK" && words.size() == 3) {
          group->next = Group::Next::kAsk;
          group->ask = words[2];
        } else if (kind == "TRYAGAIN" || kind == "CLUSTERDOWN") {
          group->next = Group::Next::kAgain;
        } else {
          group->next = Group::Next::kFail;
        }
      } else {
        const redisReply& r = **reply;
        group->next = Group::Next::kDone;
        group->values.assign(group->indices.size(), std::nullopt);
        for (size_t k = 0; k < r.elements && k < group->indices.size(); ++k) {
          if (r.element[k]->type == REDIS_REPLY_STRING) group->values[k].emplace(r.element[k]->str, r.element[k]->len);
        }
      }
      replies.DecrementCount();
    });
  }
  replies.Wait();
}

absl::StatusOr<std::vector<MaybeValue>> RedisCluster::MultiGet(absl::Span<const std::string> keys,
                                                               absl::Time deadline) {
  absl::flat_hash_map<uint16_t, Group> by_slot;
  for (size_t i = 0; i < keys.size(); ++i) {
    Group& group = by_slot[KeySlot(keys[i])];
    group.slot = KeySlot(keys[i]);
    group.indices.push_back(i);
  }
  std::vector<Group*> pending;
  for (auto& [slot, group] : by_slot) pending.push_back(&group);
  if (OwnerOf(pending.empty() ? 0 : pending[0]->slot).empty()) {
    if (absl::Status s = Refresh(deadline); !s.ok()) return s;
  }
  for (int attempt = 0; !pending.empty(); ++attempt) {
    SendRound(pending, keys, deadline);
    std::vector<Group*> again;
    bool refresh = false, pause = false;
    for (Group* group : pending) {
      switch (group->next) {
        case Group::Next::kDone:
          break;
        case Group::Next::kFail:
          return group->error;
        case Group::Next::kRefresh:
          refresh = true;
          metrics_->Add(Counter::redis_cluster_redirects_total);
          again.push_back(group);
          break;
        case Group::Next::kAsk:
          again.push_back(group);
          break;
        case Group::Next::kAgain:
          pause = true;
          again.push_back(group);
          break;
      }
    }
    if (again.empty()) break;
    if (attempt + 1 >= options_.max_attempts || absl::Now() >= deadline) {
      return absl::UnavailableError(absl::StrCat("redis cluster: slot ", again[0]->slot, " still redirected after ",
                                                 options_.max_attempts, " rounds: ", again[0]->error.message()));
    }
    if (refresh) (void)Refresh(deadline);
    if (pause) absl::SleepFor(absl::Milliseconds(20));
    pending.swap(again);
  }
  std::vector<MaybeValue> values(keys.size());
  for (auto& [slot, group] : by_slot) {
    for (size_t k = 0; k < group.indices.size(); ++k) values[group.indices[k]] = std::move(group.values[k]);
  }
  return values;
}

}  // namespace catalog::storage
