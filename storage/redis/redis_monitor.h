// RedisMonitor: reads Redis's INFO (memory, stats, keyspace) into gauges and
// checks that Redis is configured so it can be the primary store.
//
// maxmemory-policy: records have no TTL and exist nowhere else until
// demoted, so a policy that may evict keys without a TTL would silently
// drop acknowledged writes; and LFU policies make OBJECT IDLETIME fail, so
// demotion could not find idle records. Accepted: volatile-lru (the
// default we ship: evicts cache keys, least recently used first),
// volatile-ttl, volatile-random, and noeviction (nothing is evicted; writes
// fail with RESOURCE_EXHAUSTED when full). Rejected: allkeys-lru,
// allkeys-lfu, allkeys-random (evict records) and volatile-lfu (idle times
// not kept).
//
// On a Redis Cluster every master is asked and checked: the key gauges are
// sums over the masters, the memory gauges those of the master nearest its
// maxmemory (the one demotion pressure must relieve first), of the masters
// that answered. A master that does not answer makes the check UNAVAILABLE
// unless another has an unsafe policy (FAILED_PRECONDITION wins).
//
// Thread-safety: CheckOnce may be called from any thread.
#pragma once

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "storage/metrics.h"
#include "storage/redis/cluster.h"
#include "storage/redis/redis_connection.h"

namespace catalog::storage {

// OK for an accepted policy; FAILED_PRECONDITION saying why not otherwise.
absl::Status CheckMaxmemoryPolicy(absl::string_view policy, absl::string_view endpoint);

class RedisMonitor {
 public:
  // `pool` and `metrics` must outlive the monitor. Without `gauges`, only
  // the policy is checked (the redis_* gauges describe one deployment, the
  // products'; other deployments are checked, not graphed, until metrics
  // carry labels).
  RedisMonitor(RedisPool* pool, Metrics* metrics, bool gauges);
  // The same for every master of `cluster` (which must outlive it).
  RedisMonitor(RedisCluster* cluster, Metrics* metrics, bool gauges);

  // One INFO round trip: updates the redis_* gauges and checks the policy.
  // UNAVAILABLE/DEADLINE_EXCEEDED if Redis cannot be asked (gauges keep
  // their last values); FAILED_PRECONDITION for a rejected policy.
  absl::Status CheckOnce(absl::Time deadline);

  // Memory of the deployment as of the last check that reached a server
  // (on a cluster, the master nearest its maxmemory), whether or not this
  // monitor writes gauges: what demotion's pressure rule reads for the
  // record types stored here. {0, 0} before the first such check;
  // max_bytes 0 when Redis has no maxmemory. Thread-safe.
  struct Memory {
    int64_t used_bytes = 0;
    int64_t max_bytes = 0;
  };
  Memory LastMemory() const;

 private:
  struct Info;
  void SetGauge(Gauge gauge, int64_t value);
  // INFO of the server, or of each master of the cluster.
  absl::StatusOr<std::vector<Info>> Ask(absl::Time deadline);

  RedisPool* const pool_ = nullptr;
  RedisCluster* const cluster_ = nullptr;
  Metrics* const metrics_;
  const bool gauges_;
  // Written together by CheckOnce; a reader may see one from the check
  // before the other (a pressure decision one tick old at worst).
  std::atomic<int64_t> used_bytes_{0};
  std::atomic<int64_t> max_bytes_{0};
};

}  // namespace catalog::storage
