// ReplicaEndpoint: one Redis replica of a Sentinel-run deployment, for
// reads whose callers opted in to a possibly older answer
// (catalog.v2 ReadConsistency READ_CONSISTENCY_REPLICA_OK). Nothing is ever
// written through it.
//
// Which replica: the sentinels' list (`SENTINEL replicas <name>`), keeping
// only replicas they see up (no s_down, o_down or disconnected flag), with
// their link to the master up, that replicate the master the
// SentinelEndpoint names now; among those, the one in use stays while it
// qualifies, else one chosen by this process's id (so instances spread over
// the replicas). It is asked again every poll_interval and at once on
// Suspect(). Each change of replica, and each change of master, is a new
// epoch, which retires every connection to the old one (storage/redis/
// endpoint.h). No replica qualifying: Current() has no host, and reads go
// to the master instead (the caller's fallback).
//
// A new connection checks ROLE (AcceptRole): a replica, of the master named
// now, with its link up ("connected"). So a replica still attached to a
// failed master, or one resyncing, is never read; one that falls behind
// after the check keeps answering until the next poll finds it flagged.
// What that allows callers to see is stated in the proto and README: values
// older than writes already acknowledged, never values that were never
// written.
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
  // `master` and `metrics` must outlive the endpoint. Uses options.sentinels,
  // master_name, connect_timeout and poll_interval.
  ReplicaEndpoint(SentinelOptions options, const RedisEndpoint* master, Metrics* metrics);
  ~ReplicaEndpoint() override;
  ReplicaEndpoint(const ReplicaEndpoint&) = delete;
  ReplicaEndpoint& operator=(const ReplicaEndpoint&) = delete;

  RedisAddress Current() const override;
  void Suspect(uint64_t epoch) override;
  bool verify_role() const override { return true; }
  bool AcceptRole(const redisReply* reply) const override;
  std::string name() const override { return name_; }

  // Looks again now (tests; the thread does it every poll_interval).
  void Refresh();

 private:
  void Run();

  const SentinelOptions options_;
  const RedisEndpoint* const master_;
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
