// AsyncRedis: Redis commands without a blocked thread per call (issue 7).
//
// Threading: `connections` event-loop threads (libevent), each owning one
// hiredis async connection. Send() may be called from any thread: it queues
// the command for a loop (round robin) and returns at once. The loop writes
// the commands of many calls into its one connection back to back (Redis
// answers them in order: pipelining), and runs each call's `done` on the
// loop thread when its reply arrives. `done` must not block: it may build a
// response and finish a gRPC reactor, or hand work to another thread.
//
// Bounds: every command has a timer at min(deadline, now + command_timeout).
// If it fires first, `done` gets DEADLINE_EXCEEDED (the caller's deadline)
// or UNAVAILABLE (command_timeout). A watchdog closes a connection on which
// commands have waited command_timeout with no reply at all, whatever the
// callers' deadlines (a hung or paused Redis, a dead peer), failing its
// other commands; the next command reconnects. At most 10,000 commands wait
// on one connection; past that, UNAVAILABLE at once. A command whose
// connection goes away (Redis restarted, an idle timeout) is sent once more
// on a fresh one if its deadline allows; otherwise UNAVAILABLE naming the
// endpoint. `done` runs exactly once. The host is resolved once, when the
// client is made: the loops never wait for DNS.
//
// With a RedisEndpoint (e.g. Sentinel): each connection is opened to the
// endpoint's current master and, where the endpoint asks for it, sends ROLE
// before any command: if the server is not the master the connection is
// closed before any reply on it is delivered (replies come in order), its
// commands are retried as above, and the endpoint is told (Suspect). A
// command is never written to a connection opened for an older epoch: that
// connection is closed first (its commands retried on the new master).
//
// Only for commands that are safe to run late or after the caller gave up
// (reads, or writes designed for it): a timed-out command may still run in
// Redis.
//
// Ownership: the destructor stops the loops; commands still pending then
// get UNAVAILABLE ("client shutting down"). Thread-safety: Send() is safe
// from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/redis/redis_connection.h"

struct redisReply;

namespace catalog::storage {

struct AsyncRedisOptions {
  // The server, when no endpoint is given.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Where the master is (must outlive the client); null: host:port.
  RedisEndpoint* endpoint = nullptr;
  // Event-loop threads, one connection each. Default 2.
  int connections = 2;
  // Bound on opening a connection (over TLS, the handshake). Default 250 ms.
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // Bound on a reply whatever the deadline. Default 1 s.
  absl::Duration command_timeout = absl::Seconds(1);
  // AUTH first on every connection, and TLS; default none.
  RedisCredentials credentials;
};

// A command in RESP, the wire form Redis reads: "*<n>\r\n" then each of
// the n arguments as "$<length>\r\n<bytes>\r\n". AddPrefixed writes
// prefix + argument as one argument (a key name) without building it first.
class RespCommand {
 public:
  RespCommand(size_t arguments, size_t bytes_hint);
  void Add(absl::string_view argument);
  void AddPrefixed(absl::string_view prefix, absl::string_view argument);
  std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

class AsyncRedis {
 public:
  // The reply is valid only during the call. Error replies arrive as
  // replies (type REDIS_REPLY_ERROR).
  using Done = std::function<void(absl::StatusOr<const redisReply*> reply)>;

  explicit AsyncRedis(AsyncRedisOptions options);
  ~AsyncRedis();
  AsyncRedis(const AsyncRedis&) = delete;
  AsyncRedis& operator=(const AsyncRedis&) = delete;

  // With `at_most_once`, the command is never resent: a lost connection
  // fails it with UNAVAILABLE (it may or may not have run).
  void Send(RedisCommand command, absl::Time deadline, Done done, bool at_most_once = false);

  // The same for a command already encoded in RESP (FormatCommand): no
  // per-argument copies or formatting on the way.
  void SendFormatted(std::string resp, absl::Time deadline, Done done);

  const std::string& endpoint() const { return endpoint_; }
  // Connections opened so far (for tests and metrics).
  int64_t connects() const;

 private:
  class Loop;
  const AsyncRedisOptions options_;
  std::unique_ptr<RedisEndpoint> owned_endpoint_;
  RedisEndpoint* const master_;
  const std::string endpoint_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace catalog::storage
