// RedisConnection: one blocking hiredis connection, and RedisPool, the pool
// of them. The only place hiredis transport errors enter the codebase
// (ToStatus); error replies are classified in storage/backend_errors.h.
//
// Thread-safety: a RedisConnection is used by one thread at a time (the pool
// hands it out through a Lease); RedisPool is thread-safe.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/connection_pool.h"
#include "storage/metrics.h"
#include "storage/redis/endpoint.h"
#include "storage/redis/redis_transport.h"

namespace catalog::storage {

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// One command as its arguments (binary-safe).
using RedisCommand = std::vector<std::string>;

struct RedisOptions {
  // The server, when no RedisEndpoint is given (a standalone Redis).
  std::string host = "127.0.0.1";
  int port = 6379;
  // Bound on establishing a TCP connection. Default 250 ms.
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // Bound on one round trip even when the caller's deadline is later.
  // Default 1 s.
  absl::Duration command_timeout = absl::Seconds(1);
  // Pool size and wait bound.
  PoolOptions pool;
  // AUTH on every connection before anything else; default none.
  RedisCredentials credentials;
};

// Sends AUTH on a freshly connected blocking `link` (nothing without a
// password). OK once Redis accepts; INTERNAL with Redis's answer
// (WRONGPASS, NOPERM...) naming `endpoint` if it refuses; UNAVAILABLE if it
// does not answer (the context's timeout bounds the wait), with the TLS
// failure if the tunnel had one.
absl::Status Authenticate(const RedisLink& link, const RedisCredentials& credentials, absl::string_view endpoint);

// A blocking connection to host:port opened within `timeout`, which then
// also bounds each read and write, over credentials.tls if set and
// authenticated (nothing without a password); null on any failure. For
// callers that only try and move on (sentinel and replica queries).
RedisContextPtr TryConnect(const std::string& host, int port, absl::Duration timeout,
                           const RedisCredentials& credentials);

// The host's first IPv4/IPv6 address as text, or the host itself if it
// does not resolve now. For clients that must not wait for DNS later.
std::string ResolveHost(const std::string& host);

class RedisConnection {
 public:
  // Connects to `address` within min(deadline, now + connect_timeout).
  // With `verify_role`, asks ROLE first and refuses a server that is not
  // the master. UNAVAILABLE on failure (FAILED_PRECONDITION: not the
  // master).
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisAddress& address, bool verify_role,
                                                                  const RedisOptions& options, absl::Time deadline);

  // The endpoint epoch the connection was opened for.
  uint64_t epoch() const { return epoch_; }

  // Sends all commands in one write and reads all replies: one round trip.
  // Error replies are returned as replies (type REDIS_REPLY_ERROR); a
  // transport error or timeout fails the whole call and leaves the
  // connection unusable: the caller must then mark its lease broken.
  absl::StatusOr<std::vector<RedisReplyPtr>> RoundTrip(const std::vector<RedisCommand>& commands, absl::Time deadline);

 private:
  RedisConnection(RedisLink link, const RedisOptions& options, std::string endpoint, uint64_t epoch);
  absl::Status ToStatus(absl::Time timeout_at, absl::Time deadline) const;

  const RedisLink link_;
  redisContext* const context_;  // link_'s.
  const RedisOptions& options_;
  const std::string endpoint_;
  const uint64_t epoch_;
  absl::Duration current_timeout_ = absl::ZeroDuration();
};

class RedisPool {
 public:
  // `options`, `metrics` and `endpoint` must outlive the pool. Without an
  // endpoint the pool connects to options.host:port.
  //
  // With an endpoint: connections are opened to its Current() master; a
  // connection opened for an older epoch is closed unused when leased (the
  // master moved); a transport error or a READONLY reply (the server was
  // demoted) tells the endpoint to look again (Suspect) and closes the
  // connection.
  RedisPool(const RedisOptions& options, Metrics* metrics, RedisEndpoint* endpoint = nullptr);

  // One round trip on a pooled connection. `idempotent` commands are sent
  // once more on a fresh connection when a reused one fails with
  // UNAVAILABLE: dead (e.g. Redis restarted), but also no reply within
  // command_timeout, in which case the first copy may still run, before or
  // after the second. So only commands that are safe to run twice, and late,
  // may be marked idempotent; others report the error.
  absl::StatusOr<std::vector<RedisReplyPtr>> RoundTrip(const std::vector<RedisCommand>& commands, absl::Time deadline,
                                                       bool idempotent);

  const RedisOptions& options() const { return options_; }
  // "redis host:port" or the master's name, for messages.
  const std::string& endpoint() const { return endpoint_; }

 private:
  absl::StatusOr<std::unique_ptr<RedisConnection>> Open(absl::Time deadline);

  const RedisOptions& options_;
  std::unique_ptr<RedisEndpoint> owned_endpoint_;
  RedisEndpoint* const master_;
  const std::string endpoint_;
  Metrics* const metrics_;
  ConnectionPool<RedisConnection> pool_;
  // catalog_redis_command_duration_seconds / _errors_total of this pool.
  OperationMetrics operations_;
};

// The Redis commands the operation label names; others are "other".
const std::vector<absl::string_view>* RedisOperationNames();

}  // namespace catalog::storage
