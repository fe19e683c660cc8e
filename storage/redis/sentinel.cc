#include "storage/redis/sentinel.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <unistd.h>

#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {
namespace {

RedisContextPtr ConnectTo(const HostPort& sentinel, const SentinelOptions& options) {
  return TryConnect(ResolveHost(sentinel.host), sentinel.port, options.connect_timeout, SentinelCredentials(options));
}

std::string Describe(const SentinelOptions& options) {
  return absl::StrCat("redis master '", options.master_name, "' (sentinels ",
                      absl::StrJoin(options.sentinels, ",",
                                    [](std::string* out, const HostPort& s) { absl::StrAppend(out, s.host, ":", s.port); }),
                      ")");
}

}  // namespace

SentinelEndpoint::SentinelEndpoint(SentinelOptions options, Metrics* metrics)
    : options_(std::move(options)), name_(Describe(options_)), metrics_(metrics) {
  if (pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) std::abort();
  Ask();
  thread_ = std::thread([this] { Run(); });
}

SentinelEndpoint::~SentinelEndpoint() {
  stop_ = true;
  const char byte = 's';
  (void)!write(wake_pipe_[1], &byte, 1);
  thread_.join();
  close(wake_pipe_[0]);
  close(wake_pipe_[1]);
}

RedisAddress SentinelEndpoint::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void SentinelEndpoint::Suspect(uint64_t epoch) {
  // Only news about the master as known now is worth a question.
  if (epoch != this->epoch()) return;
  if (wake_pending_.exchange(true)) return;
  const char byte = 'w';
  (void)!write(wake_pipe_[1], &byte, 1);
}

void SentinelEndpoint::Set(const std::string& host, int port, int64_t config_epoch, bool majority_agrees) {
  const std::string address = ResolveHost(host);
  {
    absl::MutexLock lock(&mu_);
    // Never back to an older configuration: a sentinel that has not yet
    // heard of a failover names the old master (which may be up again,
    // empty, believing itself master) under an older config epoch. Unless a
    // majority of the sentinels all name it: they were reset or rebuilt
    // (epochs start again), and they are the authority.
    if (config_epoch < config_epoch_ && !majority_agrees) return;
    config_epoch_ = config_epoch;
    if (current_.host == address && current_.port == port) return;
    current_ = RedisAddress{address, port, current_.epoch + 1};
    // Published after the address, under the lock: whoever sees the new
    // epoch and then calls Current() gets this address or a newer one.
    epoch_.store(current_.epoch, std::memory_order_release);
    metrics_->Add(Counter::redis_master_changes_total);
  }
  NotifyMoved();  // Outside the lock: the listener may call Current().
}

bool SentinelEndpoint::Ask() {
  // Every sentinel, and the answer with the newest configuration wins (the
  // first answer could come from one that missed the last failover).
  bool found = false;
  int64_t best_epoch = -1;
  std::string best_host;
  int best_port = 0;
  size_t answers = 0;
  bool all_agree = true;
  for (const HostPort& sentinel : options_.sentinels) {
    if (stop_) return found;
    RedisContextPtr context = ConnectTo(sentinel, options_);
    if (context == nullptr) {
      metrics_->Add(Counter::redis_sentinel_errors_total);
      continue;
    }
    auto* reply = static_cast<redisReply*>(
        redisCommand(context.get(), "SENTINEL master %b", options_.master_name.data(), options_.master_name.size()));
    std::unique_ptr<redisReply, void (*)(void*)> owned(reply, freeReplyObject);
    std::string host;
    int port = 0;
    int64_t config_epoch = -1;
    if (reply != nullptr && reply->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply* key = reply->element[i];
        const redisReply* value = reply->element[i + 1];
        if (key->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING) continue;
        const absl::string_view name(key->str, key->len), text(value->str, value->len);
        if (name == "ip") host = std::string(text);
        if (name == "port" && !absl::SimpleAtoi(text, &port)) port = 0;
        if (name == "config-epoch" && !absl::SimpleAtoi(text, &config_epoch)) config_epoch = -1;
      }
    }
    if (host.empty() || port <= 0 || config_epoch < 0) {
      // No reply, an error (unknown master name), or a reply without them.
      metrics_->Add(Counter::redis_sentinel_errors_total);
      continue;
    }
    if (found && (config_epoch != best_epoch || host != best_host || port != best_port)) all_agree = false;
    if (config_epoch > best_epoch) {
      best_epoch = config_epoch;
      best_host = host;
      best_port = port;
    }
    found = true;
    ++answers;
  }
  if (found) Set(best_host, best_port, best_epoch, all_agree && answers > options_.sentinels.size() / 2);
  return found;
}

