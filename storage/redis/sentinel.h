// SentinelEndpoint: the Redis master of a deployment run under Redis
// Sentinel, found and followed through the sentinels (the engine operators
// already run; no replication or election logic here).
//
// - At construction every sentinel is asked (`SENTINEL master
//   <master_name>`, each within connect_timeout) and the answer with the
//   greatest config epoch is taken; an answer older than one already taken
//   is ignored (unless a majority of the sentinels all give it: reset
//   sentinels start their epochs again), so a sentinel that missed a
//   failover cannot send the service back to the old master. None answering is not an error:
//   Current() then has no host and connections fail UNAVAILABLE naming the
//   sentinels, until one answers.
// - A thread keeps one subscription to `+switch-master` on one sentinel
//   (the next one on failure) and asks every sentinel again as soon as one
//   announces a switch. It also asks again every poll_interval, and at
//   once (at most every min_ask_interval) when a connection reports
//   Suspect(): a lost subscription or a missed message cannot leave the
//   service on an old master for longer than that.
// - Every change of address starts a new epoch (storage/redis/endpoint.h),
//   which retires every connection to the old master. New connections check
//   ROLE (verify_role() is true), so an address a sentinel reports before
//   the promotion completes, or a demoted master, is never used.
//
// What this cannot promise (README, "Failover"): between the master's
// failure and the sentinels' promotion (down-after-milliseconds plus the
// election) writes fail UNAVAILABLE; with asynchronous replication a
// failover loses writes the replica had not received (redis_write_replicas
// bounds that); an instance partitioned from every sentinel keeps the
// master it knew.
//
// Thread-safety: as RedisEndpoint. The destructor stops the thread.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/metrics.h"
#include "storage/redis/endpoint.h"

namespace catalog::storage {

struct SentinelOptions {
  std::vector<HostPort> sentinels;
  // The name the sentinels monitor the master under (`sentinel monitor
  // <name> ...`).
  std::string master_name;
  // Bound on connecting to a sentinel and on each query. Default 250 ms.
  absl::Duration connect_timeout = absl::Milliseconds(250);
  // Ask again this often even without news. Default 1 s.
  absl::Duration poll_interval = absl::Seconds(1);
  // Suspect() asks at most this often. Default 50 ms.
  absl::Duration min_ask_interval = absl::Milliseconds(50);
  // For the data nodes the sentinels name (ReplicaEndpoint asks the master
  // and the replicas directly); the sentinels themselves get no AUTH, but
  // the same TLS (data_credentials.tls).
  RedisCredentials data_credentials;
};

// What a connection to a sentinel presents: no AUTH; the deployment's TLS.
inline RedisCredentials SentinelCredentials(const SentinelOptions& options) {
  return RedisCredentials{.tls = options.data_credentials.tls};
}

class SentinelEndpoint : public RedisEndpoint {
 public:
  // `metrics` must outlive the endpoint.
  SentinelEndpoint(SentinelOptions options, Metrics* metrics);
  ~SentinelEndpoint() override;
  SentinelEndpoint(const SentinelEndpoint&) = delete;
  SentinelEndpoint& operator=(const SentinelEndpoint&) = delete;

  RedisAddress Current() const override;
  void Suspect(uint64_t epoch) override;
  bool verify_role() const override { return true; }
  std::string name() const override { return name_; }

 private:
  void Run();
  // Asks the sentinels in turn; true if one named the master (and it was
  // recorded).
  bool Ask();
  // Records host:port as the master under `config_epoch` (the sentinels'
  // configuration version); ignored if older than the one recorded, unless
  // a majority of the configured sentinels answered and all named it (they
  // were reset); a new endpoint epoch if the address moved.
  void Set(const std::string& host, int port, int64_t config_epoch, bool majority_agrees);
  // Waits until `until`, the stop, or a Suspect() wake-up on the pipe,
  // watching `subscription_fd` (-1: none). Returns the fd's readiness.
  bool Wait(int subscription_fd, absl::Time until);

  const SentinelOptions options_;
  const std::string name_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  RedisAddress current_ ABSL_GUARDED_BY(mu_);
  int64_t config_epoch_ ABSL_GUARDED_BY(mu_) = -1;
  int wake_pipe_[2] = {-1, -1};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace catalog::storage
