// ConnectionPool<Connection>: a bounded pool of blocking connections, shared
// by the Redis and MySQL pools.
//
// - At most `size` connections exist at once; idle ones are reused LIFO.
// - Acquire() waits at most until min(deadline, now + wait_timeout) for a
//   free slot and then fails naming the pool, so a stalled backend never
//   hangs a caller. By default only the caller's deadline bounds the wait:
//   under a burst, calls queue for a connection instead of failing while
//   they still have time (DEADLINE_EXCEEDED when they run out of it).
// - Connecting happens outside the pool mutex (no I/O under the lock).
// - A Lease returns its connection on destruction. MarkBroken() closes it
//   instead; a broken connection also retires every idle connection made
//   before it (a restarted server breaks them all), so callers after the
//   first failure connect afresh instead of tripping over dead sockets.
//
// Thread-safety: Acquire() is safe from any thread; a Lease belongs to one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "storage/metrics.h"

namespace catalog::storage {

struct PoolOptions {
  // Name used in error messages, e.g. "redis 127.0.0.1:6379".
  std::string name = "pool";
  // Maximum number of open connections. Default 16.
  int size = 16;
  // Longest wait for a free connection before failing with UNAVAILABLE.
  // Default: no bound but the caller's deadline.
  absl::Duration wait_timeout = absl::InfiniteDuration();
};

// `options` with its name set, e.g. to the backend's endpoint.
inline PoolOptions NamedPoolOptions(PoolOptions options, std::string name) {
  options.name = std::move(name);
  return options;
}

template <typename Connection>
class ConnectionPool {
 public:
  // Opens one connection; must return within `deadline`.
  using Factory = std::function<absl::StatusOr<std::unique_ptr<Connection>>(absl::Time deadline)>;

  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          connection_(std::move(other.connection_)),
          generation_(other.generation_),
          broken_(other.broken_),
          reused_(other.reused_) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_ != nullptr) pool_->Release(std::move(connection_), generation_, broken_);
    }
    Connection* operator->() const { return connection_.get(); }
    Connection& operator*() const { return *connection_; }
    // The connection is unusable (I/O error, protocol desync): close it.
    void MarkBroken() { broken_ = true; }
    // Whether the connection was reused from the idle list (it may be stale).
    bool reused() const { return reused_; }

   private:
    friend class ConnectionPool;
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> connection, uint64_t generation, bool reused)
        : pool_(pool), connection_(std::move(connection)), generation_(generation), reused_(reused) {}
    ConnectionPool* pool_;
    std::unique_ptr<Connection> connection_;
    uint64_t generation_;
    bool broken_ = false;
    bool reused_ = false;
  };

  ConnectionPool(PoolOptions options, Factory factory, Metrics* metrics)
      : options_(std::move(options)),
        factory_(std::move(factory)),
        metrics_(metrics),
        open_gauge_(metrics->Series(GaugeFamily::pool_connections, {options_.name, "open"})),
        in_use_gauge_(metrics->Series(GaugeFamily::pool_connections, {options_.name, "in_use"})),
        max_gauge_(metrics->Series(GaugeFamily::pool_max_connections, {options_.name})),
        wait_(metrics->Series(HistogramFamily::pool_wait_seconds, {options_.name})) {
    // Pools of one name (two record types on one Redis) add up.
    max_gauge_->Add(options_.size);
  }
  ~ConnectionPool() {
    absl::MutexLock lock(&mu_);
    max_gauge_->Add(-options_.size);
    open_gauge_->Add(-open_);
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Returns a connection, reused or new. Errors: DEADLINE_EXCEEDED if none
  // frees up before `deadline`; UNAVAILABLE if none frees up within
  // wait_timeout (when that comes first) or connecting fails.
  absl::StatusOr<Lease> Acquire(absl::Time deadline) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return absl::DeadlineExceededError(absl::StrCat(options_.name, ": deadline exceeded"));
    const absl::Time wait_until = std::min(deadline, now + options_.wait_timeout);
    uint64_t generation = 0;
    {
      absl::MutexLock lock(&mu_);
      auto has_slot = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !idle_.empty() || open_ < options_.size; };
      const bool got_slot = mu_.AwaitWithDeadline(absl::Condition(&has_slot), wait_until);
      wait_->Observe(absl::Now() - now);
      if (!got_slot) {
        metrics_->Add(Counter::pool_wait_timeouts_total);
        const std::string why =
            absl::StrCat(options_.name, ": no free connection within ", absl::FormatDuration(wait_until - now),
                         " (pool size ", options_.size, ", all busy)");
        return wait_until >= deadline ? absl::DeadlineExceededError(why) : absl::UnavailableError(why);
      }
      if (!idle_.empty()) {
        std::unique_ptr<Connection> connection = std::move(idle_.back().connection);
        const uint64_t idle_generation = idle_.back().generation;
        idle_.pop_back();
        in_use_gauge_->Add(1);
        return Lease(this, std::move(connection), idle_generation, /*reused=*/true);
      }
      ++open_;  // Reserve the slot, then connect without holding the lock.
      open_gauge_->Add(1);
      generation = generation_;
    }
    absl::StatusOr<std::unique_ptr<Connection>> connection = factory_(deadline);
    if (!connection.ok()) {
      absl::MutexLock lock(&mu_);
      --open_;
      open_gauge_->Add(-1);
      return connection.status();
    }
    in_use_gauge_->Add(1);
    return Lease(this, *std::move(connection), generation, /*reused=*/false);
  }

 private:
  struct Idle {
    std::unique_ptr<Connection> connection;
    uint64_t generation;
  };

  void Release(std::unique_ptr<Connection> connection, uint64_t generation, bool broken) {
    std::vector<Idle> retired;  // Closed after unlocking: closing may do I/O.
    in_use_gauge_->Add(-1);
    {
      absl::MutexLock lock(&mu_);
      const int open_before = open_;
      if (broken) {
        --open_;
        if (generation == generation_) {
          ++generation_;
          open_ -= static_cast<int>(idle_.size());
          retired.swap(idle_);
        }
      } else if (generation != generation_) {
        --open_;
      } else {
        idle_.push_back(Idle{std::move(connection), generation});
        return;
      }
      open_gauge_->Add(open_ - open_before);
    }
    connection.reset();
    retired.clear();
  }

  const PoolOptions options_;
  const Factory factory_;
  Metrics* const metrics_;
  GaugeSeries* const open_gauge_;
  GaugeSeries* const in_use_gauge_;
  GaugeSeries* const max_gauge_;
  HistogramSeries* const wait_;
  absl::Mutex mu_;
  std::vector<Idle> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace catalog::storage