bool SentinelEndpoint::Wait(int subscription_fd, absl::Time until) {
  pollfd fds[2] = {{wake_pipe_[0], POLLIN, 0}, {subscription_fd, POLLIN, 0}};
  const int count = subscription_fd >= 0 ? 2 : 1;
  const int64_t wait_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(until - absl::Now()) + 1);
  if (poll(fds, count, static_cast<int>(wait_ms)) <= 0) return false;
  if (fds[0].revents != 0) {
    char drain[64];
    while (read(wake_pipe_[0], drain, sizeof(drain)) > 0) {
    }
  }
  return count == 2 && fds[1].revents != 0;
}

void SentinelEndpoint::Run() {
  const size_t n = options_.sentinels.size();
  size_t next = 0;
  while (!stop_) {
    // One subscription to one sentinel, for as long as it lasts.
    RedisContextPtr subscription = ConnectTo(options_.sentinels[next % n], options_);
    if (subscription != nullptr) {
      auto* reply = static_cast<redisReply*>(redisCommand(subscription.get(), "SUBSCRIBE +switch-master"));
      const bool ok = reply != nullptr && reply->type == REDIS_REPLY_ARRAY;
      if (reply != nullptr) freeReplyObject(reply);
      if (!ok) subscription.reset();
    }
    if (subscription == nullptr) {
      metrics_->Add(Counter::redis_sentinel_errors_total);
      ++next;
    }
    // Asked after subscribing: a switch announced in between is in the
    // subscription, one before it is in the answer.
    Ask();
    absl::Time last_ask = absl::Now();
    while (!stop_) {
      const absl::Time until = last_ask + options_.poll_interval;
      // A Suspect() that came too soon after the last question is answered
      // as soon as min_ask_interval allows.
      const absl::Time wake =
          wake_pending_.load() ? std::min(until, last_ask + options_.min_ask_interval) : until;
      const bool readable = Wait(subscription ? subscription->fd : -1, wake);
      if (stop_) return;
      bool switched = false;
      if (readable) {
        bool broken = redisBufferRead(subscription.get()) != REDIS_OK;
        for (void* raw = nullptr; !broken;) {
          raw = nullptr;
          if (redisGetReplyFromReader(subscription.get(), &raw) != REDIS_OK) broken = true;
          if (raw == nullptr) break;
          std::unique_ptr<redisReply, void (*)(void*)> message(static_cast<redisReply*>(raw), freeReplyObject);
          // ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"]
          if (message->type != REDIS_REPLY_ARRAY || message->elements != 3 ||
              message->element[2]->type != REDIS_REPLY_STRING) {
            continue;
          }
          const std::vector<std::string> words =
              absl::StrSplit(absl::string_view(message->element[2]->str, message->element[2]->len), ' ');
          // The message carries no config epoch: ask every sentinel now
          // (Set keeps the newest configuration).
          if (words.size() == 5 && words[0] == options_.master_name) switched = true;
        }
        if (broken) {
          metrics_->Add(Counter::redis_sentinel_errors_total);
          ++next;
          break;  // Subscribe again, to the next sentinel.
        }
      }
      const absl::Time now = absl::Now();
      const bool due = now >= until;
      if (due || switched || (wake_pending_.load() && now - last_ask >= options_.min_ask_interval)) {
        wake_pending_ = false;
        Ask();
        last_ask = absl::Now();
      }
      if (subscription == nullptr && due) break;  // Try to subscribe again, to the next sentinel.
    }
  }
}

}  // namespace catalog::storage
