#include "storage/redis/redis_connection.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <sys/time.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/backend_errors.h"
#include "storage/status_macros.h"

namespace catalog::storage {
namespace {

timeval SocketTimeout(absl::Duration d) { return absl::ToTimeval(std::max(d, absl::Milliseconds(1))); }

bool IsReadOnlyError(const redisReply& reply) {
  return reply.type == REDIS_REPLY_ERROR && absl::StartsWith(absl::string_view(reply.str, reply.len), "READONLY");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisConnection::Connect(const RedisAddress& address,
                                                                          bool verify_role,
                                                                          const RedisOptions& options,
                                                                          absl::Time deadline) {
  std::string endpoint = absl::StrCat("redis ", address.host, ":", address.port);
  const absl::Duration budget = std::min(options.connect_timeout, deadline - absl::Now());
  if (budget <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(endpoint, ": deadline exceeded before connect"));
  }
  absl::StatusOr<RedisLink> link = DialRedis(address.host, address.port, budget, options.credentials.tls.get());
  if (!link.ok()) return absl::Status(link.status().code(), absl::StrCat(endpoint, ": ", link.status().message()));
  // Replies of a 1000-key MGET reach ~600 KB: keep the reader's buffer
  // instead of shrinking it back to 16 KB after every reply.
  link->context->reader->maxbuf = 1 << 20;
  auto connection = std::unique_ptr<RedisConnection>(
      new RedisConnection(*std::move(link), options, std::move(endpoint), address.epoch));
  if (!options.credentials.password.empty()) {
    redisSetTimeout(connection->context_, SocketTimeout(std::min(options.command_timeout, deadline - absl::Now())));
    RETURN_IF_ERROR(Authenticate(connection->link_, options.credentials, connection->endpoint_));
  }
  if (verify_role) {
    // Before anything else is sent: an address from someone else's view
    // (a sentinel) may name a server that is not, or no longer, the master.
    absl::StatusOr<std::vector<RedisReplyPtr>> role = connection->RoundTrip({{"ROLE"}}, deadline);
    if (!role.ok()) return role.status();
    if (!IsMasterRole((*role)[0].get())) {
      return absl::FailedPreconditionError(absl::StrCat(connection->endpoint_, " is not the master (ROLE)"));
    }
  }
  return connection;
}

absl::Status Authenticate(const RedisLink& link, const RedisCredentials& credentials, absl::string_view endpoint) {
  if (credentials.password.empty()) return absl::OkStatus();
  redisContext* context = link.context.get();
  // Binary-safe arguments (%b): a password may hold any byte.
  auto* reply = static_cast<redisReply*>(
      credentials.user.empty()
          ? redisCommand(context, "AUTH %b", credentials.password.data(), credentials.password.size())
          : redisCommand(context, "AUTH %b %b", credentials.user.data(), credentials.user.size(),
                         credentials.password.data(), credentials.password.size()));
  if (reply == nullptr) {
    return absl::UnavailableError(absl::StrCat(endpoint, ": AUTH: ", link.Explain(context->errstr)));
  }
  absl::Status status = absl::OkStatus();
  if (reply->type == REDIS_REPLY_ERROR) {
    status = RedisErrorStatus(endpoint, "AUTH", absl::string_view(reply->str, reply->len));
  }
  freeReplyObject(reply);
  return status;
}

RedisContextPtr TryConnect(const std::string& host, int port, absl::Duration timeout,
                           const RedisCredentials& credentials) {
  absl::StatusOr<RedisLink> link = DialRedis(host, port, timeout, credentials.tls.get());
  if (!link.ok()) return nullptr;
  redisSetTimeout(link->context.get(), absl::ToTimeval(timeout));
  if (!Authenticate(*link, credentials, absl::StrCat("redis ", host, ":", port)).ok()) return nullptr;
  return std::move(link->context);
}

RedisConnection::RedisConnection(RedisLink link, const RedisOptions& options, std::string endpoint, uint64_t epoch)
    : link_(std::move(link)), context_(link_.context.get()), options_(options), endpoint_(std::move(endpoint)),
      epoch_(epoch) {}

absl::Status RedisConnection::ToStatus(absl::Time timeout_at, absl::Time deadline) const {
  const bool timed_out = context_->err == REDIS_ERR_IO && absl::Now() >= timeout_at - absl::Milliseconds(1);
  if (timed_out && timeout_at >= deadline) {
    return absl::DeadlineExceededError(absl::StrCat(endpoint_, ": deadline exceeded waiting for reply"));
  }
  if (timed_out) {
    return absl::UnavailableError(
        absl::StrCat(endpoint_, ": no reply within ", absl::FormatDuration(options_.command_timeout)));
  }
  return absl::UnavailableError(absl::StrCat(endpoint_, ": ", link_.Explain(context_->errstr)));
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisConnection::RoundTrip(const std::vector<RedisCommand>& commands,
                                                                      absl::Time deadline) {
  const absl::Time now = absl::Now();
  const absl::Duration timeout = std::min(options_.command_timeout, deadline - now);
  if (timeout <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError(absl::StrCat(endpoint_, ": deadline exceeded before sending"));
  }
  // Socket timeouts cost two syscalls: only change them when the bound moves
  // by more than a millisecond (most calls run with the same deadline slack).
  if (absl::AbsDuration(timeout - current_timeout_) > absl::Milliseconds(1)) {
    if (redisSetTimeout(context_, SocketTimeout(timeout)) != REDIS_OK) return ToStatus(now + timeout, deadline);
    current_timeout_ = timeout;
  }
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const RedisCommand& command : commands) {
    argv.clear();
    lengths.clear();
    for (const std::string& arg : command) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data()) != REDIS_OK) {
      return ToStatus(now + timeout, deadline);
    }
  }
  std::vector<RedisReplyPtr> replies;
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK || reply == nullptr) {
      return ToStatus(now + timeout, deadline);
    }
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

