// DemotionJob: demotion as a background task of every server instance.
//
// Every `interval`, for products and then offers, it asks
// CatalogCore::Demote (which runs only under that record type's lock, so one instance demotes at a time and a
// former holder's MySQL writes are fenced) to move idle records to MySQL:
// - records idle for at least `idle`, always;
// - under memory pressure (used_memory of the Redis deployment holding
//   that record type above `target_bytes`, or above 80% of its maxmemory
//   when target_bytes is 0; on a Cluster, of its master nearest maxmemory),
//   records idle for at least `pressure_idle`. Pressure is judged per
//   deployment: offers on a full Redis of their own are demoted sooner while
//   products on a Redis with room keep theirs. On a Cluster the lowered bound
//   applies to every master of it (over-demoting the others costs them cold
//   reads, never data).
// At most `max_records` per run. Another instance holding the lock is not
// an error (it is doing the work); the run is skipped.
//
// Metrics: catalog_demotion_runs_total, catalog_demotion_lock_lost_total,
// catalog_demotion_lock_held, catalog_demotion_lock_token,
// catalog_demotion_last_success_timestamp_seconds, and the demoted_* counters.
//
// Ownership: owns its thread; the destructor stops it between pages.
// Thread-safety: MinIdleNow may be called from any thread (it reads the
// monitors' atomics, which the maintenance thread writes).
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "service/catalog_core.h"
#include "service/logger.h"
#include "storage/redis/redis_monitor.h"

namespace catalog::service {

struct DemotionJobOptions {
  // 0: no background runs (catalog-admin demote still works).
  absl::Duration interval = absl::Seconds(300);
  absl::Duration idle = absl::Hours(24);
  absl::Duration pressure_idle = absl::Hours(1);
  // 0: 80% of Redis maxmemory (no pressure rule if maxmemory is 0).
  int64_t target_bytes = 0;
  int64_t max_records = 100000;
};

class DemotionJob {
 public:
  // All pointers must outlive the job. `memory` maps a record type to the
  // monitor of the Redis deployment storing it (a type without one is never
  // under pressure). Starts the thread if interval > 0.
  DemotionJob(CatalogCore* core, storage::Metrics* metrics, const Logger* logger, DemotionJobOptions options,
              absl::flat_hash_map<std::string, const storage::RedisMonitor*> memory,
              const std::atomic<bool>* stopping);
  ~DemotionJob();
  DemotionJob(const DemotionJob&) = delete;
  DemotionJob& operator=(const DemotionJob&) = delete;

  // The idle bound a run of `record_type` would use now (for tests and logs).
  absl::Duration MinIdleNow(const std::string& record_type) const;

 private:
  void Tick();
  void Run(const std::string& record_type);

  CatalogCore* const core_;
  storage::Metrics* const metrics_;
  const Logger* const logger_;
  const DemotionJobOptions options_;
  const absl::flat_hash_map<std::string, const storage::RedisMonitor*> memory_;
  const std::atomic<bool>* const stopping_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace catalog::service
