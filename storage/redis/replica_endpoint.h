// ReplicaEndpoint: one Redis replica of a Sentinel-run deployment, for
// reads whose callers opted in to a possibly older answer
// (catalog.v2 ReadConsistency READ_CONSISTENCY_REPLICA_OK). Nothing is ever
// written through it.
//
// Which replica, checked every poll_interval (and soon after Suspect()):
// - the sentinels' lists (`SENTINEL replicas <name>`, every sentinel's, as
//   one that missed a failover lists the old master's), keeping replicas
//   none of them flags down or disconnected;
// - the master's own view (`INFO replication` on the master the
//   SentinelEndpoint names now): the replica is online there and its last
//   acknowledgement is at most max_lag old (replicas acknowledge every
//   second);
// - the replica's own word (`ROLE`): a replica of that master, link
//   `connected`.
// The one in use stays while it passes, else one chosen by this process's
// id (so instances spread over the replicas). None passing: Current() has
// no host, and reads go to the master instead (the caller's fallback).
//
// Epochs: each change of replica is a new epoch, and so is each change of
// master, at once (the master endpoint's move listener): the replica is
// dropped with the old master, before anyone asks again, so no read reaches
// a replica of a master the service has left. New connections check ROLE
// (AcceptRole, against the master named now, without DNS).
//
// What callers can see (proto, README): values up to about max_lag plus a
// poll_interval older than acknowledged writes, never values never written.
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
#include "storage/redis/sentinel.h"

namespace catalog::storage {

class ReplicaEndpoint : public RedisEndpoint {
 public:
  // `master` and `metrics` must outlive the endpoint (which sets, and
  // clears, the master's move listener). Uses options.sentinels,
  // master_name, connect_timeout, poll_interval and min_ask_interval.
  ReplicaEndpoint(SentinelOptions options, RedisEndpoint* master, Metrics* metrics,
                  absl::Duration max_lag = absl::Seconds(1));
  ~ReplicaEndpoint() override;
  ReplicaEndpoint(const ReplicaEndpoint&) = delete;
  ReplicaEndpoint& operator=(const ReplicaEndpoint&) = delete;

  RedisAddress Current() const override;
  void Suspect(uint64_t epoch) override;
  bool verify_role() const override { return true; }
  bool AcceptRole(const redisReply* reply) const override;
  std::string RoleRefusal() const override { return "not a live replica of the master (ROLE)"; }
  std::string name() const override { return name_; }

  // Looks again now (tests; the thread does it every poll_interval).
  void Refresh();

 private:
  void Run();
  // The master moved: no replica until the next look (which comes now).
  void MasterMoved();
  // Records `chosen` (host empty: none) for master epoch `master_epoch`.
  void Use(const HostPort& chosen, uint64_t master_epoch);

  const SentinelOptions options_;
  RedisEndpoint* const master_;
  const absl::Duration max_lag_;
  const std::string name_;
  Metrics* const metrics_;
  mutable absl::Mutex mu_;
  RedisAddress current_ ABSL_GUARDED_BY(mu_);
  uint64_t master_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex refresh_mu_;  // One Refresh at a time.
  std::thread thread_;
};

}  // namespace catalog::storage