RedisPool::RedisPool(const RedisOptions& options, Metrics* metrics, RedisEndpoint* endpoint)
    : options_(options),
      owned_endpoint_(endpoint == nullptr ? std::make_unique<StaticEndpoint>(options.host, options.port) : nullptr),
      master_(endpoint != nullptr ? endpoint : owned_endpoint_.get()),
      endpoint_(master_->name()),
      metrics_(metrics),
      pool_(NamedPoolOptions(options.pool, endpoint_), [this](absl::Time deadline) { return Open(deadline); },
            metrics),
      operations_(metrics, HistogramFamily::redis_command_duration_seconds, CounterFamily::redis_command_errors_total,
                  endpoint_, RedisOperationNames()) {}

const std::vector<absl::string_view>* RedisOperationNames() {
  static const auto* const names = new std::vector<absl::string_view>{
      "MGET", "GET", "SET", "EVAL", "EVALSHA", "DEL", "SCAN", "INFO", "PING", "ROLE", "WAIT", "CLUSTER", "ASKING",
      "CLIENT", "CONFIG", "DBSIZE", "EXISTS", "ZADD", "ZRANGEBYLEX", "HGET", "TTL", "TIME", "SUBSCRIBE", "AUTH"};
  return names;
}

absl::StatusOr<std::unique_ptr<RedisConnection>> RedisPool::Open(absl::Time deadline) {
  const RedisAddress address = master_->Current();
  if (address.host.empty()) return absl::UnavailableError(absl::StrCat(endpoint_, ": no master known yet"));
  metrics_->Add(Counter::redis_connects_total);
  absl::StatusOr<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Connect(address, master_->verify_role(), options_, deadline);
  if (!connection.ok()) {
    // Not the master, or not reachable: the endpoint should look again.
    // (A deadline or an allocation failure says nothing about where the
    // master is, and keeps its own code.)
    if (absl::IsFailedPrecondition(connection.status())) {
      metrics_->Add(Counter::redis_not_master_total);
      master_->Suspect(address.epoch);
      return absl::UnavailableError(connection.status().message());
    }
    if (absl::IsUnavailable(connection.status())) master_->Suspect(address.epoch);
    return connection.status();
  }
  return connection;
}

absl::StatusOr<std::vector<RedisReplyPtr>> RedisPool::RoundTrip(const std::vector<RedisCommand>& commands,
                                                                absl::Time deadline, bool idempotent) {
  const absl::string_view operation =
      commands.empty() || commands[0].empty() ? absl::string_view() : absl::string_view(commands[0][0]);
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<ConnectionPool<RedisConnection>::Lease> lease = pool_.Acquire(deadline);
    if (!lease.ok()) {
      metrics_->Add(Counter::redis_errors_total);
      operations_.RecordError(operation);
      return lease.status();
    }
    if ((*lease)->epoch() != master_->epoch()) {
      // Opened for a master that has since been replaced: close it (which
      // retires every idle connection as old) and take another. Bounded:
      // the epoch moves only on a failover, and Acquire by the deadline.
      lease->MarkBroken();
      --attempt;
      continue;
    }
    metrics_->Add(Counter::redis_round_trips_total);
    const absl::Time sent = absl::Now();
    absl::StatusOr<std::vector<RedisReplyPtr>> replies = (*lease)->RoundTrip(commands, deadline);
    bool error_reply = false;
    if (replies.ok()) {
      for (const RedisReplyPtr& reply : *replies) error_reply |= reply->type == REDIS_REPLY_ERROR;
    }
    operations_.Record(operation, absl::Now() - sent, !replies.ok() || error_reply);
    if (replies.ok()) {
      for (const RedisReplyPtr& reply : *replies) {
        if (IsReadOnlyError(*reply)) {
          // A master demoted under us: its replies stand (a write it
          // refused changed nothing), but nothing more goes to it.
          metrics_->Add(Counter::redis_not_master_total);
          master_->Suspect((*lease)->epoch());
          lease->MarkBroken();
          break;
        }
      }
      return replies;
    }
    metrics_->Add(Counter::redis_errors_total);
    master_->Suspect((*lease)->epoch());
    lease->MarkBroken();
    // A pooled connection that died while idle says nothing about Redis now:
    // reads get one more try on a fresh connection.
    const bool retry = idempotent && attempt == 0 && lease->reused() && absl::IsUnavailable(replies.status()) &&
                       absl::Now() < deadline;
    if (!retry) return replies.status();
  }
}

// The host's first IPv4/IPv6 address as text, or the host itself if it
// does not resolve now (hiredis then tries at connect time).
std::string ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return host;
  char text[INET6_ADDRSTRLEN] = {};
  const void* address = found->ai_family == AF_INET6
                            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(found->ai_addr)->sin6_addr)
                            : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr);
  const bool ok = inet_ntop(found->ai_family, address, text, sizeof(text)) != nullptr;
  freeaddrinfo(found);
  return ok ? std::string(text) : host;
}


}  // namespace catalog::storage
