#include "storage/redis/cluster.h"

#include <hiredis/hiredis.h>

#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "storage/status_macros.h"

namespace catalog::storage {

struct RedisCluster::Node {
  RedisOptions options;
  std::unique_ptr<RedisPool> pool;    // Slot maps and ASK retries.
  std::unique_ptr<AsyncRedis> async;  // The reads.
};

// One command of one slot in one call (an MGET of some of the call's keys,
// or an Exec command), and what the last round did with it.
struct RedisCluster::Group {
  uint16_t slot = 0;
  std::vector<size_t> indices;  // MGET: into the call's keys.
  bool exec = false;            // An Exec command rather than an MGET.
  RedisCommand command;         // With exec.
  bool at_most_once = false;    // With exec: SlotCommand::at_most_once.
  std::string target;           // MOVED/ASK: the node named ("" none).
  enum class Next { kDone, kMoved, kRefresh, kAsk, kAgain, kFail } next = Next::kDone;
  absl::Status error;
  std::vector<MaybeValue> values;  // MGET: aligned with indices, when done.
  OwnedReply reply;                // Exec: the reply, when done.

  RedisCommand Command(absl::Span<const std::string> keys) const {
    if (exec) return command;
    RedisCommand mget = {"MGET"};
    for (size_t index : indices) mget.push_back(keys[index]);
    return mget;
  }
};

OwnedReply OwnedReply::Copy(const redisReply& reply) {
  OwnedReply copy;
  copy.type = reply.type;
  copy.integer = reply.integer;
  if (reply.str != nullptr) copy.str.assign(reply.str, reply.len);
  copy.elements.reserve(reply.elements);
  for (size_t i = 0; i < reply.elements; ++i) copy.elements.push_back(Copy(*reply.element[i]));
  return copy;
}

namespace {

// "MOVED 3999 127.0.0.1:6381" -> its words.
std::vector<std::string> Words(const redisReply& reply) {
  return absl::StrSplit(absl::string_view(reply.str, reply.len), ' ', absl::SkipEmpty());
}

}  // namespace

// One reply for a group's command, from `address`: the values (or the
// reply), or what to do next. The one place cluster replies are classified.
void RedisCluster::Classify(Group* group, const std::string& address, absl::StatusOr<const redisReply*> reply) {
  group->values.clear();
  group->reply = OwnedReply();
  if (!reply.ok()) {
    // Sent, no reply: it may have run. Resent only if it may run twice.
    group->next = absl::IsDeadlineExceeded(reply.status()) || group->at_most_once ? Group::Next::kFail
                                                                                   : Group::Next::kRefresh;
    group->error = group->at_most_once
                       ? absl::Status(reply.status().code(),
                                      absl::StrCat(reply.status().message(), " (a write that may have run)"))
                       : reply.status();
    return;
  }
  const redisReply& r = **reply;
  if (r.type == REDIS_REPLY_ERROR) {
    const std::vector<std::string> words = Words(r);
    const std::string kind = words.empty() ? "" : words[0];
    group->error = absl::UnavailableError(absl::StrCat("redis ", address, ": ", std::string(r.str, r.len)));
    if (kind == "MOVED" && words.size() == 3) {
      group->next = Group::Next::kMoved;
      group->target = words[2];
    } else if (kind == "ASK" && words.size() == 3) {
      group->next = Group::Next::kAsk;
      group->target = words[2];
    } else if (kind == "TRYAGAIN" || kind == "CLUSTERDOWN" || kind == "LOADING") {
      group->next = Group::Next::kAgain;
    } else if (group->exec) {
      group->next = Group::Next::kDone;  // The caller's to classify.
      group->reply = OwnedReply::Copy(r);
    } else {
      group->next = Group::Next::kFail;
    }
    return;
  }
  if (group->exec) {
    group->next = Group::Next::kDone;
    group->reply = OwnedReply::Copy(r);
    return;
  }
  if (r.type != REDIS_REPLY_ARRAY || r.elements != group->indices.size()) {
    group->next = Group::Next::kFail;
    group->error = absl::InternalError(absl::StrCat("redis ", address, ": MGET: unexpected reply"));
    return;
  }
  group->next = Group::Next::kDone;
  group->values.assign(group->indices.size(), std::nullopt);
  for (size_t k = 0; k < r.elements; ++k) {
    if (r.element[k]->type == REDIS_REPLY_STRING) group->values[k].emplace(r.element[k]->str, r.element[k]->len);
  }
}

RedisCluster::RedisCluster(ClusterOptions options, Metrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

RedisCluster::~RedisCluster() = default;

RedisCluster::Node* RedisCluster::NodeAt(const std::string& address) {
  {
    absl::MutexLock lock(&mu_);
    auto it = nodes_.find(address);
    if (it != nodes_.end()) return it->second.get();
  }
  absl::StatusOr<std::vector<HostPort>> parsed = ParseHostPorts(address);
  if (!parsed.ok() || parsed->size() != 1) return nullptr;
  // Made outside the lock (it resolves the host and starts a loop thread);
  // if another caller made the same node meanwhile, theirs is kept.
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
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = nodes_.try_emplace(address, std::move(node));
  return it->second.get();
}

absl::StatusOr<std::vector<uint16_t>> RedisCluster::MasterSlots(absl::Time deadline) {
  if (OwnerOf(0).empty()) RETURN_IF_ERROR(Refresh(deadline));
  std::map<std::string, uint16_t> first_slot;
  {
    absl::MutexLock lock(&mu_);
    for (int slot = kSlotCount - 1; slot >= 0; --slot) {
      if (!owner_[slot].empty()) first_slot[owner_[slot]] = static_cast<uint16_t>(slot);
    }
  }
  std::vector<uint16_t> slots;
  for (const auto& [address, slot] : first_slot) slots.push_back(slot);
  if (slots.empty()) return absl::UnavailableError("redis cluster: no master known");
  return slots;
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
    const std::string answering_host = address.substr(0, address.rfind(':'));
    std::array<std::string, kSlotCount> owner;
    int covered = 0;
    for (size_t i = 0; i < r.elements; ++i) {
      const redisReply* range = r.element[i];
      if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || range->element[0]->type != REDIS_REPLY_INTEGER ||
          range->element[1]->type != REDIS_REPLY_INTEGER) {
        continue;
      }
      const long long start = range->element[0]->integer, end = range->element[1]->integer;
      const redisReply* master = range->element[2];
      if (start < 0 || end < start || end >= kSlotCount || master->type != REDIS_REPLY_ARRAY ||
          master->elements < 2 || master->element[1]->type != REDIS_REPLY_INTEGER) {
        continue;
      }
      // The endpoint may be "" (the answering node, which never learnt
      // its own address), "?" or nil (unknown): then it is the host that
      // answered.
      std::string host;
      if (master->element[0]->type == REDIS_REPLY_STRING) host.assign(master->element[0]->str, master->element[0]->len);
      if (host.empty() || host == "?") host = answering_host;
      const std::string at = absl::StrCat(host, ":", master->element[1]->integer);
      for (long long slot = start; slot <= end; ++slot) owner[slot] = at;
      covered += static_cast<int>(end - start + 1);
    }
    if (covered == 0) {
      // A node reset or removed from the cluster knows no slots: ask another.
      last = absl::UnavailableError(absl::StrCat("redis ", address, ": CLUSTER SLOTS names no slots"));
      continue;
    }
    absl::MutexLock lock(&mu_);
    owner_ = std::move(owner);
    return absl::OkStatus();
  }
  return last;
}

