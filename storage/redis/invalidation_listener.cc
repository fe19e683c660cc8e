#include "storage/redis/invalidation_listener.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <deque>
#include <memory>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {

namespace {

struct ReplyDeleter {
  void operator()(void* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

bool IsString(const redisReply* reply, absl::string_view text) {
  return reply != nullptr && (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) &&
         absl::string_view(reply->str, reply->len) == text;
}

ReplyPtr Command(redisContext* context, const char* format, ...) {
  va_list args;
  va_start(args, format);
  void* reply = redisvCommand(context, format, args);
  va_end(args);
  return ReplyPtr(static_cast<redisReply*>(reply));
}

}  // namespace

InvalidationListener::InvalidationListener(InvalidationListenerOptions options, HotCache* cache, Metrics* metrics)
    : options_(std::move(options)),
      owned_endpoint_(options_.endpoint == nullptr ? std::make_unique<StaticEndpoint>(options_.host, options_.port)
                                                   : nullptr),
      master_(options_.endpoint != nullptr ? options_.endpoint : owned_endpoint_.get()),
      cache_(cache),
      metrics_(metrics),
      thread_([this] { Run(); }) {}

InvalidationListener::~InvalidationListener() {
  stop_ = true;
  thread_.join();
}

void InvalidationListener::Run() {
  while (!stop_) {
    Session();
    if (stop_) break;
    absl::SleepFor(options_.heartbeat);
  }
}

void InvalidationListener::Session() {
  const timeval connect_timeout = absl::ToTimeval(options_.connect_timeout);
  const RedisAddress address = master_->Current();
  if (address.host.empty()) return;
  absl::StatusOr<RedisLink> link =
      DialRedis(address.host, address.port, options_.connect_timeout, options_.credentials.tls.get());
  if (!link.ok()) {
    master_->Suspect(address.epoch);
    return;
  }
  redisContext* const context = link->context.get();
  redisSetTimeout(context, connect_timeout);
  // Refused: no stream, so L1 serves nothing (its lease lapses); the server
  // logs the same refusal from its other connections.
  if (!Authenticate(*link, options_.credentials, "redis invalidation stream").ok()) return;
  if (master_->verify_role() && !IsMasterRole(Command(context, "ROLE").get())) {
    master_->Suspect(address.epoch);
    return;
  }
  ReplyPtr id = Command(context, "CLIENT ID");
  if (id == nullptr || id->type != REDIS_REPLY_INTEGER) return;
  ReplyPtr tracking = Command(context, "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX %b", id->integer,
                              options_.key_prefix.data(), options_.key_prefix.size());
  if (!IsString(tracking.get(), "OK")) return;
  ReplyPtr subscribed = Command(context, "SUBSCRIBE __redis__:invalidate");
  if (subscribed == nullptr || subscribed->type != REDIS_REPLY_ARRAY) return;

  // From here on every change under the prefix reaches this connection.
  cache_->Resubscribed(context->fd, &master_->epoch_source(), address.epoch);
  ++subscriptions_;
  metrics_->Add(Counter::l1_subscriptions_total);

  std::deque<absl::Time> pings;  // Send times of the pings not answered yet.
  absl::Time next_ping = absl::InfinitePast();
  bool healthy = true;
  while (healthy && !stop_ && master_->epoch() == address.epoch) {
    const absl::Time now = cache_->Now();
    if (now >= next_ping) {
      if (!SendPing(context)) break;
      pings.push_back(now);
      next_ping = now + options_.heartbeat;
    }
    if (!pings.empty() && now - pings.front() > options_.pong_timeout) break;  // Redis stopped answering.
    pollfd fd{context->fd, POLLIN, 0};
    const int wait_ms = std::max<int>(1, static_cast<int>(absl::ToInt64Milliseconds(next_ping - now)) + 1);
    const int ready = poll(&fd, 1, wait_ms);
    if (ready < 0 && errno != EINTR) break;
    if (ready <= 0) continue;
    // Readers stop using the cache from here until every message read now
    // is applied (the socket looks empty to them meanwhile).
    cache_->BeginApply();
    healthy = ApplyWhatArrived(context, &pings);
    cache_->EndApply();
  }
  // Whatever ended the session, invalidations may have gone missing from
  // here on: nothing cached may be served again before a new subscription.
  cache_->Lost();
  metrics_->Add(Counter::l1_connection_losses_total);
}

bool InvalidationListener::SendPing(redisContext* context) {
  redisAppendCommand(context, "PING");
  for (int done = 0; done == 0;) {
    if (redisBufferWrite(context, &done) != REDIS_OK) return false;
  }
  return true;
}

bool InvalidationListener::ApplyWhatArrived(redisContext* context, std::deque<absl::Time>* pings) {
  if (redisBufferRead(context) != REDIS_OK) return false;  // Error or EOF.
  for (;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context, &raw) != REDIS_OK) return false;
    if (raw == nullptr) return true;  // The rest of a message is still on its way.
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) continue;
    if (IsString(reply->element[0], "pong")) {
      if (!pings->empty()) {
        cache_->Confirm(pings->front());
        pings->pop_front();
      }
      continue;
    }
    if (reply->elements != 3 || !IsString(reply->element[0], "message")) continue;
    const redisReply* keys = reply->element[2];
    if (keys->type == REDIS_REPLY_NIL) {
      cache_->InvalidateAll();  // FLUSHALL / FLUSHDB.
      continue;
    }
    if (keys->type != REDIS_REPLY_ARRAY) continue;
    for (size_t k = 0; k < keys->elements; ++k) {
      const redisReply* key_reply = keys->element[k];
      if (key_reply->type != REDIS_REPLY_STRING) continue;
      const absl::string_view key(key_reply->str, key_reply->len);
      if (absl::StartsWith(key, options_.key_prefix)) cache_->Invalidate(key.substr(options_.key_prefix.size()));
    }
  }
}

}  // namespace catalog::storage
