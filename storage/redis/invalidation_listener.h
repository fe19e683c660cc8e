// InvalidationListener: feeds HotCache the names of records that change in
// Redis, through Redis client-side caching (RESP2 form, as Debian's
// hiredis 0.14 has no RESP3).
//
// One thread, one connection. On connecting it asks Redis for its own
// client id, turns on `CLIENT TRACKING on REDIRECT <own id> BCAST PREFIX
// <record prefix>` and SUBSCRIBEs to `__redis__:invalidate`: tracking and
// subscription live and die with the same connection, so losing one is
// losing both, and is noticed as one event. In broadcast mode Redis reports
// every change to a key under the prefix, whoever made it, with no
// per-key tracking table on the server.
//
// Each message invalidates its keys (a null message, sent on FLUSHALL,
// invalidates everything); what one read of the socket brings is applied
// as one batch (HotCache::BeginApply/EndApply). Every `heartbeat` a PING
// goes out on the same connection; its pong comes after every
// invalidation of a change Redis executed before it received the ping
// (broadcast messages go out when Redis's event loop iteration ends, after
// the replies of that iteration were queued, so a change executed in the
// ping's own iteration may follow the pong: it ran after the ping was
// sent, which the lease allows for). Each pong renews the cache's lease
// (HotCache::Confirm, measured on the cache's monotonic clock). The
// connection is dropped, and the cache emptied (HotCache::Lost), on any
// error, EOF, or when a pong is overdue by pong_timeout; reconnect attempts
// follow every heartbeat until one succeeds (HotCache::Resubscribed). The
// host is resolved once, at construction.
//
// Thread-safety: the constructor starts the thread, the destructor stops it
// (within one heartbeat). Nothing else is public but counters.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <deque>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "storage/hot_cache.h"
#include "storage/metrics.h"
#include "storage/redis/endpoint.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {

struct InvalidationListenerOptions {
  // The server, when no endpoint is given.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Where the master is (must outlive the listener); null: host:port. The
  // stream is opened to the current master (checked with ROLE where the
  // endpoint asks for it) and ends, emptying the cache, when the master
  // moves; the cache serves nothing from the moment the endpoint's epoch
  // changes (HotCache::Resubscribed).
  RedisEndpoint* endpoint = nullptr;
  // Key prefix of the records the cache holds (RecordType::key_prefix).
  std::string key_prefix;
  // Bound on connecting and on each set-up command. Default 250 ms.
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // PING period; should be well below the cache's lease. Default 100 ms.
  absl::Duration heartbeat = absl::Milliseconds(100);
  // A pong later than this drops the connection. Default 500 ms.
  absl::Duration pong_timeout = absl::Milliseconds(500);
  // AUTH first on the connection; default none.
  RedisCredentials credentials;
};

class InvalidationListener {
 public:
  // `cache` and `metrics` must outlive the listener.
  InvalidationListener(InvalidationListenerOptions options, HotCache* cache, Metrics* metrics);
  ~InvalidationListener();
  InvalidationListener(const InvalidationListener&) = delete;
  InvalidationListener& operator=(const InvalidationListener&) = delete;

  // Subscriptions made so far (for tests).
  int64_t subscriptions() const { return subscriptions_.load(); }

 private:
  void Run();
  // One connection's life; returns when it fails or on stop.
  void Session();
  // Writes a PING; false if the connection failed.
  bool SendPing(redisContext* context);
  // Reads what the socket holds and applies every whole message; false if
  // the connection failed.
  bool ApplyWhatArrived(redisContext* context, std::deque<absl::Time>* pings);

  const InvalidationListenerOptions options_;
  std::unique_ptr<RedisEndpoint> owned_endpoint_;
  RedisEndpoint* const master_;
  HotCache* const cache_;
  Metrics* const metrics_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> subscriptions_{0};
  std::thread thread_;
};

}  // namespace catalog::storage