void RedisCluster::SendRound(std::vector<Group*>& groups, absl::Span<const std::string> keys, absl::Time deadline) {
  absl::BlockingCounter replies(static_cast<int>(groups.size()));
  std::vector<Group*> asks;
  for (Group* group : groups) {
    if (group->next == Group::Next::kAsk) {
      asks.push_back(group);  // After the async ones are on their way.
      continue;
    }
    const std::string address = OwnerOf(group->slot);
    Node* node = address.empty() ? nullptr : NodeAt(address);
    if (node == nullptr) {
      group->next = Group::Next::kRefresh;
      group->error = absl::UnavailableError(absl::StrCat("redis cluster: no node known for slot ", group->slot));
      replies.DecrementCount();
      continue;
    }
    node->async->Send(
        group->Command(keys), deadline,
        [this, group, address, &replies](absl::StatusOr<const redisReply*> r) {
          Classify(group, address, r);
          replies.DecrementCount();
        },
        group->at_most_once);
  }
  for (Group* group : asks) {
    // ASKING must reach the same connection right before the command: a
    // blocking pipelined pair (only while a slot migrates).
    const std::string address = group->target;
    Node* node = NodeAt(address);
    metrics_->Add(Counter::redis_cluster_asks_total);
    if (node == nullptr) {
      Classify(group, address, absl::UnavailableError(absl::StrCat("redis cluster: bad ASK target ", address)));
    } else {
      absl::StatusOr<std::vector<RedisReplyPtr>> pair =
          node->pool->RoundTrip({{"ASKING"}, group->Command(keys)}, deadline, /*idempotent=*/!group->at_most_once);
      if (!pair.ok()) {
        Classify(group, address, pair.status());
      } else {
        Classify(group, address, static_cast<const redisReply*>((*pair)[1].get()));
      }
    }
    replies.DecrementCount();
  }
  replies.Wait();
}

