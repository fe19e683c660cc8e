// RedisEndpoint: where the Redis master of a deployment is now, for every
// connection to it (the blocking pool, the async loops, the invalidation
// stream).
//
// - StaticEndpoint: one host:port, resolved once (a standalone Redis).
// - SentinelEndpoint (storage/redis/sentinel.h): the master a set of Redis
//   Sentinels name, followed across failovers.
//
// Epochs: each address the endpoint has named gets a new epoch (1, 2, ...;
// 0 while no master is known). A connection remembers the epoch it was
// opened for and is dropped, unused, once epoch() moves on: after a
// failover nothing is sent to the old master on an old connection. epoch()
// is one atomic load (checked per command); Current() takes a lock (per
// connect).
//
// Thread-safety: all methods are safe from any thread and never block on
// I/O.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct redisReply;

namespace catalog::storage {

class RedisTls;

// An ACL user and password, sent with AUTH first on every connection to a
// data node (master, replica, cluster node); never to a sentinel. Empty
// password: no AUTH (a server without requirepass or ACL users). Empty user
// with a password: Redis's `default` user (requirepass).
struct RedisCredentials {
  std::string user;
  std::string password;
  // TLS for every connection of the deployment, its sentinels included
  // (storage/redis/redis_transport.h); null: plain TCP.
  std::shared_ptr<const RedisTls> tls;
};

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port[,host:port...]" (IPv6 as [addr]:port). INVALID_ARGUMENT naming
// the bad element.
absl::StatusOr<std::vector<HostPort>> ParseHostPorts(absl::string_view text);

struct RedisAddress {
  std::string host;  // Numeric when it resolved; empty while no master is known.
  int port = 0;
  uint64_t epoch = 0;
};

// The reply of ROLE says this server is a master. Used on every new
// connection of an endpoint with verify_role().
bool IsMasterRole(const redisReply* reply);

class RedisEndpoint {
 public:
  virtual ~RedisEndpoint() = default;

  // The master as last known.
  virtual RedisAddress Current() const = 0;

  // The epoch of Current(), without the lock.
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // The epoch counter itself, for readers that compare it on their own
  // (HotCache serves only while it holds the epoch its stream was opened
  // for).
  const std::atomic<uint64_t>& epoch_source() const { return epoch_; }

  // A connection opened for `epoch` failed, or its server was not the
  // master: look again soon. Returns at once.
  virtual void Suspect(uint64_t epoch) {}

  // Whether a new connection must confirm with ROLE that it reached a
  // master before anything else is sent on it (true where the address
  // comes from someone else's view, e.g. sentinels).
  virtual bool verify_role() const { return false; }

  // With verify_role(): whether a ROLE reply shows the server this endpoint
  // wants (by default a master).
  virtual bool AcceptRole(const redisReply* reply) const { return IsMasterRole(reply); }
  // Why a connection AcceptRole refused was dropped, for messages.
  virtual std::string RoleRefusal() const { return "not the master (ROLE)"; }

  // For messages, e.g. "redis 127.0.0.1:6379" or "redis master 'catalog'
  // (sentinels 127.0.0.1:26379,...)".
  virtual std::string name() const = 0;

  // One listener (nullptr: none), called right after each epoch change, on
  // the thread that made it, with no lock of the endpoint held. It must not
  // block. Set it to nullptr before the listener's owner goes away.
  void SetMoveListener(std::function<void()> listener) {
    absl::MutexLock lock(&listener_mu_);
    listener_ = std::move(listener);
  }

 protected:
  // For subclasses, after publishing a new epoch (outside their own locks).
  void NotifyMoved() {
    absl::MutexLock lock(&listener_mu_);
    if (listener_) listener_();
  }

  std::atomic<uint64_t> epoch_{0};

 private:
  absl::Mutex listener_mu_;
  std::function<void()> listener_ ABSL_GUARDED_BY(listener_mu_);
};

class StaticEndpoint : public RedisEndpoint {
 public:
  // Resolves `host` once, now (no DNS on any later path).
  StaticEndpoint(const std::string& host, int port);
  RedisAddress Current() const override { return address_; }
  std::string name() const override { return name_; }

 private:
  RedisAddress address_;
  std::string name_;
};

}  // namespace catalog::storage