absl::StatusOr<std::vector<MaybeValue>> RedisCluster::MultiGet(absl::Span<const std::string> keys,
                                                               absl::Time deadline) {
  if (keys.empty()) return std::vector<MaybeValue>();
  absl::flat_hash_map<uint16_t, Group> by_slot;
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint16_t slot = KeySlot(keys[i]);
    Group& group = by_slot[slot];
    group.slot = slot;
    group.indices.push_back(i);
  }
  std::vector<Group*> pending;
  for (auto& [slot, group] : by_slot) pending.push_back(&group);
  std::deque<Group> singles;  // Groups split into one key each (stable addresses).
  RETURN_IF_ERROR(RunRounds(std::move(pending), keys, deadline, singles));
  std::vector<MaybeValue> values(keys.size());
  for (auto& [slot, group] : by_slot) {
    for (size_t k = 0; k < group.indices.size(); ++k) values[group.indices[k]] = std::move(group.values[k]);
  }
  for (Group& single : singles) {
    if (!single.indices.empty() && !single.values.empty()) values[single.indices[0]] = std::move(single.values[0]);
  }
  return values;
}

absl::StatusOr<std::vector<OwnedReply>> RedisCluster::Exec(std::vector<SlotCommand> commands, absl::Time deadline) {
  std::vector<Group> groups(commands.size());
  std::vector<Group*> pending;
  for (size_t i = 0; i < commands.size(); ++i) {
    groups[i].slot = commands[i].slot;
    groups[i].exec = true;
    groups[i].command = std::move(commands[i].command);
    groups[i].at_most_once = commands[i].at_most_once;
    pending.push_back(&groups[i]);
  }
  std::deque<Group> unused;
  if (!pending.empty()) RETURN_IF_ERROR(RunRounds(std::move(pending), {}, deadline, unused));
  std::vector<OwnedReply> replies;
  replies.reserve(groups.size());
  for (Group& group : groups) replies.push_back(std::move(group.reply));
  return replies;
}

absl::Status RedisCluster::RunRounds(std::vector<Group*> pending, absl::Span<const std::string> keys,
                                     absl::Time deadline, std::deque<Group>& singles) {
  if (OwnerOf(pending[0]->slot).empty()) RETURN_IF_ERROR(Refresh(deadline));
  absl::Duration pause = absl::Milliseconds(10);
  for (int attempt = 0;; ++attempt) {
    SendRound(pending, keys, deadline);
    std::vector<Group*> again;
    bool refresh = false, wait = false;
    for (Group* group : pending) {
      switch (group->next) {
        case Group::Next::kDone:
          break;
        case Group::Next::kFail:
          return group->error;
        case Group::Next::kMoved: {
          // The node that answered knows the new owner: take its word for
          // this slot (a full map read could come from a node that has not
          // learnt it yet).
          metrics_->Add(Counter::redis_cluster_moves_total);
          absl::MutexLock lock(&mu_);
          owner_[group->slot] = group->target;
          again.push_back(group);
          break;
        }
        case Group::Next::kRefresh:
          refresh = wait = true;  // A node unreachable: the map may be stale.
          again.push_back(group);
          break;
        case Group::Next::kAsk:
          again.push_back(group);
          break;
        case Group::Next::kAgain:
          metrics_->Add(Counter::redis_cluster_tryagains_total);
          if (!group->exec && group->indices.size() > 1) {
            // Some of the slot's keys have moved and some not (a migration
            // in progress): one key per command, which ASK can redirect.
            for (size_t index : group->indices) {
              Group& single = singles.emplace_back();
              single.slot = group->slot;
              single.indices = {index};
              again.push_back(&single);
            }
            group->indices.clear();
            group->next = Group::Next::kDone;
          } else {
            // A script must see all its keys on one node: it waits for the
            // migration of its slot to finish (or ASK to cover every key).
            wait = true;
            again.push_back(group);
          }
          break;
      }
    }
    if (again.empty()) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat("redis cluster: deadline exceeded; slot ", again[0]->slot, ": ",
                                                      again[0]->error.message()));
    }
    if (attempt + 1 >= options_.max_attempts) {
      return absl::UnavailableError(absl::StrCat("redis cluster: slot ", again[0]->slot, " still redirected after ",
                                                 options_.max_attempts, " rounds: ", again[0]->error.message()));
    }
    if (refresh) (void)Refresh(deadline);
    if (wait) {
      absl::SleepFor(std::min(pause, deadline - absl::Now()));
      pause *= 2;
    }
    pending.swap(again);
  }
}

}  // namespace catalog::storage
